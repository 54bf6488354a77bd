"""The peer for the ``smollm`` entry: transformers' SmolLM2-135M-Instruct on PyTorch (CPU, float32).

Runs only where PyTorch and transformers are installed, i.e. the ``make fixtures`` venv
(``.fixture-venv-smollm``), never in the course's own environment. ``make bench`` runs it in the
same run as the course's measurement when that venv exists, and otherwise falls back to the last
stored numbers in ``benchmarks/smollm_torch_reference.json``. To re-measure and store them::

    make bench-torch   # also runs .fixture-venv-smollm/bin/python benchmarks/bench_smollm_torch.py --write

Both sides load the same GGUF file (transformers with ``gguf_file=``, dequantised to float32), use
one thread (``torch.set_num_threads(1)`` here, one BLAS thread in the course) and time the same
work (:func:`workload`): a 64-token prefill that keeps the keys and values and returns the last
position's logits, then greedy decoding of ``DECODE_STEPS`` tokens with the cache, one at a time.
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

REFERENCE = Path(__file__).resolve().parent / "smollm_torch_reference.json"
PREFILL_TOKENS = 64
DECODE_STEPS = 32
#: 64 token ids of ordinary English (the course's tokenizer on this text, cut to 64), fixed here so
#: both sides run exactly the same ids without sharing a tokenizer.
TEXT = (
    "Attention lets every token look at every other token, weigh what it finds, and mix the values "
    "it cares about into a new vector. A decoder only looks back: each token sees the tokens before "
    "it and itself, never the ones after it, so it can write text one token at a time and keep the "
    "keys and values of what it has written."
)


def median_ms(times) -> float:
    return statistics.median(times) * 1e3


def measure(ids, repeats: int = 5) -> dict:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from attn_helpers._gguf_model import gguf_path

    torch.set_num_threads(1)
    path = gguf_path()
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, attn_implementation="sdpa"
    ).eval()
    load_s = time.perf_counter() - start
    prompt = torch.tensor([ids])
    prefill, decode = [], []
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first round is a warm-up
            start = time.perf_counter()
            out = model(prompt, use_cache=True, logits_to_keep=1)
            prefill.append(time.perf_counter() - start)
            past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            start = time.perf_counter()
            for _ in range(DECODE_STEPS):
                out = model(token, past_key_values=past, use_cache=True)
                past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            decode.append((time.perf_counter() - start) / DECODE_STEPS)
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "attn_implementation": "sdpa",
        "repeats": repeats,
        "load_s": load_s,
        "median_ms": {
            f"prefill {PREFILL_TOKENS} tokens": median_ms(prefill[1:]),
            "decode one token": median_ms(decode[1:]),
        },
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ids", help="comma-separated token ids (default: the stored reference's)")
    parser.add_argument("--write", action="store_true", help=f"store the numbers in {REFERENCE}")
    args = parser.parse_args(argv)
    if args.ids:
        ids = [int(i) for i in args.ids.split(",")]
    else:
        ids = json.loads(REFERENCE.read_text())["ids"] if REFERENCE.exists() else None
        if ids is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from attn_helpers.smollm import load_smollm

            ids = load_smollm().tokenize(TEXT)[:PREFILL_TOKENS]
    result = {**measure(ids, args.repeats), "ids": ids}
    if args.write:
        REFERENCE.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
