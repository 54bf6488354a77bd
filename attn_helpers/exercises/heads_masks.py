"""Checkers for notebooks 03-05: self-attention as matrices, multi-head attention, masks and positions.

Each exercise is data (reference solution, cases, known mistakes with diagnoses, hints); each
``check_...`` function takes the learner's function itself::

    check_split_heads(my_split_heads)

The references are written the way the notebooks teach them (plain numpy, shapes in comments), so
``solution(name)`` shows a readable worked answer.
"""

from __future__ import annotations

import numpy as np

from ._framework import Case, Exercise, Mistake, check, register

__all__ = [
    "check_attention_entropy",
    "check_causal_mask",
    "check_cross_attention",
    "check_masked_attention",
    "check_merge_heads",
    "check_mha_parameter_count",
    "check_multi_head_attention",
    "check_padding_mask",
    "check_self_attention",
    "check_sinusoidal_positions",
    "check_split_heads",
]

_rng = np.random.default_rng(3)


def _randn(*shape):
    return _rng.standard_normal(shape)


def _softmax_rows(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# =============================================================================== notebook 03


def self_attention_solution(x, w_q, w_k, w_v):
    """Single-head self-attention of x, shape (seq_len, d_model); returns (output, weights)."""
    q = x @ w_q  # (T, d_model) @ (d_model, d_k) -> (T, d_k)
    k = x @ w_k  # (T, d_model) @ (d_model, d_k) -> (T, d_k)
    v = x @ w_v  # (T, d_model) @ (d_model, d_v) -> (T, d_v)
    d_k = q.shape[-1]
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(d_k)  # (T, d_k) @ (d_k, T) -> (T, T)
    scores = scores - scores.max(axis=-1, keepdims=True)  # stable softmax over the keys
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)  # (T, T), each row sums to 1
    output = weights @ v  # (T, T) @ (T, d_v) -> (T, d_v)
    return output, weights


def _sa(x, w_q, w_k, w_v, *, scale, axis=-1, use_values=True, transposed=False, stable=True):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = (k @ q.T if transposed else q @ k.T) * scale
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores - scores.max(axis=axis, keepdims=True) if stable else scores)
        weights = e / e.sum(axis=axis, keepdims=True)
    return weights @ (v if use_values else x), weights


def _sa_transposed(x, w_q, w_k, w_v):
    return _sa(x, w_q, w_k, w_v, scale=1 / np.sqrt(w_q.shape[1]), transposed=True)


def _sa_naive_softmax(x, w_q, w_k, w_v):
    return _sa(x, w_q, w_k, w_v, scale=1 / np.sqrt(w_q.shape[1]), stable=False)


def _sa_sqrt_d_model(x, w_q, w_k, w_v):
    return _sa(x, w_q, w_k, w_v, scale=1 / np.sqrt(x.shape[-1]))


def _sa_unscaled(x, w_q, w_k, w_v):
    return _sa(x, w_q, w_k, w_v, scale=1.0)


def _sa_wrong_axis(x, w_q, w_k, w_v):
    return _sa(x, w_q, w_k, w_v, scale=1 / np.sqrt(w_q.shape[1]), axis=0)


def _sa_no_values(x, w_q, w_k, w_v):
    return _sa(x, w_q, w_k, w_v, scale=1 / np.sqrt(w_q.shape[1]), use_values=False)


_X = _randn(4, 6)
_WQ, _WK, _WV = _randn(6, 3), _randn(6, 3), _randn(6, 2)

_SQRT_D_MODEL_DIAGNOSIS = (
    "you scaled the scores by 1/sqrt(d_model) (the width of x). The scale is 1/sqrt(d_k), the "
    "width of the queries and keys, i.e. w_q.shape[1]."
)
_AXIS_DIAGNOSIS = (
    "your weights' columns sum to 1 instead of their rows: the softmax ran over the queries "
    "(axis 0). Each query's weights over the keys must sum to 1: normalise over the last axis."
)

register(
    Exercise(
        name="self_attention",
        notebook="03_self_attention",
        title="Self-attention as matrices",
        reference=self_attention_solution,
        cases=[
            Case((_X, _WQ, _WK, _WV), description="x (4, 6), w_q and w_k (6, 3), w_v (6, 2)"),
            Case(
                (3 * _randn(7, 8), _randn(8, 4), _randn(8, 4), _randn(8, 8)),
                description="x (7, 8) with large entries, w_q and w_k (8, 4), w_v (8, 8)",
            ),
            Case(
                (100 * _randn(5, 6), _randn(6, 3), _randn(6, 3), _randn(6, 2)),
                description="x (5, 6) with huge entries (scores in the thousands)",
            ),
        ],
        mistakes=[
            Mistake("scaled by sqrt(d_model)", _sa_sqrt_d_model, _SQRT_D_MODEL_DIAGNOSIS),
            Mistake(
                "scores transposed",
                _sa_transposed,
                "your score matrix is transposed: entry (i, j) must be query i against key j, "
                "q @ k.T, not k @ q.T (or w_q and w_k swapped).",
            ),
            Mistake(
                "no max subtraction",
                _sa_naive_softmax,
                "your weights contain NaN: with scores in the thousands, np.exp overflows to inf "
                "and inf / inf is NaN. Subtract each row's max before np.exp (notebook 02).",
            ),
            Mistake(
                "not scaled",
                _sa_unscaled,
                "your scores were not scaled. Divide q @ k.T by sqrt(d_k) before the softmax, "
                "or large dot products make the softmax one-hot.",
            ),
            Mistake("softmax over the wrong axis", _sa_wrong_axis, _AXIS_DIAGNOSIS),
            Mistake(
                "values forgotten",
                _sa_no_values,
                "your weights are right, but your output averages the rows of x itself. Each "
                "token hands over its value v = x @ w_v: output = weights @ v.",
            ),
        ],
        hints=[
            "Five lines: three projections (q, k, v), the scores q @ k.T scaled by 1/sqrt(d_k), a "
            "softmax over each row, and the weighted average of the values.",
            "d_k is q.shape[-1] (here 3), not x.shape[-1]. Subtract each row's max before np.exp "
            "and normalise with .sum(axis=-1, keepdims=True).",
        ],
    )
)


def check_self_attention(fn):
    """Check your ``self_attention(x, w_q, w_k, w_v) -> (output, weights)``.

    x has shape (seq_len, d_model); w_q and w_k (d_model, d_k); w_v (d_model, d_v). output is
    (seq_len, d_v) and weights (seq_len, seq_len), each row summing to 1.
    """
    return check("self_attention", fn)


def cross_attention_solution(x_q, x_kv, w_q, w_k, w_v):
    """Queries from x_q (T_q, d_model); keys and values from x_kv (T_k, d_model)."""
    q = x_q @ w_q  # (T_q, d_model) @ (d_model, d_k) -> (T_q, d_k)
    k = x_kv @ w_k  # (T_k, d_k)
    v = x_kv @ w_v  # (T_k, d_v)
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])  # (T_q, T_k)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)  # each query's row sums to 1
    output = weights @ v  # (T_q, T_k) @ (T_k, d_v) -> (T_q, d_v)
    return output, weights


def _cross_self_on_queries(x_q, x_kv, w_q, w_k, w_v):
    return cross_attention_solution(x_q, x_q, w_q, w_k, w_v)


def _cross_swapped(x_q, x_kv, w_q, w_k, w_v):
    return cross_attention_solution(x_kv, x_q, w_q, w_k, w_v)


def _cross_wrong_axis(x_q, x_kv, w_q, w_k, w_v):
    q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
    scores = q @ k.T / np.sqrt(q.shape[-1])
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    weights = e / e.sum(axis=0, keepdims=True)
    return weights @ v, weights


def _cross_sqrt_d_model(x_q, x_kv, w_q, w_k, w_v):
    q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
    weights = _softmax_rows(q @ k.T / np.sqrt(x_q.shape[-1]))
    return weights @ v, weights


register(
    Exercise(
        name="cross_attention",
        notebook="03_self_attention",
        title="Cross-attention: one sequence asks, another answers",
        reference=cross_attention_solution,
        cases=[
            Case(
                (_randn(3, 6), _randn(5, 6), _WQ, _WK, _WV),
                description="x_q (3, 6) and x_kv (5, 6), w_q and w_k (6, 3), w_v (6, 2)",
            ),
            Case(
                (_randn(2, 4), _randn(6, 4), _randn(4, 2), _randn(4, 2), _randn(4, 5)),
                description="x_q (2, 4) and x_kv (6, 4), w_q and w_k (4, 2), w_v (4, 5)",
            ),
        ],
        mistakes=[
            Mistake(
                "keys and values from x_q",
                _cross_self_on_queries,
                "your weights are (T_q, T_q): you attended from x_q to x_q itself (self-attention). "
                "In cross-attention the keys and values come from the other sequence, x_kv, so "
                "the weights are (T_q, T_k).",
            ),
            Mistake(
                "roles swapped",
                _cross_swapped,
                "your weights are (T_k, T_q): the queries came from x_kv and the keys and values "
                "from x_q. The sequence that asks (x_q) gives the queries.",
            ),
            Mistake("scaled by sqrt(d_model)", _cross_sqrt_d_model, _SQRT_D_MODEL_DIAGNOSIS),
            Mistake("softmax over the wrong axis", _cross_wrong_axis, _AXIS_DIAGNOSIS),
        ],
        hints=[
            "It is self-attention with one change: q is computed from x_q, k and v from x_kv.",
            "Expect weights of shape (T_q, T_k) and an output of shape (T_q, d_v): one answer per "
            "asking token.",
        ],
    )
)


def check_cross_attention(fn):
    """Check your ``cross_attention(x_q, x_kv, w_q, w_k, w_v) -> (output, weights)``."""
    return check("cross_attention", fn)


def attention_entropy_solution(weights):
    """Entropy (in nats) of each query's attention: -sum_j w_j log w_j, with 0 log 0 = 0."""
    w = np.asarray(weights, dtype=float)  # (..., T_q, T_k)
    logs = np.log(w, out=np.zeros_like(w), where=w > 0)  # log is only taken where w > 0
    return -(w * logs).sum(axis=-1)  # (..., T_q)


def _entropy_log2(weights):
    w = np.asarray(weights, dtype=float)
    return -(w * np.log2(w, out=np.zeros_like(w), where=w > 0)).sum(axis=-1)


def _entropy_nan(weights):
    w = np.asarray(weights, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(w * np.log(w)).sum(axis=-1)


def _entropy_no_minus(weights):
    return -attention_entropy_solution(weights)


def _entropy_wrong_axis(weights):
    return attention_entropy_solution(np.swapaxes(weights, -1, -2))


_UNIFORM_ONEHOT_MIX = np.array(
    [[0.25, 0.25, 0.25, 0.25], [0.0, 1.0, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]]
)
_CAUSAL_WEIGHTS = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]

register(
    Exercise(
        name="attention_entropy",
        notebook="03_self_attention",
        title="The entropy of each token's attention",
        reference=attention_entropy_solution,
        cases=[
            Case(
                (_UNIFORM_ONEHOT_MIX,),
                description="weights (3, 4): uniform, one-hot and mixed rows",
            ),
            Case((_softmax_rows(2 * _randn(2, 5, 5)),), description="weights (2, 5, 5), two heads"),
            Case(
                (_CAUSAL_WEIGHTS,),
                description="causal weights (4, 4) with zeros above the diagonal",
            ),
        ],
        mistakes=[
            Mistake(
                "NaN from 0 log 0",
                _entropy_nan,
                "your result contains NaN where a weight is exactly 0: np.log(0) is -inf and "
                "0 * -inf is NaN. By convention 0 log 0 = 0: only take the log where w > 0 "
                "(np.log(w, out=np.zeros_like(w), where=w > 0)).",
            ),
            Mistake(
                "log base 2",
                _entropy_log2,
                "you measured in bits (log base 2). This exercise uses nats: the natural log, np.log.",
            ),
            Mistake(
                "minus sign missing",
                _entropy_no_minus,
                "your entropies are negative: log w <= 0 for weights in [0, 1], so the entropy "
                "needs a minus sign in front of the sum.",
            ),
            Mistake(
                "summed over the queries",
                _entropy_wrong_axis,
                "you summed down the columns (over the queries). Each query's row of weights is "
                "one distribution: sum over the last axis (the keys).",
            ),
        ],
        hints=[
            "Entropy of one distribution: H = -sum_j w_j log w_j. Uniform over n keys gives log n; "
            "one-hot gives 0.",
            "Sum over axis=-1 and handle w == 0 (causal and padding masks make exact zeros) with "
            "np.log(w, out=np.zeros_like(w), where=w > 0).",
        ],
    )
)


def check_attention_entropy(fn):
    """Check your ``attention_entropy(weights) -> (..., T_q)`` (nats, 0 log 0 = 0)."""
    return check("attention_entropy", fn)


# =============================================================================== notebook 04


def split_heads_solution(x, num_heads):
    """(..., seq_len, d_model) -> (..., num_heads, seq_len, head_dim); head h gets a contiguous block."""
    *lead, seq_len, d_model = x.shape
    head_dim = d_model // num_heads
    x = x.reshape(*lead, seq_len, num_heads, head_dim)  # (..., T, d_model) -> (..., T, h, head_dim)
    return x.swapaxes(-3, -2)  # (..., T, h, head_dim) -> (..., h, T, head_dim)


def _split_reshape_only(x, num_heads):
    *lead, seq_len, d_model = x.shape
    return x.reshape(*lead, num_heads, seq_len, d_model // num_heads)


def _split_no_transpose(x, num_heads):
    *lead, seq_len, d_model = x.shape
    return x.reshape(*lead, seq_len, num_heads, d_model // num_heads)


def _split_interleaved(x, num_heads):
    *lead, seq_len, d_model = x.shape
    x = x.reshape(*lead, seq_len, d_model // num_heads, num_heads)  # (..., T, head_dim, h)
    return np.moveaxis(x, -1, -3)  # (..., h, T, head_dim)


register(
    Exercise(
        name="split_heads",
        notebook="04_multi_head_attention",
        title="Split the features into heads",
        reference=split_heads_solution,
        cases=[
            Case(
                (np.arange(24.0).reshape(4, 6), 2),
                description="x (4, 6) = np.arange(24) with num_heads=2",
            ),
            Case((_randn(2, 3, 8), 4), description="a batch x (2, 3, 8) with num_heads=4"),
            Case((_randn(5, 6), 3), description="x (5, 6) with num_heads=3"),
        ],
        mistakes=[
            Mistake(
                "reshape without transpose",
                _split_reshape_only,
                "your shape is right but the numbers are scrambled: you reshaped straight to "
                "(..., num_heads, seq_len, head_dim). Reshape only cuts the flat memory into "
                "pieces, so a 'head' gets features of several tokens (the heads mix). Reshape to "
                "(..., seq_len, num_heads, head_dim) first, then swap the two middle axes.",
            ),
            Mistake(
                "transpose forgotten",
                _split_no_transpose,
                "you returned (..., seq_len, num_heads, head_dim): the split is right, but the "
                "head axis must come before the tokens, (..., num_heads, seq_len, head_dim), so "
                "each head is a separate (seq_len, head_dim) sequence. Swap axes -3 and -2.",
            ),
            Mistake(
                "interleaved features",
                _split_interleaved,
                "your heads take every num_heads-th feature (interleaved). Head h should get one "
                "contiguous block: features h*head_dim ... (h+1)*head_dim - 1.",
            ),
        ],
        hints=[
            "Two steps: a reshape that splits the last axis, then a swap of two axes. Try it on "
            "np.arange(24).reshape(4, 6) and print the result.",
            "x.reshape(*x.shape[:-1], num_heads, head_dim) gives (..., T, h, head_dim); then "
            ".swapaxes(-3, -2).",
        ],
    )
)


def check_split_heads(fn):
    """Check your ``my_split_heads(x, num_heads)``: (..., seq_len, d_model) -> (..., num_heads, seq_len, head_dim)."""
    return check("split_heads", fn)


def merge_heads_solution(x):
    """(..., num_heads, seq_len, head_dim) -> (..., seq_len, num_heads * head_dim); inverse of split."""
    *lead, num_heads, seq_len, head_dim = x.shape
    x = x.swapaxes(-3, -2)  # (..., h, T, head_dim) -> (..., T, h, head_dim)
    return x.reshape(*lead, seq_len, num_heads * head_dim)  # -> (..., T, d_model)


def _merge_reshape_only(x):
    *lead, num_heads, seq_len, head_dim = x.shape
    return x.reshape(*lead, seq_len, num_heads * head_dim)


def _merge_interleaved(x):
    *lead, num_heads, seq_len, head_dim = x.shape
    x = np.moveaxis(x, -3, -1)  # (..., T, head_dim, h)
    return x.reshape(*lead, seq_len, num_heads * head_dim)


register(
    Exercise(
        name="merge_heads",
        notebook="04_multi_head_attention",
        title="Merge the heads back",
        reference=merge_heads_solution,
        cases=[
            Case(
                (np.arange(24.0).reshape(2, 4, 3),),
                description="x (2, 4, 3) = np.arange(24): 2 heads, 4 tokens",
            ),
            Case((_randn(2, 4, 3, 2),), description="a batch x (2, 4, 3, 2): 4 heads, 3 tokens"),
        ],
        mistakes=[
            Mistake(
                "transpose forgotten before merging",
                _merge_reshape_only,
                "your shape is right but the numbers are scrambled: you reshaped (..., num_heads, "
                "seq_len, head_dim) straight to (..., seq_len, d_model), which glues tokens of "
                "the same head together. Swap the head and token axes first, then reshape.",
            ),
            Mistake(
                "interleaved features",
                _merge_interleaved,
                "you interleaved the heads' features. Each token's row should be head 0's "
                "head_dim features, then head 1's, and so on: the inverse of split_heads.",
            ),
        ],
        hints=[
            "Undo split_heads in reverse order: first the axis swap, then the reshape.",
            "x.swapaxes(-3, -2) gives (..., T, h, head_dim); then reshape to (..., T, h * head_dim).",
        ],
    )
)


def check_merge_heads(fn):
    """Check your ``my_merge_heads(x)``: (..., num_heads, seq_len, head_dim) -> (..., seq_len, d_model)."""
    return check("merge_heads", fn)


def multi_head_attention_solution(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    """Project, split into heads, attend per head, merge, project out; returns (output, weights)."""
    q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v  # (T_q, d_model), (T_k, d_model), (T_k, d_model)
    head_dim = q.shape[-1] // num_heads

    def split(t):  # (T, d_model) -> (T, h, head_dim) -> (h, T, head_dim)
        return t.reshape(t.shape[0], num_heads, head_dim).swapaxes(0, 1)

    q, k, v = split(q), split(k), split(v)
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(head_dim)  # (h, T_q, T_k), scaled by the head's d_k
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    heads = weights @ v  # (h, T_q, T_k) @ (h, T_k, head_dim) -> (h, T_q, head_dim)
    merged = heads.swapaxes(0, 1).reshape(x_q.shape[0], -1)  # (T_q, h, head_dim) -> (T_q, d_model)
    return merged @ w_o, weights  # (T_q, d_out), (h, T_q, T_k)


def _mha(
    x_q,
    x_kv,
    w_q,
    w_k,
    w_v,
    w_o,
    *,
    num_heads,
    scale_dim=None,
    split_ok=True,
    merge_ok=True,
    out=True,
):
    q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
    d_model = q.shape[-1]
    head_dim = d_model // num_heads

    def split(t):
        if split_ok:
            return t.reshape(t.shape[0], num_heads, head_dim).swapaxes(0, 1)
        return t.reshape(num_heads, t.shape[0], head_dim)

    q, k, v = split(q), split(k), split(v)
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) / np.sqrt(scale_dim or head_dim))
    heads = weights @ v
    if merge_ok:
        merged = heads.swapaxes(0, 1).reshape(x_q.shape[0], d_model)
    else:
        merged = heads.reshape(x_q.shape[0], d_model)
    return (merged @ w_o if out else merged), weights


def _mha_sqrt_d_model(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, scale_dim=w_q.shape[1])


def _mha_unscaled(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, scale_dim=1)


def _mha_no_output_projection(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, out=False)


def _mha_reshape_only(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, split_ok=False, merge_ok=False)


def _mha_merge_no_transpose(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, merge_ok=False)


_X8 = _randn(5, 8)

register(
    Exercise(
        name="multi_head_attention",
        notebook="04_multi_head_attention",
        title="Multi-head attention from the pieces",
        reference=multi_head_attention_solution,
        cases=[
            Case(
                (_X8, _X8, _randn(8, 8), _randn(8, 8), _randn(8, 8), _randn(8, 8)),
                {"num_heads": 2},
                description="self-attention: x (5, 8), four (8, 8) projections, num_heads=2",
            ),
            Case(
                (
                    _randn(3, 12),
                    _randn(6, 12),
                    _randn(12, 12),
                    _randn(12, 12),
                    _randn(12, 12),
                    _randn(12, 12),
                ),
                {"num_heads": 3},
                description="cross-attention: x_q (3, 12), x_kv (6, 12), num_heads=3",
            ),
        ],
        mistakes=[
            Mistake(
                "scaled by sqrt(d_model)",
                _mha_sqrt_d_model,
                "you scaled every head's scores by 1/sqrt(d_model). Each head attends with its own "
                "queries and keys of width head_dim = d_model // num_heads: scale by 1/sqrt(head_dim).",
            ),
            Mistake(
                "not scaled",
                _mha_unscaled,
                "your scores were not scaled. Divide each head's q @ k.T by sqrt(head_dim), the "
                "width of that head's queries and keys, before the softmax.",
            ),
            Mistake(
                "output projection forgotten",
                _mha_no_output_projection,
                "your weights are right, but the output is the merged heads as they are: the last "
                "step multiplies them by w_o, which mixes what the heads found.",
            ),
            Mistake(
                "reshape without transpose",
                _mha_reshape_only,
                "your weights are scrambled: you split (and merged) the heads with a reshape only, "
                "so each 'head' saw features of several tokens. Reshape to (T, num_heads, "
                "head_dim), then swap the first two axes (and the reverse when merging).",
            ),
            Mistake(
                "transpose forgotten before merging",
                _mha_merge_no_transpose,
                "your weights are right, but the merge is scrambled: you reshaped (num_heads, T, "
                "head_dim) straight to (T, d_model). Swap the head and token axes first.",
            ),
        ],
        hints=[
            "Project (q = x_q @ w_q, k and v from x_kv), split each into (num_heads, T, head_dim), "
            "run scaled dot-product attention per head (batched over the first axis), merge, "
            "multiply by w_o.",
            "Scale by 1/sqrt(head_dim). Merge with heads.swapaxes(0, 1).reshape(T_q, d_model). "
            "Return (output, weights) with weights of shape (num_heads, T_q, T_k), T_k being "
            "the number of keys (x_kv's tokens).",
        ],
    )
)


def check_multi_head_attention(fn):
    """Check your ``my_multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads) -> (output, weights)``."""
    return check("multi_head_attention", fn)


def mha_parameter_count_solution(d_model, num_heads):
    """Weights and biases of w_q, w_k, w_v, w_o, each (d_model, d_model) plus (d_model,)."""
    per_projection = d_model * d_model + d_model  # weight matrix + bias
    return (
        4 * per_projection
    )  # the same for any num_heads: heads split d_model, they do not add to it


def _count_per_head(d_model, num_heads):
    return num_heads * mha_parameter_count_solution(d_model, num_heads)


def _count_no_output(d_model, num_heads):
    return 3 * (d_model * d_model + d_model)


def _count_no_bias(d_model, num_heads):
    return 4 * d_model * d_model


register(
    Exercise(
        name="mha_parameter_count",
        notebook="04_multi_head_attention",
        title="How many parameters does multi-head attention have?",
        reference=mha_parameter_count_solution,
        cases=[
            Case((512, 8), description="d_model=512, num_heads=8 (the original Transformer)"),
            Case((384, 12), description="d_model=384, num_heads=12 (MiniLM, notebook 08)"),
            Case((384, 1), description="d_model=384, num_heads=1"),
        ],
        mistakes=[
            Mistake(
                "a full-size projection per head",
                _count_per_head,
                "your count grows with num_heads. The heads share the (d_model, d_model) "
                "projections: each head uses a head_dim-wide slice, so the count does not "
                "depend on num_heads.",
            ),
            Mistake(
                "output projection forgotten",
                _count_no_output,
                "you counted three projections. Multi-head attention has four: w_q, w_k, w_v and "
                "the output projection w_o.",
            ),
            Mistake(
                "biases forgotten",
                _count_no_bias,
                "you counted only the weight matrices. Each of the four projections also has a "
                "bias vector of d_model entries.",
            ),
        ],
        hints=[
            "Count w_q, w_k, w_v and w_o, each with a bias. Does splitting into heads add any "
            "weights?",
            "Each projection is (d_model, d_model) plus a bias of shape (d_model,); there are four.",
        ],
    )
)


def check_mha_parameter_count(fn):
    """Check your ``mha_parameter_count(d_model, num_heads) -> int`` (weights and biases)."""
    return check("mha_parameter_count", fn)


# =============================================================================== notebook 05


def causal_mask_solution(seq_len):
    """(seq_len, seq_len) boolean mask, True = may attend: token i sees tokens 0..i."""
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))  # lower triangle, diagonal included


def _causal_inverted(seq_len):
    return np.triu(np.ones((seq_len, seq_len), dtype=bool), k=1)


def _causal_upper(seq_len):
    return np.triu(np.ones((seq_len, seq_len), dtype=bool))


def _causal_no_diagonal(seq_len):
    return np.tril(np.ones((seq_len, seq_len), dtype=bool), k=-1)


def _causal_float(seq_len):
    return np.tril(np.ones((seq_len, seq_len)))


register(
    Exercise(
        name="causal_mask",
        notebook="05_masks_and_positions",
        title="A causal mask",
        reference=causal_mask_solution,
        cases=[
            Case((4,), description="seq_len=4"),
            Case((1,), description="seq_len=1"),
            Case((7,), description="seq_len=7"),
        ],
        mistakes=[
            Mistake(
                "inverted (True = block)",
                _causal_inverted,
                "your mask is True exactly where attention must be blocked: that is the "
                "'True = block' convention (PyTorch's nn.MultiheadAttention attn_mask). This course uses "
                "True = may attend, like np.tril.",
            ),
            Mistake(
                "upper triangle",
                _causal_upper,
                "your mask lets token i see tokens i..seq_len-1: the future, not the past. Rows are "
                "queries and columns keys; the allowed entries are on and below the diagonal.",
            ),
            Mistake(
                "diagonal excluded",
                _causal_no_diagonal,
                "your mask stops each token from seeing itself (the diagonal is False), and the "
                "first token can see nothing at all. Token i may attend to 0..i, itself included.",
            ),
            Mistake(
                "not boolean",
                _causal_float,
                "your pattern is right, but the mask holds numbers, not booleans. Masks in this "
                "course are boolean: np.ones(..., dtype=bool).",
            ),
        ],
        hints=[
            "Row i is the query at position i; it may look at columns 0..i. Draw it for seq_len=3.",
            "np.tril keeps the lower triangle including the diagonal; start from "
            "np.ones((seq_len, seq_len), dtype=bool).",
        ],
    )
)


def check_causal_mask(fn):
    """Check your ``my_causal_mask(seq_len) -> (seq_len, seq_len)`` boolean mask (True = may attend)."""
    return check("causal_mask", fn)


def padding_mask_solution(lengths, seq_len):
    """(batch, 1, seq_len) boolean mask, True where key j is a real token (j < length)."""
    lengths = np.asarray(lengths)  # (batch,)
    real = np.arange(seq_len) < lengths[:, None]  # (1, seq_len) < (batch, 1) -> (batch, seq_len)
    return real[:, None, :]  # (batch, 1, seq_len): the 1 broadcasts over the queries


def _pad_inverted(lengths, seq_len):
    return ~padding_mask_solution(lengths, seq_len)


def _pad_no_query_axis(lengths, seq_len):
    return np.arange(seq_len) < np.asarray(lengths)[:, None]


def _pad_off_by_one(lengths, seq_len):
    return (np.arange(seq_len) <= np.asarray(lengths)[:, None])[:, None, :]


register(
    Exercise(
        name="padding_mask",
        notebook="05_masks_and_positions",
        title="A padding mask for a batch of different lengths",
        reference=padding_mask_solution,
        cases=[
            Case((np.array([3, 5, 1]), 5), description="lengths [3, 5, 1] padded to seq_len=5"),
            Case(
                (np.array([2, 0]), 4),
                description="lengths [2, 0] padded to seq_len=4 (an empty sequence)",
            ),
        ],
        mistakes=[
            Mistake(
                "inverted (True = padding)",
                _pad_inverted,
                "your mask is True on the padding: that is the 'True = ignore' convention "
                "(PyTorch's key_padding_mask). This course uses True = may attend, i.e. a real token.",
            ),
            Mistake(
                "query axis missing",
                _pad_no_query_axis,
                "your values are right but the shape is (batch, seq_len). Add a length-1 query axis, "
                "(batch, 1, seq_len), so the mask broadcasts against weights of shape "
                "(batch, seq_len_q, seq_len_k).",
            ),
            Mistake(
                "off by one",
                _pad_off_by_one,
                "your mask lets each sequence see one padding position too many: a sequence of "
                "length n has real tokens at positions 0..n-1, so use < rather than <=.",
            ),
        ],
        hints=[
            "Compare the positions np.arange(seq_len) with each length: position j is real when "
            "j < length.",
            "np.arange(seq_len) < lengths[:, None] broadcasts to (batch, seq_len); then add the "
            "query axis with [:, None, :].",
        ],
    )
)


def check_padding_mask(fn):
    """Check your ``my_padding_mask(lengths, seq_len) -> (batch, 1, seq_len)`` boolean mask."""
    return check("padding_mask", fn)


def masked_attention_solution(q, k, v, mask):
    """Attention where mask (True = may attend) blocks keys; a fully masked row gets zeros."""
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])  # (..., T_q, T_k)
    scores = np.where(mask, scores, -np.inf)  # blocked keys: exp(-inf) = 0, *before* the softmax
    row_max = scores.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # fully masked row: avoid -inf - -inf
    e = np.exp(scores - row_max)
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # 0/0 -> zeros
    return weights @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


def _masked_after_softmax(q, k, v, mask):
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])) * mask
    return weights @ v, weights


def _masked_inverted(q, k, v, mask):
    return masked_attention_solution(q, k, v, ~np.asarray(mask))


def _masked_ignored(q, k, v, mask):
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]))
    return weights @ v, weights


def _masked_unscaled(q, k, v, mask):
    return masked_attention_solution(q * np.sqrt(q.shape[-1]), k, v, mask)  # undoes the 1/sqrt(d_k)


def _masked_fill_zero(q, k, v, mask):
    scores = np.where(mask, q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), 0.0)
    weights = _softmax_rows(scores)
    return weights @ v, weights


def _masked_big_negative(q, k, v, mask):
    scores = np.where(mask, q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), -1e9)
    weights = _softmax_rows(scores)
    return weights @ v, weights


def _masked_neg_inf_nan(q, k, v, mask):
    scores = np.where(mask, q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), -np.inf)
    with np.errstate(invalid="ignore"):
        weights = _softmax_rows(scores)
        return weights @ v, weights


_ROW_MASKED = np.array(
    [[True, True, False, False], [False, False, False, False], [True, False, True, True]]
)  # (3 queries, 4 keys); the middle query may attend to nothing

register(
    Exercise(
        name="masked_attention",
        notebook="05_masks_and_positions",
        title="Masked attention, fully masked rows included",
        reference=masked_attention_solution,
        cases=[
            Case(
                (_randn(4, 3), _randn(4, 3), _randn(4, 2), np.tril(np.ones((4, 4), dtype=bool))),
                description="q, k (4, 3), v (4, 2) with a causal mask (4, 4)",
            ),
            Case(
                (_randn(3, 3), _randn(4, 3), _randn(4, 2), _ROW_MASKED),
                description="q (3, 3), k (4, 3), v (4, 2) with a mask (3, 4) whose second row is all False",
            ),
        ],
        mistakes=[
            Mistake(
                "mask applied after softmax",
                _masked_after_softmax,
                "your rows no longer sum to 1: you zeroed the blocked weights after the softmax. "
                "Block the scores before it (set them to -inf) so the allowed weights share the whole 1.",
            ),
            Mistake(
                "inverted mask",
                _masked_inverted,
                "you blocked exactly the keys the mask allows: in this course True means 'may "
                "attend' (np.tril orientation). Keep scores where mask is True.",
            ),
            Mistake(
                "mask ignored",
                _masked_ignored,
                "your weights ignore the mask: every key gets some weight. Set the scores of "
                "blocked keys (mask == False) to -inf before the softmax.",
            ),
            Mistake(
                "blocked scores set to 0",
                _masked_fill_zero,
                "your blocked keys still get weight: you set their scores to 0, and exp(0) = 1. "
                "A score of 0 is an ordinary score, not 'blocked'. Set them to -inf so that "
                "exp(-inf) = 0.",
            ),
            Mistake(
                "not scaled",
                _masked_unscaled,
                "your mask is applied correctly, but your scores were not scaled. Divide q @ k.T "
                "by sqrt(d_k) (d_k = q.shape[-1]) before masking and the softmax.",
            ),
            Mistake(
                "fill -1e9: fully masked row uniform",
                _masked_big_negative,
                "a query with no allowed key got uniform weights: a fill value of -1e9 makes every "
                "score in that row equal. The course's convention is zero weights and a zero output "
                "for such a row.",
            ),
            Mistake(
                "fill -inf: fully masked row NaN",
                _masked_neg_inf_nan,
                "a query with no allowed key got NaN: its max score is -inf and -inf - (-inf) is "
                "NaN. Give such rows zero weights (for example: replace a -inf row max by 0, and "
                "divide only where the row total is > 0).",
            ),
        ],
        hints=[
            "Compute the scaled scores, replace blocked entries with -inf (np.where(mask, scores, "
            "-np.inf)), then a stable softmax over the last axis.",
            "A row that is all -inf has max -inf: replace that max by 0 before subtracting, and "
            "use np.divide(e, total, out=np.zeros_like(e), where=total > 0).",
        ],
    )
)


def check_masked_attention(fn):
    """Check your ``masked_attention(q, k, v, mask) -> (output, weights)`` (True = may attend)."""
    return check("masked_attention", fn)


def sinusoidal_positions_solution(seq_len, d_model):
    """P[pos, 2i] = sin(pos / 10000**(2i/d_model)), P[pos, 2i+1] = cos(same angle); d_model even."""
    pos = np.arange(seq_len)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2)  # (d_model/2,): 0, 2, 4, ...
    angles = pos / 10000 ** (two_i / d_model)  # (T, 1) / (d_model/2,) -> (T, d_model/2)
    positions = np.zeros((seq_len, d_model))
    positions[:, 0::2] = np.sin(angles)  # even columns
    positions[:, 1::2] = np.cos(angles)  # odd columns
    return positions


def _pos_swapped(seq_len, d_model):
    p = sinusoidal_positions_solution(seq_len, d_model)
    return p.reshape(seq_len, -1, 2)[..., ::-1].reshape(seq_len, d_model)


def _pos_i_not_2i(seq_len, d_model):
    angles = np.arange(seq_len)[:, None] / 10000 ** (np.arange(d_model // 2) / d_model)
    p = np.zeros((seq_len, d_model))
    p[:, 0::2], p[:, 1::2] = np.sin(angles), np.cos(angles)
    return p


def _pos_cos_own_column(seq_len, d_model):
    pos = np.arange(seq_len)[:, None]
    p = np.zeros((seq_len, d_model))
    p[:, 0::2] = np.sin(pos / 10000 ** (np.arange(0, d_model, 2) / d_model))
    p[:, 1::2] = np.cos(pos / 10000 ** (np.arange(1, d_model, 2) / d_model))  # (2i+1)/d_model
    return p


def _pos_halves(seq_len, d_model):
    p = sinusoidal_positions_solution(seq_len, d_model)
    return np.concatenate([p[:, 0::2], p[:, 1::2]], axis=1)


register(
    Exercise(
        name="sinusoidal_positions",
        notebook="05_masks_and_positions",
        title="Sinusoidal positional encodings",
        reference=sinusoidal_positions_solution,
        cases=[
            Case((6, 8), description="seq_len=6, d_model=8"),
            Case((20, 16), description="seq_len=20, d_model=16"),
        ],
        mistakes=[
            Mistake(
                "sin and cos swapped",
                _pos_swapped,
                "your sin and cos are swapped: the even columns (0, 2, 4, ...) hold the sine and "
                "the odd columns the cosine, so position 0 is [0, 1, 0, 1, ...].",
            ),
            Mistake(
                "i instead of 2i",
                _pos_i_not_2i,
                "your wavelengths grow too slowly across the columns (your last columns turn far "
                "too fast): the exponent is 2i/d_model, where 2i is the even column index "
                "(0, 2, 4, ...), not i/d_model.",
            ),
            Mistake(
                "cos uses (2i+1)/d_model",
                _pos_cos_own_column,
                "your sine columns are right, but each cosine column uses its own index in the "
                "exponent, (2i+1)/d_model. A sin/cos pair shares one angle: column 2i+1 holds the "
                "cos of the same angle as column 2i, pos / 10000**(2i/d_model).",
            ),
            Mistake(
                "halves instead of interleaved",
                _pos_halves,
                "you put all the sines first and all the cosines after. Here they are interleaved: "
                "column 2i holds sin and column 2i+1 the cos of the same angle.",
            ),
        ],
        hints=[
            "Build a (seq_len, d_model/2) table of angles pos / 10000**(2i/d_model) by broadcasting "
            "a column of positions against a row of frequencies.",
            "positions[:, 0::2] = np.sin(angles) and positions[:, 1::2] = np.cos(angles); "
            "two_i = np.arange(0, d_model, 2).",
        ],
    )
)


def check_sinusoidal_positions(fn):
    """Check your ``my_sinusoidal_positions(seq_len, d_model) -> (seq_len, d_model)`` (d_model even)."""
    return check("sinusoidal_positions", fn)
