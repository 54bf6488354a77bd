"""Exercise checkers for notebook 09: a KV-cache step, RoPE, GQA's repeat and a sliding window.

Each exercise is data (reference solution, cases, known mistakes with diagnoses, hints); each
``check_...`` function takes the learner's function itself::

    check_sliding_window_mask(my_sliding_window_mask)
"""

from __future__ import annotations

import numpy as np

from ..core import (
    causal_mask,
    repeat_kv,
    rotary_embedding,
    sliding_window_mask,
)
from ._common import _softmax_rows, float32, item, negated, normal, swap_last
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = [
    "check_kv_cache_step",
    "check_repeat_kv",
    "check_rotary_embedding",
    "check_sliding_window_mask",
]


# --------------------------------------------------------------------------- sliding window


def sliding_window_mask_solution(seq_len, window):
    """(seq_len, seq_len) bool mask: query i sees key j iff 0 <= i - j < window (True = may attend)."""
    offset = np.arange(seq_len)[:, None] - np.arange(seq_len)[None, :]  # (T, T): i - j
    return (offset >= 0) & (offset < window)


def _window_off_by_one(seq_len, window):
    offset = np.arange(seq_len)[:, None] - np.arange(seq_len)[None, :]
    return (offset >= 0) & (offset <= window)


def _window_not_causal(seq_len, window):
    offset = np.arange(seq_len)[:, None] - np.arange(seq_len)[None, :]
    return np.abs(offset) < window


def _window_transposed(seq_len, window):
    return sliding_window_mask_solution(seq_len, window).T


def _window_too_small(seq_len, window):
    offset = np.arange(seq_len)[:, None] - np.arange(seq_len)[None, :]
    return (offset >= 0) & (offset < window - 1)


def _window_ints(seq_len, window):
    return sliding_window_mask_solution(seq_len, window).astype(int)


def _window_causal_only(seq_len, window):
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))  # the window forgotten


def _window_package(seq_len, window):
    return sliding_window_mask(seq_len, window)


def _window_from_causal(seq_len, window):
    return causal_mask(seq_len) & ~np.tril(np.ones((seq_len, seq_len), dtype=bool), k=-window)


register(
    Exercise(
        name="sliding_window_mask",
        notebook="09_decoding_kv_cache_rope_gqa",
        title="A sliding-window causal mask",
        reference=sliding_window_mask_solution,
        stub="my_sliding_window_mask",
        forbidden=(sliding_window_mask, causal_mask),
        cases=[
            Case((6, 2), description="`seq_len=6`, `window=2`"),
            Case((5, 1), description="`seq_len=5`, `window=1` (only itself)"),
            Case((4, 9), description="`seq_len=4`, `window=9` (wider than the sequence)"),
        ],
        mistakes=[
            Mistake(
                "off by one",
                _window_off_by_one,
                "each query sees `window + 1` keys: the window counts the query itself, so key "
                "`j` is visible when `i - j < window`, not `<= window`.",
            ),
            Mistake(
                "not causal",
                _window_not_causal,
                "your window reaches into the future too (`abs(i - j) < window`). A decoder's "
                "window looks only back: `i - j` must also be `>= 0`.",
            ),
            Mistake(
                "transposed",
                _window_transposed,
                "your mask is the transpose of the right one: rows are queries, columns keys, and "
                "a query sees the keys on and just below the diagonal.",
            ),
            Mistake(
                "one key too few",
                _window_too_small,
                "each query sees `window - 1` keys: the window counts the query itself, so key "
                "`j` is visible when `i - j < window`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("integers", _window_ints, says="boolean"),
            WrongVariant("the window forgotten", _window_causal_only),
            WrongVariant(
                "the package's sliding_window_mask",
                _window_package,
                says="`attn_helpers.sliding_window_mask`",
            ),
            WrongVariant(
                "the package's causal_mask", _window_from_causal, says="`attn_helpers.causal_mask`"
            ),
        ],
        hints=[
            "Compute the offset `i - j` for every (query `i`, key `j`) pair with broadcasting.",
            "`np.arange(T)[:, None] - np.arange(T)[None, :]` is the offset; keep "
            "`0 <= offset < window`.",
        ],
    )
)


def check_sliding_window_mask(fn):
    """Check your ``my_sliding_window_mask(seq_len, window) -> (seq_len, seq_len)`` bool mask."""
    return check("sliding_window_mask", fn)


# --------------------------------------------------------------------------- RoPE


def rotary_embedding_solution(x, positions):
    """RoPE with split halves (GPT-NeoX / Llama), base 10000: x (T, head_dim), positions (T,)."""
    half = x.shape[-1] // 2
    inv_freq = 10000.0 ** (-np.arange(half) * 2.0 / x.shape[-1])  # (half,)
    angles = np.asarray(positions)[:, None] * inv_freq[None, :]  # (T, half)
    cos, sin = np.cos(angles), np.sin(angles)
    x1, x2 = x[..., :half], x[..., half:]  # pair feature i with feature i + half
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def _rope_interleaved(x, positions):
    half = x.shape[-1] // 2
    inv_freq = 10000.0 ** (-np.arange(half) * 2.0 / x.shape[-1])
    angles = np.asarray(positions)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = x1 * cos - x2 * sin, x2 * cos + x1 * sin
    return out


def _rope_wrong_direction(x, positions):
    return rotary_embedding_solution(x, -np.asarray(positions))


def _rope_frequency_over_half(x, positions):
    half = x.shape[-1] // 2
    inv_freq = 10000.0 ** (-np.arange(half) / half / 2)
    angles = np.asarray(positions)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def _rope_second_half_unrotated(x, positions):
    half = x.shape[-1] // 2
    out = rotary_embedding_solution(x, positions)
    return np.concatenate([out[..., :half], x[..., half:]], axis=-1)  # x2 left as it was


def _rope_first_half_only(x, positions):
    half = x.shape[-1] // 2  # partial rotary: only the first half of the features turn
    return np.concatenate([rotary_embedding_solution(x[..., :half], positions), x[..., half:]], -1)


def _rope_degrees(x, positions):
    return rotary_embedding_solution(x, np.radians(np.asarray(positions, dtype=float)))


def _rope_package(x, positions):
    return rotary_embedding(x, positions)


_randn = normal("rotary_embedding")

register(
    Exercise(
        name="rotary_embedding",
        notebook="09_decoding_kv_cache_rope_gqa",
        title="Rotary position embedding (split halves)",
        reference=rotary_embedding_solution,
        stub="my_rotary_embedding",
        forbidden=(rotary_embedding,),
        cases=[
            Case((_randn(5, 8), np.arange(5)), description="`x` (5, 8) at positions 0 to 4"),
            Case((_randn(3, 4), np.arange(10, 13)), description="`x` (3, 4) at positions 10 to 12"),
        ],
        mistakes=[
            Mistake(
                "interleaved pairs",
                _rope_interleaved,
                "you rotated the interleaved pairs (0, 1), (2, 3), ... (RoFormer / GPT-J). This "
                "course follows GPT-NeoX and Llama: feature `i` pairs with feature "
                "`i + head_dim // 2`.",
            ),
            Mistake(
                "rotated backwards",
                _rope_wrong_direction,
                "your rotation turns the wrong way: the first half becomes "
                "`x1 * cos - x2 * sin` and the second `x2 * cos + x1 * sin`.",
            ),
            Mistake(
                "wrong frequencies",
                _rope_frequency_over_half,
                "your angles have the wrong speeds: pair `i` turns at `base**(-2 * i / head_dim)`.",
            ),
            Mistake(
                "second half not rotated",
                _rope_second_half_unrotated,
                "your first half is right, but the second half came back unchanged: a rotation "
                "moves both coordinates of each pair. The second half becomes "
                "`x2 * cos + x1 * sin`.",
            ),
            Mistake(
                "only the first half of the features",
                _rope_first_half_only,
                "you rotated only the first `head_dim // 2` features (a 'partial' rotary, as some "
                "models use) and left the rest as they were. Here every feature turns: pair `i` "
                "is (`i`, `i + head_dim // 2`) for all `i < head_dim // 2`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("angles in degrees", _rope_degrees),
            WrongVariant("negated", transformed(rotary_embedding_solution, negated)),
            WrongVariant("float32", transformed(rotary_embedding_solution, float32)),
            WrongVariant(
                "the package's rotary_embedding",
                _rope_package,
                says="`attn_helpers.rotary_embedding`",
            ),
        ],
        hints=[
            "Split `x` into halves `x1 = x[:, :half]` and `x2 = x[:, half:]`; pair `i` is "
            "(`x1[:, i]`, `x2[:, i]`).",
            "`angles = positions[:, None] * 10000.0 ** (-2 * np.arange(half) / head_dim)`; rotate "
            "each pair by its angle, as in a 2-D rotation matrix.",
        ],
    )
)


def check_rotary_embedding(fn):
    """Check your ``my_rotary_embedding(x, positions) -> rotated x`` (same shape)."""
    return check("rotary_embedding", fn)


# --------------------------------------------------------------------------- GQA repeat


def repeat_kv_solution(k, num_repeats):
    """(num_kv_heads, T, head_dim) -> (num_kv_heads * num_repeats, T, head_dim), like repeat_kv.

    Each key/value head serves ``num_repeats`` consecutive query heads: query head ``h`` uses
    kv head ``h // num_repeats``.
    """
    return np.repeat(k, num_repeats, axis=0)  # kv head 0 for query heads 0..num_repeats-1, ...


def _repeat_tiled(k, num_repeats):
    return np.tile(k, (num_repeats, 1, 1))


def _repeat_wrong_axis(k, num_repeats):
    return np.repeat(k, num_repeats, axis=1)


def _repeat_as_num_heads(k, num_repeats):
    return np.repeat(k, num_repeats // k.shape[0], axis=0)  # reads num_repeats as num_heads


def _repeat_one_too_many(k, num_repeats):
    return np.repeat(k, num_repeats + 1, axis=0)


def _repeat_last_axis(k, num_repeats):
    return np.repeat(k, num_repeats, axis=-1)


def _repeat_package(k, num_repeats):
    return repeat_kv(k, num_repeats)


_randn = normal("repeat_kv")


register(
    Exercise(
        name="repeat_kv",
        notebook="09_decoding_kv_cache_rope_gqa",
        title="Share key/value heads between query heads (GQA)",
        reference=repeat_kv_solution,
        stub="my_repeat_kv",
        forbidden=(repeat_kv,),
        cases=[
            Case(
                (_randn(2, 3, 4), 3),
                description="2 kv heads, each repeated `num_repeats=3` times (6 query heads)",
            ),
            Case(
                (_randn(1, 5, 2), 4),
                description="1 kv head repeated `num_repeats=4` times (MQA, 4 query heads)",
            ),
            Case(
                (_randn(4, 2, 3), 2),
                description="4 kv heads, each repeated `num_repeats=2` times (8 query heads)",
            ),
        ],
        mistakes=[
            Mistake(
                "tiled instead of repeated",
                _repeat_tiled,
                "your heads come in the order 0, 1, 0, 1, ... (`np.tile`). In GQA each kv head "
                "serves a block of consecutive query heads: 0, 0, 0, 1, 1, 1 (`np.repeat`).",
            ),
            Mistake(
                "repeated the tokens",
                _repeat_wrong_axis,
                "you repeated along the token axis (axis 1); repeat the heads, axis 0.",
            ),
            Mistake(
                "num_repeats read as num_heads",
                _repeat_as_num_heads,
                "you divided `num_repeats` by the number of kv heads, as if it were the number of "
                "query heads. Like the package's `repeat_kv(x, num_repeats)`, the second argument "
                "says how many times each kv head is repeated: "
                "`np.repeat(k, num_repeats, axis=0)`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("repeated once too often", _repeat_one_too_many),
            WrongVariant("repeated along the features", _repeat_last_axis),
            WrongVariant("float32", transformed(repeat_kv_solution, float32)),
            WrongVariant(
                "the package's repeat_kv", _repeat_package, says="`attn_helpers.repeat_kv`"
            ),
        ],
        hints=[
            "With 2 kv heads and `num_repeats=3`, there are 6 query heads and each kv head "
            "serves 3 consecutive ones: 0, 0, 0, 1, 1, 1.",
            "`np.repeat(k, num_repeats, axis=0)`.",
        ],
    )
)


def check_repeat_kv(fn):
    """Check your ``my_repeat_kv(k, num_repeats) -> (num_kv_heads * num_repeats, T, head_dim)``."""
    return check("repeat_kv", fn)


# --------------------------------------------------------------------------- KV-cache step


def kv_cache_step_solution(q_new, k_new, v_new, k_cache, v_cache):
    """One decoding step: append the new key and value, attend with the new query over the cache.

    q_new, k_new, v_new: (1, head_dim); k_cache, v_cache: (t, head_dim). Returns (output
    (1, head_dim), k (t+1, head_dim), v (t+1, head_dim)).
    """
    k = np.concatenate([k_cache, k_new], axis=0)  # (t + 1, head_dim): the new token sees itself too
    v = np.concatenate([v_cache, v_new], axis=0)
    scores = q_new @ k.T / np.sqrt(q_new.shape[-1])  # (1, t + 1): no mask, the cache is the past
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)  # softmax over the t + 1 keys
    return weights @ v, k, v


def _step_without_new_key(q_new, k_new, v_new, k_cache, v_cache):
    scores = q_new @ k_cache.T / np.sqrt(q_new.shape[-1])
    k = np.concatenate([k_cache, k_new], axis=0)
    v = np.concatenate([v_cache, v_new], axis=0)
    return _softmax_rows(scores) @ v_cache, k, v


def _step_prepended(q_new, k_new, v_new, k_cache, v_cache):
    k = np.concatenate([k_new, k_cache], axis=0)
    v = np.concatenate([v_new, v_cache], axis=0)
    return _softmax_rows(q_new @ k.T / np.sqrt(q_new.shape[-1])) @ v, k, v


def _step_no_scale(q_new, k_new, v_new, k_cache, v_cache):
    k = np.concatenate([k_cache, k_new], axis=0)
    v = np.concatenate([v_cache, v_new], axis=0)
    return _softmax_rows(q_new @ k.T) @ v, k, v


def _step_not_appended(q_new, k_new, v_new, k_cache, v_cache):
    k = np.concatenate([k_cache, k_new], axis=0)
    v = np.concatenate([v_cache, v_new], axis=0)
    output = _softmax_rows(q_new @ k.T / np.sqrt(q_new.shape[-1])) @ v
    return output, k_cache, v_cache  # the old cache handed back: it never grows


def _step_cache_only(q_new, k_new, v_new, k_cache, v_cache):
    output = _softmax_rows(q_new @ k_cache.T / np.sqrt(q_new.shape[-1])) @ v_cache
    return output, k_cache, v_cache  # neither attended to nor appended


def _step_new_token_only(q_new, k_new, v_new, k_cache, v_cache):
    k = np.concatenate([k_cache, k_new], axis=0)
    v = np.concatenate([v_cache, v_new], axis=0)
    return v_new.copy(), k, v  # attends only to itself


def _step_keys_for_values(q_new, k_new, v_new, k_cache, v_cache):
    k = np.concatenate([k_cache, k_new], axis=0)
    v = np.concatenate([v_cache, v_new], axis=0)
    return _softmax_rows(q_new @ k.T / np.sqrt(q_new.shape[-1])) @ k, k, v


_randn = normal("kv_cache_step")
_GROW_DIAGNOSIS = (
    "the cache you returned still has `t` rows: it should grow to `t + 1`. Append the new key "
    "and value, `k = np.concatenate([k_cache, k_new], axis=0)` (the same for `v`), and return "
    "the grown `k` and `v`, so the next step sees this token too."
)

register(
    Exercise(
        name="kv_cache_step",
        notebook="09_decoding_kv_cache_rope_gqa",
        title="One decoding step with a KV cache",
        reference=kv_cache_step_solution,
        stub="my_kv_cache_step",
        returns=("output", "k", "v"),
        cases=[
            Case(
                (_randn(1, 4), _randn(1, 4), _randn(1, 4), _randn(3, 4), _randn(3, 4)),
                description="a cache of 3 tokens, `head_dim=4`",
            ),
            Case(
                (_randn(1, 8), _randn(1, 8), _randn(1, 8), _randn(7, 8), _randn(7, 8)),
                description="a cache of 7 tokens, `head_dim=8`",
            ),
        ],
        mistakes=[
            Mistake(
                "new token not attended",
                _step_without_new_key,
                "your query attends only to the old cache: append the new key and value first, "
                "so the new token can attend to itself, as in the causal mask's diagonal.",
            ),
            Mistake(
                "prepended",
                _step_prepended,
                "you put the new key and value at the front of the cache; append them at the end, "
                "so row t of the cache is the token at position t.",
            ),
            Mistake(
                "no scale",
                _step_no_scale,
                "your scores are not divided by `sqrt(head_dim)`: a step must compute exactly "
                "what the full scaled attention computes for that row.",
            ),
            Mistake("cache not grown", _step_not_appended, _GROW_DIAGNOSIS),
            Mistake("cache neither used nor grown", _step_cache_only, _GROW_DIAGNOSIS),
        ],
        wrong_variants=[
            WrongVariant("attends only to itself", _step_new_token_only),
            WrongVariant("keys used as values", _step_keys_for_values),
            WrongVariant(
                "output float32",
                transformed(kv_cache_step_solution, item(0, float32)),
                says="the first item, `output`",
            ),
            WrongVariant(
                "k cache transposed",
                transformed(kv_cache_step_solution, item(1, swap_last)),
                says="the second item, `k`",
            ),
            WrongVariant("output negated", transformed(kv_cache_step_solution, item(0, negated))),
        ],
        hints=[
            "First grow the cache: `np.concatenate([k_cache, k_new], axis=0)`, the same for `v`.",
            "Then it is ordinary attention for one query: "
            "`softmax(q_new @ k.T / sqrt(head_dim)) @ v`, with no mask (the cache holds only the "
            "past and the token itself).",
        ],
    )
)


def check_kv_cache_step(fn):
    """Check your ``my_kv_cache_step(q_new, k_new, v_new, k_cache, v_cache) -> (output, k, v)``."""
    return check("kv_cache_step", fn)
