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
]


def notebook_number(stem: str) -> str:
    """The number a notebook's title and the course maps give it: ``"07"``, ``"07b"``."""
    return stem.split("_", 1)[0]


def readonly(x, dtype=None) -> np.ndarray:
    """A read-only copy: any write inside the code under test raises instead of corrupting input."""
    arr = np.array(x, dtype=dtype)
    arr.flags.writeable = False
    return arr
