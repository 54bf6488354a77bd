"""The checkers of notebook 10 (attn_helpers.exercises.smollm_ex) tell right from wrong on real weights."""

import subprocess
import sys

import numpy as np
import pytest
from _shared import requires_smollm

from attn_helpers.exercises import _framework as fw
from attn_helpers.exercises import smollm_ex

pytestmark = requires_smollm()

NAMES = [
    "smollm_rms_norm",
    "smollm_rope_adjacent",
    "smollm_gqa_attention",
    "smollm_sink_share",
    "smollm_cached_gqa_step",
]


@pytest.fixture(scope="module")
def model():
    from attn_helpers.smollm import load_smollm

    return load_smollm()  # kept alive, so the checkers reuse it


def test_registered_with_notebook_10():
    assert fw.list_exercises("10_real_language_model") == NAMES


def test_importing_the_exercises_does_not_load_the_model():
    code = (
        "import sys\n"
        "from attn_helpers.exercises import smollm_ex, list_exercises\n"
        "assert len(list_exercises('10_real_language_model')) == 5\n"
        "assert smollm_ex._real.cache_info().currsize == 0\n"
        "assert 'gguf' not in sys.modules and 'attn_helpers.smollm' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("name", NAMES)
def test_checker_is_sound(model, name):
    fw.assert_checker_sound(name)
    assert len(fw.REGISTRY[name].mistakes) >= 4
    assert getattr(smollm_ex, f"check_{name}")(fw.reference_solution(name)).correct


def test_cases_are_the_real_model(model):
    r = smollm_ex._real()
    assert r["q_file"].shape == (9, 15, 64)
    assert r["k"].shape == r["v"].shape == (3, 15, 64)
    assert r["weights"].shape == (30, 9, 15, 15)
    assert smollm_ex.sink_share_solution(r["weights"]).mean() == pytest.approx(
        r["weights"][:, :, 1:, 0].mean(), rel=1e-6
    )


def test_package_functions_pass_the_checkers(model):
    from attn_helpers.smollm import gqa_attention, rms_norm

    assert smollm_ex.check_smollm_rms_norm(lambda x, w, eps: rms_norm(x, w, eps=eps)).correct
    assert smollm_ex.check_smollm_gqa_attention(
        lambda q, k, v: gqa_attention(np.asarray(q), np.asarray(k), np.asarray(v))
    ).correct


def test_typical_wrong_answers_get_their_diagnosis(model):
    from attn_helpers.core import rotary_embedding

    res = smollm_ex.check_smollm_rope_adjacent(lambda x, p, base: rotary_embedding(x, p, base=base))
    assert not res
    assert "split halves" in res.message
    res = smollm_ex.check_smollm_sink_share(lambda w: w[..., 0].mean(axis=(1, 2)))
    assert not res
    assert "query 0" in res.message
