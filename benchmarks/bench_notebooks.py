"""Wall time and peak memory of every course notebook, each run top to bottom in a fresh kernel.

Each notebook is executed with nbclient in a new ``python3`` kernel (this environment's Python),
from the notebooks directory, as "Restart kernel and run all cells" would. The wall time includes
the kernel's start-up; the peak memory is the kernel process's peak resident set size (VmHWM),
read by one extra cell appended at the end. A notebook that fails or times out
counts as missing the goal.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

GOAL_SECONDS_EACH = 20.0
GOAL_MB_EACH = 500.0
GOAL_SECONDS_TOTAL = 120.0
#: Notebooks with their own goals (seconds, MB): 10 runs a 135M-parameter model (issue 23).
GOALS_BY_NOTEBOOK = {"10_real_language_model.ipynb": (30.0, 1200.0)}
TIMEOUT_SECONDS = 120  # per cell: a hung kernel fails the run instead of stalling it

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# The kernel's own peak: VmHWM of /proc/self/status on Linux. (ru_maxrss is no good here: Linux
# carries it across fork + exec, so a kernel would report its launcher's peak if that is larger.)
_PEAK_CELL = """
import json as _json, resource as _resource
try:
    with open("/proc/self/status") as _f:
        _kib = next(int(_l.split()[1]) for _l in _f if _l.startswith("VmHWM:"))
except (OSError, StopIteration):
    _kib = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
print("__PEAK_RSS_KB__" + _json.dumps(_kib))
""".strip()


def course_notebooks(directory: Path = NOTEBOOKS) -> list[Path]:
    """The numbered notebooks (``NN_*.ipynb``, ``NNb_*.ipynb``), in course order (07b after 07)."""
    return sorted(p for p in directory.glob("[0-9][0-9]*_*.ipynb"))


def _peak_rss_mb(nb) -> float | None:
    for output in nb.cells[-1].get("outputs", []):
        text = output.get("text", "")
        if "__PEAK_RSS_KB__" in text:
            return json.loads(text.split("__PEAK_RSS_KB__", 1)[1]) / 1024  # KiB (Linux) -> MiB
    return None


def run_notebook(path: Path) -> dict:
    """Execute one notebook in a fresh kernel; return its wall time, peak RSS and status."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL))
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        # Quiet start-up chatter on stderr; errors still come back as cell outputs.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as err:  # noqa: BLE001 - any failure is recorded, the run goes on
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()  # drop terminal colours
        error = f"{type(err).__name__}: {text.splitlines()[-1] if text else ''}"
    seconds = time.perf_counter() - start
    peak_mb = None if error else _peak_rss_mb(nb)
    goal_seconds, goal_mb = GOALS_BY_NOTEBOOK.get(path.name, (GOAL_SECONDS_EACH, GOAL_MB_EACH))
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_mb,
        "error": error,
        "met": error is None
        and seconds <= goal_seconds
        and peak_mb is not None
        and peak_mb <= goal_mb,
    }


def bench_notebooks(directory: Path = NOTEBOOKS) -> dict:
    paths = course_notebooks(directory)
    per_notebook = {p.name: run_notebook(p) for p in paths}
    total = sum(r["seconds"] for r in per_notebook.values())
    return {
        "goal": (
            f"each notebook <= {GOAL_SECONDS_EACH:g} s and <= {GOAL_MB_EACH:g} MB in a fresh kernel; "
            f"whole course <= {GOAL_SECONDS_TOTAL:g} s"
        ),
        "met": bool(per_notebook)
        and all(r["met"] for r in per_notebook.values())
        and total <= GOAL_SECONDS_TOTAL,
        "total_seconds": total,
        "max_peak_rss_mb": max(
            (r["peak_rss_mb"] or 0.0 for r in per_notebook.values()), default=0.0
        ),
        "notebooks": per_notebook,
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(bench_notebooks(), indent=2))
