"""Unit tests for attn_helpers.core: one hand-computed example per public function, the documented
edge cases (masks, -inf, fully masked rows), and inputs that are never modified.

Bad input and its teaching errors are in tests/test_validation.py; invariants in
tests/test_core_properties.py; PyTorch parity in tests/test_core_parity.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _shared import readonly

import attn_helpers
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

LOG3 = math.log(3.0)
SIGMA = math.e / (1.0 + math.e)  # softmax([1, 0])[0] = e / (e + 1)


def test_public_api_is_exactly_the_issue_names():
    assert set(attn_helpers.__all__) >= {
        "softmax",
        "scaled_dot_product_attention",
        "causal_mask",
        "padding_mask",
        "split_heads",
        "merge_heads",
        "multi_head_attention",
        "sinusoidal_positions",
        "check_shape",
    }


# ---------------------------------------------------------------- softmax


def test_softmax_hand_computed():
    # exp(0) : exp(log 3) = 1 : 3
    np.testing.assert_allclose(softmax(readonly([0.0, LOG3])), [0.25, 0.75], rtol=1e-12)


def test_softmax_temperature_hand_computed():
    # temperature 0.5 doubles the logits: 1 : exp(2 log 3) = 1 : 9
    np.testing.assert_allclose(softmax([0.0, LOG3], temperature=0.5), [0.1, 0.9], rtol=1e-12)
    # temperature 2 halves them: 1 : sqrt(3)
    s3 = math.sqrt(3.0)
    np.testing.assert_allclose(softmax([0.0, LOG3], temperature=2.0), [1 / (1 + s3), s3 / (1 + s3)])


def test_softmax_axis_hand_computed():
    x = readonly([[0.0, 0.0], [LOG3, 0.0]])
    np.testing.assert_allclose(softmax(x, axis=0), [[0.25, 0.5], [0.75, 0.5]], rtol=1e-12)
    np.testing.assert_allclose(softmax(x, axis=1), [[0.5, 0.5], [0.75, 0.25]], rtol=1e-12)
    np.testing.assert_allclose(softmax(x, axis=-2), softmax(x, axis=0))


def test_softmax_neg_inf_gets_exactly_zero_and_all_neg_inf_row_is_zeros(no_warnings):
    x = readonly([[0.0, -np.inf, LOG3], [-np.inf, -np.inf, -np.inf]])
    weights = softmax(x)
    np.testing.assert_allclose(weights[0], [0.25, 0.0, 0.75], rtol=1e-12)
    assert weights[0, 1] == 0.0
    assert np.array_equal(weights[1], [0.0, 0.0, 0.0])
    assert not np.isnan(weights).any()
    # Same with a temperature, where the max is subtracted before dividing.
    weights = softmax(x, temperature=0.5)
    np.testing.assert_allclose(weights[0], [0.1, 0.0, 0.9], rtol=1e-12)
    assert np.array_equal(weights[1], [0.0, 0.0, 0.0])


def test_softmax_integers_become_float64_and_float32_stays_float32():
    assert softmax([1, 2, 3]).dtype == np.float64
    assert softmax(np.array([1, 2, 3], dtype=np.float32)).dtype == np.float32
    assert softmax(np.array([1, 2, 3], dtype=np.float32), temperature=0.1).dtype == np.float32


def test_softmax_extreme_logits_no_overflow(no_warnings):
    # Regression: -1e308 - 1e308 overflowed to -inf with a RuntimeWarning (an error in the tests).
    np.testing.assert_array_equal(softmax(readonly([1e308, -1e308])), [1.0, 0.0])
    np.testing.assert_array_equal(softmax(readonly([-1e308, 1e308]), temperature=0.5), [0.0, 1.0])
    np.testing.assert_array_equal(softmax(readonly([1e300, -1e300]), temperature=1e-10), [1.0, 0.0])


def test_softmax_tiny_temperature_is_argmax_not_nan(no_warnings):
    # Regression: float32(1e-50) == 0, so dividing by it gave 0/0 = NaN for the maximum.
    x = readonly([0.0, -1.0, 2.0], dtype=np.float32)
    weights = softmax(x, temperature=1e-50)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(softmax([0.0, -1.0, 2.0], temperature=1e-310), [0.0, 0.0, 1.0])


def test_softmax_ties_under_tiny_temperature_share_the_weight():
    np.testing.assert_allclose(softmax([1.0, 1.0, 0.0], temperature=1e-6), [0.5, 0.5, 0.0])


# ---------------------------------------------------------------- scaled_dot_product_attention

# d_k = 4 so the default scale is 1/2; key 0 scores log 3, key 1 scores 0 -> weights 3/4, 1/4.
Q = [[2 * LOG3, 0.0, 0.0, 0.0]]  # (T_q=1, d_k=4)
K = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]  # (T_k=2, d_k=4)
V = [[4.0, 0.0], [0.0, 8.0]]  # (T_k=2, d_v=2)


def test_attention_hand_computed():
    output, weights = scaled_dot_product_attention(readonly(Q), readonly(K), readonly(V))
    check_shape(weights, (1, 2))
    check_shape(output, (1, 2))
    np.testing.assert_allclose(weights, [[0.75, 0.25]], rtol=1e-12)
    np.testing.assert_allclose(output, [[3.0, 2.0]], rtol=1e-12)  # 0.75*[4, 0] + 0.25*[0, 8]


def test_attention_explicit_scale_hand_computed():
    # scale=1 doubles the score of key 0 to 2 log 3: weights 9/10, 1/10.
    output, weights = scaled_dot_product_attention(Q, K, V, scale=1.0)
    np.testing.assert_allclose(weights, [[0.9, 0.1]], rtol=1e-12)
    np.testing.assert_allclose(output, [[3.6, 0.8]], rtol=1e-12)


def test_attention_mask_true_means_may_attend():
    _, weights = scaled_dot_product_attention(Q, K, V, mask=readonly([[False, True]]))
    np.testing.assert_array_equal(weights, [[0.0, 1.0]])
    _, weights = scaled_dot_product_attention(Q, K, V, mask=readonly([[True, True]]))
    np.testing.assert_allclose(weights, [[0.75, 0.25]], rtol=1e-12)


def test_attention_fully_masked_row_gives_zero_weights_and_zero_output(no_warnings):
    q = readonly(np.vstack([Q, Q]))  # (2, 4): two identical queries
    mask = readonly([[True, True], [False, False]])
    output, weights = scaled_dot_product_attention(q, K, V, mask=mask)
    np.testing.assert_allclose(weights[0], [0.75, 0.25], rtol=1e-12)
    np.testing.assert_allclose(output[0], [3.0, 2.0], rtol=1e-12)
    assert np.array_equal(weights[1], [0.0, 0.0])
    assert np.array_equal(output[1], [0.0, 0.0])


def test_attention_broadcasts_leading_axes_and_masks():
    rng = np.random.default_rng(0)
    q = readonly(rng.standard_normal((2, 1, 3, 4)))  # (batch, 1, T_q, d_k)
    k = readonly(rng.standard_normal((1, 5, 6, 4)))  # (1, heads, T_k, d_k)
    v = readonly(rng.standard_normal((6, 2)))  # (T_k, d_v), shared
    mask = readonly(padding_mask([6, 2], 6)[:, None])  # (batch, 1, 1, T_k)
    output, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    check_shape(weights, (2, 5, 3, 6))
    check_shape(output, (2, 5, 3, 2))
    for b in range(2):
        for h in range(5):
            o, w = scaled_dot_product_attention(q[b, 0], k[0, h], v, mask=mask[b, 0])
            np.testing.assert_allclose(weights[b, h], w, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(output[b, h], o, rtol=1e-12, atol=1e-15)
    assert np.all(weights[1, ..., 2:] == 0.0)


def test_attention_mixed_dtypes_promote_and_float32_stays():
    f32 = np.float32
    out, w = scaled_dot_product_attention(np.array(Q, f32), np.array(K, f32), np.array(V, f32))
    assert out.dtype == w.dtype == np.float32
    out, w = scaled_dot_product_attention(np.array(Q, f32), K, V)
    assert out.dtype == w.dtype == np.float64
    out, w = scaled_dot_product_attention([[1, 0]], [[1, 0]], [[2, 3]])  # integers
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[2.0, 3.0]])


def test_attention_does_not_return_views_of_its_inputs():
    q, k, v = (np.array(a) for a in (Q, K, V))
    output, weights = scaled_dot_product_attention(q, k, v)
    for arr in (q, k, v):
        assert not np.shares_memory(output, arr)
        assert not np.shares_memory(weights, arr)


# ---------------------------------------------------------------- masks


def test_causal_mask_hand_computed():
    mask = causal_mask(3)
    assert mask.dtype == bool
    np.testing.assert_array_equal(
        mask, [[True, False, False], [True, True, False], [True, True, True]]
    )
    assert np.array_equal(causal_mask(np.int64(4)), np.tril(np.ones((4, 4), dtype=bool)))
    assert np.array_equal(causal_mask(1), [[True]])


def test_causal_mask_rectangular_alignments_hand_computed():
    # 2 queries, 4 keys. Top-left (PyTorch's is_causal): query 0 sees key 0 only.
    np.testing.assert_array_equal(causal_mask(2, 4).astype(int), [[1, 0, 0, 0], [1, 1, 0, 0]])
    assert np.array_equal(causal_mask(2, 4, align="upper_left"), causal_mask(2, 4))
    # Bottom-right (a KV cache: the 2 queries are tokens 2 and 3 of 4): the last sees all keys.
    np.testing.assert_array_equal(
        causal_mask(2, 4, align="lower_right").astype(int), [[1, 1, 1, 0], [1, 1, 1, 1]]
    )
    # More queries than keys: the first seq_len_q - seq_len_k rows see nothing.
    np.testing.assert_array_equal(
        causal_mask(3, 2, align="lower_right").astype(int), [[0, 0], [1, 0], [1, 1]]
    )
    # Square: the alignments agree.
    assert np.array_equal(causal_mask(5, 5, align="lower_right"), causal_mask(5))


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"align": "bottom_right"}, ValueError, ["align", "'lower_right'", "KV cache"]),
        ({"align": True}, TypeError, ["align must be 'upper_left' or 'lower_right'"]),
        ({"align": None}, TypeError, ["align"]),
    ],
)
def test_causal_mask_bad_align_is_explained(kwargs, error, words):
    with pytest.raises(error) as info:
        causal_mask(2, 3, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_causal_mask_names_the_argument_it_was_given():
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        causal_mask(0)
    with pytest.raises(ValueError, match="seq_len_k must be a positive integer"):
        causal_mask(3, 0)
    with pytest.raises(ValueError, match=r"causal_mask\(10, 10000000000\) would need"):
        causal_mask(10, 10**10)


def test_padding_mask_hand_computed():
    mask = padding_mask(readonly([2, 3, 0]), 3)
    assert mask.dtype == bool
    check_shape(mask, (3, 1, 3))
    np.testing.assert_array_equal(
        mask, [[[True, True, False]], [[True, True, True]], [[False, False, False]]]
    )
    np.testing.assert_array_equal(padding_mask([2.0], 3), [[[True, True, False]]])
    np.testing.assert_array_equal(padding_mask(np.array([1], dtype=np.uint8), 2), [[[True, False]]])


def test_padding_mask_plugs_into_attention():
    rng = np.random.default_rng(1)
    x = readonly(rng.standard_normal((2, 4, 3)))  # (batch, T, d)
    _, weights = scaled_dot_product_attention(x, x, x, mask=padding_mask([4, 2], 4))
    assert np.all(weights[1, :, 2:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0)


def test_causal_mask_plugs_into_attention():
    rng = np.random.default_rng(2)
    x = readonly(rng.standard_normal((5, 3)))
    _, weights = scaled_dot_product_attention(x, x, x, mask=causal_mask(5))
    assert np.all(np.triu(weights, k=1) == 0.0)
    assert weights[0, 0] == 1.0  # the first token can only look at itself


# ---------------------------------------------------------------- heads


def test_split_heads_hand_computed():
    x = readonly(np.arange(8.0).reshape(2, 4))  # (T=2, d_model=4)
    heads = split_heads(x, 2)
    check_shape(heads, (2, 2, 2))  # (num_heads, T, head_dim)
    # head 0 takes features 0-1 of every token, head 1 features 2-3 (not token 0 / token 1!)
    np.testing.assert_array_equal(heads, [[[0, 1], [4, 5]], [[2, 3], [6, 7]]])
    np.testing.assert_array_equal(split_heads(x, 1), x[None])
    np.testing.assert_array_equal(split_heads(x, 4)[:, :, 0], x.T)


def test_merge_heads_hand_computed():
    heads = readonly([[[0.0, 1.0], [4.0, 5.0]], [[2.0, 3.0], [6.0, 7.0]]])
    merged = merge_heads(heads)
    check_shape(merged, (2, 4))
    np.testing.assert_array_equal(merged, np.arange(8.0).reshape(2, 4))


def test_split_merge_with_batch_axes_and_dtype():
    x = readonly(np.arange(2 * 3 * 6, dtype=np.float32).reshape(2, 3, 6))
    heads = split_heads(x, 3)
    check_shape(heads, (2, 3, 3, 2))
    assert heads.dtype == np.float32
    np.testing.assert_array_equal(heads[1, 2, 0], x[1, 0, 4:6])
    np.testing.assert_array_equal(merge_heads(heads), x)


# ---------------------------------------------------------------- multi_head_attention


def test_multi_head_attention_hand_computed():
    # d_model=2, two heads of head_dim 1, identity projections, so scale = 1/sqrt(1) = 1.
    # Head 0 sees feature 0: q = k = v = [1, 0] -> row 0 scores [1, 0], row 1 scores [0, 0].
    # Head 1 sees feature 1: q = k = v = [0, 1] -> row 0 scores [0, 0], row 1 scores [0, 1].
    x = readonly([[1.0, 0.0], [0.0, 1.0]])
    eye = readonly(np.eye(2))
    output, weights = multi_head_attention(x, x, eye, eye, eye, eye, num_heads=2)
    check_shape(weights, (2, 2, 2))  # (num_heads, T_q, T_kv)
    np.testing.assert_allclose(weights[0], [[SIGMA, 1 - SIGMA], [0.5, 0.5]], rtol=1e-12)
    np.testing.assert_allclose(weights[1], [[0.5, 0.5], [1 - SIGMA, SIGMA]], rtol=1e-12)
    # head 0 output = weights[0] @ [1, 0]; head 1 output = weights[1] @ [0, 1]
    np.testing.assert_allclose(output, [[SIGMA, 0.5], [0.5, SIGMA]], rtol=1e-12)


def test_multi_head_attention_biases_hand_computed():
    x = readonly([[1.0, 0.0], [0.0, 1.0]])
    eye = np.eye(2)
    zero = np.zeros(2)
    b_o = readonly([10.0, -10.0])
    output, _ = multi_head_attention(
        x, x, eye, eye, eye, eye, num_heads=2, b_q=zero, b_k=zero, b_v=zero, b_o=b_o
    )
    np.testing.assert_allclose(output, [[SIGMA + 10, -9.5], [10.5, SIGMA - 10]], rtol=1e-12)
    # A bias on v shifts every head's output by that bias (weights sum to 1).
    output, _ = multi_head_attention(
        x, x, eye, eye, eye, eye, num_heads=2, b_v=readonly([1.0, 2.0])
    )
    np.testing.assert_allclose(output, [[SIGMA + 1, 2.5], [1.5, SIGMA + 2]], rtol=1e-12)


def test_multi_head_attention_equals_the_five_lines():
    rng = np.random.default_rng(3)
    d_model, num_heads = 6, 3
    x = readonly(rng.standard_normal((2, 4, d_model)))
    w_q, w_k, w_v, w_o = (readonly(rng.standard_normal((d_model, d_model))) for _ in range(4))
    mask = causal_mask(4)
    output, weights = multi_head_attention(x, x, w_q, w_k, w_v, w_o, num_heads=num_heads, mask=mask)
    q, k, v = (
        split_heads(x @ w_q, num_heads),
        split_heads(x @ w_k, num_heads),
        split_heads(x @ w_v, num_heads),
    )
    head_out, head_w = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(weights, head_w, rtol=1e-12)
    np.testing.assert_allclose(output, merge_heads(head_out) @ w_o, rtol=1e-12)


def test_multi_head_attention_cross_attention_shapes():
    rng = np.random.default_rng(4)
    x_q = readonly(rng.standard_normal((3, 8)))  # (T_q, d_model)
    x_kv = readonly(rng.standard_normal((5, 6)))  # (T_kv, d_kv)
    w_q = rng.standard_normal((8, 8))
    w_k, w_v = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
    w_o = rng.standard_normal((8, 7))  # d_out may differ
    output, weights = multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=4)
    check_shape(output, (3, 7))
    check_shape(weights, (4, 3, 5))


def test_multi_head_attention_padding_mask_and_fully_masked_rows():
    rng = np.random.default_rng(5)
    x = readonly(rng.standard_normal((2, 3, 4)))
    w = [readonly(rng.standard_normal((4, 4))) for _ in range(4)]
    b_o = readonly(rng.standard_normal(4))
    output, weights = multi_head_attention(
        x, x, *w, num_heads=2, mask=padding_mask([3, 0], 3), b_o=b_o
    )
    check_shape(weights, (2, 2, 3, 3))
    assert np.all(weights[1] == 0.0)  # every key of sequence 1 is padding
    np.testing.assert_array_equal(output[1], np.broadcast_to(b_o, (3, 4)))  # zero heads, then + b_o
    np.testing.assert_allclose(weights[0].sum(-1), 1.0)


# ---------------------------------------------------------------- positions


def test_sinusoidal_positions_hand_computed():
    p = sinusoidal_positions(2, 4)
    check_shape(p, (2, 4))
    # position 0: sin 0, cos 0 in each pair. position 1: angles 1 and 1 / 10000**(2/4) = 1/100.
    np.testing.assert_allclose(p[0], [0.0, 1.0, 0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(
        p[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], rtol=1e-12
    )


def test_sinusoidal_positions_odd_width_and_base():
    p = sinusoidal_positions(3, 5, base=100.0)
    check_shape(p, (3, 5))
    angles = 2 / 100.0 ** (np.array([0, 2, 4]) / 5)  # position 2
    np.testing.assert_allclose(p[2, 0::2], np.sin(angles), rtol=1e-12)
    np.testing.assert_allclose(p[2, 1::2], np.cos(angles[:2]), rtol=1e-12)
    # every pair is a point on the unit circle
    np.testing.assert_allclose(p[:, 0:4:2] ** 2 + p[:, 1:4:2] ** 2, 1.0, rtol=1e-12)


# ---------------------------------------------------------------- check_shape


def test_check_shape_hand_computed():
    check_shape(np.zeros((4, 8)), (4, 8))
    check_shape(np.zeros((4, 8)), (None, 8))
    check_shape([[1, 2, 3]], (1, 3))  # array_like
    with pytest.raises(ValueError, match=r"expected shape \(4, 6\) but got \(4, 8\): axis 1"):
        check_shape(np.zeros((4, 8)), (4, 6))
    with pytest.raises(
        ValueError, match=r"expected shape \(4,\) but got \(4, 8\): 2 axes instead of 1"
    ):
        check_shape(np.zeros((4, 8)), (4,))


# ---------------------------------------------------------------- inputs are never modified


def _all_calls():
    """Every public function with writable inputs, so a sneaky in-place write would show."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((4, 4))
    b = rng.standard_normal(4)
    logits = np.array([[0.0, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf]])
    return [
        ("softmax", softmax, (logits,), {}),
        ("softmax axis 0", softmax, (x,), {"axis": 0}),
        ("softmax temperature", softmax, (logits,), {"temperature": 0.3}),
        ("attention", scaled_dot_product_attention, (x, x, x), {"mask": causal_mask(3)}),
        ("split_heads", split_heads, (x, 2), {}),
        ("merge_heads", merge_heads, (x[None],), {}),
        ("padding_mask", padding_mask, (np.array([1, 3]), 3), {}),
        (
            "multi_head_attention",
            multi_head_attention,
            (x, x, w, w, w, w),
            {"num_heads": 2, "mask": padding_mask([3, 1], 3), "b_q": b, "b_v": b, "b_o": b},
        ),
        ("check_shape", check_shape, (x, (2, 3, 4)), {}),
    ]


@pytest.mark.parametrize(
    ("name", "fn", "args", "kwargs"), [pytest.param(*c, id=c[0]) for c in _all_calls()]
)
def test_inputs_are_never_modified(name, fn, args, kwargs):
    def snapshot(values):
        return [np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in values]

    before_args, before_kwargs = snapshot(args), snapshot(kwargs.values())
    fn(*args, **kwargs)
    for old, new in zip(before_args + before_kwargs, list(args) + list(kwargs.values())):
        if isinstance(new, np.ndarray):
            np.testing.assert_array_equal(new, old, err_msg=f"{name} modified its input")
    # and read-only inputs are accepted
    ro_args = [readonly(a) if isinstance(a, np.ndarray) else a for a in args]
    ro_kwargs = {k: readonly(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    fn(*ro_args, **ro_kwargs)
