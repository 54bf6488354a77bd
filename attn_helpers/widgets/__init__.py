"""Interactive explorers for the notebooks: builders that return a widget and never display it.

Each ``make_*`` function returns an :class:`Explorer` (an ``ipywidgets.VBox``); let the cell
return it, or ``display(...)`` it. The figure is drawn once and updated in place: with ipympl's
canvas when JupyterLab has the extension, else as a picture of fixed size (the widget says so).
The computation behind each explorer is a plain function, importable and tested on its own.
The readout under each figure is plain text (escaped as HTML once, in ``_base``), so tokens
such as ``<pad>`` and ``<bos>`` show as written.

========================  ==========  =====================================================
builder                   notebook    what moves
========================  ==========  =====================================================
make_qkv_explorer         01          a 2-D query dragged among keys: weights, weighted sum
make_softmax_explorer     02          scores and temperature -> weights, entropy
make_scaling_explorer     02          d_k, spread, divisor (√d_k, √d_model, none) -> scores
make_sentence_explorer    03, 08      a typed sentence, a query token -> heatmap and lines
make_heads_explorer       04, 08      any two (layer, head) pairs side by side, one or more
                                      sentences (08: "...too big." and "...too small.")
make_mask_explorer        05          mask kind, padding, fill value -> weights (NaN rows)
make_position_explorer    05          token order, positional encodings -> changed outputs
make_decoding_explorer    09          a prompt, a generation step -> the query's weights on the cache
make_smollm_explorer      10          a typed text, a layer and a head of SmolLM2 -> heatmap, sink share
========================  ==========  =====================================================
"""

from ._base import Explorer, InputProblem
from .decoding import decoding_trace, make_decoding_explorer
from .lookup import make_qkv_explorer, single_query_attention
from .masking import make_mask_explorer, mask_for, masked_weights
from .positions import make_position_explorer, reordering_changes
from .sentence import make_heads_explorer, make_sentence_explorer, prepare_sentence
from .smollm import make_smollm_explorer, smollm_attention
from .softmax import (
    make_scaling_explorer,
    make_softmax_explorer,
    scaling_statistics,
    softmax_summary,
)

__all__ = [
    "Explorer",
    "InputProblem",
    "decoding_trace",
    "make_decoding_explorer",
    "make_heads_explorer",
    "make_mask_explorer",
    "make_position_explorer",
    "make_qkv_explorer",
    "make_scaling_explorer",
    "make_sentence_explorer",
    "make_smollm_explorer",
    "make_softmax_explorer",
    "mask_for",
    "masked_weights",
    "prepare_sentence",
    "reordering_changes",
    "scaling_statistics",
    "single_query_attention",
    "smollm_attention",
    "softmax_summary",
]
