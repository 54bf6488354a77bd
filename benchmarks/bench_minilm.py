"""The ``minilm`` entry: the course's all-MiniLM-L6-v2 ``encode`` against sentence-transformers.

The course side is measured here, with one BLAS thread (threadpoolctl). The PyTorch side is
measured by ``bench_minilm_torch.py`` in the ``make fixtures`` venv: in the same run when that
venv exists, otherwise read from the stored ``torch_reference.json`` (whose date and machine the
table shows). Goals (issue 13): one sentence <= 1.5x, a batch of 32 <= 2x the PyTorch time.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .bench_minilm_torch import REFERENCE, SENTENCES, median_ms

GOALS = {"one sentence": 1.5, "batch of 32": 2.0}
TORCH_PYTHON = Path(__file__).resolve().parent.parent / ".fixture-venv-minilm" / "bin" / "python"
TORCH_SCRIPT = Path(__file__).resolve().parent / "bench_minilm_torch.py"
REMEASURE = "make bench-torch (needs the make fixtures venv .fixture-venv-minilm)"


def torch_numbers(repeats: int) -> dict:
    """PyTorch's medians: measured now if its venv exists, else the stored reference."""
    if TORCH_PYTHON.exists():
        run = subprocess.run(
            [str(TORCH_PYTHON), str(TORCH_SCRIPT), "--repeats", str(repeats)],
            capture_output=True, text=True, timeout=600, check=False,
            env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                 "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        if run.returncode == 0:
            return {
                **json.loads(run.stdout.strip().splitlines()[-1]),
                "source": "measured in this run",
            }
        stored_note = f"the torch script failed ({run.stderr.strip().splitlines()[-1:]}); "
    else:
        stored_note = ""
    if not REFERENCE.exists():
        raise FileNotFoundError(f"no PyTorch numbers: {REFERENCE} is missing. Run {REMEASURE}.")
    stored = json.loads(REFERENCE.read_text())
    return {**stored, "source": f"{stored_note}stored {stored['created']} ({REFERENCE.name})"}


def bench_minilm(repeats: int = 15) -> dict:
    from threadpoolctl import threadpool_limits

    from attn_helpers.minilm import load_minilm

    model = load_minilm()
    with threadpool_limits(1):
        course = {
            name: median_ms(lambda s=s: model.encode(s, batch_size=32), repeats)
            for name, s in SENTENCES.items()
        }
    peer = torch_numbers(repeats)
    ratios = {name: course[name] / peer["median_ms"][name] for name in SENTENCES}
    return {
        "goal": "encode <= 1.5x sentence-transformers (PyTorch CPU) for one sentence, <= 2x for a "
        "batch of 32, one thread each",
        "met": all(ratios[name] <= GOALS[name] for name in GOALS),
        "course_ms": course,
        "torch_ms": peer["median_ms"],
        "ratios": ratios,
        "goals": GOALS,
        "torch_source": peer["source"],
        "torch_versions": {
            k: peer.get(k) for k in ("torch", "sentence_transformers", "torch_threads")
        },
        "torch_machine": peer.get("machine"),
        "remeasure": REMEASURE,
        "repeats": repeats,
    }
