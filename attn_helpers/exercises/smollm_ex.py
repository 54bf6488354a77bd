"""Exercise checkers for notebook 10, on SmolLM2-135M-Instruct's real weights: RMSNorm, RoPE on
adjacent pairs (the file's order), one layer's grouped-query attention, the attention-sink share and
one cached decoding step with GQA.

The cases are real activations of the trophy sentence, computed when a checker first runs (from the
model :func:`attn_helpers.smollm.load_smollm` already holds, so nothing is loaded twice), plus small
made-up cases. Each ``check_...`` takes the learner's function itself::

    check_smollm_rms_norm(my_rms_norm)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ._common import _softmax_rows
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = [
    "check_smollm_cached_gqa_step",
    "check_smollm_gqa_attention",
    "check_smollm_rms_norm",
    "check_smollm_rope_adjacent",
    "check_smollm_sink_share",
]

NOTEBOOK = "10_real_language_model"
TROPHY = "The trophy didn't fit in the suitcase because it was too big."


@lru_cache(maxsize=1)
def _real():
    """Real inputs from the trophy sentence (15 tokens), layer 0 unless said otherwise."""
    from ..smollm import load_smollm

    model = load_smollm()
    c = model.config
    ids = np.array(model.tokenize(TROPHY))
    T = ids.size
    layer = model.layers[0]
    x = np.array(model.embed[ids])  # (T, d_model): the residual stream entering block 0
    h = x / np.sqrt((x * x).mean(-1, keepdims=True) + c.rms_eps) * layer.attn_norm
    q_split = (h @ layer.wq).reshape(T, c.num_heads, c.head_dim).swapaxes(0, 1)  # (9, T, 64)
    from .._gguf_model import to_adjacent_pairs

    wq_file = to_adjacent_pairs(np.asarray(layer.wq.T), c.num_heads).T  # the file's row order
    q_file = (h @ wq_file).reshape(T, c.num_heads, c.head_dim).swapaxes(0, 1)  # (9, T, 64)
    k = (h @ layer.wk).reshape(T, c.num_kv_heads, c.head_dim).swapaxes(0, 1)  # (3, T, 64)
    v = (h @ layer.wv).reshape(T, c.num_kv_heads, c.head_dim).swapaxes(0, 1)
    pos = np.arange(T)
    q_rot = _rope_split(q_split, pos, c.rope_base)
    k_rot = _rope_split(k, pos, c.rope_base)
    weights = model.attend(ids)  # (30, 9, T, T)
    data = {
        "x": x,
        "attn_norm": layer.attn_norm,
        "q_file": q_file,
        "q": q_rot,
        "k": k_rot,
        "v": v,
        "weights": weights,
    }
    # float64, numpy's default (the checkers ask for it): the model's float32 values, widened exactly
    return {
        **{key: np.asarray(a, np.float64) for key, a in data.items()},
        "eps": c.rms_eps,
        "base": c.rope_base,
    }


class _LazyCases(Sequence):
    """Cases built on first use (they need the model's weights), then kept."""

    def __init__(self, build):
        self._build, self._cases = build, None

    def _get(self):
        if self._cases is None:
            self._cases = self._build()
        return self._cases

    def __getitem__(self, i):
        return self._get()[i]

    def __len__(self):
        return len(self._get())


def _rng(name):
    return np.random.default_rng(sum(map(ord, name)))


def _rope_split(x, positions, base):
    half = x.shape[-1] // 2
    angles = np.asarray(positions)[:, None] * base ** (-np.arange(half) * 2.0 / x.shape[-1])
    cos, sin = np.cos(angles).astype(x.dtype), np.sin(angles).astype(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


# --------------------------------------------------------------------------- RMSNorm


def rms_norm_solution(x, weight, eps):
    """RMSNorm over the last axis: x / sqrt(mean(x**2) + eps) * weight. x (T, d_model)."""
    ms = (x * x).mean(axis=-1, keepdims=True)  # (T, 1): each token's mean square
    return x / np.sqrt(ms + eps) * weight


def _layer_norm_instead(x, weight, eps):
    c = x - x.mean(axis=-1, keepdims=True)
    return c / np.sqrt((c * c).mean(axis=-1, keepdims=True) + eps) * weight


def _no_weight(x, weight, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)


def _eps_outside(x, weight, eps):
    return x / (np.sqrt((x * x).mean(axis=-1, keepdims=True)) + eps) * weight


def _over_tokens(x, weight, eps):
    return x / np.sqrt((x * x).mean(axis=0, keepdims=True) + eps) * weight


def _no_root(x, weight, eps):
    return x / ((x * x).mean(axis=-1, keepdims=True) + eps) * weight


def _rms_cases():
    r = _real()
    small = (_rng("rms").standard_normal((3, 8)) * 1e-3).astype(np.float32)
    return [
        Case((r["x"], r["attn_norm"], r["eps"]), description="the trophy sentence's embeddings (15, 576) and block 0's weight"),
        Case((small, np.linspace(0.5, 2, 8).astype(np.float32), 1e-5), description="tiny values (3, 8), where eps matters"),
    ]  # fmt: skip


register(
    Exercise(
        name="smollm_rms_norm",
        stub="my_rms_norm",
        notebook=NOTEBOOK,
        title="RMSNorm, as every SmolLM2 block starts",
        reference=rms_norm_solution,
        cases=_LazyCases(_rms_cases),
        mistakes=[
            Mistake(
                "layer norm",
                _layer_norm_instead,
                "you subtracted the mean first: that is layer norm. RMSNorm only divides by the root mean square, `sqrt(mean(x**2) + eps)`.",
            ),
            Mistake(
                "no weight",
                _no_weight,
                "you forgot the learned scale: multiply by `weight` (one number per feature) at the end.",
            ),
            Mistake(
                "eps outside the root",
                _eps_outside,
                "`eps` goes inside the square root: `sqrt(mean(x**2) + eps)`, not `sqrt(mean(x**2)) + eps`.",
            ),
            Mistake(
                "over tokens",
                _over_tokens,
                "you averaged over the tokens (axis 0); each token is normalised on its own, over its features: `axis=-1`.",
            ),
            Mistake(
                "no square root",
                _no_root,
                "you divided by the mean square itself; divide by its square root.",
            ),
        ],
        wrong_variants=[
            WrongVariant(
                "float32 result",
                transformed(rms_norm_solution, lambda out: np.asarray(out, np.float32)),
            ),
            WrongVariant(
                "one mean for the whole array",
                lambda x, w, eps: x / np.sqrt((x * x).mean() + eps) * w,
            ),
            WrongVariant("transposed", transformed(rms_norm_solution, lambda out: out.T)),
            WrongVariant(
                "eps ignored",
                lambda x, w, eps: x / np.sqrt((x * x).mean(axis=-1, keepdims=True)) * w,
            ),
        ],
        hints=[
            "For each token (row), compute the mean of its squared features: `(x * x).mean(axis=-1, keepdims=True)`.",
            "Then `x / np.sqrt(ms + eps) * weight`: no mean is subtracted and there is no bias.",
        ],
        rtol=1e-4,
        atol=1e-6,
    )
)


def check_smollm_rms_norm(fn):
    """Check your ``my_rms_norm(x, weight, eps) -> (T, d_model)``."""
    return check("smollm_rms_norm", fn)


# --------------------------------------------------------------------------- RoPE, adjacent pairs


def rope_adjacent_solution(x, positions, base):
    """RoPE on adjacent pairs (2i, 2i+1), as llama.cpp rotates the q and k the GGUF file stores.

    x (..., T, head_dim), positions (T,). Pair i turns by positions * base ** (-2i / head_dim).
    """
    half = x.shape[-1] // 2
    speeds = base ** (-np.arange(half) * 2.0 / x.shape[-1])  # (half,): pair i's angle per position
    angles = np.asarray(positions)[:, None] * speeds  # (T, half)
    cos, sin = np.cos(angles), np.sin(angles)
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (..., T, half): even and odd features
    out = np.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x2 * cos + x1 * sin
    return out


def _rope_split_halves(x, positions, base):
    return _rope_split(x, positions, base)


def _rope_backwards(x, positions, base):
    return rope_adjacent_solution(x, -np.asarray(positions), base)


def _rope_base_10000(x, positions, base):
    return rope_adjacent_solution(x, positions, 10000.0)


def _rope_speed_i_over_d(x, positions, base):
    half = x.shape[-1] // 2
    angles = np.asarray(positions)[:, None] * base ** (-np.arange(half) / x.shape[-1])
    cos, sin = np.cos(angles), np.sin(angles)
    out = np.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * cos - x[..., 1::2] * sin
    out[..., 1::2] = x[..., 1::2] * cos + x[..., 0::2] * sin
    return out


def _rope_sin_cos_swapped(x, positions, base):
    half = x.shape[-1] // 2
    angles = np.asarray(positions)[:, None] * base ** (-np.arange(half) * 2.0 / x.shape[-1])
    cos, sin = np.sin(angles), np.cos(angles)
    out = np.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * cos - x[..., 1::2] * sin
    out[..., 1::2] = x[..., 1::2] * cos + x[..., 0::2] * sin
    return out


def _rope_cases():
    r = _real()
    T = r["q_file"].shape[1]
    return [
        Case((r["q_file"], np.arange(T), r["base"]), description="block 0's queries as the file orders them (9, 15, 64), positions 0..14"),
        Case((_rng("rope").standard_normal((3, 4)), np.arange(5, 8), 100.0), description="x (3, 4) at positions 5..7, base 100"),
    ]  # fmt: skip


register(
    Exercise(
        name="smollm_rope_adjacent",
        stub="my_rope_adjacent",
        notebook=NOTEBOOK,
        title="RoPE on adjacent pairs (the GGUF file's order)",
        reference=rope_adjacent_solution,
        cases=_LazyCases(_rope_cases),
        mistakes=[
            Mistake(
                "split halves",
                _rope_split_halves,
                "you paired feature i with feature `i + head_dim // 2` (split halves, notebook 09). The file's q and k pair neighbours: (0, 1), (2, 3), ... that is the trap section 4 measured.",
            ),
            Mistake(
                "rotated backwards",
                _rope_backwards,
                "your rotation turns the wrong way: the even feature becomes `x_even * cos - x_odd * sin`, the odd one `x_odd * cos + x_even * sin`.",
            ),
            Mistake(
                "base 10000",
                _rope_base_10000,
                "you used base 10000 (notebook 09's); use the `base` argument (SmolLM2's is 100000).",
            ),
            Mistake(
                "wrong speeds",
                _rope_speed_i_over_d,
                "your angles have the wrong speeds: pair i turns at `base ** (-2 * i / head_dim)`.",
            ),
        ],
        wrong_variants=[
            WrongVariant(
                "float32 result",
                transformed(rope_adjacent_solution, lambda out: np.asarray(out, np.float32)),
            ),
            WrongVariant("positions ignored", lambda x, positions, base: np.array(x, copy=True)),
            WrongVariant("sin and cos swapped", _rope_sin_cos_swapped),
        ],
        hints=[
            "The pairs are `x[..., 0::2]` and `x[..., 1::2]`: pair i is (feature 2i, feature 2i + 1).",
            "`angles = positions[:, None] * base ** (-2 * np.arange(half) / head_dim)`; write the two rotated halves back into `out[..., 0::2]` and `out[..., 1::2]`.",
        ],
        rtol=1e-4,
        atol=1e-5,
    )
)


def check_smollm_rope_adjacent(fn):
    """Check your ``my_rope_adjacent(x, positions, base) -> rotated x`` (same shape)."""
    return check("smollm_rope_adjacent", fn)


# --------------------------------------------------------------------------- GQA attention


def gqa_attention_solution(q, k, v):
    """Causal grouped-query attention: q (num_heads, T, d), k and v (num_kv_heads, T, d).

    Query head h reads kv head h // (num_heads // num_kv_heads). Returns (num_heads, T, d).
    """
    group = q.shape[0] // k.shape[0]
    k_full = np.repeat(k, group, axis=0)  # (h_kv, T, d) -> (h, T, d)
    v_full = np.repeat(v, group, axis=0)
    scores = q @ k_full.swapaxes(-1, -2) / np.sqrt(q.shape[-1])  # (h, T, T)
    T = q.shape[1]
    scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)  # causal
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))  # softmax over the keys
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v_full  # (h, T, d)


def _gqa_tiled(q, k, v):
    group = q.shape[0] // k.shape[0]
    k_full, v_full = np.tile(k, (group, 1, 1)), np.tile(v, (group, 1, 1))
    T = q.shape[1]
    scores = np.where(
        np.tril(np.ones((T, T), bool)), q @ k_full.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), -np.inf
    )
    return _softmax_rows(scores) @ v_full


def _gqa_no_mask(q, k, v):
    group = q.shape[0] // k.shape[0]
    k_full, v_full = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    return _softmax_rows(q @ k_full.swapaxes(-1, -2) / np.sqrt(q.shape[-1])) @ v_full


def _gqa_no_scale(q, k, v):
    return _gqa_scaled(q, k, v, 1.0)


def _gqa_scaled(q, k, v, scale):
    group = q.shape[0] // k.shape[0]
    k_full, v_full = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    T = q.shape[1]
    scores = np.where(np.tril(np.ones((T, T), bool)), q @ k_full.swapaxes(-1, -2) * scale, -np.inf)
    return _softmax_rows(scores) @ v_full


def _gqa_scale_by_d(q, k, v):
    return _gqa_scaled(q, k, v, 1.0 / q.shape[-1])


def _gqa_mask_after_softmax(q, k, v):
    group = q.shape[0] // k.shape[0]
    k_full, v_full = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    weights = _softmax_rows(q @ k_full.swapaxes(-1, -2) / np.sqrt(q.shape[-1]))
    return (weights * np.tril(np.ones(weights.shape[-2:]))) @ v_full


def _gqa_cases():
    r = _real()
    rng = _rng("gqa")
    return [
        Case((r["q"], r["k"], r["v"]), description="block 0 on the trophy sentence: q (9, 15, 64), k and v (3, 15, 64)"),
        Case((rng.standard_normal((4, 5, 8)), rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))), description="4 query heads sharing 2 kv heads, T=5, `head_dim=8`"),
    ]  # fmt: skip


register(
    Exercise(
        name="smollm_gqa_attention",
        stub="my_gqa_attention",
        notebook=NOTEBOOK,
        title="One layer's grouped-query attention",
        reference=gqa_attention_solution,
        cases=_LazyCases(_gqa_cases),
        mistakes=[
            Mistake(
                "tiled instead of repeated",
                _gqa_tiled,
                "your query heads read the kv heads in the order 0, 1, 2, 0, 1, 2, ... (`np.tile`). In SmolLM2 query heads 0-2 share kv head 0, 3-5 kv head 1, 6-8 kv head 2 (`np.repeat`, or `h // 3`).",
            ),
            Mistake(
                "no causal mask",
                _gqa_no_mask,
                "your tokens see the future: a decoder's query i may only attend to keys 0..i. Set the scores above the diagonal to -inf before the softmax.",
            ),
            Mistake(
                "no scale", _gqa_no_scale, "your scores are not divided by `sqrt(head_dim)` = 8."
            ),
            Mistake(
                "scaled by head_dim",
                _gqa_scale_by_d,
                "you divided the scores by `head_dim`; divide by its square root, `sqrt(head_dim)` = 8.",
            ),
        ],
        wrong_variants=[
            WrongVariant(
                "float32 result",
                transformed(gqa_attention_solution, lambda out: np.asarray(out, np.float32)),
            ),
            WrongVariant(
                "tokens first", transformed(gqa_attention_solution, lambda out: out.swapaxes(0, 1))
            ),
            WrongVariant("mask after the softmax", _gqa_mask_after_softmax),
        ],
        hints=[
            "Give each query head its kv head: `group = q.shape[0] // k.shape[0]` and `np.repeat(k, group, axis=0)` (the same for v).",
            "Then the attention of notebook 03 with the causal mask of notebook 05, for all heads at once: `q @ k.swapaxes(-1, -2) / np.sqrt(head_dim)`, -inf above the diagonal, softmax over the last axis, `@ v`.",
        ],
        rtol=1e-4,
        atol=1e-5,
    )
)


def check_smollm_gqa_attention(fn):
    """Check your ``my_gqa_attention(q, k, v) -> (num_heads, T, head_dim)``."""
    return check("smollm_gqa_attention", fn)


# --------------------------------------------------------------------------- sink share


def sink_share_solution(weights):
    """Per layer, the mean attention weight on position 0, over heads and over queries 1..T-1.

    weights (num_layers, num_heads, T, T) -> (num_layers,). Query 0 is left out: it can only look
    at itself, so its weight on position 0 is always 1 and says nothing.
    """
    return weights[:, :, 1:, 0].mean(axis=(1, 2))


def _sink_with_query_0(weights):
    return weights[:, :, :, 0].mean(axis=(1, 2))


def _sink_last_key(weights):
    return weights[:, :, 1:, -1].mean(axis=(1, 2))


def _sink_per_head(weights):
    return weights[:, :, 1:, 0].mean(axis=2)


def _sink_first_query_row(weights):
    return weights[:, :, 0, 1:].mean(axis=(1, 2))


def _sink_cases():
    r = _real()
    toy = _softmax_rows(
        np.where(
            np.tril(np.ones((4, 4), bool)), _rng("sink").standard_normal((2, 3, 4, 4)), -np.inf
        )
    )
    return [
        Case((r["weights"],), description="the trophy sentence's weights (30, 9, 15, 15)"),
        Case((toy,), description="made-up weights (2 layers, 3 heads, T=4)"),
    ]  # fmt: skip


register(
    Exercise(
        name="smollm_sink_share",
        stub="my_sink_share",
        notebook=NOTEBOOK,
        title="The attention-sink share, layer by layer",
        reference=sink_share_solution,
        cases=_LazyCases(_sink_cases),
        mistakes=[
            Mistake(
                "query 0 included",
                _sink_with_query_0,
                "you included query 0, whose only key is itself (weight 1 on position 0 by construction); average over queries 1..T-1.",
            ),
            Mistake(
                "last key",
                _sink_last_key,
                "you took the weight on the last key; the sink is the first position, key 0.",
            ),
            Mistake(
                "not averaged over heads",
                _sink_per_head,
                "you returned one number per layer and head; average over the heads too (axes 1 and 2), one number per layer.",
            ),
            Mistake(
                "a row, not a column",
                _sink_first_query_row,
                "you read a row (what query 0 gives); the sink is a column: what every query gives to key 0, `weights[..., 1:, 0]`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("sum, not mean", lambda w: w[:, :, 1:, 0].sum(axis=(1, 2))),
            WrongVariant("max, not mean", lambda w: w[:, :, 1:, 0].max(axis=(1, 2))),
            WrongVariant("one number for all layers", lambda w: w[:, :, 1:, 0].mean()),
        ],
        hints=[
            "Column 0 of each (T, T) map is the weight every query gives to position 0: `weights[:, :, :, 0]`.",
            "Drop query 0 (`weights[:, :, 1:, 0]`) and average over heads and queries: `.mean(axis=(1, 2))`.",
        ],
        rtol=1e-5,
        atol=1e-7,
    )
)


def check_smollm_sink_share(fn):
    """Check your ``my_sink_share(weights) -> (num_layers,)``."""
    return check("smollm_sink_share", fn)


# --------------------------------------------------------------------------- one cached GQA step


def cached_gqa_step_solution(q_new, k_new, v_new, k_cache, v_cache):
    """One decoding step of grouped-query attention with a KV cache.

    q_new (num_heads, 1, d); k_new, v_new (num_kv_heads, 1, d); k_cache, v_cache (num_kv_heads, t, d).
    Returns (out (num_heads, 1, d), k (num_kv_heads, t+1, d), v (num_kv_heads, t+1, d)).
    """
    k = np.concatenate([k_cache, k_new], axis=1)  # append along the token axis: (h_kv, t+1, d)
    v = np.concatenate([v_cache, v_new], axis=1)
    group = q_new.shape[0] // k.shape[0]
    k_full = np.repeat(k, group, axis=0)  # (h, t+1, d)
    scores = q_new @ k_full.swapaxes(-1, -2) / np.sqrt(q_new.shape[-1])  # (h, 1, t+1)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))  # no mask: the cache is the past
    weights /= weights.sum(axis=-1, keepdims=True)
    out = weights @ np.repeat(v, group, axis=0)  # (h, 1, d)
    return out, k, v


def _step_new_key_forgotten(q_new, k_new, v_new, k_cache, v_cache):
    out, k, v = cached_gqa_step_solution(q_new, k_new, v_new, k_cache, v_cache)
    group = q_new.shape[0] // k.shape[0]
    scores = q_new @ np.repeat(k_cache, group, axis=0).swapaxes(-1, -2) / np.sqrt(q_new.shape[-1])
    return _softmax_rows(scores) @ np.repeat(v_cache, group, axis=0), k, v


def _step_wrong_axis(q_new, k_new, v_new, k_cache, v_cache):
    k = np.concatenate([k_cache, k_new], axis=0)
    v = np.concatenate([v_cache, v_new], axis=0)
    return cached_gqa_step_solution(q_new, k_new, v_new, k_cache, v_cache)[0], k, v


def _step_tiled(q_new, k_new, v_new, k_cache, v_cache):
    k = np.concatenate([k_cache, k_new], axis=1)
    v = np.concatenate([v_cache, v_new], axis=1)
    group = q_new.shape[0] // k.shape[0]
    scores = q_new @ np.tile(k, (group, 1, 1)).swapaxes(-1, -2) / np.sqrt(q_new.shape[-1])
    return _softmax_rows(scores) @ np.tile(v, (group, 1, 1)), k, v


def _step_prepended_gqa(q_new, k_new, v_new, k_cache, v_cache):
    out, _, _ = cached_gqa_step_solution(q_new, k_new, v_new, k_cache, v_cache)
    return out, np.concatenate([k_new, k_cache], axis=1), np.concatenate([v_new, v_cache], axis=1)


def _step_cases():
    r = _real()
    t = 10  # the cache holds tokens 0..9; token 10 is the new one
    sl = slice(t, t + 1)
    rng = _rng("step")
    small = [
        rng.standard_normal(s) for s in [(4, 1, 8), (2, 1, 8), (2, 1, 8), (2, 3, 8), (2, 3, 8)]
    ]
    return [
        Case((r["q"][:, sl], r["k"][:, sl], r["v"][:, sl], r["k"][:, :t], r["v"][:, :t]), description="block 0, token 10 of the trophy sentence after a cache of 10 tokens"),
        Case(tuple(small), description="4 query heads, 2 kv heads, a cache of 3 tokens, `head_dim=8`"),
    ]  # fmt: skip


register(
    Exercise(
        name="smollm_cached_gqa_step",
        stub="my_cached_gqa_step",
        notebook=NOTEBOOK,
        title="One cached decoding step with GQA",
        reference=cached_gqa_step_solution,
        cases=_LazyCases(_step_cases),
        mistakes=[
            Mistake(
                "new token not attended",
                _step_new_key_forgotten,
                "your new query attends only to the old cache: append the new key and value first, so the token sees itself (the causal mask's diagonal).",
            ),
            Mistake(
                "appended on the head axis",
                _step_wrong_axis,
                "you appended the new key along axis 0, the kv heads; the cache grows along the token axis, axis 1: `(num_kv_heads, t + 1, head_dim)`.",
            ),
            Mistake(
                "tiled instead of repeated",
                _step_tiled,
                "your query heads read the kv heads as 0, 1, 2, 0, 1, 2 (`np.tile`); consecutive query heads share one kv head (`np.repeat`).",
            ),
            Mistake(
                "prepended",
                _step_prepended_gqa,
                "you put the new key and value at the front of the cache; append them at the end, so position t is row t.",
            ),
        ],
        wrong_variants=[
            WrongVariant(
                "cache not returned grown",
                lambda q, kn, vn, kc, vc: (cached_gqa_step_solution(q, kn, vn, kc, vc)[0], kc, vc),
            ),
            WrongVariant(
                "float32 output",
                lambda *a: (
                    np.asarray(cached_gqa_step_solution(*a)[0], np.float32),
                    *cached_gqa_step_solution(*a)[1:],
                ),
            ),
            WrongVariant(
                "output without its token axis",
                lambda *a: (
                    cached_gqa_step_solution(*a)[0][:, 0],
                    *cached_gqa_step_solution(*a)[1:],
                ),
            ),
        ],
        hints=[
            "Grow the cache first: `np.concatenate([k_cache, k_new], axis=1)` (axis 1 is the token axis), the same for v.",
            "Then one query row per head: repeat the kv heads (`np.repeat(k, group, axis=0)`), `softmax(q_new @ k.swapaxes(-1, -2) / sqrt(head_dim)) @ v`; no mask, the cache is the past.",
        ],
        rtol=1e-4,
        atol=1e-5,
    )
)


def check_smollm_cached_gqa_step(fn):
    """Check your ``my_cached_gqa_step(q_new, k_new, v_new, k_cache, v_cache) -> (out, k, v)``."""
    return check("smollm_cached_gqa_step", fn)
