"""Hostile learners against every registered exercise (issue 12, item 4).

Each hostile function must end in "Not yet" or "not attempted" with a short readable message:
never a traceback, never a hang. After each one the checker must still be right: the reference
passes and a known-wrong answer (the exercise's first declared mistake) still fails, so no hostile
call can have corrupted a stored case.
"""

import copy
import sys

import numpy as np
import pytest

import attn_helpers.exercises  # noqa: F401 - registers every exercise
from attn_helpers.exercises import _framework as fw

LIMIT = 0.2  # seconds: the time limit for the hostile call that never ends ("while True")
#: The limit for every other hostile call: each ends by itself, so a machine busy enough to make a
#: quick call take 0.2 s (a fresh clone's first run, CI on 2 cores) must not stop it.
ENDS_BY_ITSELF_LIMIT = 10.0
NAMES = fw.list_exercises()


def _nanify(x):
    if isinstance(x, tuple):
        return tuple(_nanify(i) for i in x)
    return np.full(np.shape(x), np.nan)


def _recurse(*args, **kwargs):
    return _recurse(*args, **kwargs)


def _forever(*args, **kwargs):
    while True:
        pass


class _Custom(BaseException):
    pass


def _raising(error):
    def fn(*args, **kwargs):
        raise error

    fn.__name__ = f"raises_{type(error).__name__}"
    return fn


def _printing(*args, **kwargs):
    print("spam " * 400_000)  # 2 MB on one line
    for i in range(10_000):
        print("line", i, file=sys.stderr if i % 2 else sys.stdout)


def _arrays(x, path=()):
    """Paths to every ndarray inside a case's arguments."""
    if isinstance(x, np.ndarray):
        yield path
    elif isinstance(x, list | tuple):
        for i, item in enumerate(x):
            yield from _arrays(item, (*path, i))
    elif isinstance(x, dict):
        for k, item in x.items():
            yield from _arrays(item, (*path, k))


def _at(x, path):
    for p in path:
        x = x[p]
    return x


def _writer(name):
    """Writes into every array argument (positional, keyword, nested), then answers correctly."""
    ref = fw.reference_solution(name)

    def fn(*args, **kwargs):
        for path in _arrays((args, kwargs)):
            _at((args, kwargs), path)[...] = 0
        return ref(*args, **kwargs)

    return fn


def _sneaky_writer(name):
    """Makes each array writeable again and writes into it."""
    ref = fw.reference_solution(name)

    def fn(*args, **kwargs):
        out = ref(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        for path in _arrays((args, kwargs)):
            a = _at((args, kwargs), path)
            a.flags.writeable = True
            a[...] = 7
        return out

    return fn


def _hard_coded(name):
    """Returns the answer of the first (visible) case whatever it is given."""
    ex = fw.REGISTRY[name]
    answer = fw._call(ex.reference, ex.cases[0])
    return lambda *args, **kwargs: copy.deepcopy(answer)


def _nan(name):
    ref = fw.reference_solution(name)
    return lambda *args, **kwargs: _nanify(ref(*args, **kwargs))


HOSTILE = {
    "returns None": lambda name: lambda *a, **k: None,
    "returns a list": lambda name: lambda *a, **k: [1, 2, 3],
    "returns a string": lambda name: lambda *a, **k: "the answer",
    "wrong shape": lambda name: lambda *a, **k: np.zeros((7, 5, 3)),
    "NaN": _nan,
    "ValueError": lambda name: _raising(ValueError("boom")),
    "TypeError": lambda name: _raising(TypeError("boom")),
    "IndexError": lambda name: _raising(IndexError("boom")),
    "KeyError": lambda name: _raising(KeyError("boom")),
    "ZeroDivisionError": lambda name: _raising(ZeroDivisionError("boom")),
    "RuntimeError with a huge message": lambda name: _raising(RuntimeError("x" * 100_000)),
    "SystemExit": lambda name: _raising(SystemExit(1)),
    "GeneratorExit": lambda name: _raising(GeneratorExit()),
    "custom BaseException": lambda name: _raising(_Custom("b")),
    "infinite recursion": lambda name: _recurse,
    "while True": lambda name: _forever,
    "writes into every argument": _writer,
    "makes inputs writeable and writes": _sneaky_writer,
    "prints megabytes": lambda name: _printing,
    "hard-codes the visible example": _hard_coded,
}


def _has_arrays(name):
    return any(list(_arrays((c.args, c.kwargs))) for c in fw.REGISTRY[name].cases)


@pytest.mark.parametrize("hostile", list(HOSTILE))
@pytest.mark.parametrize("name", NAMES)
def test_hostile_learner(name, hostile):
    ex = fw.REGISTRY[name]
    writes = hostile in ("writes into every argument", "makes inputs writeable and writes")
    if writes and not _has_arrays(name):
        pytest.skip("no array arguments to write into")
    limit = LIMIT if hostile == "while True" else ENDS_BY_ITSELF_LIMIT
    res = fw.check(name, HOSTILE[hostile](name), time_limit=limit)
    assert res.status in (fw.INCORRECT, fw.NOT_ATTEMPTED), res
    assert res.status == fw.INCORRECT
    assert "Traceback" not in res.message
    assert len(res.message) < 3000, len(res.message)
    if hostile == "while True":
        assert f"still running after {LIMIT:g} seconds" in res.message
    if writes:
        assert "modified its input" in res.message
    if hostile in ("SystemExit", "custom BaseException", "GeneratorExit"):
        assert "your function raised" in res.message
    if hostile == "infinite recursion":
        assert "RecursionError" in res.message
    if hostile == "prints megabytes":
        assert "Your function printed" in res.message
    # The checker is still right afterwards: nothing the hostile function did stuck.
    assert fw.check(name, ex.reference), f"the reference fails after {hostile!r}"
    assert not fw.check(name, ex.mistakes[0].fn), f"a known mistake passes after {hostile!r}"


@pytest.mark.parametrize("name", NAMES)
def test_writing_into_each_argument_alone_is_named(name):
    """One array at a time, positional or keyword: the write is caught and the case survives."""
    ex = fw.REGISTRY[name]
    ref = ex.reference
    paths = sorted({p for c in ex.cases for p in _arrays((c.args, c.kwargs))}, key=str)
    if not paths:
        pytest.skip("no array arguments to write into")
    for path in paths:

        def fn(*args, path=path, **kwargs):
            try:
                target = _at((args, kwargs), path)
            except (IndexError, KeyError):
                target = None
            if isinstance(target, np.ndarray):
                target[...] = 1
            return ref(*args, **kwargs)

        res = fw.check(name, fn, time_limit=ENDS_BY_ITSELF_LIMIT)
        assert not res, f"writing into {path} passed"
        assert "modified its input" in res.message
        assert fw.check(name, ref)
        assert not fw.check(name, ex.mistakes[0].fn)


def test_every_exercise_is_covered():
    assert len(NAMES) >= 28
    assert all(fw.REGISTRY[n].mistakes for n in NAMES)
