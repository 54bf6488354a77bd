"""Explorer for notebook 01: attention as a soft lookup, with a 2-D query among four keys."""

from __future__ import annotations

import math
from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np

from ..core import scaled_dot_product_attention
from ._base import Explorer, largest_weight, number

__all__ = ["make_qkv_explorer", "single_query_attention"]

BAR_COLOR = "#21918c"  # viridis(0.5)
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0)
LINE_COLOR = "#3b528b"  # viridis(0.25)
OUTPUT_COLOR = "#fde725"  # viridis(1.0)

#: The hand-made 2-D example of notebook 01, section 5 (``small_tokens``, ``keys_2d``,
#: ``values_2d``): axis 0 = "goes inside something", axis 1 = "is a container". The explorer
#: uses the same numbers under the same names, so what a learner sees here is what section 5
#: computes (a test compares them with the notebook).
TOKENS = ("trophy", "suitcase", "big", "the")
KEYS = np.array([[2.0, 0.0], [0.3, 2.0], [0.5, 0.5], [0.0, -0.5]])  # (4, d_k=2)
VALUES = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.0, 0.0]])  # (4, d_v=2)
#: Section 5's query of "it" in "...too big.": where the star starts.
START_QUERY = (1.5, 0.2)
QUERY_LIMIT = 3.0  # the query sliders run over -3 ... 3
QUERY_STEP = 0.1

#: The scale slider is logarithmic, with a grid of exponents that contains log10(1/sqrt(2))
#: exactly, so the slider starts on 1/sqrt(d_k) = 0.71, as its label says, and a browser has
#: nothing to snap (a grid from -1.3 would put the nearest stops at 0.69 and 0.72).
SCALE_START = 1 / math.sqrt(2)
SCALE_STEP = 0.02
SCALE_MIN = math.log10(SCALE_START) - 58 * SCALE_STEP  # 10**-1.31 = 0.049
SCALE_MAX = math.log10(SCALE_START) + 48 * SCALE_STEP  # 10**0.81 = 6.4


def snap_query(x, y):
    """A pointer position as the sliders hold it: rounded to 0.1, clipped to -3 ... 3."""
    return tuple(
        float(np.clip(round(float(v), 1), -QUERY_LIMIT, QUERY_LIMIT)) + 0.0  # + 0.0: no -0.0
        for v in (x, y)
    )


def drag_query(dragging, kind, *, in_axes, x=None, y=None):
    """What a mouse event does to the query: the logic of click-and-drag, as a plain function.

    A press in the keys' panel moves the query there and starts a drag; while dragging, every
    motion inside the panel moves it; a release ends the drag where it happens (ipympl throttles
    motion events, so the last ones can be dropped; the release is always sent); the pointer
    leaving the figure ends it too (a button released out there is never reported). Motion
    without a drag does nothing.

    Parameters
    ----------
    dragging : bool
        Whether a drag is under way.
    kind : {"press", "motion", "release", "leave"}
        The event: left button pressed, pointer moved, button released, pointer left the figure.
    in_axes : bool
        Whether the pointer is over the keys' panel (``x``, ``y`` are then data coordinates).
    x, y : float, optional

    Returns
    -------
    dragging : bool
        The drag state after the event.
    query : (float, float) or None
        Where the query moves (snapped to the sliders' grid), or None: leave it where it is.
    """
    inside = in_axes and x is not None and y is not None
    if kind == "press":
        return (True, snap_query(x, y)) if inside else (False, None)
    if kind == "motion":
        return dragging, (snap_query(x, y) if dragging and inside else None)
    if kind == "release":  # the browser throttles motion events: the release has the last word
        return False, (snap_query(x, y) if dragging and inside else None)
    if kind == "leave":
        return False, None
    raise ValueError(f"kind must be 'press', 'motion', 'release' or 'leave'; got {kind!r}.")


def single_query_attention(query, keys, values, *, scale=None):
    """One query looks up keys and blends their values: attention for a single query.

    Parameters
    ----------
    query : array_like of shape (d_k,)
    keys : array_like of shape (seq_len, d_k)
    values : array_like of shape (seq_len, d_v)
    scale : float, optional
        Multiplies the scores; default 1/sqrt(d_k). Large = pick the best key (hard lookup),
        small = average everything.

    Returns
    -------
    output : ndarray of shape (d_v,)
        The weighted sum of the values.
    weights : ndarray of shape (seq_len,)
    scores : ndarray of shape (seq_len,)
        ``keys @ query * scale``, before the softmax.
    """
    q = np.asarray(query, dtype=float)[None, :]  # (d_k,) -> (1, d_k)
    k = np.asarray(keys, dtype=float)
    scale = 1.0 / math.sqrt(k.shape[-1]) if scale is None else float(scale)
    output, weights = scaled_dot_product_attention(q, k, values, scale=scale)  # (1, d_v), (1, T)
    scores = (k @ q[0]) * scale  # (T, d_k) @ (d_k,) -> (T,)
    return output[0], weights[0], scores


class _QKVExplorer(Explorer):
    title = "Soft lookup explorer"
    figsize = (8.2, 3.0)

    def __init__(self):
        style = {"description_width": "initial"}
        slider = {"min": -QUERY_LIMIT, "max": QUERY_LIMIT, "step": QUERY_STEP, "style": style}
        controls = {
            "q_x": widgets.FloatSlider(value=START_QUERY[0], description="query x", **slider),
            "q_y": widgets.FloatSlider(value=START_QUERY[1], description="query y", **slider),
            "scale": widgets.FloatLogSlider(
                value=SCALE_START,
                base=10,
                min=SCALE_MIN,
                max=SCALE_MAX,
                step=SCALE_STEP,
                description=f"scale (starts at 1/√d_k = {SCALE_START:.2f})",
                readout_format=".2f",
                style=style,
                layout=widgets.Layout(width="480px"),  # the long label must leave a track
            ),
        }
        super().__init__(
            controls,
            control_rows=[[controls["q_x"], controls["q_y"]], [controls["scale"]]],
            caption="drag the query ★ in the left panel (or use the sliders); raise the scale "
            "for a hard lookup",
        )
        self._dragging = False
        canvas = self.figure.canvas
        for name, kind in (
            ("button_press_event", "press"),
            ("motion_notify_event", "motion"),
            ("button_release_event", "release"),
            ("figure_leave_event", "leave"),
        ):
            canvas.mpl_connect(name, lambda event, kind=kind: self._on_mouse(kind, event))

    def _on_mouse(self, kind, event):
        if kind == "press" and getattr(event, "button", 1) != 1:
            return  # only the left button drags
        self._dragging, query = drag_query(
            self._dragging,
            kind,
            in_axes=getattr(event, "inaxes", None) is self.art.ax_k,
            x=getattr(event, "xdata", None),
            y=getattr(event, "ydata", None),
        )
        if query is None or query == (self.controls["q_x"].value, self.controls["q_y"].value):
            return
        with self.hold():  # both sliders, one update
            self.controls["q_x"].value, self.controls["q_y"].value = query

    def _build(self, figure):
        ax_k, ax_w, ax_v = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.1, 1]})
        ax_k.scatter(KEYS[:, 0], KEYS[:, 1], s=60, color=LINE_COLOR, marker="s", zorder=2)
        for (x, y), tok in zip(KEYS, TOKENS):
            ax_k.annotate(
                tok, (x, y), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=9
            )
        lines = [ax_k.plot([0, x], [0, y], color=BAR_COLOR, lw=0, zorder=1)[0] for x, y in KEYS]
        (query,) = ax_k.plot(
            [0], [0], marker="*", ms=16, color=HIGHLIGHT_COLOR, ls="none", zorder=3
        )
        ax_k.set(xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal", title="query ★ and keys ■")
        ax_k.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax_k.axvline(0, color="0.85", lw=0.8, zorder=0)
        bars = ax_w.bar(range(len(TOKENS)), np.zeros(len(TOKENS)), color=BAR_COLOR)
        ax_w.set_xticks(range(len(TOKENS)), TOKENS)
        ax_w.set(ylim=(0, 1), title="weights = softmax(q·k × scale)")
        values = ax_v.scatter(
            VALUES[:, 0], VALUES[:, 1], s=np.full(len(TOKENS), 40.0), color=BAR_COLOR, zorder=2
        )
        for (x, y), tok in zip(VALUES, TOKENS):
            ax_v.annotate(
                f"v_{tok}",
                (x, y),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        (output,) = ax_v.plot(
            [0], [0], marker="*", ms=16, color=HIGHLIGHT_COLOR, mec="k", ls="none", zorder=3
        )
        ax_v.set(xlim=(-0.4, 1.4), ylim=(-0.4, 1.4), aspect="equal", title="values ● and output ★")
        self.dynamic(*lines, query, *bars, values, output)  # numbers: in the readout line
        return SimpleNamespace(
            ax_k=ax_k, lines=lines, query=query, bars=bars, values=values, output=output
        )

    def _compute(self):
        c = self.controls
        q = np.array([c["q_x"].value, c["q_y"].value])
        output, weights, scores = single_query_attention(q, KEYS, VALUES, scale=c["scale"].value)
        return {"query": q, "output": output, "weights": weights, "scores": scores}

    def _apply(self, data, art):
        q, w = data["query"], data["weights"]
        art.query.set_data([q[0]], [q[1]])
        for i, line in enumerate(art.lines):
            line.set_data([q[0], KEYS[i, 0]], [q[1], KEYS[i, 1]])
            line.set_linewidth(0.5 + 6 * w[i])
            line.set_alpha(0.2 + 0.8 * w[i])
        for bar, wi in zip(art.bars, w):
            bar.set_height(wi)
        art.values.set_sizes(20 + 400 * w)
        art.output.set_data([data["output"][0]], [data["output"][1]])
        blend = " + ".join(f"{wi:.2f}·v_{t}" for wi, t in zip(w, TOKENS))
        out = ", ".join(number(o) for o in data["output"])
        scores = ", ".join(f"{t} {number(s)}" for t, s in zip(TOKENS, data["scores"]))
        readout = f"scores: {scores} | output = {blend} = ({out}) | {largest_weight(w, TOKENS)}"
        return readout, None


def make_qkv_explorer() -> Explorer:
    """Attention as a soft lookup: a 2-D query among four keys, each carrying a 2-D value.

    The keys and values are those of notebook 01, section 5 ("trophy", "suitcase", "big",
    "the"); the query starts at section 5's query of "it". Drag the query in the left panel
    (with ipympl; a click moves it too) or use the sliders; a third slider sets the scale.
    The weights are the softmax of the scaled dot products; the output is the weighted sum of
    the values, so it always lies inside the values' convex hull.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. The readout prints the scores, the blend and the output.
    """
    return _QKVExplorer()
