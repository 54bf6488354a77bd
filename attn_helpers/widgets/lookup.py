"""Explorer for notebook 01: attention as a soft lookup, with a 2-D query among four keys."""

from __future__ import annotations

import math
from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np

from ..core import scaled_dot_product_attention
from ._base import Explorer

__all__ = ["make_qkv_explorer", "single_query_attention"]

BAR_COLOR = "#21918c"  # viridis(0.5)
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0)
LINE_COLOR = "#3b528b"  # viridis(0.25)
OUTPUT_COLOR = "#fde725"  # viridis(1.0)

#: Four words of the running example as keys and values in 2-D (made-up, readable numbers).
TOKENS = ("trophy", "suitcase", "fit", "big")
KEYS = np.array([[2.0, 1.0], [-1.0, 2.0], [0.5, -2.0], [-2.0, -1.0]])  # (4, d_k=2)
VALUES = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # (4, d_v=2)


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
        controls = {
            "q_x": widgets.FloatSlider(
                value=1.5, min=-3, max=3, step=0.1, description="query x", style=style
            ),
            "q_y": widgets.FloatSlider(
                value=0.5, min=-3, max=3, step=0.1, description="query y", style=style
            ),
            "scale": widgets.FloatLogSlider(
                value=1 / math.sqrt(2),
                base=10,
                min=-1.3,
                max=0.8,
                step=0.02,
                description="scale (1/√d_k = 0.71)",
                readout_format=".2f",
                style=style,
            ),
        }
        super().__init__(
            controls,
            control_rows=[[controls["q_x"], controls["q_y"]], [controls["scale"]]],
            caption="move the query (or click in the left panel); raise the scale for a hard lookup",
        )
        self.figure.canvas.mpl_connect("button_press_event", self._on_click)

    def _on_click(self, event):
        if event.inaxes is not self.art.ax_k or event.xdata is None:
            return
        with self.hold():
            self.controls["q_x"].value = float(np.clip(round(event.xdata, 1), -3, 3))
            self.controls["q_y"].value = float(np.clip(round(event.ydata, 1), -3, 3))

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
        ax_v.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", title="values ● and output ★")
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
        out = ", ".join(f"{o:.2f}" for o in data["output"])
        scores = ", ".join(f"{t} {s:.2f}" for t, s in zip(TOKENS, data["scores"]))
        best = TOKENS[int(w.argmax())]
        readout = f"scores: {scores} | output = {blend} = ({out}) | largest weight: '{best}' {w.max():.2f}"
        return readout, None


def make_qkv_explorer() -> Explorer:
    """Attention as a soft lookup: a 2-D query among four keys, each carrying a 2-D value.

    Sliders move the query (a click in the left panel does too, with ipympl) and set the scale.
    The weights are the softmax of the scaled dot products; the output is the weighted sum of
    the values, so it always lies inside the values' convex hull.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. The readout prints the scores, the blend and the output.
    """
    return _QKVExplorer()
