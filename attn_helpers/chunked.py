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

The query blocks are independent of each other (each has its own ``m``, ``l`` and ``acc``), so
they can run at the same time: FlashAttention gives each block of queries (and each head) its own
group of GPU threads. Here a few CPU threads share the blocks. numpy's matrix products and
element-wise functions release Python's GIL, so the threads really run in parallel; the BLAS
library is asked to stay single-threaded meanwhile (``threadpoolctl``), so that the threads do not
fight over the cores. On 2 cores this roughly halves the time of ``exp``, which a single thread
would otherwise spend alone while the other core waits.
"""

from __future__ import annotations

import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from ._validation import (
    check_mask,
    check_positive_int,
    check_qkv,
    shape_str,
)

__all__ = ["chunked_attention"]

DEFAULT_CHUNK_SIZE = 1024
MAX_DEFAULT_WORKERS = 8
# With workers=None, threads are used only from this many scores on (about a millisecond of work);
# below it, starting them costs more than they save.
MIN_SCORES_FOR_THREADS = 2**20

_blas_controller = None  # made on first use: inspecting the loaded libraries takes about 1 ms


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a positive number; got {scale!r}.")
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive, finite number; got {scale}.")
    return float(scale)


# A container's CPU quota (Binder, JupyterHub, Docker): cgroup v2 writes "quota period" to one
# file ("max period" when unlimited), cgroup v1 uses two files (quota -1 when unlimited).
CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _cgroup_cpu_quota() -> float | None:
    """CPUs' worth of time a container may use (1.5 = one and a half), or None if unlimited."""
    try:
        quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota, period = CGROUP_V1_QUOTA.read_text(), CGROUP_V1_PERIOD.read_text()
        except OSError:
            return None
    try:
        quota, period = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    return quota / period if quota > 0 and period > 0 else None


def _available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a container's CPU quota.

    On a hub or Binder the machine may show 32 cores while the container may use one; threads
    beyond the quota would only queue for it.
    """
    if hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))
    else:
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, int(quota))  # 1.5 CPUs of quota: one thread
    return max(1, cpus)


def _single_threaded_blas():
    """A context in which numpy's BLAS uses one thread (our own threads share the cores)."""
    global _blas_controller
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def _max_row_norm(x: np.ndarray) -> float:
    """The largest Euclidean norm of a row of ``x`` (inf if squaring overflows)."""
    return float(np.sqrt(np.einsum("...i,...i->...", x, x).max()))  # i: the feature axis


def _overflow_error(tile, corner, q_shape, k_shape, scale) -> ValueError:
    """The error ``scaled_dot_product_attention`` raises, for a tile of scores that overflowed.

    ``corner`` is the tile's position: the leading indices, then its first query and first key.
    """
    where = [int(i) for i in np.argwhere(~np.isfinite(tile))[0]]  # (query, key) in the tile
    where = (*corner[:-2], where[0] + corner[-2], where[1] + corner[-1])
    return ValueError(
        f"the attention scores q @ k.T * scale overflowed the {tile.dtype} range (inf or NaN at "
        f"{tuple(int(i) for i in where)}); got q.shape={shape_str(q_shape)}, "
        f"k.shape={shape_str(k_shape)}, scale={scale:g}. Hint: normalise q and k (their entries "
        "are usually of order 1), or use float64."
    )


def _attend_blocks(blocks, q, k_t, v_ones, mask, output, chunk_size, may_overflow, shapes):
    """Run the online softmax for some query blocks, writing their rows of ``output``.

    ``blocks`` lists ``(lead_index, q_start)`` pairs: one block is ``chunk_size`` queries of one
    leading index (one batch entry and head) against all its keys. The buffers are allocated once
    here and reused for every tile of every block, so each worker thread has its own.
    Shapes: q (..., T_q, d_k), k_t (..., d_k, T_k), v_ones (..., T_k, d_v + 1),
    mask None or (..., T_q, T_k) bool, output (..., T_q, d_v).
    """
    t_q, t_k = q.shape[-2], k_t.shape[-1]
    d_v = output.shape[-1]
    dtype = output.dtype
    c_q, c_k = min(chunk_size, t_q), min(chunk_size, t_k)  # C = chunk_size, or less if short
    scores_buf = np.empty((c_q, c_k), dtype=dtype)  # (C, C): one tile of scores
    blocked_buf = np.empty((c_q, c_k), dtype=bool) if mask is not None else None
    acc_buf = np.empty((c_q, d_v + 1), dtype=dtype)  # [acc | l], running sums
    pv_buf = np.empty((c_q, d_v + 1), dtype=dtype)  # this tile's exp(s - m) @ v_ones
    # One number per query, (C, 1): the running max m, its new value, the shift actually
    # subtracted (m_new, or 0 where m_new = -inf) and the rescale factor exp(m_old - m_new).
    run_max_buf, m_new_buf, shift_buf, rescale_buf = np.empty((4, c_q, 1), dtype=dtype)

    for index, q_start in blocks:
        q_stop = min(q_start + chunk_size, t_q)
        n_q = q_stop - q_start  # the last block may be shorter: use the first n_q rows of buffers
        q_blk = q[index][q_start:q_stop]  # (n_q, d_k)
        run_max, m_new = run_max_buf[:n_q], m_new_buf[:n_q]
        shift, rescale = shift_buf[:n_q], rescale_buf[:n_q]
        acc, pv = acc_buf[:n_q], pv_buf[:n_q]
        run_max.fill(-np.inf)
        acc.fill(0.0)
        for k_start in range(0, t_k, chunk_size):
            k_stop = min(k_start + chunk_size, t_k)
            k_t_blk = k_t[index][:, k_start:k_stop]  # (d_k, n_k)
            s = scores_buf[:n_q, : k_stop - k_start]  # (n_q, n_k)
            if may_overflow:
                with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                    np.matmul(q_blk, k_t_blk, out=s)
                if not np.isfinite(s).all():
                    raise _overflow_error(s, (*index, q_start, k_start), *shapes)
            else:
                np.matmul(q_blk, k_t_blk, out=s)  # the scores of this tile
            if mask is None:
                np.max(s, axis=-1, keepdims=True, out=m_new)
                np.maximum(m_new, run_max, out=m_new)
                shift = m_new  # finite: without a mask every tile has a largest score
            else:
                blocked = blocked_buf[:n_q, : k_stop - k_start]
                np.logical_not(mask[index][q_start:q_stop, k_start:k_stop], out=blocked)
                np.copyto(s, -np.inf, where=blocked)
                np.max(s, axis=-1, keepdims=True, out=m_new)
                np.maximum(m_new, run_max, out=m_new)
                # A query whose keys so far are all masked has m_new = -inf: shift by 0 instead,
                # so that exp(-inf - 0) = 0 rather than exp(-inf - -inf) = NaN.
                shift = shift_buf[:n_q]
                np.copyto(shift, m_new)
                shift[np.isneginf(shift)] = 0.0
            s -= shift
            np.exp(s, out=s)  # exp(score - m_new): at most 1, exactly 0 where masked
            np.subtract(run_max, shift, out=rescale)
            np.exp(rescale, out=rescale)  # exp(m_old - m_new) <= 1; 0 while m_old = -inf
            # (n_q, n_k) @ (n_k, d_v + 1): this tile's [exp(s) @ v | sum of exp(s)]
            np.matmul(s, v_ones[index][k_start:k_stop], out=pv)
            acc *= rescale  # [acc | l] = [acc | l] * exp(m_old - m_new) + [exp(s) @ v | sum]
            acc += pv
            np.copyto(run_max, m_new)
        # output = acc / l; fully masked queries (l = 0) keep the zeros output started with.
        run_sum = acc[:, d_v:]  # (n_q, 1): l
        np.divide(acc[:, :d_v], run_sum, out=output[index][q_start:q_stop], where=run_sum > 0)


def chunked_attention(
    q, k, v, *, mask=None, chunk_size=DEFAULT_CHUNK_SIZE, scale=None, workers=None
):
    """Scaled dot-product attention computed tile by tile with an online softmax.

    Same inputs, mask convention, broadcasting, validation and output as
    :func:`~attn_helpers.scaled_dot_product_attention` (equal to it within rounding: about 1e-15 in
    float64), but the full ``(seq_len_q, seq_len_k)`` matrix of scores is never built. Queries and
    keys are cut into chunks of ``chunk_size``; each worker thread holds one
    ``(chunk_size, chunk_size)`` tile of scores at a time, in a buffer allocated once and reused.

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
        products (each numpy call has a fixed cost). 1024 did best among 256 ... 2048 at
        1024-4096 tokens on the 2-core machine ``make bench`` was written on.
    scale : float, optional
        Multiplies the scores. Defaults to ``1 / sqrt(d_k)``.
    workers : int, optional
        Threads that share the query blocks (each block is one ``chunk_size`` slice of queries of
        one batch entry and head). ``1`` runs everything in the calling thread. The default uses
        one thread per available CPU (within a container's CPU quota, at most 8, and no more than
        there are blocks) once there are at least 2**20 scores to compute, and 1 below that.
        While threads run, numpy's BLAS is limited to one thread. The result does not depend on
        ``workers``.

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
    if workers is not None:
        workers = check_positive_int(workers, "workers")
    d_k = q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else _check_scale(scale)
    t_q, t_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    if mask is not None:
        mask = check_mask(mask, "mask", (*lead, t_q, t_k))
        mask = np.broadcast_to(mask, (*lead, t_q, t_k))  # a view: no memory for broadcast axes
    dtype = np.result_type(q, k, v)

    # The scale is folded into q once (seq_len_q * d_k multiplications instead of one per score).
    with np.errstate(over="ignore"):  # an overflow here is caught by the score check
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

    # The work: every (leading index, first query of the block) pair, i.e. every row of tiles.
    blocks = [(index, start) for index in np.ndindex(*lead) for start in range(0, t_q, chunk_size)]
    if workers is None:
        many_scores = math.prod(lead) * t_q * t_k >= MIN_SCORES_FOR_THREADS
        workers = min(_available_cpus(), MAX_DEFAULT_WORKERS) if many_scores else 1
    workers = min(workers, len(blocks))
    args = (q, k_t, v_ones, mask, output, chunk_size, may_overflow, shapes)
    if workers == 1:
        _attend_blocks(blocks, *args)
        return output
    # Worker w takes blocks w, w + workers, w + 2 * workers, ...; each writes its own output rows.
    with _single_threaded_blas(), ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(_attend_blocks, blocks[w::workers], *args) for w in range(workers)]
        for job in jobs:
            job.result()  # re-raises a worker's error (an overflow) here, in the caller's thread
    return output
