"""The checkers of notebook 07 (attn_helpers.exercises.pitfalls) can tell right from wrong."""

import numpy as np
import pytest

from attn_helpers import scaled_dot_product_attention, softmax
from attn_helpers.diagnostics import causality_leak
from attn_helpers.exercises import _framework as fw
from attn_helpers.exercises import pitfalls

NAMES = ["detect_causality_leak", "fix_head_scale", "fix_padding_nan"]


def test_at_least_three_exercises_are_registered_for_notebook_07():
    assert set(NAMES) <= set(fw.list_exercises("07_common_pitfalls"))


@pytest.mark.parametrize("name", NAMES)
def test_checker_is_sound(name):
    fw.assert_checker_sound(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_fails_and_the_checker_function_is_public(name):
    exercise = fw.REGISTRY[name]
    assert len(exercise.mistakes) >= 3
    for mistake in exercise.mistakes:
        assert not fw.check(name, mistake.fn), mistake.name
    checker = getattr(pitfalls, f"check_{name}")
    assert f"check_{name}" in pitfalls.__all__
    assert checker(fw.reference_solution(name)).correct


# Independent implementations (the package's own functions) must pass the checkers too.


def _agrees_but_is_refused(name, fn, package_name):
    """The package computes the same answers, but the exercise asks the learner to write it."""
    ex = fw.REGISTRY[name]
    for case in ex.cases:
        assert ex.differs(fw._call(ex.reference, case), fw._call(fn, case)) is None
    result = fw.check(name, fn)
    assert not result
    assert f"calls the package's `{package_name}`" in result.message


def test_the_packages_detector_agrees_but_is_refused():
    """Notebook 07: "written without using `causality_leak`"."""
    _agrees_but_is_refused(
        "detect_causality_leak",
        lambda attention: not causality_leak(attention),
        "attn_helpers.diagnostics.causality_leak",
    )


def test_the_packages_attention_agrees_but_is_refused_for_the_scale_exercise():
    _agrees_but_is_refused(
        "fix_head_scale", scaled_dot_product_attention, "attn_helpers.scaled_dot_product_attention"
    )


def test_the_packages_softmax_agrees_but_is_refused_for_the_padding_exercise():
    _agrees_but_is_refused("fix_padding_nan", softmax, "attn_helpers.softmax")


def test_a_non_boolean_verdict_is_explained():
    result = pitfalls.check_detect_causality_leak(lambda attention: "no")
    assert not result
    assert "return `True` or `False`" in result.message


def test_a_learner_function_that_crashes_is_reported_not_raised():
    def broken(scores):
        return scores.nonexistent

    result = pitfalls.check_fix_padding_nan(broken)
    assert result.status == "incorrect"
    assert "AttributeError" in result.message


def test_checks_leave_the_learners_inputs_alone():
    def in_place(scores):
        scores -= scores.max()
        return scores

    result = pitfalls.check_fix_padding_nan(in_place)
    assert not result
    assert "modified its input" in result.message


def test_a_softmax_with_one_global_max_is_caught_on_rows_of_different_scale():
    def global_max_softmax(scores):
        finite = scores[np.isfinite(scores)]
        e = np.exp(scores - finite.max())  # one max for the whole array
        total = e.sum(axis=-1, keepdims=True)
        return np.divide(e, total, out=np.zeros_like(e), where=total > 0)

    result = pitfalls.check_fix_padding_nan(global_max_softmax)
    assert not result
    assert result.mistake == "one global max"
    assert "[0, -1]" in result.message


def test_a_head_softmax_over_the_queries_is_diagnosed_as_the_wrong_axis():
    def over_queries(q, k, v):
        scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
        weights = np.exp(scores - scores.max(axis=-2, keepdims=True))
        weights = weights / weights.sum(axis=-2, keepdims=True)  # Bug: axis -2
        return weights @ v, weights

    result = pitfalls.check_fix_head_scale(over_queries)
    assert not result
    assert result.mistake == "softmax over the queries"
    assert "axis=-1" in result.message
