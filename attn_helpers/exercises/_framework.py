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

A checker that agrees with the reference on its cases accepts any function that also agrees there,
so each exercise also declares ``wrong_variants``: plausible wrong answers (sign, min/max,
abs/relu, off-by-one, wrong axis, wrong dtype or number type, transposes, the package function
where it is forbidden) that the test suite runs against every registered exercise; each must be
rejected, and some case must tell it apart from the reference. Integer answers are compared
exactly, and a call to a package function in an exercise's ``forbidden`` list is found in the
learner's code.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import html
import importlib
import inspect
import io
import os
import re
import sys
import textwrap
import threading
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "REGISTRY",
    "Case",
    "Exercise",
    "Mistake",
    "Result",
    "WrongVariant",
    "assert_checker_sound",
    "case_rng",
    "check",
    "hint",
    "list_exercises",
    "reference_solution",
    "register",
    "solution",
    "solution_code",
    "transformed",
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
class WrongVariant:
    """A plausible wrong answer that the checker must reject (the test suite runs every one).

    Unlike a :class:`Mistake`, a wrong variant need not have its own diagnosis: it only has to be
    rejected. ``says``, when given, is a piece of text the learner's message must contain (for
    example the diagnosis of the mistake it is an instance of); the tests assert it.
    """

    name: str
    fn: Callable
    says: str | None = None


def transformed(fn: Callable, transform: Callable) -> Callable:
    """A wrong variant built from a right function: ``transform(fn(*args, **kwargs))``.

    E.g. ``transformed(reference, np.abs)`` is the reference with an ``abs`` slipped in at the end,
    and ``transformed(reference, lambda out: out.T)`` a transposed result.
    """

    def variant(*args, **kwargs):
        return transform(fn(*args, **kwargs))

    variant.__name__ = (
        f"{getattr(fn, '__name__', 'fn')}_{getattr(transform, '__name__', 'changed')}"
    )
    return variant


def case_rng(name: str) -> np.random.Generator:
    """The random generator for exercise ``name``'s cases, seeded from the name itself.

    Every exercise draws its cases from its own stream, so adding or changing a case of one
    exercise can never change another exercise's cases (a shared stream with offsets could).
    """
    return np.random.default_rng(zlib.crc32(name.encode()))


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
    wrong_variants : sequence of WrongVariant, optional
        Plausible wrong answers (sign, min/max, abs/relu, off-by-one, wrong axis, wrong dtype,
        transposes, a forbidden package function, ...) the checker must reject. The test suite
        runs them for every registered exercise, together with the mistakes.
    forbidden : sequence of callable, optional
        Package functions the learner must not call (the exercise asks them to write that step
        themselves). A call from the learner's code (not from inside the package) makes the
        answer incorrect, with a message naming the function.
    stub : str, optional
        The function name the notebook's stub uses (``solution`` prints the code under that
        name). Default: the reference's name without ``_solution``.
    returns : sequence of str, optional
        Names of the items of a tuple result, e.g. ``("dq", "dk", "dv")``, used in messages.
    solution_prelude : str, optional
        Import lines the printed solution needs besides ``numpy as np`` (e.g. ``"import math"``).
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
    wrong_variants: Sequence[WrongVariant] = ()
    forbidden: Sequence[Callable] = ()
    stub: str | None = None
    returns: Sequence[str] = ()
    solution_prelude: str = ""

    def differs(self, expected, actual) -> str | None:
        """Return how ``actual`` differs from ``expected`` (None when they agree)."""
        if self.compare is not None:
            return self.compare(expected, actual)
        return _default_compare(
            expected, actual, rtol=self.rtol, atol=self.atol, names=tuple(self.returns)
        )

    @property
    def stub_name(self) -> str:
        """The function name of the notebook's stub (what ``solution`` names the function)."""
        if self.stub:
            return self.stub
        name = self.reference.__name__
        return name[: -len("_solution")] if name.endswith("_solution") else name


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


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _item(i: int, names: tuple = ()) -> str:
    """' (the second item, `dk`)': a tuple item named in words, counted from one."""
    nth = _ORDINALS[i] if i < len(_ORDINALS) else f"item number {i + 1}"
    if i < len(names) and names[i]:
        return f" (the {nth} item, `{names[i]}`)"
    return f" (the {nth} item of the tuple)"


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, tuple):
        return f"a tuple of {len(x)} items"
    return f"{type(x).__name__} `{_short(repr(x), 80)}`"


def _is_bool(x) -> bool:
    return isinstance(x, bool | np.bool_)


def _is_int(x) -> bool:
    return isinstance(x, int | np.integer) and not _is_bool(x)


def _compare_number(expected, actual, where: str) -> str | None:
    """Exact comparison for a bool or an integer answer (a count is never 'close enough')."""
    if _is_bool(expected):
        if not _is_bool(actual):
            return f"you returned {_describe(actual)}{where}; return `True` or `False`"
        return None if bool(actual) == bool(expected) else f"you returned `{bool(actual)}`{where}"
    if not _is_int(actual):
        if isinstance(actual, float | np.floating) and float(actual).is_integer():
            return (
                f"you returned `{actual!r}`{where}, a {type(actual).__name__}: the answer is a "
                "whole number, so return an `int` (integer arithmetic: `//` instead of `/`, or "
                "`int(...)` at the end)"
            )
        return (
            f"you returned {_describe(actual)}{where}, but the answer is a whole number (an `int`)"
        )
    if int(actual) != int(expected):
        return f"you returned `{int(actual)}`{where}, which is not the expected number"
    return None


def _default_compare(
    expected, actual, *, rtol: float, atol: float, where: str = "", names: tuple = ()
) -> str | None:
    if isinstance(expected, tuple):
        if not isinstance(actual, tuple | list) or len(actual) != len(expected):
            return f"you returned {_describe(actual)}{where}, but a tuple of {len(expected)} items was expected"
        for i, (e, a) in enumerate(zip(expected, actual)):
            msg = _default_compare(e, a, rtol=rtol, atol=atol, where=_item(i, names))
            if msg:
                return msg
        return None
    if _is_bool(expected) or _is_int(expected):
        return _compare_number(expected, actual, where)
    if isinstance(expected, np.ndarray) or np.isscalar(expected):
        try:
            a = np.asarray(actual, dtype=float)
        except (TypeError, ValueError):
            return f"you returned {_describe(actual)}{where}, which is not a numeric array"
        e = np.asarray(expected)
        if a.shape != e.shape:
            return f"your result{where} has shape {a.shape}, but the expected shape is {e.shape}"
        kind = np.asarray(actual).dtype
        if e.dtype == bool:
            if kind.kind != "b":
                return f"your result{where} has dtype {kind}; a boolean array was expected"
            if not np.array_equal(a.astype(bool), e):
                idx = tuple(int(i) for i in np.argwhere(a.astype(bool) != e)[0])
                return f"your result{where} differs at index {idx}"
            return None
        if e.dtype.kind == "f" and kind.kind == "f" and kind.itemsize < e.dtype.itemsize:
            return (
                f"your result{where} has dtype {kind}, which keeps only about "
                f"{np.finfo(kind).precision} digits: compute in float64, numpy's default"
            )
        if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=False):
            if np.isnan(a).any():
                return f"your result{where} contains NaN"
            if a.ndim == 0:
                return (
                    f"your result{where} is {a.item():.6g}, which is not the expected value "
                    f"(`rtol={rtol:g}`, `atol={atol:g}`)"
                )
            bad = ~np.isclose(a, e, rtol=rtol, atol=atol)
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            return (
                f"your result{where} differs from the expected values (`rtol={rtol:g}`, `atol={atol:g}`); "
                f"the first differing entry is at index {idx}: you have {a[idx] + 0.0:.6g}"
            )
        return None
    return (
        None
        if actual == expected
        else f"you returned {_describe(actual)}{where}, which is not what was expected"
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


def _md_to_html(text: str) -> str:
    """The small Markdown used in messages and hints as HTML: `code` spans, line breaks kept."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            out.append(html.escape(part).replace("\n", "<br>"))
    return "".join(out)


@dataclass
class Result:
    """The outcome of a check. Truthy only when correct; renders as rich HTML in JupyterLab.

    ``message`` is the whole text (verdict, then what the function printed and warned);
    ``printed`` and ``warned`` hold those two parts on their own.
    """

    name: str
    status: str
    message: str
    mistake: str | None = None
    printed: str = ""
    warned: tuple = ()
    verdict: str = ""

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
        body = _md_to_html(self.verdict or self.message)
        if self.verdict:  # the printed output and the warnings, each in its own block
            if self.warned:
                items = "".join(f"<li><code>{html.escape(w)}</code></li>" for w in self.warned)
                body += (
                    f'<br>Your function raised these warnings:<ul style="margin:2px 0">{items}</ul>'
                )
            if self.printed:
                body += (
                    "<br>Your function printed:"
                    f'<pre style="margin:2px 0;white-space:pre-wrap">{html.escape(self.printed)}</pre>'
                )
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
            f'<b style="color:{colour}">{title}</b> <code>{html.escape(self.name)}</code><br>'
            f"{body}</div>"
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


@contextlib.contextmanager
def _quiet():
    """No warning and no numpy floating-point message from the checker's own code reaches the
    learner (e.g. a known mistake that overflows while it is compared with their output)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _call(fn, case: Case):
    """``fn`` on read-only deep copies of the case's arguments (for trusted functions)."""
    args, kwargs = _copies(case)
    with _quiet():
        return fn(*args, **kwargs)


_EXERCISES_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _inside_package(code) -> bool:
    """True for the package's own functions (not the checkers, which call the learner's code)."""
    path = code.co_filename
    return path.startswith(_PACKAGE_DIR) and not path.startswith(_EXERCISES_DIR)


def _forbidden_uses(fn, forbidden: Sequence[Callable]) -> list[str]:
    """Names of the ``forbidden`` package functions that the learner's ``fn`` uses.

    Reads the code rather than running it: every global name (and attribute chain such as
    ``attn_helpers.core.softmax``) that the code of ``fn`` mentions is resolved in its globals, and
    so are its closure, its defaults and ``functools.partial`` wrappers; the learner's own helper
    functions are followed too. The package's own functions are not looked into: they may use
    each other (``scaled_dot_product_attention`` uses ``softmax``; that is not the learner's call).
    """
    targets = {id(inspect.unwrap(f)): _public_name(f) for f in forbidden}
    found: list[str] = []
    if not targets:
        return found
    seen: set[int] = set()

    def codes(code):
        yield code
        for const in code.co_consts:
            if inspect.iscode(const):
                yield from codes(const)

    def visit(obj, depth: int) -> None:
        if depth > 6 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, functools.partial):
            for item in (obj.func, *obj.args, *obj.keywords.values()):
                visit(item, depth + 1)
            return
        obj = getattr(obj, "__func__", obj)  # a bound method: its function
        try:
            key = id(inspect.unwrap(obj))
        except ValueError:  # a wrapper cycle
            key = id(obj)
        if key in targets:
            if targets[key] not in found:
                found.append(targets[key])
            return
        code = getattr(obj, "__code__", None)
        if code is None:
            call = vars(type(obj)).get("__call__")  # a callable object: its __call__
            if call is not None and getattr(call, "__code__", None) is not None:
                visit(call, depth + 1)
            return
        if _inside_package(code):
            return
        namespace = getattr(obj, "__globals__", {})
        values = [cell.cell_contents for cell in (obj.__closure__ or ()) if _has_contents(cell)]
        values += list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
        for c in codes(code):
            names = c.co_names
            for name in names:
                if name in namespace:
                    values.append(namespace[name])
            for value in list(values):
                if inspect.ismodule(value):  # attn_helpers.softmax, attn_helpers.core.softmax
                    for attr in names:
                        sub = getattr(value, attr, None)
                        if sub is not None:
                            values.append(sub)
                            if inspect.ismodule(sub):
                                values.extend(getattr(sub, a) for a in names if hasattr(sub, a))
        for value in values:
            if callable(value) and not inspect.isclass(value) and not inspect.ismodule(value):
                visit(value, depth + 1)

    visit(fn, 0)
    return found


def _public_name(f) -> str:
    """``attn_helpers.softmax`` for what the package exports at the top, else where it lives."""
    top = sys.modules.get(f.__module__.split(".")[0])
    if top is not None and getattr(top, f.__name__, None) is f:
        return f"{top.__name__}.{f.__name__}"
    for public in ("attn_helpers.minilm", "attn_helpers.diagnostics"):
        try:
            module = importlib.import_module(public)
        except ImportError:  # pragma: no cover - an optional dependency is missing
            continue
        if getattr(module, f.__name__, None) is f:
            return f"{public}.{f.__name__}"
    return f"{f.__module__}.{f.__name__}"


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


class _Warnings:
    """The distinct warnings a learner's function raised, as 'Category: message' lines."""

    MAX = 5

    def __init__(self):
        self.lines: list[str] = []

    @contextlib.contextmanager
    def record(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                for w in caught:
                    line = _short(f"{w.category.__name__}: {w.message}", OUTPUT_LINE_CHARS)
                    if line not in self.lines and len(self.lines) < self.MAX:
                        self.lines.append(line)


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
    previous_hook = sys.unraisablehook

    def quiet_hook(unraisable):
        # The stop landed where Python cannot raise it (a weakref or __del__ callback), which would
        # print "Exception ignored in ...": not the learner's error. The watchdog fires again.
        if unraisable.exc_type is not _TimeLimit:
            previous_hook(unraisable)

    sys.unraisablehook = quiet_hook
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
            sys.unraisablehook = previous_hook
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
    is captured and shown cut to its first lines; the warnings it raises are listed apart. Any
    exception it raises, ``SystemExit`` included, becomes a message. ``KeyboardInterrupt`` is the
    one exception passed on: it is how a real Ctrl-C (the kernel's "interrupt") stops a check,
    and the learner must keep that.
    """
    exercise = _get(name)
    if not callable(fn):
        return Result(
            name,
            INCORRECT,
            f"`check_...` expects your function itself, but got {_describe(fn)}. "
            "Pass the function without calling it, e.g. `check_softmax(my_softmax)`.",
        )
    limit = time_limit if time_limit is not None else exercise.time_limit
    limit = DEFAULT_TIME_LIMIT if limit is None else limit
    output = _Output()
    warned = _Warnings()
    result = _check(exercise, fn, limit, output, warned)
    result.verdict = result.message
    result.printed = output.summary()
    result.warned = tuple(warned.lines)
    if result.warned:
        result.message += "\nYour function raised these warnings:\n" + "\n".join(
            f"- {w}" for w in result.warned
        )
    if result.printed:
        result.message += f"\nYour function printed:\n{result.printed}"
    return result


def _run_learner(fn, case: Case, limit: float, output, warned):
    """The learner's ``fn`` on fresh read-only copies: (args, kwargs, result)."""
    args, kwargs = _copies(case)
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output), warned.record():
        actual = _run_limited(fn, args, kwargs, limit)
    return args, kwargs, actual


def _matching_mistakes(exercise: Exercise, case: Case, actual) -> list[Mistake]:
    matches = []
    for mistake in exercise.mistakes:
        try:
            wrong = _call(mistake.fn, case)
        except Exception:  # noqa: BLE001, S112 - a mistake that cannot run on this case does not match
            continue
        if _same_output(exercise, wrong, actual):
            matches.append(mistake)
    return matches


def _narrow(exercise: Exercise, fn, candidates: list[Mistake], after: int, limit: float) -> Mistake:
    """Of several mistakes that all match the first failing case, the one that keeps matching.

    Two mistakes can agree on one case (summing over 4 queries of 0.25 gives 1.0, and so does
    selecting a row): the learner's output on the later cases decides which one they made.
    """
    remaining = list(candidates)
    for case in exercise.cases[after:]:
        if len(remaining) < 2:
            break
        try:
            _, _, actual = _run_learner(fn, case, limit, _Output(), _Warnings())
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - its failure here is not what is being diagnosed
            break
        still = [m for m in remaining if m in _matching_mistakes(exercise, case, actual)]
        if still:
            remaining = still
    return remaining[0]


def _forbidden_result(name: str, called: list[str]) -> Result:
    which = " and ".join(f"`{c}`" for c in called)
    return Result(
        name,
        INCORRECT,
        f"your function calls the package's {which}. This exercise asks you to write that step "
        "yourself, with numpy: the point is to see every line of it.",
        mistake="called a forbidden package function",
    )


def _check(exercise: Exercise, fn: Callable, limit: float, output: _Output, warned) -> Result:
    name = exercise.name
    try:
        called = _forbidden_uses(fn, exercise.forbidden)
    except Exception:  # noqa: BLE001 - an unreadable function is simply not flagged
        called = []
    for number, case in enumerate(exercise.cases, start=1):
        what = case.description or f"case {number}"
        expected = _call(exercise.reference, case)  # from pristine data, before the learner runs
        try:
            args, kwargs, actual = _run_learner(fn, case, limit, output, warned)
        except KeyboardInterrupt:
            raise
        except NotImplementedError:
            return Result(
                name,
                NOT_ATTEMPTED,
                "your function still raises `NotImplementedError`. "
                "Replace the stub with your code, then run the check again. "
                f'Stuck? `hint("{name}")`.',
            )
        except _Stopped:
            return Result(
                name,
                INCORRECT,
                f"on {what}, your function was still running after {limit:g} seconds, so the check "
                "stopped it. Look for a loop that never ends (a `while` whose condition never "
                "becomes `False`) or a function that calls itself without a way out.",
            )
        except RecursionError:
            return Result(
                name,
                INCORRECT,
                f"on {what}, your function raised `RecursionError` (maximum recursion depth "
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
                name, INCORRECT, f"on {what}, your function raised `{type(err).__name__}`.{says}"
            )
        if called:
            return _forbidden_result(name, called)
        changed = _modified(fn, case, args, kwargs)
        if changed:  # it made a read-only copy writeable again and wrote into it
            return _modified_message(name, what, changed)
        if actual is None:
            return Result(
                name,
                INCORRECT,
                f"on {what}, your function returned `None`. Did you forget the `return` line?",
            )
        try:
            problem = exercise.differs(expected, actual)
        except Exception as err:  # noqa: BLE001 - a result that cannot even be compared
            problem = f"your result ({_short(_describe(actual), 200)}) cannot be compared with the expected one ({type(err).__name__})"
        if problem is None:
            continue
        matches = _matching_mistakes(exercise, case, actual)
        if matches:
            mistake = (
                _narrow(exercise, fn, matches, number, limit) if len(matches) > 1 else matches[0]
            )
            return Result(name, INCORRECT, f"on {what}: {mistake.diagnosis}", mistake=mistake.name)
        return Result(name, INCORRECT, f'on {what}, {problem}. Stuck? `hint("{name}")`.')
    n = len(exercise.cases)
    return Result(name, CORRECT, f"{n} of {n} test cases match. {exercise.title}: done.")


def _modified_message(name: str, what: str, changed: list[str]) -> Result:
    if changed:
        which = " and ".join(f"`{c}`" for c in changed)
        plural = "inputs" if len(changed) > 1 else "input"
        did = f"modified its {plural} {which} (it wrote into {'them' if len(changed) > 1 else 'it'} in place)"
    else:
        did = "tried to write into one of its input arrays in place"
    return Result(
        name,
        INCORRECT,
        f"on {what}, your function {did}. Inputs belong to the caller: work on a copy "
        "(e.g. `x = x.copy()`) or build a new array.",
    )


def _run_silenced(fn, args, kwargs, limit):
    """Run the learner's function with its output hidden; return what it raised (None if nothing).

    Only the inputs matter to the caller, so every exception is caught, except KeyboardInterrupt.
    """
    try:
        with contextlib.redirect_stdout(_Output()), contextlib.redirect_stderr(_Output()), _quiet():
            _run_limited(fn, args, kwargs, limit)
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - reported to the caller, not raised
        return err
    return None


def _modified_result(exercise: Exercise, fn, case: Case, what: str, limit: float) -> Result:
    """The learner wrote into a read-only input: find which one, and say so.

    First each argument alone is made read-only (the one whose write fails is named, even when the
    write left its values unchanged, as ``x -= 0`` does); then, if that names none, the function
    runs on writeable copies and the arguments whose values changed are named.
    """
    names = _arg_names(fn, case)
    written = []
    for arg_name, _, key in names:
        args, kwargs = _copies(case, frozen=False)
        _freeze(args[key] if isinstance(key, int) else kwargs[key])
        err = _run_silenced(fn, args, kwargs, limit)
        if isinstance(err, ValueError) and "read-only" in str(err):
            written.append(arg_name)
    if not written:
        args, kwargs = _copies(case, frozen=False)
        _run_silenced(fn, args, kwargs, limit)
        written = _modified(fn, case, args, kwargs)
    return _modified_message(exercise.name, what, written)


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


def hint(name: str, n: int | None = None, *, level: int | None = None):
    """Show hint number ``n`` (from 1, the gentlest) of exercise ``name``, and name the next one.

    ``hint("softmax")`` shows the first hint only and ends with how to ask for the second,
    ``hint("softmax", 2)``; after the last hint it points to ``solution("softmax")``. ``level``
    is an older name for ``n``.
    """
    exercise = _get(name)
    hints = list(exercise.hints)
    if not hints:
        return _Text(
            "No hints for this one: read the exercise text again.", "_No hints for this one._"
        )
    number = n if n is not None else (level if level is not None else 1)
    number = min(max(int(number), 1), len(hints))
    total = len(hints)
    if number < total:
        nxt = f'Still stuck? `hint("{name}", {number + 1})` shows hint {number + 1} of {total}.'
    else:
        nxt = f'That was the last hint. `solution("{name}")` shows a worked answer.'
    body = hints[number - 1]
    text = f"Hint {number} of {total}: {body}\n{nxt}"
    md = f"**Hint {number} of {total}** for `{name}`: {body}\n\n{nxt}"
    return _Text(text, md)


def reference_solution(name: str) -> Callable:
    """The worked solution of exercise ``name`` as a function (what ``solution(name)`` shows)."""
    return _get(name).reference


def solution_code(name: str) -> str:
    """The code ``solution(name)`` shows: it runs as pasted into the exercise's cell.

    The reference's source, renamed to the notebook stub's name, after the imports it needs
    besides ``numpy as np`` (which every notebook has).
    """
    exercise = _get(name)
    try:
        source = textwrap.dedent(inspect.getsource(exercise.reference))
    except (OSError, TypeError):  # defined interactively: no source file to read
        return f"# The source of {exercise.reference!r} is not available.\n"
    source = re.sub(
        rf"\bdef {re.escape(exercise.reference.__name__)}\(",
        f"def {exercise.stub_name}(",
        source,
        count=1,
    )
    prelude = exercise.solution_prelude.strip()
    return f"{prelude}\n\n\n{source}" if prelude else source


def solution(name: str):
    """Show the worked solution of exercise ``name``: code that runs as pasted into its cell."""
    exercise = _get(name)
    source = solution_code(name)
    return _Text(source, f"**Solution for `{name}`** ({exercise.title})\n\n```python\n{source}```")


# --------------------------------------------------------------------------- self-test


def assert_checker_sound(name: str) -> None:
    """Raise AssertionError unless exercise ``name``'s checker can tell right from wrong.

    The reference must pass; every declared mistake must fail with *its own* diagnosis; every wrong
    variant must fail (with the text it ``says``, when given); a stub that raises
    ``NotImplementedError`` must be "not attempted"; hints and a solution must exist.
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
    for variant in exercise.wrong_variants:
        res = check(name, variant.fn)
        assert res.status == INCORRECT, f"{name}: wrong variant {variant.name!r} passes the checker"
        if variant.says is not None:
            assert variant.says in res.message, (
                f"{name}: wrong variant {variant.name!r} should be told {variant.says!r}, "
                f"but got: {res.message}"
            )
    assert exercise.hints, f"{name}: no hints"
    assert solution(name).text.strip(), f"{name}: no solution source"
