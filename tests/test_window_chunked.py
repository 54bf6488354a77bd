"""chunked_attention(..., window=w) against scaled_dot_product_attention + sliding_window_mask.

The ``window`` parameter of :func:`attn_helpers.chunked_attention` is added on another branch
(skipping the tiles outside the window). Until it is merged, these tests skip themselves; after the
merge they run unchanged. Window semantics: key j is visible from query i iff 0 <= i - j < window,
exactly :func:`attn_helpers.sliding_window_mask`.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from attn_helpers import (
    chunked_attention,
    padding_mask,
    scaled_dot_product_attention,
    sliding_window_mask,
)

pytestmark = pytest.mark.skipif(
    "window" not in inspect.signature(chunked_attention).parameters,
    reason="chunked_attention has no `window` parameter yet (it arrives with another branch)",
)


@pytest.mark.parametrize("seq_len", [1, 7, 64, 130])
@pytest.mark.parametrize("window", [1, 3, 16, 200])
@pytest.mark.parametrize("chunk_size", [4, 32])
def test_window_equals_sliding_window_mask(seq_len, window, chunk_size):
    rng = np.random.default_rng(seq_len * 1000 + window)
    q, k, v = rng.standard_normal((3, 2, seq_len, 8))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=sliding_window_mask(seq_len, window))
    actual = chunked_attention(q, k, v, window=window, chunk_size=chunk_size)
    np.testing.assert_allclose(actual, expected, atol=1e-12)


def test_window_combines_with_a_padding_mask():
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((3, 3, 20, 4))
    pad = padding_mask([20, 11, 3], 20)  # (3, 1, 20)
    mask = pad & sliding_window_mask(20, 5)
    expected, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    actual = chunked_attention(q, k, v, mask=pad, window=5, chunk_size=8)
    np.testing.assert_allclose(actual, expected, atol=1e-12)


@pytest.mark.parametrize("window", [0, -1])
def test_bad_window_is_explained(window):
    q = np.ones((4, 2))
    with pytest.raises(ValueError, match="window"):
        chunked_attention(q, q, q, window=window)
