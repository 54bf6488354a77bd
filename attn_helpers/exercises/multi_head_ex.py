"""Exercise checkers for notebook 04: splitting and merging heads, multi-head attention.

Each exercise is data (reference solution, cases, known mistakes with diagnoses, hints); each
``check_...`` function takes the learner's function itself::

    check_split_heads(my_split_heads)

The references are written the way the notebooks teach them (plain numpy, shapes in comments), so
``solution(name)`` shows a readable worked answer.
"""

from __future__ import annotations

import numpy as np

from ..chunked import chunked_attention
from ..core import (
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from ._common import _softmax_rows, as_float, float32, item, negated, normal, swap_last
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = [
    "check_merge_heads",
    "check_mha_parameter_count",
    "check_multi_head_attention",
    "check_split_heads",
]

_FORBIDDEN = (softmax, scaled_dot_product_attention, multi_head_attention, chunked_attention)


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


def _split_last_axes_swapped(x, num_heads):
    *lead, seq_len, d_model = x.shape
    x = x.reshape(*lead, seq_len, num_heads, d_model // num_heads)
    return x.swapaxes(-1, -2)  # (..., T, head_dim, h): the wrong pair of axes


def _split_package(x, num_heads):
    return split_heads(x, num_heads)


_randn = normal("split_heads")

register(
    Exercise(
        name="split_heads",
        notebook="04_multi_head_attention",
        title="Split the features into heads",
        reference=split_heads_solution,
        stub="my_split_heads",
        forbidden=(split_heads, multi_head_attention),
        cases=[
            Case(
                (np.arange(24.0).reshape(4, 6), 2),
                description="`x` (4, 6) = `np.arange(24)` with `num_heads=2`",
            ),
            Case((_randn(2, 3, 8), 4), description="a batch `x` (2, 3, 8) with `num_heads=4`"),
            Case((_randn(5, 6), 3), description="`x` (5, 6) with `num_heads=3`"),
        ],
        mistakes=[
            Mistake(
                "reshape without transpose",
                _split_reshape_only,
                "your shape is right but the numbers are scrambled: you reshaped straight to "
                "`(..., num_heads, seq_len, head_dim)`. Reshape only cuts the flat memory into "
                "pieces, so a 'head' gets features of several tokens (the heads mix). Reshape to "
                "`(..., seq_len, num_heads, head_dim)` first, then swap the two middle axes.",
            ),
            Mistake(
                "transpose forgotten",
                _split_no_transpose,
                "you returned `(..., seq_len, num_heads, head_dim)`: the split is right, but the "
                "head axis must come before the tokens, `(..., num_heads, seq_len, head_dim)`, so "
                "each head is a separate `(seq_len, head_dim)` sequence. Swap axes -3 and -2.",
            ),
            Mistake(
                "interleaved features",
                _split_interleaved,
                "your heads take every `num_heads`-th feature (interleaved). Head `h` should get "
                "one contiguous block: features `h * head_dim` to `(h + 1) * head_dim - 1`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("the last two axes swapped", _split_last_axes_swapped),
            WrongVariant(
                "heads in reverse order",
                transformed(split_heads_solution, lambda o: o[..., ::-1, :, :]),
            ),
            WrongVariant(
                "tokens and features swapped", transformed(split_heads_solution, swap_last)
            ),
            WrongVariant("float32", transformed(split_heads_solution, float32)),
            WrongVariant(
                "the package's split_heads", _split_package, says="`attn_helpers.split_heads`"
            ),
        ],
        hints=[
            "Two steps: a reshape that splits the last axis, then a swap of two axes. Try it on "
            "`np.arange(24).reshape(4, 6)` and print the result.",
            "`x.reshape(*x.shape[:-1], num_heads, head_dim)` gives `(..., T, h, head_dim)`; then "
            "`.swapaxes(-3, -2)`.",
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


def _merge_heads_reversed(x):
    return merge_heads_solution(x[..., ::-1, :, :])


def _merge_package(x):
    return merge_heads(x)


def _merge_summed(x):
    return x.sum(axis=-3)  # adds the heads up: (..., T, head_dim)


_randn = normal("merge_heads")

register(
    Exercise(
        name="merge_heads",
        notebook="04_multi_head_attention",
        title="Merge the heads back",
        reference=merge_heads_solution,
        stub="my_merge_heads",
        forbidden=(merge_heads, multi_head_attention),
        cases=[
            Case(
                (np.arange(24.0).reshape(2, 4, 3),),
                description="`x` (2, 4, 3) = `np.arange(24)`: 2 heads, 4 tokens",
            ),
            Case((_randn(2, 4, 3, 2),), description="a batch `x` (2, 4, 3, 2): 4 heads, 3 tokens"),
        ],
        mistakes=[
            Mistake(
                "transpose forgotten before merging",
                _merge_reshape_only,
                "your shape is right but the numbers are scrambled: you reshaped "
                "`(..., num_heads, seq_len, head_dim)` straight to `(..., seq_len, d_model)`, "
                "which glues tokens of the same head together. Swap the head and token axes "
                "first, then reshape.",
            ),
            Mistake(
                "interleaved features",
                _merge_interleaved,
                "you interleaved the heads' features. Each token's row should be head 0's "
                "`head_dim` features, then head 1's, and so on: the inverse of `split_heads`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("heads in reverse order", _merge_heads_reversed),
            WrongVariant("heads summed", _merge_summed),
            WrongVariant("negated", transformed(merge_heads_solution, negated)),
            WrongVariant("float32", transformed(merge_heads_solution, float32)),
            WrongVariant(
                "the package's merge_heads", _merge_package, says="`attn_helpers.merge_heads`"
            ),
        ],
        hints=[
            "Undo `split_heads` in reverse order: first the axis swap, then the reshape.",
            "`x.swapaxes(-3, -2)` gives `(..., T, h, head_dim)`; then reshape to "
            "`(..., T, h * head_dim)`.",
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
    no_swap=False,
):
    q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
    d_model = q.shape[-1]
    head_dim = d_model // num_heads

    def split(t):
        if no_swap:
            return t.reshape(t.shape[0], num_heads, head_dim)  # (T, h, head_dim): no swap
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


def _mha_split_reshape_only(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, split_ok=False)


def _mha_split_no_swap(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, no_swap=True)


def _mha_one_head(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    out, weights = _mha(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=1)
    return out, np.repeat(weights, num_heads, axis=0)


def _mha_package(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads)


def _mha_package_attention(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    q, k, v = (split_heads_solution(t, num_heads) for t in (x_q @ w_q, x_kv @ w_k, x_kv @ w_v))
    heads, weights = scaled_dot_product_attention(q, k, v)
    return merge_heads_solution(heads) @ w_o, weights


_RESHAPE_DIAGNOSIS = (
    "your weights are scrambled: you split the heads with a reshape only, "
    "`t.reshape(num_heads, T, head_dim)`, so each 'head' saw features of several tokens (the "
    "reshape-without-transpose bug of section 3, which `check_split_heads` also names). Reshape "
    "to `(T, num_heads, head_dim)`, then swap the first two axes (and the reverse when merging)."
)
_randn = normal("multi_head_attention")
_X8 = _randn(5, 8)

register(
    Exercise(
        name="multi_head_attention",
        notebook="04_multi_head_attention",
        title="Multi-head attention from the pieces",
        reference=multi_head_attention_solution,
        stub="my_multi_head_attention",
        forbidden=_FORBIDDEN,
        returns=("output", "weights"),
        cases=[
            Case(
                (_X8, _X8, _randn(8, 8), _randn(8, 8), _randn(8, 8), _randn(8, 8)),
                {"num_heads": 2},
                description="self-attention: `x` (5, 8), four (8, 8) projections, `num_heads=2`",
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
                description="cross-attention: `x_q` (3, 12), `x_kv` (6, 12), `num_heads=3`",
            ),
        ],
        mistakes=[
            Mistake(
                "scaled by sqrt(d_model)",
                _mha_sqrt_d_model,
                "you scaled every head's scores by `1 / sqrt(d_model)`. Each head attends with its "
                "own queries and keys of width `head_dim = d_model // num_heads`: scale by "
                "`1 / sqrt(head_dim)`.",
            ),
            Mistake(
                "not scaled",
                _mha_unscaled,
                "your scores were not scaled. Divide each head's `q @ k.T` by `sqrt(head_dim)`, "
                "the width of that head's queries and keys, before the softmax.",
            ),
            Mistake(
                "output projection forgotten",
                _mha_no_output_projection,
                "your weights are right, but the output is the merged heads as they are: the last "
                "step multiplies them by `w_o`, which mixes what the heads found.",
            ),
            Mistake("reshape without transpose", _mha_reshape_only, _RESHAPE_DIAGNOSIS),
            Mistake(
                "reshape without transpose in the split",
                _mha_split_reshape_only,
                _RESHAPE_DIAGNOSIS,
            ),
            Mistake(
                "transpose forgotten before merging",
                _mha_merge_no_transpose,
                "your weights are right, but the merge is scrambled: you reshaped "
                "`(num_heads, T, head_dim)` straight to `(T, d_model)`. Swap the head and token "
                "axes first.",
            ),
            Mistake(
                "split without the swap",
                _mha_split_no_swap,
                "your weights have shape `(T, num_heads, num_heads)`: after the reshape to "
                "`(T, num_heads, head_dim)` the heads must come first, so swap the first two "
                "axes, giving `(num_heads, T, head_dim)`. Otherwise each token attends over the "
                "heads instead of the tokens.",
            ),
        ],
        wrong_variants=[
            WrongVariant("one head only", _mha_one_head),
            WrongVariant(
                "weights transposed", transformed(multi_head_attention_solution, item(1, swap_last))
            ),
            WrongVariant(
                "output float32", transformed(multi_head_attention_solution, item(0, float32))
            ),
            WrongVariant(
                "the package's multi_head_attention",
                _mha_package,
                says="`attn_helpers.multi_head_attention`",
            ),
            WrongVariant(
                "the package's attention per head",
                _mha_package_attention,
                says="`attn_helpers.scaled_dot_product_attention`",
            ),
        ],
        hints=[
            "Project (`q = x_q @ w_q`, `k` and `v` from `x_kv`), split each into "
            "`(num_heads, T, head_dim)`, run scaled dot-product attention per head (batched over "
            "the first axis), merge, multiply by `w_o`.",
            "Scale by `1 / sqrt(head_dim)`. Merge with `heads.swapaxes(0, 1).reshape(T_q, d_model)`. "
            "Return `(output, weights)` with weights of shape `(num_heads, T_q, T_k)`, `T_k` "
            "being the number of keys (the tokens of `x_kv`).",
        ],
    )
)


def check_multi_head_attention(fn):
    """Check your ``my_multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads) -> (output, weights)``."""
    return check("multi_head_attention", fn)


def mha_parameter_count_solution(d_model, num_heads):
    """Weights and biases of w_q, w_k, w_v, w_o, each (d_model, d_model) plus (d_model,)."""
    per_projection = d_model * d_model + d_model  # weight matrix + bias
    # The same for any num_heads: the heads split d_model, they do not add to it.
    return 4 * per_projection


def _count_per_head(d_model, num_heads):
    return num_heads * mha_parameter_count_solution(d_model, num_heads)


def _count_no_output(d_model, num_heads):
    return 3 * (d_model * d_model + d_model)


def _count_no_bias(d_model, num_heads):
    return 4 * d_model * d_model


def _count_per_head_dim(d_model, num_heads):
    head_dim = d_model / num_heads  # a float: / instead of //
    return 4 * (d_model * head_dim * num_heads + d_model)


def _count_one_bias(d_model, num_heads):
    return 4 * d_model * d_model + d_model


def _count_heads_times_head_dim(d_model, num_heads):
    head_dim = d_model // num_heads
    return 4 * (num_heads * head_dim * head_dim + d_model)  # block-diagonal: each head alone


register(
    Exercise(
        name="mha_parameter_count",
        notebook="04_multi_head_attention",
        title="How many parameters does multi-head attention have?",
        reference=mha_parameter_count_solution,
        cases=[
            Case((512, 8), description="`d_model=512`, `num_heads=8` (the original Transformer)"),
            Case((384, 12), description="`d_model=384`, `num_heads=12` (MiniLM, notebook 08)"),
            Case((384, 1), description="`d_model=384`, `num_heads=1`"),
        ],
        mistakes=[
            Mistake(
                "a full-size projection per head",
                _count_per_head,
                "your count grows with `num_heads`. The heads share the `(d_model, d_model)` "
                "projections: each head uses a `head_dim`-wide slice, so the count does not "
                "depend on `num_heads`.",
            ),
            Mistake(
                "output projection forgotten",
                _count_no_output,
                "you counted three projections. Multi-head attention has four: `w_q`, `w_k`, `w_v` "
                "and the output projection `w_o`.",
            ),
            Mistake(
                "biases forgotten",
                _count_no_bias,
                "you counted only the weight matrices. Each of the four projections also has a "
                "bias vector of `d_model` entries.",
            ),
            Mistake(
                "one bias only",
                _count_one_bias,
                "you counted one bias vector; each of the four projections has its own.",
            ),
        ],
        wrong_variants=[
            WrongVariant(
                "a float count",
                transformed(mha_parameter_count_solution, as_float),
                says="return an `int`",
            ),
            WrongVariant("head_dim with /", _count_per_head_dim, says="return an `int`"),
            WrongVariant("block-diagonal heads", _count_heads_times_head_dim),
            WrongVariant(
                "off by one",
                transformed(mha_parameter_count_solution, lambda n: n + 1),
                says="`1050625`",
            ),
        ],
        hints=[
            "Count `w_q`, `w_k`, `w_v` and `w_o`, each with a bias. Does splitting into heads add "
            "any weights?",
            "Each projection is `(d_model, d_model)` plus a bias of shape `(d_model,)`; there are "
            "four.",
        ],
    )
)


def check_mha_parameter_count(fn):
    """Check your ``mha_parameter_count(d_model, num_heads) -> int`` (weights and biases)."""
    return check("mha_parameter_count", fn)
