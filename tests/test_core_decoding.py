"""The decoder additions to the core (notebook 09): rotary_embedding, sliding_window_mask,
repeat_kv and multi_head_attention(..., num_kv_heads=...). Hand-computed examples, bad input that
teaches, and hypothesis properties (RoPE sees only offsets, GQA == MHA with repeated k/v heads)."""

from __future__ import annotations

import numpy as np
import pytest
from _shared import readonly
from hypothesis import given
from hypothesis import strategies as st

from attn_helpers import (
    causal_mask,
    multi_head_attention,
    repeat_kv,
    rotary_embedding,
    scaled_dot_product_attention,
    sliding_window_mask,
)

# --------------------------------------------------------------------------- rotary_embedding


def test_rope_hand_example_split_halves():
    # head_dim 4: pairs (0, 2) and (1, 3); base 1 gives both pairs the angle = position.
    x = np.array([[1.0, 2.0, 0.0, 0.0]])
    out = rotary_embedding(x, [np.pi / 2], base=1.0)
    np.testing.assert_allclose(out, [[0.0, 0.0, 1.0, 2.0]], atol=1e-12)
    # base 100, head_dim 4: pair 1 turns at 100**(-1/2) = 0.1 per position.
    x = np.array([[0.0, 1.0, 0.0, 0.0]])
    out = rotary_embedding(x, [3.0], base=100.0)
    np.testing.assert_allclose(out, [[0.0, np.cos(0.3), 0.0, np.sin(0.3)]], atol=1e-12)


def test_rope_position_zero_is_identity_and_norms_are_kept():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 8))
    np.testing.assert_array_equal(rotary_embedding(x[..., :1, :], [0]), x[..., :1, :])
    out = rotary_embedding(x, np.arange(5))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1))
    assert not np.allclose(out[..., 1:, :], x[..., 1:, :])


def test_rope_keeps_float32_and_does_not_modify_input():
    x = readonly(np.ones((3, 4), dtype=np.float32))
    out = rotary_embedding(x, np.arange(3))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(x, 1.0)


def test_rope_one_step_equals_slice_of_full():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 8))
    full = rotary_embedding(x, np.arange(6))
    np.testing.assert_allclose(rotary_embedding(x[4:5], np.arange(4, 5)), full[4:5], atol=1e-15)


@pytest.mark.parametrize(
    ("x", "positions", "kwargs", "error", "words"),
    [
        (np.ones((3, 5)), np.arange(3), {}, ValueError, ["head_dim", "even", "(3, 5)"]),
        (np.ones((3, 4)), np.arange(4), {}, ValueError, ["positions", "(3,)", "(4,)", "np.arange"]),
        (np.ones((3, 4)), np.arange(3)[None], {}, ValueError, ["positions", "(1, 3)"]),
        (np.ones((3, 4)), ["a", "b", "c"], {}, TypeError, ["positions", "dtype"]),
        (np.ones((3, 4)), [0, 1, np.inf], {}, ValueError, ["positions", "finite"]),
        (np.ones(4), np.arange(1), {}, ValueError, ["x", "seq_len", "head_dim"]),
        (np.ones((3, 4)), np.arange(3), {"base": 0.0}, ValueError, ["base", "positive"]),
        ([["a"] * 4] * 3, np.arange(3), {}, TypeError, ["x"]),
    ],
)
def test_rope_bad_input_teaches(x, positions, kwargs, error, words):
    with pytest.raises(error) as info:
        rotary_embedding(x, positions, **kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@given(
    m=st.integers(0, 500),
    n=st.integers(0, 500),
    shift=st.integers(-200, 200),
    seed=st.integers(0, 2**16),
)
def test_rope_score_depends_only_on_the_offset(m, n, shift, seed):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, 1, 8))
    shift = max(shift, -min(m, n))  # positions stay >= 0 (RoPE works for any, but keep it real)
    a = rotary_embedding(q, [m]) @ rotary_embedding(k, [n]).T
    b = rotary_embedding(q, [m + shift]) @ rotary_embedding(k, [n + shift]).T
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- sliding_window_mask


def test_sliding_window_hand_example_and_limits():
    expected = np.array(
        [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 1]],
        dtype=bool,
    )
    np.testing.assert_array_equal(sliding_window_mask(5, 2), expected)
    np.testing.assert_array_equal(sliding_window_mask(5, 1), np.eye(5, dtype=bool))
    np.testing.assert_array_equal(sliding_window_mask(5, 5), causal_mask(5))
    np.testing.assert_array_equal(sliding_window_mask(5, 99), causal_mask(5))
    assert sliding_window_mask(3, 2).dtype == bool


@given(seq_len=st.integers(1, 30), window=st.integers(1, 40))
def test_sliding_window_definition(seq_len, window):
    mask = sliding_window_mask(seq_len, window)
    i, j = np.indices((seq_len, seq_len))
    np.testing.assert_array_equal(mask, (i - j >= 0) & (i - j < window))
    assert (mask.sum(axis=1) == np.minimum(np.arange(seq_len) + 1, window)).all()


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        ((5, 0), ValueError, ["window", "window=0", "window=1"]),
        ((5, -2), ValueError, ["window", "-2"]),
        ((5, 2.5), TypeError, ["window", "2.5"]),
        ((5, True), TypeError, ["window"]),
        ((0, 2), ValueError, ["seq_len"]),
    ],
)
def test_sliding_window_bad_input_teaches(args, error, words):
    with pytest.raises(error) as info:
        sliding_window_mask(*args)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


# --------------------------------------------------------------------------- GQA


def test_repeat_kv_groups_consecutive_query_heads():
    x = np.arange(2 * 1 * 2, dtype=float).reshape(2, 1, 2)  # (h_kv=2, T=1, d=2)
    out = repeat_kv(x, 3)
    assert out.shape == (6, 1, 2)
    np.testing.assert_array_equal(out[:3], np.broadcast_to(x[0], (3, 1, 2)))
    np.testing.assert_array_equal(out[3:], np.broadcast_to(x[1], (3, 1, 2)))
    with pytest.raises(ValueError, match="num_kv_heads, seq_len, head_dim"):
        repeat_kv(np.ones((2, 3)), 2)
    with pytest.raises(ValueError, match="num_repeats"):
        repeat_kv(np.ones((2, 3, 4)), 0)


def _gqa_by_hand(x, w_q, w_k, w_v, w_o, num_heads, num_kv_heads, mask=None):
    """Loop over query heads; head h uses kv head h // (num_heads // num_kv_heads)."""
    head_dim = w_q.shape[1] // num_heads
    group = num_heads // num_kv_heads
    heads = []
    for h in range(num_heads):
        g = h // group
        q = x @ w_q[:, h * head_dim : (h + 1) * head_dim]
        k = x @ w_k[:, g * head_dim : (g + 1) * head_dim]
        v = x @ w_v[:, g * head_dim : (g + 1) * head_dim]
        heads.append(scaled_dot_product_attention(q, k, v, mask=mask)[0])
    return np.concatenate(heads, axis=-1) @ w_o


@given(
    num_kv_heads=st.sampled_from([1, 2, 4]),
    seq_len=st.integers(1, 7),
    seed=st.integers(0, 2**16),
    causal=st.booleans(),
)
def test_gqa_equals_mha_with_repeated_kv_heads(num_kv_heads, seq_len, seed, causal):
    rng = np.random.default_rng(seed)
    num_heads, head_dim = 4, 3
    d_model = num_heads * head_dim
    x = rng.standard_normal((seq_len, d_model))
    w_q, w_o = rng.standard_normal((2, d_model, d_model))
    w_k, w_v = rng.standard_normal((2, d_model, num_kv_heads * head_dim))
    mask = causal_mask(seq_len) if causal else None
    out, weights = multi_head_attention(
        x, x, w_q, w_k, w_v, w_o, num_heads=num_heads, num_kv_heads=num_kv_heads, mask=mask
    )
    assert weights.shape == (num_heads, seq_len, seq_len)
    np.testing.assert_allclose(
        out, _gqa_by_hand(x, w_q, w_k, w_v, w_o, num_heads, num_kv_heads, mask), atol=1e-10
    )
    # The same thing as plain MHA whose k/v weights repeat each kv head's columns for its group.
    rep = np.concatenate(
        [np.repeat(w.reshape(d_model, num_kv_heads, 1, head_dim), num_heads // num_kv_heads, 2)
         .reshape(d_model, d_model) for w in (w_k, w_v)], axis=0
    )  # fmt: skip
    out_mha, _ = multi_head_attention(
        x, x, w_q, rep[:d_model], rep[d_model:], w_o, num_heads=num_heads, mask=mask
    )
    np.testing.assert_allclose(out, out_mha, atol=1e-10)


def test_gqa_with_num_kv_heads_equal_num_heads_is_mha():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 8))
    w = rng.standard_normal((4, 8, 8))
    a = multi_head_attention(x, x, *w, num_heads=4)
    b = multi_head_attention(x, x, *w, num_heads=4, num_kv_heads=4)
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize(
    ("num_kv_heads", "kv_width", "error", "words"),
    [
        (3, 2, ValueError, ["num_heads must be a multiple of num_kv_heads", "[1, 2, 4]"]),
        (2, 8, ValueError, ["w_k", "(d_kv, 4)", "num_kv_heads=2", "head_dim=2"]),
        (0, 2, ValueError, ["num_kv_heads"]),
        (1.0, 2, TypeError, ["num_kv_heads"]),
    ],
)
def test_gqa_bad_input_teaches(num_kv_heads, kv_width, error, words):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 8))
    w_q, w_o = rng.standard_normal((2, 8, 8))
    w_kv = rng.standard_normal((2, 8, kv_width))
    with pytest.raises(error) as info:
        multi_head_attention(x, x, w_q, *w_kv, w_o, num_heads=4, num_kv_heads=num_kv_heads)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
