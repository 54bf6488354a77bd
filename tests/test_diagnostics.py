"""Tests for attn_helpers.diagnostics: every detector passes the correct code and catches its bugs.

The bug zoo below is the one notebook 07 shows: each broken function is a classic, public bug.
A detector that passes everything is a bug too, so each one is run on both sides.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from attn_helpers import causal_mask, padding_mask, scaled_dot_product_attention, split_heads
from attn_helpers.diagnostics import (
    Diagnosis,
    causality_leak,
    find_nan,
    heads_loop_vs_batched,
    measured_scale,
    rows_sum_to_one,
)

# --------------------------------------------------------------------------- the bug zoo


def _naive_softmax(scores, axis=-1):
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def correct_attention(q, k, v, mask=None):
    return scaled_dot_product_attention(q, k, v, mask=mask)


def wrong_axis_attention(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = _naive_softmax(scores, axis=-2)  # Bug: over the queries
    return weights @ v, weights


def inverted_mask_attention(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, -1e9, scores)  # Bug: True taken to mean "block"
    weights = _naive_softmax(scores)
    return weights @ v, weights


def mask_after_softmax_attention(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    weights = _naive_softmax(scores)
    if mask is not None:
        weights = weights * mask  # Bug: the future still shaped the denominator
    return weights @ v, weights


def d_model_scale_attention(q, k, v, mask=None):
    num_heads, head_dim = q.shape[-3], q.shape[-1]
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(num_heads * head_dim)  # Bug: sqrt(d_model)
    weights = _naive_softmax(scores)
    return weights @ v, weights


def unscaled_attention(q, k, v, mask=None):
    weights = _naive_softmax(q @ k.swapaxes(-1, -2))  # Bug: no 1/sqrt(d_k)
    return weights @ v, weights


def reshape_only_split_heads(x, num_heads):
    seq_len, d_model = x.shape
    return x.reshape(num_heads, seq_len, d_model // num_heads)  # Bug: no transpose


def fill_1e9_attention(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]).astype(q.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        scores = np.where(mask, scores, q.dtype.type(-1e9))  # Bug: -1e9 is -inf in float16
        weights = _naive_softmax(scores)
    return weights @ v, weights


def minus_inf_naive_attention(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    scores = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):
        weights = _naive_softmax(scores)  # Bug: a fully masked row is -inf - -inf = NaN
    return weights @ v, weights


# --------------------------------------------------------------------------- Diagnosis


def test_diagnosis_is_truthy_only_when_ok_and_prints_its_verdict():
    good, bad = Diagnosis("x", True, "fine"), Diagnosis("x", False, "broken")
    assert good
    assert not bad
    assert str(good) == "PASS [x] fine"
    assert repr(bad) == "FAIL [x] broken"


# --------------------------------------------------------------------------- causality


def test_causality_passes_correct_attention_and_output_only_functions():
    assert causality_leak(correct_attention)
    assert causality_leak(lambda q, k, v, mask=None: correct_attention(q, k, v, mask)[0])


def test_causality_catches_an_inverted_mask_from_the_weights():
    d = causality_leak(inverted_mask_attention)
    assert not d
    assert "later token" in d.message
    assert "inverted" in d.message


def test_causality_catches_mask_after_softmax_from_the_outputs():
    d = causality_leak(mask_after_softmax_attention)
    assert not d
    assert "changed the output of the earlier token" in d.message
    assert "after the softmax" in d.message


def test_causality_catches_a_function_that_ignores_the_mask():
    d = causality_leak(lambda q, k, v, mask=None: correct_attention(q, k, v)[0])
    assert not d
    assert "leaks from the future" in d.message


def test_causality_needs_a_future():
    with pytest.raises(ValueError, match="seq_len must be at least 2"):
        causality_leak(correct_attention, seq_len=1)


# --------------------------------------------------------------------------- rows sum to one


def test_rows_sum_to_one_passes_correct_weights_with_and_without_mask():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 2, 5, 4))
    _, w = correct_attention(q, k, v)
    assert rows_sum_to_one(w)
    mask = padding_mask([0, 3], 5)
    _, w = correct_attention(q, k, v, mask=mask)
    d = rows_sum_to_one(w, mask=mask)
    assert d
    assert "5 fully masked rows" in d.message


def test_rows_sum_to_one_recognises_the_wrong_axis():
    rng = np.random.default_rng(1)
    _, w = wrong_axis_attention(*rng.normal(size=(3, 6, 4)))
    d = rows_sum_to_one(w)
    assert not d
    assert "columns sum to 1" in d.message
    assert "axis=-1" in d.message


def test_rows_sum_to_one_catches_mask_after_softmax():
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(3, 6, 4))
    mask = causal_mask(6)
    _, w = mask_after_softmax_attention(q, k, v, mask=mask)
    d = rows_sum_to_one(w, mask=mask)
    assert not d
    assert "do not sum to 1" in d.message
    assert "zeroed after the softmax" in d.message


def test_rows_sum_to_one_catches_weight_on_masked_keys_nan_and_negative():
    mask = causal_mask(3)
    assert "masked key" in rows_sum_to_one(np.full((3, 3), 1 / 3), mask=mask).message
    assert "NaN" in rows_sum_to_one(np.array([[np.nan, np.nan], [0.5, 0.5]])).message
    assert "negative" in rows_sum_to_one(np.array([[1.5, -0.5], [0.5, 0.5]])).message
    with pytest.raises(ValueError, match="seq_len_q, seq_len_k"):
        rows_sum_to_one(np.ones(3))


# --------------------------------------------------------------------------- heads


def test_heads_passes_split_heads_and_a_loop():
    assert heads_loop_vs_batched(split_heads)
    assert heads_loop_vs_batched(
        lambda x, h: np.stack(np.split(x, h, axis=-1)), num_heads=4, d_model=12
    )


def test_heads_recognises_reshape_without_transpose():
    d = heads_loop_vs_batched(reshape_only_split_heads)
    assert not d
    assert "reshape without the transpose" in d.message


def test_heads_reports_wrong_shapes_and_bad_sizes():
    d = heads_loop_vs_batched(lambda x, h: x.reshape(x.shape[0], h, -1))
    assert not d
    assert "(2, 5, 4)" in d.message
    with pytest.raises(ValueError, match="divisible"):
        heads_loop_vs_batched(split_heads, d_model=7, num_heads=2)


# --------------------------------------------------------------------------- scale


def test_measured_scale_passes_the_correct_scale_single_and_multi_head():
    d = measured_scale(correct_attention, d_k=16)
    assert d
    assert "0.25" in d.message
    assert measured_scale(correct_attention, d_k=8, num_heads=4)


def test_measured_scale_recognises_d_model_and_no_scaling():
    d = measured_scale(d_model_scale_attention, d_k=8, num_heads=4)
    assert not d
    assert "d_model=32" in d.message
    d = measured_scale(unscaled_attention, d_k=8)
    assert not d
    assert "not scaled at all" in d.message
    assert f"{1 / math.sqrt(8):.4g}" in d.message


# --------------------------------------------------------------------------- NaN


def test_find_nan_passes_clean_arrays_and_names_the_bad_one():
    assert find_nan(output=np.ones((2, 3)), weights=np.eye(2))
    d = find_nan(output=np.ones((2, 3)), weights=np.array([[np.nan, np.nan], [0.5, 0.5]]))
    assert not d
    assert d.message.startswith("weights")
    assert "entirely NaN" in d.message
    assert "1 of 2 rows" in d.message
    with pytest.raises(TypeError):
        find_nan()


def test_find_nan_catches_the_fully_masked_padding_row():
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(3, 2, 4, 4))
    mask = padding_mask([0, 4], 4)  # the first sequence is all padding
    output, weights = minus_inf_naive_attention(q, k, v, mask)
    d = find_nan(output=output)
    assert not d
    assert "all masked" in d.message
    assert "float16" not in d.message  # the float16 fill value is no suspect in float64
    assert find_nan(output=correct_attention(q, k, v, mask)[0])


def test_find_nan_catches_the_float16_fill_value():
    rng = np.random.default_rng(4)
    q, k, v = rng.normal(size=(3, 2, 4, 4)).astype(np.float16)
    mask = padding_mask([0, 4], 4)
    with np.errstate(over="ignore"):
        assert np.float16(-1e9) == -np.inf  # why the fill value fails in float16
    output, _ = fill_1e9_attention(q, k, v, mask)
    d = find_nan(output=output)
    assert not d
    assert "-1e9" in d.message
    assert "float16" in d.message
    output32, _ = fill_1e9_attention(*(a.astype(np.float32) for a in (q, k, v)), mask)
    assert find_nan(output=output32), "in float32, -1e9 is finite: no NaN (uniform weights instead)"


# --------------------------------------------------------------------------- suspects that return junk (issue 12)

_JUNK = {
    "None": lambda q, k, v, mask=None: None,
    "NaN": lambda q, k, v, mask=None: np.full(v.shape[:-2] + (q.shape[-2], v.shape[-1]), np.nan),
    "inf": lambda q, k, v, mask=None: np.full(v.shape[:-2] + (q.shape[-2], v.shape[-1]), np.inf),
    "wrong shape": lambda q, k, v, mask=None: np.zeros((3, 7)),
    "a string": lambda q, k, v, mask=None: "output",
    "a 3-tuple": lambda q, k, v, mask=None: (v, v, v),
}


@pytest.mark.parametrize("junk", list(_JUNK))
def test_causality_leak_says_when_the_suspect_returns_no_usable_output(junk):
    """Before: NaN read as 'leaks from the future (by up to inf)', None as an IndexError."""
    d = causality_leak(_JUNK[junk])
    assert not d
    assert d.message.startswith("could not check causality:"), d.message
    assert "leaks from the future" not in d.message


def test_causality_leak_says_when_a_later_call_returns_nan():
    calls = []

    def nan_the_second_time(q, k, v, mask=None):
        calls.append(1)
        out = correct_attention(q, k, v, mask)[0]
        return out * np.nan if len(calls) > 1 else out

    d = causality_leak(nan_the_second_time)
    assert not d
    assert "after changing tokens 1..5" in d.message
    assert "non-finite" in d.message


@pytest.mark.parametrize("junk", list(_JUNK))
def test_measured_scale_says_when_the_suspect_returns_no_usable_output(junk):
    d = measured_scale(lambda q, k, v: _JUNK[junk](q, k, v))
    assert not d
    assert d.message.startswith("could not read the scale back:"), d.message


def test_measured_scale_rejects_weights_of_the_wrong_shape():
    d = measured_scale(lambda q, k, v: (correct_attention(q, k, v)[0], np.ones((5, 5))))
    assert not d
    assert "weights of shape (5, 5)" in d.message


@pytest.mark.parametrize(
    "mask",
    [np.array([[0.0, -np.inf], [0.0, 0.0]]), np.array([[1, 0], [1, 1]])],
    ids=["additive", "int"],
)
def test_rows_sum_to_one_rejects_a_non_boolean_mask(mask):
    """Before: a float (additive) mask was converted with astype(bool), read inverted."""
    with pytest.raises(TypeError, match="mask must be boolean"):
        rows_sum_to_one(np.array([[1.0, 0.0], [0.5, 0.5]]), mask=mask)
