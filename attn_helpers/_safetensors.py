"""Read a ``.safetensors`` file with numpy alone (for Pyodide, where ``safetensors`` may be absent).

The format: an 8-byte little-endian unsigned header length ``n``, then ``n`` bytes of JSON
``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}``,
then the raw little-endian, C-ordered tensor bytes; offsets count from the end of the header.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

__all__ = ["load_file"]

#: safetensors dtype names -> numpy dtypes (little-endian). BF16 has no numpy dtype.
DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip
MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit


def _fail(path, what):
    raise ValueError(f"{path} is not a valid safetensors file: {what}.")


def load_file(path) -> dict:
    """Load every tensor of a safetensors file as a numpy array (like ``safetensors.numpy``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict of str -> ndarray
        Each array with the stored dtype and shape, in native byte order, writable.

    Raises
    ------
    ValueError
        If the header is malformed, names an unknown dtype, or an offset does not match the
        shape or lies outside the file (the message says which tensor and why).
    """
    path = Path(path)
    blob = path.read_bytes()
    if len(blob) < 8:
        _fail(path, f"it has {len(blob)} bytes, fewer than the 8-byte header length")
    n = int.from_bytes(blob[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > len(blob):
        _fail(path, f"the header claims {n} bytes but the file has {len(blob)} bytes in all")
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        _fail(path, f"its {n}-byte header is not JSON ({err})")
    if not isinstance(header, dict):
        _fail(path, f"its header is a JSON {type(header).__name__}, expected an object")
    data = memoryview(blob)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            _fail(
                path,
                f"tensor {name!r} needs dtype, shape and data_offsets [begin, end]; got {info!r}",
            )
        if dtype not in DTYPES:
            _fail(path, f"tensor {name!r} has dtype {dtype!r}; this reader knows {sorted(DTYPES)}")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            _fail(path, f"tensor {name!r} has shape {shape!r}; expected non-negative integers")
        np_dtype = np.dtype(DTYPES[dtype])
        need = math.prod(shape) * np_dtype.itemsize
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(data)):
            _fail(
                path,
                f"tensor {name!r} has data_offsets {[begin, end]} outside the {len(data)} data bytes",
            )
        if end - begin != need:
            _fail(
                path,
                f"tensor {name!r} of shape {shape} and dtype {dtype} needs {need} bytes; its offsets span {end - begin}",
            )
        array = np.frombuffer(data[begin:end], dtype=np_dtype).reshape(shape)
        out[name] = array.astype(np_dtype.newbyteorder("="), copy=True)
    return out
