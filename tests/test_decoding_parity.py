"""Parity of the decoder additions with PyTorch 2.13.0, without PyTorch (notebook 09).

``tests/fixtures/core_decoding_*.npz`` were made by ``scripts/make_core_fixtures.py``:
``F.scaled_dot_product_attention(..., enable_gqa=True)`` for grouped-query attention (query heads
sharing key/value heads), causal and sliding-window masks, and RoPE from an independent reference
in the script (split halves as complex numbers, the GPT-NeoX / Llama convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attn_helpers import (
    causal_mask,
    repeat_kv,
    rotary_embedding,
    scaled_dot_product_attention,
    sliding_window_mask,
)

FIXTURES = Path(__file__).parent / "fixtures"
ATOL = {"float64": 1e-6, "float32": 1e-5}


def _cases():
    params = []
    for dtype in ATOL:
        with np.load(FIXTURES / f"core_decoding_{dtype}.npz") as data:
            assert str(data["torch_version"]).startswith("2.13.0")
            for case in data["cases"]:
                prefix = f"{case}__"
                arrays = {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}
                params.append(pytest.param(dtype, str(case), arrays, id=f"{dtype}-{case}"))
    return params


CASES = _cases()


def test_fixture_covers_gqa_windows_and_rope():
    names = {p.values[1] for p in CASES}
    assert {"gqa_causal", "mqa_window", "window", "causal", "rope_basic", "rope_offset"} <= names


@pytest.mark.parametrize(("dtype", "case", "arrays"), [p for p in CASES if "q" in p.values[2]])
def test_attention_matches_torch(dtype, case, arrays):
    q, k, v, mask = arrays["q"], arrays["k"], arrays["v"], arrays["mask"]
    seq_len = q.shape[-2]
    # The stored mask is the one torch used; ours must be the same mask.
    ours = (
        sliding_window_mask(seq_len, int(arrays["window"]))
        if "window" in arrays
        else causal_mask(seq_len)
    )
    np.testing.assert_array_equal(ours, mask)
    group = q.shape[-3] // k.shape[-3]
    k, v = repeat_kv(k, group), repeat_kv(v, group)  # (B, h_kv, T, d) -> (B, h, T, d)
    output, weights = scaled_dot_product_attention(q, k, v, mask=ours)
    assert output.dtype == np.dtype(dtype)
    np.testing.assert_allclose(output, arrays["output"], atol=ATOL[dtype], rtol=1e-5)
    np.testing.assert_allclose(weights, arrays["weights"], atol=ATOL[dtype], rtol=1e-5)


@pytest.mark.parametrize(("dtype", "case", "arrays"), [p for p in CASES if "x" in p.values[2]])
def test_rope_matches_independent_reference(dtype, case, arrays):
    out = rotary_embedding(arrays["x"], arrays["positions"], base=float(arrays["base"]))
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, arrays["rotated"], atol=ATOL[dtype], rtol=1e-5)
