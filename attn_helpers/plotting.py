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
"""

from __future__ import annotations

import math
import numbers
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, to_rgba
from matplotlib.font_manager import FontProperties

from ._validation import as_float_array, shape_str

__all__ = [
    "arc_styles",
    "plot_attention_arcs",
    "plot_attention_heads",
    "plot_attention_heatmap",
    "plot_weight_bars",
    "summarize_attention",
]

# Two colours from viridis that differ strongly in lightness (readable in grey-scale too).
BAR_COLOR = "#21918c"  # viridis(0.5), teal
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0), dark purple
LINE_COLOR = "#3b528b"  # viridis(0.25), blue

_MIN_LABEL_PT = 7.0  # smallest tick-label font size we accept before thinning labels out


# --------------------------------------------------------------------------- validation


def _weights_array(weights, ndim: int, hint: str, *, allow_nan: bool = False) -> np.ndarray:
    """``weights`` as a float array with exactly ``ndim`` axes, or a teaching error.

    With ``allow_nan`` NaN entries pass (a heatmap shows them in grey, to show what a broken mask
    does); otherwise NaN is an error, as everywhere in the package.
    """
    if allow_nan:
        arr = np.asarray(weights)
        if arr.dtype.kind in "fc" and np.isnan(arr).any():
            clean = as_float_array(np.where(np.isnan(arr), 0.0, arr), "weights")
            arr = np.where(np.isnan(arr), np.nan, clean)
        else:
            arr = as_float_array(arr, "weights")
    else:
        arr = as_float_array(weights, "weights")
    if arr.ndim != ndim:
        axes = {
            1: "(seq_len_k,)",
            2: "(seq_len_q, seq_len_k)",
            3: "(num_heads, seq_len_q, seq_len_k)",
        }
        raise ValueError(
            f"weights must be {ndim}-D with shape {axes[ndim]}; got weights.shape="
            f"{shape_str(arr.shape)}. Hint: {hint}"
        )
    return arr


_HINT_2D = (
    "for one query's weights use plot_weight_bars or weights[None, :]; for several heads use "
    "plot_attention_heads or pick one head with weights[h]."
)


def _token_list(tokens, n: int, name: str, axis_doc: str, shape) -> list[str]:
    """Check that ``tokens`` is a sequence of ``n`` labels and return them as strings."""
    if isinstance(tokens, str):
        raise TypeError(
            f"{name} must be a list of strings, one per token; got the single string "
            f"{tokens[:40]!r}. Hint: split it first, e.g. {name}=sentence.split()."
        )
    try:
        labels = [str(t) for t in tokens]
    except TypeError as err:
        raise TypeError(
            f"{name} must be a list of strings, one per token; got {type(tokens).__name__}."
        ) from err
    if len(labels) != n:
        raise ValueError(
            f"{name} has {len(labels)} entries but weights has {n} {axis_doc} "
            f"(weights.shape={shape_str(shape)}). Hint: {name} must have one label per "
            f"{axis_doc[:-1]}, in order."
        )
    return labels


def _resolve_query(query, labels: list[str], name: str = "query_tokens") -> int:
    """Turn ``query`` (an index or a token string) into a row index."""
    n = len(labels)
    if isinstance(query, str):
        hits = [i for i, t in enumerate(labels) if t == query]
        if not hits:
            raise ValueError(
                f"query={query!r} is not one of the {name}: {labels[:20]}"
                f"{' ...' if n > 20 else ''}. Hint: tokens are matched exactly (case and "
                "punctuation count); you can also pass an index."
            )
        if len(hits) > 1:
            raise ValueError(
                f"query={query!r} appears {len(hits)} times, at positions {hits}. "
                f"Hint: pass the index instead, e.g. query={hits[0]}."
            )
        return hits[0]
    if isinstance(query, bool) or not isinstance(query, numbers.Integral):
        raise TypeError(f"query must be a token string or an integer index; got {query!r}.")
    if not -n <= query < n:
        raise ValueError(
            f"query={query} is out of range for {n} queries (valid: {-n} ... {n - 1})."
        )
    return int(query) % n


# --------------------------------------------------------------------------- labels


def _display(token: str) -> str:
    """A token as matplotlib should show it: ``$`` escaped (no mathtext), blanks made visible."""
    if not token.strip():
        return repr(token)
    return token.replace("$", r"\$")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _default_label_size() -> float:
    return FontProperties(size=plt.rcParams["xtick.labelsize"]).get_size_in_points()


def _axis_length_pt(ax, which: str) -> float:
    """Length of the Axes along ``which`` ("x" or "y") in points, as currently laid out."""
    pos = ax.get_position()
    width_in, height_in = ax.figure.get_size_inches()
    return 72.0 * (pos.width * width_in if which == "x" else pos.height * height_in)


def _fit_labels(n: int, length_pt: float) -> tuple[float, int]:
    """Font size and label step so ``n`` labels along ``length_pt`` points do not overlap."""
    spacing = max(length_pt, 1.0) / n
    step = 1
    while 0.85 * step * spacing < _MIN_LABEL_PT and step < n:
        step += 1
    return min(_default_label_size(), 0.85 * step * spacing), step


def _set_token_ticks(ax, which: str, labels: list[str], axis_name: str) -> None:
    """Put token labels on the x or y axis, shrinking, rotating and thinning them as needed."""
    n = len(labels)
    size, step = _fit_labels(n, _axis_length_pt(ax, which))
    positions = list(range(0, n, step))
    shown = [_display(labels[i]) for i in positions]
    short = axis_name.split(" (")[0]  # "key (attended to)" -> "key": long labels would not fit
    name = axis_name if step == 1 else f"{short}: every {_ordinal(step)} of {n} labelled"
    if which == "y":
        ax.set_yticks(positions, shown, fontsize=size)
        ax.set_ylabel(name)
        return
    longest = max(len(s) for s in shown)
    gap = step * _axis_length_pt(ax, "x") / n  # points between two labelled ticks
    if 0.6 * size * longest <= gap:
        ax.set_xticks(positions, shown, fontsize=size)
    elif 0.7 * gap < 1.2 * size:  # at 45 degrees neighbours would touch: stand them upright
        ax.set_xticks(positions, shown, fontsize=size, rotation=90)
    else:
        ax.set_xticks(
            positions, shown, fontsize=size, rotation=45, ha="right", rotation_mode="anchor"
        )
    ax.set_xlabel(name)


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
        or when an explorer will update the image in place.
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


def _query_labels(w: np.ndarray, keys: list[str], query_tokens) -> list[str]:
    if query_tokens is not None:
        return _token_list(query_tokens, w.shape[0], "query_tokens", "queries (rows)", w.shape)
    if w.shape[0] == w.shape[1]:
        return keys
    return [str(i) for i in range(w.shape[0])]


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


# --------------------------------------------------------------------------- text summary


def summarize_attention(weights, tokens, *, query=None, query_tokens=None, top=1):
    """The one-line takeaway to print beside a figure: where does this query look?

    Parameters
    ----------
    weights : array_like of shape (seq_len_k,) or (seq_len_q, seq_len_k)
    tokens : sequence of str of length seq_len_k
        Key labels.
    query : int or str
        Which query (row) to describe: an index, or a token that occurs once. Required for a
        matrix; optional for one row, where it only names the query.
    query_tokens : sequence of str of length seq_len_q, optional
        Query labels when they differ from ``tokens``.
    top : int, default 1
        How many keys to name, largest weight first.

    Returns
    -------
    str
        For example ``"'it' gives 0.62 of its attention to 'trophy'"`` or, with ``top=2``,
        ``"'it' gives 0.62 of its attention to 'trophy', then 0.21 to 'suitcase'"``. A token that
        occurs more than once is named with its position, ``'the' (#5)``. Uniform weights give
        ``"'x' spreads its attention evenly: 0.25 to each of the 4 keys"``.

    Examples
    --------
    >>> summarize_attention([[0.9, 0.1], [0.3, 0.7]], ["cats", "sleep"], query="sleep")
    "'sleep' gives 0.70 of its attention to itself"
    """
    arr = as_float_array(weights, "weights")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"weights must be 1-D (seq_len_k,) or 2-D (seq_len_q, seq_len_k); got weights.shape="
            f"{shape_str(arr.shape)}. Hint: for several heads summarise one, weights[h]."
        )
    keys = _token_list(tokens, arr.shape[-1], "tokens", "keys (columns)", arr.shape)
    top = int(top)
    if top < 1:
        raise ValueError(f"top must be at least 1; got {top}.")
    self_index = None
    if arr.ndim == 2:
        if query is None:
            raise ValueError(
                f"weights.shape={shape_str(arr.shape)} has {arr.shape[0]} queries; say which one "
                "to describe. Hint: query='it' or query=8."
            )
        queries = _query_labels(arr, keys, query_tokens)
        row = _resolve_query(query, queries)
        w, who = arr[row], _name(queries, row)
        if queries is keys:
            self_index = row
    else:
        w = arr
        if isinstance(query, str):
            who = repr(query)
        elif query is not None and query_tokens is not None:
            who = _name(list(query_tokens), query)
        else:
            who = "this query"
    if w.size > 1 and np.allclose(w, w[0], rtol=1e-9, atol=1e-12):
        return f"{who} spreads its attention evenly: {w[0]:.2f} to each of the {w.size} keys"
    order = np.argsort(-w, kind="stable")[:top]
    parts = []
    for rank, j in enumerate(order):
        target = "itself" if j == self_index else _name(keys, j)
        parts.append(
            f"{w[j]:.2f} of its attention to {target}" if rank == 0 else f"{w[j]:.2f} to {target}"
        )
    return f"{who} gives " + ", then ".join(parts)


def _name(labels: list[str], i: int) -> str:
    """``'token'``, with its position when the token occurs more than once."""
    token = labels[i]
    return f"{token!r} (#{i})" if labels.count(token) > 1 else repr(token)
