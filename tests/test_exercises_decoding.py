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


def test_package_functions_pass_the_checkers():
    assert decoding_ex.check_sliding_window_mask(sliding_window_mask).correct
    assert decoding_ex.check_rotary_embedding(lambda x, p: rotary_embedding(x, p)).correct
    assert decoding_ex.check_repeat_kv(lambda k, h: repeat_kv(k[None], h // k.shape[0])[0]).correct


def test_typical_wrong_answers_get_their_diagnosis():
    res = decoding_ex.check_sliding_window_mask(
        lambda t, w: np.tril(np.ones((t, t), dtype=bool)) & ~np.tril(np.ones((t, t), bool), -w - 1)
    )  # a window of w + 1
    assert not res
    assert "window + 1" in res.message
    res = decoding_ex.check_repeat_kv(lambda k, h: np.tile(k, (h // k.shape[0], 1, 1)))
    assert not res
    assert "np.tile" in res.message
    res = decoding_ex.check_kv_cache_step(lambda *a: (_ for _ in ()).throw(NotImplementedError))
    assert res.status == "not attempted"
