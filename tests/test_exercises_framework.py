"""The checker machinery itself: three outcomes, diagnoses, hints, solutions, self-test."""

import numpy as np
import pytest

from attn_helpers.exercises import _framework as fw


def _ref(x, axis=-1):
    x = np.asarray(x, dtype=float)
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _wrong_axis(x, axis=-1):
    return _ref(x, axis=0)


def _naive(x, axis=-1):
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(np.asarray(x, dtype=float))
        return z / z.sum(axis=axis, keepdims=True)


def _stub(x, axis=-1):
    raise NotImplementedError


@pytest.fixture
def exercise():
    ex = fw.Exercise(
        name="_test_softmax",
        notebook="tests",
        title="A test softmax",
        reference=_ref,
        cases=[
            fw.Case((np.array([1.0, 2.0, 3.0]),), description="a vector of three scores"),
            fw.Case((np.array([[1.0, 2.0], [3.0, 5.0]]),), description="a (2, 2) matrix of scores"),
            fw.Case((np.array([1000.0, 0.0]),), description="two very different scores"),
        ],
        mistakes=[
            fw.Mistake("wrong axis", _wrong_axis, "you normalised over the first axis."),
            fw.Mistake("no max subtraction", _naive, "exp overflowed: subtract the max first."),
        ],
        hints=["Exponentiate, then normalise.", "Subtract x.max(axis, keepdims=True) first."],
    )
    fw.register(ex)
    yield ex
    del fw.REGISTRY[ex.name]


def test_three_outcomes(exercise):
    assert fw.check(exercise.name, _ref).status == fw.CORRECT
    assert fw.check(exercise.name, _stub).status == fw.NOT_ATTEMPTED
    wrong = fw.check(exercise.name, lambda x, axis=-1: np.asarray(x))
    assert wrong.status == fw.INCORRECT
    assert not wrong
    assert "a vector of three scores" in wrong.message


def test_mistakes_get_their_diagnosis(exercise):
    res = fw.check(exercise.name, _wrong_axis)
    assert (res.status, res.mistake) == (fw.INCORRECT, "wrong axis")
    assert "(2, 2) matrix" in res.message
    res = fw.check(exercise.name, _naive)
    assert res.mistake == "no max subtraction"


def test_shape_mismatch_is_named(exercise):
    res = fw.check(exercise.name, lambda x, axis=-1: _ref(x)[None])
    assert "shape (1, 3)" in res.message
    assert "expected shape is (3,)" in res.message


def test_modifying_the_input_is_reported(exercise):
    def in_place(x, axis=-1):
        x -= x.max()
        return _ref(x)

    res = fw.check(exercise.name, in_place)
    assert res.status == fw.INCORRECT
    assert "modify its input" in res.message


def test_learner_exceptions_become_messages(exercise):
    def broken(x, axis=-1):
        return x.nope

    res = fw.check(exercise.name, broken)
    assert res.status == fw.INCORRECT
    assert "AttributeError" in res.message


def test_passing_a_result_instead_of_a_function(exercise):
    res = fw.check(exercise.name, _ref(np.ones(3)))
    assert res.status == fw.INCORRECT
    assert "without calling it" in res.message


def test_rendering(exercise):
    res = fw.check(exercise.name, _ref)
    assert str(res).startswith("✓ Correct")
    assert "<div" in res._repr_html_()


def test_hints_and_solution(exercise):
    assert "Hint 1: Exponentiate" in str(fw.hint(exercise.name))
    assert "Hint 2" not in str(fw.hint(exercise.name, level=1))
    sol = fw.solution(exercise.name)
    assert "def _ref" in str(sol)
    assert "```python" in sol._repr_markdown_()


def test_sound_checker_passes_self_test(exercise):
    fw.assert_checker_sound(exercise.name)


def test_self_test_catches_a_checker_that_passes_everything():
    lenient = fw.Exercise(
        name="_test_lenient",
        notebook="tests",
        title="lenient",
        reference=_ref,
        cases=[fw.Case((np.array([1.0, 2.0]),))],  # a 1-D case cannot reveal a wrong axis
        mistakes=[fw.Mistake("wrong axis", _wrong_axis, "wrong axis")],
        hints=["h"],
    )
    fw.register(lenient)
    try:
        with pytest.raises(AssertionError, match="passes the checker"):
            fw.assert_checker_sound("_test_lenient")
    finally:
        del fw.REGISTRY["_test_lenient"]


def test_unknown_exercise_lists_known_ones(exercise):
    with pytest.raises(KeyError, match="_test_softmax"):
        fw.hint("no_such_exercise")


def test_an_int_is_not_mistaken_for_a_bool_mistake():
    """A detector returning 0 instead of False must not get a known mistake's diagnosis."""

    def says_no(x):
        return False

    def says_yes(x):
        return True

    ex = fw.Exercise(
        name="_test_bool",
        notebook="tests",
        title="a yes/no detector",
        reference=says_no,
        cases=[fw.Case((1.0,), description="a harmless input")],
        mistakes=[fw.Mistake("always yes", says_yes, "you always say yes")],
        hints=["h"],
    )
    fw.register(ex)
    try:
        res = fw.check("_test_bool", lambda x: 0)
        assert res.status == fw.INCORRECT
        assert res.mistake is None
        assert "bool" in res.message
    finally:
        del fw.REGISTRY["_test_bool"]
