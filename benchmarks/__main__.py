"""``make bench``: measure the course against its performance goals, print a table, write JSON.

Entries (keys of ``benchmarks/results.json``, each with ``goal`` and ``met``):

- ``sdpa``: ``scaled_dot_product_attention`` against the floor (the same two matrix products
  into preallocated outputs), float32 and float64.
- ``chunked``: ``chunked_attention`` against the floor and against the plain version, judged both
  after a pause before each call and back to back (the worse counts), and its peak memory at
  seq_len 16384. Reported, not judged: ``workers=None`` (threads), the attention call right after a query
  projection, many short heads.
- ``causal``: ``chunked_attention(causal=True)`` against the same call unmasked (tile skipping),
  with a stored ``causal_mask`` and a sliding window beside it.
- ``minilm``: the real model's ``encode`` (one sentence, a batch of 32) against
  sentence-transformers on PyTorch CPU, one thread each (``benchmarks/bench_minilm.py``).
- ``smollm``: SmolLM2-135M-Instruct's 64-token prefill and per-token decode with the KV cache
  against transformers on PyTorch CPU (one thread each), its load time and resident memory
  (``benchmarks/bench_smollm.py``).
- ``widgets``: median update time of each explorer (``benchmarks/bench_widgets.py``).
- ``notebooks``: wall time and peak memory of each notebook in a fresh kernel.
- ``install``: size of the runtime environment.
- ``lite``: the static site: build time, size, cold first cell, each notebook in Pyodide (about
  10 minutes, in Debian's chromium; ``benchmarks/bench_lite.py``).

Usage::

    python -m benchmarks                  # everything (a few minutes)
    python -m benchmarks --only sdpa,chunked --repeats 5
    python -m benchmarks --no-write       # print only, keep results.json
    python -m benchmarks --blas-threads 1 # single-threaded BLAS (steadier on a shared machine)
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from .bench_attention import (
    CAUSAL_GOAL_RATIO,
    CHUNKED_GOAL_RATIO,
    CHUNKED_GOAL_SPEEDUP,
    SDPA_GOAL_RATIO,
)

ENTRIES = (
    "sdpa",
    "chunked",
    "causal",
    "minilm",
    "smollm",
    "widgets",
    "notebooks",
    "install",
    "lite",
)
RESULTS = Path(__file__).resolve().parent / "results.json"
BLAS_ENV = "OPENBLAS_NUM_THREADS"
THREAD_VARIABLES = (BLAS_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_info() -> str:
    """numpy's BLAS: from threadpoolctl when installed (with threads), else numpy's build config."""
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            return "; ".join(
                f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads, "
                f"{p.get('architecture')})"
                for p in pools
            )
    except ImportError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        threads = os.environ.get(BLAS_ENV) or os.environ.get("OMP_NUM_THREADS")
        return f"{blas.get('name')} {blas.get('version')} (threads: {threads or 'default'})"
    except Exception:  # noqa: BLE001 - older numpy: no dict mode
        return "unknown (np.show_config() prints it)"


def machine() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def bench_widgets(repeats: int) -> dict:
    goal = "median update <= 40 ms per explorer and >= 3x faster than rebuilding the figure"
    try:
        module = importlib.import_module("benchmarks.bench_widgets")
    except ImportError as err:
        return {"goal": goal, "met": False, "status": f"not available ({err})"}
    explorers = module.run(repeats=repeats)
    goal_ms = getattr(module, "GOAL_MS", 40.0)
    goal_speedup = getattr(module, "GOAL_SPEEDUP", 3.0)
    met = bool(explorers) and all(
        r.get("meets_goal", r["update_ms"] <= goal_ms and r["speedup"] >= goal_speedup)
        for r in explorers.values()
    )
    return {
        "goal": f"median update <= {goal_ms:g} ms per explorer and >= {goal_speedup:g}x faster "
        "than rebuilding the figure",
        "met": met,
        "worst_update_ms": max(r["update_ms"] for r in explorers.values()),
        "explorers": explorers,
    }


def run_entry(name: str, repeats: int) -> dict:
    start = time.perf_counter()
    try:
        if name == "sdpa":
            from .bench_attention import bench_sdpa

            result = bench_sdpa(repeats=repeats)
        elif name == "chunked":
            from .bench_attention import bench_chunked

            result = bench_chunked(repeats=repeats)
        elif name == "causal":
            from .bench_attention import bench_causal

            result = bench_causal(repeats=repeats)
        elif name == "minilm":
            from .bench_minilm import bench_minilm

            result = bench_minilm()
        elif name == "smollm":
            from .bench_smollm import bench_smollm

            result = bench_smollm()
        elif name == "widgets":
            result = bench_widgets(repeats=50)
        elif name == "notebooks":
            from .bench_notebooks import bench_notebooks

            result = bench_notebooks()
        elif name == "lite":  # the static site in Chromium (benchmarks/bench_lite.py)
            from .bench_lite import bench_lite

            result = bench_lite()
        else:
            from .bench_install import bench_install

            result = bench_install()
    except Exception as err:  # noqa: BLE001 - one broken entry must not hide the others
        traceback.print_exc()
        result = {"goal": "(entry failed)", "met": False, "error": f"{type(err).__name__}: {err}"}
    result["benchmark_seconds"] = time.perf_counter() - start
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def summary_rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(entry, measurement, goal, met) rows for the table."""
    rows = []

    def ok(flag) -> str:
        return "yes" if flag else "NO"

    if "sdpa" in results:
        r = results["sdpa"]
        for case, c in r.get("cases", {}).items():
            rows.append(
                (f"sdpa {case}", f"{_ms(c['seconds'])} = {c['ratio_to_floor']:.1f}x floor "
                 f"({_ms(c['floor_seconds'])})", f"<= {SDPA_GOAL_RATIO:g}x floor", ok(c["ratio_to_floor"] <= SDPA_GOAL_RATIO))
            )  # fmt: skip
        if "error" in r:
            rows.append(("sdpa", r["error"], "", "NO"))
    if "chunked" in results:
        r = results["chunked"]
        regimes = (("settled", "settled (pause first)"), ("back_to_back", "back to back"))

        def versus(o) -> str:  # one function in one regime, against the floor and sdpa
            return (
                f"{_ms(o['seconds'])} = {o['ratio_to_floor']:.2f}x floor ({_ms(o['floor_seconds'])}), "
                f"{o['speedup_over_sdpa']:.2f}x faster than sdpa ({_ms(o['sdpa_seconds'])})"
            )

        extra = r.get("not_judged", {})
        for case, c in r.get("cases", {}).items():
            speedup_judged = case.startswith("(1, 4096, 64)")
            met = c["ratio_to_floor"] <= 2.5 and (c["speedup_over_sdpa"] >= 2 or not speedup_judged)
            worse = c.get("worse_regime")
            if worse:  # judged: the worse of the two regimes
                text = (
                    f"worse regime: {c['ratio_to_floor']:.2f}x floor "
                    f"({worse['ratio_to_floor'].replace('_', ' ')}), "
                    f"{c['speedup_over_sdpa']:.2f}x faster than sdpa "
                    f"({worse['speedup_over_sdpa'].replace('_', ' ')})"
                )
            else:  # results.json from before both regimes were judged
                text = versus(c)
            goal = f"<= {CHUNKED_GOAL_RATIO:g}x floor" + (
                f", >= {CHUNKED_GOAL_SPEEDUP:g}x sdpa speed" if speedup_judged else ""
            )
            rows.append((f"chunked {case}", text, goal, ok(met)))
            for key, label in regimes:
                if key in c:
                    rows.append((f"  {label}", versus(c[key]), "(the worse counts)", ""))
            for key, label in regimes:
                if key in c.get("threads", {}):
                    rows.append(
                        (f"  workers=None, {label}", versus(c["threads"][key]), "not judged", "")
                    )  # fmt: skip
            projection = extra.get(f"projection then attention {case}")
            if projection:
                for key, label in (("chunked", "chunked"), ("chunked_threads", "workers=None"),
                                   ("sdpa", "sdpa")):  # fmt: skip
                    o = projection[key]
                    rows.append(
                        (f"  after x @ w_q, {label}", f"{_ms(o['seconds'])} = "
                         f"{o['ratio_to_floor']:.2f}x floor ({_ms(o['floor_seconds'])})"
                         + ("" if key == "sdpa" else
                            f", {o['speedup_over_sdpa']:.2f}x faster than sdpa"),
                         "not judged", "")
                    )  # fmt: skip
        if "memory" in r:
            m = r["memory"]
            rows.append(
                (f"chunked memory T={m['seq_len']}", f"peak {m['peak_bytes'] / 2**20:.1f} MiB = "
                 f"{m['fraction_of_weights_matrix']:.2%} of the (T, T) float32 matrix "
                 f"({m['weights_matrix_bytes'] / 2**30:.1f} GiB)", "<= 10%", ok(r["met_memory"]))
            )  # fmt: skip
        for case, h in extra.items():
            if not case.startswith("many heads"):
                continue
            rows.append((f"chunked {case.removeprefix('many heads ')}", f"{h['heads']} heads of "
                         f"{h['seq_len']} tokens, median times:", "not judged", ""))  # fmt: skip
            for key, label in regimes:
                o = h[key]
                rows.append(
                    (f"  {label}", f"chunked {_ms(o['chunked']['seconds'])}, workers=None "
                     f"{_ms(o['chunked_threads']['seconds'])}, sdpa "
                     f"{_ms(o['sdpa']['seconds'])}, floor {_ms(o['sdpa']['floor_seconds'])}",
                     "not judged", "")
                )  # fmt: skip
        if "error" in r:
            rows.append(("chunked", r["error"], "", "NO"))
    if "causal" in results:
        r = results["causal"]
        if "regimes" in r:
            shape = tuple(r["shape"])
            rows.append(
                (f"causal {shape} float32", f"causal=True {r['ratio']:.2f}x the unmasked time, "
                 f"one BLAS thread (worse regime: {r['worse_regime'].replace('_', ' ')})",
                 f"<= {CAUSAL_GOAL_RATIO:g}x unmasked", ok(r["met"]))
            )  # fmt: skip
            shown = dict(r["regimes"])
            for regime, g in r.get("default_blas_threads", {}).items():
                shown[f"{regime}, default BLAS threads"] = g
            for regime, g in shown.items():
                t, x = g["seconds"], g["ratio_to_unmasked"]
                rows.append(
                    (f"  {regime.replace('_', ' ')}", f"unmasked {_ms(t['unmasked'])}, causal "
                     f"{_ms(t['causal'])} ({x['causal']:.2f}x), stored causal_mask "
                     f"{_ms(t['stored_mask'])} ({x['stored_mask']:.2f}x), window={r['window']} "
                     f"{_ms(t['window'])} ({x['window']:.2f}x), sdpa + causal_mask "
                     f"{_ms(t['sdpa_causal_mask'])}", "not judged", "")
                )  # fmt: skip
        else:
            rows.append(("causal", r.get("error", "?"), f"<= {CAUSAL_GOAL_RATIO:g}x", "NO"))
    if "minilm" in results:
        r = results["minilm"]
        if "ratios" in r:
            for case, ratio in r["ratios"].items():
                rows.append(
                    (f"minilm encode, {case}", f"{r['course_ms'][case]:.1f} ms = {ratio:.2f}x "
                     f"sentence-transformers ({r['torch_ms'][case]:.1f} ms)",
                     f"<= {r['goals'][case]:g}x PyTorch", ok(ratio <= r["goals"][case]))
                )  # fmt: skip
            rows.append(
                ("  PyTorch numbers", f"{r['torch_source']}; torch {r['torch_versions']['torch']}, "
                 f"{r['torch_versions']['torch_threads']} thread; re-measure: {r['remeasure']}",
                 "", "")
            )  # fmt: skip
        else:
            rows.append(("minilm", r.get("error", "?"), "<= 1.5x / 2x PyTorch", "NO"))
    if "smollm" in results:
        r = results["smollm"]
        if "ratios" in r:
            for case, ratio in r["ratios"].items():
                rows.append(
                    (f"smollm {case}", f"{r['course_ms'][case]:.1f} ms = {ratio:.2f}x transformers "
                     f"({r['torch_ms'][case]:.1f} ms)", f"<= {r['goals'][case]:g}x PyTorch",
                     ok(ratio <= r["goals"][case]))
                )  # fmt: skip
            rows.append(("smollm load", f"{r['load_s']:.1f} s (transformers: {r['torch_load_s']:.1f} s)",
                         "<= 5 s", ok(r["met_by_goal"]["load"])))  # fmt: skip
            rows.append(("smollm resident memory", f"{r['rss_mb']:.0f} MB (peak {r['peak_rss_mb']:.0f} MB)",
                         "<= 900 MB", ok(r["met_by_goal"]["resident memory"])))  # fmt: skip
            rows.append(
                ("  PyTorch numbers", f"{r['torch_source']}; torch {r['torch_versions']['torch']}, "
                 f"{r['torch_versions']['torch_threads']} thread; re-measure: {r['remeasure']}", "", "")
            )  # fmt: skip
        else:
            rows.append(("smollm", r.get("error", "?"), "<= 0.7x / 1.0x PyTorch", "NO"))
    if "widgets" in results:
        r = results["widgets"]
        if "explorers" in r:
            for name, e in r["explorers"].items():
                rows.append(
                    (f"widget {name}", f"update {e['update_ms']:.1f} ms, rebuild "
                     f"{e['rebuild_ms']:.1f} ms ({e['speedup']:.1f}x)", "<= 40 ms, >= 3x",
                     ok(e.get("meets_goal", e["update_ms"] <= 40 and e["speedup"] >= 3)))
                )  # fmt: skip
        else:
            rows.append(("widgets", r.get("status") or r.get("error", "?"), "<= 40 ms", "NO"))
    if "notebooks" in results:
        from .bench_notebooks import GOAL_MB_EACH, GOAL_SECONDS_EACH, GOALS_BY_NOTEBOOK

        r = results["notebooks"]
        for name, n in r.get("notebooks", {}).items():
            peak = "?" if n["peak_rss_mb"] is None else f"{n['peak_rss_mb']:.0f} MB"
            text = f"{n['seconds']:.1f} s, peak {peak}" + (
                f", FAILED {n['error']}" if n["error"] else ""
            )
            seconds, mb = GOALS_BY_NOTEBOOK.get(name, (GOAL_SECONDS_EACH, GOAL_MB_EACH))
            rows.append((f"notebook {name}", text, f"<= {seconds:g} s, <= {mb:g} MB", ok(n["met"])))
        if "total_seconds" in r:
            rows.append(
                ("notebooks, whole course", f"{r['total_seconds']:.1f} s", "<= 120 s",
                 ok(r["total_seconds"] <= 120 and bool(r["notebooks"])))
            )  # fmt: skip
        if "error" in r:
            rows.append(("notebooks", r["error"], "", "NO"))
    if "install" in results:
        r = results["install"]
        if "total_mb" in r:
            rows.append(
                ("install (runtime)", f"{r['total_mb']:.0f} MB in {r['packages']} packages",
                 "<= 700 MB", ok(r["met"]))
            )  # fmt: skip
        else:
            rows.append(("install", r.get("error", "?"), "<= 700 MB", "NO"))
    if "lite" in results:
        from .bench_lite import summary_rows as lite_rows

        rows.extend(lite_rows(results["lite"]))
    return rows


def format_table(results: dict, info: dict) -> str:
    rows = summary_rows(results)
    header = ("entry", "measurement", "goal", "met")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        f"CPUs: {info['cpu_count']} ({info['usable_cpus']} usable), {info['cpu']}; Python "
        f"{info['python']}; numpy {info['numpy']}; BLAS: {info['blas']}",
        f"load average at start: {info['load_average_at_start']}",
        "  ".join(h.ljust(w) for h, w in zip(header, widths)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.append(
        "entries: "
        + ", ".join(f"{k}={'met' if v.get('met') else 'NOT met'}" for k, v in results.items())
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", default=",".join(ENTRIES), help="comma-separated entries to run")
    parser.add_argument(
        "--repeats",
        type=int,
        default=7,
        help="timing rounds for sdpa and chunked (at most 5 for the cases not judged)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write benchmarks/results.json"
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="run with BLAS limited to this many threads (default: the BLAS's own choice)",
    )
    args = parser.parse_args(argv)
    if args.blas_threads is not None and os.environ.get(BLAS_ENV) != str(args.blas_threads):
        # BLAS reads its thread count when numpy is imported: restart with the variables set.
        env = dict(os.environ, **{name: str(args.blas_threads) for name in THREAD_VARIABLES})
        argv = sys.argv[1:] if argv is None else list(argv)
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *argv], env)
    only = [e.strip() for e in args.only.split(",") if e.strip()]
    unknown = sorted(set(only) - set(ENTRIES))
    if unknown:
        parser.error(f"unknown entries {unknown}; choose from {', '.join(ENTRIES)}")
    info = machine()
    print(f"Benchmarking {', '.join(only)} (a few minutes) ...", flush=True)
    results = {}
    for name in ENTRIES:
        if name in only:
            print(f"  {name} ...", flush=True)
            results[name] = run_entry(name, args.repeats)
    info["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print()
    print(format_table(results, info))
    if not args.no_write:
        document = {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": info,
            **results,
        }
        if set(only) != set(ENTRIES) and RESULTS.exists():  # a partial run keeps the other entries
            previous = json.loads(RESULTS.read_text())
            document = {**previous, **document}
        RESULTS.write_text(json.dumps(document, indent=2, default=float) + "\n")
        print(
            f"\nwrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
