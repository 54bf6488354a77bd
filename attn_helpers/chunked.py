"""Exact attention in tiles: an online softmax that never builds the (seq_len_q, seq_len_k) matrix.

``scaled_dot_product_attention`` computes all the scores, then all the weights, then the output:
for 16384 tokens that is a 16384 x 16384 matrix, 1 GiB in float32, written and read several times.
``chunked_attention`` gives the same output (to rounding) while holding only one small tile of
scores at a time. It is the idea behind FlashAttention, in numpy.

The trick is the *online softmax*. For one query, visit the keys block by block and keep three
running quantities:

- ``r``: a reference score, close to the largest score seen so far (for a stable ``exp``);
- ``l``: the sum of ``exp(score - r)`` over the keys seen so far (the running sum);
- ``acc``: the sum of ``exp(score - r) * value`` over the keys seen so far.

When a new block's scores rise well above ``r``, move ``r`` up by ``shift``: everything
accumulated so far was computed relative to the old ``r``, and multiplying ``l`` and ``acc`` by
``exp(-shift)`` rescales it, so nothing has to be recomputed. After the last block,
``output = acc / l``: exactly ``softmax(scores) @ v``, because the common factor ``exp(-r)``
cancels. (Exactly in exact arithmetic; in floating point ``r`` must stay close enough to the
scores that the exponentials neither overflow nor underflow, which is what the rules below keep.)

Each pass over a tile of a million scores costs about a quarter of the matrix product that made
it, so the code avoids passes:

1. ``l`` rides along as an extra column of ones appended to ``v``, since
   ``exp(s) @ [v | 1] = [exp(s) @ v | sum of exp(s)]``: one matrix product updates ``acc`` and
   ``l``, with no separate pass to sum.
2. ``r`` is updated *lazily* (the rescaling rule of FlashAttention-4): only where a tile's scores
   rise more than ``RESCALE_THRESHOLD`` (``log(256)``, about 5.5) above it. The exponentials then
   stay at most 256, far from overflowing, and for ordinary inputs ``r`` never moves after a
   query's first tile. Checking that takes one cheap pass for the largest score of the whole tile,
   instead of one per row. ``r`` starts at 0; a query whose first visible scores are all far below
   0 is moved down to them, so that they do not underflow to 0.
3. Because ``r`` is known before a tile is computed (a consequence of 2), it rides along too: an
   extra column ``-r`` appended to ``q``, against a column of ones appended to ``k``, gives
   ``[q | -r] @ [k | 1].T = q @ k.T - r``. The scores arrive already shifted: no pass to subtract.

One more choice makes the remaining pass cheaper on some processors: where numpy's ``exp2`` is
as vectorised as its ``exp`` (x86 with AVX-512), it is faster, so the scores are kept in base 2
(``exp(x) = 2**(x * log2(e))``, with ``log2(e)`` folded into ``q`` with the scale, as FlashAttention
does) and the threshold becomes 8 (``2**8 = 256``). Elsewhere (AVX2-only x86, for one, where
``exp2`` is three times slower than ``exp``) it stays ``exp``. numpy says which kernels it runs
(``numpy.lib.introspect.opt_func_info``), so the choice is the same on every run of a machine.

Blocks of queries are independent (each has its own ``r``, ``l`` and ``acc``), so several threads
can work on different blocks at once (``workers``). numpy's element-wise functions use one core,
and on an otherwise idle machine the threads put the others to work: at 4096 tokens on 2 cores,
1.15-1.35x faster. Right after a large matrix product, though (in a model, attention always
follows one), the BLAS library's own threads keep spinning for a moment, our threads compete with
them, and one worker is faster. So the default is one worker; ``make bench`` measures both.

For short sequences the plain version is faster: there is no big matrix to avoid, and the
bookkeeping costs more than it saves.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._parallel import available_cpus, run_in_threads
from ._validation import (
    check_causal_align,
    check_mask,
    check_positive_int,
    check_qkv,
    shape_str,
)

__all__ = ["chunked_attention", "tile_plan"]

DEFAULT_CHUNK_SIZE = 1024
CAUSAL_CHUNK_SIZE = 512  # computes (1 + 512 / T) / 2 of the tiles: 56 % at T = 4096 (1024: 63 %)
MIN_CAUSAL_TILE = 128  # diagonal tiles are cut in four down to this size
RESCALE_THRESHOLD = math.log(256.0)  # r moves where scores exceed it by more: exp() <= 256
LOG2_E = math.log2(math.e)
MAX_WORKERS_PER_CPU_COUNT = 8  # workers=None: one per available CPU, at most this many


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a positive number; got {scale!r}.")
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive, finite number; got {scale}.")
    return float(scale)


def _max_row_norm(x: np.ndarray) -> float:
    """The largest Euclidean norm of a row of ``x`` (inf if squaring overflows)."""
    return float(np.sqrt(np.einsum("...i,...i->...", x, x).max()))  # i: the feature axis


def _overflow_error(tile, first, lead, q_shape, k_shape, scale) -> ValueError:
    """The error ``scaled_dot_product_attention`` raises, for a tile of scores that overflowed.

    ``first`` is the tile's first (flat leading index, query, key); ``lead`` the leading shape.
    """
    first_bad = int(np.argmax(~np.isfinite(tile)))  # the first inf or NaN, in C order
    g, i, j = (int(n) for n in np.unravel_index(first_bad, tile.shape))  # position in the tile
    where = (*np.unravel_index(first[0] + g, lead), first[1] + i, first[2] + j)
    return ValueError(
        f"the attention scores q @ k.T * scale overflowed the {tile.dtype} range (inf or NaN at "
        f"{tuple(int(n) for n in where)}); got q.shape={shape_str(q_shape)}, "
        f"k.shape={shape_str(k_shape)}, scale={scale:g}. Hint: normalise q and k (their entries "
        "are usually of order 1), or use float64."
    )


def _heads(a, lead, heads, *rest) -> np.ndarray:
    """``a[heads, *rest]`` for flat leading indices ``heads`` (a range): shape (n_heads, ...).

    ``a`` keeps its leading axes broadcast to ``lead`` (a view, no memory: a key matrix shared by
    all heads is never copied per head). One leading index gives a view; several give a copy of
    just the selected part.
    """
    if len(heads) == 1:
        return a[np.unravel_index(heads.start, lead)][rest][np.newaxis]
    return a[(*np.unravel_index(np.asarray(heads), lead), *rest)]


def _use_exp2(dtype) -> bool:
    """Whether numpy's ``exp2`` kernel for ``dtype`` is as vectorised as its ``exp`` kernel.

    True on x86 with AVX-512 (both run the X86_V4 kernels), False on AVX2-only x86 (``exp2`` has
    only the baseline kernel there), on numpy without ``opt_func_info`` (before 2.0), and wherever
    numpy does not say.
    """
    code = {np.dtype(np.float32): "ff", np.dtype(np.float64): "dd"}.get(np.dtype(dtype))
    try:
        from numpy.lib.introspect import opt_func_info

        info = opt_func_info(func_name="^exp2?$", signature=f"^{np.dtype(dtype).name}$")
        target_exp, target_exp2 = (info[name][code]["current"] for name in ("exp", "exp2"))
    except Exception:  # noqa: BLE001 - no information: the safe choice
        return False
    return target_exp2 == target_exp and not target_exp2.startswith("baseline")


def _visible_keys(q0, q1, k0, k1, window):
    """How much of the causal tile (queries q0..q1-1, keys k0..k1-1) may be attended to.

    Query i sees key j iff ``0 <= i - j`` (and ``i - j < window`` when ``window`` is not None).
    Query positions here are already shifted by the alignment (``shift`` in :func:`_tiles`).
    Returns ``"none"`` (the tile is skipped: no score is computed), ``"all"`` (no mask pass) or
    ``"some"`` (a tile on the diagonal or on the window's edge: masked element by element).
    """
    far = window if window is not None else math.inf
    nearest, farthest = q0 - (k1 - 1), (q1 - 1) - k0  # the smallest and largest i - j in the tile
    if farthest < 0 or nearest >= far:
        return "none"
    if nearest >= 0 and farthest < far:
        return "all"
    return "some"


def _causal_blocked(q0, n_q, k0, n_k, window) -> np.ndarray:
    """(n_q, n_k) bool, True where query q0 + a may NOT attend key k0 + b (see _visible_keys)."""
    offset = (q0 + np.arange(n_q))[:, np.newaxis] - (k0 + np.arange(n_k))  # i - j, (n_q, n_k)
    blocked = offset < 0
    if window is not None:
        blocked |= offset >= window
    return blocked


def _tiles(q0, q1, k0, k1, causal, window, shift=0):
    """The tiles computed for queries q0..q1-1 and keys k0..k1-1: ``(q0, q1, k0, k1, visible)``.

    ``shift`` is where query 0 sits among the keys: 0 for ``"upper_left"`` alignment,
    ``seq_len_k - seq_len_q`` for ``"lower_right"`` (query i then sees keys ``j <= i + shift``).

    Causal tile skipping: above the diagonal (or beyond the window) every weight is exactly 0, so
    such a tile adds nothing to ``acc`` or ``l`` and is never computed. A tile the diagonal (or
    the window's edge) crosses is cut in four, down to ``MIN_CAUSAL_TILE``, so that its empty
    quarter is skipped too and only the smallest tiles on the diagonal pay for a mask. At
    (1, 4096, 64) float32, 52 % of the scores are computed, and causal attention takes 0.53-0.58x
    the unmasked time with one BLAS thread, 0.6-0.7x with two (more, smaller matrix products,
    each with a fixed cost), where a stored ``causal_mask`` costs 1.5-1.7x (``make bench``,
    entry ``causal``).
    """
    visible = _visible_keys(q0 + shift, q1 + shift, k0, k1, window) if causal else "all"
    if visible == "none":
        return
    if visible == "some" and min(q1 - q0, k1 - k0) >= 2 * MIN_CAUSAL_TILE:
        q_mid, k_mid = (q0 + q1) // 2, (k0 + k1) // 2
        for rows in ((q0, q_mid), (q_mid, q1)):
            for cols in ((k0, k_mid), (k_mid, k1)):
                yield from _tiles(*rows, *cols, causal, window, shift)
        return
    yield q0, q1, k0, k1, visible


def tile_plan(seq_len_q, seq_len_k, *, causal=False, window=None, chunk_size=None):
    """Which tiles ``chunked_attention`` computes, for a picture or a count of the work.

    Parameters
    ----------
    seq_len_q, seq_len_k : int
    causal, window, chunk_size
        As for :func:`chunked_attention` (``causal="lower_right"`` included).

    Returns
    -------
    tiles : list of tuple ``(q0, q1, k0, k1, masked)``
        Every tile of scores computed: queries ``q0:q1`` against keys ``k0:k1``, and whether the
        causal or window mask has to be applied inside it (a tile on the diagonal). What is not
        covered is skipped.

    Examples
    --------
    >>> tiles = tile_plan(4, 4, causal=True, chunk_size=2)
    >>> [(q0, k0, masked) for q0, q1, k0, k1, masked in tiles]
    [(0, 0, True), (2, 0, False), (2, 2, True)]
    """
    seq_len_q = check_positive_int(seq_len_q, "seq_len_q")
    seq_len_k = check_positive_int(seq_len_k, "seq_len_k")
    align, window, chunk_size = _check_causal_options(causal, window, chunk_size)
    shift = seq_len_k - seq_len_q if align == "lower_right" else 0
    return [
        (i0, i1, j0, j1, visible == "some")
        for q0 in range(0, seq_len_q, chunk_size)
        for k0 in range(0, seq_len_k, chunk_size)
        for i0, i1, j0, j1, visible in _tiles(
            q0,
            min(q0 + chunk_size, seq_len_q),
            k0,
            min(k0 + chunk_size, seq_len_k),
            align is not None,
            window,
            shift,
        )  # fmt: skip
    ]


def _check_causal_options(causal, window, chunk_size):
    """Validated ``(align, window, chunk_size)``; ``align`` is None (not causal), ``"upper_left"``
    or ``"lower_right"``. A window implies causal (upper-left unless asked); default chunk size."""
    align = check_causal_align(causal, "causal", allow_bool=True)
    if window is not None:
        window = check_positive_int(window, "window")
        align = align or "upper_left"  # a sliding window looks back only
    if chunk_size is None:
        chunk_size = CAUSAL_CHUNK_SIZE if align else DEFAULT_CHUNK_SIZE
    return align, window, check_positive_int(chunk_size, "chunk_size")


def _block_worker(
    *, q_aug, k_aug, v_ones, mask, lead, output, chunk_size, group, base2, error_context,
    causal=False, window=None, q_shift=0,
):  # fmt: skip
    """A function that runs the online softmax for one block, with buffers allocated once.

    A block is ``(first flat leading index, first query)``: up to ``group`` leading indices
    (batch entries and heads) times up to ``chunk_size`` queries, against all their keys. Shapes:
    q_aug (L, T_q, d_k + 1) = [q * scale | -r] and output (L, T_q, d_v), with L the flattened
    leading axes; k_aug (..., T_k, d_k + 1) = [k | 1], v_ones (..., T_k, d_v + 1) = [v | 1]
    and mask (..., T_q, T_k), each broadcast to the leading shape ``lead``. ``q_shift`` is the
    causal alignment (query i sees keys j <= i + q_shift; see :func:`_tiles`). With ``base2``, the
    scores in q_aug are in base 2 (scaled by log2(e)) and raised with ``np.exp2``.
    ``error_context`` is ``(q.shape, k.shape, scale)`` when a score might overflow (every tile is
    then checked), else None. Each worker thread calls this once, so each has its own buffers.
    """
    n_lead, t_q, d_k = q_aug.shape[0], q_aug.shape[1], q_aug.shape[2] - 1
    t_k, d_v, dtype = k_aug.shape[-2], output.shape[-1], q_aug.dtype
    exp = np.exp2 if base2 else np.exp
    threshold = 8.0 if base2 else RESCALE_THRESHOLD  # 2**8 = exp(log(256)) = 256
    may_overflow = error_context is not None
    g, c_q, c_k = min(group, n_lead), min(chunk_size, t_q), min(chunk_size, t_k)
    scores_buf = np.empty((g, c_q, c_k), dtype=dtype)  # (G, C, C): one tile of scores
    blocked_buf = np.empty((g, c_q, c_k), dtype=bool) if mask is not None or causal else None
    # The causal pattern of a tile depends only on where it sits relative to the diagonal (and its
    # size): with aligned chunks every diagonal tile is the same triangle, computed once.
    patterns = {}
    acc_buf = np.empty((g, c_q, d_v + 1), dtype=dtype)  # [acc | l], the running sums
    pv_buf = np.empty((g, c_q, d_v + 1), dtype=dtype)  # this tile's exp(s - r) @ [v | 1]
    # One number per query, (G, C, 1): the tile's largest shifted score, the shift applied to r.
    tile_max_buf, shift_buf = np.empty((2, g, c_q, 1), dtype=dtype)
    rebase_buf = np.empty((g, c_q, 1), dtype=bool)

    scores_flat = scores_buf.reshape(-1)  # sub-tiles use its front, contiguous

    def attend(block):
        h0, q0 = block
        heads, queries = range(h0, min(h0 + group, n_lead)), slice(q0, min(q0 + chunk_size, t_q))
        n_h, n_q = len(heads), queries.stop - q0  # the last block may be smaller: use the front
        q_blk = q_aug[h0 : heads.stop, queries]  # (n_h, n_q, d_k + 1): a view, -r is written here
        acc = acc_buf[:n_h, :n_q]
        acc.fill(0.0)

        def tile(r0, r1, k0, k1, visible):
            """Add keys k0..k1-1 to rows r0..r1-1 of the block (queries q0 + r0 ...)."""
            n_r, n_k = r1 - r0, k1 - k0
            keys = slice(k0, k1)
            q_rows, acc_rows = q_blk[:, r0:r1], acc[:, r0:r1]  # views, (n_h, n_r, ...)
            s = scores_flat[: n_h * n_r * n_k].reshape(n_h, n_r, n_k)
            k_t_tile = _heads(k_aug, lead, heads, keys).swapaxes(-1, -2)  # (n_h, d_k + 1, n_k)
            # (n_h, n_r, d_k + 1) @ (n_h, d_k + 1, n_k): q @ k.T * scale - r
            if may_overflow:
                with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                    np.matmul(q_rows, k_t_tile, out=s)
                if not np.isfinite(s).all():
                    raise _overflow_error(s, (h0, q0 + r0, k0), lead, *error_context)
            else:
                np.matmul(q_rows, k_t_tile, out=s)
            pattern = None
            if visible == "some":  # only tiles the diagonal (or the window's edge) crosses
                key = (q0 + r0 - k0, n_r, n_k)  # the pattern depends only on these
                if key not in patterns:
                    patterns[key] = _causal_blocked(q0 + r0 + q_shift, n_r, k0, n_k, window)
                pattern = patterns[key]  # (n_r, n_k), broadcast over the heads
            if mask is not None:
                blocked = blocked_buf.reshape(-1)[: n_h * n_r * n_k].reshape(n_h, n_r, n_k)
                rows = slice(q0 + r0, q0 + r1)
                np.logical_not(_heads(mask, lead, heads, rows, keys), out=blocked)
                if pattern is not None:
                    blocked |= pattern
                np.copyto(s, -np.inf, where=blocked)  # exp(-inf) = 0: no weight
            elif pattern is not None:
                np.copyto(s, -np.inf, where=pattern)
            # Move r where the scores rose more than the threshold above it, and where a query's
            # first visible scores lie far below it (nothing summed yet: l = 0). The largest
            # score of the whole tile (one number, a cheap pass) usually shows that no query
            # needs it; only then is the max of every row computed.
            run_sum = acc_rows[..., d_v:]  # l, (n_h, n_r, 1)
            if (run_sum == 0).any() or s.max() > threshold:  # the cheap test first
                tile_max = tile_max_buf[:n_h, r0:r1]
                shift, rebase = shift_buf[:n_h, r0:r1], rebase_buf[:n_h, r0:r1]
                np.max(s, axis=-1, keepdims=True, out=tile_max)  # -inf where all are masked
                np.greater(tile_max, threshold, out=rebase)
                rebase |= (run_sum == 0) & (tile_max < -threshold) & np.isfinite(tile_max)
                if rebase.any():  # rare: large scores, or the first tile of such a query
                    shift.fill(0.0)
                    np.copyto(shift, tile_max, where=rebase)
                    s -= shift  # this tile, relative to the new r
                    # [acc | l] so far, relative to the new r. (r moves down only where l = 0:
                    # there is nothing to rescale, and exp(-shift) could overflow.)
                    acc_rows *= exp(-np.maximum(shift, 0.0))
                    q_rows[..., d_k:] -= shift  # r += shift (the last column of q_aug holds -r)
            exp(s, out=s)  # exp(score - r) <= 256; exactly 0 where masked
            # (n_h, n_r, n_k) @ (n_h, n_k, d_v + 1): [exp(s) @ v | sum of exp(s)]
            pv = pv_buf[:n_h, r0:r1]
            np.matmul(s, _heads(v_ones, lead, heads, keys), out=pv)
            acc_rows += pv

        for k0 in range(0, t_k, chunk_size):
            keys = (k0, min(k0 + chunk_size, t_k))
            for i0, i1, j0, j1, visible in _tiles(q0, queries.stop, *keys, causal, window, q_shift):
                tile(i0 - q0, i1 - q0, j0, j1, visible)  # rows relative to the block
        # output = acc / l; fully masked queries (l = 0) keep the zeros output started with.
        run_sum = acc[..., d_v:]  # l
        np.divide(acc[..., :d_v], run_sum, out=output[h0 : heads.stop, queries], where=run_sum > 0)

    return attend


def chunked_attention(
    q, k, v, *, mask=None, causal=False, window=None, chunk_size=None, scale=None, workers=1
):
    """Scaled dot-product attention computed tile by tile with an online softmax.

    Same inputs, mask convention, broadcasting, validation and output as
    :func:`~attn_helpers.scaled_dot_product_attention` (equal to it within rounding: about 1e-15 in
    float64), but the full ``(seq_len_q, seq_len_k)`` matrix of scores is never built. Queries and
    keys are cut into chunks of ``chunk_size``; each worker thread holds one
    ``(chunk_size, chunk_size)`` tile of scores at a time, in a buffer allocated once and reused.
    (Many short sequences share one tile of about ``chunk_size**2`` scores.) float16 inputs are
    summed in float32, as FlashAttention does, and the output is float16. Overflow is checked on
    the scaled scores ``q @ k.T * scale``, as the plain version checks them, but shifted by ``r``.

    Parameters
    ----------
    q : array_like of shape (..., seq_len_q, d_k)
    k : array_like of shape (..., seq_len_k, d_k)
    v : array_like of shape (..., seq_len_k, d_v)
        Queries, keys and values, as for ``scaled_dot_product_attention``.
    mask : array_like of bool, broadcastable to (..., seq_len_q, seq_len_k), optional
        True where the query may attend to the key. A query with no True gets a zero output.
        (A broadcast mask such as ``padding_mask(...)`` costs no extra memory; a full
        ``causal_mask(seq_len)`` is itself ``seq_len**2`` bytes: prefer ``causal=True``.)
    causal : bool or {"upper_left", "lower_right"}, default False
        ``True`` (or ``"upper_left"``): query ``i`` attends only to keys ``j <= i``, the same as
        ``mask=causal_mask(seq_len_q, seq_len_k)``, aligned at the top-left corner as PyTorch's
        ``is_causal`` is (query 0 sees key 0, whatever the lengths). ``"lower_right"``: the
        queries are the *last* ``seq_len_q`` of the ``seq_len_k`` positions, as when decoding
        with a KV cache, so query ``i`` sees keys ``j <= i + seq_len_k - seq_len_q`` (the last
        query sees every key): ``mask=causal_mask(seq_len_q, seq_len_k, align="lower_right")``,
        PyTorch's ``causal_lower_right``, FlashAttention >= 2.1. The two agree when
        ``seq_len_q == seq_len_k``. Either way no mask is stored and the tiles above the
        diagonal are never computed (at 4096 tokens about half of them). Combined with ``mask``
        by "and".
    window : int, optional
        Sliding-window attention (Mistral, Gemma): query ``i`` attends to key ``j`` only if
        ``0 <= i - j < window``, the ``window`` most recent tokens, itself included (``i`` shifted
        by ``seq_len_k - seq_len_q`` with ``causal="lower_right"``). Implies ``causal=True``
        unless ``causal="lower_right"``; equals ``mask=sliding_window_mask(seq_len, window)``
        when square. Tiles outside the band are skipped, so the cost grows as
        ``seq_len * window`` instead of ``seq_len**2``.
    chunk_size : int, optional
        Tokens per tile, for queries and keys alike. Defaults to 1024, or 512 with ``causal`` or
        ``window`` (smaller tiles follow the diagonal more closely: fewer scores computed and
        then thrown away). Any positive integer works; lengths need not be multiples of it.
        Smaller tiles use less memory; larger ones mean fewer, bigger matrix products (each numpy
        call has a fixed cost). 1024 did best among 256 ... 2048 at 1024-4096 tokens on the
        2-core machine ``make bench`` was written on.
    scale : float, optional
        Multiplies the scores. Defaults to ``1 / sqrt(d_k)``.
    workers : int or None, default 1
        Threads that share the blocks of queries. ``1``: everything in the calling thread (the
        matrix products still use the BLAS library's own threads). ``None``: one thread per
        available CPU (within a container's CPU quota, at most 8). Never more threads than
        blocks. While extra threads run, numpy's BLAS is limited to one thread. Threads help on
        an otherwise idle machine and can hurt right after other matrix products (see the
        module's notes). The output does not depend on ``workers``.

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
    align, window, chunk_size = _check_causal_options(causal, window, chunk_size)
    if workers is not None:
        workers = check_positive_int(workers, "workers")
    d_k = q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else _check_scale(scale)
    t_q, t_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    shift = t_k - t_q if align == "lower_right" else 0  # query i sits at key position i + shift
    if mask is not None:
        mask = check_mask(mask, "mask", (*lead, t_q, t_k))
        mask = np.broadcast_to(mask, (*lead, t_q, t_k))  # a view: no memory for broadcast axes
    out_dtype = np.result_type(q, k, v)
    dtype = np.promote_types(out_dtype, np.float32)  # sums of exp() overflow float16

    # [q * scale | -r]: the scale folded into q once (seq_len_q * d_k multiplications instead of
    # one per score), r starting at 0. Broadcast against k's and v's leading axes (batch, heads),
    # then flattened into one axis of length n_lead: each query block writes its own -r here.
    n_lead = math.prod(lead)
    q_aug = np.zeros((*lead, t_q, d_k + 1), dtype=dtype)
    with np.errstate(over="ignore"):  # an overflow here is caught by the score check
        base2 = _use_exp2(dtype)
        np.multiply(q, dtype.type(scale * (LOG2_E if base2 else 1.0)), out=q_aug[..., :d_k])
    q_aug = q_aug.reshape(n_lead, t_q, d_k + 1)
    # [k | 1] and [v | 1] keep their own leading axes: keys shared by all heads stay one copy.
    k_aug = np.ones((*k.shape[:-1], d_k + 1), dtype=dtype)
    k_aug[..., :d_k] = k
    v_ones = np.ones((*v.shape[:-1], d_v + 1), dtype=dtype)
    v_ones[..., :d_v] = v
    # The running sums reach up to 256 * seq_len_k * max|v| before the final division. For values
    # near the top of the float range, divide v by a power of two (exact) and multiply it back.
    v_max = float(np.abs(v_ones[..., :d_v]).max())
    v_exponent = 0
    if v_max * 256.0 * t_k > float(np.finfo(dtype).max) / 4:
        v_exponent = math.frexp(v_max)[1]  # v_max = m * 2**v_exponent with 0.5 <= m < 1
        v_ones[..., :d_v] *= dtype.type(2.0**-v_exponent)
    with np.errstate(over="ignore"):
        # |q_i . k_j| <= |q_i| |k_j| (Cauchy-Schwarz): when that bound is below half the float
        # range, no score, nor any score minus an r (itself a score), can overflow, and the
        # per-tile check for inf and NaN is skipped.
        bound = _max_row_norm(q_aug[..., :d_k]) * _max_row_norm(k_aug[..., :d_k])
    may_overflow = not bound < np.finfo(dtype).max / 2
    output = np.zeros((n_lead, t_q, d_v), dtype=out_dtype)

    # Short sequences share a tile: up to chunk_size**2 scores of several leading indices at once.
    c_q, c_k = min(chunk_size, t_q), min(chunk_size, t_k)
    group = max(1, chunk_size * chunk_size // (c_q * c_k))
    if workers is None:
        workers = min(available_cpus(), MAX_WORKERS_PER_CPU_COUNT)
    if workers > 1:
        group = min(group, -(-n_lead // workers))  # at least one group per worker
    blocks = [(h, s) for h in range(0, n_lead, group) for s in range(0, t_q, chunk_size)]
    error_context = (q.shape, k.shape, scale) if may_overflow else None

    k_aug = np.broadcast_to(k_aug, (*lead, t_k, d_k + 1))  # views
    v_ones = np.broadcast_to(v_ones, (*lead, t_k, d_v + 1))

    def make_worker():
        return _block_worker(
            q_aug=q_aug, k_aug=k_aug, v_ones=v_ones, mask=mask, lead=lead, output=output,
            chunk_size=chunk_size, group=group, base2=base2, error_context=error_context,
            causal=align is not None, window=window, q_shift=shift,
        )  # fmt: skip

    run_in_threads(make_worker, blocks, min(workers, len(blocks)))
    if v_exponent:
        output *= out_dtype.type(2.0**v_exponent)  # undo the scaling of v
    return output.reshape(*lead, t_q, d_v)
