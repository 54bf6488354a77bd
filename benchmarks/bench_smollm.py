"""The ``smollm`` entry: SmolLM2-135M-Instruct in numpy against transformers on PyTorch (issue 23).

The course side runs in a fresh Python process with one BLAS thread (so its load time and memory
are its own): ``load_smollm()`` (SHA-256 check, reading and dequantising the GGUF file), then the
workload of ``bench_smollm_torch.py``: a 64-token prefill with the KV cache (last position's
logits), then 32 greedy decoding steps, medians over a few rounds. The PyTorch side is measured in
the ``make fixtures`` venv in the same run when it exists, otherwise read from the stored
``smollm_torch_reference.json``. Goals: decode per token <= 0.7x and 64-token prefill <= 1.0x
transformers float32 (one thread each), load <= 5 s, resident memory <= 900 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .bench_smollm_torch import DECODE_STEPS, PREFILL_TOKENS, REFERENCE

ROOT = Path(__file__).resolve().parent.parent
TORCH_PYTHON = ROOT / ".fixture-venv-smollm" / "bin" / "python"
TORCH_SCRIPT = Path(__file__).resolve().parent / "bench_smollm_torch.py"
REMEASURE = "make bench-torch (needs the make fixtures venv .fixture-venv-smollm)"
PREFILL = f"prefill {PREFILL_TOKENS} tokens"
DECODE = "decode one token"
GOALS = {DECODE: 0.7, PREFILL: 1.0}
LOAD_GOAL_S = 5.0
RSS_GOAL_MB = 900.0

_COURSE = r"""
import json, resource, statistics, sys, time
from threadpoolctl import threadpool_limits
ids, repeats, steps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
from attn_helpers.smollm import load_smollm
model = load_smollm()
load_s = time.perf_counter() - start
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
prefill, decode = [], []
with threadpool_limits(1):
    for _ in range(repeats + 1):
        start = time.perf_counter()
        logits, cache = model.prefill(ids, max_len=len(ids) + steps)
        prefill.append(time.perf_counter() - start)
        start = time.perf_counter()
        token = int(logits.argmax())
        for _ in range(steps):
            token = int(model.decode_step(token, cache).argmax())
        decode.append((time.perf_counter() - start) / steps)
print(json.dumps({
    "load_s": load_s, "rss_mb": rss_mb(), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "median_ms": {"PREFILL": statistics.median(prefill[1:]) * 1e3, "DECODE": statistics.median(decode[1:]) * 1e3},
}))
"""


def _stored() -> dict:
    if not REFERENCE.exists():
        raise FileNotFoundError(f"no PyTorch numbers: {REFERENCE} is missing. Run {REMEASURE}.")
    return json.loads(REFERENCE.read_text())


def torch_numbers(ids, repeats: int) -> dict:
    """PyTorch's medians: measured now if its venv exists, else the stored reference."""
    note = ""
    if TORCH_PYTHON.exists():
        run = subprocess.run(
            [str(TORCH_PYTHON), str(TORCH_SCRIPT), "--repeats", str(repeats), "--ids", ",".join(map(str, ids))],
            capture_output=True, text=True, timeout=900, check=False,
            env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        if run.returncode == 0:
            return {
                **json.loads(run.stdout.strip().splitlines()[-1]),
                "source": "measured in this run",
            }
        note = f"the torch script failed ({run.stderr.strip().splitlines()[-1:]}); "
    stored = _stored()
    return {**stored, "source": f"{note}stored {stored['created']} ({REFERENCE.name})"}


def course_numbers(ids, repeats: int) -> dict:
    code = _COURSE.replace('"PREFILL"', repr(PREFILL)).replace('"DECODE"', repr(DECODE))
    run = subprocess.run(
        [sys.executable, "-c", code, json.dumps(ids), str(repeats), str(DECODE_STEPS)],
        capture_output=True, text=True, timeout=900, check=False, cwd=ROOT,
        env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"the course's smollm run failed: {run.stderr.strip()[-500:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def bench_smollm(repeats: int = 5) -> dict:
    ids = _stored()["ids"]
    course = course_numbers(ids, repeats)
    peer = torch_numbers(ids, repeats)
    ratios = {name: course["median_ms"][name] / peer["median_ms"][name] for name in GOALS}
    met = {
        **{name: ratios[name] <= GOALS[name] for name in GOALS},
        "load": course["load_s"] <= LOAD_GOAL_S,
        "resident memory": course["rss_mb"] <= RSS_GOAL_MB,
    }
    return {
        "goal": f"decode <= {GOALS[DECODE]:g}x and 64-token prefill <= {GOALS[PREFILL]:g}x transformers "
        f"fp32 (one thread each), load <= {LOAD_GOAL_S:g} s, resident memory <= {RSS_GOAL_MB:g} MB",
        "met": all(met.values()),
        "met_by_goal": met,
        "course_ms": course["median_ms"],
        "torch_ms": peer["median_ms"],
        "ratios": ratios,
        "goals": GOALS,
        "load_s": course["load_s"],
        "torch_load_s": peer.get("load_s"),
        "rss_mb": course["rss_mb"],
        "peak_rss_mb": course["peak_rss_mb"],
        "torch_source": peer["source"],
        "torch_versions": {k: peer.get(k) for k in ("torch", "transformers", "torch_threads")},
        "torch_machine": peer.get("machine"),
        "remeasure": REMEASURE,
        "repeats": repeats,
    }
