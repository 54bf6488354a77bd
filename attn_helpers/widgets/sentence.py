"""Explorers for notebooks 03, 04 and 08: a typed sentence, and heads side by side."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from .._validation import as_float_array, shape_str
from ..plotting._labels import _axis_length_pt, _display, _fit_labels, _ordinal
from ._base import Explorer, InputProblem, relayout, token_label

__all__ = ["make_heads_explorer", "make_sentence_explorer", "prepare_sentence"]

RUNNING_EXAMPLE = "The trophy didn't fit in the suitcase because it was too big."
#: The most tokens an explorer draws by default: at this many, every label still gets at least
#: 7 pt of room in the figure (a test measures the drawn labels). More can be asked for with
#: ``max_tokens``; the labels then shrink, and past a point only every n-th is labelled.
MAX_TOKENS = 32
LINE_COLOR = "#3b528b"  # viridis(0.25)
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0)
ROW_COLOR = "#fde725"  # viridis(1.0): the query row's outline on the heatmap


def _toy_attend(sentence):
    from ..toy import toy_attention

    return toy_attention(sentence)


def as_layers_heads(weights, tokens=None, *, name="weights") -> np.ndarray:
    """Return weights as (layers, heads, T, T), accepting (T, T) or (heads, T, T) too."""
    w = as_float_array(weights, name)
    if not 2 <= w.ndim <= 4 or w.shape[-1] != w.shape[-2]:
        raise ValueError(
            f"{name} must have shape (layers, heads, seq_len, seq_len), (heads, seq_len, seq_len) "
            f"or (seq_len, seq_len); got {name}.shape={shape_str(w.shape)}."
        )
    if tokens is not None and len(tokens) != w.shape[-1]:
        raise ValueError(
            f"tokens must label every position: got {len(tokens)} tokens for {name}.shape="
            f"{shape_str(w.shape)} (seq_len={w.shape[-1]})."
        )
    return w.reshape((1,) * (4 - w.ndim) + w.shape)  # (..., T, T) -> (L, H, T, T)


def prepare_sentence(sentence, attend=None, *, max_tokens=MAX_TOKENS):
    """Tokenise, run ``attend`` and validate, before anything is drawn.

    Parameters
    ----------
    sentence : str
    attend : callable, optional
        ``attend(sentence) -> (tokens, weights)`` with weights of shape
        (layers, heads, seq_len, seq_len). Default: the course's hand-made toy model
        (``attn_helpers.toy.toy_attention``).
    max_tokens : int, default 32

    Returns
    -------
    tokens : list of str
    weights : ndarray of shape (layers, heads, seq_len, seq_len)

    Raises
    ------
    InputProblem
        With a short, learner-facing message: empty text, too many tokens, unknown words,
        or an ``attend`` that failed or returned something unusable.
    """
    attend = _toy_attend if attend is None else attend
    if not isinstance(sentence, str) or not sentence.strip():
        raise InputProblem("Type a sentence first, e.g. " + repr(RUNNING_EXAMPLE) + ".")
    words = sentence.split()
    if len(words) > 10 * max_tokens:  # far too long: do not even run the model
        raise InputProblem(
            f"That text has {len(words)} words; this explorer shows at most {max_tokens} tokens."
        )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tokens, weights = attend(sentence)
    except ValueError as err:
        raise InputProblem(f"Can't use that sentence: {err}") from err
    except Exception as err:
        raise InputProblem(
            f"The model failed on that sentence ({type(err).__name__}: {err})."
        ) from err
    cut = ""
    for w in caught:  # the model's truncation notice goes to the message line, others pass on
        dropped = getattr(w.message, "dropped", None)
        if dropped is not None and type(w.message).__name__ == "TruncationWarning":
            cut = f" (the model already cut it: {sum(dropped)} more word pieces were dropped)"
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    tokens = [str(t) for t in tokens]
    if len(tokens) > max_tokens:
        raise InputProblem(
            f"That sentence has {len(tokens)} tokens{cut}; this explorer shows at most "
            f"{max_tokens}. Try a shorter one."
        )
    if cut:  # even when the explorer could draw it: a cut text is never shown as if whole
        raise InputProblem(
            f"The model read only the first {len(tokens)} tokens of that text{cut}, so the "
            "picture would not show all of it. Try a shorter one."
        )
    try:
        weights = as_layers_heads(weights, tokens)
    except (TypeError, ValueError) as err:
        raise InputProblem(f"The model returned unusable weights: {err}") from err
    return tokens, weights


MIN_LABEL_PT = 6.5  # smallest token label the explorers draw (the figure's size is fixed)
MAX_LABEL_PT = 9.0


def label_layout(n: int, length_pt: float) -> tuple[float, int]:
    """Font size and step for ``n`` token labels along ``length_pt`` points.

    The plotting helpers' rule (``attn_helpers.plotting``), with the explorers' bounds: a label
    gets 85 % of its share of the axis, between 6.5 and 9 pt (the figure's size is fixed); when
    even 6.5 pt would overlap, only every ``step``-th token is labelled (and the axis says so).
    """
    return _fit_labels(n, length_pt, min_pt=MIN_LABEL_PT, max_pt=MAX_LABEL_PT)


def _set_heatmap(ax, image, weights, tokens) -> int:
    """Show ``weights`` with token labels fitted to the Axes' current size; return the step."""
    n = len(tokens)
    image.set_data(weights)
    image.set_extent((-0.5, n - 0.5, n - 0.5, -0.5))
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    size, step = label_layout(n, min(_axis_length_pt(ax, "x"), _axis_length_pt(ax, "y")))
    shown = range(0, n, step)
    labels = [_display(tokens[i]) for i in shown]
    ax.set_xticks(shown, labels, rotation=90, fontsize=size)
    ax.set_yticks(shown, labels, fontsize=size)
    every = "" if step == 1 else f", every {_ordinal(step)} labelled"
    ax.set_xlabel(f"key (looked at){every}")
    if ax.get_ylabel():  # the heads explorer labels only its left panel's rows
        ax.set_ylabel(f"query (looking){every}")
    return step


def _fit_heatmaps(figure, fit) -> None:
    """Lay out, fit the labels to the Axes' sizes, and lay out again if they changed."""
    fit()
    relayout(figure)
    fit()  # the labels' own size moved the axes a little: fit again, then freeze
    relayout(figure)


class _SentenceExplorer(Explorer):
    title = "Sentence explorer"
    figsize = (8.2, 4.8)

    def __init__(self, sentence, attend, max_tokens):
        self.attend, self.max_tokens = attend, max_tokens
        self._shown = None  # (tokens, weights) last drawn
        style = {"description_width": "initial"}
        narrow = {"width": "150px"}  # one Layout per widget: display is set per control
        controls = {
            "sentence": widgets.Text(
                value=sentence,
                description="sentence",
                continuous_update=False,
                layout=widgets.Layout(width="640px"),
                style=style,
            ),
            "query": widgets.Dropdown(
                options=[("-", 0)], value=0, description="query token", style=style
            ),
            "layer": widgets.Dropdown(
                options=[0],
                value=0,
                description="layer",
                style=style,
                layout=widgets.Layout(**narrow),
            ),
            "head": widgets.Dropdown(
                options=[0],
                value=0,
                description="head",
                style=style,
                layout=widgets.Layout(**narrow),
            ),
        }
        super().__init__(
            controls,
            control_rows=[
                [controls["sentence"]],
                [controls["query"], controls["layer"], controls["head"]],
            ],
            caption="type a sentence and press Enter; pick the query token",
        )

    def _build(self, figure):
        ax_h, ax_l = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        image = ax_h.imshow(np.zeros((2, 2)), cmap="viridis", vmin=0.0, vmax=1.0)
        figure.colorbar(image, ax=ax_h, shrink=0.8, label="weight")
        ax_h.set_xlabel("key (looked at)")
        ax_h.set_ylabel("query (looking)")
        row = ax_h.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec=ROW_COLOR, lw=2))
        lines = ax_l.add_collection(LineCollection([], capstyle="round"))
        marker = ax_l.add_patch(Rectangle((0, 0), 0.3, 0.9, color="#e8e2f0", zorder=0))
        query_text = ax_l.text(  # the query token, bold, drawn over the marker
            0.27, 0, "", ha="right", va="center", fontweight="bold", color=HIGHLIGHT_COLOR
        )
        left = [ax_l.text(0.27, 0, "", ha="right", va="center") for _ in range(self.max_tokens)]
        right = [ax_l.text(0.73, 0, "", ha="left", va="center") for _ in range(self.max_tokens)]
        ax_l.set_xlim(0, 1)
        ax_l.axis("off")
        self.dynamic(image, row, marker, query_text, lines)
        return SimpleNamespace(
            query_text=query_text,
            ax_h=ax_h,
            image=image,
            row=row,
            ax_l=ax_l,
            lines=lines,
            marker=marker,
            left=left,
            right=right,
            tokens=None,
        )

    def _sync_choices(self, tokens, weights):
        c = self.controls
        layers, heads = weights.shape[:2]
        old = self._shown[0] if self._shown else None
        query = c["query"].value
        if old != tokens:
            query = tokens.index("it") if "it" in tokens else len(tokens) - 1
        with self.quietly():
            c["query"].options = [(token_label(tokens, i), i) for i in range(len(tokens))]
            c["query"].value = min(query, len(tokens) - 1)
            for name, n, default in (("layer", layers, layers - 1), ("head", heads, 0)):
                if list(c[name].options) != list(range(n)):
                    c[name].options = list(range(n))
                    c[name].value = default
                c[name].layout.display = None if n > 1 else "none"

    def _compute(self):
        c = self.controls
        text, note = c["sentence"].value, None
        if self._shown is not None and text == self._bad[0]:
            note = self._bad[1]  # still the bad text: keep explaining, but let the rest work
        elif self._shown is None or text != self._shown_text:
            try:
                tokens, weights = prepare_sentence(text, self.attend, max_tokens=self.max_tokens)
            except InputProblem as problem:
                self._bad = (text, str(problem))
                raise
            self._sync_choices(tokens, weights)
            self._shown, self._shown_text = (tokens, weights), text
        tokens, weights = self._shown
        return {
            "tokens": tokens,
            "weights": weights[c["layer"].value, c["head"].value],  # (T, T)
            "query": c["query"].value,
            "layer": c["layer"].value,
            "head": c["head"].value,
            "note": note,
        }

    _shown_text = None
    _bad = (None, "")  # the last rejected text and why

    def _set_tokens(self, art, weights, tokens):
        """Token labels on the heatmap and in the lines panel, fitted to the room they have."""
        n = len(tokens)
        step = _set_heatmap(art.ax_h, art.image, weights, tokens)
        size, step_l = label_layout(n, _axis_length_pt(art.ax_l, "y"))
        step = max(step, step_l)
        for side, texts in (("left", art.left), ("right", art.right)):
            for i, text in enumerate(texts):
                # Thinned out, the left column keeps only the query (bold, drawn on its own).
                shown = i < n and i % step == 0 and (side == "right" or step == 1)
                text.set_visible(shown)
                if i < n:
                    text.set_text(_display(tokens[i]))
                    text.set_y(-i)
                    text.set_fontsize(size)
        every = "" if step == 1 else f" (every {_ordinal(step)} labelled)"
        art.ax_l.set_title(f"query → keys{every}" if every else "query (left) → keys (right)")
        art.query_text.set_fontsize(size)

    def _apply(self, data, art):
        tokens, w, q = data["tokens"], data["weights"], data["query"]
        n = len(tokens)
        if art.tokens != tokens:
            art.tokens = list(tokens)
            art.ax_l.set_ylim(-n + 0.5, 0.5)
            _fit_heatmaps(art.figure, lambda: self._set_tokens(art, w, tokens))
        art.image.set_data(w)
        art.row.set_xy((-0.5, q - 0.5))
        art.row.set_width(n)
        art.marker.set_bounds(0.0, -q - 0.45, 0.29, 0.9)
        art.query_text.set_text(_display(tokens[q]))
        art.query_text.set_y(-q)
        art.lines.set_segments([[(0.29, -q), (0.71, -j)] for j in range(n)])
        weights = np.clip(w[q], 0.0, 1.0)
        colors = np.tile(to_rgba(LINE_COLOR), (n, 1))
        colors[:, 3] = np.where(weights >= 0.02, 0.15 + 0.85 * weights, 0.0)
        art.lines.set_linewidths(0.5 + 7.5 * weights)
        art.lines.set_color(colors)
        from ..plotting import summarize_attention

        where = f"layer {data['layer']}, head {data['head']}: "
        readout = where + summarize_attention(w, tokens, query=q, top=2)
        return readout, tuple(tokens)


def make_sentence_explorer(
    sentence=RUNNING_EXAMPLE, attend=None, *, max_tokens=MAX_TOKENS
) -> Explorer:
    """Type a sentence, pick a query token, see its attention as a heatmap and as lines.

    Parameters
    ----------
    sentence : str, default the course's running example
    attend : callable, optional
        ``attend(sentence) -> (tokens, weights)``, weights of shape (layers, heads, seq_len,
        seq_len), e.g. the real model's ``attend`` or a trained model's ``.attention``.
        Default: the hand-made toy model of ``attn_helpers.toy`` (it raises for unknown words,
        which the explorer shows as a message).
    max_tokens : int, default 32
        Longer sentences get a message instead of an unreadable picture. Up to 32 tokens every
        label is drawn; above that, labels shrink and then only every n-th is drawn.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. The readout says where the query looks, e.g.
        "layer 1, head 0: 'it' gives 0.62 of its attention to 'trophy', then ...".
        Bad input (empty, too long, unknown words) shows a message and keeps the last picture.
    """
    if attend is not None and not callable(attend):
        raise TypeError(f"attend must be a function sentence -> (tokens, weights); got {attend!r}.")
    return _SentenceExplorer(sentence, attend, int(max_tokens))


# --------------------------------------------------------------------------- heads


class _HeadsExplorer(Explorer):
    title = "Heads explorer"
    figsize = (8.2, 4.2)

    def __init__(self, sentences, layer_names, left, right, query):
        self.sentences = sentences  # {name: (tokens, weights (L, H, T, T))}, one or more
        names = list(sentences)
        tokens, weights = sentences[names[0]]
        self.tokens, self.weights = tokens, weights  # the sentence shown first
        heads = weights.shape[1]
        style = {"description_width": "initial"}
        lname = [(f"{i}: {n}" if n else str(i), i) for i, n in enumerate(layer_names)]

        def dd(desc, options, value, width="260px"):
            return widgets.Dropdown(
                options=options,
                value=value,
                description=desc,
                style=style,
                layout=widgets.Layout(width=width),
            )

        controls = {
            "query": dd("query token", _query_options(tokens), query),
            "left layer": dd("left: layer", lname, left[0]),
            "left head": dd("head", list(range(heads)), left[1], "120px"),
            "right layer": dd("right: layer", lname, right[0]),
            "right head": dd("head", list(range(heads)), right[1], "120px"),
        }
        rows = [
            [controls["left layer"], controls["left head"]],
            [controls["right layer"], controls["right head"]],
            [controls["query"]],
        ]
        caption = "compare any two heads; the outlined row is the query token"
        if len(names) > 1:
            controls["sentence"] = widgets.ToggleButtons(
                options=names,
                value=names[0],
                description="sentence",
                style={"description_width": "initial", "button_width": "auto"},
            )
            rows.insert(0, [controls["sentence"]])
            caption += "; switch the sentence and watch whether the query's row changes"
        super().__init__(controls, control_rows=rows, caption=caption)

    def _build(self, figure):
        axes = figure.subplots(1, 2)
        art = SimpleNamespace(axes=axes, images=[], rows=[], tokens=None)
        for ax in axes:
            image = ax.imshow(np.zeros((2, 2)), cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_title("layer 0, head 0")  # a placeholder, so the frozen layout has room
            row = ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec=ROW_COLOR, lw=2))
            ax.set_xlabel("key (looked at)")
            art.images.append(image)
            art.rows.append(row)
            self.dynamic(image, row)
        axes[0].set_ylabel("query (looking)")
        figure.colorbar(art.images[1], ax=axes, shrink=0.8, label="weight")
        art.titles = [None, None]  # the real titles are set by the first update
        return art

    def _compute(self):
        c = self.controls
        name = c["sentence"].value if "sentence" in c else next(iter(self.sentences))
        if name not in self.sentences:  # set in code to something no button offers
            raise InputProblem(f"'sentence' is {name!r}; press one of the sentence buttons.")
        tokens, weights = self.sentences[name]
        if tokens != self.tokens:  # another sentence: same position, its own token labels
            with self.quietly():
                position = min(c["query"].value, len(tokens) - 1)
                c["query"].options = _query_options(tokens)
                c["query"].value = position
            self.tokens, self.weights = tokens, weights
        picks = [(c[f"{s} layer"].value, c[f"{s} head"].value) for s in ("left", "right")]
        return {
            "name": name if len(self.sentences) > 1 else None,
            "tokens": tokens,
            "picks": picks,
            "query": c["query"].value,
            "weights": [weights[layer, head] for layer, head in picks],
        }

    def _apply(self, data, art):
        from ..plotting import summarize_attention

        tokens, q = data["tokens"], data["query"]
        if art.tokens != tokens:
            art.tokens = list(tokens)
            _fit_heatmaps(
                art.figure,
                lambda: [
                    _set_heatmap(ax, image, w, tokens)
                    for ax, image, w in zip(art.axes, art.images, data["weights"])
                ],
            )
        parts = []
        for k, ((layer, head), w) in enumerate(zip(data["picks"], data["weights"])):
            art.images[k].set_data(w)
            art.rows[k].set_xy((-0.5, q - 0.5))
            art.rows[k].set_width(len(tokens))
            title = f"layer {layer}, head {head}"
            if art.titles[k] != title:  # titles are static: part of the static key
                art.axes[k].set_title(title)
                art.titles[k] = title
            parts.append(f"{title}: " + summarize_attention(w, tokens, query=q, top=2))
        readout = " | ".join(parts)
        if data["name"] is not None:
            readout = f"{data['name']} {readout}"
        return readout, (tuple(tokens), *art.titles)


def _query_options(tokens):
    return [(token_label(tokens, i), i) for i in range(len(tokens))]


def _pick(pick, name, layers, heads):
    try:
        layer, head = (int(v) for v in pick)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a (layer, head) pair, e.g. (2, 7); got {pick!r}."
        ) from None
    if not (0 <= layer < layers and 0 <= head < heads):
        raise ValueError(
            f"{name}={pick!r} is out of range: the weights have {layers} layers and {heads} heads "
            f"(valid: 0 ... {layers - 1} and 0 ... {heads - 1})."
        )
    return layer, head


def _check_sentences(tokens, weights, sentences) -> dict:
    """``{name: (tokens, weights (L, H, T, T))}`` from either form of the arguments, checked."""
    if sentences is None:
        if tokens is None or weights is None:
            raise TypeError(
                "give tokens and weights, e.g. make_heads_explorer(tokens, weights), or several "
                "sentences as sentences={'big': (tokens_big, weights_big), ...}."
            )
        sentences = {"": (tokens, weights)}
    elif tokens is not None or weights is not None:
        raise TypeError(
            "give either tokens and weights or sentences={name: (tokens, weights), ...}, not both."
        )
    elif not isinstance(sentences, dict) or not sentences:
        raise TypeError(
            "sentences must be a non-empty dict {name: (tokens, weights)}, e.g. "
            "{'...too big.': (tokens_big, weights_big), '...too small.': (tokens_small, "
            f"weights_small)}}; got {type(sentences).__name__}."
        )
    checked, shape = {}, None
    for name, pair in sentences.items():
        try:
            toks, w = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"sentences[{name!r}] must be a (tokens, weights) pair; got {type(pair).__name__}."
            ) from None
        toks = [str(t) for t in toks]
        w = as_layers_heads(w, toks)
        if len(toks) > MAX_TOKENS:
            raise ValueError(
                f"the heads explorer shows at most {MAX_TOKENS} tokens; got {len(toks)}"
                + (f" in sentences[{name!r}]." if name else ".")
            )
        if shape is not None and w.shape[:2] != shape:
            raise ValueError(
                f"every sentence must come from the same model: sentences[{name!r}] has "
                f"(layers, heads) = {w.shape[:2]}, the first one {shape}."
            )
        shape = w.shape[:2]
        checked[str(name)] = (toks, w)
    return checked


def make_heads_explorer(
    tokens=None,
    weights=None,
    *,
    sentences=None,
    layer_names=None,
    left=None,
    right=None,
    query=None,
) -> Explorer:
    """Pick two (layer, head) pairs and compare their attention heatmaps side by side.

    Parameters
    ----------
    tokens : sequence of str of length seq_len
    weights : array_like of shape (layers, heads, seq_len, seq_len)
        Every head's weights, as returned by the toy, real or trained model
        ((heads, T, T) and (T, T) are accepted too).
    sentences : dict of str -> (tokens, weights), optional
        Instead of ``tokens`` and ``weights``: several sentences run through the same model,
        e.g. a minimal pair ``{'"...too big."': (tokens_big, weights_big), '"...too small."':
        (tokens_small, weights_small)}``. Buttons switch between them; the heads and the query
        position stay, so the same row can be compared across the sentences.
    layer_names : sequence of str, optional
        A name per layer for the dropdowns, e.g. ``attn_helpers.toy.LAYER_NAMES``.
    left, right : (int, int), optional
        The (layer, head) shown first on each side. Default: (0, 0), and (0, 1) if there are
        several heads, else (1, 0).
    query : int or str, optional
        The query token whose row is outlined and described: a position or a token (of the
        first sentence). Default: "it" if the sentence has it, else the first token.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. The readout says where the chosen query looks in each head.
    """
    sentences = _check_sentences(tokens, weights, sentences)
    tokens, weights = next(iter(sentences.values()))
    layer_names = [""] * weights.shape[0] if layer_names is None else [str(n) for n in layer_names]
    if len(layer_names) != weights.shape[0]:
        raise ValueError(
            f"layer_names must name each of the {weights.shape[0]} layers; got {len(layer_names)}."
        )
    layers, heads = weights.shape[:2]
    left = _pick((0, 0) if left is None else left, "left", layers, heads)
    default_right = (0, 1) if heads > 1 else (min(1, layers - 1), 0)
    right = _pick(default_right if right is None else right, "right", layers, heads)
    if query is None:
        query = tokens.index("it") if "it" in tokens else 0
    elif isinstance(query, str):
        if query not in tokens:
            raise ValueError(f"query={query!r} is not one of the tokens: {tokens}.")
        query = tokens.index(query)
    elif not 0 <= int(query) < len(tokens):
        raise ValueError(f"query must be a position 0 ... {len(tokens) - 1}; got {query}.")
    return _HeadsExplorer(sentences, layer_names, left, right, int(query))
