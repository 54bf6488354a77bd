"""Pictures of attention weights: heatmaps, token-to-token lines, bars, and a grid of heads.

Every helper follows the same rules:

- Axes-level helpers take ``ax=None`` (meaning ``plt.gca()``), draw only there and return the Axes.
  :func:`plot_attention_heads` builds a figure and returns ``(fig, axes)``.
- Data is positional, options are keyword-only; option dicts end in ``_kw`` and default to ``None``.
- Labels are data: ``tokens`` must match the key axis (the last axis of ``weights``),
  ``query_tokens`` the query axis; a mismatch raises an error naming both lengths.
- Colours come from the viridis family (perceptually uniform, colour-blind-safe).
- Long sentences stay readable: labels shrink, rotate, and past a point only every n-th token is
  labelled (the axis label says so).
- The artists each helper creates are documented (``ax.images[0]``, ``ax.containers[0]``,
  ``ax.collections[0]``, ``ax.texts``) so interactive explorers can update them in place
  (``set_data``, ``set_height``, ``set_linewidths``) instead of redrawing.

:func:`summarize_attention` gives the one-line takeaway printed beside a figure, e.g.
``'it' gives 0.62 of its attention to 'trophy'``.

The package's modules, one job each: ``heatmap``, ``arcs``, ``bars``, ``heads`` and ``summary`` hold
the helpers named after them; ``_labels`` checks weights and token labels and fits tick labels,
``_colors`` holds the course's plot colours.
"""

from __future__ import annotations

# The colours stay importable from here, as before the split, but are not part of ``*``.
from ._colors import BAR_COLOR, HIGHLIGHT_COLOR, LINE_COLOR  # noqa: F401
from .arcs import arc_styles, plot_attention_arcs
from .bars import plot_weight_bars
from .head_roles import plot_head_roles
from .heads import plot_attention_heads
from .heatmap import plot_attention_heatmap
from .summary import summarize_attention

__all__ = [
    "arc_styles",
    "plot_attention_arcs",
    "plot_attention_heads",
    "plot_attention_heatmap",
    "plot_head_roles",
    "plot_weight_bars",
    "summarize_attention",
]
