"""The machinery behind every exercise checker: checks are data.

An :class:`Exercise` declares a reference solution, the input cases to try, the common mistakes
(each a small wrong function plus the diagnosis to give when a learner's output matches it) and
hints. :func:`check` runs a learner's function against it and returns a :class:`Result` with one of
three outcomes:

- ``"not attempted"``: the stub still raises ``NotImplementedError``;
- ``"incorrect"``: the first failing case, in second person, with shapes, naming a known mistake
  when the output matches one, but never revealing the answer;
- ``"correct"``: every case matched the reference within the stated tolerances.

Because mistakes are data, the checkers test themselves: :func:`assert_checker_sound` verifies that
the reference passes, every mistake fails *with its own diagnosis*, and a stub is "not attempted".
"""

from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "REGISTRY",
    "Case",
    "Exercise",
    "Mistake",
    "Result",
    "assert_checker_sound",
    "check",
    "hint",
    "list_exercises",
    "reference_solution",
    "register",
    "solution",
]

NOT_ATTEMPTED = "not attempted"
INCORRECT = "incorrect"
CORRECT = "correct"


@dataclass(frozen=True)
class Case:
    """One input to try: ``fn(*args, **kwargs)``, described in words for the learner."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer: a function that makes the mistake, and what to tell the learner."""

    name: str
    fn: Callable
    diagnosis: str


@dataclass(frozen=True)
class Exercise:
    """An exercise's checks, declared as data.

    Parameters
    ----------
    name : str
        Key used by ``check(name, fn)``, ``hint(name)`` and ``solution(name)``.
    notebook : str
        The notebook that poses it, e.g. ``"02_softmax_weighting"``.
    title : str
        A short human title.
    reference : callable
        The worked solution. Its source code is what ``solution(name)`` shows.
    cases : sequence of Case
        Inputs to try, in order; the first failing one is reported.
    mistakes : sequence of Mistake
        Known wrong variants with their diagnoses.
    hints : sequence of str
        From gentle to specific.
    compare : callable, optional
        ``compare(expected, actual) -> str | None``: a message saying how ``actual`` differs, or
        None if they agree. Defaults to shape-then-``np.allclose`` with ``rtol``/``atol``,
        element-wise for tuples.
    rtol, atol : float
        Tolerances of the default comparison.
    """

    name: str
    notebook: str
    title: str
    reference: Callable
    cases: Sequence[Case]
    mistakes: Sequence[Mistake] = ()
    hints: Sequence[str] = ()
    compare: Callable | None = None
    rtol: float = 1e-6
    atol: float = 1e-9

    def differs(self, expected, actual) -> str | None:
        """Return how ``actual`` differs from ``expected`` (None when they agree)."""
        if self.compare is not None:
            return self.compare(expected, actual)
        return _default_compare(expected, actual, rtol=self.rtol, atol=self.atol)


REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to the registry (names must be unique) and return it."""
    if exercise.name in REGISTRY and REGISTRY[exercise.name] is not exercise:
        raise ValueError(f"an exercise named {exercise.name!r} is already registered")
    REGISTRY[exercise.name] = exercise
    return exercise


def list_exercises(notebook: str | None = None) -> list[str]:
    """Names of the registered exercises, optionally only those of one notebook."""
    return [n for n, ex in REGISTRY.items() if notebook is None or ex.notebook == notebook]


def _get(name: str) -> Exercise:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY)) or "(none registered)"
        raise KeyError(f"no exercise named {name!r}; known exercises: {known}") from None


# --------------------------------------------------------------------------- comparison


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, tuple):
        return f"a tuple of {len(x)} items"
    return f"{type(x).__name__} {x!r}"


def _default_compare(expected, actual, *, rtol: float, atol: float, where: str = "") -> str | None:
    if isinstance(expected, tuple):
        if not isinstance(actual, tuple | list) or len(actual) != len(expected):
            return f"you returned {_describe(actual)}{where}, but a tuple of {len(expected)} items was expected"
        for i, (e, a) in enumerate(zip(expected, actual)):
            msg = _default_compare(e, a, rtol=rtol, atol=atol, where=f" (item {i} of the tuple)")
            if msg:
                return msg
        return None
    if isinstance(expected, np.ndarray) or np.isscalar(expected):
        try:
            a = np.asarray(actual, dtype=float)
        except (TypeError, ValueError):
            return f"you returned {_describe(actual)}{where}, which is not a numeric array"
        e = np.asarray(expected)
        if a.shape != e.shape:
            return f"your result{where} has shape {a.shape}, but the expected shape is {e.shape}"
        if e.dtype == bool:
            if not np.array_equal(a.astype(bool), e) or np.asarray(actual).dtype != bool:
                if np.asarray(actual).dtype != bool:
                    return f"your result{where} has dtype {np.asarray(actual).dtype}; a boolean array was expected"
                idx = tuple(int(i) for i in np.argwhere(a.astype(bool) != e)[0])
                return f"your result{where} differs at index {idx}"
            return None
        if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=False):
            if np.isnan(a).any():
                return f"your result{where} contains NaN"
            if a.ndim == 0:
                return (
                    f"your result{where} is {a.item():.6g}, which is not the expected value "
                    f"(rtol={rtol:g}, atol={atol:g})"
                )
            bad = ~np.isclose(a, e, rtol=rtol, atol=atol)
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            return (
                f"your result{where} differs from the expected values (rtol={rtol:g}, atol={atol:g}); "
                f"the first differing entry is at index {idx}: you have {a[idx]:.6g}"
            )
        return None
    return (
        None
        if actual == expected
        else f"you returned {actual!r}{where}, which is not what was expected"
    )


def _same_output(exercise: Exercise, x, y) -> bool:
    try:
        if exercise.differs(x, y) is None:
            return True
    except Exception:  # noqa: BLE001 - any failure to compare means "not the same"
        return False
    # NaN-for-NaN matches count as the same mistake (e.g. a softmax that overflows), but only
    # when NaN is really there: 0 must not "match" False, nor 1 match True.
    try:
        xs = x if isinstance(x, tuple) else (x,)
        ys = y if isinstance(y, tuple) else (y,)
        if len(xs) != len(ys):
            return False
        pairs = [(np.asarray(a), np.asarray(b)) for a, b in zip(xs, ys)]
        if not any(a.dtype.kind == "f" and np.isnan(a).any() for a, _ in pairs):
            return False
        return all(
            a.shape == b.shape
            and a.dtype.kind == b.dtype.kind
            and np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)
            for a, b in pairs
        )
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """The outcome of a check. Truthy only when correct; renders as rich HTML in JupyterLab."""

    name: str
    status: str
    message: str
    mistake: str | None = None

    def __bool__(self) -> bool:
        return self.status == CORRECT

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    def __str__(self) -> str:
        icon = {CORRECT: "✓ Correct", INCORRECT: "✗ Not yet", NOT_ATTEMPTED: "○ Not attempted"}[
            self.status
        ]
        return f"{icon} ({self.name}): {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = {CORRECT: "#1a7f37", INCORRECT: "#b35900", NOT_ATTEMPTED: "#57606a"}[self.status]
        title = {CORRECT: "✓ Correct", INCORRECT: "✗ Not yet", NOT_ATTEMPTED: "○ Not attempted"}[
            self.status
        ]
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
            f'<b style="color:{colour}">{title}</b> <code>{html.escape(self.name)}</code><br>'
            f"{html.escape(self.message)}</div>"
        )


def _call(fn, case: Case):
    args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in case.args)
    for a in args:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False  # learners' functions must not modify their inputs
    return fn(*args, **dict(case.kwargs))


def check(name: str, fn: Callable) -> Result:
    """Run the learner's ``fn`` against exercise ``name`` and return a :class:`Result`."""
    exercise = _get(name)
    if not callable(fn):
        return Result(
            name,
            INCORRECT,
            f"check_... expects your function itself, but got {_describe(fn)}. "
            "Pass the function without calling it, e.g. check_softmax(softmax).",
        )
    for number, case in enumerate(exercise.cases, start=1):
        what = case.description or f"case {number}"
        try:
            actual = _call(fn, case)
        except NotImplementedError:
            return Result(
                name,
                NOT_ATTEMPTED,
                "your function still raises NotImplementedError. "
                f"Replace the stub with your code, then run the check again. Stuck? hint({name!r}).",
            )
        except Exception as err:  # noqa: BLE001 - any learner error is reported, never a traceback
            if isinstance(err, ValueError) and "read-only" in str(err):
                return Result(
                    name,
                    INCORRECT,
                    f"on {what}, your function tried to modify its input "
                    "in place. Work on a copy (or build a new array) instead.",
                )
            # A known mistake that fails the same way (e.g. `query @ keys` on non-square keys)?
            for mistake in exercise.mistakes:
                try:
                    _call(mistake.fn, case)
                except Exception as wrong_err:  # noqa: BLE001
                    if type(wrong_err) is type(err) and str(wrong_err) == str(err):
                        return Result(
                            name, INCORRECT, f"on {what}: {mistake.diagnosis}", mistake=mistake.name
                        )
            return Result(
                name,
                INCORRECT,
                f"on {what}, your function raised {type(err).__name__}. The error says: {err}",
            )
        expected = _call(exercise.reference, case)
        problem = exercise.differs(expected, actual)
        if problem is None:
            continue
        for mistake in exercise.mistakes:
            try:
                wrong = _call(mistake.fn, case)
            except Exception:  # noqa: BLE001, S112 - a mistake that cannot run on this case does not match
                continue
            if _same_output(exercise, wrong, actual):
                return Result(
                    name, INCORRECT, f"on {what}: {mistake.diagnosis}", mistake=mistake.name
                )
        return Result(name, INCORRECT, f"on {what}, {problem}. Stuck? hint({name!r}).")
    n = len(exercise.cases)
    return Result(name, CORRECT, f"{n} of {n} test cases match. {exercise.title}: done.")


# --------------------------------------------------------------------------- hints and solutions


class _Text:
    """Plain text that also renders as Markdown in JupyterLab."""

    def __init__(self, text: str, markdown: str):
        self.text, self.markdown = text, markdown

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.markdown


def hint(name: str, level: int | None = None):
    """Show the hints of exercise ``name`` (all, or only the first ``level``)."""
    exercise = _get(name)
    hints = list(exercise.hints)[: level if level is not None else None]
    if not hints:
        return _Text(
            "No hints for this one: read the exercise text again.", "_No hints for this one._"
        )
    text = "\n".join(f"Hint {i}: {h}" for i, h in enumerate(hints, 1))
    md = "\n".join(f"{i}. {h}" for i, h in enumerate(hints, 1))
    return _Text(text, f"**Hints for `{name}`**\n\n{md}")


def reference_solution(name: str) -> Callable:
    """The worked solution of exercise ``name`` as a function (what ``solution(name)`` shows)."""
    return _get(name).reference


def solution(name: str):
    """Show the worked solution of exercise ``name`` (the source code of its reference)."""
    exercise = _get(name)
    try:
        source = textwrap.dedent(inspect.getsource(exercise.reference))
    except (OSError, TypeError):  # defined interactively: no source file to read
        source = f"# The source of {exercise.reference!r} is not available.\n"
    return _Text(source, f"**Solution for `{name}`** ({exercise.title})\n\n```python\n{source}```")


# --------------------------------------------------------------------------- self-test


def assert_checker_sound(name: str) -> None:
    """Raise AssertionError unless exercise ``name``'s checker can tell right from wrong.

    The reference must pass; every declared mistake must fail with *its own* diagnosis; a stub that
    raises ``NotImplementedError`` must be "not attempted"; hints and a solution must exist.
    """
    exercise = _get(name)
    ok = check(name, exercise.reference)
    assert ok.status == CORRECT, f"{name}: the reference fails its own checker: {ok}"

    def stub(*args, **kwargs):
        raise NotImplementedError

    assert check(name, stub).status == NOT_ATTEMPTED, (
        f"{name}: a stub is not reported as not attempted"
    )
    for mistake in exercise.mistakes:
        res = check(name, mistake.fn)
        assert res.status == INCORRECT, f"{name}: mistake {mistake.name!r} passes the checker"
        assert res.mistake == mistake.name, (
            f"{name}: mistake {mistake.name!r} got the wrong diagnosis: {res.message}"
        )
    assert exercise.hints, f"{name}: no hints"
    assert solution(name).text.strip(), f"{name}: no solution source"
