"""Checkers for notebook 07 (common pitfalls): diagnose a bug, then fix it.

- ``detect_causality_leak``: write the detector. ``leaks_future(attention)`` must say whether a
  causal attention function lets a token see later tokens, including the sneaky case where the
  mask is applied after the softmax (the weights look causal, the outputs are not).
- ``fix_head_scale``: per-head attention that divides by sqrt(d_model) instead of sqrt(head_dim).
- ``fix_padding_nan``: a softmax that turns a fully masked (padding) row into NaN.

Each checker takes the learner's function itself: ``check_fix_head_scale(heads_attention)``.
"""

from __future__ import annotations

import numpy as np

from ..chunked import chunked_attention
from ..core import multi_head_attention, scaled_dot_product_attention, softmax
from ..diagnostics import causality_leak
from ._common import float32, item, swap_last
from ._framework import (
    Case,
    Exercise,
    Mistake,
    WrongVariant,
    case_rng,
    check,
    register,
    transformed,
)

__all__ = [
    "check_detect_causality_leak",
    "check_fix_head_scale",
    "check_fix_padding_nan",
]

NOTEBOOK = "07_common_pitfalls"


def _softmax_rows(scores):
    """Stable softmax over the last axis; rows that are all -inf give zeros."""
    row_max = scores.max(axis=-1, keepdims=True)
    row_max = np.where(np.isneginf(row_max), 0.0, row_max)
    e = np.exp(scores - row_max)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


# =============================================================================== 1. the detector
# Attention functions the learner's detector is run on: attention(q, k, v, mask=None).


def _attention_correct(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = _softmax_rows(scores)
    return weights @ v, weights


def _attention_ignores_mask(q, k, v, mask=None):
    return _attention_correct(q, k, v)


def _attention_mask_after_softmax(q, k, v, mask=None):
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]))
    if mask is not None:
        weights = weights * mask  # zero the future... after it shaped the denominator
    return weights @ v, weights


def _attention_off_by_one(q, k, v, mask=None):
    seq_len = q.shape[-2]
    return _attention_correct(q, k, v, mask=np.tril(np.ones((seq_len, seq_len), bool), k=1))


def _attention_first_token_peeks(q, k, v, mask=None):
    seq_len = q.shape[-2]
    allowed = np.tril(np.ones((seq_len, seq_len), bool))
    allowed[0, 1] = True  # token 0 may also look at token 1
    return _attention_correct(q, k, v, mask=allowed)


def _attention_correct_output_only(q, k, v, mask=None):
    return _attention_correct(q, k, v, mask=mask)[0]


def detect_causality_leak_solution(attention):
    """True if ``attention(q, k, v, mask=causal)`` lets some token see a later token."""
    seq_len, d_k = 6, 4
    rng = np.random.default_rng(0)
    causal = np.tril(np.ones((seq_len, seq_len), dtype=bool))  # True = may attend
    q, k, v = rng.normal(size=(3, seq_len, d_k))
    result = attention(q, k, v, mask=causal)
    output = result[0] if isinstance(result, tuple) else result  # (seq_len, d_v)
    for p in range(1, seq_len):
        # Change every token from position p on: their queries, keys AND values.
        q2, k2, v2 = q.copy(), k.copy(), v.copy()
        for x in (q2, k2, v2):
            x[p:] = rng.normal(size=(seq_len - p, d_k))
        result2 = attention(q2, k2, v2, mask=causal)
        output2 = result2[0] if isinstance(result2, tuple) else result2
        if not np.allclose(output[:p], output2[:p]):  # an earlier output moved: a leak
            return True
    return False


def _compare_verdict(expected, actual) -> str | None:
    if not isinstance(actual, bool | np.bool_):
        return f"you returned `{actual!r}` (a {type(actual).__name__}); return `True` or `False`"
    if bool(actual) == bool(expected):
        return None
    return "you reported a leak where there is none" if actual else "you missed a leak"


def _leak_always_true(attention):
    return True


def _leak_always_false(attention):
    return False


def _leak_weights_only(attention):
    seq_len = 6
    q, k, v = np.random.default_rng(0).normal(size=(3, seq_len, 4))
    causal = np.tril(np.ones((seq_len, seq_len), dtype=bool))
    _, weights = attention(q, k, v, mask=causal)
    return bool(np.any(weights[~causal] != 0))


def _leak_package(attention):
    return not causality_leak(attention)  # a Diagnosis is truthy when the check passed


def _leak_last_position_only(attention):
    seq_len = 6
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, seq_len, 4))
    causal = np.tril(np.ones((seq_len, seq_len), dtype=bool))
    result = attention(q, k, v, mask=causal)
    output = result[0] if isinstance(result, tuple) else result
    q2, k2, v2 = q.copy(), k.copy(), v.copy()
    for x in (q2, k2, v2):
        x[-1] = rng.normal(size=4)  # only p = seq_len - 1
    result2 = attention(q2, k2, v2, mask=causal)
    output2 = result2[0] if isinstance(result2, tuple) else result2
    return not np.allclose(output[:-1], output2[:-1])


def _leak_as_int(attention):
    return int(detect_causality_leak_solution(attention))


def _leak_values_only(attention):
    seq_len = 6
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, seq_len, 4))
    causal = np.tril(np.ones((seq_len, seq_len), dtype=bool))
    output, _ = attention(q, k, v, mask=causal)
    v2 = v.copy()
    v2[3:] = rng.normal(size=(seq_len - 3, 4))
    return not np.allclose(attention(q, k, v2, mask=causal)[0][:3], output[:3])


register(
    Exercise(
        name="detect_causality_leak",
        notebook=NOTEBOOK,
        title="A detector for causality leaks",
        reference=detect_causality_leak_solution,
        stub="leaks_future",
        forbidden=(causality_leak,),
        cases=[
            Case((_attention_correct,), description="a correct causal attention (no leak)"),
            Case(
                (_attention_ignores_mask,), description="an attention that ignores the mask (leaks)"
            ),
            Case(
                (_attention_first_token_peeks,),
                description="an attention whose first token may also see the second (leaks)",
            ),
            Case(
                (_attention_mask_after_softmax,),
                description="an attention that masks after the softmax (leaks through the denominator)",
            ),
            Case(
                (_attention_off_by_one,),
                description="an attention whose mask lets each token see one token ahead (leaks)",
            ),
            Case(
                (_attention_correct_output_only,),
                description="a correct attention that returns only the output, no weights (no leak)",
            ),
        ],
        mistakes=[
            Mistake(
                "always True",
                _leak_always_true,
                "you reported a leak for a correct causal attention. Only report one when "
                "changing later tokens moves an earlier token's output.",
            ),
            Mistake(
                "looks at the weights only",
                _leak_weights_only,
                "you missed a leak: the weights above the diagonal are all 0 here, because the "
                "mask is applied after the softmax, yet the future keys still entered the "
                "softmax's denominator. Look at the outputs, not only the weights.",
            ),
            Mistake(
                "changes only a few values",
                _leak_values_only,
                "you missed a leak: here token 0 peeks at token 1, and you only changed the values "
                "of the last tokens. Try every position `p`, and change `q`, `k` and `v` of all the "
                "tokens from `p` on.",
            ),
            Mistake(
                "always False",
                _leak_always_false,
                "you missed a leak: this function ignores the mask. Change the tokens from some "
                "position on and compare the outputs of the tokens before it.",
            ),
        ],
        wrong_variants=[
            WrongVariant("changes only the last token", _leak_last_position_only),
            WrongVariant("returns 0 or 1", _leak_as_int, says="return `True` or `False`"),
            WrongVariant(
                "the package's causality_leak",
                _leak_package,
                says="`attn_helpers.diagnostics.causality_leak`",
            ),
        ],
        compare=_compare_verdict,
        hints=[
            "Run the attention once with a causal mask. Then replace the tokens from position `p` "
            "on with new random ones and run it again: with a correct mask, the outputs of tokens "
            "0 to `p - 1` cannot change.",
            "Try every `p` from 1 to `seq_len - 1`, change `q`, `k` and `v` of the later tokens "
            "(copies!), and compare `output[:p]` with `np.allclose`. Some functions return "
            "`(output, weights)`, some only `output`: take `result[0]` when `result` is a tuple.",
        ],
    )
)


def check_detect_causality_leak(fn):
    """Check your ``leaks_future(attention) -> bool``.

    ``attention(q, k, v, mask=...)`` returns ``(output, weights)`` or only ``output``; your
    function returns True when it lets some token see a later token under a causal mask.
    """
    return check("detect_causality_leak", fn)


# =============================================================================== 2. the scale


def fix_head_scale_solution(q, k, v):
    """Attention inside multi-head attention: q, k, v of shape (num_heads, seq_len, head_dim)."""
    head_dim = q.shape[-1]  # d_k of each head, not d_model = num_heads * head_dim
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(head_dim)  # (h, T, hd) @ (h, hd, T) -> (h, T, T)
    scores = scores - scores.max(axis=-1, keepdims=True)  # stable softmax over the keys
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)  # (h, T, T)
    return weights @ v, weights  # (h, T, T) @ (h, T, hd) -> (h, T, hd)


def _scaled(q, k, v, scale):
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) * scale)
    return weights @ v, weights


def _scale_d_model(q, k, v):
    return _scaled(q, k, v, 1 / np.sqrt(q.shape[-3] * q.shape[-1]))


def _scale_none(q, k, v):
    return _scaled(q, k, v, 1.0)


def _scale_d_k_not_sqrt(q, k, v):
    return _scaled(q, k, v, 1 / q.shape[-1])


def _scale_seq_len(q, k, v):
    return _scaled(q, k, v, 1 / np.sqrt(q.shape[-2]))


def _heads_softmax_over_queries(q, k, v):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])  # (h, T, T), the right scale
    weights = np.moveaxis(_softmax_rows(np.moveaxis(scores, -2, -1)), -1, -2)  # over axis -2
    return weights @ v, weights


def _scale_multiplied(q, k, v):
    return _scaled(q, k, v, np.sqrt(q.shape[-1]))


def _scale_package(q, k, v):
    return scaled_dot_product_attention(q, k, v)


def _scale_first_head_only(q, k, v):
    out, weights = fix_head_scale_solution(q[:1], k[:1], v[:1])
    return np.repeat(out, q.shape[0], axis=0), np.repeat(weights, q.shape[0], axis=0)


_rng = case_rng("fix_head_scale")

register(
    Exercise(
        name="fix_head_scale",
        notebook=NOTEBOOK,
        title="Scale by `sqrt(head_dim)` inside multi-head attention",
        reference=fix_head_scale_solution,
        stub="heads_attention",
        forbidden=(scaled_dot_product_attention, multi_head_attention, chunked_attention),
        returns=("output", "weights"),
        cases=[
            Case(
                (
                    _rng.normal(size=(4, 5, 8)),
                    _rng.normal(size=(4, 5, 8)),
                    _rng.normal(size=(4, 5, 8)),
                ),
                description="`q`, `k`, `v` of shape (`num_heads=4`, `seq_len=5`, `head_dim=8`)",
            ),
            Case(
                (
                    _rng.normal(size=(2, 3, 2)),
                    _rng.normal(size=(2, 3, 2)),
                    _rng.normal(size=(2, 3, 2)),
                ),
                description="`q`, `k`, `v` of shape (`num_heads=2`, `seq_len=3`, `head_dim=2`)",
            ),
        ],
        mistakes=[
            Mistake(
                "sqrt(d_model)",
                _scale_d_model,
                "your weights are too flat: you divided the scores by `sqrt(d_model)` = "
                "`sqrt(num_heads * head_dim)`. Each head's dot products sum `head_dim` terms, so "
                "divide by `sqrt(head_dim)`, the last axis of `q`.",
            ),
            Mistake(
                "no scaling",
                _scale_none,
                "your weights are too peaked: the scores are not scaled at all. Divide them by "
                "`sqrt(head_dim)`.",
            ),
            Mistake(
                "divided by d_k",
                _scale_d_k_not_sqrt,
                "you divided the scores by `head_dim` itself; the variance argument asks for its "
                "square root, `sqrt(head_dim)`.",
            ),
            Mistake(
                "sqrt(seq_len)",
                _scale_seq_len,
                "you divided by the square root of the number of tokens (axis -2); the scale "
                "depends on the width of each head, `q.shape[-1]`.",
            ),
            Mistake(
                "softmax over the queries",
                _heads_softmax_over_queries,
                "your scale may be right, but your softmax ran over axis -2 (the queries): each "
                "column of weights sums to 1 instead of each row. Normalise over the keys, "
                "`axis=-1`.",
            ),
            Mistake(
                "multiplied by sqrt(head_dim)",
                _scale_multiplied,
                "your weights are far too peaked: you multiplied the scores by `sqrt(head_dim)`. "
                "Divide by it.",
            ),
        ],
        wrong_variants=[
            WrongVariant("first head for every head", _scale_first_head_only),
            WrongVariant(
                "weights transposed", transformed(fix_head_scale_solution, item(1, swap_last))
            ),
            WrongVariant("output float32", transformed(fix_head_scale_solution, item(0, float32))),
            WrongVariant(
                "the package's attention",
                _scale_package,
                says="`attn_helpers.scaled_dot_product_attention`",
            ),
        ],
        hints=[
            "Measure the bug first: `measured_scale(heads_attention_buggy, d_k=8, num_heads=4)` "
            "reads back the factor the function multiplies its scores by.",
            "`q` has shape `(num_heads, seq_len, head_dim)`: the per-head `d_k` is `q.shape[-1]`. "
            "`scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])`.",
        ],
    )
)


def check_fix_head_scale(fn):
    """Check your ``heads_attention(q, k, v) -> (output, weights)``, q of shape (num_heads, seq_len, head_dim)."""
    return check("fix_head_scale", fn)


# =============================================================================== 3. padding NaN


def fix_padding_nan_solution(scores):
    """Softmax over the last axis; -inf gets weight 0 and a row that is all -inf gives zeros."""
    row_max = scores.max(axis=-1, keepdims=True)  # (..., 1); -inf for a fully masked row
    row_max = np.where(np.isneginf(row_max), 0.0, row_max)  # avoid -inf - (-inf) = NaN
    e = np.exp(scores - row_max)  # exp(-inf) = 0 for masked entries
    total = e.sum(axis=-1, keepdims=True)  # 0 for a fully masked row
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _softmax_naive_max(scores):
    with np.errstate(invalid="ignore"):
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def _softmax_fill_1e9(scores):
    return _softmax_rows(np.where(np.isneginf(scores), -1e9, scores))


def _softmax_no_max(scores):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores)
        total = e.sum(axis=-1, keepdims=True)
        return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _softmax_global_max(scores):
    finite = scores[np.isfinite(scores)]
    top = finite.max() if finite.size else 0.0  # one max for the whole array, not one per row
    with np.errstate(under="ignore"):
        e = np.exp(scores - top)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _softmax_axis0(scores):
    return np.moveaxis(_softmax_rows(np.moveaxis(scores, -2, -1)), -1, -2)


def _softmax_whole_batch(scores):
    weights = fix_padding_nan_solution(scores)
    return weights / weights.sum()  # normalised over everything: only the grand total is 1


def _softmax_package(scores):
    return softmax(scores)


def _softmax_masked_rows_one(scores):
    weights = fix_padding_nan_solution(scores)
    empty = np.isneginf(scores).all(axis=-1)
    weights[empty] = 1.0 / scores.shape[-1]  # uniform instead of zeros
    return weights


_NEG = -np.inf
register(
    Exercise(
        name="fix_padding_nan",
        notebook=NOTEBOOK,
        title="A softmax that survives a fully masked row",
        reference=fix_padding_nan_solution,
        stub="safe_softmax",
        forbidden=(softmax, scaled_dot_product_attention, multi_head_attention, chunked_attention),
        cases=[
            Case(
                (
                    np.array(
                        [[1.0, 2.0, _NEG, 0.5], [_NEG, _NEG, _NEG, _NEG], [0.0, _NEG, 3.0, 1.0]]
                    ),
                ),
                description="scores (3, 4) whose second row is all -inf (a padding query)",
            ),
            Case(
                (
                    np.array(
                        [
                            [[0.3, _NEG, -1.0], [_NEG, _NEG, _NEG]],
                            [[2.0, 1.0, 0.0], [_NEG, 4.0, _NEG]],
                        ]
                    ),
                ),
                description="a batch of scores (2, 2, 3) with one fully masked row",
            ),
            Case(
                (np.array([[1000.0, 999.0, _NEG], [_NEG, _NEG, _NEG]]),),
                description="large scores (2, 3): 1000 and 999, plus a fully masked row",
            ),
            Case(
                (np.array([[1000.0, 999.0], [0.0, -1.0]]),),
                description="rows of very different scale (2, 2): [1000, 999] and [0, -1]",
            ),
        ],
        mistakes=[
            Mistake(
                "NaN for the fully masked row",
                _softmax_naive_max,
                "the fully masked row came out as NaN: its max is `-inf`, and `-inf - (-inf)` is "
                "NaN. Replace a `-inf` row max by 0 before subtracting, and divide only where the "
                "row total is positive.",
            ),
            Mistake(
                "-1e9 instead of -inf",
                _softmax_fill_1e9,
                "the fully masked row got uniform weights, as if the padding query could look at "
                "every padding key: replacing `-inf` by `-1e9` makes all its scores equal. (In "
                "float16 `-1e9` even overflows back to `-inf`.) Such a row must be all zeros.",
            ),
            Mistake(
                "no max subtraction",
                _softmax_no_max,
                "`exp` overflowed on large scores (`exp(1000) = inf`): subtract each row's max "
                "before `exp` (a `-inf` max replaced by 0).",
            ),
            Mistake(
                "one global max",
                _softmax_global_max,
                "the row `[0, -1]` came out as all zeros: you subtracted one max for the whole "
                "array (1000), so `exp(0 - 1000)` underflowed to 0 in that row. Subtract each "
                "row's own max, `scores.max(axis=-1, keepdims=True)`.",
            ),
            Mistake(
                "wrong axis",
                _softmax_axis0,
                "your weights are normalised over axis -2 (the queries); normalise each row over "
                "the keys, `axis=-1`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("normalised over the whole array", _softmax_whole_batch),
            WrongVariant("fully masked rows uniform", _softmax_masked_rows_one, says="uniform"),
            WrongVariant("float32", transformed(fix_padding_nan_solution, float32)),
            WrongVariant("the package's softmax", _softmax_package, says="`attn_helpers.softmax`"),
        ],
        hints=[
            "Find the NaN first: `find_nan(weights=naive_softmax(scores))` names the row. Which "
            "step produces it: the subtraction, the `exp` or the division?",
            "`row_max = np.where(np.isneginf(row_max), 0.0, row_max)`; then "
            "`e = np.exp(scores - row_max)` and "
            "`np.divide(e, total, out=np.zeros_like(e), where=total > 0)`.",
        ],
    )
)


def check_fix_padding_nan(fn):
    """Check your ``safe_softmax(scores) -> weights``: rows that are all -inf must give zeros."""
    return check("fix_padding_nan", fn)
