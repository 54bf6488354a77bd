"""Issue 12, items 5-8: the last silent failures of the core, each with a test that failed before.

- multi_head_attention names every bad weight and bias itself (item 5);
- one NaN/inf policy: split_heads and merge_heads reject -inf like q, k, v (item 6);
- mask builders refuse, before allocating, a mask that cannot fit, with the bytes needed (item 7);
- float16 attention accumulates in float32 and returns float16 (item 8).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _shared import readonly

from attn_helpers import (
    _validation,
    causal_mask,
    merge_heads,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)

D = 4


def _mha_args():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, D))
    weights = {n: rng.normal(size=(D, D)) / 2 for n in ("w_q", "w_k", "w_v", "w_o")}
    biases = {n: rng.normal(size=D) for n in ("b_q", "b_k", "b_v", "b_o")}
    return x, weights, biases


def _call_mha(x, weights, biases):
    return multi_head_attention(
        x, x, weights["w_q"], weights["w_k"], weights["w_v"], weights["w_o"], num_heads=2, **biases
    )


@pytest.mark.parametrize("bad", [-np.inf, np.inf, np.nan], ids=["-inf", "+inf", "nan"])
@pytest.mark.parametrize(
    "name", ["w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o", "x_q", "x_kv"]
)
def test_mha_names_the_bad_weight_or_bias_itself(name, bad):
    """Before: -inf in w_o gave a silent NaN; NaN in w_q was reported as 'x contains NaN'."""
    x, weights, biases = _mha_args()
    arrays = {**weights, **biases, "x_q": x.copy(), "x_kv": x.copy()}
    arrays[name] = arrays[name].copy()
    arrays[name].flat[1] = bad
    w = {n: readonly(arrays[n]) for n in weights}
    b = {n: readonly(arrays[n]) for n in biases}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the error
        with pytest.raises(ValueError, match=rf"^{name} contains (NaN|\+inf|-inf) at"):
            multi_head_attention(
                readonly(arrays["x_q"]),
                readonly(arrays["x_kv"]),
                w["w_q"],
                w["w_k"],
                w["w_v"],
                w["w_o"],
                num_heads=2,
                **b,
            )


@pytest.mark.parametrize("name", ["w_q", "w_v", "w_o"])
def test_mha_names_a_projection_that_overflows(name):
    x, weights, biases = _mha_args()
    x = np.abs(x) + 1.0  # positive, so that the products add up instead of cancelling
    weights[name] = np.full((D, D), 1e308)
    if name == "w_o":
        weights["w_v"] = np.full((D, D), 1e300)  # merged heads of order 1e300: then w_o overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=rf"@ {name} \+ b_\w overflowed the float64 range"):
            _call_mha(x, weights, biases)


def test_mha_still_works_with_finite_weights():
    x, weights, biases = _mha_args()
    output, weights_out = _call_mha(x, weights, biases)
    assert output.shape == (3, D)
    assert np.isfinite(output).all()
    np.testing.assert_allclose(weights_out.sum(axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("fn", "shape"),
    [(lambda x: split_heads(x, 2), (3, 4)), (merge_heads, (2, 3, 2))],
    ids=["split_heads", "merge_heads"],
)
@pytest.mark.parametrize("bad", [-np.inf, np.inf, np.nan], ids=["-inf", "+inf", "nan"])
def test_split_and_merge_heads_follow_the_one_nan_inf_policy(fn, shape, bad):
    """Before: split_heads and merge_heads let -inf through, unlike q, k and v."""
    x = np.zeros(shape)
    x.flat[2] = bad
    with pytest.raises(ValueError, match=r"^x contains (NaN|\+inf|-inf) at"):
        fn(readonly(x))


def test_neg_inf_still_means_zero_weight_where_a_softmax_reads_it():
    np.testing.assert_array_equal(softmax(np.array([0.0, -np.inf])), [1.0, 0.0])
    with pytest.raises(ValueError, match="^q contains -inf"):
        scaled_dot_product_attention(np.array([[-np.inf]]), np.ones((1, 1)), np.ones((1, 1)))


@pytest.mark.parametrize("seq_len", [10**6, 10**12])
def test_a_huge_causal_mask_is_refused_before_allocating(seq_len):
    """Before: numpy's MemoryError (10**6) or 'array is too big' (10**12), with no hint."""
    with pytest.raises(ValueError, match=r"would need [\d.,]+ [kMGT]B") as info:
        causal_mask(seq_len)
    message = str(info.value)
    assert f"{seq_len * seq_len:,} bytes" in message
    assert "chunked_attention(q, k, v, causal=True)" in message
    assert "fits" in message


def test_mask_builders_check_against_the_memory_limit(monkeypatch):
    monkeypatch.setattr(_validation, "_memory_limit", lambda: 10**6)
    assert causal_mask(1000).shape == (1000, 1000)  # 10**6 bytes: exactly at the limit
    with pytest.raises(
        ValueError, match=r"causal_mask\(1001\) would need 1.0 MB.*seq_len <= 1,000"
    ):
        causal_mask(1001)
    with pytest.raises(ValueError, match=r"padding_mask\(\.\.\., 600000\) would need 1.2 MB"):
        padding_mask([3, 5], 600_000)


@pytest.mark.parametrize("seq_len", [1, 2, 3, 7, 64])
def test_causal_mask_is_still_the_lower_triangle(seq_len):
    mask = causal_mask(seq_len)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, np.tril(np.ones((seq_len, seq_len), dtype=bool)))


def test_float16_attention_accumulates_in_float32():
    """Against a float64 run on the same (float16-exact) inputs, the float16 result is within one
    float16 rounding of the exact values: |error| <= 2**-11 * |exact| (float16's unit roundoff)
    plus 1e-6 for the float32 sums. Summing in float16 (before) gave 1.1e-3 relative error here.
    """
    rng = np.random.default_rng(0)
    seq_len, d = 512, 64
    q = rng.normal(size=(4, seq_len, d)).astype(np.float16)
    k = rng.normal(size=(4, seq_len, d)).astype(np.float16)
    v = (31 + rng.normal(size=(4, seq_len, d))).astype(np.float16)
    mask = causal_mask(seq_len)
    out16, w16 = scaled_dot_product_attention(q, k, v, mask=mask)
    out64, w64 = scaled_dot_product_attention(
        q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), mask=mask
    )
    assert out16.dtype == np.float16
    assert w16.dtype == np.float16
    u = 2.0**-11
    assert np.all(np.abs(out16 - out64) <= u * np.abs(out64) + 1e-6)
    # weights below float16's smallest normal (6e-5) are subnormal: absolute spacing 2**-24
    assert np.all(np.abs(w16 - w64) <= u * np.abs(w64) + 2.0**-24)
    np.testing.assert_array_equal(
        w16[..., np.triu_indices(seq_len, 1)[0], np.triu_indices(seq_len, 1)[1]], 0
    )
