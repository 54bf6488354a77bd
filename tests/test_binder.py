"""Binder, checked two ways (the static checks of binder/ are in tests/test_repo_config.py).

1. ``repo2docker --no-build --debug .`` (PyPI: jupyter-repo2docker) accepts the configuration and
   prints the Dockerfile Binder would build, without Docker. Skipped if repo2docker is missing.
2. CI only (``CI=true``): a simulated Binder build. A fresh venv, the exact steps repo2docker runs
   for this repository (``pip install --no-cache-dir -r binder/requirements.txt`` from the
   repository root, then ``binder/postBuild``) in a copy of the committed files, then the first
   notebook executed with ``jupyter nbconvert --execute`` from that venv. It prints the timings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"


def _repo2docker() -> str | None:
    found = shutil.which("repo2docker")
    if found:
        return found
    beside = Path(sys.executable).parent / "repo2docker"
    return str(beside) if beside.exists() else None


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points into the test venv or changes plotting."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MPLBACKEND", "PIP_REQUIRE_VIRTUALENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


@pytest.mark.skipif(
    _repo2docker() is None,
    reason="repo2docker is not installed (pip install jupyter-repo2docker==2026.4.0 to run this check)",
)
def test_repo2docker_accepts_the_binder_config():
    res = subprocess.run(
        [_repo2docker(), "--no-build", "--debug", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=180,
        env=_clean_env(),
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "FROM " in out, "no Dockerfile printed"
    # binder/ wins over top-level files: its requirements are installed, then postBuild runs.
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in out, out[-3000:]
    assert "binder/postBuild" in out
    assert out.index("binder/requirements.txt") < out.index("./binder/postBuild"), (
        "requirements must be installed before postBuild runs"
    )
    assert "python=3.12" in out, "binder/runtime.txt (python-3.12) was not picked up"


def _committed_files() -> list[str]:
    res = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [p for p in res.stdout.split("\0") if p]


def _run(cmd, *, cwd, env, timeout, what):
    start = time.monotonic()
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    assert res.returncode == 0, (
        f"{what} failed after {seconds:.0f} s:\n{(res.stdout + res.stderr)[-4000:]}"
    )
    return seconds


def _dir_size_mb(path: Path) -> float:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    )


@pytest.mark.ci_only
@pytest.mark.slow
@pytest.mark.timeout(3000)
@pytest.mark.skipif(
    os.environ.get("CI") != "true",
    reason="CI only (set CI=true): a full Binder-like install takes minutes",
)
def test_binder_build_simulation_runs_the_first_notebook(tmp_path, capsys):
    if not (ROOT / FIRST_NOTEBOOK).exists():
        pytest.skip(f"{FIRST_NOTEBOOK} does not exist yet")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files Binder would see")

    # The repository as Binder sees it: the committed files only (no .venv, no caches).
    repo = tmp_path / "repo"
    for rel in _committed_files():
        src = ROOT / rel
        if src.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)  # copy2 keeps postBuild's executable bit
    venv = tmp_path / "venv"
    bin_dir = venv / "bin"
    env = _clean_env(
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONNOUSERSITE="1",  # nothing from ~/.local leaks in
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        JUPYTER_PLATFORM_DIRS="1",
    )

    timings = {}
    timings["venv"] = _run(
        [sys.executable, "-m", "venv", str(venv)], cwd=repo, env=env, timeout=300, what="venv"
    )
    # Exactly what repo2docker's Dockerfile runs (see test_repo2docker_accepts_the_binder_config).
    timings["pip install -r binder/requirements.txt"] = _run(
        [str(bin_dir / "pip"), "install", "--no-cache-dir", "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
        timeout=1800,
        what="pip install -r binder/requirements.txt",
    )
    os.chmod(repo / "binder/postBuild", 0o755)  # repo2docker: RUN chmod +x binder/postBuild
    timings["binder/postBuild"] = _run(
        ["./binder/postBuild"], cwd=repo, env=env, timeout=900, what="binder/postBuild"
    )
    executed = tmp_path / "executed.ipynb"
    timings["nbconvert --execute " + FIRST_NOTEBOOK] = _run(
        [
            str(bin_dir / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
            "--ExecutePreprocessor.timeout=300", "--ExecutePreprocessor.kernel_name=python3",
            "--output-dir", str(tmp_path), "--output", executed.name, FIRST_NOTEBOOK,
        ],
        cwd=repo, env=env, timeout=600, what="executing " + FIRST_NOTEBOOK,
    )  # fmt: skip

    # The package imported in the notebook is the copy installed by postBuild, not this checkout.
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import attn_helpers; print(attn_helpers.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(repo)), where
    assert executed.exists()
    # postBuild installed the course's JupyterLab defaults (no news or update checks).
    assert (venv / "share/jupyter/lab/settings/overrides.json").exists()
    text = executed.read_text()
    assert '"output_type": "error"' not in text, "the executed notebook has an error output"

    with capsys.disabled():
        print("\nSimulated Binder build:")
        for step, seconds in timings.items():
            print(f"  {seconds:7.1f} s  {step}")
        print(f"  venv size: {_dir_size_mb(venv):.0f} MB")
