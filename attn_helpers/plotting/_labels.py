"""Checks of weights and token labels, and token tick labels that stay readable on long sentences."""

from __future__ import annotations

import numbers

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.font_manager import FontProperties

from .._validation import as_float_array, shape_str

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


def _fit_labels(
    n: int, length_pt: float, *, min_pt: float = _MIN_LABEL_PT, max_pt: float | None = None
) -> tuple[float, int]:
    """Font size and label step so ``n`` labels along ``length_pt`` points do not overlap.

    A label gets 85 % of its share of the axis, between ``min_pt`` and ``max_pt`` (default: the
    rcParams tick-label size); when even ``min_pt`` would overlap, only every ``step``-th label
    is drawn. The explorers use the same rule with their own bounds.
    """
    spacing = max(length_pt, 1.0) / max(n, 1)
    step = 1
    while 0.85 * step * spacing < min_pt and step < n:
        step += 1
    top = _default_label_size() if max_pt is None else max_pt
    return min(top, 0.85 * step * spacing), step


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


def _query_labels(w: np.ndarray, keys: list[str], query_tokens) -> list[str]:
    if query_tokens is not None:
        return _token_list(query_tokens, w.shape[0], "query_tokens", "queries (rows)", w.shape)
    if w.shape[0] == w.shape[1]:
        return keys
    return [str(i) for i in range(w.shape[0])]
