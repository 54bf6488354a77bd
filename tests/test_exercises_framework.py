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
    assert "modified its input `x`" in res.message


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
    assert "Hint 1 of 2: Exponentiate" in str(fw.hint(exercise.name))
    assert "Hint 2" not in str(fw.hint(exercise.name, level=1))
    sol = fw.solution(exercise.name)
    assert "def _ref" in str(sol)
    assert "```python" in sol._repr_markdown_()


def test_a_hint_comes_one_at_a_time_and_names_the_next(exercise):
    first = str(fw.hint(exercise.name))
    assert "Subtract" not in first  # the second hint is not given away
    assert 'hint("_test_softmax", 2)' in first
    second = str(fw.hint(exercise.name, 2))
    assert second.startswith("Hint 2 of 2: Subtract")
    assert "Exponentiate" not in second
    assert 'solution("_test_softmax")' in second
    assert str(fw.hint(exercise.name, 9)) == second  # past the end: the last one
    assert "**Hint 1 of 2**" in fw.hint(exercise.name)._repr_markdown_()


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


# --------------------------------------------------------------------------- hostile learners (issue 12)


def _masked_mean(x, *, mask, extra):
    """Reference of a test exercise whose arrays come as a keyword and nested in a list/dict."""
    w = np.where(mask, x, 0.0)
    return w.sum(axis=-1) + extra[0]["shift"].sum()


@pytest.fixture
def keyword_exercise():
    ex = fw.Exercise(
        name="_test_keyword",
        notebook="tests",
        title="masked sum",
        reference=_masked_mean,
        cases=[
            fw.Case(
                (np.arange(6.0).reshape(2, 3),),
                {
                    "mask": np.array([[True, False, True], [False, True, True]]),
                    "extra": [{"shift": np.array([1.0, 2.0])}],
                },
                description="a (2, 3) input with a mask",
            ),
        ],
        hints=["h"],
    )
    fw.register(ex)
    yield ex
    del fw.REGISTRY[ex.name]


def test_a_keyword_argument_cannot_corrupt_the_stored_case(keyword_exercise):
    """Before issue 12 only positional arrays were copied: writing into mask= changed the case."""
    case = keyword_exercise.cases[0]
    pristine = (case.kwargs["mask"].copy(), case.kwargs["extra"][0]["shift"].copy())

    def writes_mask(x, *, mask, extra):
        mask[...] = True
        return x.sum(axis=-1)

    res = fw.check("_test_keyword", writes_mask)
    assert res.status == fw.INCORRECT
    assert "modified its input `mask`" in res.message
    assert np.array_equal(case.kwargs["mask"], pristine[0])
    # A function that ignores the mask must still fail: the reference sees pristine data.
    assert not fw.check("_test_keyword", lambda x, *, mask, extra: x.sum(axis=-1) + 3.0)
    assert fw.check("_test_keyword", _masked_mean)


def test_a_nested_argument_is_read_only_too(keyword_exercise):
    case = keyword_exercise.cases[0]

    def writes_nested(x, *, mask, extra):
        extra[0]["shift"] += 1.0
        return _masked_mean(x, mask=mask, extra=extra)

    res = fw.check("_test_keyword", writes_nested)
    assert "modified its input `extra`" in res.message
    assert np.array_equal(case.kwargs["extra"][0]["shift"], [1.0, 2.0])


def test_making_a_copy_writeable_again_is_still_caught(exercise):
    def sneaky(x, axis=-1):
        x.flags.writeable = True
        x -= x.max()
        return _ref(x, axis)

    res = fw.check(exercise.name, sneaky)
    assert "modified its input `x`" in res.message
    assert fw.check(exercise.name, _ref)


def test_an_endless_loop_is_stopped_and_the_kernel_stays_usable(exercise):
    def forever(x, axis=-1):
        while True:
            pass

    res = fw.check(exercise.name, forever, time_limit=0.2)
    assert res.status == fw.INCORRECT
    assert "still running after 0.2 seconds" in res.message
    # no stray exception goes off later
    total = 0
    for i in range(2_000_000):
        total += i
    assert fw.check(exercise.name, _ref, time_limit=0.2)


def test_a_loop_that_swallows_the_stop_is_stopped_anyway(exercise):
    def stubborn(x, axis=-1):
        n = 0
        while n < 30:
            try:
                while True:
                    pass
            except BaseException:  # noqa: BLE001 - exactly what a hostile learner might write
                n += 1
        return _ref(x, axis)  # a result after the limit does not count

    res = fw.check(exercise.name, stubborn, time_limit=0.2)
    assert "still running after" in res.message


def test_a_stop_that_lands_in_a_del_callback_prints_nothing(exercise, monkeypatch):
    """Python cannot raise inside ``__del__`` or a weakref callback: a stop that lands there is
    "unraisable" and would print "Exception ignored in ..." under the learner's cell. The checker
    keeps those quiet (the watchdog fires again) and passes every other unraisable on."""
    import sys

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_type))

    class Busy:
        def __del__(self):
            for _ in range(100):  # much of the loop's time is spent in here
                pass

    def forever(x, axis=-1):
        while True:
            Busy()

    res = fw.check(exercise.name, forever, time_limit=0.2)
    assert "still running after 0.2 seconds" in res.message
    assert fw._TimeLimit not in seen

    class Broken:
        def __del__(self):
            raise ValueError("the learner's own")

    def leaky(x, axis=-1):
        Broken()
        return _ref(x, axis)

    fw.check(exercise.name, leaky, time_limit=5)
    assert ValueError in seen


def test_the_exercise_time_limit_is_used(exercise, monkeypatch):
    slow = fw.Exercise(**{**exercise.__dict__, "name": "_test_slow", "time_limit": 0.2})
    fw.register(slow)
    try:

        def forever(x, axis=-1):
            while True:
                pass

        assert "after 0.2 seconds" in fw.check("_test_slow", forever).message
        monkeypatch.setattr(fw, "DEFAULT_TIME_LIMIT", 0.3)
        assert "after 0.3 seconds" in fw.check(exercise.name, forever).message
    finally:
        del fw.REGISTRY["_test_slow"]


def test_many_short_limits_leave_no_pending_stop(exercise):
    """The watchdog racing the end of a call must not fire later (the exception is cleared)."""

    def quick(x, axis=-1):
        s = 0
        for i in range(2000):
            s += i
        return _ref(x, axis)

    results = [fw.check(exercise.name, quick, time_limit=0.0005).status for _ in range(100)]
    assert set(results) <= {fw.CORRECT, fw.INCORRECT}
    total = 0
    for i in range(1_000_000):
        total += i
    assert fw.check(exercise.name, _ref)


@pytest.mark.parametrize(
    "error", [SystemExit(3), SystemExit(), GeneratorExit("g"), ArithmeticError("a"), MemoryError()]
)
def test_system_exit_and_other_base_exceptions_are_reported(exercise, error):
    def raises(x, axis=-1):
        raise error

    res = fw.check(exercise.name, raises)
    assert res.status == fw.INCORRECT
    assert f"raised `{type(error).__name__}`" in res.message


def test_keyboard_interrupt_still_stops_the_check(exercise):
    def interrupted(x, axis=-1):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fw.check(exercise.name, interrupted)


def test_printing_is_captured_and_cut(exercise, capsys):
    def chatty(x, axis=-1):
        for i in range(1000):
            print(f"line {i}")
        print("x" * 1_000_000)
        return _ref(x, axis)

    res = fw.check(exercise.name, chatty)
    assert res.status == fw.CORRECT
    out, err = capsys.readouterr()
    assert out == err == ""
    assert "line 0\n" in res.message
    assert "line 19" in res.message
    assert "line 20" not in res.message
    assert "more characters not shown" in res.message
    assert len(res.message) < 2000


def test_returning_none_says_so(exercise):
    res = fw.check(exercise.name, lambda x, axis=-1: None)
    assert "returned `None`" in res.message


# --------------------------------------------------------------------------- issue 22


def _count(d_model, num_heads):
    return 4 * (d_model * d_model + d_model)


@pytest.fixture
def count_exercise():
    ex = fw.Exercise(
        name="_test_count",
        notebook="tests",
        title="count",
        reference=_count,
        cases=[fw.Case((512, 8), description="d_model=512")],
        hints=["h"],
    )
    fw.register(ex)
    yield ex
    del fw.REGISTRY[ex.name]


def test_an_integer_answer_is_compared_exactly_and_printed_in_full(count_exercise):
    assert fw.check("_test_count", _count)
    res = fw.check("_test_count", lambda d, h: float(_count(d, h)))
    assert not res
    assert "`1050624.0`" in res.message
    assert "return an `int`" in res.message
    assert not fw.check("_test_count", lambda d, h: _count(d, h) + 0.3)
    res = fw.check("_test_count", lambda d, h: _count(d, h) + 1)
    assert "`1050625`" in res.message  # in full, not 1.05062e+06
    assert not fw.check("_test_count", lambda d, h: True)


def test_a_float32_result_is_rejected(exercise):
    res = fw.check(exercise.name, lambda x, axis=-1: _ref(x, axis).astype(np.float32))
    assert not res
    assert "float32" in res.message


def _forbidden_helper(x, axis=-1):
    return _ref(x, axis)


def test_a_forbidden_package_function_is_named():
    import attn_helpers

    ex = fw.Exercise(
        name="_test_forbidden",
        notebook="tests",
        title="own softmax",
        reference=_ref,
        cases=[fw.Case((np.array([1.0, 2.0, 3.0]),), description="three scores")],
        forbidden=(attn_helpers.softmax,),
        hints=["h"],
    )
    fw.register(ex)
    try:
        assert fw.check("_test_forbidden", _ref)
        res = fw.check("_test_forbidden", lambda x, axis=-1: attn_helpers.softmax(x, axis=axis))
        assert not res
        assert "calls the package's `attn_helpers.softmax`" in res.message
        # Via a helper of the learner's, or through numpy, it is still the learner's call.
        from functools import partial

        res = fw.check("_test_forbidden", partial(attn_helpers.softmax, axis=-1))
        assert "`attn_helpers.softmax`" in res.message
        # A package function that uses softmax internally is not the learner calling it.
        res = fw.check(
            "_test_forbidden",
            lambda x, axis=-1: (
                attn_helpers.scaled_dot_product_attention(
                    np.eye(1), np.eye(1)[[0, 0, 0]] * 0, np.eye(3)
                )[0][0]
                * 0
                + _ref(x, axis)
            ),
        )
        assert res, res
    finally:
        del fw.REGISTRY["_test_forbidden"]


def test_warnings_are_listed_as_warnings_and_output_keeps_its_lines(exercise):
    def noisy(x, axis=-1):
        print("first line")
        print("second line")
        with np.errstate(over="warn"):
            np.exp(np.array([1000.0]))
        return _ref(x, axis)

    res = fw.check(exercise.name, noisy)
    assert res
    assert res.warned == ("RuntimeWarning: overflow encountered in exp",)
    assert "overflow" not in res.printed
    assert res.printed.startswith("first line\nsecond line\nfirst line")
    html = res._repr_html_()
    assert "first line\nsecond line</pre>" in html
    assert "<li><code>RuntimeWarning: overflow encountered in exp</code></li>" in html


def test_no_warning_leaks_from_the_checkers_own_code(exercise, recwarn):
    fw.check(exercise.name, lambda x, axis=-1: np.asarray(x) * 0)  # mistakes run on every case
    fw.check(exercise.name, _naive)
    assert [str(w.message) for w in recwarn] == []


def test_an_input_written_without_changing_it_is_named(exercise):
    def subtracts_zero(x, axis=-1):
        x -= 0
        return _ref(x, axis)

    res = fw.check(exercise.name, subtracts_zero)
    assert "modified its input `x`" in res.message
    assert "one of its inputs" not in res.message


def test_tuple_items_are_counted_from_one_and_named():
    def ref(x):
        return x, 2 * x, 3 * x

    ex = fw.Exercise(
        name="_test_tuple",
        notebook="tests",
        title="three",
        reference=ref,
        cases=[fw.Case((np.ones(2),))],
        returns=("dq", "dk", "dv"),
        hints=["h"],
    )
    fw.register(ex)
    try:
        res = fw.check("_test_tuple", lambda x: (x, x, 3 * x))
        assert "(the second item, `dk`)" in res.message
    finally:
        del fw.REGISTRY["_test_tuple"]


def test_case_rng_depends_on_the_name_only():
    a = fw.case_rng("softmax").standard_normal(3)
    fw.case_rng("attention").standard_normal(100)
    assert np.array_equal(a, fw.case_rng("softmax").standard_normal(3))
    assert not np.array_equal(a, fw.case_rng("attention").standard_normal(3))
