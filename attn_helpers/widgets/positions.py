"""Explorer for notebook 05: attention cannot see order until positions are added."""

from __future__ import annotations

import math
from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np

from ..core import scaled_dot_product_attention, sinusoidal_positions
from ..toy import TROPHY_SENTENCE
from ._base import Explorer

__all__ = ["ORDERS", "make_position_explorer", "reorder", "reordering_changes"]

TOKENS = tuple(TROPHY_SENTENCE.replace(".", " .").split())  # ("The", "trophy", ..., "big", ".")
ORDERS = ("original", "swap 'trophy' and 'suitcase'", "reversed", "shuffled")
BAR_COLOR = "#21918c"  # viridis(0.5)
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0)
CHANGED = 0.01  # a relative change above 1% counts as "changed"
HEATMAP_POSITIONS = 50


def reorder(order, seq_len, *, seed=0) -> np.ndarray:
    """The permutation for one of ORDERS: new position i holds the token from position perm[i]."""
    if order == "original":
        return np.arange(seq_len)
    if order == "reversed":
        return np.arange(seq_len)[::-1].copy()
    if order == "shuffled":
        return np.random.default_rng(seed).permutation(seq_len)
    if order == ORDERS[1]:
        perm = np.arange(seq_len)
        perm[[1, 6]] = perm[[6, 1]]  # the running example's "trophy" (1) and "suitcase" (6)
        return perm
    raise ValueError(f"order must be one of {ORDERS}; got {order!r}.")


def reordering_changes(
    tokens, perm, *, d_model=16, base=10000.0, use_positions=True, seed=0
) -> dict:
    """How much each token's self-attention output changes when the tokens are reordered.

    Each distinct word gets a fixed random embedding (seeded); random projections w_q, w_k, w_v
    of shape (d_model, d_model) are shared by both orders. Without positional encodings,
    attention is permutation-equivariant: every token's output is unchanged, only moved.

    Parameters
    ----------
    tokens : sequence of str of length seq_len
    perm : array_like of int, shape (seq_len,)
        New position i holds the token from old position perm[i].
    d_model : int, default 16
    base : float, default 10000.0
        Base of the sinusoidal encodings.
    use_positions : bool, default True
        Add ``sinusoidal_positions(seq_len, d_model, base=base)`` to the embeddings.
    seed : int, default 0

    Returns
    -------
    dict with keys
        ``change`` (seq_len,): relative change of each token's output, in the original order;
        ``output`` and ``output_reordered`` (seq_len, d_model).
    """
    tokens = list(tokens)
    perm = np.asarray(perm)
    seq_len = len(tokens)
    if sorted(perm.tolist()) != list(range(seq_len)):
        raise ValueError(f"perm must be a permutation of 0 ... {seq_len - 1}; got {perm.tolist()}.")
    rng = np.random.default_rng(seed)
    vocab = sorted(set(tokens))
    table = rng.normal(size=(len(vocab), d_model))  # (vocab, d_model)
    w_q, w_k, w_v = rng.normal(size=(3, d_model, d_model)) / math.sqrt(d_model)
    x = table[[vocab.index(t) for t in tokens]]  # (T, d_model)
    positions = sinusoidal_positions(seq_len, d_model, base=base) if use_positions else 0.0

    def attend(x):
        h = x + positions  # (T, d_model)
        return scaled_dot_product_attention(h @ w_q, h @ w_k, h @ w_v)[0]

    output = attend(x)
    output_reordered = attend(x[perm])  # the token at new position i is old token perm[i]
    change = np.empty(seq_len)
    diff = np.linalg.norm(output_reordered - output[perm], axis=-1)
    change[perm] = diff / np.linalg.norm(output[perm], axis=-1)
    return {"change": change, "output": output, "output_reordered": output_reordered}


class _PositionExplorer(Explorer):
    title = "Position explorer"
    figsize = (8.2, 3.6)

    def __init__(self):
        style = {"description_width": "initial"}
        controls = {
            "order": widgets.Dropdown(
                options=ORDERS, value=ORDERS[1], description="reorder", style=style
            ),
            "positions": widgets.Checkbox(
                value=False, description="add sinusoidal positions", style=style
            ),
            "d_model": widgets.SelectionSlider(
                options=[4, 8, 16, 32, 64, 128], value=16, description="d_model", style=style
            ),
            "base": widgets.SelectionSlider(
                options=[10, 100, 1000, 10000, 100000], value=10000, description="base", style=style
            ),
        }
        super().__init__(
            controls,
            control_rows=[
                [controls["order"], controls["positions"]],
                [controls["d_model"], controls["base"]],
            ],
            caption="reorder the sentence; which outputs change, with and without positions?",
        )

    def _build(self, figure):
        ax_p, ax_c = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
        image = ax_p.imshow(
            np.zeros((HEATMAP_POSITIONS, 4)),
            cmap="viridis",
            vmin=-1,
            vmax=1,
            aspect="auto",
            interpolation="nearest",
        )
        figure.colorbar(image, ax=ax_p, shrink=0.8)
        ax_p.set_xlabel("feature (even: sin, odd: cos)")
        ax_p.set_ylabel("position")
        ax_p.set_title("sinusoidal positions\nd_model=16, base=10000")  # room for the real one
        n = len(TOKENS)
        bars = ax_c.bar(range(n), np.zeros(n), color=BAR_COLOR)
        ax_c.set_xticks(range(n), TOKENS, rotation=90)
        ax_c.set_ylim(0, 1.5)
        ax_c.set_ylabel("relative change of output")
        ax_c.set_title("How much each token's output changed")
        self.dynamic(*bars)  # the heatmap is static: it changes only with the static key
        return SimpleNamespace(ax_p=ax_p, image=image, bars=bars, d_model=None, base=None)

    def _compute(self):
        c = self.controls
        perm = reorder(c["order"].value, len(TOKENS))
        result = reordering_changes(
            TOKENS,
            perm,
            d_model=c["d_model"].value,
            base=float(c["base"].value),
            use_positions=c["positions"].value,
        )
        result["heatmap"] = sinusoidal_positions(
            HEATMAP_POSITIONS, c["d_model"].value, base=float(c["base"].value)
        )
        result.update(
            d_model=c["d_model"].value,
            base=c["base"].value,
            use_positions=c["positions"].value,
            order=c["order"].value,
        )
        return result

    def _apply(self, data, art):
        d_model = data["d_model"]
        if art.d_model != d_model or art.base != data["base"]:
            art.d_model, art.base = d_model, data["base"]
            art.image.set_extent((-0.5, d_model - 0.5, HEATMAP_POSITIONS - 0.5, -0.5))
            art.ax_p.set_xlim(-0.5, d_model - 0.5)
            art.ax_p.set_title(f"sinusoidal positions\nd_model={d_model}, base={data['base']}")
            art.image.set_data(data["heatmap"])
        change = data["change"]
        changed = change > CHANGED
        for bar, h, big in zip(art.bars, np.minimum(change, 1.5), changed):
            bar.set_height(h)
            bar.set_color(HIGHLIGHT_COLOR if big else BAR_COLOR)
        mode = (
            f"{data['order']}, with positions"
            if data["use_positions"]
            else f"{data['order']}, without positions"
        )
        if not changed.any():
            readout = (
                f"{mode}: reordering changes no token's output (largest change {change.max():.1e}); "
                "each output only moves with its token. Attention alone cannot see order."
            )
        else:
            top = int(change.argmax())
            readout = (
                f"{mode}: {changed.sum()} of {len(change)} outputs change by more than "
                f"{CHANGED:.0%} (largest: '{TOKENS[top]}', {change[top]:.2f})."
            )
        return readout, (d_model, data["base"])


def make_position_explorer() -> Explorer:
    """Reorder the running example, add or remove sinusoidal positions, see which outputs change.

    Left: the sinusoidal encodings (50 positions) for the chosen d_model and base. Right: for
    each token, how much its self-attention output changed after reordering. Without positions
    nothing changes (attention is permutation-equivariant); with them, outputs change.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. The readout counts the changed outputs.
    """
    return _PositionExplorer()
