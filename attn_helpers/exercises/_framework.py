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

import contextlib
import copy
import ctypes
import html
import inspect
import io
import sys
import textwrap
import threading
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

#: Seconds a learner's function may run on one case before the check stops it (see ``_run_limited``).
#: An exercise can set its own ``time_limit``; ``check(..., time_limit=...)`` overrides both.
DEFAULT_TIME_LIMIT = 5.0
#: How much of what a learner's function prints is kept and shown.
OUTPUT_LINES = 20
OUTPUT_CHARS = 2000
OUTPUT_LINE_CHARS = 200

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
    time_limit : float, optional
        Seconds the learner's function may take on one case (default ``DEFAULT_TIME_LIMIT``).
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
    time_limit: float | None = None

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


# --------------------------------------------------------------------------- running a learner's code
#
# A learner's function is untrusted: it may write into its inputs, loop forever, call sys.exit(),
# print megabytes or return anything at all. Every call therefore gets
# - a read-only deep copy of every argument (positional, keyword, nested in lists/tuples/dicts), so
#   no stored case can be corrupted and the reference always sees pristine data;
# - a time limit (``_run_limited``);
# - a bounded buffer for what it prints (``_Output``).


class _TimeLimit(BaseException):
    """Raised inside the checked call by the watchdog. A BaseException, so that a learner's
    ``except Exception:`` does not swallow it."""


class _Stopped(Exception):
    """The learner's call was stopped by the time limit."""


def _freeze(x):
    """Make every ndarray inside ``x`` (a deep copy) read-only; return ``x``."""
    if isinstance(x, np.ndarray):
        x.flags.writeable = False
    elif isinstance(x, list | tuple):
        for item in x:
            _freeze(item)
    elif isinstance(x, dict):
        for item in x.values():
            _freeze(item)
    return x


def _copies(case: Case, *, frozen: bool = True):
    """Fresh deep copies of a case's arguments (read-only arrays unless ``frozen=False``)."""
    args, kwargs = copy.deepcopy((tuple(case.args), dict(case.kwargs)))
    if frozen:
        _freeze(args)
        _freeze(kwargs)
    return args, kwargs


def _call(fn, case: Case):
    """``fn`` on read-only deep copies of the case's arguments (for trusted functions)."""
    args, kwargs = _copies(case)
    return fn(*args, **kwargs)


def _arg_names(fn, case: Case) -> list[tuple[str, object, object]]:
    """(name, pristine value, key) for every argument, named as the learner's signature names it."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    out = [
        (params[i] if i < len(params) else f"argument {i + 1}", a, i)
        for i, a in enumerate(case.args)
    ]
    out += [(k, v, k) for k, v in case.kwargs.items()]
    return out


def _differs_from(pristine, value) -> bool:
    """True if ``value`` no longer equals ``pristine`` (recursively; arrays compared NaN-aware)."""
    if isinstance(pristine, np.ndarray):
        return not (
            isinstance(value, np.ndarray)
            and value.shape == pristine.shape
            and np.array_equal(value, pristine, equal_nan=pristine.dtype.kind in "fc")
        )
    if isinstance(pristine, list | tuple):
        return (
            not isinstance(value, list | tuple)
            or len(value) != len(pristine)
            or any(_differs_from(p, v) for p, v in zip(pristine, value))
        )
    if isinstance(pristine, dict):
        return (
            not isinstance(value, dict)
            or value.keys() != pristine.keys()
            or any(_differs_from(pristine[k], value[k]) for k in pristine)
        )
    return False  # ints, floats, functions: nothing the learner could change in place


def _modified(fn, case: Case, args, kwargs) -> list[str]:
    """Names of the arguments whose copies (``args``, ``kwargs``) no longer match the case."""
    return [
        name
        for name, pristine, key in _arg_names(fn, case)
        if _differs_from(pristine, args[key] if isinstance(key, int) else kwargs[key])
    ]


class _Output(io.TextIOBase):
    """A write-only text stream that keeps the first lines of what it is given and counts the rest."""

    def __init__(self, max_lines: int = OUTPUT_LINES, max_chars: int = OUTPUT_CHARS):
        self.max_lines, self.max_chars = max_lines, max_chars
        self.kept: list[str] = []
        self.kept_chars = 0
        self.kept_lines = 0
        self.dropped_chars = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = self.max_chars - self.kept_chars
        if room > 0 and self.kept_lines < self.max_lines:
            piece = text[:room]
            self.kept.append(piece)
            self.kept_chars += len(piece)
            self.kept_lines += piece.count("\n")
            self.dropped_chars += len(text) - len(piece)
        else:
            self.dropped_chars += len(text)
        return len(text)

    def summary(self) -> str:
        """What was printed, cut to the first lines, with how much was left out ('' if nothing)."""
        text = "".join(self.kept)
        if not text and not self.dropped_chars:
            return ""
        lines = text.splitlines()
        shown = lines[: self.max_lines]
        dropped = self.dropped_chars + sum(len(line) + 1 for line in lines[self.max_lines :])
        dropped += sum(max(0, len(line) - OUTPUT_LINE_CHARS) for line in shown)
        out = "\n".join(
            line if len(line) <= OUTPUT_LINE_CHARS else line[:OUTPUT_LINE_CHARS] + " ..."
            for line in shown
        )
        if dropped:
            out += f"\n... ({dropped:,} more characters not shown)"
        return out


def _run_limited(fn, args, kwargs, limit: float | None):
    """Call ``fn(*args, **kwargs)`` in this thread, stopping it after ``limit`` seconds.

    A watchdog ``threading.Timer`` raises ``_TimeLimit`` inside this thread with
    ``PyThreadState_SetAsyncExc``. The kernel stays usable: no process or thread is killed, the
    learner's call just ends with an exception. Limitation: an asynchronous exception is delivered
    only when the thread runs Python bytecode, so a call stuck inside one long C function (a huge
    numpy product, ``time.sleep``) is interrupted only when that function returns to Python. A
    function that catches BaseException and carries on is hit again every 0.1 s, and its result
    is discarded. Raises ``_Stopped`` when the limit was hit. In Pyodide (the static site) no
    thread can start, so there is no time limit there.
    """
    if limit is None or limit <= 0 or sys.platform == "emscripten":
        return fn(*args, **kwargs)
    thread_id = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False, "timer": None}

    def fire():
        with lock:
            if state["done"]:
                return
            state["fired"] = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread_id), ctypes.py_object(_TimeLimit)
            )
            state["timer"] = threading.Timer(0.1, fire)  # again, if the learner swallowed it
            state["timer"].daemon = True
            state["timer"].start()

    state["timer"] = threading.Timer(limit, fire)
    state["timer"].daemon = True
    try:
        try:
            state["timer"].start()
            result = fn(*args, **kwargs)
        finally:
            while True:  # from here on the watchdog cannot fire any more
                try:
                    with lock:
                        state["done"] = True
                        state["timer"].cancel()
                    break
                except _TimeLimit:  # delivered just after we got the lock: finish the job
                    state["fired"] = True
            if state["fired"]:
                # The exception may still be pending (it raced with the end of the call): clear it
                # so that it cannot go off later in the checker or in the learner's next cell.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
    except _TimeLimit:
        raise _Stopped from None
    if state["fired"]:
        raise _Stopped
    return result


def _short(text: str, limit: int = 500) -> str:
    text = str(text)
    return (
        text
        if len(text) <= limit
        else text[:limit] + f"... ({len(text) - limit:,} more characters)"
    )


def check(name: str, fn: Callable, *, time_limit: float | None = None) -> Result:
    """Run the learner's ``fn`` against exercise ``name`` and return a :class:`Result`.

    ``fn`` gets read-only copies of every argument, may run ``time_limit`` seconds per case
    (default: the exercise's own ``time_limit``, else ``DEFAULT_TIME_LIMIT``), and what it prints
    is captured and shown cut to its first lines. Any exception it raises, ``SystemExit``
    included, becomes a message. ``KeyboardInterrupt`` is the one exception passed on: it is how
    a real Ctrl-C (the kernel's "interrupt") stops a check, and the learner must keep that.
    """
    exercise = _get(name)
    if not callable(fn):
        return Result(
            name,
            INCORRECT,
            f"check_... expects your function itself, but got {_describe(fn)}. "
            "Pass the function without calling it, e.g. check_softmax(softmax).",
        )
    limit = time_limit if time_limit is not None else exercise.time_limit
    limit = DEFAULT_TIME_LIMIT if limit is None else limit
    output = _Output()
    result = _check(exercise, fn, limit, output)
    printed = output.summary()
    if printed:
        result.message += f"\nYour function printed:\n{printed}"
    return result


def _check(exercise: Exercise, fn: Callable, limit: float, output: _Output) -> Result:
    name = exercise.name
    for number, case in enumerate(exercise.cases, start=1):
        what = case.description or f"case {number}"
        expected = _call(exercise.reference, case)  # from pristine data, before the learner runs
        args, kwargs = _copies(case)
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                actual = _run_limited(fn, args, kwargs, limit)
        except KeyboardInterrupt:
            raise
        except NotImplementedError:
            return Result(
                name,
                NOT_ATTEMPTED,
                "your function still raises NotImplementedError. "
                f"Replace the stub with your code, then run the check again. Stuck? hint({name!r}).",
            )
        except _Stopped:
            return Result(
                name,
                INCORRECT,
                f"on {what}, your function was still running after {limit:g} seconds, so the check "
                "stopped it. Look for a loop that never ends (a `while` whose condition never "
                "becomes False) or a function that calls itself without a way out.",
            )
        except RecursionError:
            return Result(
                name,
                INCORRECT,
                f"on {what}, your function raised RecursionError (maximum recursion depth "
                "exceeded): it calls itself, directly or indirectly, without ever stopping.",
            )
        except BaseException as err:  # noqa: BLE001 - any learner error is a message, never a traceback
            if isinstance(err, ValueError) and "read-only" in str(err):
                return _modified_result(exercise, fn, case, what, limit)
            # A known mistake that fails the same way (e.g. `query @ keys` on non-square keys)?
            for mistake in exercise.mistakes:
                try:
                    _call(mistake.fn, case)
                except Exception as wrong_err:  # noqa: BLE001
                    if type(wrong_err) is type(err) and str(wrong_err) == str(err):
                        return Result(
                            name, INCORRECT, f"on {what}: {mistake.diagnosis}", mistake=mistake.name
                        )
            says = f" The error says: {_short(err)}" if str(err) else ""
            return Result(
                name, INCORRECT, f"on {what}, your function raised {type(err).__name__}.{says}"
            )
        changed = _modified(fn, case, args, kwargs)
        if changed:  # it made a read-only copy writeable again and wrote into it
            return _modified_message(name, what, changed)
        if actual is None:
            return Result(
                name,
                INCORRECT,
                f"on {what}, your function returned None. Did you forget the `return` line?",
            )
        try:
            problem = exercise.differs(expected, actual)
        except Exception as err:  # noqa: BLE001 - a result that cannot even be compared
            problem = f"your result ({_short(_describe(actual), 200)}) cannot be compared with the expected one ({type(err).__name__})"
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


def _modified_message(name: str, what: str, changed: list[str]) -> Result:
    which = " and ".join(f"`{c}`" for c in changed) if changed else "one of its inputs"
    return Result(
        name,
        INCORRECT,
        f"on {what}, your function modified its input {which} (it wrote into it in place). "
        "Inputs belong to the caller: work on a copy (e.g. `x = x.copy()`) or build a new array.",
    )


def _modified_result(exercise: Exercise, fn, case: Case, what: str, limit: float) -> Result:
    """The learner wrote into a read-only input: run it once more on writeable copies to name it."""
    args, kwargs = _copies(case, frozen=False)
    try:
        with contextlib.redirect_stdout(_Output()), contextlib.redirect_stderr(_Output()):
            _run_limited(fn, args, kwargs, limit)
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001, S110 - only the inputs matter here
        pass
    return _modified_message(exercise.name, what, _modified(fn, case, args, kwargs))


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
