"""Fixtures for the real-browser test: the project's own JupyterLab and headless Chromium.

- ``chromium``: Debian's ``/usr/bin/chromium`` driven by Python ``playwright`` (Playwright's own
  browser download is not used). Missing browser or playwright: the test is skipped with the
  reason, unless ``REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns that into a failure.
- ``jupyter_lab``: a JupyterLab server from this environment, on 127.0.0.1, a random free port
  and a random token, serving a temporary directory. Settings and workspaces live in that
  directory too, with autosave off, so the test never rewrites a notebook and never sees the
  tabs of an earlier session. The server is stopped at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 60  # seconds

#: JupyterLab settings for the test: no autosave, no news or update checks (no network), and
#: start the notebook's kernel without the "Select Kernel" dialog.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _missing(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(f"{reason} (install Debian's chromium to run the browser test)")


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium browser (Playwright ``Browser``), or skip/fail with the reason."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if path is None:
        _missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_FLAGS, timeout=30_000
        )
    except Exception as err:
        manager.stop()
        _missing(f"Chromium at {path} did not start: {err}")
    try:
        yield browser
    finally:
        browser.close()
        manager.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab: its base URL, token and served directory."""

    def __init__(self, url: str, token: str, root: Path, log: Path):
        self.url, self.token, self.root, self.log = url, token, root, log

    def api(self, path: str):
        with urllib.request.urlopen(f"{self.url}/api/{path}?token={self.token}", timeout=5) as r:
            return json.loads(r.read())

    def kernel_count(self) -> int:
        return len(self.api("kernels"))

    def wait_for_one_idle_kernel(self, timeout_s: float, settle_s: float = 2.0) -> None:
        """Wait until one kernel has been idle, with the same id, for ``settle_s`` seconds.

        JupyterLab may start a kernel and replace it right away while a notebook opens; cells
        run in the first one are lost, so the test waits for things to settle.
        """
        deadline, stable_since, last = time.monotonic() + timeout_s, None, None
        while time.monotonic() < deadline:
            try:
                state = [(k["id"], k["execution_state"]) for k in self.api("kernels")]
            except (urllib.error.URLError, OSError):  # jupyter_server can 500 while a kernel starts
                state = None
            if state and len(state) == 1 and state[0][1] == "idle" and state == last:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since >= settle_s:
                    return
            else:
                stable_since = None
            last = state
            time.sleep(0.25)
        raise AssertionError(f"the kernels did not settle within {timeout_s} s: {last}")

    def notebook_url(self, notebook: str, workspace: str) -> str:
        """A fresh workspace per test: JupyterLab would otherwise reopen the last tabs."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"


@pytest.fixture
def jupyter_lab(tmp_path):
    """Start JupyterLab on 127.0.0.1 (random port and token) serving ``tmp_path / "lab"``."""
    root = tmp_path / "lab"
    settings = tmp_path / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    for d in (root, tmp_path / "workspaces", tmp_path / "config", tmp_path / "runtime"):
        d.mkdir(parents=True, exist_ok=True)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        "--LabApp.news_url=",
        "--ServerApp.open_browser=False",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel should see what a learner's kernel sees
    env.pop("ATTN_HELPERS_WIDGETS", None)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "jupyterlab.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.25)
        yield Lab(url, token, root, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
