"""Every course notebook is stored clean and follows the course skeleton (STYLE.md, section Notebooks)."""

import json
import re
from pathlib import Path

import pytest
from _shared import COURSE, NOTEBOOK_METADATA, notebook_number

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))  # 07b sorts after 07
ALL_NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code(nb):
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _markdown(nb):
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_the_course_has_every_notebook_in_order():
    assert [p.stem for p in NOTEBOOKS] == COURSE


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_clean(path):
    nb = _load(path)
    assert nb["nbformat"] == 4, f"{path.name}: nbformat {nb['nbformat']}, expected 4"
    assert nb["metadata"] == NOTEBOOK_METADATA, (
        f"{path.name}: its metadata is not what JupyterLab writes, so the notebook would open as "
        f"modified. Store exactly: {json.dumps(NOTEBOOK_METADATA)}"
    )
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: cell {i} has stored outputs"
            assert cell.get("execution_count") is None, (
                f"{path.name}: cell {i} has an execution count"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_skeleton(path):
    nb = _load(path)
    md = _markdown(nb)
    first = "".join(nb["cells"][0]["source"])
    number = notebook_number(path.stem)
    assert first.startswith(f"# {number} · "), f"{path.name}: title must be '# {number} · ...'"
    assert re.search(r"Study time: about \d+ minutes", md), f"{path.name}: no study-time estimate"
    for heading in ("## Learning goals", "## Recap", "## Exercises"):
        assert heading in md, f"{path.name}: missing the section {heading!r}"
    assert "You will be able to" in md, (
        f"{path.name}: learning goals should say 'You will be able to'"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_randomness_is_seeded(path):
    code = _code(_load(path))
    unseeded = re.findall(r"np\.random\.(?!default_rng\(\s*\w|seed\(\s*\w)\w+", code)
    assert not unseeded, (
        f"{path.name}: use a seeded generator (rng = np.random.default_rng(0)), not {unseeded}"
    )
    assert "default_rng()" not in code, (
        f"{path.name}: default_rng() without a seed is not reproducible"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_public_helpers(path):
    code = _code(_load(path))
    private = re.findall(r"attn_helpers(?:\.\w+)*\._(?!_\w+__\b)\w+", code)
    private += re.findall(r"from attn_helpers[\w.]* import [^\n]*\b_\w+", code)
    assert not private, f"{path.name}: notebooks use only public helpers, found {private}"


def _study_minutes(path):
    md = _markdown(_load(path))
    return int(re.search(r"Study time: about (\d+) minutes", md).group(1))


@pytest.mark.parametrize(
    "map_file",
    [ROOT / "README.md", ROOT / "notebooks" / "00_start_here.ipynb"],
    ids=lambda p: p.name,
)
def test_course_maps_give_each_notebooks_own_study_time(map_file):
    text = map_file.read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        row = re.search(rf"\| {notebook_number(path.stem)} \|[^\n]*?\| (\d+) min", text)
        assert row, f"{map_file.name}: no course-map row for {path.stem}"
        assert int(row.group(1)) == _study_minutes(path), (
            f"{map_file.name} says {row.group(1)} min for {path.stem}, "
            f"the notebook says {_study_minutes(path)}"
        )
