"""Tests for attn_helpers.plotting: they assert on the returned artists, never on pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attn_helpers import softmax  # noqa: E402
from attn_helpers.plotting import (  # noqa: E402
    arc_styles,
    plot_attention_arcs,
    plot_attention_heads,
    plot_attention_heatmap,
    plot_weight_bars,
    summarize_attention,
)

TOKENS = [
    "The",
    "trophy",
    "didn't",
    "fit",
    "in",
    "the",
    "suitcase",
    "because",
    "it",
    "was",
    "too",
    "big",
    ".",
]
T = len(TOKENS)  # 13
IT, TROPHY = TOKENS.index("it"), TOKENS.index("trophy")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def weights():
    scores = np.random.default_rng(0).normal(size=(T, T))
    scores[IT, TROPHY] = 5.0  # 'it' looks at 'trophy'
    return softmax(scores)


def long_sentence(n=64):
    return [f"word{i}" for i in range(n)]


def tick_texts(labels):
    return [t.get_text() for t in labels]


# --------------------------------------------------------------------------- heatmap


def test_heatmap_draws_the_weights_with_token_labels(weights):
    fig, ax = plt.subplots()
    out = plot_attention_heatmap(weights, tokens=TOKENS, ax=ax)
    assert out is ax
    assert np.array_equal(ax.images[0].get_array(), weights)
    assert tick_texts(ax.get_xticklabels()) == TOKENS
    assert tick_texts(ax.get_yticklabels()) == TOKENS
    assert ax.images[0].colorbar is not None
    assert ax.images[0].get_cmap().name == "viridis"
    assert "query" in ax.get_ylabel()
    assert "key" in ax.get_xlabel()
    assert ax.get_title()  # a title that says what is shown


def test_heatmap_uses_current_axes_and_does_not_modify_input(weights):
    fig, (ax1, ax2) = plt.subplots(1, 2)
    plt.sca(ax2)
    before = weights.copy()
    out = plot_attention_heatmap(weights, colorbar=False, title="")
    assert out is ax2
    assert len(ax1.images) == 0
    assert np.array_equal(weights, before)
    assert ax2.get_title() == ""


def test_heatmap_cross_attention_labels():
    w = softmax(np.random.default_rng(1).normal(size=(3, 5)))
    ax = plot_attention_heatmap(w, tokens=list("abcde"), query_tokens=["x", "y", "z"])
    assert tick_texts(ax.get_xticklabels()) == list("abcde")
    assert tick_texts(ax.get_yticklabels()) == ["x", "y", "z"]


def test_heatmap_annotations_are_the_weights():
    w = np.array([[0.25, 0.75], [1.0, 0.0]])
    ax = plot_attention_heatmap(w, tokens=["a", "b"], annotate=True)
    assert [t.get_text() for t in ax.texts] == ["0.25", "0.75", "1.00", "0.00"]
    # dark cell (0.0) gets white text, bright cell (1.0) black text
    assert ax.texts[3].get_color() == "white"
    assert ax.texts[2].get_color() == "black"


def test_heatmap_annotate_skipped_with_warning_when_cells_are_tiny():
    n = 64
    w = np.full((n, n), 1 / n)
    with pytest.warns(UserWarning, match="too small"):
        ax = plot_attention_heatmap(w, tokens=long_sentence(n), annotate=True)
    assert len(ax.texts) == 0


def test_heatmap_long_sentence_thins_and_shrinks_labels():
    n = 64
    w = softmax(np.random.default_rng(2).normal(size=(n, n)))
    ax = plot_attention_heatmap(w, tokens=long_sentence(n))
    labels = ax.get_xticklabels()
    assert 10 <= len(labels) < n  # thinned, but still many labels
    step = int(ax.get_xticks()[1] - ax.get_xticks()[0])
    assert tick_texts(labels) == long_sentence(n)[::step]
    assert f"every {step}" in ax.get_xlabel()
    assert labels[0].get_fontsize() >= 7  # still readable
    assert labels[0].get_rotation() == 90


def test_heatmap_escapes_dollar_signs():
    ax = plot_attention_heatmap(np.eye(2), tokens=["$5", "ok"])
    assert tick_texts(ax.get_xticklabels())[0] == r"\$5"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tokens": TOKENS[:-1]}, r"tokens has 12 entries but weights has 13 keys"),
        (
            {"tokens": TOKENS, "query_tokens": ["a"]},
            r"query_tokens has 1 entries but weights has 13 queries",
        ),
    ],
)
def test_heatmap_label_mismatch_names_both_lengths(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_attention_heatmap(weights, **kwargs)


def test_heatmap_rejects_a_sentence_string(weights):
    with pytest.raises(TypeError, match="split it first"):
        plot_attention_heatmap(weights, tokens=" ".join(TOKENS))


@pytest.mark.parametrize("shape", [(13,), (2, 13, 13)])
def test_heatmap_needs_2d_weights(shape):
    with pytest.raises(ValueError, match="weights must be 2-D"):
        plot_attention_heatmap(np.ones(shape) / 13)


# --------------------------------------------------------------------------- arcs


def test_arcs_one_line_per_pair_width_follows_weight(weights):
    ax = plot_attention_arcs(weights, TOKENS)
    lines = ax.collections[0]
    assert len(lines.get_segments()) == T * T
    widths = np.asarray(lines.get_linewidths())
    expected = np.where(weights.ravel() >= 0.05, 6.0 * weights.ravel(), 0.0)
    assert np.allclose(widths, expected)
    assert [t.get_text() for t in ax.texts[:T]] == TOKENS  # query labels
    assert [t.get_text() for t in ax.texts[T : 2 * T]] == TOKENS  # key labels


def test_arcs_for_one_query_by_token(weights):
    ax = plot_attention_arcs(weights, TOKENS, query="it", threshold=0.0)
    lines = ax.collections[0]
    assert len(lines.get_segments()) == T
    widths = np.asarray(lines.get_linewidths())
    assert np.argmax(widths) == TROPHY
    assert np.allclose(widths, 6.0 * weights[IT])
    assert ax.texts[IT].get_fontweight() == "bold"
    assert "'it'" in ax.get_title()
    # the thickest line goes from 'it' (left, x=0) to 'trophy' (right, x=1)
    seg = lines.get_segments()[TROPHY]
    assert seg[0][0] == 0.0
    assert seg[1][0] == 1.0


def test_arc_styles_hide_small_weights_and_set_opacity():
    widths, colors = arc_styles(np.array([0.0, 0.04, 0.5, 1.0]), threshold=0.05, max_linewidth=4)
    assert np.allclose(widths, [0, 0, 2, 4])
    assert np.allclose(colors[:, 3], [0, 0, 0.15 + 0.85 * 0.5, 1.0])


def test_arcs_errors(weights):
    with pytest.raises(ValueError, match="appears 2 times"):
        plot_attention_arcs(np.full((3, 3), 1 / 3), ["a", "b", "a"], query="a")
    with pytest.raises(ValueError, match="not one of"):
        plot_attention_arcs(weights, TOKENS, query="cat")
    with pytest.raises(ValueError, match="out of range"):
        plot_attention_arcs(weights, TOKENS, query=13)
    with pytest.raises(ValueError, match="query_tokens"):
        plot_attention_arcs(np.full((2, 3), 1 / 3), ["a", "b", "c"])


def test_arcs_long_sentence_labels_connected_tokens():
    n = 64
    w = np.full((n, n), 0.5 / (n - 1))
    w[10, 37] = 0.5 + 0.5 / (n - 1)
    w[10] /= w[10].sum()
    ax = plot_attention_arcs(w, long_sentence(n), query=10)
    key_labels = ax.texts[n : 2 * n]
    assert key_labels[37].get_visible()  # the attended token is always labelled
    assert ax.texts[10].get_visible()
    assert sum(t.get_visible() for t in key_labels) < n  # the others are thinned


# --------------------------------------------------------------------------- bars


def test_bars_heights_are_one_querys_weights(weights):
    ax = plot_weight_bars(weights, TOKENS, query="it")
    bars = ax.containers[0]
    assert np.allclose([b.get_height() for b in bars], weights[IT])
    assert tick_texts(ax.get_xticklabels()) == TOKENS
    assert [t.get_text() for t in ax.texts] == [f"{x:.2f}" for x in weights[IT]]
    assert bars[TROPHY].get_facecolor() != bars[0].get_facecolor()  # the largest is highlighted
    assert "'it'" in ax.get_title()


def test_bars_accept_one_row():
    ax = plot_weight_bars([0.1, 0.9], ["a", "b"], ylim=(0, 1))
    assert ax.get_ylim() == (0, 1)
    assert [b.get_height() for b in ax.containers[0]] == [0.1, 0.9]


def test_bars_need_a_query_for_a_matrix(weights):
    with pytest.raises(ValueError, match="say which one"):
        plot_weight_bars(weights, TOKENS)


def test_bars_long_sentence_no_annotations():
    n = 64
    ax = plot_weight_bars(np.full(n, 1 / n), long_sentence(n))
    assert len(ax.texts) == 0
    assert len(ax.get_xticklabels()) < n


# --------------------------------------------------------------------------- heads


def test_heads_grid_shared_scale(weights):
    w = np.stack([weights, np.eye(T), weights.T / weights.T.sum(-1, keepdims=True)])
    fig, axes = plot_attention_heads(w, TOKENS, ncols=2)
    assert axes.shape == (3,)
    assert len(fig.axes) == 4  # three heads + one shared colour bar (the empty panel removed)
    for h, ax in enumerate(axes):
        assert np.array_equal(ax.images[0].get_array(), w[h])
        assert ax.images[0].get_clim() == (0, 1.0)
        assert ax.get_title() == f"head {h}"
    assert tick_texts(axes[0].get_yticklabels()) == TOKENS
    assert not axes[1].yaxis.get_tick_params()["labelleft"]  # inner column: no query labels
    assert fig.get_suptitle()


def test_heads_needs_3d():
    with pytest.raises(ValueError, match="weights must be 3-D"):
        plot_attention_heads(np.eye(3), ["a", "b", "c"])
    with pytest.raises(ValueError, match="head_names has 1 entries but weights has 2 heads"):
        plot_attention_heads(np.stack([np.eye(3)] * 2), ["a", "b", "c"], head_names=["x"])


# --------------------------------------------------------------------------- summary


def test_summary_names_the_top_key(weights):
    text = summarize_attention(weights, TOKENS, query="it")
    assert text == f"'it' gives {weights[IT, TROPHY]:.2f} of its attention to 'trophy'"
    two = summarize_attention(weights, TOKENS, query=IT, top=2)
    assert two.startswith(text + ", then ")


def test_summary_itself_and_duplicates():
    w = np.array([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    assert (
        summarize_attention(w, ["a", "b", "a"], query=1)
        == "'b' gives 0.80 of its attention to 'a' (#2)"
    )
    assert (
        summarize_attention(w, ["x", "y", "z"], query="y")
        == "'y' gives 0.80 of its attention to 'z'"
    )
    assert (
        summarize_attention(w, ["x", "y", "z"], query="x")
        == "'x' gives 0.70 of its attention to 'y'"
    )
    assert (
        summarize_attention(w, ["x", "y", "z"], query="z")
        == "'z' gives 0.60 of its attention to 'x'"
    )
    assert (
        summarize_attention(np.eye(2), ["x", "y"], query=0)
        == "'x' gives 1.00 of its attention to itself"
    )


def test_summary_of_one_row():
    assert (
        summarize_attention([0.3, 0.7], ["a", "b"])
        == "this query gives 0.70 of its attention to 'b'"
    )


def test_summary_needs_a_query_for_a_matrix(weights):
    with pytest.raises(ValueError, match="say which one"):
        summarize_attention(weights, TOKENS)


def test_heatmap_of_scores_can_say_so():
    scores = np.array([[2.0, -1.0], [0.5, 3.0]])
    ax = plot_attention_heatmap(scores, vmin=None, colorbar_label="score")
    assert ax.images[0].colorbar.ax.get_ylabel() == "score"
    assert ax.images[0].get_clim() == (-1.0, 3.0)


def test_summary_of_uniform_weights_names_no_winner():
    text = summarize_attention(np.full((4, 4), 0.25), list("abcd"), query=1)
    assert text == "'b' spreads its attention evenly: 0.25 to each of the 4 keys"


def test_heatmap_shows_nan_rows_in_grey():
    w = np.array([[1.0, 0.0], [np.nan, np.nan]])  # what -inf masking does to a fully masked row
    ax = plot_attention_heatmap(w, tokens=["a", "b"], annotate=True)
    image = ax.images[0]
    assert image.get_array().mask.tolist() == [[False, False], [True, True]]
    assert image.get_cmap().get_bad().tolist() == list(matplotlib.colors.to_rgba("0.75"))
    assert [t.get_text() for t in ax.texts] == ["1.00", "0.00", "nan", "nan"]


def test_other_helpers_still_reject_nan():
    with pytest.raises(ValueError, match="NaN"):
        plot_weight_bars([np.nan, 1.0], ["a", "b"])
    with pytest.raises(ValueError, match=r"\+inf"):
        plot_attention_heatmap(np.array([[np.inf, 0.0]]))


def test_heatmap_of_masked_scores_greys_out_minus_inf():
    scores = np.array([[0.5, -np.inf], [-2.0, 3.0]])
    ax = plot_attention_heatmap(scores, vmin=None, annotate=True, colorbar_label="score")
    assert ax.images[0].get_array().mask.tolist() == [[False, True], [False, False]]
    assert ax.texts[1].get_text() == "-inf"
    assert ax.texts[1].get_color() == "black"  # readable on the grey cell


# --------------------------------------------------------------------------- properties

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=15)  # each example draws a figure
@given(st.integers(min_value=1, max_value=120))
def test_tick_labels_are_an_evenly_spaced_prefix_of_the_tokens(n):
    tokens = long_sentence(n)
    ax = plot_attention_heatmap(np.full((n, n), 1 / n), tokens=tokens, colorbar=False)
    ticks = [int(t) for t in ax.get_xticks()]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    assert ticks == list(range(0, n, step))
    assert tick_texts(ax.get_xticklabels()) == tokens[::step]
    assert ax.get_xticklabels()[0].get_fontsize() >= 7
    plt.close("all")


@given(st.lists(st.floats(min_value=-5, max_value=5), min_size=2, max_size=12, unique=True))
def test_summary_names_the_largest_weight(scores):
    w = softmax(np.array(scores))
    assume(np.diff(np.sort(scores)).min() > 1e-3)  # no near-ties: "evenly" would be right then
    names = [f"t{i}" for i in range(len(scores))]
    text = summarize_attention(w, names)
    best = int(np.argmax(w))
    assert text == f"this query gives {w[best]:.2f} of its attention to 't{best}'"


def test_heatmap_auto_scale_says_when_weights_are_nearly_uniform():
    """Issue 22: an automatic colour scale made near-uniform weights (0.022-0.027) look varied."""
    rng = np.random.default_rng(0)
    flat = softmax(rng.normal(0.0, 0.05, size=(20, 40)))  # every weight close to 1/40
    ax = plot_attention_heatmap(flat)
    label = ax.images[0].colorbar.ax.get_ylabel()
    assert f"nearly uniform: {flat.min():.3g} to {flat.max():.3g}" in label
    plt.close("all")
    varied = softmax(rng.normal(0.0, 2.0, size=(20, 40)))
    ax = plot_attention_heatmap(varied)
    assert ax.images[0].colorbar.ax.get_ylabel() == "attention weight"
    plt.close("all")
    ax = plot_attention_heatmap(flat, vmax=1)  # a fixed scale shows the flatness itself
    assert ax.images[0].colorbar.ax.get_ylabel() == "attention weight"
    assert ax.images[0].get_clim() == (0, 1)


def test_notebook_01_bandwidth_experiment_keeps_a_fixed_colour_scale():
    """Notebook 01 section 2 suggests bandwidth = 10: the heatmap must show near-uniform weights
    as uniform (a 0-1 colour scale) and its title must say what the weights are."""
    import json
    from pathlib import Path

    path = Path(__file__).parents[1] / "notebooks" / "01_queries_keys_values.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    defining = next(s for s in sources if "def nadaraya_watson" in s)
    plotting = next(s for s in sources if s.startswith("bandwidth = 0.3"))
    namespace = {"np": np, "plt": plt, "softmax": softmax}
    namespace["plot_attention_heatmap"] = plot_attention_heatmap
    namespace["rng"] = np.random.default_rng(0)
    exec(defining, namespace)
    for bandwidth in (10, 0.3):
        plt.close("all")
        source = plotting.replace("bandwidth = 0.3", f"bandwidth = {bandwidth}", 1)
        exec(source.replace("plt.show()", ""), namespace)
        ax = plt.gcf().axes[1]
        assert ax.images[0].get_clim() == (0, 1)
        top = namespace["weights_h"].max(axis=1).mean()
        assert f"h = {bandwidth:g}" in ax.get_title()
        assert f"{top:.2f}" in ax.get_title()
        assert "nearby" not in ax.get_title()  # not true at h = 10: every example counts
    plt.close("all")
