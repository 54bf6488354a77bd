"""Attention as token-to-token lines from queries to keys, width and opacity set by the weight."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba

from .._validation import shape_str
from ._colors import LINE_COLOR
from ._labels import (
    _HINT_2D,
    _axis_length_pt,
    _default_label_size,
    _display,
    _fit_labels,
    _resolve_query,
    _token_list,
    _weights_array,
)

# --------------------------------------------------------------------------- lines (arcs)


def arc_styles(weights, *, threshold=0.05, max_linewidth=6.0, color=LINE_COLOR):
    """Line widths and RGBA colours for :func:`plot_attention_arcs`, one per (query, key) pair.

    Width is ``max_linewidth * weight``, opacity ``0.15 + 0.85 * weight``; pairs below
    ``threshold`` get width 0 and opacity 0. Explorers call this to update the lines in place:
    ``lines.set_linewidths(widths); lines.set_color(colors)``.

    Returns
    -------
    widths : ndarray of shape (weights.size,)
    colors : ndarray of shape (weights.size, 4)
    """
    w = np.clip(np.asarray(weights, dtype=float).ravel(), 0.0, 1.0)
    keep = w >= threshold
    widths = np.where(keep, max_linewidth * w, 0.0)
    colors = np.tile(to_rgba(color), (w.size, 1))
    colors[:, 3] = np.where(keep, 0.15 + 0.85 * w, 0.0)
    return widths, colors


def plot_attention_arcs(
    weights,
    tokens,
    *,
    query=None,
    query_tokens=None,
    ax=None,
    threshold=0.05,
    max_linewidth=6.0,
    color=LINE_COLOR,
    title=None,
    line_kw=None,
    text_kw=None,
):
    """Draw token-to-token lines from queries (left) to keys (right); width and opacity = weight.

    Parameters
    ----------
    weights : array_like of shape (seq_len_q, seq_len_k)
    tokens : sequence of str of length seq_len_k
        Key labels (right column); also the query labels when ``query_tokens`` is not given.
    query : int or str, optional
        Draw only this query's lines (an index, or a token that occurs once). Default: all queries.
    query_tokens : sequence of str of length seq_len_q, optional
        Query labels (left column), for cross-attention.
    ax : matplotlib Axes, optional
    threshold : float, default 0.05
        Lines for weights below this are hidden (width 0), to keep the picture readable.
    max_linewidth : float, default 6.0
        The width, in points, of a line with weight 1.
    color : colour, default a viridis blue
    title : str, optional
        Defaults to a title saying what is shown; ``""`` for none.
    line_kw, text_kw : dict, optional
        Extra keyword arguments for the ``LineCollection`` and for the token labels.

    Returns
    -------
    ax : matplotlib Axes
        Artists: ``ax.collections[0]`` is a ``LineCollection`` with one segment per (query, key)
        pair drawn, in row-major order (only the selected row when ``query`` is given); update it
        with :func:`arc_styles`. ``ax.texts[:seq_len_q]`` are the query labels,
        ``ax.texts[seq_len_q:seq_len_q + seq_len_k]`` the key labels, then two column headings.

    Notes
    -----
    For long sentences give the figure height, e.g. ``figsize=(5, 0.16 * seq_len)``; label sizes
    follow the Axes' height, and with too little room only every n-th unconnected token is labelled.
    """
    w = _weights_array(weights, 2, _HINT_2D)
    n_q, n_k = w.shape
    keys = _token_list(tokens, n_k, "tokens", "keys (columns)", w.shape)
    if query_tokens is not None:
        queries = _token_list(query_tokens, n_q, "query_tokens", "queries (rows)", w.shape)
    elif n_q == n_k:
        queries = keys
    else:
        raise ValueError(
            f"weights.shape={shape_str(w.shape)} is not square, so the queries need their own "
            "labels. Hint: pass query_tokens=... with one label per row."
        )
    rows = range(n_q) if query is None else [_resolve_query(query, queries)]

    ax = plt.gca() if ax is None else ax
    y_q = np.linspace(0.0, -1.0, n_q) if n_q > 1 else np.array([-0.5])
    y_k = np.linspace(0.0, -1.0, n_k) if n_k > 1 else np.array([-0.5])
    segments = [[(0.0, y_q[i]), (1.0, y_k[j])] for i in rows for j in range(n_k)]
    widths, colors = arc_styles(
        w[list(rows)], threshold=threshold, max_linewidth=max_linewidth, color=color
    )
    lines = LineCollection(
        segments, linewidths=widths, colors=colors, capstyle="round", **(line_kw or {})
    )
    ax.add_collection(lines)

    # Labels: font size from the vertical room; unconnected tokens thinned if there is too little.
    n_max = max(n_q, n_k)
    size, step = _fit_labels(n_max, _axis_length_pt(ax, "y"))
    drawn = w[list(rows)] >= threshold  # (len(rows), n_k)
    connected_q = {i for i, r in zip(rows, drawn) if r.any()} | (
        {rows[0]} if query is not None else set()
    )
    connected_k = set(np.flatnonzero(drawn.any(axis=0)).tolist())
    tkw = {"fontsize": size, "va": "center"}
    tkw.update(text_kw or {})
    for i, label in enumerate(queries):
        selected = query is not None and i == rows[0]
        ax.annotate(
            _display(label),
            (0.0, y_q[i]),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            fontweight="bold" if selected else "normal",
            visible=_label_visible(i, step, connected_q),
            **tkw,
        )
    for j, label in enumerate(keys):
        ax.annotate(
            _display(label),
            (1.0, y_k[j]),
            xytext=(6, 0),
            textcoords="offset points",
            ha="left",
            visible=_label_visible(j, step, connected_k),
            **tkw,
        )
    for x, text, ha in ((0.0, "query", "right"), (1.0, "key", "left")):
        ax.annotate(
            text,
            (x, 0.0),
            xytext=(0, 14),
            textcoords="offset points",
            ha=ha,
            fontsize=_default_label_size(),
            fontstyle="italic",
            color="0.35",
        )

    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(-1.04, 0.04)
    ax.axis("off")
    if title is None:
        who = "each query" if query is None else f"query {_display(queries[rows[0]])!r}"
        title = f"Attention of {who} (line width = weight, weights < {threshold:g} hidden)"
    if title:
        ax.set_title(title, pad=22)
    return ax


def _label_visible(i: int, step: int, connected: set) -> bool:
    """Connected tokens are always labelled; others every ``step``-th, unless one is too close."""
    if i in connected:
        return True
    return i % step == 0 and not any(abs(i - c) < step for c in connected)
