"""Errors that teach: every check on user input lives here.

Each function takes the argument's *name* so the message can say which argument is wrong,
what was expected, what arrived, and what to try. The public functions in ``core`` call these
at their boundary, so a learner never sees an ``IndexError`` from deep inside numpy, and never
gets a silent NaN back.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = [
    "as_float_array",
    "asarray_or_explain",
    "check_allocation",
    "check_causal_align",
    "check_heads",
    "check_mask",
    "check_ndim_at_least",
    "check_no_neg_inf",
    "check_positive_int",
    "check_qkv",
    "check_shape",
    "shape_str",
]


def shape_str(shape) -> str:
    """Format a shape the way numpy prints it: ``(4, 8)``, ``(3,)``, ``()``."""
    shape = tuple(shape)
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def asarray_or_explain(x, name: str) -> np.ndarray:
    """``np.asarray(x)``, but a ragged nested list raises an error that names ``name``."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except ValueError as err:  # numpy >= 1.24 raises for ragged nested lists
        raise ValueError(
            f"{name} must be a rectangular array, but it looks like a list of rows with "
            f"unequal lengths. Hint: every row of {name} needs the same number of entries."
        ) from err


def as_float_array(x, name: str, *, min_ndim: int = 0) -> np.ndarray:
    """Convert ``x`` to a floating-point ndarray, or raise an error that names ``name``.

    Integers and booleans become float64; float32/float16/float64 keep their dtype. The input is
    never modified (a view or copy is returned; read-only inputs are fine).

    Raises
    ------
    TypeError
        If ``x`` is not numeric (strings, objects, complex numbers).
    ValueError
        If ``x`` is ragged (lists of unequal length), has fewer than ``min_ndim`` axes, has an
        empty axis, or contains NaN or +inf.
    """
    arr = asarray_or_explain(x, name)
    if arr.dtype == object:
        raise ValueError(
            f"{name} must be a rectangular numeric array; got an object array of shape "
            f"{shape_str(arr.shape)} (lists of unequal length or mixed types). Hint: check that "
            f"every row of {name} has the same length."
        )
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued; got complex dtype {arr.dtype}.")
    elif arr.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a numeric array; got dtype {arr.dtype} "
            f"(for example {str(arr.flat[0])!r} in {name}). Hint: convert text to numbers first."
            if arr.size
            else f"{name} must be a numeric array; got dtype {arr.dtype}."
        )
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} {'axis' if min_ndim == 1 else 'axes'}; got "
            f"{name}.shape={shape_str(arr.shape)}."
            + (
                " Hint: a single vector of shape (d,) can be made a sequence of one token "
                f"with {name}[None, :]."
                if arr.ndim == 1 and min_ndim == 2
                else ""
            )
        )
    if arr.size == 0:
        raise ValueError(
            f"{name} is empty: {name}.shape={shape_str(arr.shape)}. Attention needs at least one "
            "token and one feature. Hint: check the sequence you passed is not empty."
        )
    if np.isnan(arr).any():
        raise ValueError(
            f"{name} contains NaN at {_first_index(np.isnan(arr))}; results would be NaN too. "
            "Hint: look for a division by zero or an overflow earlier in your computation."
        )
    if np.isposinf(arr).any():
        raise ValueError(
            f"{name} contains +inf at {_first_index(np.isposinf(arr))}. Hint: use a large finite "
            "number, or -inf only for positions that must get zero weight."
        )
    return arr


def _first_index(bool_arr: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(bool_arr)[0])


def check_no_neg_inf(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` has -inf (allowed for softmax logits, not for q, k, v)."""
    if np.isneginf(arr).any():
        raise ValueError(
            f"{name} contains -inf at {_first_index(np.isneginf(arr))}. Hint: mask positions with "
            "the `mask` argument (True = may attend) instead of writing -inf into the inputs."
        )


def _memory_limit() -> int:
    """Bytes one array may take: half the machine's physical memory (16 GiB if unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):  # not POSIX, or not reported
        return 16 * 2**30


def _bytes_str(n: int) -> str:
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} bytes"


def check_allocation(
    nbytes: int, what: str, shape_doc: str, *, per_row: int | None = None, limit: int | None = None
) -> None:
    """Raise *before* allocating if an array of ``nbytes`` would not fit in memory.

    Without this, ``causal_mask(10**6)`` ends in numpy's bare ``MemoryError`` (or worse, the
    operating system kills the kernel); the message says how much was asked for, how much fits
    (``per_row``: bytes per token of a square mask, to say which ``seq_len`` would fit) and where
    to go for long sequences.
    """
    limit = _memory_limit() if limit is None else limit
    if nbytes > limit:
        fits = f" (seq_len <= {math.isqrt(limit // per_row):,} fits)" if per_row else ""
        raise ValueError(
            f"{what} would need {_bytes_str(nbytes)} ({nbytes:,} bytes) for its {shape_doc}, more "
            f"than this machine can spare ({_bytes_str(limit)}){fits}. Hint: for long sequences "
            "use chunked_attention(q, k, v, causal=True) (or window=...), which never builds "
            "the (seq_len, seq_len) scores nor a causal mask, and takes a broadcast mask such "
            "as padding_mask(...) at no memory cost."
        )


def check_ndim_at_least(arr: np.ndarray, name: str, ndim: int, axes_doc: str) -> None:
    """Raise if ``arr`` has fewer than ``ndim`` axes; ``axes_doc`` names them, e.g. ``(..., T, d)``."""
    if arr.ndim < ndim:
        raise ValueError(
            f"{name} must have shape {axes_doc} (at least {ndim} axes); got "
            f"{name}.shape={shape_str(arr.shape)}. Hint: add a sequence axis with {name}[None, :]."
        )


def check_mask(mask, name: str, target_shape: tuple) -> np.ndarray:
    """Return ``mask`` as a boolean array that broadcasts to ``target_shape``, or raise.

    The course's one convention: ``True`` means *may attend*, as in ``np.tril``.
    """
    arr = asarray_or_explain(mask, name)
    if arr.dtype != bool:
        hint = (
            " If you have an additive mask (0 = keep, -inf = block), convert it with "
            f"`{name} == 0`; if True means 'block' in your source, pass `~{name}`."
        )
        raise TypeError(f"{name} must be boolean (True = may attend); got dtype {arr.dtype}.{hint}")
    try:
        np.broadcast_shapes(arr.shape, target_shape)
    except ValueError as err:
        raise ValueError(
            f"{name} must broadcast to the weights' shape {shape_str(target_shape)} "
            f"(..., seq_len_q, seq_len_k); got {name}.shape={shape_str(arr.shape)}. Hint: a causal "
            "mask is (seq_len, seq_len); a padding mask is (batch, 1, seq_len_k), with an extra "
            "axis (batch, 1, 1, seq_len_k) when there are heads."
        ) from err
    if np.broadcast_shapes(arr.shape, target_shape) != tuple(target_shape):
        raise ValueError(
            f"{name}.shape={shape_str(arr.shape)} would enlarge the weights' shape "
            f"{shape_str(target_shape)} when broadcast. Hint: the mask may only have axes of "
            "length 1 where the weights have more."
        )
    return arr


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer; got {value!r} ({type(value).__name__})."
        )
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value}.")
    return int(value)


def check_heads(d_model, num_heads, *, num_kv_heads=None, d_model_from: str = "") -> int:
    """Return ``head_dim = d_model // num_heads``, or raise naming the argument that breaks the rule.

    The one place the rule "d_model must be divisible by num_heads" is written (every module that
    splits features into heads calls it). With ``num_kv_heads`` (grouped-query attention) the
    second rule is checked after the first: ``num_heads`` must be a multiple of ``num_kv_heads``.

    Parameters
    ----------
    d_model : int
        The width that is split into heads.
    num_heads : int
        The number of (query) heads.
    num_kv_heads : int, optional
        The number of key/value heads (GQA); each serves ``num_heads // num_kv_heads`` query heads.
    d_model_from : str, optional
        Where ``d_model`` was read, for the message (for example ``"w_q.shape=(8, 8)"``).

    Examples
    --------
    >>> check_heads(8, 2)
    4
    >>> check_heads(8, 3, num_kv_heads=1)
    Traceback (most recent call last):
    ...
    ValueError: d_model must be divisible by num_heads (each head gets head_dim = d_model // num_heads features); got d_model=8 and num_heads=3. Hint: num_heads in [1, 2, 4, 8].
    """
    d_model = check_positive_int(d_model, "d_model")
    num_heads = check_positive_int(num_heads, "num_heads")
    if d_model % num_heads:
        origin = f" ({d_model_from})" if d_model_from else ""
        divisors = [h for h in range(1, d_model + 1) if d_model % h == 0]
        raise ValueError(
            "d_model must be divisible by num_heads (each head gets head_dim = d_model // "
            f"num_heads features); got d_model={d_model}{origin} and num_heads={num_heads}. "
            f"Hint: num_heads in {divisors[:8]}."
        )
    if num_kv_heads is not None:
        num_kv_heads = check_positive_int(num_kv_heads, "num_kv_heads")
        if num_heads % num_kv_heads:
            raise ValueError(
                "num_heads must be a multiple of num_kv_heads (each key/value head serves a group "
                f"of query heads); got num_heads={num_heads} and num_kv_heads={num_kv_heads}. "
                f"Hint: num_kv_heads in {[g for g in range(1, num_heads + 1) if num_heads % g == 0]}."
            )
    return d_model // num_heads


CAUSAL_ALIGNMENTS = ("upper_left", "lower_right")


def check_causal_align(value, name: str, *, allow_bool: bool = False) -> str | None:
    """Return the causal alignment ``"upper_left"`` or ``"lower_right"`` (None: not causal), or raise.

    ``"upper_left"`` (the default everywhere, ``True``): query ``i`` sees keys ``j <= i``, as
    PyTorch's ``is_causal``. ``"lower_right"``: the queries are the *last* ``seq_len_q`` of the
    ``seq_len_k`` positions (decoding with a KV cache), so query ``i`` sees keys
    ``j <= i + seq_len_k - seq_len_q``, as PyTorch's ``causal_lower_right`` and FlashAttention
    >= 2.1. With ``allow_bool``, ``True`` means ``"upper_left"`` and ``False`` means not causal.
    """
    if allow_bool and isinstance(value, (bool, np.bool_)):
        return "upper_left" if value else None
    if isinstance(value, str) and value in CAUSAL_ALIGNMENTS:
        return value
    accepted = "True, False, " if allow_bool else ""
    raise (ValueError if isinstance(value, str) else TypeError)(
        f"{name} must be {accepted}'upper_left' or 'lower_right'; got {value!r}. Hint: "
        "'lower_right' aligns the last query with the last key (decoding with a KV cache: the "
        "queries are the last tokens); 'upper_left' aligns query 0 with key 0."
        + (" To pass a mask, use mask=...." if allow_bool else "")
    )


def check_shape(x, expected) -> None:
    """Raise a ValueError naming both shapes if ``x.shape`` does not match ``expected``.

    Meant for notebooks: ``check_shape(weights, (seq_len, seq_len))`` after each computation, so a
    notebook fails loudly if it goes stale. ``None`` in ``expected`` matches any length.

    Parameters
    ----------
    x : array_like
        The array to check.
    expected : tuple of int or None
        The expected shape.

    Examples
    --------
    >>> import numpy as np
    >>> check_shape(np.zeros((4, 8)), (4, None))
    >>> check_shape(np.zeros((4, 8)), (4, 6))
    Traceback (most recent call last):
    ...
    ValueError: expected shape (4, 6) but got (4, 8): axis 1 has length 8, expected 6.
    """
    actual = tuple(np.shape(x))
    expected = tuple(expected)
    if len(actual) != len(expected):
        raise ValueError(
            f"expected shape {shape_str(expected)} but got {shape_str(actual)}: "
            f"{len(actual)} axes instead of {len(expected)}."
        )
    for axis, (a, e) in enumerate(zip(actual, expected)):
        if e is not None and a != e:
            raise ValueError(
                f"expected shape {shape_str(expected)} but got {shape_str(actual)}: "
                f"axis {axis} has length {a}, expected {e}."
            )


def check_qkv(q, k, v):
    """Validate attention inputs; return them as float arrays plus their broadcast leading shape.

    q is (..., seq_len_q, d_k), k is (..., seq_len_k, d_k), v is (..., seq_len_k, d_v). Shared by
    ``scaled_dot_product_attention`` and ``chunked_attention`` so both explain bad input alike.

    Returns
    -------
    q, k, v : ndarray
    lead : tuple of int
        The broadcast shape of the leading (batch, head) axes.
    """
    q = as_float_array(q, "q")
    k = as_float_array(k, "k")
    v = as_float_array(v, "v")
    check_ndim_at_least(q, "q", 2, "(..., seq_len_q, d_k)")
    check_ndim_at_least(k, "k", 2, "(..., seq_len_k, d_k)")
    check_ndim_at_least(v, "v", 2, "(..., seq_len_k, d_v)")
    for arr, name in ((q, "q"), (k, "k"), (v, "v")):
        check_no_neg_inf(arr, name)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share their last axis (d_k); got q.shape={shape_str(q.shape)} and "
            f"k.shape={shape_str(k.shape)}. Hint: both come from projections with the same "
            "output size; check w_q and w_k."
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of tokens (seq_len_k, axis -2); got "
            f"k.shape={shape_str(k.shape)} and v.shape={shape_str(v.shape)}. Hint: every key "
            "needs exactly one value."
        )
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError as err:
        raise ValueError(
            f"the leading (batch/head) axes of q, k and v do not broadcast: "
            f"q.shape={shape_str(q.shape)}, k.shape={shape_str(k.shape)}, "
            f"v.shape={shape_str(v.shape)}. Hint: leading axes must be equal or 1."
        ) from err
    return q, k, v, lead
