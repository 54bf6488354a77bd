"""Make the PyTorch parity fixtures for ``attn_helpers.core`` (tests/fixtures/core_*.npz).

PyTorch is the peer: ``torch.nn.functional.scaled_dot_product_attention`` and
``torch.nn.MultiheadAttention`` compute every output and weight stored here, from inputs drawn with
a fixed seed. ``core_block_*.npz`` (notebook 07b, ``attn_helpers.block``): ``F.layer_norm``,
``F.rms_norm``, ``F.gelu`` (exact and tanh), ``F.silu``, a GELU MLP, Llama's SwiGLU MLP and
``nn.TransformerEncoderLayer`` in pre-norm and post-norm order (see ``block_cases``).
``core_decoding_*.npz`` (notebook 09): grouped-query attention through
``F.scaled_dot_product_attention(..., enable_gqa=True)``, causal and sliding-window masks, and RoPE
from ``rope_reference`` below, written independently of attn_helpers (split-halves convention of
GPT-NeoX and Hugging Face's Llama; PyTorch itself has no RoPE function). ``core_causal_*.npz``
(notebook 07): PyTorch's ``causal_upper_left`` and ``causal_lower_right`` biases on rectangular
q, k, the alignment a KV cache needs. ``tests/test_core_parity.py`` then compares ``attn_helpers`` against these files
*without* PyTorch installed (atol 1e-6 for float64, 1e-5 for float32).

How to rerun (only needed when a case is added; nobody needs PyTorch to study or test the course)::

    make fixtures

which does the same as::

    python3 -m venv .fixture-venv
    .fixture-venv/bin/python -m pip install -r scripts/fixture-requirements.txt   # torch==2.13.0 (CPU build)
    .fixture-venv/bin/python scripts/make_core_fixtures.py
    .fixture-venv/bin/python scripts/make_core_fixtures.py causal   # only core_causal_*.npz
    .fixture-venv/bin/python scripts/make_core_fixtures.py block    # only core_block_*.npz

The files are deterministic for a given PyTorch build; each records ``torch_version`` and
``numpy_version``. Commit them together with any change to this script.

Layout of each file: for a case named ``c`` the arrays are stored as ``c__q``, ``c__output``, ...;
``cases`` lists the case names and ``description`` says what each one covers.

Conventions translated here, once, so the tests need no PyTorch knowledge:

- Masks are stored in the course's convention (boolean, True = may attend). ``F.scaled_dot_product_attention``
  uses the same orientation, but ``nn.MultiheadAttention``'s boolean ``attn_mask`` and
  ``key_padding_mask`` mean True = *block*, so they are built as the negation of ours.
- ``nn.MultiheadAttention`` stores ``in_proj_weight`` as (3 * d_model, d_model) for column vectors
  (``W @ x``). The course uses row vectors (``x @ w``), so ``w_q = in_proj_weight[:d].T`` and so on.
- A query row whose keys are all masked: ``nn.MultiheadAttention`` returns NaN there, the course
  returns zeros (a documented choice). The rows are flagged in ``fully_masked`` (shape (..., T_q));
  the test compares those rows with zeros and all the others with PyTorch.
- ``F.scaled_dot_product_attention`` returns no weights; they are obtained from the same function
  with ``v`` set to the identity matrix (``softmax(...) @ I`` is the weights themselves).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "tests" / "fixtures"
SEED = 20240611
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def _causal(seq_len: int) -> np.ndarray:
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))  # (T, T), True = may attend


def _padding(lengths, seq_len: int) -> np.ndarray:
    return (np.arange(seq_len) < np.asarray(lengths)[:, None])[:, None, :]  # (batch, 1, T)


# ---------------------------------------------------------------- scaled dot-product attention


def sdpa_cases(rng: np.random.Generator) -> dict[str, dict]:
    """Inputs for F.scaled_dot_product_attention, masks in the course's convention."""
    cases: dict[str, dict] = {}

    def qkv(lead, t_q, t_k, d_k, d_v, *, lead_k=None):
        lead_k = lead if lead_k is None else lead_k
        return {
            "q": rng.standard_normal((*lead, t_q, d_k)),
            "k": rng.standard_normal((*lead_k, t_k, d_k)),
            "v": rng.standard_normal((*lead_k, t_k, d_v)),
        }

    cases["plain"] = {
        **qkv((2, 3), 5, 7, 8, 6),
        "description": "no mask, batch 2 x heads 3, T_q=5 != T_k=7, d_k=8, d_v=6",
    }
    cases["unbatched"] = {**qkv((), 4, 4, 3, 3), "description": "a single (T, d) sequence"}
    cases["scale"] = {
        **qkv((2,), 4, 6, 5, 5),
        "scale": np.float64(0.3),
        "description": "explicit scale=0.3 instead of 1/sqrt(d_k)",
    }
    cases["broadcast"] = {
        **qkv((2, 1), 3, 5, 4, 4, lead_k=(1, 3)),
        "description": "leading axes broadcast: q (2, 1, ...), k and v (1, 3, ...)",
    }
    cases["causal"] = {
        **qkv((2, 2), 6, 6, 8, 8),
        "mask": _causal(6),
        "description": "causal mask (T, T) broadcast over batch and heads",
    }
    cases["padding"] = {
        **qkv((3,), 5, 5, 4, 4),
        "mask": _padding([5, 3, 1], 5),
        "description": "padding mask (batch, 1, T_k), lengths 5, 3, 1",
    }
    lengths = [4, 0, 2]  # the second sequence is all padding: every row fully masked
    mask = _padding(lengths, 4) & _causal(4)  # (3, 4, 4)
    mask[0, 2, :] = False  # one more fully masked row in the first sequence
    cases["fully_masked"] = {
        **qkv((3,), 4, 4, 4, 4),
        "mask": mask,
        "description": "padding & causal with fully masked rows (a length-0 sequence, one blanked row)",
    }
    mask = rng.random((2, 1, 5, 6)) < 0.6
    mask[1, 0, 3] = False
    cases["random_mask"] = {
        **qkv((2, 2), 5, 6, 3, 2),
        "mask": mask,
        "description": "random boolean mask (2, 1, T_q, T_k) over heads, one fully masked row",
    }
    return cases


def run_sdpa(case: dict, dtype: torch.dtype) -> dict[str, np.ndarray]:
    q, k, v = (torch.tensor(case[n], dtype=dtype) for n in ("q", "k", "v"))
    mask = torch.tensor(case["mask"]) if "mask" in case else None
    scale = float(case["scale"]) if "scale" in case else None
    output = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    # Weights from the same function: with v = I (T_k, T_k) the output *is* softmax(scores).
    t_k = k.shape[-2]
    eye = torch.eye(t_k, dtype=dtype).expand(*k.shape[:-2], t_k, t_k)
    weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=mask, scale=scale)
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    weights_shape = (*lead, q.shape[-2], t_k)
    if mask is None:
        fully = np.zeros(weights_shape[:-1], dtype=bool)
    else:
        fully = ~np.broadcast_to(case["mask"], weights_shape).any(axis=-1)
    out = {
        "q": _np(q),
        "k": _np(k),
        "v": _np(v),
        "output": _np(output),
        "weights": _np(weights),
        "fully_masked": fully,
    }
    if mask is not None:
        out["mask"] = case["mask"]
    if scale is not None:
        out["scale"] = np.float64(scale)
    return out


# ---------------------------------------------------------------- multi-head attention


def mha_cases(rng: np.random.Generator) -> dict[str, dict]:
    """Inputs for nn.MultiheadAttention (batch_first=True), masks in the course's convention."""
    cases: dict[str, dict] = {}
    n, t, d = 2, 5, 8
    cases["self_nobias"] = {
        "x_q": rng.standard_normal((n, t, d)),
        "num_heads": 2,
        "bias": False,
        "description": "self-attention, bias=False, no mask",
    }
    cases["self_bias"] = {
        "x_q": rng.standard_normal((n, t, d)),
        "num_heads": 4,
        "bias": True,
        "description": "self-attention with in/out biases, 4 heads of head_dim 2",
    }
    cases["causal"] = {
        "x_q": rng.standard_normal((n, t, d)),
        "num_heads": 2,
        "bias": True,
        "mask": _causal(t),
        "description": "causal attn_mask (T, T), with biases",
    }
    cases["padding"] = {
        "x_q": rng.standard_normal((3, t, d)),
        "num_heads": 2,
        "bias": False,
        "mask": _padding([5, 3, 2], t),
        "description": "key_padding_mask, lengths 5, 3, 2, bias=False",
    }
    cases["cross"] = {
        "x_q": rng.standard_normal((n, 4, d)),
        "x_kv": rng.standard_normal((n, 6, d)),
        "num_heads": 2,
        "bias": True,
        "mask": _padding([6, 4], 6),
        "description": "cross-attention T_q=4, T_kv=6 with a key padding mask",
    }
    mask = _padding([5, 0, 3], t) & _causal(t)  # (3, T, T); sequence 1 is all padding
    cases["fully_masked"] = {
        "x_q": rng.standard_normal((3, t, d)),
        "num_heads": 2,
        "bias": True,
        "mask": mask,
        "description": "causal & padding with a length-0 sequence: PyTorch gives NaN there, we give zeros",
    }
    return cases


def run_mha(case: dict, dtype: torch.dtype) -> dict[str, np.ndarray]:
    x_q = torch.tensor(case["x_q"], dtype=dtype)
    x_kv = torch.tensor(case["x_kv"], dtype=dtype) if "x_kv" in case else x_q
    d = x_q.shape[-1]
    h = case["num_heads"]
    mha = torch.nn.MultiheadAttention(d, h, bias=case["bias"], batch_first=True, dtype=dtype)
    mha.train()  # dropout=0.0, so training mode is deterministic; it also avoids the fused fast path
    with torch.no_grad():
        if case["bias"]:  # PyTorch initialises biases to zero; random ones make the test bite
            mha.in_proj_bias.copy_(torch.randn(3 * d, dtype=dtype))
            mha.out_proj.bias.copy_(torch.randn(d, dtype=dtype))
    kwargs = {}
    mask = case.get("mask")
    if mask is not None:
        if mask.ndim == 3 and mask.shape[1] == 1:  # (N, 1, S) padding -> key_padding_mask (N, S)
            kwargs["key_padding_mask"] = torch.tensor(~mask[:, 0, :])  # True = BLOCK in PyTorch
        elif mask.ndim == 2:  # (L, S) -> attn_mask (L, S)
            kwargs["attn_mask"] = torch.tensor(~mask)  # True = BLOCK
        else:  # (N, L, S) -> attn_mask (N * num_heads, L, S), batch-major as PyTorch expects
            kwargs["attn_mask"] = torch.tensor(~np.repeat(mask, h, axis=0))
    with torch.no_grad():
        output, weights = mha(x_q, x_kv, x_kv, average_attn_weights=False, **kwargs)
        output_avg, weights_avg = mha(x_q, x_kv, x_kv, average_attn_weights=True, **kwargs)
    assert torch.equal(output, output_avg) or torch.allclose(output, output_avg, equal_nan=True)
    w_in = mha.in_proj_weight.detach()  # (3d, d), column-vector convention: q = W_q @ x
    out = {
        "x_q": _np(x_q),
        "x_kv": _np(x_kv),
        "num_heads": np.int64(h),
        "w_q": _np(w_in[:d].T),  # transposed for the course's x @ w
        "w_k": _np(w_in[d : 2 * d].T),
        "w_v": _np(w_in[2 * d :].T),
        "w_o": _np(mha.out_proj.weight.T),
        "output": _np(output),  # (N, L, d)
        "weights": _np(weights),  # (N, h, L, S), per head
        "weights_avg": _np(weights_avg),  # (N, L, S), mean over heads
    }
    if case["bias"]:
        b_in = mha.in_proj_bias.detach()
        out.update(
            b_q=_np(b_in[:d]), b_k=_np(b_in[d : 2 * d]), b_v=_np(b_in[2 * d :]),
            b_o=_np(mha.out_proj.bias),
        )  # fmt: skip
    target = (x_q.shape[0], x_q.shape[1], x_kv.shape[1])
    if mask is None:
        out["fully_masked"] = np.zeros(target[:-1], dtype=bool)
    else:
        out["mask"] = mask
        out["fully_masked"] = ~np.broadcast_to(mask, target).any(axis=-1)  # (N, L)
    return out


# ---------------------------------------------------------------- decoders: GQA, windows, RoPE


def _window(seq_len: int, window: int) -> np.ndarray:
    offset = np.arange(seq_len)[:, None] - np.arange(seq_len)[None, :]  # i - j
    return (offset >= 0) & (offset < window)  # (T, T), True = may attend


def rope_reference(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """RoPE written independently of attn_helpers: split halves as complex numbers.

    GPT-NeoX / Llama (Hugging Face ``rotate_half``) pair feature i with feature i + head_dim/2.
    Here each pair is the complex number ``x[i] + 1j * x[i + half]``, multiplied by
    ``exp(1j * position * base**(-2i / head_dim))``; the real and imaginary parts are the halves.
    """
    half = x.shape[-1] // 2
    z = x[..., :half] + 1j * x[..., half:]
    theta = np.outer(positions, 1.0 / base ** (np.arange(0, x.shape[-1], 2) / x.shape[-1]))
    z = z * np.exp(1j * theta)
    return np.concatenate([z.real, z.imag], axis=-1)


def decoding_cases(rng: np.random.Generator) -> dict[str, dict]:
    """GQA through F.scaled_dot_product_attention(enable_gqa=True), window masks, RoPE."""
    cases: dict[str, dict] = {}

    def qkv(batch, h, h_kv, t, d):
        return {
            "q": rng.standard_normal((batch, h, t, d)),
            "k": rng.standard_normal((batch, h_kv, t, d)),
            "v": rng.standard_normal((batch, h_kv, t, d)),
        }

    cases["gqa_causal"] = {
        **qkv(2, 8, 2, 6, 4),
        "mask": _causal(6),
        "description": "GQA, 8 query heads sharing 2 kv heads (enable_gqa=True), causal mask",
    }
    cases["mqa_window"] = {
        **qkv(1, 4, 1, 9, 4),
        "mask": _window(9, 3),
        "window": np.int64(3),
        "description": "MQA (1 kv head for 4 query heads), sliding window of 3",
    }
    cases["window"] = {
        **qkv(2, 2, 2, 10, 8),
        "mask": _window(10, 4),
        "window": np.int64(4),
        "description": "sliding window of 4 on plain multi-head q, k, v",
    }
    cases["causal"] = {
        **qkv(1, 3, 3, 7, 5),
        "mask": _causal(7),
        "description": "causal mask (the window = seq_len case)",
    }
    return cases


def run_decoding(case: dict, dtype: torch.dtype) -> dict[str, np.ndarray]:
    q, k, v = (torch.tensor(case[n], dtype=dtype) for n in ("q", "k", "v"))
    mask = torch.tensor(case["mask"])
    gqa = q.shape[-3] != k.shape[-3]
    output = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
    t_k = k.shape[-2]
    eye = torch.eye(t_k, dtype=dtype).expand(*k.shape[:-2], t_k, t_k).contiguous()
    weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=mask, enable_gqa=gqa)
    out = {
        "q": _np(q),
        "k": _np(k),
        "v": _np(v),
        "mask": case["mask"],
        "output": _np(output),
        "weights": _np(weights),
    }
    if "window" in case:
        out["window"] = case["window"]
    return out


def rope_cases(rng: np.random.Generator, dtype: np.dtype) -> dict[str, dict]:
    out = {}
    for name, shape, positions, base, description in (
        ("rope_basic", (5, 8), np.arange(5), 10000.0, "head_dim 8, positions 0..4"),
        ("rope_offset", (2, 3, 4, 16), np.arange(100, 104), 10000.0, "heads, positions 100..103"),
        ("rope_base", (6, 4), np.arange(6) * 7, 500.0, "base 500, positions 0, 7, ..., 35"),
    ):
        x = rng.standard_normal(shape).astype(dtype)
        ref = rope_reference(x.astype(np.float64), positions, base).astype(dtype)
        out[name] = {
            "x": x,
            "positions": positions,
            "base": np.float64(base),
            "rotated": ref,
            "description": f"RoPE (split halves, reference in the script): {description}",
        }
    return out


# ---------------------------------------------------------------- causal alignment (KV cache)
# core_causal_*.npz: PyTorch's two causal biases on rectangular q, k (issue 21 item 6). Own
# generator, own files: `python scripts/make_core_fixtures.py causal` rewrites only these.

CAUSAL_VARIANTS = ("upper_left", "lower_right")


def causal_cases(rng: np.random.Generator) -> dict[str, dict]:
    """Rectangular and square q, k, v for torch.nn.attention.bias.causal_upper_left/_lower_right."""

    def qkv(lead, t_q, t_k, d_k, d_v):
        return {
            "q": rng.standard_normal((*lead, t_q, d_k)),
            "k": rng.standard_normal((*lead, t_k, d_k)),
            "v": rng.standard_normal((*lead, t_k, d_v)),
        }

    return {
        "decode_one": {
            **qkv((2, 3), 1, 9, 8, 6),
            "description": "one new token after 8 cached ones (T_q=1, T_k=9), batch 2 x heads 3",
        },
        "decode_chunk": {
            **qkv((2,), 3, 10, 4, 5),
            "description": "3 new tokens after 7 cached ones (T_q=3, T_k=10)",
        },
        "square": {
            **qkv((2, 2), 6, 6, 4, 4),
            "description": "T_q = T_k = 6: both alignments are the plain causal mask",
        },
        "more_queries": {
            **qkv((2,), 7, 4, 4, 3),
            "description": "T_q=7 > T_k=4: lower-right leaves the first 3 queries no key (zeros)",
        },
    }


def run_causal(case: dict, dtype: torch.dtype) -> dict[str, np.ndarray]:
    from torch.nn.attention.bias import causal_lower_right, causal_upper_left

    q, k, v = (torch.tensor(case[n], dtype=dtype) for n in ("q", "k", "v"))
    t_q, t_k = q.shape[-2], k.shape[-2]
    out = {"q": _np(q), "k": _np(k), "v": _np(v)}
    eye = torch.eye(t_k, dtype=dtype).expand(*k.shape[:-2], t_k, t_k).contiguous()
    for variant, make_bias in zip(CAUSAL_VARIANTS, (causal_upper_left, causal_lower_right)):
        with warnings.catch_warnings():  # "will produce NaNs when seq_len_q > seq_len_kv": it
            warnings.simplefilter("ignore", UserWarning)  # gives zeros on the CPU, stored as is
            bias = make_bias(t_q, t_k)
        mask = _np(bias._materialize()).astype(bool)  # (T_q, T_k), True = may attend
        out[f"mask_{variant}"] = mask
        out[f"output_{variant}"] = _np(F.scaled_dot_product_attention(q, k, v, attn_mask=bias))
        out[f"weights_{variant}"] = _np(F.scaled_dot_product_attention(q, k, eye, attn_mask=bias))
        out[f"fully_masked_{variant}"] = ~mask.any(axis=-1)  # (T_q,)
    return out


def make_causal_fixtures() -> int:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    cases = causal_cases(np.random.default_rng(SEED + 21))
    for name, dtype in DTYPES.items():
        _save(
            OUT_DIR / f"core_causal_{name}.npz",
            {c: run_causal(case, dtype) for c, case in cases.items()},
            {c: case["description"] for c, case in cases.items()},
        )
    return 0


# ---------------------------------------------------------------- the block around attention


def _set(param: torch.nn.Parameter, value: np.ndarray) -> None:
    with torch.no_grad():
        param.copy_(torch.tensor(value, dtype=param.dtype))


def block_cases(rng: np.random.Generator) -> dict[str, dict]:
    """Norms, activations, feed-forward layers and whole blocks, all parameters drawn here.

    PyTorch's peers: ``F.layer_norm``, ``F.rms_norm``, ``F.gelu`` (``approximate='none'`` and
    ``'tanh'``), ``F.silu``, an ``nn.Linear``-GELU-``nn.Linear`` MLP, Llama's SwiGLU MLP
    (``down_proj(silu(gate_proj(x)) * up_proj(x))`` with ``nn.Linear(bias=False)``), and
    ``nn.TransformerEncoderLayer`` with ``norm_first=True`` (pre-norm) and ``False`` (post-norm),
    ``activation="gelu"``, ``dropout=0``. Linear weights are stored transposed, (d_in, d_out).
    """
    cases: dict[str, dict] = {}
    d = 8
    cases["layer_norm"] = {
        "kind": "layer_norm",
        "x": rng.standard_normal((2, 5, d)) * 3.0 + 2.0,
        "gamma": rng.standard_normal(d),
        "beta": rng.standard_normal(d),
        "eps": np.float64(1e-5),
        "description": "F.layer_norm over the last axis, random gamma/beta, eps=1e-5",
    }
    cases["layer_norm_offset"] = {
        "kind": "layer_norm",
        "x": rng.standard_normal((4, 16)) * 0.01 + 50.0,
        "gamma": rng.standard_normal(16),
        "beta": rng.standard_normal(16),
        "eps": np.float64(1e-12),
        "description": "F.layer_norm of small variations on a large mean (50), eps=1e-12 as BERT",
    }
    cases["rms_norm"] = {
        "kind": "rms_norm",
        "x": rng.standard_normal((2, 5, d)) * 3.0 + 1.0,
        "weight": rng.standard_normal(d),
        "eps": np.float64(1e-6),
        "description": "F.rms_norm over the last axis, random weight, eps=1e-6",
    }
    grid = np.concatenate([np.linspace(-8.0, 8.0, 161), [-30.0, -12.5, 12.5, 30.0]])
    cases["gelu_exact"] = {"kind": "gelu", "x": grid, "approximate": np.str_("none"),
                           "description": "F.gelu(approximate='none') on [-8, 8] and +-12.5, +-30"}  # fmt: skip
    cases["gelu_tanh"] = {"kind": "gelu", "x": grid, "approximate": np.str_("tanh"),
                          "description": "F.gelu(approximate='tanh') on the same grid"}  # fmt: skip
    cases["silu"] = {"kind": "silu", "x": grid, "description": "F.silu on the same grid"}
    cases["feed_forward"] = {
        "kind": "feed_forward",
        "x": rng.standard_normal((2, 5, d)),
        "d_ff": np.int64(4 * d),
        "description": "nn.Linear(8, 32) -> nn.GELU() -> nn.Linear(32, 8), random biases",
    }
    cases["swiglu"] = {
        "kind": "swiglu",
        "x": rng.standard_normal((2, 5, d)),
        "d_ff": np.int64(20),
        "description": "Llama's MLP: down_proj(F.silu(gate_proj(x)) * up_proj(x)), no biases, d_ff=20",
    }
    for norm in ("pre", "post"):
        for masked in (False, True):
            name = f"block_{norm}" + ("_causal" if masked else "")
            cases[name] = {
                "kind": "block",
                "x": rng.standard_normal((2, 6, d)),
                "norm": np.str_(norm),
                "num_heads": np.int64(2),
                "d_ff": np.int64(4 * d),
                **({"mask": _causal(6)} if masked else {}),
                "description": (
                    f"nn.TransformerEncoderLayer(norm_first={norm == 'pre'}), GELU, 2 heads, "
                    f"d_ff=32, random weights, biases and layer norms"
                    + (", causal src_mask" if masked else "")
                ),
            }
    # Every parameter is drawn now, from this generator, so the file does not depend on torch's RNG.
    for case in cases.values():
        if case["kind"] in ("feed_forward", "block"):
            d_ff = int(case["d_ff"])
            case["w_in"] = rng.standard_normal((d, d_ff)) / np.sqrt(d)
            case["b_in"] = rng.standard_normal(d_ff) * 0.5
            case["w_out"] = rng.standard_normal((d_ff, d)) / np.sqrt(d_ff)
            case["b_out"] = rng.standard_normal(d) * 0.5
        if case["kind"] == "swiglu":
            d_ff = int(case["d_ff"])
            case["w_gate"] = rng.standard_normal((d, d_ff)) / np.sqrt(d)
            case["w_up"] = rng.standard_normal((d, d_ff)) / np.sqrt(d)
            case["w_down"] = rng.standard_normal((d_ff, d)) / np.sqrt(d_ff)
        if case["kind"] == "block":
            for w in ("w_q", "w_k", "w_v", "w_o"):
                case[w] = rng.standard_normal((d, d)) / np.sqrt(d)
            for b in ("b_q", "b_k", "b_v", "b_o"):
                case[b] = rng.standard_normal(d) * 0.5
            for ln in ("ln1", "ln2"):
                case[f"{ln}_gamma"] = 1.0 + 0.3 * rng.standard_normal(d)
                case[f"{ln}_beta"] = 0.3 * rng.standard_normal(d)
    return cases


def run_block(case: dict, dtype: torch.dtype) -> dict[str, np.ndarray]:
    """One case through PyTorch; returns the inputs (cast to ``dtype``) and ``output``."""
    kind = case["kind"]
    arrays = {k: v for k, v in case.items() if k not in ("kind", "description")}
    t = {
        k: torch.tensor(v, dtype=dtype)
        for k, v in arrays.items()
        if np.asarray(v).dtype.kind == "f"
    }
    x = t["x"]
    with torch.no_grad():
        if kind == "layer_norm":
            d = x.shape[-1]
            output = F.layer_norm(x, (d,), t["gamma"], t["beta"], eps=float(case["eps"]))
        elif kind == "rms_norm":
            output = F.rms_norm(x, (x.shape[-1],), t["weight"], eps=float(case["eps"]))
        elif kind == "gelu":
            output = F.gelu(x, approximate=str(case["approximate"]))
        elif kind == "silu":
            output = F.silu(x)
        elif kind == "feed_forward":
            d, d_ff = x.shape[-1], int(case["d_ff"])
            mlp = torch.nn.Sequential(
                torch.nn.Linear(d, d_ff, dtype=dtype), torch.nn.GELU(),
                torch.nn.Linear(d_ff, d, dtype=dtype),
            )  # fmt: skip
            _set(mlp[0].weight, case["w_in"].T)  # nn.Linear stores (d_out, d_in)
            _set(mlp[0].bias, case["b_in"])
            _set(mlp[2].weight, case["w_out"].T)
            _set(mlp[2].bias, case["b_out"])
            output = mlp(x)
        elif kind == "swiglu":
            d, d_ff = x.shape[-1], int(case["d_ff"])
            gate = torch.nn.Linear(d, d_ff, bias=False, dtype=dtype)
            up = torch.nn.Linear(d, d_ff, bias=False, dtype=dtype)
            down = torch.nn.Linear(d_ff, d, bias=False, dtype=dtype)
            for layer, w in ((gate, "w_gate"), (up, "w_up"), (down, "w_down")):
                _set(layer.weight, case[w].T)
            output = down(F.silu(gate(x)) * up(x))
        elif kind == "block":
            d, d_ff = x.shape[-1], int(case["d_ff"])
            layer = torch.nn.TransformerEncoderLayer(
                d, int(case["num_heads"]), dim_feedforward=d_ff, dropout=0.0, activation="gelu",
                batch_first=True, norm_first=str(case["norm"]) == "pre", dtype=dtype,
            )  # fmt: skip
            layer.train()  # dropout is 0, so deterministic; training mode avoids the fused fast path
            w_in = np.concatenate([case["w_q"].T, case["w_k"].T, case["w_v"].T])  # (3d, d)
            _set(layer.self_attn.in_proj_weight, w_in)
            _set(
                layer.self_attn.in_proj_bias,
                np.concatenate([case["b_q"], case["b_k"], case["b_v"]]),
            )
            _set(layer.self_attn.out_proj.weight, case["w_o"].T)
            _set(layer.self_attn.out_proj.bias, case["b_o"])
            _set(layer.linear1.weight, case["w_in"].T)
            _set(layer.linear1.bias, case["b_in"])
            _set(layer.linear2.weight, case["w_out"].T)
            _set(layer.linear2.bias, case["b_out"])
            for ln, module in (("ln1", layer.norm1), ("ln2", layer.norm2)):
                _set(module.weight, case[f"{ln}_gamma"])
                _set(module.bias, case[f"{ln}_beta"])
            src_mask = torch.tensor(~case["mask"]) if "mask" in case else None  # True = BLOCK
            output = layer(x, src_mask=src_mask)
        else:  # pragma: no cover
            raise ValueError(kind)
    out = {k: (_np(t[k]) if k in t else np.asarray(v)) for k, v in arrays.items()}
    out["kind"] = np.str_(kind)
    out["output"] = _np(output)
    return out


# ---------------------------------------------------------------- main


def _save(path: Path, results: dict[str, dict], descriptions: dict[str, str]) -> None:
    arrays: dict[str, np.ndarray] = {
        "cases": np.array(list(results)),
        "description": np.array([descriptions[c] for c in results]),
        "torch_version": np.array(torch.__version__),
        "numpy_version": np.array(np.__version__),
        "seed": np.int64(SEED),
    }
    for case, values in results.items():
        for key, value in values.items():
            arrays[f"{case}__{key}"] = np.asarray(value)
    np.savez_compressed(path, **arrays)
    size = path.stat().st_size
    print(f"wrote {path.relative_to(ROOT)} ({len(results)} cases, {size / 1024:.1f} KiB)")


GROUPS = ("sdpa_mha", "decoding", "causal", "block")


def main(argv: list[str] | None = None) -> int:
    """Write every fixture file, or only the groups named on the command line (``GROUPS``).

    ``python scripts/make_core_fixtures.py block`` rewrites only ``core_block_*.npz``.
    """
    groups = set(sys.argv[1:] if argv is None else argv) or set(GROUPS)
    if not groups <= set(GROUPS):
        raise SystemExit(f"unknown group(s) {sorted(groups - set(GROUPS))}; choose from {GROUPS}")
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    sdpa = sdpa_cases(rng)
    mha = mha_cases(rng)
    for name, dtype in DTYPES.items():
        if "sdpa_mha" not in groups:
            break
        _save(
            OUT_DIR / f"core_sdpa_{name}.npz",
            {c: run_sdpa(case, dtype) for c, case in sdpa.items()},
            {c: case["description"] for c, case in sdpa.items()},
        )
        _save(
            OUT_DIR / f"core_mha_{name}.npz",
            {c: run_mha(case, dtype) for c, case in mha.items()},
            {c: case["description"] for c, case in mha.items()},
        )
    # Decoder cases draw from their own generator, so adding them left the older files unchanged.
    rng = np.random.default_rng(SEED + 9)
    decoding = decoding_cases(rng)
    for name, dtype in DTYPES.items():
        if "decoding" not in groups:
            break
        results = {c: run_decoding(case, dtype) for c, case in decoding.items()}
        descriptions = {c: case["description"] for c, case in decoding.items()}
        for c, case in rope_cases(np.random.default_rng(SEED + 10), np.dtype(name)).items():
            descriptions[c] = case.pop("description")
            results[c] = case
        _save(OUT_DIR / f"core_decoding_{name}.npz", results, descriptions)
    if "causal" in groups:
        make_causal_fixtures()  # reseeds torch itself
    # The block cases (last, so torch's RNG is untouched before the others) draw from their own
    # generator and set every parameter themselves: the file depends on neither ordering.
    block = block_cases(np.random.default_rng(SEED + 11))
    for name, dtype in DTYPES.items():
        if "block" not in groups:
            break
        _save(
            OUT_DIR / f"core_block_{name}.npz",
            {c: run_block(case, dtype) for c, case in block.items()},
            {c: case["description"] for c, case in block.items()},
        )
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
