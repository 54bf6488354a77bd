"""The numpy core of self-attention: softmax, attention, masks, heads and positions.

Conventions used everywhere in the course (stated once, here):

- Row vectors: a sequence is an array of shape ``(seq_len, d_model)`` and a projection is
  ``x @ w`` with ``w`` of shape ``(d_in, d_out)``.
- Leading axes (batch, heads, ...) broadcast, written ``...`` in the shapes below.
- Masks are boolean and **True means "may attend"** (the orientation of ``np.tril``). A query row
  whose keys are all masked gets zero weights and a zero output, never NaN.
- ``scores`` are what comes before the softmax, ``weights`` what comes after.
- float64 by default; float32 inputs stay float32; float16 inputs are computed in float32 and
  returned as float16 (as PyTorch does on CPU). Inputs are never modified.
- NaN and ``inf`` are rejected with an error naming the argument, in every function. The one
  exception is ``-inf`` in what is fed to a softmax (``softmax``'s ``x``, the ``scores`` of the
  diagnostics), where it means "weight exactly zero"; everywhere else (``q``, ``k``, ``v``,
  ``split_heads``/``merge_heads``'s ``x``, every weight and bias) ``-inf`` is an error too: mask
  positions with ``mask=`` instead.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._validation import (
    as_float_array,
    asarray_or_explain,
    check_allocation,
    check_causal_align,
    check_heads,
    check_mask,
    check_ndim_at_least,
    check_no_neg_inf,
    check_positive_int,
    check_qkv,
    check_shape,
    shape_str,
)

__all__ = [
    "causal_mask",
    "check_shape",
    "merge_heads",
    "multi_head_attention",
    "padding_mask",
    "repeat_kv",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
    "sliding_window_mask",
    "softmax",
    "split_heads",
]


def _check_axis(axis, ndim: int, name: str = "axis") -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {axis!r}.")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}={axis} is out of range for an array with {ndim} axes "
            f"(valid: {-ndim} ... {ndim - 1}). Hint: attention normalises over the keys, axis=-1."
        )
    return int(axis)


def _check_positive_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number; got {value!r}.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{name} must be a positive, finite number; got {value}."
            + (
                " Hint: temperature -> 0 means 'argmax'; use a small value like 0.05."
                if name == "temperature"
                else ""
            )
        )
    return float(value)


def _softmax_last_axis_inplace(scores: np.ndarray) -> np.ndarray:
    """Stable softmax over the last axis, overwriting ``scores`` (a private, owned buffer).

    Rows that are entirely ``-inf`` (fully masked) become all zeros.
    """
    row_max = scores.max(axis=-1, keepdims=True)  # (..., T_q, 1)
    if np.isnan(row_max).any() or np.isposinf(row_max).any():
        raise ValueError(
            "the attention scores overflowed to inf or NaN. Hint: q and k have entries so large "
            "that q @ k.T exceeds the float range; normalise your inputs, or use float64."
        )
    row_max[np.isneginf(row_max)] = 0.0  # fully masked rows: keep -inf, avoid -inf - -inf = NaN
    # -1e308 - 1e308 overflows to -inf: its weight is then exactly 0, as it should be.
    with np.errstate(over="ignore"):
        scores -= row_max
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    np.divide(scores, total, out=scores, where=total > 0)
    return scores


def softmax(x, axis=-1, *, temperature=1.0):
    """Numerically stable softmax: ``exp(x / temperature)`` normalised to sum to 1 along ``axis``.

    The maximum is subtracted before ``exp`` so large logits never overflow. ``-inf`` entries get
    weight exactly 0, and a slice that is entirely ``-inf`` returns all zeros (not NaN).

    Parameters
    ----------
    x : array_like of shape (..., n)
        Logits (scores). May contain ``-inf``; NaN and ``+inf`` are errors.
    axis : int, default -1
        The axis to normalise over.
    temperature : float, default 1.0
        Positive. Below 1 sharpens the distribution (towards argmax), above 1 flattens it
        (towards uniform).

    Returns
    -------
    weights : ndarray, same shape as ``x``
        Non-negative, summing to 1 along ``axis`` (0 for all ``-inf`` slices). float32 input stays
        float32; integers become float64.

    Examples
    --------
    >>> softmax([0.0, np.log(3.0)])
    array([0.25, 0.75])
    """
    x = as_float_array(x, "x", min_ndim=1)
    axis = _check_axis(axis, x.ndim)
    temperature = _check_positive_number(temperature, "temperature")
    z = np.moveaxis(x, axis, -1).copy()  # an owned buffer: the input is never modified
    if temperature != 1.0:
        # Subtract the max *before* dividing, so every entry is <= 0 and the max becomes exactly 0.
        m = z.max(axis=-1, keepdims=True)
        m[np.isneginf(m)] = 0.0
        with np.errstate(over="ignore"):
            z -= m
            # Divide in float64 (temperature may be below float32's range, where it would round to
            # 0 and give 0/0 = NaN). Entries that overflow become -inf: weight 0, the argmax limit.
            z = np.divide(z, np.float64(temperature)).astype(x.dtype, copy=False)
    weights = _softmax_last_axis_inplace(z)
    return np.moveaxis(weights, -1, axis)


def scaled_dot_product_attention(q, k, v, *, mask=None, scale=None):
    """Scaled dot-product attention: ``softmax(q @ k.T * scale) @ v``, returning the weights too.

    Parameters
    ----------
    q : array_like of shape (..., seq_len_q, d_k)
        Queries, one row per token that asks.
    k : array_like of shape (..., seq_len_k, d_k)
        Keys, one row per token that can be looked at.
    v : array_like of shape (..., seq_len_k, d_v)
        Values, what each looked-at token hands over.
    mask : array_like of bool, broadcastable to (..., seq_len_q, seq_len_k), optional
        True where the query may attend to the key. A row with no True gets zero weights and a
        zero output.
    scale : float, optional
        Multiplies the scores. Defaults to ``1 / sqrt(d_k)``, which keeps the scores' variance
        near 1 whatever ``d_k`` is.

    Returns
    -------
    output : ndarray of shape (..., seq_len_q, d_v)
        Each query's weighted average of the values.
    weights : ndarray of shape (..., seq_len_q, seq_len_k)
        The attention weights; each row sums to 1 (0 for fully masked rows).

    Examples
    --------
    >>> q = np.array([[1.0, 0.0]]); k = np.array([[1.0, 0.0], [0.0, 1.0]]); v = np.eye(2)
    >>> output, weights = scaled_dot_product_attention(q, k, v, scale=np.log(3.0))
    >>> weights
    array([[0.75, 0.25]])
    """
    q, k, v, lead = check_qkv(q, k, v)
    d_k = q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else _check_positive_number(scale, "scale")
    out_dtype = np.result_type(q, k, v)
    # float16 accumulates in float32 (its 11-bit mantissa loses ~0.3 on outputs of size 30 when
    # summed in float16); the results are rounded back to float16 at the end.
    dtype = np.promote_types(out_dtype, np.float32) if out_dtype == np.float16 else out_dtype
    weights_shape = (*lead, q.shape[-2], k.shape[-2])
    if mask is not None:
        mask = check_mask(mask, "mask", weights_shape)

    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, with a better message
        scores = q.astype(dtype, copy=False) @ k.astype(dtype, copy=False).swapaxes(-1, -2)
        scores = (
            np.broadcast_to(scores, weights_shape).copy()
            if scores.shape != weights_shape
            else scores
        )
        scores *= dtype.type(scale)  # (..., T_q, T_k), a fresh buffer we own
    if not np.isfinite(scores).all():
        # An overflow to -inf would otherwise look like a masked key and silently get weight 0.
        raise ValueError(
            f"the attention scores q @ k.T * scale overflowed the {dtype} range (inf or NaN at "
            f"{tuple(int(i) for i in np.argwhere(~np.isfinite(scores))[0])}); got "
            f"q.shape={shape_str(q.shape)}, k.shape={shape_str(k.shape)}, scale={scale:g}, largest "
            f"|q| = {np.abs(q).max():.3g}, largest |k| = {np.abs(k).max():.3g}. Hint: normalise "
            "q and k (their entries are usually of order 1), or use float64."
        )
    if mask is not None:
        np.copyto(scores, -np.inf, where=~mask)
    weights = _softmax_last_axis_inplace(scores)
    output = weights @ v.astype(dtype, copy=False)  # (..., T_q, T_k) @ (..., T_k, d_v)
    if dtype != out_dtype:
        output, weights = output.astype(out_dtype), weights.astype(out_dtype)
    return output, weights


def causal_mask(seq_len_q, seq_len_k=None, *, align="upper_left"):
    """Boolean (seq_len_q, seq_len_k) mask, True where query i may attend to key j (no future).

    Square (``causal_mask(seq_len)``): token ``i`` sees tokens ``0..i``, the lower triangle.
    Rectangular, the two corners disagree, and ``align`` chooses:

    - ``"upper_left"`` (default): query ``i`` sees keys ``j <= i``; query 0 sees key 0 whatever
      the lengths. This is ``np.tril(np.ones((seq_len_q, seq_len_k)))`` and PyTorch's
      ``is_causal=True`` (its ``causal_upper_left``).
    - ``"lower_right"``: the queries are the *last* ``seq_len_q`` of ``seq_len_k`` positions, as
      when decoding with a KV cache (the cache holds the earlier keys, the queries are the new
      tokens): query ``i`` sees keys ``j <= i + seq_len_k - seq_len_q``, so the last query sees
      every key. PyTorch's ``causal_lower_right``, FlashAttention >= 2.1. With more queries than
      keys, the first ``seq_len_q - seq_len_k`` queries see no key (zero weights in
      ``scaled_dot_product_attention``).

    Parameters
    ----------
    seq_len_q : int
        Number of queries (rows).
    seq_len_k : int, optional
        Number of keys (columns). Default: ``seq_len_q`` (a square mask; ``align`` then changes
        nothing).
    align : {"upper_left", "lower_right"}, default "upper_left"
        Which corner the diagonal starts from.

    Returns
    -------
    mask : ndarray of bool, shape (seq_len_q, seq_len_k)

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    >>> causal_mask(2, 4, align="lower_right").astype(int)  # 2 new tokens after 2 cached ones
    array([[1, 1, 1, 0],
           [1, 1, 1, 1]])
    """
    # causal_mask(seq_len): the error names seq_len, as the argument was called.
    seq_len_q = check_positive_int(seq_len_q, "seq_len" if seq_len_k is None else "seq_len_q")
    seq_len_k = seq_len_q if seq_len_k is None else check_positive_int(seq_len_k, "seq_len_k")
    align = check_causal_align(align, "align")
    square = seq_len_q == seq_len_k
    check_allocation(
        seq_len_q * seq_len_k,
        f"causal_mask({seq_len_q})" if square else f"causal_mask({seq_len_q}, {seq_len_k})",
        f"(seq_len_q, seq_len_k) = ({seq_len_q}, {seq_len_k}) booleans",
        per_row=1 if square else None,
    )
    shift = (
        seq_len_k - seq_len_q if align == "lower_right" else 0
    )  # query i sits at position i + shift
    rows = np.arange(seq_len_q)[:, None] + shift  # (T_q, 1)
    return rows >= np.arange(seq_len_k)[None, :]  # (T_q, 1) >= (1, T_k) -> (T_q, T_k), like np.tril


def padding_mask(lengths, seq_len):
    """Boolean mask of shape (batch, 1, seq_len), True where the key is a real (not padded) token.

    The middle axis of length 1 broadcasts over the queries, so the result can be passed straight
    to ``scaled_dot_product_attention`` for keys of shape (batch, seq_len, d_k).

    Parameters
    ----------
    lengths : array_like of int, shape (batch,)
        The real length of each sequence, between 0 and ``seq_len``.
    seq_len : int
        The padded length.

    Examples
    --------
    >>> padding_mask([2, 3], 3).astype(int)
    array([[[1, 1, 0]],
    <BLANKLINE>
           [[1, 1, 1]]])
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    arr = asarray_or_explain(lengths, "lengths")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"lengths must be a 1-D list of sequence lengths, one per batch item; got "
            f"shape {shape_str(arr.shape)}. Hint: padding_mask([3, 5], seq_len=5)."
        )
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(
                f"lengths must be whole numbers; got dtype {arr.dtype}: {arr.tolist()}."
            )
    if arr.min() < 0 or arr.max() > seq_len:
        raise ValueError(
            f"every length must be between 0 and seq_len={seq_len}; got lengths={arr.tolist()}."
        )
    check_allocation(
        arr.size * seq_len,
        f"padding_mask(..., {seq_len})",
        f"(batch, 1, seq_len) = ({arr.size}, 1, {seq_len}) booleans",
    )
    return (np.arange(seq_len) < arr[:, None])[:, None, :]  # (batch, 1, seq_len)


def split_heads(x, num_heads):
    """Split the feature axis into heads: (..., seq_len, d_model) -> (..., num_heads, seq_len, head_dim).

    ``head_dim = d_model // num_heads``. Head ``h`` gets features ``h*head_dim ... (h+1)*head_dim - 1``.
    The reshape is followed by a transpose; reshaping straight to (num_heads, seq_len, head_dim)
    would mix tokens between heads (a classic bug, see notebook 04).
    """
    x = as_float_array(x, "x")
    check_no_neg_inf(x, "x")
    check_ndim_at_least(x, "x", 2, "(..., seq_len, d_model)")
    *lead, seq_len, d_model = x.shape
    head_dim = check_heads(d_model, num_heads, d_model_from=f"x.shape={shape_str(x.shape)}")
    x = x.reshape(*lead, seq_len, num_heads, head_dim)  # (..., T, d_model) -> (..., T, h, head_dim)
    return x.swapaxes(-3, -2)  # (..., T, h, head_dim) -> (..., h, T, head_dim)


def merge_heads(x):
    """Inverse of :func:`split_heads`: (..., num_heads, seq_len, head_dim) -> (..., seq_len, d_model)."""
    x = as_float_array(x, "x")
    check_no_neg_inf(x, "x")
    check_ndim_at_least(x, "x", 3, "(..., num_heads, seq_len, head_dim)")
    *lead, num_heads, seq_len, head_dim = x.shape
    x = x.swapaxes(-3, -2)  # (..., h, T, head_dim) -> (..., T, h, head_dim)
    return x.reshape(*lead, seq_len, num_heads * head_dim)  # -> (..., T, d_model)


def _project(x, w, b, x_name, w_name, b_name, w_axis0_doc):
    if w.ndim != 2:
        raise ValueError(
            f"{w_name} must be a 2-D matrix of shape {w_axis0_doc}; got "
            f"{w_name}.shape={shape_str(w.shape)}."
        )
    if x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"{x_name} @ {w_name} needs {x_name}.shape[-1] == {w_name}.shape[0]; got "
            f"{x_name}.shape={shape_str(x.shape)} and {w_name}.shape={shape_str(w.shape)}. "
            "Hint: the course uses row vectors, x @ w with w of shape (d_in, d_out); "
            "if you copied a PyTorch weight, transpose it (w.T)."
        )
    if b is not None and b.shape != (w.shape[1],):
        raise ValueError(
            f"{b_name} must have shape ({w.shape[1]},) to match {w_name}; got "
            f"{b_name}.shape={shape_str(b.shape)}."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, naming the inputs
        out = x @ w
        if b is not None:
            out = out + b
    if not np.isfinite(out).all():
        raise ValueError(
            f"{x_name} @ {w_name}{' + ' + b_name if b is not None else ''} overflowed the {out.dtype} "
            f"range (inf or NaN at {tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])}); "
            f"largest |{x_name}| = {np.abs(x).max():.3g}, largest |{w_name}| = "
            f"{np.abs(w).max():.3g}. Hint: entries of order 1 (e.g. w scaled by 1/sqrt(d_in)), or float64."
        )
    return out


def multi_head_attention(
    x_q,
    x_kv,
    w_q,
    w_k,
    w_v,
    w_o,
    *,
    num_heads,
    mask=None,
    num_kv_heads=None,
    b_q=None,
    b_k=None,
    b_v=None,
    b_o=None,
):
    """Multi-head attention: project, split into heads, attend per head, merge, project out.

    Self-attention passes the same array as ``x_q`` and ``x_kv``; cross-attention passes two.

    Parameters
    ----------
    x_q : array_like of shape (..., seq_len_q, d_model)
        The tokens that ask (queries come from here).
    x_kv : array_like of shape (..., seq_len_k, d_kv)
        The tokens that are looked at (keys and values come from here); ``d_kv`` is usually
        ``d_model``.
    w_q : array_like of shape (d_model, d_model)
    w_k, w_v : array_like of shape (d_kv, d_model)
    w_o : array_like of shape (d_model, d_out)
        Projections, applied as ``x @ w`` (row vectors).
    num_heads : int
        ``d_model`` (the width of ``w_q``) must be divisible by it; ``head_dim = d_model // num_heads``.
    mask : array_like of bool, broadcastable to (..., seq_len_q, seq_len_k), optional
        True = may attend; the same mask is used by every head (a head axis is inserted for you).
        ``causal_mask(T)`` and ``padding_mask(lengths, T)`` can be passed as they are.
    num_kv_heads : int, optional
        Grouped-query attention (GQA; ``1`` is multi-query attention, MQA): only this many key/value
        heads, each shared by ``num_heads // num_kv_heads`` consecutive query heads (see
        :func:`repeat_kv`). ``w_k``, ``w_v`` (and ``b_k``, ``b_v``) are then
        ``num_kv_heads * head_dim`` wide. Default: ``num_heads`` (plain multi-head attention).
    b_q, b_k, b_v : array_like of shape (d_model,), optional
    b_o : array_like of shape (d_out,), optional
        Biases added after each projection.

    Returns
    -------
    output : ndarray of shape (..., seq_len_q, d_out)
    weights : ndarray of shape (..., num_heads, seq_len_q, seq_len_k)
        Every head's attention weights.

    A query row whose keys are all masked gets zero weights in every head; its merged head output
    is then zero, so its ``output`` row is ``b_o`` (zeros without ``b_o``), never NaN.
    """
    x_q, x_kv, p, mask = _check_mha_arguments(
        x_q, x_kv, w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o, num_heads, num_kv_heads, mask
    )
    q = _project(x_q, p["w_q"], p["b_q"], "x_q", "w_q", "b_q", "(d_model, d_model)")
    k = _project(x_kv, p["w_k"], p["b_k"], "x_kv", "w_k", "b_k", "(d_kv, d_model)")
    v = _project(x_kv, p["w_v"], p["b_v"], "x_kv", "w_v", "b_v", "(d_kv, d_model)")
    q = split_heads(q, num_heads)  # (..., T_q, d_model) -> (..., h, T_q, head_dim)
    if num_kv_heads is None:
        k = split_heads(k, num_heads)  # (..., T_k, d_model) -> (..., h, T_k, head_dim)
        v = split_heads(v, num_heads)
    else:  # New (GQA): split into the kv heads, then repeat each for its group of query heads
        k = repeat_kv(split_heads(k, num_kv_heads), num_heads // num_kv_heads)  # (..., h, T_k, hd)
        v = repeat_kv(split_heads(v, num_kv_heads), num_heads // num_kv_heads)
    heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # (..., h, T_q, head_dim)
    merged = merge_heads(heads)  # (..., h, T_q, head_dim) -> (..., T_q, d_model)
    output = _project(merged, p["w_o"], p["b_o"], "merged heads", "w_o", "b_o", "(d_model, d_out)")
    return output, weights


def _check_mha_arguments(
    x_q, x_kv, w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o, num_heads, num_kv_heads, mask
):
    """Every check of :func:`multi_head_attention`, before anything is computed.

    Returns ``x_q``, ``x_kv`` as float arrays, the weights and biases as a dict of float arrays
    (biases None when absent), and the mask with a head axis inserted (or None).
    """
    x_q = as_float_array(x_q, "x_q")
    x_kv = as_float_array(x_kv, "x_kv")
    arrays = {}  # every weight and bias, checked by its own name before anything is computed
    for name, val in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v), ("w_o", w_o)):
        arrays[name] = as_float_array(val, name)
    for name, val in (("b_q", b_q), ("b_k", b_k), ("b_v", b_v), ("b_o", b_o)):
        arrays[name] = None if val is None else as_float_array(val, name)
    for name, arr in (("x_q", x_q), ("x_kv", x_kv), *arrays.items()):
        if arr is not None:
            check_no_neg_inf(arr, name)
    check_ndim_at_least(x_q, "x_q", 2, "(..., seq_len_q, d_model)")
    check_ndim_at_least(x_kv, "x_kv", 2, "(..., seq_len_k, d_kv)")
    num_heads = check_positive_int(num_heads, "num_heads")
    if num_kv_heads is not None:
        num_kv_heads = check_positive_int(num_kv_heads, "num_kv_heads")
    try:
        lead = np.broadcast_shapes(x_q.shape[:-2], x_kv.shape[:-2])  # the batch axes
    except ValueError as err:
        raise ValueError(
            f"the leading (batch) axes of x_q and x_kv do not broadcast: "
            f"x_q.shape={shape_str(x_q.shape)}, x_kv.shape={shape_str(x_kv.shape)}. Hint: pass "
            "one x_kv sequence per x_q sequence (equal batch sizes), or a batch size of 1."
        ) from err
    if arrays["w_q"].ndim == 2:  # (otherwise _project names the problem)
        d_model = arrays["w_q"].shape[1]
        w_q_shape = shape_str(arrays["w_q"].shape)
        head_dim = check_heads(
            d_model, num_heads, num_kv_heads=num_kv_heads, d_model_from=f"w_q.shape={w_q_shape}"
        )
        kv_width = d_model if num_kv_heads is None else head_dim * num_kv_heads  # GQA: narrower
        for name in ("w_k", "w_v"):
            w = arrays[name]
            if w.ndim == 2 and w.shape[1] != kv_width:
                if num_kv_heads is not None:
                    raise ValueError(
                        f"{name} must have shape (d_kv, num_kv_heads * head_dim) = (d_kv, "
                        f"{kv_width}) with num_kv_heads={num_kv_heads} and head_dim={head_dim}; "
                        f"got {name}.shape={shape_str(w.shape)}."
                    )
                raise ValueError(
                    f"{name} must have shape (d_kv, d_model) with d_model={d_model} like w_q; "
                    f"got {name}.shape={shape_str(w.shape)} and w_q.shape={w_q_shape}."
                )
    if mask is not None:
        mask = np.asarray(mask)
        if mask.ndim >= 2:
            # (..., T_q, T_k) -> (..., 1, T_q, T_k): the same mask for every head.
            check_mask(mask, "mask", (*lead, x_q.shape[-2], x_kv.shape[-2]))
            mask = mask[..., None, :, :]
    return x_q, x_kv, arrays, mask


def sinusoidal_positions(seq_len, d_model, *, base=10000.0):
    """Sinusoidal positional encodings from "Attention Is All You Need".

    ``P[pos, 2i] = sin(pos / base**(2i / d_model))`` and ``P[pos, 2i + 1] = cos(...)`` of the same
    angle, so each pair of columns is a rotation whose speed falls geometrically with ``i``.

    Parameters
    ----------
    seq_len : int
        Number of positions (0 ... seq_len - 1).
    d_model : int
        Width of each encoding.
    base : float, default 10000.0
        Sets the slowest wavelength (``2 * pi * base``).

    Returns
    -------
    positions : ndarray of shape (seq_len, d_model), float64
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    d_model = check_positive_int(d_model, "d_model")
    base = _check_positive_number(base, "base")
    pos = np.arange(seq_len, dtype=np.float64)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # (ceil(d/2),)
    angles = pos / base ** (two_i / d_model)  # (T, ceil(d/2))
    out = np.empty((seq_len, d_model))
    out[:, 0::2] = np.sin(angles)
    out[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return out


# ------------------------------------------------------------------ decoders: RoPE, windows, GQA
# Added for notebook 09 (causal decoding). Kept at the end of the module on purpose.


def rotary_embedding(x, positions, *, base=10000.0):
    """Rotary position embedding (RoPE): rotate each pair of features by an angle set by position.

    Convention: **split halves** (``rotate_half``), as in GPT-NeoX and in Hugging Face's Llama:
    feature ``i`` is paired with feature ``i + head_dim // 2``. The RoFormer paper, GPT-J and Meta's
    reference Llama code pair *adjacent* features ``(2i, 2i + 1)`` instead (notebook 05's
    ``rope``); Hugging Face's conversion of the Llama weights permutes the output features of
    the q and k projections so that split halves give the same scores. Either way the score depends only on
    the offset, but a checkpoint works only with the convention its weights were laid out for.
    Pair ``i`` turns by ``positions * base**(-2i / head_dim)``::

        x1, x2 = x[..., :half], x[..., half:]
        out = concat(x1 * cos - x2 * sin, x2 * cos + x1 * sin)

    Because both q and k are rotated, ``rotary_embedding(q, m) . rotary_embedding(k, n)`` depends
    on the positions only through ``m - n``: attention sees relative offsets.

    Parameters
    ----------
    x : array_like of shape (..., seq_len, head_dim)
        Queries or keys of one head (or of many heads: leading axes broadcast). ``head_dim`` must be
        even.
    positions : array_like of int or float, shape (seq_len,)
        The position of each token (``np.arange(seq_len)``, or ``np.arange(t, t + 1)`` for the one
        new token of a decoding step).
    base : float, default 10000.0
        Sets the slowest rotation (wavelength ``2 * pi * base``).

    Returns
    -------
    rotated : ndarray, same shape and dtype as ``x``
        Norm-preserving: every token's vector keeps its length.

    Examples
    --------
    >>> rotary_embedding(np.array([[1.0, 0.0]]), [np.pi / 2], base=1.0).round(12)
    array([[0., 1.]])
    """
    x = as_float_array(x, "x")
    check_ndim_at_least(x, "x", 2, "(..., seq_len, head_dim)")
    base = _check_positive_number(base, "base")
    *_, seq_len, head_dim = x.shape
    if head_dim % 2:
        raise ValueError(
            f"x's last axis (head_dim) must be even, since RoPE rotates pairs of features; got "
            f"x.shape={shape_str(x.shape)}. Hint: choose head_dim = d_model // num_heads even."
        )
    pos = asarray_or_explain(positions, "positions")
    if pos.dtype.kind not in "iuf" or pos.dtype == bool:
        raise TypeError(f"positions must be numbers (token positions); got dtype {pos.dtype}.")
    if pos.shape != (seq_len,):
        raise ValueError(
            f"positions must have shape (seq_len,) = ({seq_len},), one position per token of x; "
            f"got positions.shape={shape_str(pos.shape)} and x.shape={shape_str(x.shape)}. Hint: "
            f"np.arange({seq_len}), or np.arange(t, t + {seq_len}) for tokens that start at t."
        )
    if not np.isfinite(pos).all():
        raise ValueError("positions must be finite numbers; got inf or NaN.")
    half = head_dim // 2
    inv_freq = base ** (-np.arange(half, dtype=np.float64) * 2.0 / head_dim)  # (half,)
    angles = pos.astype(np.float64)[:, None] * inv_freq[None, :]  # (T, half)
    cos = np.cos(angles).astype(x.dtype, copy=False)
    sin = np.sin(angles).astype(x.dtype, copy=False)
    x1, x2 = x[..., :half], x[..., half:]  # (..., T, half) each: the split halves
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def sliding_window_mask(seq_len, window):
    """Boolean (seq_len, seq_len) causal mask that only lets each query see its last ``window`` keys.

    Key ``j`` is visible from query ``i`` iff ``0 <= i - j < window`` (True = may attend, as in
    :func:`causal_mask`). ``window=1`` is "only yourself"; ``window >= seq_len`` is the causal mask.

    Examples
    --------
    >>> sliding_window_mask(4, 2).astype(int)
    array([[1, 0, 0, 0],
           [1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    if isinstance(window, bool) or not isinstance(window, numbers.Integral):
        raise TypeError(
            f"window must be a positive integer (how many keys each query sees, itself "
            f"included); got {window!r} ({type(window).__name__})."
        )
    if window <= 0:
        raise ValueError(
            f"window must be a positive integer; got window={window}. Hint: window=1 lets each "
            "token see only itself; window=seq_len is the plain causal mask."
        )
    offset = np.arange(seq_len)[:, None] - np.arange(seq_len)[None, :]  # (T, T): i - j
    return (offset >= 0) & (offset < window)


def repeat_kv(x, num_repeats):
    """Repeat each key/value head ``num_repeats`` times along the head axis (for MQA/GQA).

    ``(..., num_kv_heads, seq_len, head_dim) -> (..., num_kv_heads * num_repeats, seq_len, head_dim)``;
    head ``h`` of the result is kv head ``h // num_repeats``, so query heads ``0 .. r-1`` share kv
    head 0, the next ``r`` share kv head 1, and so on (the grouping of Llama's ``repeat_kv`` and of
    PyTorch's ``enable_gqa=True``).
    """
    x = as_float_array(x, "x")
    check_ndim_at_least(x, "x", 3, "(..., num_kv_heads, seq_len, head_dim)")
    num_repeats = check_positive_int(num_repeats, "num_repeats")
    return np.repeat(x, num_repeats, axis=-3)  # (..., h_kv, T, d) -> (..., h_kv * r, T, d)
