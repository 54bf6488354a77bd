"""The softmax explorer in a real JupyterLab, driven by headless Chromium.

Opens ``softmax_explorer.ipynb`` (a copy in the test's tmp dir), runs all cells, waits for an
idle kernel and for ipympl's canvas to show its first frame, moves the first slider with the
keyboard, and checks that the canvas pixels change and that the browser console has no errors.
Screenshots (whole page and canvas, before and after) are saved in the test's tmp dir.
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

NOTEBOOK = Path(__file__).with_name("softmax_explorer.ipynb")
STEP_TIMEOUT_MS = 30_000  # any single wait; the whole test is capped by pytest-timeout below

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def _png_array(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _wait_until(condition, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def test_softmax_explorer_reacts_to_the_keyboard(chromium, jupyter_lab, tmp_path):
    shutil.copy(NOTEBOOK, jupyter_lab.root / NOTEBOOK.name)
    original = (jupyter_lab.root / NOTEBOOK.name).read_bytes()
    shots = tmp_path / "screenshots"
    shots.mkdir()

    context = chromium.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    console_errors = []
    page.on(
        "console",
        lambda msg: (
            console_errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda err: console_errors.append(f"page error: {err}"))
    try:
        page.goto(jupyter_lab.notebook_url(NOTEBOOK.name, f"test-{tmp_path.name}"))
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        _wait_until(lambda: idle.count() > 0 or None, 60, "the kernel to start")
        jupyter_lab.wait_for_one_idle_kernel(timeout_s=30)

        dialog = page.locator(".jp-Dialog")
        if dialog.count():  # a kernel dialog despite the settings: accept the preferred kernel
            page.screenshot(path=shots / "dialog.png")
            dialog.locator(".jp-mod-accept").click()

        # Run all cells from the menu, as a learner would. The notebook must be the current
        # widget (click into it first), else the menu item is disabled.
        page.locator(".jp-Notebook .jp-Cell").first.click()
        run_all = page.locator(".lm-Menu-item").filter(
            has=page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True)
        )
        page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
        run_all.wait_for()
        assert run_all.get_attribute("aria-disabled") != "true", "Run All Cells is disabled"
        run_all.click()
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt")

        def all_ran():
            texts = [t.strip() for t in prompts.all_inner_texts()]
            return len(texts) == 2 and all(t[1:-2].isdigit() for t in texts)

        _wait_until(all_ran, 60, "every code cell to run")
        assert jupyter_lab.kernel_count() == 1
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
        errors_in_cells = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
        assert errors_in_cells.count() == 0, errors_in_cells.all_inner_texts()
        assert "ipympl canvas:" in page.locator(".jp-OutputArea-output").first.inner_text()

        # ipympl's canvas is 0x0 until its first frame: wait for a real, non-blank picture.
        canvas = page.locator(".jupyter-matplotlib-canvas-div canvas").first
        canvas.wait_for()
        canvas.scroll_into_view_if_needed()

        def drawn():
            box = canvas.bounding_box()
            if not box or box["width"] < 100 or box["height"] < 100:
                return None
            shot = _png_array(canvas.screenshot())
            return shot if np.ptp(shot) > 100 else None  # more than a blank canvas

        before = _wait_until(drawn, 30, "the first frame of the ipympl canvas")
        page.screenshot(path=shots / "page_before.png", full_page=True)
        Image.fromarray(before.astype(np.uint8)).save(shots / "canvas_before.png")
        readout_before = page.locator(".widget-html-content", has_text="entropy").inner_text()

        # Move the first slider ("trophy") down with the keyboard: 10 steps of 0.1.
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.focus()
        for _ in range(10):
            page.keyboard.press("ArrowLeft")

        slider_readout = page.locator(".widget-slider .widget-readout").first
        _wait_until(
            lambda: slider_readout.inner_text().strip() == "1.0" or None,
            20,
            "the slider to reach 1.0",
        )
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
        last = {"shot": None}

        def settled_and_changed():  # two equal screenshots in a row, different from before
            shot = _png_array(canvas.screenshot())
            same = last["shot"] is not None and np.array_equal(shot, last["shot"])
            last["shot"] = shot
            changed = int((np.abs(shot - before).max(axis=-1) > 30).sum())
            return (shot, changed) if same and changed > 200 else None

        after, changed_pixels = _wait_until(
            settled_and_changed, 20, "the canvas to show the new weights", interval_s=0.5
        )
        page.screenshot(path=shots / "page_after.png", full_page=True)
        Image.fromarray(after.astype(np.uint8)).save(shots / "canvas_after.png")
        readout_after = page.locator(".widget-html-content", has_text="entropy").inner_text()
        assert readout_after != readout_before
        assert "trophy 0.61" in readout_before
        assert "trophy 0.61" not in readout_after
        print(f"{changed_pixels} canvas pixels changed; screenshots in {shots}")
        assert console_errors == [], "\n".join(console_errors)
    finally:
        page.screenshot(path=shots / "page_last.png", full_page=True)  # also when a step failed
        context.close()
    # the notebook on disk was never rewritten (autosave is off)
    assert (jupyter_lab.root / NOTEBOOK.name).read_bytes() == original
