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

from attn_helpers import multi_head_attention, scaled_dot_product_attention

FIXTURES = Path(__file__).parent / "fixtures"
ATOL = {"float64": 1e-6, "float32": 1e-5}
RTOL = 1e-5


def _load_cases(kind: str) -> list:
    """One pytest param per (dtype, case) of ``core_{kind}_{dtype}.npz``."""
    params = []
    for dtype in ATOL:
        path = FIXTURES / f"core_{kind}_{dtype}.npz"
        if not path.exists():  # pragma: no cover - the files are committed
            params.append(
                pytest.param(None, dtype, None, marks=pytest.mark.skip(f"{path} missing"))
            )
            continue
        with np.load(path) as data:
            for case in data["cases"]:
                case = str(case)
                prefix = f"{case}__"
                arrays = {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}
                params.append(pytest.param(case, dtype, arrays, id=f"{dtype}-{case}"))
    return params


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
    assert (
        len(list(FIXTURES.glob("core_*.npz"))) == 8
    )  # sdpa, mha, decoding (notebook 09), block (07b; tests/test_block.py) x 2 dtypes


@pytest.mark.parametrize(("case", "dtype", "arrays"), _load_cases("sdpa"))
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


@pytest.mark.parametrize(("case", "dtype", "arrays"), _load_cases("mha"))
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
