"""Explorer for notebook 09: step through generation and watch each new query attend over the cache."""

from __future__ import annotations

from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np

from ..decoder import CausalLM, decode_step, prefill
from ._base import Explorer, InputProblem

__all__ = ["decoding_trace", "make_decoding_explorer"]

BAR_COLOR = "#21918c"  # viridis(0.5)
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0)
MAX_TOKENS = 24


def decoding_trace(model: CausalLM, prompt: str, *, max_new_tokens=16) -> dict:
    """Generate greedily from ``prompt`` with the KV cache and record every step's attention.

    Parameters
    ----------
    model : CausalLM
    prompt : str
        Words separated by spaces; ``<bos>`` is put in front if missing.
    max_new_tokens : int, default 16

    Returns
    -------
    dict with keys
        ``words`` (list of str, prompt and generated), ``prompt_len`` (int) and ``steps``: for each
        generated word, the weights of shape (num_heads, cache_len) its step's query gave to the
        cache (the query is the word *before* it, which predicted it).

    Raises
    ------
    InputProblem
        Empty prompt, unknown words or a prompt too long to show.
    """
    if not isinstance(prompt, str) or not prompt.split():
        raise InputProblem("Type a prompt first, e.g. 'the trophy'.")
    words = prompt.lower().split()
    if words[0] != "<bos>":
        words = ["<bos>", *words]
    if len(words) >= MAX_TOKENS:
        raise InputProblem(
            f"That prompt has {len(words)} words; this explorer shows at most {MAX_TOKENS - 1}."
        )
    known = set(model.vocab)
    unknown = [w for w in dict.fromkeys(words) if w not in known]  # in order, each once
    if unknown:
        raise InputProblem(unknown_words_message(unknown, model.vocab))
    ids = list(model.encode(words))
    logits, cache = prefill(model, ids[:-1])
    prompt_len = len(ids)
    steps = []
    last = ids[-1]
    for _ in range(min(max_new_tokens, MAX_TOKENS - prompt_len)):
        logits, cache, weights = decode_step(model, int(last), cache)  # query = the last word
        last = int(np.argmax(logits))
        ids.append(last)
        steps.append(weights)  # (h, cache_len)
        if model.vocab[last] == ".":
            break
    return {"words": model.decode(ids), "prompt_len": prompt_len, "steps": steps}


def unknown_words_message(unknown, vocab) -> str:
    """A learner's message for words the model does not know: the words, and some it knows.

    ``["zebra"]`` -> "The model does not know the word 'zebra'. It knows 56 words, those of
    the course's generated sentences, e.g. ...". Special tokens (``<bos>``, ``<pad>``) are
    neither counted nor suggested: a learner never types them.
    """
    words = [w for w in vocab if not (w.startswith("<") and w.endswith(">"))]
    quoted = [f"'{w}'" for w in unknown[:3]] + (["..."] if len(unknown) > 3 else [])
    named = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    the_word = "the word" if len(unknown) == 1 else "the words"
    examples = [w for w in _EXAMPLE_WORDS if w in words] or words[:8]
    return (
        f"The model does not know {the_word} {named}. It knows {len(words)} words, those of "
        f"the course's generated sentences, e.g. {', '.join(examples)}. Try 'the trophy' or "
        "'she could not'."
    )


#: Words to suggest when a prompt has an unknown one (all in the model's vocabulary).
_EXAMPLE_WORDS = ("the", "trophy", "suitcase", "she", "could", "not", "fit", "into")


class _DecodingExplorer(Explorer):
    title = "Decoding explorer"
    figsize = (8.2, 3.4)

    def __init__(self, model):
        self.model = model
        style = {"description_width": "initial"}
        controls = {
            "prompt": widgets.Text(value="the trophy", description="prompt", style=style),
            "step": widgets.IntSlider(
                value=1, min=1, max=1, description="generated word", style=style
            ),
            "head": widgets.Dropdown(
                options=list(range(model.num_heads)), value=0, description="head", style=style
            ),
        }
        super().__init__(
            controls,
            control_rows=[[controls["prompt"]], [controls["step"], controls["head"]]],
            caption="each step: one new query, attending over the KV cache of all earlier words",
        )

    def _build(self, figure):
        ax = figure.subplots()
        bars = ax.bar(range(MAX_TOKENS), np.zeros(MAX_TOKENS), color=BAR_COLOR)
        ax.set_ylim(0, 1)
        ax.set_xlim(-0.5, MAX_TOKENS - 0.5)
        ax.set_ylabel("attention weight")
        ax.set_xlabel("key in the cache")
        ax.set_title("The new query's weights over the cache")
        # Room for the longest word's label: the layout is computed once, with these, then frozen.
        ax.set_xticks(range(MAX_TOKENS), ["backpack"] * MAX_TOKENS, rotation=90)
        self.dynamic(*bars)
        return SimpleNamespace(ax=ax, bars=bars)

    def _compute(self):
        c = self.controls
        trace = decoding_trace(self.model, c["prompt"].value)
        n = len(trace["steps"])
        if c["step"].max != n:  # the slider runs over the words this prompt generated
            with self.quietly():
                c["step"].max = n  # ipywidgets clamps the value too
        step = min(c["step"].value, n)
        return {**trace, "step": step, "head": c["head"].value, "n": n}

    def _apply(self, data, art):
        words, step, head = data["words"], data["step"], data["head"]
        weights = data["steps"][step - 1][head]  # (cache_len,)
        cache_len = len(weights)
        for i, bar in enumerate(art.bars):
            bar.set_height(weights[i] if i < cache_len else 0.0)
            bar.set_color(HIGHLIGHT_COLOR if i == cache_len - 1 else BAR_COLOR)
        shown = tuple(words[:cache_len])
        art.ax.set_xticks(range(len(shown)), shown, rotation=90)
        query, produced = words[cache_len - 1], words[cache_len]
        top = int(np.argmax(weights))
        readout = (
            f"step {step} of {data['n']}: query '{query}' (position {cache_len - 1}) attends over "
            f"{cache_len} cached keys, most to '{words[top]}' ({weights[top]:.2f}); it predicts "
            f"'{produced}'. After '{' '.join(words[1 : data['prompt_len']])}' it generated: "
            f"{' '.join(words[data['prompt_len'] :])}"
        )
        return readout, shown


def make_decoding_explorer(model: CausalLM) -> Explorer:
    """Step through greedy generation with a KV cache: each new query's weights over the cache.

    Type a prompt; the slider picks a generated word; the bars are the weights that the query
    which predicted it gave to every word in the cache (the query itself highlighted).

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; never displayed by this function.
    """
    if not isinstance(model, CausalLM):
        raise TypeError(
            f"model must be a CausalLM from train_causal_lm(); got {type(model).__name__}."
        )
    return _DecodingExplorer(model)
