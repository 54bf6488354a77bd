"""Links and exercise coverage across the README, docs/ and the notebooks.

- every relative link in README.md, docs/*.md and the notebooks' markdown cells points to a file
  that exists, without an anchor (anchors into notebooks break between renderers); in-page links
  (``#section``) point to a heading of the same document;
- every course notebook exists and links to the previous and the next one;
- every exercise a notebook uses (``check_xxx(...)`` imported from ``attn_helpers.exercises``, and
  ``hint("name")`` / ``solution("name")``) has a registered checker with hints and a solution;
- every registered exercise is checked in some notebook, the one it declares.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest
from _shared import COURSE, notebook_number

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DOCS = ROOT / "docs"

# The course, in order. Each notebook links to its neighbours in this list.

# Files whose links are checked: the README, the docs and every notebook (solutions included).
MARKDOWN_FILES = sorted(p for p in [ROOT / "README.md", *DOCS.glob("*.md")] if p.is_file())
NOTEBOOK_FILES = sorted(
    p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)

EXERCISES_MODULE = "attn_helpers.exercises"


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


# --------------------------------------------------------------------------- reading files


@cache
def _cells(path: Path) -> tuple[tuple[str, str], ...]:
    """(cell_type, source) of every cell of a notebook, read as plain JSON."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        out.append((cell.get("cell_type", ""), "".join(src) if isinstance(src, list) else src))
    return tuple(out)


def _markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        return "\n\n".join(src for kind, src in _cells(path) if kind == "markdown")
    return path.read_text(encoding="utf-8")


def _code_of(path: Path) -> list[str]:
    return [src for kind, src in _cells(path) if kind == "code"]


# --------------------------------------------------------------------------- links

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), target optionally in <...> and followed by a "title".
_MD_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+[\"'(][^)]*)?\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
_HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _links(text: str) -> list[str]:
    """Every link target in a markdown text, code blocks and inline code excluded."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", text))
    found = [m.group(1) for m in _MD_LINK.finditer(text)]
    found += [m.group(1) for m in _REF_DEF.finditer(text)]
    found += [m.group(1) for m in _HTML_LINK.finditer(text)]
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in found]


def _is_relative(target: str) -> bool:
    return not (_SCHEME.match(target) or target.startswith("//"))


def _anchors(text: str) -> set[str]:
    """Anchor ids of the headings in ``text``: GitHub's slugs and JupyterLab's ids."""
    ids = set()
    for m in _HEADING.finditer(_FENCE.sub("", text)):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # [text](url) -> text
        heading = heading.replace("`", "").strip()
        plain = re.sub(r"[*_]", "", heading)
        ids.add(re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-"))  # GitHub
        ids.add(heading.replace(" ", "-"))  # JupyterLab keeps case and punctuation
    ids |= set(re.findall(r"""<a\s+(?:name|id)\s*=\s*["']([^"']+)["']""", text, re.I))
    return ids


def _link_problems(path: Path) -> list[str]:
    text = _markdown_of(path)
    problems = []
    for target in _links(text):
        if not target or not _is_relative(target):
            continue
        if target.startswith("#"):
            if unquote(target[1:]) not in _anchors(text):
                problems.append(f"{target!r}: no heading with this anchor in the same document")
            continue
        if "#" in target or "?" in target:
            problems.append(
                f"{target!r}: link to the file itself, without an anchor or query "
                "(anchors into other files break between GitHub, JupyterLab and nbviewer)"
            )
            target = re.split(r"[#?]", target, maxsplit=1)[0]
        if target.startswith("/"):
            problems.append(f"{target!r}: use a relative link, not an absolute path")
            continue
        resolved = (path.parent / unquote(target)).resolve()
        if not resolved.exists():
            problems.append(f"{target!r}: {_rel(path.parent)}/{unquote(target)} does not exist")
    return problems


@pytest.mark.parametrize("path", MARKDOWN_FILES + NOTEBOOK_FILES, ids=_rel)
def test_relative_links_resolve(path):
    problems = _link_problems(path)
    assert not problems, f"broken links in {_rel(path)}:\n  " + "\n  ".join(problems)


def test_link_checker_can_fail(tmp_path):
    doc = tmp_path / "doc.md"
    (tmp_path / "there.md").write_text("# There\n")
    doc.write_text(
        "# Title\n\n## A section\n"
        "[ok](there.md) [web](https://example.org/x.md) [in page](#a-section) `[code](gone.md)`\n"
        "[missing](gone.md) [anchor](there.md#there) [bad anchor](#nowhere)\n"
        "```\n[fenced](also-gone.md)\n```\n"
    )
    problems = _link_problems(doc)
    assert len(problems) == 3, problems
    assert "gone.md" in problems[0]
    assert "anchor" in problems[1]
    assert "#nowhere" in problems[2]


def test_readme_exists():
    assert (ROOT / "README.md").is_file(), (
        "README.md is missing (pyproject.toml names it as the readme)"
    )


# --------------------------------------------------------------------------- the course sequence


@pytest.mark.parametrize("stem", COURSE)
def test_course_notebook_exists(stem):
    assert (NOTEBOOKS / f"{stem}.ipynb").is_file(), f"notebooks/{stem}.ipynb is missing"


def _linked_files(path: Path) -> set[Path]:
    out = set()
    for target in _links(_markdown_of(path)):
        if target and _is_relative(target) and not target.startswith("#"):
            out.add((path.parent / unquote(re.split(r"[#?]", target, maxsplit=1)[0])).resolve())
    return out


@pytest.mark.parametrize("index", range(len(COURSE)), ids=COURSE)
def test_notebook_links_to_previous_and_next(index):
    path = NOTEBOOKS / f"{COURSE[index]}.ipynb"
    if not path.is_file():
        pytest.fail(f"notebooks/{COURSE[index]}.ipynb is missing")
    linked = _linked_files(path)
    missing = []
    if index > 0 and (NOTEBOOKS / f"{COURSE[index - 1]}.ipynb").resolve() not in linked:
        missing.append(f"the previous notebook ({COURSE[index - 1]}.ipynb)")
    if (
        index + 1 < len(COURSE)
        and (NOTEBOOKS / f"{COURSE[index + 1]}.ipynb").resolve() not in linked
    ):
        missing.append(f"the next notebook ({COURSE[index + 1]}.ipynb)")
    assert not missing, f"{_rel(path)} has no markdown link to " + " or ".join(missing)


# --------------------------------------------------------------------------- exercises in notebooks

_MAGIC = re.compile(r"^\s*[%!]")


def _parse(source: str) -> ast.Module | None:
    code = "\n".join("pass" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def _exercise_uses(sources: list[str]) -> tuple[set[str], set[str]]:
    """(checker functions called, exercise names passed to hint/solution/check) in notebook code.

    A ``check_xxx(...)`` call counts as an exercise when ``check_xxx`` is imported from
    ``attn_helpers.exercises`` (by name or ``*``) or called as an attribute of that module; names
    defined in the notebook or imported from elsewhere (``check_shape`` from ``attn_helpers``) do not.
    """
    trees = [t for t in (_parse(s) for s in sources) if t is not None]
    from_exercises, star, other, module_aliases = set(), False, set(), set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    name = alias.asname or alias.name
                    if node.module.startswith(EXERCISES_MODULE):
                        if alias.name == "*":
                            star = True
                        else:
                            from_exercises.add(alias.name if alias.asname is None else name)
                    elif f"{node.module}.{alias.name}" == EXERCISES_MODULE:
                        module_aliases.add(name)
                    else:
                        other.add(name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == EXERCISES_MODULE and alias.asname:
                        module_aliases.add(alias.asname)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                other.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                other.add(node.id)
    checkers, names = set(), set()
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name):
                fname = func.id
                is_exercise_api = fname in from_exercises or (star and fname not in other)
            elif isinstance(func, ast.Attribute):
                fname = func.attr
                is_exercise_api = ast.unparse(func.value) in module_aliases | {EXERCISES_MODULE}
            else:
                continue
            if not is_exercise_api:
                continue
            if fname in {"hint", "solution", "reference_solution", "check"}:
                if (
                    node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    names.add(node.args[0].value)
            elif fname.startswith("check_"):
                checkers.add(fname)
    return checkers, names


def test_exercise_use_parser():
    checkers, names = _exercise_uses(
        [
            "%matplotlib inline\nfrom attn_helpers import check_shape\n"
            "from attn_helpers.exercises import check_softmax, hint\nimport attn_helpers.exercises as ex",
            "def check_mine(x):\n    return x\ncheck_shape(w, (3, 3))\ncheck_mine(1)\n"
            "check_softmax(softmax)\nex.check_attention(attention)\nhint('softmax')\nprint(check_other)",
        ]
    )
    assert checkers == {"check_softmax", "check_attention"}
    assert names == {"softmax"}


_PROSE_NAME = re.compile(r"""\b(?:hint|solution|reference_solution)\(\s*["'](\w+)["']""")


@cache
def _exercises():
    """The exercises package and a map from each public checker function to its exercise name."""
    import attn_helpers.exercises as exercises

    registry = set(exercises.list_exercises())
    checker_to_name = {}
    for fname in getattr(exercises, "__all__", dir(exercises)):
        fn = getattr(exercises, fname, None)
        if not fname.startswith("check_") or not callable(fn):
            continue

        def stub(*args, **kwargs):
            raise NotImplementedError

        try:
            result = fn(stub)  # every checker reports which exercise it checks, even for a stub
            name = getattr(result, "name", None)
        except Exception:  # noqa: BLE001 - a checker with another signature: fall back on its name
            name = None
        checker_to_name[fname] = name if name in registry else fname.removeprefix("check_")
    return exercises, checker_to_name


def _uses_by_notebook() -> dict[str, tuple[set[str], set[str]]]:
    return {p.stem: _exercise_uses(_code_of(p)) for p in NOTEBOOK_FILES if p.stem in COURSE}


def _solution_text(exercises, name: str) -> str:
    return str(exercises.solution(name))


@pytest.mark.parametrize("path", [p for p in NOTEBOOK_FILES if p.stem in COURSE], ids=_rel)
def test_exercises_in_notebook_have_checker_hints_and_solution(path):
    exercises, checker_to_name = _exercises()
    registry = set(exercises.list_exercises())
    checkers, names = _exercise_uses(_code_of(path))
    # Learners copy `hint("name")` / `solution("name")` from the prose too: those names must exist.
    names |= set(_PROSE_NAME.findall(_markdown_of(path))) - {"name"}  # `hint("name")` is generic
    problems = []
    for fname in sorted(checkers):
        if fname not in checker_to_name:
            problems.append(f"{fname}(...) is called but attn_helpers.exercises exports no {fname}")
        elif checker_to_name[fname] not in registry:
            problems.append(
                f"{fname}(...) checks {checker_to_name[fname]!r}, which is not registered"
            )
        else:
            names.add(checker_to_name[fname])
    for name in sorted(names):
        if name not in registry:
            if not any(name in p for p in problems):
                problems.append(f"exercise {name!r} is named but not registered")
            continue
        if not list(str(exercises.hint(name)).strip().splitlines()) or "No hints" in str(
            exercises.hint(name)
        ):
            problems.append(f"exercise {name!r} has no hints")
        source = _solution_text(exercises, name)
        if not source.strip() or "is not available" in source:
            problems.append(f"exercise {name!r} has no worked solution")
    assert not problems, f"{_rel(path)}:\n  " + "\n  ".join(problems)


def test_every_registered_exercise_is_used_in_its_notebook():
    exercises, checker_to_name = _exercises()
    uses = _uses_by_notebook()
    used_in: dict[str, set[str]] = {}
    for stem, (checkers, _names) in uses.items():
        for fname in checkers:
            used_in.setdefault(checker_to_name.get(fname, fname.removeprefix("check_")), set()).add(
                stem
            )
    from attn_helpers.exercises import _framework

    problems = []
    for name in exercises.list_exercises():
        declared = _framework.REGISTRY[name].notebook
        checker = [f for f, n in checker_to_name.items() if n == name]
        where = used_in.get(name, set())
        if declared not in COURSE:
            problems.append(f"{name!r} declares notebook {declared!r}, which is not in the course")
        elif not checker:
            problems.append(f"{name!r} has no public check_... function in attn_helpers.exercises")
        elif not where:
            problems.append(
                f"{name!r} ({checker[0]}) is not called in any notebook (declared: {declared})"
            )
        elif declared not in where:
            problems.append(
                f"{name!r} is called in {sorted(where)} but declares notebook {declared!r}"
            )
    assert not problems, "registered exercises not used where they belong:\n  " + "\n  ".join(
        problems
    )


# --------------------------------------------------------------------------- glossary and guide

GLOSSARY_TERMS = [
    "query", "key", "value", "score", "weight", "head", "head_dim", "mask", "padding", "causal",
    "context window", "positional encoding", "cross-attention", "KV cache", "softmax",
    "temperature", "attention sink", "FlashAttention",
]  # fmt: skip


def _glossary_entries() -> dict[str, str]:
    """Term -> its entry's text: entries are ``### Term`` headings or ``**Term**`` list items."""
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    entries = {}
    for block in re.split(r"(?m)^(?=###\s)", text):
        m = re.match(r"###\s+(.+)", block)
        if m:
            entries[m.group(1).strip()] = block
    return entries


def test_glossary_covers_the_terms_and_links_each_to_a_notebook():
    entries = _glossary_entries()
    titles = {t.lower(): t for t in entries}
    problems = []
    for term in GLOSSARY_TERMS:
        pattern = re.compile(rf"{re.escape(term.lower())}(s|es)?\b")
        match = next((t for low, t in titles.items() if pattern.match(low)), None)
        if match is None:
            problems.append(f"no entry for {term!r}")
    for title, block in entries.items():
        links = [t for t in _links(block) if _is_relative(t) and t.endswith(".ipynb")]
        if not links:
            problems.append(f"entry {title!r} links to no notebook")
    assert not problems, "docs/glossary.md:\n  " + "\n  ".join(problems)


def test_teaching_guide_names_every_course_notebook_and_explorer():
    text = (DOCS / "teaching.md").read_text(encoding="utf-8")
    missing = [s for s in COURSE if f"{s}.ipynb" not in text]
    explorers = [
        "make_softmax_explorer", "make_scaling_explorer", "make_qkv_explorer", "make_sentence_explorer",
        "make_heads_explorer", "make_mask_explorer", "make_position_explorer", "make_decoding_explorer",
    ]  # fmt: skip
    missing += [e for e in explorers if e not in text]
    assert not missing, f"docs/teaching.md does not mention: {missing}"


def test_solutions_notebook_enumerates_exercises_instead_of_hard_coding_them():
    path = NOTEBOOKS / "solutions" / "solutions.ipynb"
    code = "\n".join(_code_of(path))
    assert "list_exercises(" in code
    assert "reference_solution(" in code
    exercises, _ = _exercises()
    hard_coded = [n for n in exercises.list_exercises() if f'"{n}"' in code or f"'{n}'" in code]
    assert not hard_coded, f"the solutions notebook hard-codes exercise names: {hard_coded}"


def test_teaching_guide_lists_every_registered_exercise():
    """The guide's exercise table is what instructors prepare from: it must not fall behind."""
    text = (DOCS / "teaching.md").read_text(encoding="utf-8")
    exercises, _ = _exercises()
    missing = [name for name in exercises.list_exercises() if f"| `{name}` |" not in text]
    assert not missing, (
        f"docs/teaching.md's exercise table has no row for {missing}; add one per exercise "
        "(notebook, name, title, the mistakes its checker recognises)"
    )


def test_teaching_guide_study_times_match_the_notebooks():
    """The guide's course table repeats each notebook's own study-time estimate: keep them equal."""
    text = (DOCS / "teaching.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d\d[a-z]?) \| .*?\| (\d+) min \|\s*$", text, re.M))
    problems = []
    for stem in COURSE:
        path = NOTEBOOKS / f"{stem}.ipynb"
        if not path.is_file():
            continue  # reported by test_course_notebook_exists
        m = re.search(r"Study time: about (\d+) minutes", _markdown_of(path))
        if m is None:
            problems.append(f"{stem}.ipynb states no study time")
        elif rows.get(notebook_number(stem)) != m.group(1):
            problems.append(
                f"{stem}: the notebook says {m.group(1)} min, docs/teaching.md says "
                f"{rows.get(notebook_number(stem))}"
            )
    assert not problems, "\n  ".join(["study times disagree:", *problems])
