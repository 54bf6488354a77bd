"""Exact attention in tiles: an online softmax that never builds the (seq_len_q, seq_len_k) matrix.

``scaled_dot_product_attention`` computes all the scores, then all the weights, then the output:
for 16384 tokens that is a 16384 x 16384 matrix, 1 GiB in float32, written and read several times.
``chunked_attention`` gives the same output (to rounding) while holding only one small tile of
scores at a time. It is the idea behind FlashAttention, in numpy.

The trick is the *online softmax*. For one query, visit the keys block by block and keep three
running quantities:

- ``m``: the largest score seen so far (the running max, for a stable ``exp``);
- ``l``: the sum of ``exp(score - m)`` over the keys seen so far (the running sum);
- ``acc``: the sum of ``exp(score - m) * value`` over the keys seen so far.

When a new block raises the max from ``m_old`` to ``m_new``, everything accumulated so far was
computed relative to ``m_old``; multiplying it by ``exp(m_old - m_new)`` rescales it, so nothing has
to be recomputed. After the last block, ``output = acc / l``: exactly ``softmax(scores) @ v``.

One more trick saves a pass over every tile: ``l`` rides along as an extra column of ones appended
to ``v``, since ``exp(s) @ [v | 1] = [exp(s) @ v | sum of exp(s)]``: one matrix product updates
``acc`` and ``l`` together.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._validation import (
    check_mask,
    check_positive_int,
    check_qkv,
    shape_str,
)

__all__ = ["chunked_attention"]

DEFAULT_CHUNK_SIZE = 1024


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a positive number; got {scale!r}.")
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive, finite number; got {scale}.")
    return float(scale)


def _max_row_norm(x: np.ndarray) -> float:
    """The largest Euclidean norm of a row of ``x`` (inf if squaring overflows)."""
    return float(np.sqrt(np.einsum("...i,...i->...", x, x).max()))  # i: the feature axis


def _overflow_error(tile, corner, q_shape, k_shape, scale) -> ValueError:
    """The error ``scaled_dot_product_attention`` raises, for a tile of scores that overflowed."""
    where = np.argwhere(~np.isfinite(tile))[0]
    where[-2:] += corner  # tile coordinates -> (query, key) positions
    return ValueError(
        f"the attention scores q @ k.T * scale overflowed the {tile.dtype} range (inf or NaN at "
        f"{tuple(int(i) for i in where)}); got q.shape={shape_str(q_shape)}, "
        f"k.shape={shape_str(k_shape)}, scale={scale:g}. Hint: normalise q and k (their entries "
        "are usually of order 1), or use float64."
    )


def chunked_attention(q, k, v, *, mask=None, chunk_size=DEFAULT_CHUNK_SIZE, scale=None):
    """Scaled dot-product attention computed tile by tile with an online softmax.

    Same inputs, mask convention, broadcasting, validation and output as
    :func:`~attn_helpers.scaled_dot_product_attention` (equal to it within rounding: about 1e-15 in
    float64), but the full ``(seq_len_q, seq_len_k)`` matrix of scores is never built. Queries and
    keys are cut into chunks of ``chunk_size``; only one ``(chunk_size, chunk_size)`` tile of
    scores per leading index exists at any time, in a buffer allocated once and reused.

    Parameters
    ----------
    q : array_like of shape (..., seq_len_q, d_k)
    k : array_like of shape (..., seq_len_k, d_k)
    v : array_like of shape (..., seq_len_k, d_v)
        Queries, keys and values, as for ``scaled_dot_product_attention``.
    mask : array_like of bool, broadcastable to (..., seq_len_q, seq_len_k), optional
        True where the query may attend to the key. A query with no True gets a zero output.
        (A broadcast mask such as ``padding_mask(...)`` costs no extra memory; a full
        ``causal_mask(seq_len)`` is itself ``seq_len**2`` bytes.)
    chunk_size : int, default 1024
        Tokens per tile, for queries and keys alike. Any positive integer works; lengths need not
        be multiples of it. Smaller tiles use less memory; larger ones mean fewer, bigger matrix
        products (each numpy call has a fixed cost, and a multi-threaded BLAS pays a
        synchronisation per product, which hurts on a busy machine). 1024 did best among
        256 ... 2048 at 1024-4096 tokens on the 2-core machine ``make bench`` was written on.
    scale : float, optional
        Multiplies the scores. Defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    output : ndarray of shape (..., seq_len_q, d_v)
        Only the output. Unlike ``scaled_dot_product_attention`` there is no ``weights`` to
        return: no complete row of weights ever exists, which is the point. (Returning
        ``(output, None)`` would look like a weights matrix that is merely missing.) To look at
        the weights of a short sequence, use ``scaled_dot_product_attention``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 10, 4))
    >>> output = chunked_attention(q, k, v, chunk_size=3)
    >>> from attn_helpers import scaled_dot_product_attention
    >>> bool(np.allclose(output, scaled_dot_product_attention(q, k, v)[0], rtol=0, atol=1e-12))
    True
    """
    q, k, v, lead = check_qkv(q, k, v)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    d_k = q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else _check_scale(scale)
    t_q, t_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    if mask is not None:
        mask = check_mask(mask, "mask", (*lead, t_q, t_k))
        mask = np.broadcast_to(mask, (*lead, t_q, t_k))  # a view: no memory for broadcast axes
    dtype = np.result_type(q, k, v)

    # The scale is folded into q once (seq_len_q * d_k multiplications instead of one per score).
    with np.errstate(over="ignore"):  # an overflow here is caught by the score check below
        q_scaled = q.astype(dtype) * dtype.type(scale)  # (..., T_q, d_k), a fresh copy
        # |q_i . k_j| <= |q_i| |k_j| (Cauchy-Schwarz): when that bound is finite, no score can
        # overflow, and the per-tile check for inf and NaN is skipped.
        bound = _max_row_norm(q_scaled) * _max_row_norm(k.astype(dtype, copy=False))
    may_overflow = not bound < np.finfo(dtype).max / 2
    shapes = (q.shape, k.shape, scale)  # for the error message
    q = np.broadcast_to(q_scaled, (*lead, t_q, d_k))  # broadcasting makes views, never copies
    k_t = np.broadcast_to(k.astype(dtype, copy=False), (*lead, t_k, d_k)).swapaxes(-1, -2)
    # v with a column of ones appended: exp(s) @ v_ones = [exp(s) @ v | row sums of exp(s)].
    v_ones = np.ones((*v.shape[:-1], d_v + 1), dtype=dtype)  # (..., T_k, d_v + 1)
    v_ones[..., :d_v] = v
    v_ones = np.broadcast_to(v_ones, (*lead, t_k, d_v + 1))
    output = np.zeros((*lead, t_q, d_v), dtype=dtype)

    # Block buffers, allocated once and reused for every tile (C = chunk_size).
    c_q, c_k = min(chunk_size, t_q), min(chunk_size, t_k)
    scores_buf = np.empty((*lead, c_q, c_k), dtype=dtype)  # (..., C, C): one tile of scores
    blocked_buf = np.empty((*lead, c_q, c_k), dtype=bool) if mask is not None else None
    acc_buf = np.empty((*lead, c_q, d_v + 1), dtype=dtype)  # [acc | l], running sums
    pv_buf = np.empty((*lead, c_q, d_v + 1), dtype=dtype)  # this tile's exp(s - m) @ v_ones
    # One number per query, (..., C, 1): the running max m, its new value, the shift actually
    # subtracted (m_new, or 0 where m_new = -inf) and the rescale factor exp(m_old - m_new).
    run_max_buf, m_new_buf, shift_buf, rescale_buf = np.empty((4, *lead, c_q, 1), dtype=dtype)

    for q_start in range(0, t_q, chunk_size):
        q_stop = min(q_start + chunk_size, t_q)
        n_q = q_stop - q_start  # the last chunk may be shorter: use the first n_q rows of buffers
        q_blk = q[..., q_start:q_stop, :]  # (..., n_q, d_k)
        run_max, m_new = run_max_buf[..., :n_q, :], m_new_buf[..., :n_q, :]
        shift, rescale = shift_buf[..., :n_q, :], rescale_buf[..., :n_q, :]
        acc, pv = acc_buf[..., :n_q, :], pv_buf[..., :n_q, :]
        run_max.fill(-np.inf)
        acc.fill(0.0)
        for k_start in range(0, t_k, chunk_size):
            k_stop = min(k_start + chunk_size, t_k)
            s = scores_buf[..., :n_q, : k_stop - k_start]  # (..., n_q, n_k)
            if may_overflow:
                with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                    np.matmul(q_blk, k_t[..., :, k_start:k_stop], out=s)
                if not np.isfinite(s).all():
                    raise _overflow_error(s, (q_start, k_start), *shapes)
            else:
                np.matmul(q_blk, k_t[..., :, k_start:k_stop], out=s)  # scores of this tile
            if mask is None:
                np.max(s, axis=-1, keepdims=True, out=m_new)
                np.maximum(m_new, run_max, out=m_new)
                shift = m_new  # finite: without a mask every tile has a largest score
            else:
                blocked = blocked_buf[..., :n_q, : k_stop - k_start]
                np.logical_not(mask[..., q_start:q_stop, k_start:k_stop], out=blocked)
                np.copyto(s, -np.inf, where=blocked)
                np.max(s, axis=-1, keepdims=True, out=m_new)
                np.maximum(m_new, run_max, out=m_new)
                # A query whose keys so far are all masked has m_new = -inf: shift by 0 instead,
                # so that exp(-inf - 0) = 0 rather than exp(-inf - -inf) = NaN.
                shift = shift_buf[..., :n_q, :]
                np.copyto(shift, m_new)
                shift[np.isneginf(shift)] = 0.0
            s -= shift
            np.exp(s, out=s)  # exp(score - m_new): at most 1, exactly 0 where masked
            np.subtract(run_max, shift, out=rescale)
            np.exp(rescale, out=rescale)  # exp(m_old - m_new) <= 1; 0 while m_old = -inf
            # (..., n_q, n_k) @ (..., n_k, d_v + 1): this tile's [exp(s) @ v | sum of exp(s)]
            np.matmul(s, v_ones[..., k_start:k_stop, :], out=pv)
            acc *= rescale  # [acc | l] = [acc | l] * exp(m_old - m_new) + [exp(s) @ v | sum]
            acc += pv
            np.copyto(run_max, m_new)
        # output = acc / l; fully masked queries (l = 0) keep the zeros output started with.
        run_sum = acc[..., d_v:]  # (..., n_q, 1): l
        np.divide(acc[..., :d_v], run_sum, out=output[..., q_start:q_stop, :], where=run_sum > 0)
    return output
