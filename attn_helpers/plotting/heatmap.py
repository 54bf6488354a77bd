"""Attention weights as a heatmap: one row per query, one column per key."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize

from ._labels import (
    _HINT_2D,
    _axis_length_pt,
    _default_label_size,
    _set_token_ticks,
    _token_list,
    _weights_array,
)

# --------------------------------------------------------------------------- heatmap


def plot_attention_heatmap(
    weights,
    *,
    tokens=None,
    query_tokens=None,
    ax=None,
    annotate=False,
    cmap="viridis",
    vmin=0,
    vmax=None,
    colorbar=True,
    title=None,
    imshow_kw=None,
    colorbar_label="attention weight",
):
    """Draw attention weights as a heatmap: one row per query, one column per key.

    Parameters
    ----------
    weights : array_like of shape (seq_len_q, seq_len_k)
        Attention weights (or scores, with ``vmin=None``). NaN and -inf entries are allowed here and
        drawn in grey, so a notebook can show what a broken mask produces (+inf is an error).
    tokens : sequence of str of length seq_len_k, optional
        Key labels (columns). Also used for the rows when ``query_tokens`` is not given and the
        matrix is square (self-attention).
    query_tokens : sequence of str of length seq_len_q, optional
        Query labels (rows), for cross-attention.
    ax : matplotlib Axes, optional
        Where to draw; defaults to the current Axes.
    annotate : bool, default False
        Write each weight in its cell (skipped with a warning when the cells are too small).
    cmap : str or Colormap, default "viridis"
    vmin, vmax : float or None
        Colour limits. ``vmax=None`` uses the largest weight; pass ``vmax=1`` to compare plots,
        or when an explorer will update the image in place. An automatic scale stretches any
        differences over the whole colour map, so nearly uniform weights (all within a factor
        of 1.5, e.g. 0.022 to 0.027) would look varied: the colour bar's label then says
        "nearly uniform" and gives the range.
    colorbar : bool, default True
    title : str, optional
        Defaults to a title saying what is shown; ``""`` for none.
    imshow_kw : dict, optional
        Extra keyword arguments for ``ax.imshow``, e.g. ``{"aspect": "auto"}`` for a wide matrix.
    colorbar_label : str, default "attention weight"
        Say "score" when you plot scores (before the softmax).

    Returns
    -------
    ax : matplotlib Axes
        Artists: ``ax.images[0]`` is the image (update with ``set_data``); its ``.colorbar`` is the
        colour bar (or None); with ``annotate`` the numbers are ``ax.texts`` in row-major order.
    """
    w = _weights_array(weights, 2, _HINT_2D, allow_nan=True)
    n_q, n_k = w.shape
    keys = None if tokens is None else _token_list(tokens, n_k, "tokens", "keys (columns)", w.shape)
    if query_tokens is not None:
        queries = _token_list(query_tokens, n_q, "query_tokens", "queries (rows)", w.shape)
    elif keys is not None and n_q == n_k:
        queries = keys
    else:
        queries = None

    ax = plt.gca() if ax is None else ax
    cmap = plt.get_cmap(cmap).with_extremes(bad="0.75")  # NaN cells: grey, outside the colour scale
    kw = {"cmap": cmap, "vmin": vmin, "vmax": vmax, "interpolation": "nearest"}
    kw.update(imshow_kw or {})
    image = ax.imshow(np.ma.masked_invalid(w), **kw)
    if colorbar:
        # An inset axes keeps the bar exactly as tall as the image, whatever its aspect ratio.
        cax = ax.inset_axes([1.03, 0.0, 0.04, 1.0])
        if vmax is None and vmin is not None:
            colorbar_label += _nearly_uniform_note(w)
        ax.figure.colorbar(image, cax=cax, label=colorbar_label)

    if keys is not None:
        _set_token_ticks(ax, "x", keys, "key (attended to)")
    else:
        ax.set_xlabel("key position")
    if queries is not None:
        _set_token_ticks(ax, "y", queries, "query (attending)")
    else:
        ax.set_ylabel("query position")
    if title is None:
        title = "Attention weights (row = query, column = key)"
    if title:
        ax.set_title(title)
    if annotate:
        _annotate_cells(ax, image, w)
    return ax


def _nearly_uniform_note(w: np.ndarray) -> str:
    """``"\n(nearly uniform: 0.022 to 0.027)"`` when the finite entries are all positive and
    within a factor of 1.5 of each other, else ``""``."""
    finite = w[np.isfinite(w)]
    if finite.size < 2:
        return ""
    low, high = float(finite.min()), float(finite.max())
    if low <= 0 or high > 1.5 * low:
        return ""
    return f"\n(nearly uniform: {low:.3g} to {high:.3g})"


def _annotate_cells(ax, image, w: np.ndarray) -> None:
    """Write each value in its cell, white on dark cells and black on light ones."""
    n_q, n_k = w.shape
    cell_pt = min(_axis_length_pt(ax, "x") / n_k, _axis_length_pt(ax, "y") / n_q)
    size = min(_default_label_size(), 0.33 * cell_pt)
    if size < 5:
        warnings.warn(
            f"annotate=True skipped: {n_q}x{n_k} cells are too small for numbers. Hint: use a "
            "bigger figure or fewer tokens.",
            UserWarning,
            stacklevel=3,
        )
        return
    norm = image.norm if image.norm.vmin is not None else Normalize(np.nanmin(w), np.nanmax(w))
    rgba = image.cmap(norm(np.ma.masked_invalid(w)))  # NaN and -inf cells get the grey "bad" colour
    luminance = rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722])  # (n_q, n_k)
    for i in range(n_q):
        for j in range(n_k):
            ax.text(
                j,
                i,
                f"{w[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=size,
                color="black" if luminance[i, j] > 0.45 else "white",
            )
