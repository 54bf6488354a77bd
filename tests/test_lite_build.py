"""Issue 15 item 1: ``scripts/build_lite.py`` refuses, with the exact reason, a runtime without
numpy's wasm wheel, and accepts one that has it (a fake runtime folder; no network, no build)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_lite.py"


@pytest.fixture(scope="module")
def build_lite():
    spec = importlib.util.spec_from_file_location("build_lite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _runtime(tmp_path, present=()):
    lock = {
        "info": {"python": "3.14.2", "platform": "emscripten_5_0_3", "abi_version": "2026_0"},
        "packages": {
            "micropip": {"version": "0.11.1", "file_name": "micropip-0.11.1-py3-none-any.whl"},
            "numpy": {"version": "2.4.6", "file_name": "numpy-2.4.6-cp314-cp314-pyemscripten_2026_0_wasm32.whl"},
            "matplotlib": {"version": "3.10.8", "file_name": "matplotlib-3.10.8-cp314-cp314-pyemscripten_2026_0_wasm32.whl"},
        },
    }  # fmt: skip
    (tmp_path / "pyodide-lock.json").write_text(json.dumps(lock))
    for name in present:
        (tmp_path / lock["packages"][name]["file_name"]).write_bytes(b"wheel")
    return tmp_path


def test_missing_wasm_wheels_are_named_with_version_and_place(build_lite, tmp_path):
    missing = build_lite.missing_wheels(_runtime(tmp_path))
    assert len(missing) == 3
    assert missing[0].startswith("micropip 0.11.1")  # the kernel loads it before any cell
    missing = missing[1:]
    assert missing[0].startswith(
        "numpy 2.4.6: numpy-2.4.6-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    )
    assert "emscripten_5_0_3" in missing[0]
    assert str(tmp_path) in missing[0]


def test_present_wheels_are_not_reported(build_lite, tmp_path):
    (tmp_path / "both").mkdir()
    (tmp_path / "one").mkdir()
    both = _runtime(tmp_path / "both", present=("micropip", "numpy", "matplotlib"))
    assert build_lite.missing_wheels(both) == []
    only_numpy = build_lite.missing_wheels(
        _runtime(tmp_path / "one", present=("micropip", "numpy"))
    )
    assert len(only_numpy) == 1
    assert only_numpy[0].startswith("matplotlib 3.10.8")


def test_where_looked_is_stated(build_lite):
    text = build_lite.WHERE_LOOKED.format(v=build_lite.PYODIDE_VERSION)
    for place in ("npm pyodide@314.0.7", "PyPI", "jsDelivr", "Debian emscripten"):
        assert place in text
