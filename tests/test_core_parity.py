"""Parity with PyTorch, without PyTorch: attn_helpers against stored torch outputs.

The fixtures ``tests/fixtures/core_*.npz`` were computed by ``scripts/make_core_fixtures.py`` with
``torch.nn.functional.scaled_dot_product_attention`` and ``torch.nn.MultiheadAttention`` (see its
docstring for how to rerun it: ``make fixtures``). Masks are stored in the course's convention
(True = may attend) and weights in the row-vector convention, so nothing here needs PyTorch.

Fully masked query rows: the course documents zeros (weights and output); ``nn.MultiheadAttention``
gives NaN there. Those rows are compared with zeros, every other row with PyTorch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _shared import core_fixture_cases

from attn_helpers import (
    causal_mask,
    chunked_attention,
    multi_head_attention,
    scaled_dot_product_attention,
)

FIXTURES = Path(__file__).parent / "fixtures"
ATOL = {"float64": 1e-6, "float32": 1e-5}
RTOL = 1e-5


def _readonly(arrays: dict) -> dict:
    """Copies of the inputs made read-only: the core must never write into its inputs."""
    out = {}
    for key, value in arrays.items():
        value = np.array(value)
        value.flags.writeable = False
        out[key] = value
    return out


def _assert_rows(actual, expected, fully_masked, *, atol, what, masked_value=0.0):
    """Compare row by row: fully masked rows against ``masked_value``, the others against PyTorch."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    fully = np.broadcast_to(fully_masked[..., None], actual.shape)
    assert not np.isnan(actual).any(), f"{what}: attn_helpers returned NaN"
    np.testing.assert_allclose(
        actual[~fully], expected[~fully], rtol=RTOL, atol=atol, err_msg=f"{what} vs PyTorch"
    )
    masked_expected = np.broadcast_to(masked_value, actual.shape)[fully]
    assert np.array_equal(actual[fully], masked_expected), (
        f"{what}: fully masked rows must be exactly {masked_value!r}"
    )


def test_fixtures_record_their_provenance():
    for path in sorted(FIXTURES.glob("core_*.npz")):
        with np.load(path) as data:
            assert str(data["torch_version"]).startswith("2.13.0"), path.name
            assert len(data["cases"]) == len(data["description"]) > 0, path.name
    # sdpa, mha, decoding (notebook 09), causal (alignment, notebook 07), block (notebook 07b,
    # tests/test_block.py), each in 2 dtypes
    expected = {f"core_{kind}_{dtype}.npz" for kind in ("sdpa", "mha", "decoding", "causal", "block")
                for dtype in ATOL}  # fmt: skip
    assert expected <= {path.name for path in FIXTURES.glob("core_*.npz")}


@pytest.mark.parametrize(("case", "dtype", "arrays"), core_fixture_cases("sdpa", ATOL))
def test_scaled_dot_product_attention_matches_pytorch(case, dtype, arrays):
    a = _readonly(arrays)
    kwargs = {}
    if "mask" in a:
        kwargs["mask"] = a["mask"]
    if "scale" in a:
        kwargs["scale"] = float(a["scale"])
    output, weights = scaled_dot_product_attention(a["q"], a["k"], a["v"], **kwargs)

    assert output.dtype == np.dtype(dtype), "float32 in must stay float32"
    assert weights.dtype == np.dtype(dtype)
    fully = a["fully_masked"]
    _assert_rows(output, a["output"], fully, atol=ATOL[dtype], what=f"{case} output")
    # PyTorch's SDPA already returns zeros for fully masked rows, so the weights (computed with
    # v = I) can be compared everywhere; still go through the same row check.
    _assert_rows(weights, a["weights"], fully, atol=ATOL[dtype], what=f"{case} weights")
    if "mask" in a:
        assert np.all(weights[~np.broadcast_to(a["mask"], weights.shape)] == 0.0)


@pytest.mark.parametrize(("case", "dtype", "arrays"), core_fixture_cases("mha", ATOL))
def test_multi_head_attention_matches_pytorch(case, dtype, arrays):
    a = _readonly(arrays)
    biases = {name: a[name] for name in ("b_q", "b_k", "b_v", "b_o") if name in a}
    self_attention = np.array_equal(a["x_q"], a["x_kv"])
    x_kv = a["x_q"] if self_attention else a["x_kv"]  # self-attention passes the same array twice
    output, weights = multi_head_attention(
        a["x_q"], x_kv, a["w_q"], a["w_k"], a["w_v"], a["w_o"],
        num_heads=int(a["num_heads"]), mask=a.get("mask"), **biases,
    )  # fmt: skip

    n, t_q, t_kv = a["x_q"].shape[0], a["x_q"].shape[1], a["x_kv"].shape[1]
    assert weights.shape == (n, int(a["num_heads"]), t_q, t_kv)
    assert output.dtype == np.dtype(dtype)
    assert weights.dtype == np.dtype(dtype)
    fully = a["fully_masked"]  # (N, T_q)
    # A fully masked row's attention result is zero in every head; the output projection then
    # maps that zero vector to b_o (zero without biases).
    b_o = a.get("b_o", np.zeros(output.shape[-1], dtype=output.dtype))
    _assert_rows(
        output, a["output"], fully, atol=ATOL[dtype], what=f"{case} output", masked_value=b_o
    )
    per_head_fully = np.broadcast_to(fully[:, None, :], weights.shape[:-1])
    _assert_rows(weights, a["weights"], per_head_fully, atol=ATOL[dtype], what=f"{case} weights")
    _assert_rows(
        weights.mean(axis=1), a["weights_avg"], fully, atol=ATOL[dtype], what=f"{case} avg weights"
    )


def test_parity_fixtures_cover_what_the_issue_asks_for():
    """bias=False and with biases; causal, padding and fully masked rows; both dtypes."""
    for dtype in ATOL:
        with np.load(FIXTURES / f"core_mha_{dtype}.npz") as data:
            cases = [str(c) for c in data["cases"]]
            has_bias = [f"{c}__b_q" in data.files for c in cases]
            assert any(has_bias), "some MultiheadAttention case must have biases"
            assert not all(has_bias), "some MultiheadAttention case must be bias=False"
            assert any(data[f"{c}__fully_masked"].any() for c in cases)
            assert np.isnan(data["fully_masked__output"]).any(), "PyTorch's NaN rows are recorded"
        with np.load(FIXTURES / f"core_sdpa_{dtype}.npz") as data:
            cases = [str(c) for c in data["cases"]]
            assert {"causal", "padding", "fully_masked"} <= set(cases)


# ---------------------------------------------------------------- causal alignment (KV cache)


@pytest.mark.parametrize("align", ["upper_left", "lower_right"])
@pytest.mark.parametrize(("case", "dtype", "arrays"), core_fixture_cases("causal", ATOL))
def test_causal_alignment_matches_pytorch_causal_bias(case, dtype, arrays, align):
    """causal_mask(..., align=) and chunked_attention(causal=) against torch's CausalBias."""
    a = _readonly(arrays)
    t_q, t_k = a["q"].shape[-2], a["k"].shape[-2]
    mask = causal_mask(t_q, t_k, align=align)
    assert np.array_equal(mask, a[f"mask_{align}"]), f"{case}: causal_mask(align={align!r})"
    fully = np.broadcast_to(a[f"fully_masked_{align}"], a[f"output_{align}"].shape[:-1])
    output, weights = scaled_dot_product_attention(a["q"], a["k"], a["v"], mask=mask)
    _assert_rows(output, a[f"output_{align}"], fully, atol=ATOL[dtype], what=f"{case} output")
    _assert_rows(weights, a[f"weights_{align}"], fully, atol=ATOL[dtype], what=f"{case} weights")
    for chunk_size in (1, 2, 5):  # tiles that cut the diagonal in every place
        chunked = chunked_attention(a["q"], a["k"], a["v"], causal=align, chunk_size=chunk_size)
        _assert_rows(chunked, a[f"output_{align}"], fully, atol=ATOL[dtype], what=f"{case} chunked")
    if align == "upper_left":  # causal=True is the top-left alignment, PyTorch's is_causal
        np.testing.assert_array_equal(
            chunked_attention(a["q"], a["k"], a["v"], causal=True, chunk_size=5), chunked
        )


def test_causal_fixtures_cover_both_corners():
    """Fewer queries than keys (decoding), equal, and more (rows with no key) in both dtypes."""
    for dtype in ATOL:
        with np.load(FIXTURES / f"core_causal_{dtype}.npz") as data:
            shapes = {(data[f"{c}__q"].shape[-2], data[f"{c}__k"].shape[-2]) for c in data["cases"]}
            assert any(t_q < t_k for t_q, t_k in shapes)
            assert any(t_q == t_k for t_q, t_k in shapes)
            assert any(t_q > t_k for t_q, t_k in shapes)
            one = data["decode_one__mask_lower_right"]  # one new token sees the whole cache
            assert one.shape == (1, 9)
            assert one.all()
            assert not data["decode_one__mask_upper_left"][0, 1:].any()  # top-left: only key 0
            # 7 queries, 4 keys, lower-right: queries 0-2 see no key. PyTorch warns "will produce
            # NaNs" but its CPU kernel returns zeros there, as the course does (notebook 07 says so).
            assert (
                data["more_queries__fully_masked_lower_right"].tolist() == [True] * 3 + [False] * 4
            )
            assert np.all(data["more_queries__output_lower_right"][..., :3, :] == 0)
