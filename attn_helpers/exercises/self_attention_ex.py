"""Exercise checkers for notebook 03: self-attention as matrices, cross-attention, entropy.

Each exercise is data (reference solution, cases, known mistakes with diagnoses, hints); each
``check_...`` function takes the learner's function itself::

    check_self_attention(my_self_attention)

The references are written the way the notebooks teach them (plain numpy, shapes in comments), so
``solution(name)`` shows a readable worked answer.
"""

from __future__ import annotations

import numpy as np

from ..chunked import chunked_attention
from ..core import multi_head_attention, scaled_dot_product_attention, softmax
from ._common import _softmax_rows, float32, item, negated, normal, swap_last
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = [
    "check_attention_entropy",
    "check_cross_attention",
    "check_self_attention",
]

_FORBIDDEN = (softmax, scaled_dot_product_attention, multi_head_attention, chunked_attention)


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


def _sa_min_subtracted(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / np.sqrt(q.shape[-1])
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores - scores.min(axis=-1, keepdims=True))
        weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ v, weights


def _sa_package(x, w_q, w_k, w_v):
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def _sa_package_softmax(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = softmax(q @ k.T / np.sqrt(q.shape[-1]))
    return weights @ v, weights


def _sa_values_from_keys(x, w_q, w_k, w_v):
    return _sa(x, w_q, w_k, w_k, scale=1 / np.sqrt(w_q.shape[1]))


_randn = normal("self_attention")
_X = _randn(4, 6)
_WQ, _WK, _WV = _randn(6, 3), _randn(6, 3), _randn(6, 2)

_SQRT_D_MODEL_DIAGNOSIS = (
    "you scaled the scores by `1 / sqrt(d_model)` (the width of `x`). The scale is "
    "`1 / sqrt(d_k)`, the width of the queries and keys, i.e. `w_q.shape[1]`."
)
_AXIS_DIAGNOSIS = (
    "your weights' columns sum to 1 instead of their rows: the softmax ran over the queries "
    "(axis 0). Each query's weights over the keys must sum to 1: normalise over the last axis."
)
_UNSCALED_DIAGNOSIS = (
    "your scores were not scaled. Divide `q @ k.T` by `sqrt(d_k)` before the softmax, or large "
    "dot products make the softmax one-hot."
)

register(
    Exercise(
        name="self_attention",
        notebook="03_self_attention",
        title="Self-attention as matrices",
        reference=self_attention_solution,
        forbidden=_FORBIDDEN,
        returns=("output", "weights"),
        cases=[
            Case(
                (_X, _WQ, _WK, _WV), description="`x` (4, 6), `w_q` and `w_k` (6, 3), `w_v` (6, 2)"
            ),
            Case(
                (3 * _randn(7, 8), _randn(8, 4), _randn(8, 4), _randn(8, 8)),
                description="`x` (7, 8) with large entries, `w_q` and `w_k` (8, 4), `w_v` (8, 8)",
            ),
            Case(
                (100 * _randn(5, 6), _randn(6, 3), _randn(6, 3), _randn(6, 2)),
                description="`x` (5, 6) with huge entries (scores in the thousands)",
            ),
        ],
        mistakes=[
            Mistake("scaled by sqrt(d_model)", _sa_sqrt_d_model, _SQRT_D_MODEL_DIAGNOSIS),
            Mistake(
                "scores transposed",
                _sa_transposed,
                "your score matrix is transposed: entry `(i, j)` must be query `i` against key "
                "`j`, `q @ k.T`, not `k @ q.T` (or `w_q` and `w_k` swapped).",
            ),
            Mistake(
                "no max subtraction",
                _sa_naive_softmax,
                "your weights contain NaN: with scores in the thousands, `np.exp` overflows to "
                "`inf` and `inf / inf` is NaN. Subtract each row's max before `np.exp` "
                "(notebook 02).",
            ),
            Mistake("not scaled", _sa_unscaled, _UNSCALED_DIAGNOSIS),
            Mistake("softmax over the wrong axis", _sa_wrong_axis, _AXIS_DIAGNOSIS),
            Mistake(
                "values forgotten",
                _sa_no_values,
                "your weights are right, but your output averages the rows of `x` itself. Each "
                "token hands over its value `v = x @ w_v`: `output = weights @ v`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("min subtracted instead of max", _sa_min_subtracted),
            WrongVariant("values from w_k", _sa_values_from_keys),
            WrongVariant(
                "weights transposed", transformed(self_attention_solution, item(1, swap_last))
            ),
            WrongVariant("output float32", transformed(self_attention_solution, item(0, float32))),
            WrongVariant(
                "the package's attention",
                _sa_package,
                says="`attn_helpers.scaled_dot_product_attention`",
            ),
            WrongVariant(
                "the package's softmax", _sa_package_softmax, says="`attn_helpers.softmax`"
            ),
        ],
        hints=[
            "Five lines: three projections (`q`, `k`, `v`), the scores `q @ k.T` scaled by "
            "`1 / sqrt(d_k)`, a softmax over each row, and the weighted average of the values.",
            "`d_k` is `q.shape[-1]` (here 3), not `x.shape[-1]`. Subtract each row's max before "
            "`np.exp` and normalise with `.sum(axis=-1, keepdims=True)`.",
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


def _cross_unscaled(x_q, x_kv, w_q, w_k, w_v):
    q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
    weights = _softmax_rows(q @ k.T)
    return weights @ v, weights


def _cross_keys_from_queries(x_q, x_kv, w_q, w_k, w_v):
    q, k, v = x_q @ w_q, x_q @ w_k, x_kv @ w_v  # keys from the asking sequence
    weights = _softmax_rows(q @ k.T / np.sqrt(q.shape[-1]))
    return weights @ v, weights


def _cross_package(x_q, x_kv, w_q, w_k, w_v):
    return scaled_dot_product_attention(x_q @ w_q, x_kv @ w_k, x_kv @ w_v)


_randn = normal("cross_attention")


register(
    Exercise(
        name="cross_attention",
        notebook="03_self_attention",
        title="Cross-attention: one sequence asks, another answers",
        reference=cross_attention_solution,
        forbidden=_FORBIDDEN,
        returns=("output", "weights"),
        cases=[
            Case(
                (_randn(3, 6), _randn(5, 6), _WQ, _WK, _WV),
                description="`x_q` (3, 6) and `x_kv` (5, 6), `w_q` and `w_k` (6, 3), `w_v` (6, 2)",
            ),
            Case(
                (_randn(2, 4), _randn(6, 4), _randn(4, 2), _randn(4, 2), _randn(4, 5)),
                description="`x_q` (2, 4) and `x_kv` (6, 4), `w_q` and `w_k` (4, 2), `w_v` (4, 5)",
            ),
        ],
        mistakes=[
            Mistake(
                "keys and values from x_q",
                _cross_self_on_queries,
                "your weights are `(T_q, T_q)`: you attended from `x_q` to `x_q` itself "
                "(self-attention). In cross-attention the keys and values come from the other "
                "sequence, `x_kv`, so the weights are `(T_q, T_k)`.",
            ),
            Mistake(
                "roles swapped",
                _cross_swapped,
                "your weights are `(T_k, T_q)`: the queries came from `x_kv` and the keys and "
                "values from `x_q`. The sequence that asks (`x_q`) gives the queries.",
            ),
            Mistake("scaled by sqrt(d_model)", _cross_sqrt_d_model, _SQRT_D_MODEL_DIAGNOSIS),
            Mistake("softmax over the wrong axis", _cross_wrong_axis, _AXIS_DIAGNOSIS),
            Mistake("not scaled", _cross_unscaled, _UNSCALED_DIAGNOSIS),
        ],
        wrong_variants=[
            WrongVariant(
                "weights float32", transformed(cross_attention_solution, item(1, float32))
            ),
            WrongVariant("keys from x_q", _cross_keys_from_queries),
            WrongVariant("output negated", transformed(cross_attention_solution, item(0, negated))),
            WrongVariant(
                "the package's attention",
                _cross_package,
                says="`attn_helpers.scaled_dot_product_attention`",
            ),
        ],
        hints=[
            "It is self-attention with one change: `q` is computed from `x_q`, `k` and `v` from "
            "`x_kv`.",
            "Expect weights of shape `(T_q, T_k)` and an output of shape `(T_q, d_v)`: one answer "
            "per asking token.",
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


def _entropy_no_log_guard_clipped(weights):
    w = np.asarray(weights, dtype=float)
    return -(w * np.log(np.clip(w, 1e-3, None))).sum(axis=-1)  # clipping changes the small terms


def _entropy_mean_not_sum(weights):
    w = np.asarray(weights, dtype=float)
    return -(w * np.log(w, out=np.zeros_like(w), where=w > 0)).mean(axis=-1)


def _entropy_log10(weights):
    w = np.asarray(weights, dtype=float)
    return -(w * np.log10(w, out=np.zeros_like(w), where=w > 0)).sum(axis=-1)


_randn = normal("attention_entropy")
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
            Case(
                (np.array([[1 - 2e-5, 1e-5, 1e-5, 0.0], [0.5, 0.5 - 1e-4, 1e-4, 0.0]]),),
                description="weights (2, 4) with tiny weights of 1e-5 and 1e-4 next to exact zeros",
            ),
        ],
        mistakes=[
            Mistake(
                "NaN from 0 log 0",
                _entropy_nan,
                "your result contains NaN where a weight is exactly 0: `np.log(0)` is `-inf` and "
                "`0 * -inf` is NaN. By convention `0 log 0 = 0`: only take the log where `w > 0` "
                "(`np.log(w, out=np.zeros_like(w), where=w > 0)`).",
            ),
            Mistake(
                "log base 2",
                _entropy_log2,
                "you measured in bits (log base 2). This exercise uses nats: the natural log, "
                "`np.log`.",
            ),
            Mistake(
                "minus sign missing",
                _entropy_no_minus,
                "your entropies are negative: `log w <= 0` for weights in `[0, 1]`, so the "
                "entropy needs a minus sign in front of the sum.",
            ),
            Mistake(
                "summed over the queries",
                _entropy_wrong_axis,
                "you summed down the columns (over the queries). Each query's row of weights is "
                "one distribution: sum over the last axis (the keys).",
            ),
            Mistake(
                "mean instead of sum",
                _entropy_mean_not_sum,
                "your entropies are too small by the number of keys: you took the mean of "
                "`w log w` over the keys. The entropy is its (negated) sum.",
            ),
        ],
        wrong_variants=[
            WrongVariant("weights clipped before the log", _entropy_no_log_guard_clipped),
            WrongVariant("log base 10", _entropy_log10),
            WrongVariant(
                "one number for all queries", transformed(attention_entropy_solution, np.sum)
            ),
            WrongVariant("float32", transformed(attention_entropy_solution, float32)),
        ],
        hints=[
            "Entropy of one distribution: `H = -sum_j w_j log w_j`. Uniform over `n` keys gives "
            "`log n`; one-hot gives 0.",
            "Sum over `axis=-1` and handle `w == 0` (causal and padding masks make exact zeros) "
            "with `np.log(w, out=np.zeros_like(w), where=w > 0)`.",
        ],
    )
)


def check_attention_entropy(fn):
    """Check your ``attention_entropy(weights) -> (..., T_q)`` (nats, 0 log 0 = 0)."""
    return check("attention_entropy", fn)
