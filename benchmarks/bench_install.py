"""Size of the runtime environment: what ``requirements.txt`` and ``requirements-nodeps.txt`` install.

Computed from the installed distributions' own file lists (``importlib.metadata``): the
requirements of ``requirements.txt`` whose markers apply, their dependency closure (without
extras), plus the ``--no-deps`` packages of ``requirements-nodeps.txt`` on their own. Test-only
tools (``requirements-dev.txt``: pytest, ruff, playwright, ...) are left out unless a runtime
package needs them too. The Python interpreter itself is not counted (a PyTorch course needs one
as well).
"""

from __future__ import annotations

import contextlib
import json
import re
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

GOAL_MB = 700.0  # issue 23: + gguf and the SmolLM2 GGUF file (98 MB)
ROOT = Path(__file__).resolve().parent.parent


def _requirements(path: Path) -> list[Requirement]:
    """The requirements of a pip requirements file whose environment markers apply here."""
    reqs = []
    if not path.exists():
        return reqs
    for line in path.read_text().splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate():
            reqs.append(req)
    return reqs


def _distribution(name: str):
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _dependencies(dist) -> list[str]:
    """Names of ``dist``'s requirements that apply here without extras."""
    env = dict(default_environment(), extra="")
    names = []
    for spec in dist.requires or []:
        req = Requirement(spec)
        if req.marker is None or req.marker.evaluate(env):
            names.append(req.name)
    return names


def _size_bytes(dist) -> int:
    total = 0
    for f in dist.files or []:
        with contextlib.suppress(OSError):  # listed in RECORD but gone (e.g. a removed .pyc)
            total += Path(dist.locate_file(f)).stat().st_size
    return total


def bench_install(root: Path = ROOT) -> dict:
    runtime = _requirements(root / "requirements.txt")
    nodeps = _requirements(root / "requirements-nodeps.txt")
    seen: dict[str, object] = {}
    missing: list[str] = []
    stack = [r.name for r in runtime]
    while stack:  # the dependency closure of the runtime requirements
        name = canonicalize_name(stack.pop())
        if name in seen:
            continue
        dist = _distribution(name)
        if dist is None:
            missing.append(name)
            seen[name] = None
            continue
        seen[name] = dist
        stack.extend(_dependencies(dist))
    for req in nodeps:  # installed with --no-deps: the package alone
        name = canonicalize_name(req.name)
        dist = _distribution(name)
        if dist is None:
            missing.append(name)
        seen.setdefault(name, dist)
    sizes = {name: _size_bytes(dist) for name, dist in seen.items() if dist is not None}
    total_mb = sum(sizes.values()) / 2**20
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:10]
    return {
        "goal": f"runtime environment (requirements.txt + requirements-nodeps.txt) <= {GOAL_MB:g} MB",
        "met": not missing and total_mb <= GOAL_MB,
        "total_mb": total_mb,
        "packages": len(sizes),
        "largest_mb": {name: size / 2**20 for name, size in largest},
        "missing": missing,
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(bench_install(), indent=2))
