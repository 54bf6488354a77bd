"""A tiny causal language model in numpy, and generation with a KV cache (notebook 09).

The model reads the course's own generated sentences ("the trophy didn't fit in the suitcase
because it was too big .", from :func:`attn_helpers.learned.make_pronoun_dataset`), one word at a
time, and learns to predict the next word. One layer, written out::

    x      = tok_emb[ids]                                        (B, T, d_model)
    q, k   = rotary_embedding(split_heads(x @ w_q), t), ...      (B, h, T, head_dim), RoPE
    v      = split_heads(x @ w_v)                                (B, h, T, head_dim)
    heads  = scaled_dot_product_attention(q, k, v, causal)       (B, h, T, head_dim)
    hidden = x + merge_heads(heads) @ w_o                        (B, T, d_model), a residual
    logits = hidden @ w_out                                      (B, T, vocab)

Positions enter only through RoPE, so there is no position table and no maximum length. Training
reuses the hand-written attention backward pass and Adam of :mod:`attn_helpers.learned`'s model.

Generation: :func:`prefill` runs the prompt once and keeps every layer's rotated keys and values
(the **KV cache**); :func:`decode_step` then handles one new token: one query, one new key and
value appended to the cache, attention over the cache. Its logits equal a full recomputation of the
whole sequence (``forward``) to rounding, at O(T) instead of O(T^2) work per new token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _learned_backprop as bp
from ._validation import check_heads, check_positive_int
from .core import (
    causal_mask,
    merge_heads,
    rotary_embedding,
    scaled_dot_product_attention,
    split_heads,
)
from .learned import make_pronoun_dataset, tokenize

__all__ = [
    "BOS",
    "CausalLM",
    "KVCache",
    "corpus",
    "decode_step",
    "generate",
    "kv_cache_bytes_per_token",
    "prefill",
    "train_causal_lm",
]

BOS = "<bos>"
PARAM_NAMES = ("tok_emb", "w_q", "w_k", "w_v", "w_o", "w_out")


def corpus(n_pairs=600, *, seed=0) -> list[list[str]]:
    """The training text: ``2 * n_pairs`` generated sentences, each a list of words after ``<bos>``."""
    data = make_pronoun_dataset(n_pairs, seed=seed, split="train")
    return [[BOS, *tokenize(s)] for s in data.sentences]


@dataclass
class KVCache:
    """The rotated keys and values of every token so far: ``k``, ``v`` of shape (h, T, head_dim)."""

    k: np.ndarray
    v: np.ndarray

    @property
    def seq_len(self) -> int:
        return self.k.shape[-2]


@dataclass
class CausalLM:
    """The trained model: ``params`` (float64), ``vocab`` (list of words), ``num_heads``."""

    params: dict
    vocab: list
    num_heads: int
    history: dict = field(default_factory=dict)

    def encode(self, words) -> np.ndarray:
        index = {w: i for i, w in enumerate(self.vocab)}
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(
                f"unknown word(s) {unknown}: the model knows {len(self.vocab)} words, those of the "
                "course's generated sentences. Hint: start from ['<bos>', 'the', 'trophy']."
            )
        return np.array([index[w] for w in words], dtype=np.int64)

    def decode(self, ids) -> list[str]:
        return [self.vocab[int(i)] for i in ids]

    def forward(self, ids):
        """Full recomputation: logits (..., T, vocab) and the cache dict of intermediate arrays."""
        return _forward(self.params, np.asarray(ids), self.num_heads)

    def attention(self, words):
        """``(words, weights)`` with weights of shape (num_heads, T, T) for one sentence."""
        _, cache = self.forward(self.encode(words))
        return list(words), cache["weights"]


def _forward(params, ids, num_heads):
    seq_len = ids.shape[-1]
    positions = np.arange(seq_len)
    x = params["tok_emb"][ids]  # (..., T) -> (..., T, d_model)
    q = rotary_embedding(split_heads(x @ params["w_q"], num_heads), positions)  # (..., h, T, hd)
    k = rotary_embedding(split_heads(x @ params["w_k"], num_heads), positions)
    v = split_heads(x @ params["w_v"], num_heads)
    heads, weights = scaled_dot_product_attention(q, k, v, mask=causal_mask(seq_len))
    merged = merge_heads(heads)  # (..., h, T, hd) -> (..., T, d_model)
    hidden = x + merged @ params["w_o"]
    logits = hidden @ params["w_out"]  # (..., T, vocab)
    cache = dict(x=x, q=q, k=k, v=v, weights=weights, merged=merged, hidden=hidden)
    return logits, cache


def _loss_and_grads(params, ids, valid, num_heads):
    """Mean next-word cross-entropy over the valid positions, and its gradients (by hand)."""
    logits, c = _forward(params, ids[:, :-1], num_heads)  # predict ids[:, 1:]
    target = ids[:, 1:]
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # (B, T, V)
    n = valid.sum()
    loss = -(np.take_along_axis(logp, target[..., None], -1)[..., 0] * valid).sum() / n
    d_logits = np.exp(logp)
    np.put_along_axis(
        d_logits, target[..., None], np.take_along_axis(d_logits, target[..., None], -1) - 1, -1
    )
    d_logits *= valid[..., None] / n
    g = {"w_out": bp._outer(c["hidden"], d_logits)}
    d_hidden = d_logits @ params["w_out"].T  # (B, T, d)
    g["w_o"] = bp._outer(c["merged"], d_hidden)
    d_heads = split_heads(d_hidden @ params["w_o"].T, num_heads)
    dq, dk, dv = bp._attention_backward(d_heads, c["q"], c["k"], c["v"], c["weights"])
    positions = np.arange(ids.shape[1] - 1)
    dq = merge_heads(rotary_embedding(dq, -positions))  # RoPE's inverse is its transpose
    dk = merge_heads(rotary_embedding(dk, -positions))
    dv = merge_heads(dv)
    x = c["x"]
    g["w_q"], g["w_k"], g["w_v"] = bp._outer(x, dq), bp._outer(x, dk), bp._outer(x, dv)
    d_x = d_hidden + dq @ params["w_q"].T + dk @ params["w_k"].T + dv @ params["w_v"].T
    g["tok_emb"] = np.zeros_like(params["tok_emb"])
    np.add.at(g["tok_emb"], ids[:, :-1], d_x)
    return loss, g


def _batch(sentences, index):
    seq_len = max(len(s) for s in sentences)
    ids = np.zeros((len(sentences), seq_len), dtype=np.int64)  # padded with word 0 ("<pad>")
    valid = np.zeros((len(sentences), seq_len - 1))
    for row, s in enumerate(sentences):
        ids[row, : len(s)] = [index[w] for w in s]
        valid[row, : len(s) - 1] = 1.0  # causal: padding after a sentence never reaches it
    return ids, valid


def train_causal_lm(*, steps=300, seed=0, d_model=32, num_heads=2, lr=0.01, batch_size=64,
                    n_pairs=600, progress=False):  # fmt: skip
    """Train the tiny causal LM with Adam on :func:`corpus`; seeded and deterministic.

    Returns
    -------
    CausalLM
        ``history["loss"]`` holds the training loss of every step.
    """
    check_positive_int(steps, "steps")
    check_heads(d_model, num_heads)
    if (d_model // num_heads) % 2:
        raise ValueError(
            f"head_dim = d_model // num_heads = {d_model // num_heads} must be even (RoPE)."
        )
    text = corpus(n_pairs, seed=seed)
    vocab = ["<pad>", BOS, *sorted({w for s in text for w in s} - {BOS})]
    index = {w: i for i, w in enumerate(vocab)}
    ids, valid = _batch(text, index)
    rng = np.random.default_rng(seed)
    std = 1.0 / math.sqrt(d_model)
    params = {
        "tok_emb": rng.normal(0.0, 1.0, (len(vocab), d_model)),
        **{n: rng.normal(0.0, std, (d_model, d_model)) for n in ("w_q", "w_k", "w_v", "w_o")},
        "w_out": rng.normal(0.0, std, (d_model, len(vocab))),
    }
    state, losses = {}, []
    bar = range(steps)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc="training", unit="step")
    for _ in bar:
        rows = rng.choice(len(ids), size=min(batch_size, len(ids)), replace=False)
        loss, grads = _loss_and_grads(params, ids[rows], valid[rows], num_heads)
        bp.adam_step(params, grads, state, lr=lr)
        losses.append(float(loss))
    return CausalLM(params, vocab, num_heads, history={"loss": losses})


# ------------------------------------------------------------------ generation with a KV cache


def prefill(model: CausalLM, ids):
    """Run the prompt ``ids`` (T,) once: logits (T, vocab) and the KV cache of its T tokens."""
    logits, c = model.forward(np.asarray(ids))
    return logits, KVCache(c["k"].copy(), c["v"].copy())


def decode_step(model: CausalLM, token_id: int, cache: KVCache):
    """One new token at position ``cache.seq_len``: its logits (vocab,), the grown cache, weights.

    Work: one query against ``cache.seq_len + 1`` keys, O(T); the old keys are never recomputed.
    """
    p, h = model.params, model.num_heads
    t = cache.seq_len  # the new token's position
    x = p["tok_emb"][[token_id]]  # (1, d_model)
    q = rotary_embedding(split_heads(x @ p["w_q"], h), [t])  # (h, 1, head_dim)
    k_new = rotary_embedding(split_heads(x @ p["w_k"], h), [t])
    v_new = split_heads(x @ p["w_v"], h)
    k = np.concatenate([cache.k, k_new], axis=-2)  # (h, t + 1, head_dim)
    v = np.concatenate([cache.v, v_new], axis=-2)
    heads, weights = scaled_dot_product_attention(q, k, v)  # no mask: the cache holds only the past
    hidden = x + merge_heads(heads) @ p["w_o"]  # (1, d_model)
    return (hidden @ p["w_out"])[0], KVCache(k, v), weights[:, 0]  # (vocab,), cache, (h, t + 1)


def generate(model: CausalLM, prompt, max_new_tokens=12, *, temperature=0.0, seed=0, stop="."):
    """Continue ``prompt`` (a list of words) with the KV cache; greedy when ``temperature=0``."""
    rng = np.random.default_rng(seed)
    ids = list(model.encode(prompt))
    logits, cache = prefill(model, ids)
    last = logits[-1]
    for _ in range(max_new_tokens):
        if temperature > 0:
            z = last / temperature
            probs = np.exp(z - z.max())
            nxt = int(rng.choice(len(probs), p=probs / probs.sum()))
        else:
            nxt = int(np.argmax(last))
        ids.append(nxt)
        if model.vocab[nxt] == stop:
            break
        last, cache, _ = decode_step(model, nxt, cache)
    return model.decode(ids)


def kv_cache_bytes_per_token(*, num_layers, num_kv_heads, head_dim, bytes_per_value=2) -> int:
    """Memory the KV cache needs per token: layers x 2 (k and v) x kv_heads x head_dim x bytes."""
    for name, value in (("num_layers", num_layers), ("num_kv_heads", num_kv_heads),
                        ("head_dim", head_dim), ("bytes_per_value", bytes_per_value)):  # fmt: skip
        check_positive_int(value, name)
    return num_layers * 2 * num_kv_heads * head_dim * bytes_per_value
