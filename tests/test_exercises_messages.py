"""What the learner reads from the exercises is correct Markdown, and solutions run as pasted.

Hints, diagnoses and the messages a check produces are rendered as Markdown (JupyterLab) and
HTML: code must be in code spans everywhere, so `grad**2` is not bold and `*columns*` shows no
stray asterisks. ``solution(name)`` prints code that, pasted into the exercise's cell, defines the
function under the stub's name and passes its own checker (issue 22, B).
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import attn_helpers.exercises as exercises
from attn_helpers.exercises import _framework as fw

NAMES = fw.list_exercises()
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# Outside code spans, these mark code (or Markdown emphasis) that must be in backticks.
_CODE_OUTSIDE_SPANS = [
    (r"\*", "an asterisk (emphasis or a product)"),
    (r"@", "a matrix product"),
    (r"[A-Za-z]\w*_\w", "an identifier with an underscore"),
    (r"(?<![.\w])(np|math|x|q|k|v|w|scores|weights)\.\w", "an attribute or a function of a module"),
    (r"\w\(", "a call"),
    (r"==|!=|<=|>=|\*\*", "an operator"),
    (r"\w\[", "an index"),
]


def _texts(name):
    ex = fw.REGISTRY[name]
    yield "title", ex.title
    for i, h in enumerate(ex.hints, 1):
        yield f"hint {i}", h
    for m in ex.mistakes:
        yield f"diagnosis {m.name!r}", m.diagnosis
    for c in ex.cases:
        yield "case description", c.description


def _outside_spans(text):
    return re.sub(r"`[^`]*`", "`…`", text)


@pytest.mark.parametrize("name", NAMES)
def test_code_is_in_code_spans(name):
    problems = []
    for where, text in _texts(name):
        assert text.count("`") % 2 == 0, f"{name} {where}: unbalanced backticks: {text}"
        plain = _outside_spans(text)
        for pattern, what in _CODE_OUTSIDE_SPANS:
            found = re.search(pattern, plain)
            if found:
                problems.append(f"{where}: {what} outside a code span near {found.group(0)!r}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", NAMES)
def test_no_literal_asterisks(name):
    for where, text in _texts(name):
        assert "*" not in _outside_spans(text), f"{name} {where}: {text}"


@pytest.mark.parametrize("name", NAMES)
def test_messages_of_wrong_answers_are_markdown_too(name):
    ex = fw.REGISTRY[name]
    for wrong in [*ex.mistakes, *ex.wrong_variants]:
        message = fw.check(name, wrong.fn).verdict
        assert message.count("`") % 2 == 0, message
        assert "*" not in _outside_spans(message), message


def test_adam_hint_renders_grad_squared_as_code():
    md = fw.hint("adam_update", 2)._repr_markdown_()
    assert "`v = beta2 * v + (1 - beta2) * grad**2`" in md
    assert "grad**2" not in _outside_spans(md)


# --------------------------------------------------------------------------- solutions run as pasted


def _notebook_stubs():
    """{exercise name: stub function name} from the notebooks' exercise cells."""
    stubs = {}
    for path in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] != "code" or "NotImplementedError" not in src:
                continue
            for checker, fn in re.findall(r"^(check_\w+)\((\w+)\)", src, flags=re.M):
                if hasattr(exercises, checker):
                    stubs[_exercise_of(getattr(exercises, checker))] = fn
    return stubs


def _exercise_of(checker):
    """The exercise a ``check_...`` function checks: the registered name its code passes on."""
    names = [c for c in checker.__code__.co_consts if isinstance(c, str) and c in fw.REGISTRY]
    assert len(names) == 1, f"{checker.__name__} names {names}"
    return names[0]


STUBS = _notebook_stubs()


def test_every_notebook_exercise_is_found():
    nb_names = {n for n in NAMES if fw.REGISTRY[n].notebook[:2].isdigit()}
    assert set(STUBS) == nb_names


@pytest.mark.parametrize("name", sorted(STUBS))
def test_the_solution_is_named_as_the_notebooks_stub(name):
    assert fw.REGISTRY[name].stub_name == STUBS[name]
    assert f"def {STUBS[name]}(" in fw.solution_code(name)


@pytest.mark.parametrize("name", NAMES)
def test_the_printed_solution_runs_as_pasted_and_passes(name):
    code = fw.solution_code(name)
    assert "_solution" not in code, code
    assert not re.search(r"(?<![\w.])_[a-z]\w*\(", code), f"a private helper in:\n{code}"
    assert "\n    )  #" not in code, f"formatter artefact in:\n{code}"
    assert "return (\n" not in code, f"formatter artefact in:\n{code}"
    namespace = {"np": np}  # what every notebook has; anything else must be in the code
    exec(compile(code, f"<solution {name}>", "exec"), namespace)  # noqa: S102
    fn = namespace[fw.REGISTRY[name].stub_name]
    assert fw.check(name, fn), f"the printed solution of {name} fails its own checker"
