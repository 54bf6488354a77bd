"""The checkers of notebook 09 (attn_helpers.exercises.decoding_ex) can tell right from wrong."""

import numpy as np
import pytest

from attn_helpers import repeat_kv, rotary_embedding, sliding_window_mask
from attn_helpers.exercises import _framework as fw
from attn_helpers.exercises import decoding_ex

NAMES = ["sliding_window_mask", "rotary_embedding", "repeat_kv", "kv_cache_step"]


def test_registered_with_notebook_09():
    assert set(fw.list_exercises("09_decoding_kv_cache_rope_gqa")) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_checker_is_sound(name):
    fw.assert_checker_sound(name)
    assert len(fw.REGISTRY[name].mistakes) >= 3
    assert getattr(decoding_ex, f"check_{name}")(fw.reference_solution(name)).correct


@pytest.mark.parametrize(
    ("name", "fn", "package_name"),
    [
        ("sliding_window_mask", sliding_window_mask, "attn_helpers.sliding_window_mask"),
        ("rotary_embedding", lambda x, p: rotary_embedding(x, p), "attn_helpers.rotary_embedding"),
        ("repeat_kv", repeat_kv, "attn_helpers.repeat_kv"),
    ],
)
def test_package_functions_agree_but_are_refused(name, fn, package_name):
    """The package's functions compute the same answers (repeat_kv with the same meaning of its
    second argument, num_repeats), but the exercise asks for the learner's own."""
    ex = fw.REGISTRY[name]
    for case in ex.cases:
        assert ex.differs(fw._call(ex.reference, case), fw._call(fn, case)) is None
    res = fw.check(name, fn)
    assert not res
    assert f"calls the package's `{package_name}`" in res.message


def test_repeat_kv_takes_num_repeats_like_the_package():
    k = np.arange(12.0).reshape(2, 3, 2)
    assert np.array_equal(fw.reference_solution("repeat_kv")(k, 3), repeat_kv(k, 3))
    res = decoding_ex.check_repeat_kv(lambda k, num_heads: np.repeat(k, num_heads // k.shape[0], 0))
    assert res.mistake == "num_repeats read as num_heads"
    assert "how many times each kv head is repeated" in res.message


def test_forgetting_to_append_says_the_cache_should_grow():
    def step(q_new, k_new, v_new, k_cache, v_cache):
        k = np.concatenate([k_cache, k_new])
        v = np.concatenate([v_cache, v_new])
        scores = q_new @ k.T / np.sqrt(q_new.shape[-1])
        w = np.exp(scores - scores.max())
        w /= w.sum()
        return w @ v, k_cache, v_cache

    res = decoding_ex.check_kv_cache_step(step)
    assert res.mistake == "cache not grown"
    assert "should grow to `t + 1`" in res.message


def test_rotating_only_half_is_diagnosed():
    def rope(x, positions):
        half = x.shape[-1] // 2
        ang = np.asarray(positions)[:, None] * 10000.0 ** (-2 * np.arange(half) / x.shape[-1])
        x1, x2 = x[:, :half], x[:, half:]
        return np.concatenate([x1 * np.cos(ang) - x2 * np.sin(ang), x2], axis=-1)

    res = decoding_ex.check_rotary_embedding(rope)
    assert res.mistake == "second half not rotated"
    assert "`x2 * cos + x1 * sin`" in res.message


def test_typical_wrong_answers_get_their_diagnosis():
    res = decoding_ex.check_sliding_window_mask(
        lambda t, w: np.tril(np.ones((t, t), dtype=bool)) & ~np.tril(np.ones((t, t), bool), -w - 1)
    )  # a window of w + 1
    assert not res
    assert "window + 1" in res.message
    res = decoding_ex.check_repeat_kv(lambda k, r: np.tile(k, (r, 1, 1)))
    assert not res
    assert "np.tile" in res.message
    res = decoding_ex.check_kv_cache_step(lambda *a: (_ for _ in ()).throw(NotImplementedError))
    assert res.status == "not attempted"
