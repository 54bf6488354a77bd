"""Exercise checkers for notebook 02 (softmax weighting).

Learner-facing signatures (what the notebook's stubs look like):

- 02: ``my_softmax(x, axis=-1) -> weights``, ``softmax_temperature(x, temperature) -> weights``,
  ``softmax_jacobian(weights) -> jacobian``, ``attention(q, k, v, mask=None) -> (output, weights)``.

The notebook asks for numpy only, not the package's ``softmax``: each exercise forbids it (and
the package's attention functions). Each exercise lists the common mistakes it recognises and
the wrong variants it must reject; ``tests/test_exercises_variants.py`` runs them all.
"""

from __future__ import annotations

import numpy as np

from ..chunked import chunked_attention
from ..core import multi_head_attention, scaled_dot_product_attention, softmax
from ._common import absolute, float32, item, negated, normal, swap_last
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = [
    "check_attention",
    "check_softmax",
    "check_softmax_jacobian",
    "check_softmax_temperature",
]

_FORBIDDEN = (softmax, scaled_dot_product_attention, multi_head_attention, chunked_attention)


# =============================================================================== notebook 02


# ----------------------------------------------------------------------------- softmax


def softmax_solution(x, axis=-1):
    """Numerically stable softmax along ``axis``."""
    x = np.asarray(x, dtype=float)
    z = x - x.max(axis=axis, keepdims=True)  # the largest entry becomes 0: exp(z) <= 1
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_wrong_axis(x, axis=-1):
    return softmax_solution(x, axis=0)


def _softmax_naive(x, axis=-1):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.asarray(x, dtype=float))
        return e / e.sum(axis=axis, keepdims=True)


def _softmax_global(x, axis=-1):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max())
    return e / e.sum()


def _softmax_global_max(x, axis=-1):
    x = np.asarray(x, dtype=float)
    with np.errstate(under="ignore", invalid="ignore"):
        e = np.exp(x - x.max())  # one max for the whole array: small rows underflow to 0 / 0
        return e / e.sum(axis=axis, keepdims=True)


def _softmax_max_only(x, axis=-1):
    x = np.asarray(x, dtype=float)
    return np.exp(x - x.max(axis=axis, keepdims=True))  # not normalised


def _softmax_min_subtracted(x, axis=-1):
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x - x.min(axis=axis, keepdims=True))  # the min: the largest entry can overflow
        return e / e.sum(axis=axis, keepdims=True)


def _softmax_negated(x, axis=-1):
    return softmax_solution(-np.asarray(x, dtype=float), axis)  # favours the smallest score


def _softmax_abs_scores(x, axis=-1):
    return softmax_solution(np.abs(x), axis)


def _softmax_last_axis_always(x, axis=-1):
    return softmax_solution(x, -1)  # ignores the axis argument


def _softmax_package(x, axis=-1):
    return softmax(x, axis=axis)


register(
    Exercise(
        name="softmax",
        notebook="02_softmax_weighting",
        title="A numerically stable softmax",
        reference=softmax_solution,
        stub="my_softmax",
        forbidden=_FORBIDDEN,
        cases=[
            Case((np.array([1.0, 2.0, 3.0]),), description="a vector of three scores"),
            Case(
                (np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 3.0]]),),
                description="a (2, 3) matrix of scores, one row per query",
            ),
            Case(
                (np.array([1000.0, 1001.0, 1002.0]),),
                description="large scores `[1000, 1001, 1002]`",
            ),
            Case(
                (np.array([[0.0, 5.0], [2.0, 1.0], [-3.0, 0.5]]),),
                {"axis": 0},
                description="a (3, 2) matrix with `axis=0`",
            ),
            Case(
                (np.array([[0.0, 1.0], [1000.0, 1001.0]]),),
                description="a (2, 2) matrix whose rows have very different sizes",
            ),
            Case(
                (np.array([-1000.0, 0.0, 900.0]),),
                description="scores `[-1000, 0, 900]`, far apart",
            ),
        ],
        mistakes=[
            Mistake(
                "wrong axis",
                _softmax_wrong_axis,
                "you normalised over the first axis (down the columns). Use the `axis` argument; "
                "by default `axis=-1`, so each row (one query's scores) sums to 1.",
            ),
            Mistake(
                "no max subtraction",
                _softmax_naive,
                "you got NaN: `exp(1000)` overflows to `inf` and `inf / inf` is NaN. Subtract the "
                "maximum along the axis before `exp`; softmax does not change when you shift all "
                "scores by the same amount.",
            ),
            Mistake(
                "normalised over everything",
                _softmax_global,
                "you divided by the sum over the whole array, so only the grand total is 1. "
                "Sum along the axis only, with `keepdims=True` so the division broadcasts.",
            ),
            Mistake(
                "max of the whole array",
                _softmax_global_max,
                "you got NaN in a row whose scores are all far below the array's overall maximum: "
                "subtracting that one maximum makes every `exp` in the row underflow to 0, and "
                "`0 / 0` is NaN. Subtract each row's own maximum: "
                "`x.max(axis=axis, keepdims=True)`.",
            ),
            Mistake(
                "not normalised",
                _softmax_max_only,
                "your weights do not sum to 1: after `exp`, divide by the sum along the axis.",
            ),
            Mistake(
                "min subtracted",
                _softmax_min_subtracted,
                "you got NaN on scores far apart: you subtracted the minimum, so the largest score "
                "still overflows `exp`. Subtract the maximum: then every exponent is at most 0.",
            ),
            Mistake(
                "axis ignored",
                _softmax_last_axis_always,
                "your function ignores its `axis` argument: with `axis=0` each column must sum "
                "to 1. Pass `axis` on to `max` and `sum`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("negated scores", _softmax_negated),
            WrongVariant("abs of the scores", _softmax_abs_scores),
            WrongVariant("transposed result", transformed(softmax_solution, swap_last)),
            WrongVariant("float32", transformed(softmax_solution, float32), says="float32"),
            WrongVariant(
                "the package's softmax",
                _softmax_package,
                says="calls the package's `attn_helpers.softmax`",
            ),
        ],
        hints=[
            "`softmax(x)_i = exp(x_i) / sum_j exp(x_j)`, along one axis. Shifting `x` by a "
            "constant does not change the result.",
            "`z = x - x.max(axis=axis, keepdims=True)`; `e = np.exp(z)`; "
            "`return e / e.sum(axis=axis, keepdims=True)`.",
        ],
    )
)


def check_softmax(fn):
    """Check your ``my_softmax(x, axis=-1)``: stable, and normalised along ``axis``."""
    return check("softmax", fn)


# ----------------------------------------------------------------------------- softmax_temperature


def softmax_temperature_solution(x, temperature):
    """Softmax of ``x / temperature`` along the last axis: low temperature sharpens, high flattens."""
    z = np.asarray(x, dtype=float) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _temperature_multiplied(x, temperature):
    return softmax_solution(np.asarray(x, dtype=float) * temperature)


def _temperature_after_softmax(x, temperature):
    return softmax_temperature_solution(x, 1.0) / temperature


def _temperature_ignored(x, temperature):
    return softmax_temperature_solution(x, 1.0)


def _temperature_naive_exp(x, temperature):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.asarray(x, dtype=float) / temperature)
        return e / e.sum(axis=-1, keepdims=True)


def _temperature_squared(x, temperature):
    return softmax_solution(np.asarray(x, dtype=float) / temperature**2)


def _temperature_over_first_axis(x, temperature):
    return softmax_solution(np.asarray(x, dtype=float) / temperature, axis=0)


def _temperature_package(x, temperature):
    return softmax(x, temperature=temperature)


register(
    Exercise(
        name="softmax_temperature",
        notebook="02_softmax_weighting",
        title="Softmax with a temperature",
        reference=softmax_temperature_solution,
        forbidden=_FORBIDDEN,
        cases=[
            Case(
                (np.array([1.0, 2.0, 3.0]), 1.0),
                description="scores `[1, 2, 3]` at temperature 1",
            ),
            Case(
                (np.array([1.0, 2.0, 3.0]), 0.5),
                description="scores `[1, 2, 3]` at temperature 0.5",
            ),
            Case(
                (np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 4.0]]), 4.0),
                description="a (2, 3) matrix of scores at temperature 4",
            ),
            Case(
                (np.array([10.0, 0.0]), 0.01),
                description="scores `[10, 0]` at temperature 0.01",
            ),
        ],
        mistakes=[
            Mistake(
                "multiplied",
                _temperature_multiplied,
                "your low temperature flattened the weights instead of sharpening them: you "
                "multiplied the scores by the temperature. Divide by it.",
            ),
            Mistake(
                "applied after softmax",
                _temperature_after_softmax,
                "your weights no longer sum to 1: you divided the weights, after the softmax. "
                "The temperature divides the scores, before the softmax.",
            ),
            Mistake(
                "temperature ignored",
                _temperature_ignored,
                "the temperature had no effect: at temperature 0.5 your weights equal those at "
                "temperature 1. Divide the scores by it before the softmax.",
            ),
            Mistake(
                "no max subtraction",
                _temperature_naive_exp,
                "you got NaN: at temperature 0.01 the score 10 becomes 1000, `np.exp(1000)` "
                "overflows to `inf`, and `inf / inf` is NaN. After dividing by the temperature, "
                "subtract the row's maximum before `np.exp`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("divided by the temperature squared", _temperature_squared),
            WrongVariant("softmax over the first axis", _temperature_over_first_axis),
            WrongVariant("float32", transformed(softmax_temperature_solution, float32)),
            WrongVariant(
                "the package's softmax",
                _temperature_package,
                says="calls the package's `attn_helpers.softmax`",
            ),
        ],
        hints=[
            "Temperature `T` rescales the scores before the softmax: `softmax(x / T)`. `T < 1` "
            "sharpens, `T > 1` flattens.",
            "Divide first, then subtract the max (so a tiny `T` cannot overflow `exp`), then "
            "normalise along `axis=-1`.",
        ],
    )
)


def check_softmax_temperature(fn):
    """Check your ``softmax_temperature(x, temperature)`` (softmax over the last axis)."""
    return check("softmax_temperature", fn)


# ----------------------------------------------------------------------------- softmax_jacobian


def softmax_jacobian_solution(weights):
    """d weights_i / d scores_j = weights_i * (delta_ij - weights_j) for one softmax row."""
    w = np.asarray(weights, dtype=float)  # (n,)
    return np.diag(w) - np.outer(w, w)  # (n, n)


def _jacobian_no_diag(weights):
    return -np.outer(weights, weights)


def _jacobian_diag_only(weights):
    return np.diag(weights)


def _jacobian_plus(weights):
    return np.diag(weights) + np.outer(weights, weights)


def _jacobian_diag_one_minus(weights):
    return np.diag(weights * (1.0 - weights))


def _jacobian_sign_flipped(weights):
    return np.outer(weights, weights) - np.diag(weights)


def _jacobian_identity_minus(weights):
    return np.eye(len(weights)) - np.outer(weights, weights)  # delta_ij - w_i w_j: w_i missing


def _jacobian_row_scaled(weights):
    w = np.asarray(weights, dtype=float)
    return (np.eye(len(w)) - w[None, :]) * w[None, :]  # w_j (delta_ij - w_j): scaled by w_j


register(
    Exercise(
        name="softmax_jacobian",
        notebook="02_softmax_weighting",
        title="The softmax Jacobian",
        reference=softmax_jacobian_solution,
        forbidden=_FORBIDDEN,
        cases=[
            Case((np.array([0.5, 0.5]),), description="weights `[0.5, 0.5]`"),
            Case((np.array([0.2, 0.3, 0.5]),), description="weights `[0.2, 0.3, 0.5]`"),
            Case((np.array([1.0, 0.0, 0.0, 0.0]),), description="one-hot weights (saturated)"),
        ],
        mistakes=[
            Mistake(
                "off-diagonal only",
                _jacobian_no_diag,
                "your diagonal misses the weights themselves: `d w_i / d s_i = w_i (1 - w_i)`, so "
                "the Jacobian is `diag(w)` minus the outer product of `w` with itself.",
            ),
            Mistake(
                "diagonal only",
                _jacobian_diag_only,
                "your Jacobian has no off-diagonal entries. Raising one score lowers every other "
                "weight: `d w_i / d s_j = -w_i w_j` for `i != j`.",
            ),
            Mistake(
                "sign of the outer product",
                _jacobian_plus,
                "you added the outer product. Raising score `j` takes weight away from the others, "
                "so the off-diagonal entries are negative: `diag(w) - outer(w, w)`.",
            ),
            Mistake(
                "diagonal w(1 - w) only",
                _jacobian_diag_one_minus,
                "your diagonal `w_i (1 - w_i)` is right, but the off-diagonal entries `-w_i w_j` "
                "are missing.",
            ),
            Mistake(
                "sign flipped",
                _jacobian_sign_flipped,
                "every entry has the wrong sign: you computed `outer(w, w) - diag(w)`. Raising "
                "score `i` raises weight `i`, so the diagonal `d w_i / d s_i` must be positive.",
            ),
        ],
        wrong_variants=[
            WrongVariant("identity minus the outer product", _jacobian_identity_minus),
            WrongVariant("scaled by w_j instead of w_i", _jacobian_row_scaled),
            WrongVariant("abs", transformed(softmax_jacobian_solution, absolute)),
            WrongVariant("float32", transformed(softmax_jacobian_solution, float32)),
        ],
        hints=[
            "Differentiate `w_i = exp(s_i) / sum_k exp(s_k)` with respect to `s_j`, once for "
            "`j == i` and once for `j != i`.",
            "The answer is `w_i (delta_ij - w_j)`: in numpy, `np.diag(w) - np.outer(w, w)`.",
        ],
    )
)


def check_softmax_jacobian(fn):
    """Check your ``softmax_jacobian(weights) -> (n, n)`` for one row of weights of shape (n,)."""
    return check("softmax_jacobian", fn)


# ----------------------------------------------------------------------------- attention


def attention_solution(q, k, v, mask=None):
    """Scaled dot-product attention; ``mask`` is boolean, True = may attend."""
    d_k = q.shape[-1]
    # (..., T_q, d_k) @ (..., d_k, T_k) -> (..., T_q, T_k)
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(d_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)  # blocked keys get weight exactly 0
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)  # each row sums to 1
    return weights @ v, weights  # (..., T_q, T_k) @ (..., T_k, d_v) -> (..., T_q, d_v)


def _attention_with(q, k, v, mask=None, *, scale, axis=-1, mask_after=False, invert=False):
    scores = q @ k.swapaxes(-1, -2) * scale
    if mask is not None and not mask_after:
        keep = ~mask if invert else mask
        scores = np.where(keep, scores, -np.inf)
    weights = softmax_solution(scores, axis=axis)
    if mask is not None and mask_after:
        weights = weights * mask
    return weights @ v, weights


def _attention_wrong_axis(q, k, v, mask=None):
    return _attention_with(q, k, v, mask, scale=1 / np.sqrt(q.shape[-1]), axis=-2)


def _attention_sqrt_d_v(q, k, v, mask=None):
    return _attention_with(q, k, v, mask, scale=1 / np.sqrt(v.shape[-1]))


def _attention_no_scale(q, k, v, mask=None):
    return _attention_with(q, k, v, mask, scale=1.0)


def _attention_d_k(q, k, v, mask=None):
    return _attention_with(q, k, v, mask, scale=1 / q.shape[-1])


def _attention_sqrt_seq_len(q, k, v, mask=None):
    return _attention_with(q, k, v, mask, scale=1 / np.sqrt(k.shape[-2]))


def _attention_mask_after(q, k, v, mask=None):
    return _attention_with(q, k, v, mask, scale=1 / np.sqrt(q.shape[-1]), mask_after=True)


def _attention_mask_inverted(q, k, v, mask=None):
    with np.errstate(invalid="ignore"):  # the diagonal row of an inverted causal mask is empty
        return _attention_with(q, k, v, mask, scale=1 / np.sqrt(q.shape[-1]), invert=True)


def _attention_multiplied_by_sqrt(q, k, v, mask=None):
    return _attention_with(q, k, v, mask, scale=np.sqrt(q.shape[-1]))


def _attention_k_T(q, k, v, mask=None):
    scores = q @ k.T / np.sqrt(q.shape[-1])  # k.T reverses every axis, not only the last two
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax_solution(scores)
    return weights @ v, weights


def _attention_package(q, k, v, mask=None):
    return scaled_dot_product_attention(q, k, v, mask=mask)


def _attention_package_softmax(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ v, weights


def _causal(n):
    return np.tril(np.ones((n, n), dtype=bool))


_PAD = np.array([[True, True, True, False, False]])  # (1, 5): the last two keys are padding
_randn = normal("attention", decimals=3)

register(
    Exercise(
        name="attention",
        notebook="02_softmax_weighting",
        title="Scaled dot-product attention, in five lines",
        reference=attention_solution,
        forbidden=_FORBIDDEN,
        returns=("output", "weights"),
        cases=[
            Case(
                (_randn(3, 4) * 2, _randn(5, 4) * 2, _randn(5, 6)),
                description="`q` (3, 4), `k` (5, 4), `v` (5, 6) without a mask (`d_k=4`, `d_v=6`)",
            ),
            Case(
                (_randn(4, 4), _randn(4, 4), _randn(4, 4)),
                description="`q`, `k`, `v` of shape (4, 4) without a mask",
            ),
            Case(
                (_randn(4, 2), _randn(4, 2), _randn(4, 3)),
                {"mask": _causal(4)},
                description="`q` (4, 2), `k` (4, 2), `v` (4, 3) with a causal mask (4, 4), "
                "True = may attend",
            ),
            Case(
                (_randn(2, 5, 8), _randn(2, 5, 8), _randn(2, 5, 8)),
                {"mask": _PAD},
                description="two heads: `q`, `k`, `v` (2, 5, 8) with a padding mask (1, 5); note "
                "that `k.T` reverses all three axes, `k.swapaxes(-1, -2)` only the last two",
            ),
        ],
        mistakes=[
            Mistake(
                "softmax over the queries",
                _attention_wrong_axis,
                "your weights sum to 1 down each column (over the queries). Each query's row must "
                "sum to 1: take the softmax over the keys, `axis=-1`.",
            ),
            Mistake(
                "scaled by sqrt(d_model)",
                _attention_sqrt_d_v,
                "you scaled by the square root of the value width (`d_v`, often `d_model`). The "
                "scale belongs to the dot product of `q` and `k`: `1 / sqrt(d_k)`, with "
                "`d_k = q.shape[-1]`.",
            ),
            Mistake(
                "no scaling",
                _attention_no_scale,
                "your scores are not scaled. Divide `q @ k.T` by `sqrt(d_k)` "
                "(`d_k = q.shape[-1]`) so the softmax does not saturate when `d_k` is large.",
            ),
            Mistake(
                "scaled by d_k",
                _attention_d_k,
                "you divided by `d_k` itself. Dot products of `d_k` random numbers have a "
                "standard deviation of `sqrt(d_k)`: divide by `np.sqrt(d_k)`.",
            ),
            Mistake(
                "scaled by sqrt(seq_len)",
                _attention_sqrt_seq_len,
                "you scaled by the square root of the number of tokens. The scale depends on the "
                "vectors' width, `d_k = q.shape[-1]`, not on the sequence length.",
            ),
            Mistake(
                "mask applied after softmax",
                _attention_mask_after,
                "you applied the mask after the softmax, so the remaining weights no longer sum "
                "to 1. Mask the scores (set blocked ones to `-np.inf`) before the softmax.",
            ),
            Mistake(
                "mask inverted",
                _attention_mask_inverted,
                "you blocked the keys where the mask is True. In this course True means 'may "
                "attend' (like `np.tril`): keep the scores where `mask` is True.",
            ),
            Mistake(
                "multiplied by sqrt(d_k)",
                _attention_multiplied_by_sqrt,
                "your weights are too peaked: you multiplied the scores by `sqrt(d_k)`. Divide "
                "by it.",
            ),
        ],
        wrong_variants=[
            WrongVariant("k.T on heads", _attention_k_T, says="swapaxes"),
            WrongVariant("weights transposed", transformed(attention_solution, item(1, swap_last))),
            WrongVariant("output negated", transformed(attention_solution, item(0, negated))),
            WrongVariant("output float32", transformed(attention_solution, item(0, float32))),
            WrongVariant(
                "the package's attention",
                _attention_package,
                says="`attn_helpers.scaled_dot_product_attention`",
            ),
            WrongVariant(
                "the package's softmax",
                _attention_package_softmax,
                says="calls the package's `attn_helpers.softmax`",
            ),
        ],
        hints=[
            "Five steps: `scores = q @ k.T`; divide by `sqrt(d_k)`; mask (if any); softmax over "
            "the keys (`axis=-1`); `output = weights @ v`. Return `(output, weights)`.",
            "Use `k.swapaxes(-1, -2)` so extra leading axes (heads) work. For the mask: "
            "`np.where(mask, scores, -np.inf)` before the softmax.",
        ],
    )
)


def check_attention(fn):
    """Check your ``attention(q, k, v, mask=None) -> (output, weights)`` (mask: True = may attend)."""
    return check("attention", fn)
