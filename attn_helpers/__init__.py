"""attn_helpers: the numpy building blocks, plots, explorers and checkers of the self-attention course.

``import attn_helpers`` needs only numpy. The submodules that need more are imported on their own:

- ``attn_helpers.plotting`` (matplotlib): heatmaps, arcs and bars of attention weights.
- ``attn_helpers.widgets`` (ipywidgets): interactive explorers for the notebooks.
- ``attn_helpers.exercises``: checkers for the notebooks' exercises.
- ``attn_helpers.learned``: a tiny transformer trained in numpy.
- ``attn_helpers.minilm`` (safetensors, tokenizers): a real pretrained transformer in numpy.
"""

from .chunked import chunked_attention
from .core import (
    causal_mask,
    check_shape,
    merge_heads,
    multi_head_attention,
    padding_mask,
    repeat_kv,
    rotary_embedding,
    scaled_dot_product_attention,
    sinusoidal_positions,
    sliding_window_mask,
    softmax,
    split_heads,
)

__version__ = "0.1.0"

__all__ = [
    "causal_mask",
    "check_shape",
    "chunked_attention",
    "merge_heads",
    "multi_head_attention",
    "padding_mask",
    "repeat_kv",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
    "sliding_window_mask",
    "softmax",
    "split_heads",
]
