"""Helpers and facts shared by several test modules (imported as ``from _shared import ...``)."""

import numpy as np

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
