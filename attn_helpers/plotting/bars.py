"""One query's attention weights as bars, one bar per key."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .._validation import as_float_array, shape_str
from ._colors import BAR_COLOR, HIGHLIGHT_COLOR
from ._labels import (
    _default_label_size,
    _display,
    _query_labels,
    _resolve_query,
    _set_token_ticks,
    _token_list,
)

# --------------------------------------------------------------------------- bars


def plot_weight_bars(
    weights,
    tokens,
    *,
    query=None,
    query_tokens=None,
    ax=None,
    annotate=None,
    highlight_max=True,
    color=BAR_COLOR,
    ylim=None,
    title=None,
    bar_kw=None,
):
    """Draw one query's attention weights as bars, one bar per key.

    Parameters
    ----------
    weights : array_like of shape (seq_len_k,) or (seq_len_q, seq_len_k)
        One query's weights, or a matrix from which ``query`` picks the row.
    tokens : sequence of str of length seq_len_k
        Key labels (under the bars).
    query : int or str, optional
        Required for a matrix: the row (an index, or a token that occurs once). For a 1-D array it
        only names the query in the title.
    query_tokens : sequence of str of length seq_len_q, optional
        Query labels when they differ from ``tokens`` (cross-attention).
    ax : matplotlib Axes, optional
    annotate : bool, optional
        Write each weight above its bar. Default: only when there are at most 16 keys.
    highlight_max : bool, default True
        Colour the largest bar differently (a darker viridis shade).
    color : colour, default a viridis teal
    ylim : (float, float), optional
        Default ``(0, 1.15 * max weight)``; pass ``(0, 1)`` to compare plots or update in place.
    title : str, optional
        Defaults to a title naming the query; ``""`` for none.
    bar_kw : dict, optional
        Extra keyword arguments for ``ax.bar``.

    Returns
    -------
    ax : matplotlib Axes
        Artists: ``ax.containers[0]`` is the ``BarContainer`` (``bar.set_height`` per bar);
        with ``annotate`` the numbers are ``ax.texts`` in key order.
    """
    arr = as_float_array(weights, "weights")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"weights must be 1-D (seq_len_k,) or 2-D (seq_len_q, seq_len_k); got weights.shape="
            f"{shape_str(arr.shape)}. Hint: for several heads pick one with weights[h]."
        )
    n_k = arr.shape[-1]
    keys = _token_list(tokens, n_k, "tokens", "keys (columns)", arr.shape)
    name = None
    if arr.ndim == 2:
        queries = _query_labels(arr, keys, query_tokens)
        if query is None:
            raise ValueError(
                f"weights.shape={shape_str(arr.shape)} has {arr.shape[0]} queries; say which one "
                "to draw. Hint: query=0 or query='it' (a token), or pass one row, weights[i]."
            )
        row = _resolve_query(query, queries)
        w, name = arr[row], queries[row]
    else:
        w = arr
        if isinstance(query, str):
            name = query
        elif query is not None and query_tokens is not None:
            name = list(query_tokens)[query]

    ax = plt.gca() if ax is None else ax
    colors = [color] * n_k
    if highlight_max:
        colors[int(np.argmax(w))] = HIGHLIGHT_COLOR
    bars = ax.bar(np.arange(n_k), w, color=colors, **(bar_kw or {}))
    top = 1.15 * float(w.max()) if w.max() > 0 else 1.0
    ax.set_ylim(ylim if ylim is not None else (0.0, top))
    ax.set_xlim(-0.6, n_k - 0.4)
    _set_token_ticks(ax, "x", keys, "key")
    ax.set_ylabel("attention weight")
    ax.spines[["top", "right"]].set_visible(False)
    if annotate is None:
        annotate = n_k <= 16
    if annotate:
        ax.bar_label(
            bars, labels=[f"{x:.2f}" for x in w], padding=2, fontsize=min(_default_label_size(), 9)
        )
    if title is None:
        who = f"query {_display(name)!r}" if name is not None else "one query"
        title = f"Attention weights of {who} over the keys"
    if title:
        ax.set_title(title)
    return ax
