"""Errors that teach: every bad input the issue lists raises ValueError/TypeError at the public
boundary, and the message names the argument and the shapes involved (expected and actual).

Every input array is read-only, so a check that writes into its input would fail here too.
Never a NaN result, never an IndexError from deep inside numpy.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from attn_helpers import (
    causal_mask,
    check_shape,
    merge_heads,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
    softmax,
    split_heads,
)
from attn_helpers._validation import as_float_array, check_mask, shape_str


def ro(shape_or_values, dtype=float, fill=None) -> np.ndarray:
    """A read-only array: from a shape tuple (a ramp, all True, or ``fill``) or from values."""
    if isinstance(shape_or_values, tuple) and all(isinstance(s, int) for s in shape_or_values):
        shape = shape_or_values
        if fill is not None:
            arr = np.full(shape, fill, dtype=dtype)
        elif np.dtype(dtype) == bool:
            arr = np.ones(shape, dtype=bool)
        else:
            n = int(np.prod(shape))
            arr = (np.arange(n) / max(n, 1)).reshape(shape).astype(dtype)
            if np.dtype(dtype).kind in "iu":
                arr = np.arange(n, dtype=dtype).reshape(shape)
    else:
        arr = np.array(shape_or_values, dtype=dtype)
    arr.flags.writeable = False
    return arr


def msg(*parts: str) -> str:
    """A regex that finds the literal ``parts`` in this order (anywhere in the message)."""
    return ".*".join(re.escape(p) for p in parts)


def sdpa(q, k, v, **kw):
    return scaled_dot_product_attention(q, k, v, **kw)


def mha(x_q, x_kv=None, *, d_model=8, d_kv=None, num_heads=2, **kw):
    d_kv = d_model if d_kv is None else d_kv
    x_kv = x_q if x_kv is None else x_kv
    ws = {
        "w_q": ro((d_model, d_model)),
        "w_k": ro((d_kv, d_model)),
        "w_v": ro((d_kv, d_model)),
        "w_o": ro((d_model, d_model)),
    }
    ws.update({k: v for k, v in kw.items() if k.startswith("w_")})
    rest = {k: v for k, v in kw.items() if not k.startswith("w_")}
    return multi_head_attention(x_q, x_kv, **ws, num_heads=num_heads, **rest)


NAN_Q = np.zeros((3, 4))
NAN_Q[1, 2] = np.nan
NAN_Q.flags.writeable = False

# (id, callable, exception type, regex the message must contain)
BAD_INPUTS = [
    # ---- wrong ndim
    (
        "softmax scalar",
        lambda: softmax(ro(3.0)),
        ValueError,
        msg("x must have at least 1 axis", "x.shape=()"),
    ),
    (
        "sdpa q 1-D",
        lambda: sdpa(ro((4,)), ro((3, 4)), ro((3, 2))),
        ValueError,
        msg("q must have shape (..., seq_len_q, d_k)", "got q.shape=(4,)", "Hint"),
    ),
    (
        "sdpa k 1-D",
        lambda: sdpa(ro((3, 4)), ro((4,)), ro((3, 2))),
        ValueError,
        msg("k must have shape (..., seq_len_k, d_k)", "got k.shape=(4,)"),
    ),
    (
        "sdpa v 1-D",
        lambda: sdpa(ro((3, 4)), ro((3, 4)), ro((3,))),
        ValueError,
        msg("v must have shape (..., seq_len_k, d_v)", "got v.shape=(3,)"),
    ),
    (
        "split_heads 1-D",
        lambda: split_heads(ro((8,)), 2),
        ValueError,
        msg("x must have shape (..., seq_len, d_model)", "x.shape=(8,)"),
    ),
    (
        "merge_heads 2-D",
        lambda: merge_heads(ro((3, 8))),
        ValueError,
        msg("x must have shape (..., num_heads, seq_len, head_dim)", "x.shape=(3, 8)"),
    ),
    (
        "mha x_q 1-D",
        lambda: mha(ro((8,))),
        ValueError,
        msg("x_q must have shape (..., seq_len_q, d_model)", "x_q.shape=(8,)"),
    ),
    (
        "mha w_q 3-D",
        lambda: mha(ro((3, 8)), w_q=ro((1, 8, 8))),
        ValueError,
        msg("w_q must be a 2-D matrix of shape (d_model, d_model)", "w_q.shape=(1, 8, 8)"),
    ),
    (
        "padding_mask 2-D lengths",
        lambda: padding_mask(ro([[1, 2]], int), 3),
        ValueError,
        msg("lengths must be a 1-D list", "shape (1, 2)"),
    ),
    # ---- mismatched d_k / T_k / projections
    (
        "sdpa d_k",
        lambda: sdpa(ro((4, 8)), ro((4, 6)), ro((4, 6))),
        ValueError,
        msg("q and k must share their last axis (d_k)", "q.shape=(4, 8)", "k.shape=(4, 6)", "Hint"),
    ),
    (
        "sdpa T_k",
        lambda: sdpa(ro((4, 8)), ro((5, 8)), ro((4, 8))),
        ValueError,
        msg("k and v must have the same number of tokens", "k.shape=(5, 8)", "v.shape=(4, 8)"),
    ),
    (
        "sdpa leading axes",
        lambda: sdpa(ro((2, 4, 8)), ro((3, 4, 8)), ro((3, 4, 8))),
        ValueError,
        msg("leading", "q.shape=(2, 4, 8)", "k.shape=(3, 4, 8)", "v.shape=(3, 4, 8)"),
    ),
    (
        "mha x_q vs w_q",
        lambda: mha(ro((3, 6))),
        ValueError,
        msg("x_q @ w_q", "x_q.shape=(3, 6)", "w_q.shape=(8, 8)", "transpose"),
    ),
    (
        "mha x_kv vs w_k",
        lambda: mha(ro((3, 8)), ro((5, 6))),
        ValueError,
        msg("x_kv @ w_k", "x_kv.shape=(5, 6)", "w_k.shape=(8, 8)"),
    ),
    (
        "mha w_k width",
        lambda: mha(ro((3, 8)), w_k=ro((8, 6))),
        ValueError,
        msg(
            "w_k must have shape (d_kv, d_model) with d_model=8",
            "w_k.shape=(8, 6)",
            "w_q.shape=(8, 8)",
        ),
    ),
    (
        "mha w_o",
        lambda: mha(ro((3, 8)), w_o=ro((6, 8))),
        ValueError,
        msg("w_o", "w_o.shape=(6, 8)"),
    ),
    (
        "mha b_q shape",
        lambda: mha(ro((3, 8)), b_q=ro((4,))),
        ValueError,
        msg("b_q must have shape (8,)", "b_q.shape=(4,)"),
    ),
    (
        "mha b_o shape",
        lambda: mha(ro((3, 8)), b_o=ro((8, 1))),
        ValueError,
        msg("b_o must have shape (8,)", "b_o.shape=(8, 1)"),
    ),
    # ---- masks
    (
        "sdpa mask does not broadcast",
        lambda: sdpa(ro((4, 8)), ro((5, 8)), ro((5, 8)), mask=ro((3, 3), bool)),
        ValueError,
        msg("mask must broadcast to the weights' shape (4, 5)", "mask.shape=(3, 3)", "Hint"),
    ),
    (
        "sdpa mask T_q/T_k swapped",
        lambda: sdpa(ro((4, 8)), ro((5, 8)), ro((5, 8)), mask=ro((5, 4), bool)),
        ValueError,
        msg("(4, 5)", "mask.shape=(5, 4)"),
    ),
    (
        "sdpa mask enlarges",
        lambda: sdpa(ro((4, 8)), ro((5, 8)), ro((5, 8)), mask=ro((2, 4, 5), bool)),
        ValueError,
        msg("mask.shape=(2, 4, 5)", "enlarge", "(4, 5)"),
    ),
    (
        "mha mask does not broadcast",
        lambda: mha(ro((2, 3, 8)), mask=causal_mask(4)),
        ValueError,
        msg("mask must broadcast", "(2, 3, 3)", "mask.shape=(4, 4)"),
    ),
    (
        "sdpa non-boolean mask",
        lambda: sdpa(ro((4, 8)), ro((4, 8)), ro((4, 8)), mask=ro((4, 4), int)),
        TypeError,
        msg("mask must be boolean (True = may attend)", "int64"),
    ),
    (
        "sdpa additive float mask",
        lambda: sdpa(ro((2, 8)), ro((2, 8)), ro((2, 8)), mask=ro([[0.0, -np.inf], [0.0, 0.0]])),
        TypeError,
        msg("mask must be boolean", "float64", "mask == 0"),
    ),
    (
        "mha non-boolean mask",
        lambda: mha(ro((3, 8)), mask=causal_mask(3).astype(int)),
        TypeError,
        msg("mask must be boolean"),
    ),
    # ---- divisibility
    (
        "split_heads divisible",
        lambda: split_heads(ro((3, 10)), 4),
        ValueError,
        msg(
            "d_model must be divisible by num_heads",
            "d_model=10",
            "x.shape=(3, 10)",
            "num_heads=4",
            "Hint",
        ),
    ),
    (
        "mha divisible",
        lambda: mha(ro((3, 10)), d_model=10, num_heads=4),
        ValueError,
        msg(
            "d_model must be divisible by num_heads",
            "d_model=10",
            "w_q.shape=(10, 10)",
            "num_heads=4",
        ),
    ),
    (  # GQA: num_heads=3 is a multiple of num_kv_heads=1; the rule broken is d_model % num_heads
        "mha gqa divisible blames num_heads",
        lambda: multi_head_attention(
            ro((4, 8)),
            ro((4, 8)),
            ro((8, 8)),
            ro((8, 8)),
            ro((8, 8)),
            ro((8, 8)),
            num_heads=3,
            num_kv_heads=1,
        ),  # fmt: skip
        ValueError,
        msg("d_model must be divisible by num_heads", "d_model=8", "num_heads=3", "[1, 2, 4, 8]"),
    ),
    (
        "num_heads zero",
        lambda: split_heads(ro((3, 8)), 0),
        ValueError,
        msg("num_heads must be a positive integer; got 0"),
    ),
    (
        "num_heads float",
        lambda: split_heads(ro((3, 8)), 2.0),
        TypeError,
        msg("num_heads must be a positive integer", "2.0"),
    ),
    (
        "num_heads bool",
        lambda: mha(ro((3, 8)), num_heads=True),
        TypeError,
        msg("num_heads", "True"),
    ),
    # ---- NaN and inf
    (
        "softmax NaN",
        lambda: softmax(ro([0.0, np.nan])),
        ValueError,
        msg("x contains NaN at (1,)", "Hint"),
    ),
    (
        "sdpa q NaN",
        lambda: sdpa(NAN_Q, ro((3, 4)), ro((3, 4))),
        ValueError,
        msg("q contains NaN at (1, 2)"),
    ),
    ("sdpa v NaN", lambda: sdpa(ro((3, 4)), ro((3, 4)), NAN_Q), ValueError, msg("v contains NaN")),
    (
        "mha w_v NaN",
        lambda: mha(ro((3, 4)), d_model=4, w_v=ro((4, 4), fill=np.nan)),
        ValueError,
        msg("w_v contains NaN"),
    ),
    (
        "softmax +inf",
        lambda: softmax(ro([0.0, np.inf])),
        ValueError,
        msg("x contains +inf at (1,)"),
    ),
    (
        "sdpa k -inf",
        lambda: sdpa(ro((3, 4)), ro((3, 4), fill=-np.inf), ro((3, 4))),
        ValueError,
        msg("k contains -inf", "mask"),
    ),
    # ---- empty sequences
    ("softmax empty list", lambda: softmax([]), ValueError, msg("x is empty: x.shape=(0,)")),
    (
        "softmax empty axis",
        lambda: softmax(ro((3, 0))),
        ValueError,
        msg("x is empty: x.shape=(3, 0)"),
    ),
    (
        "sdpa empty q",
        lambda: sdpa(ro((0, 4)), ro((3, 4)), ro((3, 4))),
        ValueError,
        msg("q is empty: q.shape=(0, 4)"),
    ),
    (
        "sdpa empty k",
        lambda: sdpa(ro((2, 4)), ro((0, 4)), ro((0, 4))),
        ValueError,
        msg("k is empty: k.shape=(0, 4)"),
    ),
    (
        "sdpa empty d_k",
        lambda: sdpa(ro((2, 0)), ro((2, 0)), ro((2, 4))),
        ValueError,
        msg("q is empty: q.shape=(2, 0)"),
    ),
    (
        "split_heads empty",
        lambda: split_heads(ro((0, 8)), 2),
        ValueError,
        msg("x is empty: x.shape=(0, 8)"),
    ),
    ("mha empty", lambda: mha(ro((0, 8))), ValueError, msg("x_q is empty: x_q.shape=(0, 8)")),
    (
        "causal_mask 0",
        lambda: causal_mask(0),
        ValueError,
        msg("seq_len must be a positive integer; got 0"),
    ),
    (
        "padding_mask no lengths",
        lambda: padding_mask([], 3),
        ValueError,
        msg("lengths", "shape (0,)"),
    ),
    (
        "sinusoidal d_model 0",
        lambda: sinusoidal_positions(4, 0),
        ValueError,
        msg("d_model must be a positive integer"),
    ),
    # ---- non-numeric
    (
        "softmax strings",
        lambda: softmax(["a", "b"]),
        TypeError,
        msg("x must be a numeric array", "<U1", "'a'"),
    ),
    (
        "sdpa complex",
        lambda: sdpa(ro((2, 2), complex), ro((2, 2)), ro((2, 2))),
        TypeError,
        msg("q must be real-valued", "complex128"),
    ),
    (
        "sdpa strings",
        lambda: sdpa(ro((2, 2)), [["x", "y"]], ro((2, 2))),
        TypeError,
        msg("k must be a numeric array"),
    ),
    ("softmax None", lambda: softmax(None), (TypeError, ValueError), msg("x must be")),
    (
        "mha datetime",
        lambda: mha(np.array([["2020-01-01"] * 8], dtype="datetime64[D]")),
        TypeError,
        msg("x_q must be a numeric array", "datetime64"),
    ),
    (
        "padding_mask string lengths",
        lambda: padding_mask(["3"], 3),
        TypeError,
        msg("lengths must be whole numbers"),
    ),
    (
        "padding_mask fractional",
        lambda: padding_mask([1.5], 3),
        TypeError,
        msg("lengths must be whole numbers", "1.5"),
    ),
    (
        "causal_mask float",
        lambda: causal_mask(3.0),
        TypeError,
        msg("seq_len must be a positive integer", "3.0"),
    ),
    (
        "softmax axis float",
        lambda: softmax(ro((2, 3)), axis=1.0),
        TypeError,
        msg("axis must be an integer", "1.0"),
    ),
    (
        "softmax axis out of range",
        lambda: softmax(ro((2, 3)), axis=2),
        ValueError,
        msg("axis=2 is out of range", "2 axes"),
    ),
    # ---- lists of unequal length
    (
        "softmax ragged",
        lambda: softmax([[1.0, 2.0], [3.0]]),
        ValueError,
        msg("x must be a rectangular array", "unequal"),
    ),
    (
        "sdpa ragged q",
        lambda: sdpa([[1.0, 2.0], [3.0]], ro((2, 2)), ro((2, 2))),
        ValueError,
        msg("q must be a rectangular"),
    ),
    (
        "sdpa ragged mask",
        lambda: sdpa(ro((2, 2)), ro((2, 2)), ro((2, 2)), mask=[[True, False], [True]]),
        ValueError,
        msg("mask must be a rectangular"),
    ),
    (
        "mha ragged w_o",
        lambda: mha(ro((3, 2)), d_model=2, w_o=[[1.0, 0.0], [1.0]]),
        ValueError,
        msg("w_o must be a rectangular"),
    ),
    (
        "padding_mask ragged",
        lambda: padding_mask([[1, 2], [3]], 3),
        ValueError,
        msg("lengths must be"),
    ),
    # ---- out of range numbers
    (
        "temperature zero",
        lambda: softmax(ro((3,)), temperature=0),
        ValueError,
        msg("temperature must be a positive, finite number; got 0", "Hint"),
    ),
    (
        "temperature negative",
        lambda: softmax(ro((3,)), temperature=-1.0),
        ValueError,
        msg("temperature", "got -1.0"),
    ),
    (
        "temperature inf",
        lambda: softmax(ro((3,)), temperature=np.inf),
        ValueError,
        msg("temperature", "inf"),
    ),
    (
        "temperature NaN",
        lambda: softmax(ro((3,)), temperature=float("nan")),
        ValueError,
        msg("temperature", "nan"),
    ),
    (
        "temperature text",
        lambda: softmax(ro((3,)), temperature="hot"),
        TypeError,
        msg("temperature must be a positive number", "'hot'"),
    ),
    (
        "scale zero",
        lambda: sdpa(ro((2, 2)), ro((2, 2)), ro((2, 2)), scale=0.0),
        ValueError,
        msg("scale must be a positive"),
    ),
    (
        "padding_mask too long",
        lambda: padding_mask([2, 4], 3),
        ValueError,
        msg("every length must be between 0 and seq_len=3", "[2, 4]"),
    ),
    (
        "padding_mask negative",
        lambda: padding_mask([-1], 3),
        ValueError,
        msg("between 0 and seq_len=3", "[-1]"),
    ),
    (
        "sinusoidal base",
        lambda: sinusoidal_positions(4, 8, base=0.0),
        ValueError,
        msg("base must be a positive"),
    ),
    # ---- the leading axes of x_q and x_kv in multi_head_attention, with a mask
    (
        "mha leading axes with mask",
        lambda: mha(ro((2, 3, 8)), ro((4, 3, 8)), mask=causal_mask(3)),
        ValueError,
        msg("x_q.shape=(2, 3, 8)", "x_kv.shape=(4, 3, 8)"),
    ),
    (
        "mha leading axes",
        lambda: mha(ro((2, 3, 8)), ro((4, 3, 8))),
        ValueError,
        msg("x_q and x_kv", "x_q.shape=(2, 3, 8)", "x_kv.shape=(4, 3, 8)", "Hint"),
    ),
    # ---- overflow
    (
        "sdpa scores overflow to +inf",
        lambda: sdpa(ro((1, 2), fill=1e200), ro((1, 2), fill=1e200), ro((1, 2))),
        ValueError,
        msg("overflow", "Hint"),
    ),
    (
        "sdpa scores overflow to -inf",
        lambda: sdpa(ro((1, 2), fill=1e200), ro((1, 2), fill=-1e200), ro((1, 2))),
        ValueError,
        msg("overflow", "Hint"),
    ),
    (
        "sdpa scale overflow",
        lambda: sdpa(ro((1, 2), fill=1e150), ro((2, 2), fill=1e150), ro((2, 2)), scale=1e10),
        ValueError,
        msg("overflow"),
    ),
    # ---- check_shape
    (
        "check_shape axis",
        lambda: check_shape(ro((4, 8)), (4, 6)),
        ValueError,
        msg("expected shape (4, 6) but got (4, 8)", "axis 1 has length 8, expected 6"),
    ),
    (
        "check_shape ndim",
        lambda: check_shape(ro((4, 8)), (None,)),
        ValueError,
        msg("expected shape (None,) but got (4, 8)", "2 axes instead of 1"),
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "pattern"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_raises_a_teaching_error(call, exc, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the teaching error must come first, not a RuntimeWarning
        with pytest.raises(exc, match=pattern) as info:
            call()
    assert not isinstance(info.value, IndexError)
    message = str(info.value)
    assert message[0].islower() or message[0] in "([", "messages continue a sentence"
    assert "\n" not in message


def test_bad_inputs_are_all_distinct_cases():
    ids = [c[0] for c in BAD_INPUTS]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- the validation helpers


def test_shape_str_formats_like_numpy():
    assert shape_str((4, 8)) == "(4, 8)"
    assert shape_str((3,)) == "(3,)"
    assert shape_str(()) == "()"
    assert shape_str((None, 8)) == "(None, 8)"
    assert shape_str([2, 3]) == "(2, 3)"


def test_as_float_array_keeps_float_dtypes_and_converts_the_rest():
    for dtype in (np.float16, np.float32, np.float64):
        assert as_float_array(ro((2,), dtype), "x").dtype == dtype
    for dtype in (np.int8, np.int64, np.uint16, bool):
        assert as_float_array(np.ones(2, dtype=dtype), "x").dtype == np.float64
    assert as_float_array([1, 2], "x").dtype == np.float64


def test_as_float_array_returns_the_same_array_when_nothing_to_convert():
    x = ro((2, 3))
    assert as_float_array(x, "x") is x  # no copy, no write


def test_check_mask_accepts_broadcastable_boolean_masks():
    out = check_mask([[True, False]], "mask", (3, 2))
    assert out.dtype == bool
    check_mask(ro((2, 1, 1, 4), bool), "mask", (2, 3, 3, 4))
    check_mask(np.bool_(True), "mask", (3, 4))  # a scalar broadcasts to anything
