"""Every course notebook opens in JupyterLab *unmodified*.

JupyterLab rewrites a notebook's ``kernelspec`` and ``language_info`` when its kernel starts. If the
stored metadata differs from what it writes, the notebook opens marked as modified, autosave
rewrites the learner's copy, and tools such as nbgitpuller then see a local change in every
notebook. The notebooks therefore store exactly what JupyterLab writes (tests/test_notebook_hygiene.py
checks the text). One field cannot match every machine: ``language_info.version`` is the kernel's
Python version. So: where the kernel runs the stored version (CI's Python), a notebook must open
clean; elsewhere that one field is the only difference allowed.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def _wait_until(condition, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def _shut_down_kernels(lab) -> None:
    for kernel in lab.api("kernels"):
        req = urllib.request.Request(
            f"{lab.url}/api/kernels/{kernel['id']}?token={lab.token}", method="DELETE"
        )
        urllib.request.urlopen(req, timeout=10).close()


def test_every_notebook_opens_unmodified(chromium, jupyter_lab, tmp_path):
    assert len(NOTEBOOKS) >= 10, NOTEBOOKS
    for nb in NOTEBOOKS:
        shutil.copy(nb, jupyter_lab.root / nb.name)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems = []
    try:
        for i, nb in enumerate(NOTEBOOKS):
            stored = json.loads(nb.read_text())["metadata"]
            page.goto(jupyter_lab.notebook_url(nb.name, f"clean-{i}-{tmp_path.name}"))
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            _wait_until(lambda idle=idle: idle.count() > 0, 90, f"the kernel of {nb.name}")
            time.sleep(4)  # the metadata update follows the kernel's kernel_info reply
            tab = page.locator(".lm-TabBar-tab.jp-mod-current")
            if "jp-mod-dirty" in (tab.get_attribute("class") or ""):
                page.keyboard.press("Control+s")
                _wait_until(
                    lambda tab=tab: "jp-mod-dirty" not in (tab.get_attribute("class") or ""),
                    30,
                    f"{nb.name} to be saved",
                )
                written = json.loads((jupyter_lab.root / nb.name).read_text())["metadata"]
                expected = json.loads(json.dumps(stored))
                expected["language_info"]["version"] = platform.python_version()
                if written != expected or stored["language_info"]["version"] == (
                    platform.python_version()
                ):
                    problems.append(f"{nb.name}: stored {stored}, JupyterLab wrote {written}")
            _shut_down_kernels(jupyter_lab)
    finally:
        context.close()
    assert not problems, "notebooks that open modified:\n" + "\n".join(problems)
