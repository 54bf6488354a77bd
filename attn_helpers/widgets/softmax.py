"""Explorers for notebook 02: softmax with a temperature, and why the scores are scaled."""

from __future__ import annotations

import math
from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np

from ..core import softmax
from ._base import Explorer, InputProblem, largest_weight, tied_for_max

__all__ = [
    "make_scaling_explorer",
    "make_softmax_explorer",
    "scaling_statistics",
    "softmax_summary",
]

BAR_COLOR = "#21918c"  # viridis(0.5)
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0)
LINE_COLOR = "#3b528b"  # viridis(0.25)

#: How much "it" (the query) matches a few words of the running example (made-up scores).
DEFAULT_TOKENS = ("trophy", "suitcase", "fit", "big")
DEFAULT_SCORES = (2.0, 1.0, 0.5, -1.0)
MAX_SCORES = 12


def entropy(weights, axis=-1) -> np.ndarray:
    """Shannon entropy in nats of weights that sum to 1 along ``axis`` (0 log 0 = 0)."""
    w = np.asarray(weights, dtype=float)
    logs = np.log(np.where(w > 0, w, 1.0))
    return -(w * logs).sum(axis=axis)


def softmax_summary(scores, *, temperature=1.0) -> dict:
    """The numbers the softmax explorer shows.

    Parameters
    ----------
    scores : array_like of shape (n,)
        One query's scores for ``n`` keys.
    temperature : float, default 1.0

    Returns
    -------
    dict with keys
        ``weights`` (n,), ``entropy`` (nats), ``max_entropy`` (= log n, the uniform case),
        ``max_weight``, ``argmax`` (index of the largest weight) and ``tied``: the indices of
        every weight within 0.005 of the largest (one index: a clear winner; all n: every
        weight is equal, a tie, not a win for the first key).
    """
    weights = softmax(scores, temperature=temperature)  # (n,)
    return {
        "weights": weights,
        "entropy": float(entropy(weights)),
        "max_entropy": math.log(weights.shape[-1]),
        "max_weight": float(weights.max()),
        "argmax": int(weights.argmax()),
        "tied": tied_for_max(weights).tolist(),
    }


class _SoftmaxExplorer(Explorer):
    title = "Softmax explorer"
    figsize = (6.0, 2.9)

    def __init__(self, scores, tokens):
        self.tokens = tokens
        sliders = {
            f"score {i}": widgets.FloatSlider(
                value=float(s),
                min=-6.0,
                max=6.0,
                step=0.1,
                description=f"{tok}",
                readout_format=".1f",
                style={"description_width": "70px"},
            )
            for i, (s, tok) in enumerate(zip(scores, tokens))
        }
        temperature = widgets.FloatLogSlider(
            value=1.0,
            base=10,
            min=-1.3,
            max=1.0,
            step=0.05,
            description="temperature",
            readout_format=".2f",
            style={"description_width": "90px"},
        )
        controls = {**sliders, "temperature": temperature}
        rows = [list(sliders.values())[i : i + 2] for i in range(0, len(sliders), 2)]
        super().__init__(
            controls,
            control_rows=[*rows, [temperature]],
            caption="move a score or the temperature; the weights always sum to 1",
        )

    def _build(self, figure):
        ax = figure.subplots()
        n = len(self.tokens)
        bars = ax.bar(range(n), np.zeros(n), color=BAR_COLOR)
        ax.axhline(1.0 / n, color=LINE_COLOR, linestyle="--", linewidth=1, label=f"uniform (1/{n})")
        ax.set_xticks(range(n), self.tokens)
        ax.set_ylim(0.0, 1.0)
        ax.set_ylabel("weight (after softmax)")
        ax.set_title("Attention weights of one query")
        ax.legend(loc="upper right", frameon=False, fontsize=8)
        self.dynamic(*bars)  # the numbers are in the readout line: text is slow to render
        return SimpleNamespace(ax=ax, bars=bars)

    def _compute(self):
        scores = np.array([self.controls[f"score {i}"].value for i in range(len(self.tokens))])
        return softmax_summary(scores, temperature=self.controls["temperature"].value)

    def _apply(self, data, art):
        weights = data["weights"]
        winners = data["tied"] if len(data["tied"]) < len(weights) else []  # all equal: none
        for i, (bar, w) in enumerate(zip(art.bars, weights)):
            bar.set_height(w)
            bar.set_color(HIGHLIGHT_COLOR if i in winners else BAR_COLOR)
        listing = " · ".join(f"{t} {w:.2f}" for t, w in zip(self.tokens, weights))
        readout = (
            f"weights: {listing} | entropy {data['entropy']:.2f} nats (uniform: "
            f"{data['max_entropy']:.2f}) | {largest_weight(weights, self.tokens)}"
        )
        return readout, None


def make_softmax_explorer(scores=None, tokens=None) -> Explorer:
    """Sliders for each score and the temperature; bars of the softmax weights.

    Parameters
    ----------
    scores : array_like of shape (n,), optional
        Starting scores, 2 <= n <= 12, each within -6 ... 6 (the sliders' range). Default: how
        much "it" matches "trophy", "suitcase", "fit", "big" (made-up numbers).
    tokens : sequence of str of length n, optional
        A name for each score. Default: the tokens above, or "key 0", "key 1", ...

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; display it (or let the cell return it) to use it. The readout
        line prints the weights, their entropy and the largest weight.
    """
    if scores is None:
        scores = DEFAULT_SCORES if tokens is None or len(tokens) == len(DEFAULT_SCORES) else None
    if scores is None:
        raise ValueError("give scores along with tokens, e.g. scores=[2.0, 1.0, 0.5].")
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or not 2 <= scores.shape[0] <= MAX_SCORES:
        raise ValueError(
            f"scores must be a 1-D list of 2 to {MAX_SCORES} numbers (one slider each); got "
            f"shape {scores.shape}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be finite numbers; got {scores.tolist()}.")
    scores = np.clip(scores, -6.0, 6.0)
    if tokens is None:
        tokens = DEFAULT_TOKENS if scores.shape[0] == len(DEFAULT_TOKENS) else None
        tokens = tokens or [f"key {i}" for i in range(scores.shape[0])]
    tokens = [str(t) for t in tokens]
    if len(tokens) != scores.shape[0]:
        raise ValueError(
            f"tokens must name each score: got {len(tokens)} tokens for {scores.shape[0]} scores."
        )
    return _SoftmaxExplorer(scores, tokens)


# --------------------------------------------------------------------------- scaling

SCALE_CHOICES = ("sqrt(d_k)", "sqrt(d_model)", "none")
HIST_LIMIT = 20.0  # the histogram shows scores in -20 ... 20; the rest piles into the edge bins
HIST_EDGES = np.linspace(-HIST_LIMIT, HIST_LIMIT, 81)  # 80 bins of width 0.5
HIST_YMAX = 0.5  # a taller peak is cut off and its height printed above it


def _normal_cdf(x, std):
    erf = np.frompyfunc(math.erf, 1, 1)
    return 0.5 * (1.0 + erf(np.asarray(x, dtype=float) / (std * math.sqrt(2.0))).astype(float))


def scaling_statistics(
    d_k, *, spread=1.0, scale="sqrt(d_k)", num_heads=8, seq_len=16, num_queries=64, seed=0
) -> dict:
    """Scores and weights of random q and k, with the chosen scale, against the theory.

    Entries of q (num_queries, d_k) and k (seq_len, d_k) are drawn from N(0, spread**2). Then
    ``q . k`` is a sum of d_k products of variance spread**4, so the unscaled scores have standard
    deviation ``spread**2 * sqrt(d_k)``; dividing by sqrt(d_k) brings it back to ``spread**2``.

    Parameters
    ----------
    d_k : int
    spread : float, default 1.0
        Standard deviation of the entries of q and k.
    scale : {"sqrt(d_k)", "sqrt(d_model)", "none"}
        What the scores are divided by; d_model = num_heads * d_k.
    num_heads, seq_len, num_queries, seed : int
        Sizes of the random sample and its seed.

    Returns
    -------
    dict with keys
        ``scores`` (num_queries, seq_len), ``weights`` (num_queries, seq_len), ``factor`` (what
        the scores were multiplied by), ``d_model`` (= num_heads * d_k), ``theory_std``, ``score_std`` (measured),
        ``mean_entropy``, ``max_entropy`` (log seq_len), ``mean_max_weight``, ``sorted_weights``
        (seq_len,): each row's weights sorted from largest to smallest, averaged over rows.
    """
    if scale not in SCALE_CHOICES:
        raise ValueError(f"scale must be one of {SCALE_CHOICES}; got {scale!r}.")
    d_model = num_heads * d_k
    factor = {
        "sqrt(d_k)": 1 / math.sqrt(d_k),
        "sqrt(d_model)": 1 / math.sqrt(d_model),
        "none": 1.0,
    }[scale]
    rng = np.random.default_rng(seed)
    q = rng.normal(0.0, spread, size=(num_queries, d_k))
    k = rng.normal(0.0, spread, size=(seq_len, d_k))
    scores = (q @ k.T) * factor  # (num_queries, d_k) @ (d_k, seq_len) -> (num_queries, seq_len)
    weights = softmax(scores, axis=-1)
    return {
        "scores": scores,
        "weights": weights,
        "factor": factor,
        "d_model": d_model,
        "theory_std": spread**2 * math.sqrt(d_k) * factor,
        "score_std": float(scores.std()),
        "mean_entropy": float(entropy(weights).mean()),
        "max_entropy": math.log(seq_len),
        "mean_max_weight": float(weights.max(axis=-1).mean()),
        "sorted_weights": -np.sort(-weights, axis=-1).mean(axis=0),
    }


def histogram_fractions(scores) -> np.ndarray:
    """Fraction of ``scores`` in each bin of HIST_EDGES; values beyond go to the edge bins."""
    clipped = np.clip(np.ravel(scores), -HIST_LIMIT + 1e-9, HIST_LIMIT - 1e-9)
    counts, _ = np.histogram(clipped, bins=HIST_EDGES)
    return counts / max(clipped.size, 1)


def theory_fractions(std) -> np.ndarray:
    """Expected fraction per bin for N(0, std**2) scores, edge bins collecting the tails."""
    cdf = _normal_cdf(HIST_EDGES, max(std, 1e-12))
    cdf[0], cdf[-1] = 0.0, 1.0
    return np.diff(cdf)


#: The scale control: one set of buttons, the pressed one is what the scores are divided by.
SCALE_LABELS = {"sqrt(d_k)": "√d_k", "sqrt(d_model)": "√d_model", "none": "nothing (no scaling)"}
NUM_HEADS = 8  # d_model = NUM_HEADS * d_k, as in a layer of 8 heads (shown next to the buttons)


class _ScalingExplorer(Explorer):
    title = "Scaling explorer"
    figsize = (8.0, 3.0)
    seq_len = 16

    def __init__(self):
        controls = {
            "d_k": widgets.SelectionSlider(
                options=[2**i for i in range(10)], value=64, description="d_k"
            ),
            "spread": widgets.FloatSlider(
                value=1.0, min=0.25, max=2.0, step=0.05, description="spread of q, k"
            ),
            "scale": widgets.ToggleButtons(
                options=[(SCALE_LABELS[v], v) for v in SCALE_CHOICES],
                value="sqrt(d_k)",
                description="divide scores by",
                tooltips=[
                    "√d_k: the size of one head's q and k (what attention uses)",
                    f"√d_model: the width of the whole layer, d_model = {NUM_HEADS} heads × d_k",
                    "no scaling: the raw dot products",
                ],
            ),
        }
        for c in controls.values():
            c.style = {"description_width": "initial"}
        controls["scale"].style = {"description_width": "initial", "button_width": "auto"}
        self.d_model_note = widgets.HTML()  # d_model spelled out: the heads are not hidden
        super().__init__(
            controls,
            control_rows=[
                [controls["d_k"], controls["spread"]],
                [controls["scale"], self.d_model_note],
            ],
            caption="grow d_k with 'nothing (no scaling)' pressed, then press √d_k; watch the "
            "weights' shape",
        )

    def _build(self, figure):
        ax_s, ax_w = figure.subplots(1, 2)
        centers = (HIST_EDGES[:-1] + HIST_EDGES[1:]) / 2
        hist = ax_s.stairs(
            np.zeros(centers.size), HIST_EDGES, fill=True, color=BAR_COLOR, label="scores"
        )
        (theory,) = ax_s.plot(
            centers,
            np.zeros(centers.size),
            color=HIGHLIGHT_COLOR,
            lw=1.5,
            label="theory N(0, std²)",
        )
        peak = ax_s.text(0, 0.95 * HIST_YMAX, "", ha="left", va="top", fontsize=8)
        ax_s.set_xlim(-HIST_LIMIT, HIST_LIMIT)
        ax_s.set_ylim(0, HIST_YMAX)
        ax_s.set_xlabel("score (values beyond ±20 pile up at the edges)")
        ax_s.set_ylabel("fraction of scores")
        ax_s.set_title("Scores q·k, divided as chosen")
        ax_s.legend(loc="upper left", frameon=False, fontsize=8)
        n = self.seq_len
        wbars = ax_w.bar(np.arange(1, n + 1), np.zeros(n), color=BAR_COLOR)
        ax_w.axhline(1 / n, color=LINE_COLOR, ls="--", lw=1, label=f"uniform 1/{n}")
        ax_w.set_ylim(0, 1)
        ax_w.set_xlim(0.4, n + 0.6)
        ax_w.set_xticks(range(1, n + 1, 3))  # ranks are whole numbers: 1, 4, ..., 16
        ax_w.set_xlabel("key rank (largest weight first)")
        ax_w.set_ylabel("mean weight")
        ax_w.set_title(f"Weights of a query over {n} keys")
        ax_w.legend(loc="upper right", frameon=False, fontsize=8)
        self.dynamic(hist, theory, peak, *wbars)
        return SimpleNamespace(
            ax_s=ax_s, ax_w=ax_w, hist=hist, theory=theory, peak=peak, wbars=wbars
        )

    def _compute(self):
        c = self.controls
        scale = c["scale"].value
        # A control set in code can hold what no click could (None, say): say so in the
        # course's words, keep the last picture, and carry on at the next valid value.
        if scale not in SCALE_CHOICES:
            raise InputProblem(
                f"'divide scores by' is {scale!r}; press one of {', '.join(SCALE_LABELS.values())}."
            )
        d_k, spread = c["d_k"].value, c["spread"].value
        if not isinstance(d_k, int) or d_k < 1:
            raise InputProblem(f"d_k must be a positive whole number; got {d_k!r}.")
        if not isinstance(spread, int | float) or not 0 < spread < math.inf:
            raise InputProblem(f"the spread of q and k must be a positive number; got {spread!r}.")
        stats = scaling_statistics(
            d_k, spread=spread, scale=scale, num_heads=NUM_HEADS, seq_len=self.seq_len
        )
        stats["scale"] = scale
        stats["d_k"] = d_k
        stats["fractions"] = histogram_fractions(stats["scores"])
        stats["theory"] = theory_fractions(stats["theory_std"])
        return stats

    def _apply(self, data, art):
        fractions = data["fractions"]
        art.hist.set_data(np.minimum(fractions, HIST_YMAX))
        art.theory.set_ydata(np.minimum(data["theory"], HIST_YMAX))
        top = int(fractions.argmax())
        clipped = fractions[top] > HIST_YMAX
        art.peak.set_text(f"← cut off: {fractions[top]:.2f}" if clipped else "")
        art.peak.set_x(HIST_EDGES[top + 1] + 0.5)
        for bar, h in zip(art.wbars, data["sorted_weights"]):
            bar.set_height(h)
        d_k, d_model = data["d_k"], data["d_model"]
        self.d_model_note.value = (
            f"d_model = {NUM_HEADS} heads × d_k = {NUM_HEADS} × {d_k} = <b>{d_model}</b>"
        )
        divisor = {"sqrt(d_k)": ("√d_k", d_k), "sqrt(d_model)": ("√d_model", d_model)}
        if data["scale"] == "none":
            how = "scores not scaled (divided by 1)"
        else:
            name, size = divisor[data["scale"]]
            how = f"scores divided by {name} = √{size} = {math.sqrt(size):.1f}"
        readout = (
            f"{how} | score std: measured {data['score_std']:.2f}, theory "
            f"{data['theory_std']:.2f} (spread² · √d_k ÷ divisor) | mean entropy "
            f"{data['mean_entropy']:.2f} of {data['max_entropy']:.2f} nats | mean top weight "
            f"{data['mean_max_weight']:.2f}"
        )
        return readout, None


def make_scaling_explorer() -> Explorer:
    """Why divide by sqrt(d_k)? Sliders for d_k and the spread of q and k, and one row of
    buttons for what the scores are divided by (√d_k, √d_model or nothing; the pressed button
    is the state). Next to the buttons, d_model = 8 heads × d_k is spelled out. The figure: a
    histogram of the scores against the theory, and the weights of a query, largest first.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. The readout prints the divisor, the measured and theoretical
        standard deviation of the scores, the mean entropy and the mean top weight.
    """
    return _ScalingExplorer()
