"""Invariants of the numpy core, checked with hypothesis on random shapes and values.

- rows of the weights sum to 1 (exactly 0 for fully masked rows);
- softmax is shift invariant;
- no NaN/inf for logits up to +-1e300 and -inf masks;
- self-attention without positions is permutation equivariant;
- causality: under causal_mask, changing a later token never changes an earlier output;
- causal alignment: the lower-right mask is the last rows of the square one (a KV cache);
- multi-head attention equals a Python loop over single heads;
- merge_heads(split_heads(x)) == x;
- float32 stays float32.

The examples per test are bounded (see SETTINGS) so the whole file runs in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attn_helpers import (
    causal_mask,
    merge_heads,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)

SETTINGS = settings(max_examples=40, deadline=None)

small = st.integers(1, 5)
moderate = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False, width=64)


def floats_array(shape, *, dtype=np.float64, elements=moderate):
    if np.dtype(dtype) == np.float32:
        elements = st.floats(-5.0, 5.0, width=32)
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def qkv_mask(draw, *, dtype=np.float64, with_mask=True):
    """q (B, T_q, d_k), k (B, T_k, d_k), v (B, T_k, d_v) and a boolean mask (B, T_q, T_k) or None."""
    b, t_q, t_k, d_k, d_v = (draw(small) for _ in range(5))
    q = draw(floats_array((b, t_q, d_k), dtype=dtype))
    k = draw(floats_array((b, t_k, d_k), dtype=dtype))
    v = draw(floats_array((b, t_k, d_v), dtype=dtype))
    mask = draw(hnp.arrays(bool, (b, t_q, t_k))) if with_mask else None
    return q, k, v, mask


# ---------------------------------------------------------------- softmax


@SETTINGS
@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
        elements=st.floats(-1e300, 1e300) | st.just(-np.inf),
    ),
    temperature=st.sampled_from([1.0, 0.01, 0.5, 3.0, 1e-300]),
)
def test_softmax_finite_rows_sum_to_one_or_zero(x, temperature):
    """Logits up to +-1e300 and -inf (masked) entries: never NaN or inf, rows sum to 1 or 0."""
    weights = softmax(x, temperature=temperature)
    assert weights.shape == x.shape
    assert np.isfinite(weights).all()
    assert (weights >= 0).all()
    assert (weights <= 1).all()
    all_masked = np.isneginf(x).all(axis=-1)
    sums = weights.sum(axis=-1)
    np.testing.assert_allclose(sums[~all_masked], 1.0, rtol=1e-12)
    assert np.all(sums[all_masked] == 0.0)
    assert np.all(weights[np.isneginf(x)] == 0.0), "-inf logits get exactly zero weight"


@SETTINGS
@given(
    x=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=moderate
    ),
    shift=st.floats(-1e3, 1e3),
    data=st.data(),
)
def test_softmax_shift_invariance(x, shift, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    expected = softmax(x, axis=axis)
    np.testing.assert_allclose(softmax(x + shift, axis=axis), expected, rtol=1e-9, atol=1e-12)
    # a different shift per slice, constant along the softmax axis
    per_slice = data.draw(
        floats_array(tuple(1 if a == axis % x.ndim else n for a, n in enumerate(x.shape)),
                     elements=st.floats(-1e3, 1e3)),
        label="per_slice",
    )  # fmt: skip
    np.testing.assert_allclose(softmax(x + per_slice, axis=axis), expected, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(x=floats_array((3, 4)), temperature=st.floats(0.05, 20.0))
def test_softmax_matches_the_definition(x, temperature):
    e = np.exp(x / temperature)
    np.testing.assert_allclose(softmax(x, temperature=temperature), e / e.sum(-1, keepdims=True))


# ---------------------------------------------------------------- attention: rows, masks, extremes


@SETTINGS
@given(qkv_mask())
def test_attention_rows_sum_to_one_and_fully_masked_rows_are_zero(args):
    q, k, v, mask = args
    output, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert weights.shape == (*q.shape[:-1], k.shape[-2])
    assert output.shape == (*q.shape[:-1], v.shape[-1])
    fully = ~mask.any(axis=-1)
    sums = weights.sum(-1)
    np.testing.assert_allclose(sums[~fully], 1.0, rtol=1e-12)
    assert np.all(sums[fully] == 0.0)
    assert np.all(weights[~mask] == 0.0), "masked keys get exactly zero weight"
    assert np.all(output[fully] == 0.0), "a fully masked row's output is zero"
    # each output row is a convex combination of the values it may attend to
    lo = np.where(mask[..., None], v[:, None], np.inf).min(-2)
    hi = np.where(mask[..., None], v[:, None], -np.inf).max(-2)
    ok = ~fully
    assert np.all(output[ok] >= lo[ok] - 1e-9)
    assert np.all(output[ok] <= hi[ok] + 1e-9)


@SETTINGS
@given(qkv_mask(), st.sampled_from([1e50, 1e100]))
def test_attention_no_nan_or_inf_for_huge_scores(args, magnitude):
    """Scores up to ~1e200 (inputs ~1e100) and masks: finite weights, rows sum to 1 or 0."""
    q, k, v, mask = args
    output, weights = scaled_dot_product_attention(q * magnitude, k * magnitude, v, mask=mask)
    assert np.isfinite(weights).all()
    assert np.isfinite(output).all()
    sums = weights.sum(-1)
    fully = ~mask.any(axis=-1)
    np.testing.assert_allclose(sums[~fully], 1.0, rtol=1e-12)
    assert np.all(sums[fully] == 0.0)


@SETTINGS
@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=4), data=st.data())
def test_padding_mask_rows(lengths, data):
    seq_len = max(max(lengths), 1)
    x = data.draw(floats_array((len(lengths), seq_len, 3)), label="x")
    mask = padding_mask(lengths, seq_len)
    assert mask.shape == (len(lengths), 1, seq_len)
    assert mask.sum(-1).ravel().tolist() == lengths
    _, weights = scaled_dot_product_attention(x, x, x, mask=mask)
    for b, n in enumerate(lengths):
        assert np.all(weights[b, :, n:] == 0.0)
        np.testing.assert_allclose(weights[b].sum(-1), 1.0 if n else 0.0, rtol=1e-12)


# ---------------------------------------------------------------- symmetries


@SETTINGS
@given(t=st.integers(1, 6), d=small, data=st.data())
def test_self_attention_is_permutation_equivariant(t, d, data):
    """No positions: shuffling the tokens shuffles the outputs and the weights the same way."""
    x = data.draw(floats_array((t, d)), label="x")
    perm = np.array(data.draw(st.permutations(range(t)), label="perm"), dtype=int)
    output, weights = scaled_dot_product_attention(x, x, x)
    output_p, weights_p = scaled_dot_product_attention(x[perm], x[perm], x[perm])
    np.testing.assert_allclose(output_p, output[perm], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weights_p, weights[perm][:, perm], rtol=1e-9, atol=1e-12)


@SETTINGS
@given(t=st.integers(1, 5), num_heads=st.integers(1, 3), head_dim=st.integers(1, 3), data=st.data())
def test_multi_head_self_attention_is_permutation_equivariant(t, num_heads, head_dim, data):
    d_model = num_heads * head_dim
    x = data.draw(floats_array((t, d_model)), label="x")
    ws = [data.draw(floats_array((d_model, d_model)), label=f"w{i}") for i in range(4)]
    perm = np.array(data.draw(st.permutations(range(t)), label="perm"), dtype=int)
    output, weights = multi_head_attention(x, x, *ws, num_heads=num_heads)
    output_p, weights_p = multi_head_attention(x[perm], x[perm], *ws, num_heads=num_heads)
    np.testing.assert_allclose(output_p, output[perm], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weights_p, weights[:, perm][:, :, perm], rtol=1e-8, atol=1e-10)


@SETTINGS
@given(t=st.integers(2, 6), d=small, data=st.data())
def test_causality_later_tokens_never_change_earlier_outputs(t, d, data):
    x = data.draw(floats_array((t, d)), label="x")
    j = data.draw(st.integers(1, t - 1), label="changed position")
    new_row = data.draw(floats_array((d,)), label="new token")
    x2 = x.copy()
    x2[j:] = new_row  # change token j and everything after it
    mask = causal_mask(t)
    output, weights = scaled_dot_product_attention(x, x, x, mask=mask)
    output2, weights2 = scaled_dot_product_attention(x2, x2, x2, mask=mask)
    np.testing.assert_array_equal(output2[:j], output[:j])  # exactly, not approximately
    np.testing.assert_array_equal(weights2[:j], weights[:j])


@SETTINGS
@given(t_q=st.integers(1, 9), t_k=st.integers(1, 9))
def test_causal_alignments_are_two_views_of_one_triangle(t_q, t_k):
    """upper_left is np.tril; lower_right is the bottom-right corner of the same big triangle."""
    upper, lower = causal_mask(t_q, t_k), causal_mask(t_q, t_k, align="lower_right")
    assert np.array_equal(upper, np.tril(np.ones((t_q, t_k), dtype=bool)))
    n = max(t_q, t_k)
    assert np.array_equal(lower, causal_mask(n)[n - t_q :, n - t_k :])
    assert np.array_equal(upper, causal_mask(n)[:t_q, :t_k])
    if t_q <= t_k:
        assert lower[-1].all()  # the newest query sees every key, cached ones included
    # Query i sits at position i + t_k - t_q: it sees that many keys plus itself (0 ... t_k).
    np.testing.assert_array_equal(lower.sum(-1), np.clip(np.arange(t_q) + 1 + t_k - t_q, 0, t_k))


@SETTINGS
@given(t=st.integers(1, 8), new=st.integers(1, 8), d=small, data=st.data())
def test_lower_right_is_what_a_kv_cache_needs(t, new, d, data):
    """The last `new` queries against all t keys, lower-right aligned, are the last rows of
    full causal attention: decoding with a cache gives what recomputation gives."""
    new = min(new, t)
    q, k, v = (data.draw(floats_array((t, d)), label=name) for name in "qkv")
    full, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(t))
    tail, _ = scaled_dot_product_attention(
        q[t - new :], k, v, mask=causal_mask(new, t, align="lower_right")
    )
    np.testing.assert_allclose(tail, full[t - new :], rtol=1e-12, atol=1e-12)


@SETTINGS
@given(t=st.integers(2, 5), num_heads=st.integers(1, 3), head_dim=st.integers(1, 3), data=st.data())
def test_causality_through_multi_head_attention(t, num_heads, head_dim, data):
    d_model = num_heads * head_dim
    x = data.draw(floats_array((2, t, d_model)), label="x")
    ws = [data.draw(floats_array((d_model, d_model)), label=f"w{i}") for i in range(4)]
    bs = {f"b_{n}": data.draw(floats_array((d_model,)), label=f"b_{n}") for n in "qkvo"}
    j = data.draw(st.integers(1, t - 1), label="changed position")
    x2 = x.copy()
    x2[:, j] = data.draw(floats_array((2, d_model)), label="new token")
    mask = causal_mask(t)
    output, _ = multi_head_attention(x, x, *ws, num_heads=num_heads, mask=mask, **bs)
    output2, _ = multi_head_attention(x2, x2, *ws, num_heads=num_heads, mask=mask, **bs)
    np.testing.assert_allclose(output2[:, :j], output[:, :j], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- heads


@SETTINGS
@given(
    lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
    t=small,
    num_heads=st.integers(1, 4),
    head_dim=st.integers(1, 3),
    data=st.data(),
)
def test_merge_heads_inverts_split_heads(lead, t, num_heads, head_dim, data):
    x = data.draw(floats_array((*lead, t, num_heads * head_dim)), label="x")
    heads = split_heads(x, num_heads)
    assert heads.shape == (*lead, num_heads, t, head_dim)
    np.testing.assert_array_equal(merge_heads(heads), x)
    np.testing.assert_array_equal(split_heads(merge_heads(heads), num_heads), heads)
    # head h holds features h*head_dim ... (h+1)*head_dim - 1 of every token
    h = data.draw(st.integers(0, num_heads - 1), label="head")
    np.testing.assert_array_equal(heads[..., h, :, :], x[..., h * head_dim : (h + 1) * head_dim])


@SETTINGS
@given(
    batch=st.integers(1, 2),
    t_q=small,
    t_kv=small,
    num_heads=st.integers(1, 3),
    head_dim=st.integers(1, 3),
    with_bias=st.booleans(),
    data=st.data(),
)
def test_multi_head_equals_a_loop_over_single_heads(
    batch, t_q, t_kv, num_heads, head_dim, with_bias, data
):
    d_model = num_heads * head_dim
    x_q = data.draw(floats_array((batch, t_q, d_model)), label="x_q")
    x_kv = data.draw(floats_array((batch, t_kv, d_model)), label="x_kv")
    w_q, w_k, w_v, w_o = (data.draw(floats_array((d_model, d_model)), label=n) for n in "qkvo")
    b = {n: data.draw(floats_array((d_model,)), label=n) if with_bias else None for n in "qkvo"}
    mask = data.draw(hnp.arrays(bool, (batch, t_q, t_kv)), label="mask")
    output, weights = multi_head_attention(
        x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads, mask=mask,
        b_q=b["q"], b_k=b["k"], b_v=b["v"], b_o=b["o"],
    )  # fmt: skip

    def bias(name, cols):
        return 0.0 if b[name] is None else b[name][cols]

    head_outputs = []
    for h in range(num_heads):
        cols = slice(h * head_dim, (h + 1) * head_dim)  # this head's features
        q = x_q @ w_q[:, cols] + bias("q", cols)  # (batch, T_q, head_dim)
        k = x_kv @ w_k[:, cols] + bias("k", cols)
        v = x_kv @ w_v[:, cols] + bias("v", cols)
        out_h, w_h = scaled_dot_product_attention(q, k, v, mask=mask)
        np.testing.assert_allclose(weights[:, h], w_h, rtol=1e-9, atol=1e-12)
        head_outputs.append(out_h)
    expected = np.concatenate(head_outputs, axis=-1) @ w_o + bias("o", slice(None))
    np.testing.assert_allclose(output, expected, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- dtypes


@SETTINGS
@given(qkv_mask(dtype=np.float32))
def test_float32_stays_float32(args):
    q, k, v, mask = args
    output, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert output.dtype == weights.dtype == np.float32
    assert softmax(q).dtype == np.float32
    assert softmax(q, temperature=0.3, axis=0).dtype == np.float32
    heads = split_heads(q, 1)
    assert heads.dtype == np.float32
    assert merge_heads(heads).dtype == np.float32
    d = q.shape[-1]
    w = np.eye(d, dtype=np.float32)
    out, wts = multi_head_attention(q, k, w, w, w, w, num_heads=1, b_o=np.zeros(d, np.float32))
    assert out.dtype == wts.dtype == np.float32
    # and float32 results agree with float64 ones to float32 precision
    output64, weights64 = scaled_dot_product_attention(
        q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), mask=mask
    )
    np.testing.assert_allclose(weights, weights64, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
def test_result_dtype_rule(dtype):
    x = np.ones((2, 4), dtype=dtype)
    expected = np.float32 if dtype == np.float32 else np.float64
    assert softmax(x).dtype == expected
    assert scaled_dot_product_attention(x, x, x)[0].dtype == expected
    assert split_heads(x, 2).dtype == expected
