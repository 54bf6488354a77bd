"""Explorer for notebook 10: any layer and head of SmolLM2-135M-Instruct on a sentence you type."""

from __future__ import annotations

from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np

from ._base import Explorer, InputProblem

__all__ = ["make_smollm_explorer", "smollm_attention"]

MAX_TOKENS = 32


def smollm_attention(model, text: str) -> dict:
    """Tokens and attention weights of ``text`` under ``model`` (a :class:`~attn_helpers.smollm.SmolLM`).

    Returns
    -------
    dict with keys
        ``tokens`` (list of str, one readable label per token), ``weights`` (num_layers,
        num_heads, T, T) and ``sink`` (num_layers, num_heads): the mean weight that queries
        1..T-1 give to position 0 (NaN for a one-token text).

    Raises
    ------
    InputProblem
        Empty text, a text longer than ``MAX_TOKENS`` tokens, or an unknown special token.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputProblem("Type a sentence first, e.g. 'The trophy didn't fit in the suitcase.'")
    try:
        ids = model.tokenize(text)
    except ValueError as err:
        raise InputProblem(str(err)) from err
    if len(ids) > MAX_TOKENS:
        raise InputProblem(
            f"That text has {len(ids)} tokens; this explorer shows at most {MAX_TOKENS}. Shorten it."
        )
    weights = model.attend(ids)  # (L, H, T, T)
    sink = (
        weights[:, :, 1:, 0].mean(axis=-1) if len(ids) > 1 else np.full(weights.shape[:2], np.nan)
    )
    return {"tokens": model.token_strings(ids), "weights": weights, "sink": sink}


class _SmolLMExplorer(Explorer):
    title = "SmolLM2 attention explorer"
    figsize = (6.4, 5.6)

    def __init__(self, model, text):
        self.model = model
        self._cache = {}
        c = model.config
        style = {"description_width": "initial"}
        controls = {
            "text": widgets.Text(
                value=text, description="text", style=style, layout={"width": "95%"}
            ),
            "layer": widgets.IntSlider(
                value=0, min=0, max=c.num_layers - 1, description="layer", style=style
            ),
            "head": widgets.IntSlider(
                value=0, min=0, max=c.num_heads - 1, description="query head", style=style
            ),
        }
        super().__init__(
            controls,
            control_rows=[[controls["text"]], [controls["layer"], controls["head"]]],
            caption="rows: queries, columns: keys; the first column is where the sink shows",
        )

    def _build(self, figure):
        ax = figure.subplots()
        image = ax.imshow(
            np.full((MAX_TOKENS, MAX_TOKENS), np.nan),
            cmap="viridis",
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        figure.colorbar(image, ax=ax, label="attention weight")
        ax.set_xlabel("key")
        ax.set_ylabel("query")
        # Room for long labels and the title: the layout is computed once, with these, then frozen.
        ax.set_title("layer 29, query head 8 (kv head 2)")
        ax.set_xticks(range(MAX_TOKENS), ["␣suitcases"] * MAX_TOKENS, rotation=90)
        ax.set_yticks(range(MAX_TOKENS), ["␣suitcases"] * MAX_TOKENS)
        self.dynamic(image)
        return SimpleNamespace(ax=ax, image=image)

    def _compute(self):
        c = self.controls
        text = c["text"].value
        if text not in self._cache:
            self._cache = {text: smollm_attention(self.model, text)}  # keep only the latest text
        return {**self._cache[text], "layer": c["layer"].value, "head": c["head"].value}

    def _apply(self, data, art):
        tokens, layer, head = data["tokens"], data["layer"], data["head"]
        T = len(tokens)
        w = data["weights"][layer, head]  # (T, T)
        shown = np.full((MAX_TOKENS, MAX_TOKENS), np.nan)
        shown[:T, :T] = w
        art.image.set_data(np.ma.masked_invalid(shown))
        art.ax.set_xlim(-0.5, T - 0.5)
        art.ax.set_ylim(T - 0.5, -0.5)
        art.ax.set_xticks(range(T), tokens, rotation=90)
        art.ax.set_yticks(range(T), tokens)
        kv = head // (self.model.config.num_heads // self.model.config.num_kv_heads)
        art.ax.set_title(f"layer {layer}, query head {head} (kv head {kv})")
        sink = data["sink"][layer, head]
        mean_sink = float(np.nanmean(data["sink"][layer]))
        readout = (
            f"{T} tokens. Layer {layer}, head {head}: queries 1..{T - 1} give on average {sink:.2f} of "
            f"their attention to the first token '{tokens[0]}' (all 9 heads of this layer: "
            f"{mean_sink:.2f}; uniform attention would give {np.mean(1 / np.arange(2, T + 1)):.2f})."
        )
        return readout, (tuple(tokens), layer, head)


def make_smollm_explorer(
    model, text="The trophy didn't fit in the suitcase because it was too big."
) -> Explorer:
    """Pick a layer and a query head of SmolLM2 and see its attention on a sentence you type.

    The readout gives the head's attention-sink share (the weight on the first token) next to what
    uniform attention would give.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; never displayed by this function.
    """
    from ..smollm import SmolLM

    if not isinstance(model, SmolLM):
        raise TypeError(f"model must be a SmolLM from load_smollm(); got {type(model).__name__}.")
    return _SmolLMExplorer(model, text)
