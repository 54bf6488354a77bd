"""Drive the static JupyterLite site (``make lite``) in headless Chromium: shared by the browser test
(``tests/browser/test_lite.py``) and ``make bench``'s ``lite`` entry (``benchmarks/bench_lite.py``).

- :func:`build_site`: ``make lite`` (cached downloads, every file hash-checked), timed.
- :class:`StaticServer`: the built folder on 127.0.0.1 (a free port), in a thread, like any static
  web server would serve it.
- :class:`LitePage`: one notebook opened in a fresh page of a browser context; every request the
  page or its kernel's worker makes is recorded, so that a test can assert none left 127.0.0.1.
  ``run_all()`` runs every cell in the Pyodide kernel and returns each cell's error outputs.

The page's JupyterLab is reached through ``window.jupyterapp``, which JupyterLite exposes when the
page option ``exposeAppInBrowser`` is true: the driver adds that option to each ``jupyter-lite.json``
the page reads (the built site itself is not changed).
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_site"
NOTEBOOKS = ROOT / "notebooks"


def build_site(output: Path = SITE) -> float:
    """Run ``make lite`` (its own venv, cached downloads); return the seconds it took."""
    t0 = time.perf_counter()
    subprocess.run(
        ["make", "--no-print-directory", "lite", f"LITE_OUTPUT={output}"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return time.perf_counter() - t0


def site_bytes(site: Path = SITE) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".json": "application/json",
        ".whl": "application/octet-stream",
    }

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def copyfile(self, source, outputfile):
        self.server.bytes_sent += os.fstat(source.fileno()).st_size
        super().copyfile(source, outputfile)


class StaticServer:
    """Serve a folder on 127.0.0.1 from a thread; ``url`` is its root; ``bytes_sent`` counts the
    file bytes served. A context manager."""

    def __init__(self, folder: Path = SITE):
        handler = functools.partial(_Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.bytes_sent = 0  # file bytes served (what the browsers downloaded)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def bytes_sent(self) -> int:
        return self.httpd.bytes_sent

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def local_only(url: str) -> bool:
    """True for the requests a static site may make: 127.0.0.1, or data:/blob: URLs of the page."""
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme in ("data", "blob") or parsed.hostname == "127.0.0.1"


#: Adds ``exposeAppInBrowser`` to each jupyter-lite.json the page reads (config-utils.js reads them
#: with window.fetch; a route would miss the copies JupyterLite's service worker serves).
_EXPOSE_APP = """(() => {
  const fetch = window.fetch.bind(window);
  window.fetch = async (resource, init) => {
    const response = await fetch(resource, init);
    const url = typeof resource === 'string' ? resource : resource.url;
    if (!String(url).split('?')[0].endsWith('jupyter-lite.json') || !response.ok) return response;
    const config = await response.clone().json();
    config['jupyter-config-data'] = config['jupyter-config-data'] || {};
    config['jupyter-config-data'].exposeAppInBrowser = 'true';
    return new Response(JSON.stringify(config), {status: 200, headers: response.headers});
  };
})();"""

_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  await app.commands.execute('notebook:run-all-cells');
}"""

_CELLS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    out.push({index: i, count: c.executionCount, outputs: c.outputs.toJSON()});
  }
  return {status: panel.sessionContext.session?.kernel?.status ?? 'none', cells: out};
}"""


class LitePage:
    """One notebook of the site open in a new page of ``context`` (Playwright)."""

    def __init__(self, context, server_url: str, notebook: str, timeout_ms: int = 120_000):
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page = page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.add_init_script(_EXPOSE_APP)
        self.t_open = time.perf_counter()
        page.goto(f"{server_url}/lab/index.html?path={urllib.parse.quote(notebook)}")
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext",
            timeout=timeout_ms,
        )
        page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status"
            " === 'idle'",
            timeout=timeout_ms,
            polling=200,
        )
        self.t_kernel_idle = time.perf_counter()

    def cells(self) -> dict:
        return self.page.evaluate(_CELLS)

    def run_all(self, timeout_s: float) -> dict:
        """Run every cell; return {"seconds", "cells", "errors", "unexecuted"}.

        ``errors``: (cell index, ename, evalue) of every error output; ``unexecuted``: the code
        cells without an execution count (JupyterLab stops at a cell that raised).
        """
        t0 = time.perf_counter()
        self.page.evaluate(_RUN_ALL)
        deadline = t0 + timeout_s
        while True:  # the command resolves when the last cell finished; make sure of it
            state = self.cells()
            pending = [c for c in state["cells"] if c["count"] is None]
            errors = [
                (c["index"], o.get("ename"), o.get("evalue"))
                for c in state["cells"]
                for o in c["outputs"]
                if o.get("output_type") == "error"
            ]
            if state["status"] == "idle" and (not pending or errors):
                break
            if time.perf_counter() > deadline:
                break
            time.sleep(0.5)
        return {
            "seconds": time.perf_counter() - t0,
            "cells": state["cells"],
            "errors": errors,
            "unexecuted": [c["index"] for c in pending],
            "status": state["status"],
        }

    def first_cell_seconds(self, timeout_s: float = 120) -> float:
        """Seconds from opening the page to the first code cell's result (run with the kernel up)."""
        self.page.evaluate(
            """async () => {
              const app = window.jupyterapp;
              const panel = app.shell.currentWidget;
              panel.content.activeCellIndex = panel.content.model.cells.length ? 0 : 0;
              const cells = panel.content.model.cells;
              for (let i = 0; i < cells.length; i++) {
                if (cells.get(i).type === 'code') { panel.content.activeCellIndex = i; break; }
              }
              await app.commands.execute('notebook:run-cell');
            }"""
        )
        self.page.wait_for_function(
            """() => {
              const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
              for (let i = 0; i < cells.length; i++) {
                const c = cells.get(i);
                if (c.type === 'code') return c.executionCount !== null;
              }
              return true;
            }""",
            timeout=timeout_s * 1000,
            polling=100,
        )
        return time.perf_counter() - self.t_open

    def execute(self, code: str, timeout_s: float = 120) -> str:
        """Run ``code`` in the notebook's kernel (not in a cell); return what it printed and raised."""
        return self.page.evaluate(
            """async (code) => {
              const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
              const future = kernel.requestExecute({code, store_history: false});
              let text = '';
              future.onIOPub = (msg) => {
                const c = msg.content;
                if (msg.header.msg_type === 'stream') text += c.text;
                if (msg.header.msg_type === 'error') text += c.ename + ': ' + c.evalue + '\\n';
                if (msg.header.msg_type === 'execute_result') text += c.data['text/plain'] + '\\n';
              };
              await future.done;
              return text;
            }""",
            code,
        )

    def run_cells(self, indices, timeout_s: float = 300) -> list[dict]:
        """Run the cells at ``indices`` in order, each to its end; return their outputs."""
        outputs = []
        for index in indices:
            outputs.append(
                self.page.evaluate(
                    """async (index) => {
                      const app = window.jupyterapp;
                      const panel = app.shell.currentWidget;
                      await panel.sessionContext.ready;
                      panel.content.activeCellIndex = index;
                      await app.commands.execute('notebook:run-cell');
                      return panel.content.model.cells.get(index).outputs.toJSON();
                    }""",
                    index,
                )
            )
        return outputs

    def cell_index(self, text: str) -> int:
        """The index of the first cell whose source contains ``text``."""
        return self.page.evaluate(
            """(text) => {
              const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
              for (let i = 0; i < cells.length; i++) {
                if (cells.get(i).sharedModel.getSource().includes(text)) return i;
              }
              return -1;
            }""",
            text,
        )

    def mark_cell(self, index: int, label: str):
        """Scroll the cell at ``index`` into view and return a locator for its DOM node."""
        self.page.evaluate(
            """async ([index, label]) => {
              const notebook = window.jupyterapp.shell.currentWidget.content;
              notebook.activeCellIndex = index;
              await notebook.scrollToItem(index, 'start');
              notebook.widgets[index].node.setAttribute('data-lite-test', label);
            }""",
            [index, label],
        )
        return self.page.locator(f"[data-lite-test='{label}']")

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not local_only(u)]

    def close(self) -> None:
        self.page.close()


def notebooks(folder: Path = NOTEBOOKS) -> list[str]:
    """Every notebook the site carries (the top level of notebooks/), sorted by name."""
    return sorted(p.name for p in folder.glob("*.ipynb"))


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    return path if os.access(path, os.X_OK) else None
