"""Make the PyTorch parity fixtures for ``attn_helpers.core`` (tests/fixtures/core_*.npz).

PyTorch is the peer: ``torch.nn.functional.scaled_dot_product_attention`` and
``torch.nn.MultiheadAttention`` compute every output and weight stored here, from inputs drawn with
a fixed seed. ``core_decoding_*.npz`` (notebook 09): grouped-query attention through
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


def main() -> int:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    sdpa = sdpa_cases(rng)
    mha = mha_cases(rng)
    for name, dtype in DTYPES.items():
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
        results = {c: run_decoding(case, dtype) for c, case in decoding.items()}
        descriptions = {c: case["description"] for c, case in decoding.items()}
        for c, case in rope_cases(np.random.default_rng(SEED + 10), np.dtype(name)).items():
            descriptions[c] = case.pop("description")
            results[c] = case
        _save(OUT_DIR / f"core_decoding_{name}.npz", results, descriptions)
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["causal"]:  # `make_core_fixtures.py causal`: only core_causal_*.npz
        main()
    sys.exit(make_causal_fixtures())
