"""A grid of heatmaps, one per attention head, on one shared colour scale."""

from __future__ import annotations

import math
import numbers

import matplotlib.pyplot as plt

from ._labels import _token_list, _weights_array
from .heatmap import plot_attention_heatmap

# --------------------------------------------------------------------------- heads


def plot_attention_heads(
    weights,
    tokens,
    *,
    query_tokens=None,
    ncols=4,
    head_names=None,
    cmap="viridis",
    vmax=None,
    annotate=False,
    suptitle=None,
    figsize=None,
    heatmap_kw=None,
):
    """One heatmap per head, side by side, on one shared colour scale.

    Parameters
    ----------
    weights : array_like of shape (num_heads, seq_len_q, seq_len_k)
    tokens : sequence of str of length seq_len_k
    query_tokens : sequence of str of length seq_len_q, optional
    ncols : int, default 4
        Heatmaps per row.
    head_names : sequence of str of length num_heads, optional
        Panel titles; default "head 0", "head 1", ...
    cmap : str or Colormap, default "viridis"
    vmax : float, optional
        Top of the shared colour scale; default the largest weight of any head.
    annotate : bool, default False
    suptitle : str, optional
        Defaults to a title saying what is shown; ``""`` for none.
    figsize : (float, float), optional
        Default about ``(3.2 * ncols, 3.2 * nrows)`` inches, more for long sentences and labels.
    heatmap_kw : dict, optional
        Extra keyword arguments for :func:`plot_attention_heatmap`.

    Returns
    -------
    fig : matplotlib Figure
    axes : ndarray of Axes of shape (num_heads,)
        ``axes[h]`` shows head ``h``; ``axes[h].images[0]`` is its image. The shared colour bar
        is ``fig.axes[-1]``.
    """
    w = _weights_array(
        weights,
        3,
        "pass every head's weights, e.g. the weights returned by "
        "multi_head_attention for one sequence; for one head use plot_attention_heatmap.",
    )
    num_heads, n_q, n_k = w.shape
    keys = _token_list(tokens, n_k, "tokens", "keys (columns)", w.shape)
    queries = None
    if query_tokens is not None:
        queries = _token_list(query_tokens, n_q, "query_tokens", "queries (rows)", w.shape)
    if head_names is None:
        names = [f"head {h}" for h in range(num_heads)]
    else:
        names = _token_list(head_names, num_heads, "head_names", "heads (axis 0)", w.shape)
    if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer; got {ncols!r}.")
    ncols = min(int(ncols), num_heads)
    nrows = math.ceil(num_heads / ncols)
    if figsize is None:
        side = 3.2 if max(n_q, n_k) <= 20 else 4.5
        label_in = 0.07 * max(len(t) for t in keys)  # room for upright key labels, in inches
        figsize = (side * ncols + 1.2, side * nrows + 0.8 + label_in)

    fig, grid = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained")
    vmax = float(w.max()) if vmax is None else vmax
    axes = grid.ravel()
    for h in range(num_heads):
        ax = axes[h]
        kw = {"cmap": cmap, "vmin": 0, "vmax": vmax, "annotate": annotate, "colorbar": False}
        kw.update(heatmap_kw or {})
        plot_attention_heatmap(w[h], tokens=keys, query_tokens=queries, ax=ax, title=names[h], **kw)
        # Short axis names; query labels only in the first column, key labels only on the
        # lowest panel of each column.
        ax.set_xlabel(ax.get_xlabel().replace(" (attended to)", ""))
        ax.set_ylabel(ax.get_ylabel().replace(" (attending)", ""))
        if h % ncols:
            ax.tick_params(labelleft=False)
            ax.set_ylabel("")
        if h + ncols < num_heads:
            ax.tick_params(labelbottom=False)
            ax.set_xlabel("")
    for ax in axes[num_heads:]:
        fig.delaxes(ax)
    fig.colorbar(axes[0].images[0], ax=list(axes[:num_heads]), label="attention weight", shrink=0.8)
    if suptitle is None:
        suptitle = f"Attention weights of {num_heads} heads (row = query, column = key)"
    if suptitle:
        fig.suptitle(suptitle)
    return fig, axes[:num_heads]
