"""Tests for attn_helpers.block: hand examples, properties, errors, dtypes and parity with PyTorch.

The parity fixtures tests/fixtures/core_block_{float32,float64}.npz were made by
scripts/make_core_fixtures.py (``make fixtures``) with F.layer_norm, F.rms_norm, F.gelu, F.silu, an
nn.Linear MLP, Llama's SwiGLU MLP and nn.TransformerEncoderLayer (pre- and post-norm); nothing here
needs PyTorch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _shared import core_fixture_cases
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attn_helpers import block, causal_mask, minilm
from attn_helpers.block import (
    attention_crossover,
    block_flops,
    feed_forward,
    gelu,
    init_block_params,
    layer_norm,
    rms_norm,
    silu,
    swiglu,
    transformer_block,
)

FIXTURES = Path(__file__).parent / "fixtures"
ATOL = {"float64": 1e-6, "float32": 1e-5}
RTOL = 1e-5
# Variations of 0.01 on a mean of 50: float32 keeps only about 3 digits of them (its spacing at 50
# is 3.8e-6), so PyTorch and numpy each land about 1e-3 from the float64 result (measured: 1.06e-3
# and 1.01e-3), in different directions. That is the case's point: float32 layer norm is only as
# good as the input's spread allows.
CASE_ATOL = {("float32", "layer_norm_offset"): 3e-3}


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, name)))


# ---------------------------------------------------------------- hand-computed examples


def test_layer_norm_hand_computed():
    x = np.array([[1.0, 2.0, 3.0, 6.0]])  # mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5
    out = layer_norm(x, np.ones(4), np.zeros(4), eps=1e-12)
    np.testing.assert_allclose(out, (x - 3.0) / math.sqrt(3.5), rtol=1e-10)
    out = layer_norm(x, np.full(4, 2.0), np.full(4, 1.0), eps=1e-12)
    np.testing.assert_allclose(out, 2.0 * (x - 3.0) / math.sqrt(3.5) + 1.0, rtol=1e-10)
    # eps sits under the square root, added to the variance: sqrt(3.5 + 0.5) = 2
    out = layer_norm(x, np.ones(4), np.zeros(4), eps=0.5)
    np.testing.assert_allclose(out, (x - 3.0) / 2.0, rtol=1e-12)


def test_layer_norm_of_a_constant_row_is_beta_not_nan():
    out = layer_norm(np.full((2, 3), 7.0), np.ones(3), np.array([0.5, -1.0, 2.0]))
    np.testing.assert_array_equal(out, [[0.5, -1.0, 2.0]] * 2)


def test_rms_norm_hand_computed():
    x = np.array([3.0, 4.0])  # mean square (9 + 16) / 2 = 12.5
    np.testing.assert_allclose(rms_norm(x, np.ones(2), eps=1e-12), x / math.sqrt(12.5))
    # eps is added to the mean square: sqrt(12.5 + 3.5) = 4
    np.testing.assert_allclose(rms_norm(x, np.array([2.0, -1.0]), eps=3.5), [6 / 4, -4 / 4])
    # no centring: a constant row keeps its sign, unlike layer norm
    np.testing.assert_allclose(rms_norm(np.full(4, 5.0), np.ones(4), eps=1e-12), np.ones(4))


def test_activations_hand_computed():
    np.testing.assert_allclose(
        silu(np.array([0.0, 1.0, -1.0])), [0.0, 1 / (1 + math.e**-1), -1 / (1 + math.e)]
    )
    assert gelu(1.0) == pytest.approx(0.8413447460685429, abs=1e-15)  # Phi(1)
    tanh_at_1 = 0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * 1.044715))
    assert gelu(1.0, approximate=True) == pytest.approx(tanh_at_1, abs=1e-15)
    x = np.linspace(-6, 6, 1201)
    gap = np.abs(gelu(x) - gelu(x, approximate=True)).max()
    assert 1e-4 < gap < 5e-4  # different functions, close ones (the docstring's "about 5e-4")
    # the limits: identity for large x, zero for very negative x, no overflow warning
    big = np.array([-1e4, -100.0, 100.0, 1e4], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for fn in (silu, gelu, lambda v: gelu(v, approximate=True)):
            np.testing.assert_allclose(fn(big), [0.0, 0.0, 100.0, 1e4], atol=1e-30)


def test_exact_gelu_is_minilms_gelu():
    x = _rng("gelu").standard_normal(50) * 4
    np.testing.assert_array_equal(gelu(x), minilm.gelu(x))  # one rule, one place


def test_feed_forward_hand_computed():
    x = np.array([[1.0, -2.0]])
    w_in = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # hidden = (1, -2, -1) + b_in
    b_in = np.array([0.0, 0.0, 3.0])  # -> (1, -2, 2)
    w_out = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    b_out = np.array([0.5, 0.0])
    g = gelu(np.array([1.0, -2.0, 2.0]))
    expected = np.array([[g[0] + g[1] + 0.5, g[2]]])
    np.testing.assert_allclose(feed_forward(x, w_in, b_in, w_out, b_out), expected, rtol=1e-14)
    # biases are optional
    np.testing.assert_allclose(
        feed_forward(x, w_in, None, w_out, None), gelu(x @ w_in) @ w_out, rtol=1e-14
    )


def test_swiglu_hand_computed():
    x = np.array([[2.0, 1.0]])
    w_gate = np.array([[1.0], [0.0]])  # gate = 2 -> silu(2)
    w_up = np.array([[0.0], [3.0]])  # up = 3
    w_down = np.array([[1.0, -1.0]])
    s2 = 2.0 / (1.0 + math.exp(-2.0))
    np.testing.assert_allclose(swiglu(x, w_gate, w_up, w_down), [[3 * s2, -3 * s2]], rtol=1e-14)


def _zero_sublayers(params):
    """Sublayers that add nothing: zero output projections and biases."""
    p = dict(params)
    for key in ("w_o", "w_out"):
        p[key] = np.zeros_like(p[key])
    for key in ("b_o", "b_out"):
        p[key] = np.zeros(p["w_q"].shape[0])
    return p


def test_blocks_written_out_by_hand():
    rng = _rng("by hand")
    x = rng.standard_normal((5, 8))
    p = init_block_params(8, rng=rng, d_ff=16)
    p["b_in"] = rng.standard_normal(16)
    for ln in ("ln1", "ln2"):
        p[f"{ln}_gamma"] = 1 + rng.standard_normal(8) * 0.2
        p[f"{ln}_beta"] = rng.standard_normal(8) * 0.2
    from attn_helpers import multi_head_attention

    def attn(z):
        return multi_head_attention(z, z, p["w_q"], p["w_k"], p["w_v"], p["w_o"], num_heads=2)[0]

    def ffn(z):
        return gelu(z @ p["w_in"] + p["b_in"]) @ p["w_out"] + p["b_out"]

    def ln(z, i):
        return layer_norm(z, p[f"ln{i}_gamma"], p[f"ln{i}_beta"])

    h = x + attn(ln(x, 1))
    pre, weights = transformer_block(x, p, num_heads=2, norm="pre")
    np.testing.assert_allclose(pre, h + ffn(ln(h, 2)), rtol=1e-12)
    assert weights.shape == (2, 5, 5)
    h = ln(x + attn(x), 1)
    post, _ = transformer_block(x, p, num_heads=2, norm="post")
    np.testing.assert_allclose(post, ln(h + ffn(h), 2), rtol=1e-12)
    assert not np.allclose(pre, post)


def test_block_flops_hand_computed():
    d, t = 768, 1024  # GPT-2 small's width
    costs = block_flops(t, d)
    assert costs["projections"] == 2 * 4 * d * d  # 4 d^2 multiply-adds
    assert costs["ffn"] == 2 * 8 * d * d  # 2 * d * 4d multiply-adds
    assert costs["attention"] == 2 * 2 * t * d  # scores + weighted sum
    assert costs["total"] == costs["projections"] + costs["ffn"] + costs["attention"]
    assert block_flops(t, d, d_ff=2048, ffn="swiglu")["ffn"] == 2 * 3 * d * 2048


@pytest.mark.parametrize(("d_model", "d_ff", "ffn"), [(384, None, "mlp"), (768, 3072, "mlp"),
                                                      (576, 1536, "swiglu"), (7, 30, "mlp")])  # fmt: skip
def test_attention_crossover_is_where_scores_overtake_the_rest(d_model, d_ff, ffn):
    t_star = attention_crossover(d_model, d_ff=d_ff, ffn=ffn)
    if d_ff is None:
        assert t_star == 6 * d_model
    t = int(t_star)
    at = block_flops(t, d_model, d_ff=d_ff, ffn=ffn)
    rest = at["projections"] + at["ffn"]
    assert at["attention"] == rest if t == t_star else at["attention"] < rest
    below = block_flops(max(t - 1, 1), d_model, d_ff=d_ff, ffn=ffn)
    above = block_flops(t + 1, d_model, d_ff=d_ff, ffn=ffn)
    assert below["attention"] < rest < above["attention"]


# ---------------------------------------------------------------- properties

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
rows = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 12)), elements=finite)


@given(rows)
def test_layer_norm_gives_mean_zero_and_variance_one(x):
    spread = x.std(axis=-1)
    x = x[spread > 1e-3]  # rows with real spread, and a negligible eps
    if not len(x):
        return
    out = layer_norm(x, np.ones(x.shape[-1]), np.zeros(x.shape[-1]), eps=1e-30)
    np.testing.assert_allclose(out.mean(axis=-1), 0.0, atol=1e-9)
    np.testing.assert_allclose(out.var(axis=-1), 1.0, rtol=1e-9)
    eps_out = layer_norm(x, np.ones(x.shape[-1]), np.zeros(x.shape[-1]), eps=1.0)
    assert np.all(
        eps_out.var(axis=-1) < 1.0
    )  # eps under the root shrinks the variance: s2/(s2+eps)


@given(rows, st.floats(-100, 100), st.floats(0.01, 100))
def test_layer_norm_ignores_shift_and_scale(x, shift, scale):
    x = x[x.std(axis=-1) > 1e-2]
    if not len(x):
        return
    gamma, beta = np.linspace(0.5, 2, x.shape[-1]), np.linspace(-1, 1, x.shape[-1])
    base = layer_norm(x, gamma, beta, eps=1e-30)
    np.testing.assert_allclose(
        layer_norm(x * scale + shift, gamma, beta, eps=1e-30), base, atol=1e-6
    )


@given(rows, st.floats(1e-2, 1e2))
def test_rms_norm_is_scale_invariant(x, scale):
    x = x[np.sqrt((x * x).mean(axis=-1)) > 1e-2]
    if not len(x):
        return
    weight = np.linspace(-2, 2, x.shape[-1])
    np.testing.assert_allclose(
        rms_norm(x * scale, weight, eps=1e-30), rms_norm(x, weight, eps=1e-30), atol=1e-9
    )
    out = rms_norm(x, np.ones(x.shape[-1]), eps=1e-30)
    np.testing.assert_allclose((out * out).mean(axis=-1), 1.0, rtol=1e-9)  # root mean square 1


@given(st.integers(1, 6), st.sampled_from([(8, 2), (12, 3), (4, 1)]), st.integers(0, 2**16))
def test_pre_norm_block_with_zero_sublayers_is_the_identity(seq_len, shape, seed):
    d_model, num_heads = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, seq_len, d_model)) * 5
    p = _zero_sublayers(init_block_params(d_model, rng=rng))
    out, _ = transformer_block(x, p, num_heads=num_heads, norm="pre")
    np.testing.assert_array_equal(out, x)  # x + 0 + 0: the residual path alone
    post, _ = transformer_block(x, p, num_heads=num_heads, norm="post")
    np.testing.assert_allclose(post.mean(axis=-1), 0.0, atol=1e-9)  # post-norm still normalises


@given(st.integers(2, 7), st.integers(0, 2**16))
def test_feed_forward_and_norms_are_per_token(seq_len, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((seq_len, 6))
    perm = rng.permutation(seq_len)
    w_in, w_out = rng.standard_normal((6, 24)), rng.standard_normal((24, 6))
    w_gate, w_up = rng.standard_normal((6, 10)), rng.standard_normal((6, 10))
    w_down = rng.standard_normal((10, 6))
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    for fn in (
        lambda z: feed_forward(z, w_in, None, w_out, None),
        lambda z: swiglu(z, w_gate, w_up, w_down),
        lambda z: layer_norm(z, gamma, beta),
        lambda z: rms_norm(z, gamma),
    ):
        np.testing.assert_allclose(fn(x[perm]), fn(x)[perm], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_causal_block_ignores_the_future(norm):
    rng = _rng("causal block " + norm)
    x = rng.standard_normal((6, 8))
    p = init_block_params(8, rng=rng)
    out, weights = transformer_block(x, p, num_heads=2, norm=norm, mask=causal_mask(6))
    changed = x.copy()
    changed[4:] = rng.standard_normal((2, 8))
    out2, _ = transformer_block(changed, p, num_heads=2, norm=norm, mask=causal_mask(6))
    np.testing.assert_allclose(out2[:4], out[:4], rtol=1e-12)
    assert not np.allclose(out2[4:], out[4:])
    assert np.all(np.triu(weights, k=1) == 0)


# ---------------------------------------------------------------- dtypes, inputs, errors


def _all_functions(dtype):
    rng = _rng("dtypes")
    x = rng.standard_normal((3, 8)).astype(dtype)
    p = init_block_params(8, rng=rng, d_ff=16, dtype=dtype)
    return {
        "layer_norm": lambda: layer_norm(x, p["ln1_gamma"], p["ln1_beta"]),
        "rms_norm": lambda: rms_norm(x, p["ln1_gamma"]),
        "silu": lambda: silu(x),
        "gelu": lambda: gelu(x),
        "gelu_tanh": lambda: gelu(x, approximate=True),
        "feed_forward": lambda: feed_forward(x, p["w_in"], p["b_in"], p["w_out"], p["b_out"]),
        "swiglu": lambda: swiglu(x, p["w_in"], p["w_in"] * 0.5, p["w_out"]),
        "pre": lambda: transformer_block(x, p, num_heads=2, norm="pre")[0],
        "post": lambda: transformer_block(x, p, num_heads=2, norm="post")[0],
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_in_is_dtype_out(dtype):
    for name, fn in _all_functions(dtype).items():
        assert fn().dtype == dtype, name


def test_float32_matches_float64():
    f32, f64 = _all_functions(np.float32), _all_functions(np.float64)
    for name in f32:
        np.testing.assert_allclose(f32[name](), f64[name](), atol=2e-5, err_msg=name)


def test_float16_is_computed_in_float32_and_returned_as_float16():
    x = np.array([[60000.0, -60000.0, 1.0, 2.0]], dtype=np.float16)  # x**2 overflows float16
    out = layer_norm(x, np.ones(4, np.float16), np.zeros(4, np.float16))
    assert out.dtype == np.float16
    assert np.isfinite(out).all()
    rms = rms_norm(x, np.ones(4, np.float16))
    assert rms.dtype == np.float16
    assert np.isfinite(rms).all()


def test_inputs_are_not_modified():
    rng = _rng("readonly")
    x = rng.standard_normal((4, 8))
    p = init_block_params(8, rng=rng)
    for arr in (x, *p.values()):
        arr.flags.writeable = False
    transformer_block(x, p, num_heads=2, norm="pre")
    transformer_block(x, p, num_heads=2, norm="post")
    layer_norm(x, p["ln1_gamma"], p["ln1_beta"])
    rms_norm(x, p["ln1_gamma"])
    silu(x)
    gelu(x, approximate=True)


def test_errors_name_the_argument():
    x = np.ones((2, 4))
    with pytest.raises(
        ValueError, match=r"gamma must have shape \(d_model,\) = \(4,\).*gamma.shape=\(3,\)"
    ):
        layer_norm(x, np.ones(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"weight must have shape"):
        rms_norm(x, np.ones((4, 1)))
    with pytest.raises(ValueError, match="x contains NaN"):
        layer_norm(np.array([1.0, np.nan]), np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="x contains -inf"):
        silu(np.array([-np.inf]))
    with pytest.raises(ValueError, match="eps must be a positive"):
        layer_norm(x, np.ones(4), np.zeros(4), eps=-1.0)
    with pytest.raises(TypeError, match="approximate='tanh'"):
        gelu(x, approximate="tanh")
    with pytest.raises(ValueError, match=r"x @ w_in needs x.shape\[-1\] == w_in.shape\[0\]"):
        feed_forward(x, np.ones((5, 8)), None, np.ones((8, 4)), None)
    with pytest.raises(ValueError, match="w_gate and w_up must have the same shape"):
        swiglu(x, np.ones((4, 6)), np.ones((4, 5)), np.ones((6, 4)))
    p = init_block_params(4, rng=_rng("errors"))
    with pytest.raises(ValueError, match='norm must be "pre" or "post"'):
        transformer_block(x, p, num_heads=2, norm="middle")
    with pytest.raises(KeyError, match="params is missing ln2_gamma"):
        transformer_block(x, {k: v for k, v in p.items() if k != "ln2_gamma"}, num_heads=2)
    with pytest.raises(KeyError, match="does not use: w_gate"):
        transformer_block(x, {**p, "w_gate": p["w_in"]}, num_heads=2)
    with pytest.raises(
        ValueError, match=r"params\['ln2_beta'\] must have shape \(d_model,\) = \(4,\)"
    ):
        transformer_block(x, {**p, "ln2_beta": np.zeros(5)}, num_heads=2)
    with pytest.raises(TypeError, match="params must be a dict"):
        transformer_block(x, [1, 2], num_heads=2)
    with pytest.raises(ValueError, match='ffn must be "mlp"'):
        block_flops(10, 8, ffn="glu")
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        block_flops(0, 8)


# ---------------------------------------------------------------- MiniLM uses the same layer norm


def test_minilm_uses_this_layer_norm():
    assert minilm.layer_norm is block._layer_norm  # one formula: minilm re-exports it
    rng = _rng("minilm layer norm")
    x = rng.standard_normal((2, 5, 384)).astype(np.float32)
    gamma = rng.standard_normal(384).astype(np.float32)
    beta = rng.standard_normal(384).astype(np.float32)
    checked = layer_norm(x, gamma, beta, eps=1e-12)
    assert checked.dtype == np.float32
    np.testing.assert_array_equal(checked, minilm.layer_norm(x, gamma, beta, eps=1e-12))


# ---------------------------------------------------------------- parity with PyTorch


def _run_case(a: dict) -> np.ndarray:
    kind = str(a["kind"])
    if kind == "layer_norm":
        return layer_norm(a["x"], a["gamma"], a["beta"], eps=float(a["eps"]))
    if kind == "rms_norm":
        return rms_norm(a["x"], a["weight"], eps=float(a["eps"]))
    if kind == "gelu":
        return gelu(a["x"], approximate=str(a["approximate"]) == "tanh")
    if kind == "silu":
        return silu(a["x"])
    if kind == "feed_forward":
        return feed_forward(a["x"], a["w_in"], a["b_in"], a["w_out"], a["b_out"])
    if kind == "swiglu":
        return swiglu(a["x"], a["w_gate"], a["w_up"], a["w_down"])
    if kind == "block":
        keys = [*block._REQUIRED_KEYS, *block._OPTIONAL_KEYS]
        output, _ = transformer_block(
            a["x"], {k: a[k] for k in keys}, num_heads=int(a["num_heads"]), norm=str(a["norm"]),
            mask=a.get("mask"),
        )  # fmt: skip
        return output
    raise AssertionError(f"unknown kind {kind}")


@pytest.mark.parametrize(("case", "dtype", "arrays_"), core_fixture_cases("block", ATOL))
def test_matches_pytorch(case, dtype, arrays_):
    for value in arrays_.values():
        value.flags.writeable = False
    output = _run_case(arrays_)
    assert output.dtype == np.dtype(dtype), "float32 in must stay float32"
    assert output.shape == arrays_["output"].shape
    atol = CASE_ATOL.get((dtype, case), ATOL[dtype])
    np.testing.assert_allclose(output, arrays_["output"], rtol=RTOL, atol=atol, err_msg=case)


def test_block_fixtures_cover_what_the_issue_asks_for():
    for dtype in ATOL:
        with np.load(FIXTURES / f"core_block_{dtype}.npz") as data:
            assert str(data["torch_version"]).startswith("2.13.0")
            kinds = {str(data[f"{c}__kind"]) for c in data["cases"]}
            assert kinds == {
                "layer_norm",
                "rms_norm",
                "gelu",
                "silu",
                "feed_forward",
                "swiglu",
                "block",
            }
            norms = {str(data[f"{c}__norm"]) for c in data["cases"] if f"{c}__norm" in data.files}
            assert norms == {"pre", "post"}
            assert {"gelu_exact", "gelu_tanh", "block_pre_causal"} <= {
                str(c) for c in data["cases"]
            }


# ---------------------------------------------------------------- a real post-norm model


def test_a_minilm_layer_is_a_post_norm_block():
    """all-MiniLM-L6-v2's first layer == transformer_block(norm="post") with its weights (notebook
    07b's "Next" says so). Skips only when the model package is not installed, as test_minilm does."""
    import importlib.util
    import os

    if importlib.util.find_spec(minilm.MODEL_PACKAGE) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run this test; install {minilm.MODEL_PACKAGE_PIN}")
        pytest.skip(f"{minilm.MODEL_PACKAGE_PIN} is not installed")
    model = minilm.load_minilm()
    params, config = model.params, model.config
    _, ids, lengths = model.tokenize(["The trophy didn't fit in the suitcase.", "It was too big."])
    x = (
        params["word_embeddings"][ids]
        + params["position_embeddings"][: ids.shape[1]]
        + params["token_type_embeddings"][0]
    )  # (batch, T, 384)
    x = layer_norm(x, params["ln_gamma"], params["ln_beta"], eps=config.layer_norm_eps)
    layer = params["layers"][0]
    w_q, w_k, w_v = np.split(layer["w_qkv"], 3, axis=-1)
    b_q, b_k, b_v = np.split(layer["b_qkv"], 3)
    block_params = {
        "w_q": w_q, "w_k": w_k, "w_v": w_v, "w_o": layer["w_o"],
        "b_q": b_q, "b_k": b_k, "b_v": b_v, "b_o": layer["b_o"],
        "ln1_gamma": layer["ln1_gamma"], "ln1_beta": layer["ln1_beta"],
        "ln2_gamma": layer["ln2_gamma"], "ln2_beta": layer["ln2_beta"],
        "w_in": layer["w_ff1"], "b_in": layer["b_ff1"],
        "w_out": layer["w_ff2"], "b_out": layer["b_ff2"],
    }  # fmt: skip
    from attn_helpers import padding_mask

    mask = padding_mask(lengths, ids.shape[1])  # (batch, 1, T)
    ours, _ = transformer_block(
        x, block_params, num_heads=config.num_heads, norm="post", mask=mask,
        eps=config.layer_norm_eps,
    )  # fmt: skip
    one_layer = dict(params, layers=params["layers"][:1])
    theirs, _ = minilm.minilm_forward(one_layer, ids, lengths, config=config, return_weights=False)
    assert ours.dtype == np.float32
    real = np.arange(ids.shape[1]) < np.asarray(lengths)[:, None]  # padded rows are not compared
    np.testing.assert_allclose(ours[real], theirs[real], atol=1e-4)
