"""Detectors for the classic attention bugs: run one on a suspect function and read the verdict.

Each detector returns a :class:`Diagnosis`: truthy when the check passes, with a one-line message
that says what was measured, and for a failure where it went wrong and what usually causes it.

==============================  =========================================  ===========================
detector                        catches                                    how
==============================  =========================================  ===========================
:func:`causality_leak`          inverted causal mask, mask after softmax   change later tokens, see
                                                                           if earlier outputs move
:func:`rows_sum_to_one`         softmax over the wrong axis, mask after    sum every row of weights
                                softmax, NaN rows
:func:`heads_loop_vs_batched`   reshape without transpose in split_heads   compare with a plain loop
                                                                           that slices each head
:func:`measured_scale`          scaling by sqrt(d_model) instead of        read the scale back from
                                sqrt(d_k), no scaling                      two keys' weights
:func:`find_nan`                fully masked rows, -1e9 fill in float16    look for NaN and inf
==============================  =========================================  ===========================

The functions under test use the course's signatures: ``attention(q, k, v, mask=None)``
returning ``(output, weights)`` (or just ``output``), and ``split_heads(x, num_heads)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, check_heads, check_mask, check_positive_int, shape_str
from .core import causal_mask

__all__ = [
    "Diagnosis",
    "causality_leak",
    "find_nan",
    "heads_loop_vs_batched",
    "measured_scale",
    "rows_sum_to_one",
]


@dataclass(frozen=True)
class Diagnosis:
    """The verdict of one detector: truthy when the check passes.

    Attributes
    ----------
    check : str
        Which detector ran, e.g. ``"causality"``.
    ok : bool
        True when no problem was found.
    message : str
        What was measured; for a failure, where it went wrong and the usual cause.
    """

    check: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} [{self.check}] {self.message}"

    def __repr__(self) -> str:
        return str(self)


def _split_result(result, fn_name: str):
    """``(output, weights)`` from a function that returns either that tuple or just the output."""
    if isinstance(result, tuple):
        if len(result) != 2:
            raise TypeError(
                f"{fn_name} returned a tuple of {len(result)} items; expected output or "
                "(output, weights)."
            )
        return np.asarray(result[0]), (None if result[1] is None else np.asarray(result[1]))
    return np.asarray(result), None


def _name(fn) -> str:
    return getattr(fn, "__name__", repr(fn))


class _BadResult(Exception):
    """The suspect did not return a finite array of the expected shape (message says how)."""


def _checked_result(result, fn_name: str, output_shape: tuple):
    """``(output, weights)`` after checking that the suspect returned a finite ``output`` of
    ``output_shape`` (weights, if returned, are left to the detector); raises ``_BadResult``."""
    if result is None:
        raise _BadResult(
            f"{fn_name} returned None instead of an output of shape {shape_str(output_shape)}: "
            "is its `return` line missing?"
        )
    try:
        output, weights = _split_result(result, fn_name)
    except TypeError as err:
        raise _BadResult(str(err)) from None
    if output.dtype == object or output.dtype.kind not in "biuf":
        raise _BadResult(
            f"{fn_name} returned {type(result).__name__} with dtype {output.dtype}, not a numeric "
            f"array of shape {shape_str(output_shape)}."
        )
    if output.shape != tuple(output_shape):
        raise _BadResult(
            f"{fn_name} returned an output of shape {shape_str(output.shape)}; expected "
            f"{shape_str(output_shape)} (one row of d_v values per query)."
        )
    bad = ~np.isfinite(output.astype(float))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _BadResult(
            f"{fn_name} returned an output with {int(bad.sum())} non-finite entries "
            f"({output[idx]} at {idx}), so the check cannot measure anything. Usually a fully "
            "masked row or an overflow; see find_nan."
        )
    if weights is not None and (weights.dtype == object or weights.dtype.kind not in "biuf"):
        weights = None  # not weights we can read: judge the output alone
    return output, weights


def causality_leak(attention_fn: Callable, *, seq_len=6, d_k=4, seed=0, atol=1e-9) -> Diagnosis:
    """Check that ``attention_fn`` with a causal mask never lets a token see later tokens.

    For every position ``p``, the tokens from ``p`` on are replaced by new random ones (their
    q, k and v all change). With a correct causal mask the outputs of tokens ``0 ... p-1`` cannot
    change: they may only look at themselves and earlier tokens.

    Parameters
    ----------
    attention_fn : callable
        ``attention_fn(q, k, v, mask=mask)`` returning ``output`` or ``(output, weights)``, with
        ``mask = causal_mask(seq_len)`` (True = may attend).
    seq_len, d_k : int
        Size of the random test sequence (q, k and v all have shape ``(seq_len, d_k)``).
    seed : int
        Seed of the random tokens.
    atol : float
        How much an earlier output may move (rounding) before it counts as a leak.

    Returns
    -------
    Diagnosis
        Fails naming the first earlier token whose output changed and by how much.
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    d_k = check_positive_int(d_k, "d_k")
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2 to have a future to leak; got {seq_len}.")
    rng = np.random.default_rng(seed)
    mask = causal_mask(seq_len)
    x = rng.normal(size=(3, seq_len, d_k))  # q, k, v
    name = _name(attention_fn)
    result = attention_fn(x[0], x[1], x[2], mask=mask)
    if isinstance(result, tuple) and len(result) == 2 and result[1] is not None:
        weights = np.asarray(result[1])
        if weights.dtype.kind not in "biuf":
            weights = None
    else:
        weights = None
    if weights is not None and weights.shape == (seq_len, seq_len):
        # NaN counts as weight: a NaN on a future key means the future was not cleanly blocked.
        leaky = (np.nan_to_num(np.abs(weights), nan=1.0) > atol) & ~mask
        if leaky.any():
            i, j = (int(a) for a in np.argwhere(leaky)[0])
            return Diagnosis(
                "causality",
                False,
                f"token {i} gives weight {weights[i, j]:.3g} to the later token {j}: the mask lets "
                "queries see the future. Is the mask inverted (True meaning 'block' where the "
                "course means 'may attend')?",
            )
    try:
        base, _ = _checked_result(result, name, (seq_len, d_k))
    except _BadResult as err:
        return Diagnosis("causality", False, f"could not check causality: {err}")
    for p in range(1, seq_len):
        y = x.copy()
        y[:, p:] = rng.normal(size=(3, seq_len - p, d_k))  # new tokens from position p on
        try:
            out, _ = _checked_result(attention_fn(y[0], y[1], y[2], mask=mask), name, base.shape)
        except _BadResult as err:
            return Diagnosis(
                "causality",
                False,
                f"could not check causality: after changing tokens {p}..{seq_len - 1}, {err}",
            )
        change = np.abs(np.nan_to_num(out[:p] - base[:p], nan=np.inf)).max(axis=-1)
        if (change > atol).any():
            i = int(np.argmax(change > atol))
            return Diagnosis(
                "causality",
                False,
                f"changing tokens {p}..{seq_len - 1} changed the output of the earlier token {i} "
                f"(by up to {change[i]:.3g}): information leaks from the future. Usual causes: "
                "an inverted mask, or the mask applied after the softmax (the future keys still "
                "enter the softmax's denominator).",
            )
    return Diagnosis(
        "causality",
        True,
        f"changing later tokens never moved an earlier output (seq_len={seq_len}, {seq_len - 1} "
        "perturbations).",
    )


def rows_sum_to_one(weights, *, mask=None, atol=1e-6) -> Diagnosis:
    """Check that every row of attention ``weights`` is a probability distribution over the keys.

    Parameters
    ----------
    weights : array_like of shape (..., seq_len_q, seq_len_k)
        Attention weights, one row per query.
    mask : array_like of bool, broadcastable to ``weights.shape``, optional
        If given, rows whose keys are all masked must sum to 0 (the course's convention: a query
        that may see nothing gets zero weights, never NaN), and masked keys must get 0.
    atol : float
        Tolerance on each row sum.

    Returns
    -------
    Diagnosis
        Fails on NaN, negative weights, weight on masked keys, or a row that does not sum to 1,
        and says when the *columns* sum to 1 instead (softmax over the wrong axis).
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim < 2:
        raise ValueError(
            f"weights must have shape (..., seq_len_q, seq_len_k); got weights.shape="
            f"{shape_str(w.shape)}."
        )
    if np.isnan(w).any():
        rows = np.argwhere(np.isnan(w).any(axis=-1))
        return Diagnosis(
            "rows sum to 1",
            False,
            f"{len(rows)} row(s) of the weights contain NaN, the first is row "
            f"{tuple(int(i) for i in rows[0])}. Usually a query whose keys are all masked "
            "(exp(-inf - -inf) = NaN); see find_nan.",
        )
    if (w < -atol).any():
        idx = tuple(int(i) for i in np.argwhere(w < -atol)[0])
        return Diagnosis(
            "rows sum to 1",
            False,
            f"weight {w[idx]:.3g} at {idx} is negative; softmax weights are never negative.",
        )
    expected = np.ones(w.shape[:-1])
    if mask is not None:
        # Like the core: only a boolean mask (True = may attend). Converting a float (additive)
        # mask with astype(bool) would read 0 = keep as "blocked" and -inf as "may attend".
        m = np.broadcast_to(check_mask(mask, "mask", w.shape), w.shape)
        if (np.abs(w[~m]) > atol).any():
            idx = tuple(int(i) for i in np.argwhere((np.abs(w) > atol) & ~m)[0])
            return Diagnosis(
                "rows sum to 1",
                False,
                f"the masked key at {idx} gets weight {w[idx]:.3g}; masked keys must get 0. "
                "Is the mask inverted, or applied after the softmax?",
            )
        expected = m.any(axis=-1).astype(float)
    sums = w.sum(axis=-1)
    bad = np.abs(sums - expected) > atol
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        hint = ""
        if w.shape[-1] == w.shape[-2] and np.allclose(w.sum(axis=-2), 1.0, atol=atol):
            hint = (
                " The columns sum to 1 instead: the softmax ran over the queries (axis -2). "
                "Normalise over the keys, axis=-1."
            )
        elif (sums[bad] < expected[bad]).all():
            hint = (
                " Every failing row sums to less than it should: were weights zeroed after "
                "the softmax? Mask the scores with -inf before it."
            )
        return Diagnosis(
            "rows sum to 1",
            False,
            f"{int(bad.sum())} of {bad.size} rows do not sum to {expected[idx]:g}; row {idx} sums "
            f"to {sums[idx]:.6g}.{hint}",
        )
    n_empty = int((expected == 0).sum())
    return Diagnosis(
        "rows sum to 1",
        True,
        f"all {sums.size} rows are distributions over the keys"
        + (f" ({n_empty} fully masked rows are all zeros)." if n_empty else "."),
    )


def heads_loop_vs_batched(
    split_heads_fn: Callable, *, seq_len=5, d_model=8, num_heads=2, seed=0
) -> Diagnosis:
    """Check a ``split_heads(x, num_heads)`` against the obvious loop over heads.

    Head ``h`` must hold feature columns ``h * head_dim ... (h + 1) * head_dim - 1`` of *every*
    token. The loop builds that with slices, one head at a time; the batched function must
    return the same ``(num_heads, seq_len, head_dim)`` array.

    Parameters
    ----------
    split_heads_fn : callable
        ``split_heads_fn(x, num_heads)`` with ``x`` of shape ``(seq_len, d_model)``.
    seq_len, d_model, num_heads : int
        Size of the random test input; ``d_model`` must be divisible by ``num_heads``.
    seed : int
        Seed of the random input.

    Returns
    -------
    Diagnosis
        Fails naming the first head and token whose features differ, and recognises a reshape
        without a transpose (tokens mixed between heads).
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    d_model = check_positive_int(d_model, "d_model")
    num_heads = check_positive_int(num_heads, "num_heads")
    head_dim = check_heads(d_model, num_heads)
    x = np.random.default_rng(seed).normal(size=(seq_len, d_model))
    loop = np.stack([x[:, h * head_dim : (h + 1) * head_dim] for h in range(num_heads)])
    batched = np.asarray(split_heads_fn(x.copy(), num_heads))
    if batched.shape != loop.shape:
        return Diagnosis(
            "heads",
            False,
            f"split_heads returned shape {shape_str(batched.shape)}; the loop over heads gives "
            f"(num_heads, seq_len, head_dim) = {shape_str(loop.shape)}.",
        )
    if np.allclose(batched, loop):
        return Diagnosis(
            "heads",
            True,
            f"matches the loop over {num_heads} heads (seq_len={seq_len}, head_dim={head_dim}).",
        )
    h, t = (int(i) for i in np.argwhere(~np.isclose(batched, loop).all(axis=-1))[0])
    cause = ""
    if np.allclose(batched, x.reshape(num_heads, seq_len, head_dim)):
        cause = (
            " It equals x.reshape(num_heads, seq_len, head_dim): a reshape without the transpose "
            "cuts the flat array in order, so a head receives features of several tokens. "
            "Reshape to (seq_len, num_heads, head_dim), then swap the first two axes."
        )
    return Diagnosis(
        "heads",
        False,
        f"head {h}, token {t} differs from the loop (which takes columns {h * head_dim}..."
        f"{(h + 1) * head_dim - 1} of token {t}).{cause}",
    )


def measured_scale(attention_fn: Callable, *, d_k=16, num_heads=1) -> Diagnosis:
    """Read back the factor ``attention_fn`` multiplies its scores by, and compare with 1/sqrt(d_k).

    One query and two keys are built so that their scores differ by exactly 1 before scaling;
    the weights then satisfy ``log(w_0 / w_1) = scale``. With ``num_heads > 1`` the inputs get a
    leading heads axis, ``(num_heads, seq_len, d_k)``, as inside multi-head attention, where
    ``d_k`` is the per-head width (``head_dim``), not ``d_model = num_heads * d_k``.

    Parameters
    ----------
    attention_fn : callable
        ``attention_fn(q, k, v)`` returning ``output`` or ``(output, weights)``.
    d_k : int
        The key width (per head).
    num_heads : int
        Number of heads (a leading axis of q, k and v).

    Returns
    -------
    Diagnosis
        Fails when the scale is not 1/sqrt(d_k), naming what it matches (1/sqrt(d_model), 1, ...).
    """
    d_k = check_positive_int(d_k, "d_k")
    num_heads = check_positive_int(num_heads, "num_heads")
    q = np.zeros((1, d_k))
    q[0, 0] = 1.0
    k = np.zeros((2, d_k))
    k[0, 0] = 1.0  # score 1 (before scaling); key 1 scores 0
    v = np.eye(2, d_k)  # output = the weights in the first two columns
    if num_heads > 1:
        q, k, v = (np.broadcast_to(a, (num_heads, *a.shape)).copy() for a in (q, k, v))
    name = _name(attention_fn)
    try:
        output, weights = _checked_result(attention_fn(q, k, v), name, v.shape[:-2] + (1, d_k))
    except _BadResult as err:
        return Diagnosis("scale", False, f"could not read the scale back: {err}")
    expected_w = v.shape[:-2] + (1, 2)
    if weights is not None and weights.shape != expected_w:
        return Diagnosis(
            "scale",
            False,
            f"could not read the scale back: {name} returned weights of shape "
            f"{shape_str(weights.shape)}; expected {shape_str(expected_w)} (one query, two keys).",
        )
    w = weights if weights is not None else output[..., :2]
    w = np.asarray(w, dtype=float).reshape(-1, 2)[0]
    if not np.all(np.isfinite(w)) or w.min() <= 0:
        return Diagnosis(
            "scale",
            False,
            f"could not read the scale back: the weights of the two keys are {w}; both must be "
            "finite and positive (a softmax never gives exactly 0 to an unmasked key).",
        )
    scale = float(np.log(w[0] / w[1]))
    expected = 1.0 / math.sqrt(d_k)
    if math.isclose(scale, expected, rel_tol=1e-4):
        return Diagnosis(
            "scale", True, f"scores are multiplied by {scale:.4g} = 1/sqrt(d_k={d_k})."
        )
    d_model = num_heads * d_k
    known = {
        f"1/sqrt(d_model={d_model}), the model width instead of the per-head width": 1
        / math.sqrt(d_model),
        "1: the scores are not scaled at all": 1.0,
        f"1/d_k = 1/{d_k}: divided by d_k instead of its square root": 1.0 / d_k,
    }
    cause = next(
        (what for what, value in known.items() if math.isclose(scale, value, rel_tol=1e-4)), None
    )
    return Diagnosis(
        "scale",
        False,
        f"scores are multiplied by {scale:.4g}, expected 1/sqrt(d_k) = {expected:.4g} for d_k={d_k}"
        + (f"; it matches {cause}." if cause else "."),
    )


def find_nan(**arrays) -> Diagnosis:
    """Look for NaN and inf in named arrays: ``find_nan(output=output, weights=weights)``.

    Returns
    -------
    Diagnosis
        Fails naming the first array with NaN or inf, how many rows are affected and the first
        one; entirely NaN rows are almost always queries whose keys are all masked.
    """
    if not arrays:
        raise TypeError("find_nan needs at least one named array, e.g. find_nan(output=output).")
    for name, value in arrays.items():
        a = np.asarray(value)
        if a.dtype.kind not in "fc":
            as_float_array(a, name)  # raises a teaching error for non-numeric input
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            kind = "NaN" if np.isnan(a).any() else "inf"
            if a.ndim >= 2:
                bad_rows = bad.any(axis=-1)
                full_rows = bad.all(axis=-1)
                first = tuple(int(i) for i in np.argwhere(bad_rows)[0])
                detail = (
                    f"{int(bad_rows.sum())} of {bad_rows.size} rows have {kind}, the first is row "
                    f"{first}"
                    + (
                        f"; {int(full_rows.sum())} rows are entirely {kind}, the signature of "
                        "queries whose keys are all masked (exp(-inf - -inf) = NaN)"
                        + (
                            ", or of a fill value like -1e9 that overflows to -inf in float16 "
                            "(its largest number is 65504)."
                            if a.dtype == np.float16
                            else "."
                        )
                        if full_rows.any()
                        else "."
                    )
                )
            else:
                detail = f"{int(bad.sum())} of {a.size} entries are {kind}."
            return Diagnosis("NaN", False, f"{name} (dtype {a.dtype}) contains {kind}: {detail}")
    names = ", ".join(arrays)
    return Diagnosis("NaN", True, f"no NaN or inf in {names}.")
