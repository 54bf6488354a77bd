"""Explorer for notebook 05: masks (True = may attend), fill values and fully masked rows."""

from __future__ import annotations

from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap

from ..core import causal_mask, padding_mask, softmax
from ._base import Explorer

__all__ = ["make_mask_explorer", "mask_for", "masked_weights"]

MASK_KINDS = ("none", "causal", "padding", "causal + left padding")
FILLS = ("-inf", "-1e9", "safe")
FILL_LABELS = {
    "-inf": "-inf, plain softmax",
    "-1e9": "-1e9",
    "safe": "safe: attn_helpers (zeros)",
}
WORDS = ("The", "trophy", "didn't", "fit", "in", "the", "suitcase", "because")
PAD = "<pad>"
NAN_COLOR = "#d62728"  # outside viridis, so NaN cells stand out (and are labelled "NaN")


def mask_for(kind, seq_len, num_pad):
    """The mask and tokens for one setting of the explorer.

    Parameters
    ----------
    kind : {"none", "causal", "padding", "causal + left padding"}
        "padding" pads at the end (``padding_mask``); "causal + left padding" puts the pads
        first, so the first queries can see only pads: their rows are fully masked.
    seq_len : int
    num_pad : int
        How many of the seq_len positions are padding (0 ... seq_len - 1).

    Returns
    -------
    mask : ndarray of bool, shape (seq_len, seq_len)
        True = may attend (row = query, column = key).
    tokens : list of str
        The words of the running example with "<pad>" where padded.
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {MASK_KINDS}; got {kind!r}.")
    if not 0 <= num_pad < seq_len:
        raise ValueError(
            f"num_pad must be between 0 and seq_len - 1 = {seq_len - 1}; got {num_pad}."
        )
    words = [WORDS[i % len(WORDS)] for i in range(seq_len - num_pad)]
    if kind == "causal + left padding":
        tokens = [PAD] * num_pad + words
        real_key = np.arange(seq_len) >= num_pad  # (T,): the pads come first
        return causal_mask(seq_len) & real_key[None, :], tokens
    tokens = words + [PAD] * num_pad
    if kind == "none":
        return np.ones((seq_len, seq_len), dtype=bool), tokens
    if kind == "causal":
        return causal_mask(seq_len), tokens
    key_mask = padding_mask([seq_len - num_pad], seq_len)[0]  # (1, T): broadcasts over queries
    return np.broadcast_to(key_mask, (seq_len, seq_len)).copy(), tokens


def pad_note(kind, num_pad) -> str:
    """What happens to the ``<pad>`` tokens under a mask that does not know about padding."""
    if num_pad == 0 or kind in ("padding", "causal + left padding"):
        return ""
    if kind == "none":
        return (
            f" Note: with no mask the {num_pad} {PAD} token(s) take part like words: every "
            "query attends to them, and they attend to everything."
        )
    return (
        f" Note: the causal mask knows nothing of padding, so the {num_pad} {PAD} token(s) at "
        "the end take part: no word sees them (they come later), but their own rows attend to "
        "the words before them (in a real batch those rows are computed and thrown away). "
        "'causal + left padding' also masks the pads as keys."
    )


def masked_weights(scores, mask, *, fill="safe"):
    """Softmax of masked scores, with three ways of filling the blocked scores.

    Parameters
    ----------
    scores : array_like of shape (seq_len_q, seq_len_k)
    mask : array_like of bool, same shape
        True = may attend.
    fill : {"-inf", "-1e9", "safe"}
        "-inf": write -inf and apply a plain softmax; a fully masked row becomes 0/0 = NaN.
        "-1e9": a large negative number; a fully masked row becomes uniform over its (masked!)
        keys. "safe": attn_helpers' softmax; a fully masked row becomes all zeros.

    Returns
    -------
    weights : ndarray of shape (seq_len_q, seq_len_k)
    """
    scores = np.asarray(scores, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    if fill == "-inf":
        blocked = np.where(mask, scores, -np.inf)
        with np.errstate(invalid="ignore", divide="ignore"):
            e = np.exp(blocked - blocked.max(axis=-1, keepdims=True))  # -inf - -inf = NaN
            return e / e.sum(axis=-1, keepdims=True)
    if fill == "-1e9":
        return softmax(np.where(mask, scores, -1e9), axis=-1)
    if fill == "safe":
        return softmax(np.where(mask, scores, -np.inf), axis=-1)
    raise ValueError(f"fill must be one of {FILLS}; got {fill!r}.")


class _MaskExplorer(Explorer):
    title = "Mask explorer"
    figsize = (8.2, 3.8)
    seq_len = 8

    def __init__(self):
        style = {"description_width": "initial"}
        controls = {
            "kind": widgets.ToggleButtons(  # "auto": each button as wide as its label
                options=MASK_KINDS,
                value="causal",
                description="mask",
                style={**style, "button_width": "auto"},
            ),
            "num_pad": widgets.IntSlider(
                value=2, min=0, max=self.seq_len - 1, description="padding tokens", style=style
            ),
            "fill": widgets.Dropdown(
                options=[(FILL_LABELS[f], f) for f in FILLS],
                value="-inf",
                description="blocked scores become",
                style=style,
            ),
        }
        rng = np.random.default_rng(0)
        self._scores = rng.normal(0.0, 1.5, size=(self.seq_len, self.seq_len))  # (T_q, T_k)
        super().__init__(
            controls,
            control_rows=[[controls["kind"]], [controls["num_pad"], controls["fill"]]],
            caption="try causal + left padding with each fill: what happens to rows with no key?",
        )

    def _build(self, figure):
        ax_m, ax_w = figure.subplots(1, 2)
        n = self.seq_len
        mask_image = ax_m.imshow(
            np.ones((n, n)), cmap=ListedColormap(["#f0f0f0", "#3b528b"]), vmin=0, vmax=1
        )
        cmap = colormaps["viridis"].with_extremes(bad=NAN_COLOR)
        image = ax_w.imshow(np.zeros((n, n)), cmap=cmap, vmin=0.0, vmax=1.0)
        figure.colorbar(image, ax=ax_w, shrink=0.8, label="weight (red = NaN)")
        notes = [
            ax_w.text(
                (n - 1) / 2,
                i,
                "",
                ha="center",
                va="center",
                fontsize=9,
                color="white",
                fontweight="bold",
            )  # fmt: skip
            for i in range(n)
        ]
        for ax in (ax_m, ax_w):  # the widest labels, so the frozen layout has room for all
            ax.set_xticks(range(n), [*WORDS, PAD][:n], rotation=90, fontsize=8)
            ax.set_yticks(range(n), [*WORDS, PAD][:n], fontsize=8)
        ax_m.set_title("mask: dark = True = may attend")
        ax_w.set_title("weights")
        for ax in (ax_m, ax_w):
            ax.set_xlabel("key")
        ax_m.set_ylabel("query")
        self.dynamic(mask_image, image, *notes)
        return SimpleNamespace(
            ax_m=ax_m, ax_w=ax_w, mask_image=mask_image, image=image, notes=notes, tokens=None
        )

    def _compute(self):
        c = self.controls
        mask, tokens = mask_for(c["kind"].value, self.seq_len, c["num_pad"].value)
        weights = masked_weights(self._scores, mask, fill=c["fill"].value)
        return {
            "mask": mask,
            "tokens": tokens,
            "weights": weights,
            "fill": c["fill"].value,
            "kind": c["kind"].value,
        }

    def _apply(self, data, art):
        tokens, mask, w = data["tokens"], data["mask"], data["weights"]
        if art.tokens != tokens:
            art.tokens = tokens
            for ax in (art.ax_m, art.ax_w):
                ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
                ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
        art.mask_image.set_data(mask.astype(float))
        art.image.set_data(np.ma.masked_invalid(w))
        full_rows = np.flatnonzero(~mask.any(axis=-1))
        note = {"-inf": "NaN", "-1e9": "uniform", "safe": "zeros"}[data["fill"]]
        for i, text in enumerate(art.notes):
            text.set_text(note if i in full_rows else "")
        if full_rows.size:
            rows = ", ".join(f"{i} ({tokens[i]})" for i in full_rows)
            effect = {
                "-inf": "their weights are NaN (0/0), and NaN would spread to every later layer",
                "-1e9": f"their weights are uniform, {1 / len(tokens):.3f} each, on keys that were masked",
                "safe": "attn_helpers gives them zero weights and a zero output, never NaN",
            }[data["fill"]]
            readout = f"{full_rows.size} fully masked row(s): {rows}: {effect}."
        else:
            readout = (
                "No row is fully masked: every query keeps at least one key, so all fills agree."
            )
        readout += pad_note(data["kind"], tokens.count(PAD))
        sums = np.nansum(w, axis=-1)
        readout += " Row sums: " + " ".join(
            "NaN" if np.isnan(w[i]).any() else f"{s:.2f}" for i, s in enumerate(sums)
        )
        return readout, tuple(tokens)


def make_mask_explorer() -> Explorer:
    """Causal and padding masks (True = may attend), and what the blocked scores are filled with.

    Choose the mask (none, causal, padding at the end, or causal with the pads first, which
    leaves the first queries with no key at all), the number of padding tokens, and the fill:
    -inf with a plain softmax (fully masked rows become NaN), -1e9 (they become uniform), or
    attn_helpers' safe softmax (zeros).

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. The readout names the fully masked rows and what each fill does
        to them, and prints every row's sum. With "none" or "causal" and some padding it also
        says that the ``<pad>`` tokens take part (those masks know nothing of padding).
    """
    return _MaskExplorer()
