"""Headless tests of the explorers: build each one, set every control, check the figure's data.

Setting ``control.value`` fires the observers exactly as a browser would. The figure is never
shown; the tests read the artists (``get_array``, bar heights, line widths) and the printed
readout, and check that an update renders once and matches a from-scratch render.
"""

import math

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from attn_helpers import causal_mask, softmax
from attn_helpers import widgets as w
from attn_helpers.toy import LAYER_NAMES, TROPHY_SENTENCE, TROPHY_SMALL_SENTENCE, toy_attention
from attn_helpers.widgets import _base

# ipympl's own toolbar trips a traitlets deprecation when a canvas is created (not our code).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Passing unrecognized arguments to super\(Toolbar\):DeprecationWarning"
)

BUILDERS = {
    "softmax": w.make_softmax_explorer,
    "scaling": w.make_scaling_explorer,
    "qkv": w.make_qkv_explorer,
    "sentence": w.make_sentence_explorer,
    "heads": lambda: w.make_heads_explorer(
        *toy_attention(TROPHY_SENTENCE), layer_names=LAYER_NAMES
    ),
    "mask": w.make_mask_explorer,
    "position": w.make_position_explorer,
}

#: A new value for every control of every explorer, in an order where each one shows.
NEW_VALUES = {
    "softmax": {
        "score 0": -2.0,
        "score 1": 0.0,
        "score 2": 4.0,
        "score 3": 3.0,
        "temperature": 0.2,
    },
    "scaling": {"d_k": 256, "spread": 0.5, "scale": "sqrt(d_model)", "scaling": False},
    "qkv": {"q_x": -2.0, "q_y": 2.0, "scale": 3.0},
    "sentence": {"query": 6, "layer": 0, "sentence": TROPHY_SMALL_SENTENCE},
    "heads": {"query": 1, "left layer": 1, "right layer": 0},
    "mask": {"kind": "causal + left padding", "num_pad": 3, "fill": "safe"},
    "position": {"positions": True, "order": "reversed", "d_model": 32, "base": 100},
}
#: Controls with a single choice for the toy model (one head): nothing to set.
SINGLE_CHOICE = {"head", "left head", "right head"}


def pixels(explorer) -> np.ndarray:
    return np.asarray(explorer.figure.canvas.buffer_rgba()).copy()


@pytest.fixture(params=["ipympl", "static"])
def mode(request, monkeypatch):
    """Run a test with ipympl's canvas and with the static-image fallback."""
    monkeypatch.setenv(_base.MODE_ENV, request.param)
    return request.param


# --------------------------------------------------------------------------- plain functions


def test_softmax_summary_by_hand():
    s = w.softmax_summary([0.0, math.log(3.0)])
    np.testing.assert_allclose(s["weights"], [0.25, 0.75])
    assert s["entropy"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert s["max_entropy"] == pytest.approx(math.log(2))
    assert (s["max_weight"], s["argmax"]) == (pytest.approx(0.75), 1)
    hot = w.softmax_summary([1.0, 2.0], temperature=0.1)
    assert hot["max_weight"] > 0.99


@pytest.mark.parametrize(
    ("scale", "expected_std"),
    [("sqrt(d_k)", 1.0), ("sqrt(d_model)", 1 / math.sqrt(8)), ("none", 16.0)],
)
def test_scaling_statistics_match_theory(scale, expected_std):
    stats = w.scaling_statistics(256, spread=1.0, scale=scale, num_queries=256)
    assert stats["theory_std"] == pytest.approx(expected_std)
    assert stats["score_std"] == pytest.approx(expected_std, rel=0.1)
    np.testing.assert_allclose(stats["weights"].sum(axis=-1), 1.0)
    assert stats["sorted_weights"][0] == pytest.approx(stats["mean_max_weight"])


def test_unscaled_scores_make_softmax_peaky():
    scaled = w.scaling_statistics(512, scale="sqrt(d_k)")
    unscaled = w.scaling_statistics(512, scale="none")
    assert unscaled["mean_max_weight"] > 0.9 > 0.5 > scaled["mean_max_weight"]
    assert unscaled["mean_entropy"] < 0.3 * scaled["mean_entropy"]


def test_single_query_attention_by_hand():
    keys = np.array([[1.0, 0.0], [0.0, 1.0]])
    values = np.array([[10.0, 0.0], [0.0, 10.0]])
    output, weights, scores = w.single_query_attention(
        [math.log(3.0), 0.0], keys, values, scale=1.0
    )
    np.testing.assert_allclose(scores, [math.log(3.0), 0.0])
    np.testing.assert_allclose(weights, [0.75, 0.25])
    np.testing.assert_allclose(output, [7.5, 2.5])
    _, hard, _ = w.single_query_attention([1.0, 0.2], keys, values, scale=50.0)
    assert hard[0] > 0.99


def test_mask_for_shapes_and_fully_masked_rows():
    mask, tokens = w.mask_for("causal", 8, 2)
    np.testing.assert_array_equal(mask, causal_mask(8))
    assert tokens[-2:] == ["<pad>", "<pad>"]
    mask, tokens = w.mask_for("padding", 8, 3)
    assert mask.shape == (8, 8)
    assert not mask[:, 5:].any()
    assert mask[:, :5].all()
    mask, tokens = w.mask_for("causal + left padding", 8, 3)
    assert tokens[:3] == ["<pad>"] * 3
    np.testing.assert_array_equal(np.flatnonzero(~mask.any(axis=-1)), [0, 1, 2])
    with pytest.raises(ValueError, match="kind must be one of"):
        w.mask_for("diagonal", 8, 0)


def test_masked_weights_fill_values():
    scores = np.arange(16.0).reshape(4, 4) / 4
    mask, _ = w.mask_for("causal + left padding", 4, 1)  # row 0 has no key
    naive = w.masked_weights(scores, mask, fill="-inf")
    big = w.masked_weights(scores, mask, fill="-1e9")
    safe = w.masked_weights(scores, mask, fill="safe")
    assert np.isnan(naive[0]).all()
    np.testing.assert_allclose(big[0], 0.25)
    np.testing.assert_array_equal(safe[0], 0.0)
    for weights in (naive, big, safe):  # the rows that keep a key agree
        np.testing.assert_allclose(weights[1:], safe[1:])
    np.testing.assert_allclose(safe[1:].sum(axis=-1), 1.0)
    assert (safe[~mask] == 0).all()


def test_reordering_changes_need_positions():
    tokens = ["the", "trophy", "fit", "the", "suitcase"]
    perm = [4, 1, 2, 3, 0]
    blind = w.reordering_changes(tokens, perm, use_positions=False)
    np.testing.assert_allclose(blind["change"], 0.0, atol=1e-12)
    # the same outputs, moved with their tokens: permutation equivariance
    np.testing.assert_allclose(blind["output_reordered"], blind["output"][perm], atol=1e-12)
    seeing = w.reordering_changes(tokens, perm, use_positions=True)
    assert (seeing["change"] > 0.01).sum() >= 2
    same = w.reordering_changes(tokens, range(5), use_positions=True)
    np.testing.assert_allclose(same["change"], 0.0, atol=1e-12)


def test_prepare_sentence_accepts_the_running_example():
    tokens, weights = w.prepare_sentence(TROPHY_SENTENCE)
    assert tokens[8] == "it"
    assert weights.shape == (2, 1, 13, 13)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Type a sentence"),
        ("   ", "Type a sentence"),
        (" ".join(["the trophy"] * 100), "at most 40"),
        ("The trophy 🏆 didn't fit", "does not know the word '🏆'"),
        ("トロフィーはスーツケースに入らなかった", "does not know the word"),
        ("x " * 500, "at most 40"),
    ],
)
def test_prepare_sentence_rejects_bad_text_with_a_short_message(text, expected):
    with pytest.raises(w.InputProblem, match=expected):
        w.prepare_sentence(text)


def test_prepare_sentence_wraps_a_broken_attend():
    def crash(sentence):
        raise RuntimeError("out of memory")

    with pytest.raises(w.InputProblem, match="RuntimeError: out of memory"):
        w.prepare_sentence("a b", crash)
    with pytest.raises(w.InputProblem, match="unusable weights"):
        w.prepare_sentence("a b", lambda s: (["a", "b"], np.ones((2, 3))))
    with pytest.raises(w.InputProblem, match="unusable weights"):
        w.prepare_sentence("a b", lambda s: (["a", "b", "c"], np.full((2, 2), 0.5)))


# --------------------------------------------------------------------------- every explorer


@pytest.mark.parametrize("name", BUILDERS)
def test_builders_return_a_widget_and_display_nothing(name, mode, capsys):
    explorer = BUILDERS[name]()
    assert isinstance(explorer, ipywidgets.VBox)
    assert isinstance(explorer, w.Explorer)
    assert plt.get_fignums() == []  # never registered with pyplot, so never auto-displayed
    assert capsys.readouterr().out == ""
    assert explorer.static == (mode == "static")
    assert explorer.message.value == ""
    assert explorer.readout.value
    figure_widget = explorer.children[-2]
    if mode == "static":
        assert isinstance(figure_widget, ipywidgets.Image)
        assert bytes(figure_widget.value).startswith(b"\x89PNG")
        assert "ipympl" in explorer.children[1].value  # the widget says it is in static mode
    else:
        assert figure_widget is explorer.figure.canvas
        assert figure_widget.toolbar_visible is False


@pytest.mark.parametrize(
    ("name", "mode"),
    [(name, "ipympl") for name in BUILDERS] + [("softmax", "static"), ("mask", "static")],
)
def test_every_control_updates_once_and_matches_a_full_render(name, mode, monkeypatch):
    monkeypatch.setenv(_base.MODE_ENV, mode)
    explorer = BUILDERS[name]()
    canvas = explorer.figure.canvas
    explorer.render_now()
    assert set(NEW_VALUES[name]) == set(explorer.controls) - SINGLE_CHOICE
    for control, value in NEW_VALUES[name].items():
        before = (
            canvas.full_renders + canvas.blit_renders,
            explorer.readout.value,
            pixels(explorer),
        )
        explorer.controls[control].value = value
        assert explorer.message.value == "", (control, explorer.message.value)
        if mode == "ipympl":  # nothing is rendered until the browser asks for the frame
            assert canvas.full_renders + canvas.blit_renders == before[0]
            explorer.render_now()
        assert canvas.full_renders + canvas.blit_renders == before[0] + 1, control  # one render
        assert explorer.readout.value != before[1] or control in ("layer", "base", "left layer")
        assert not np.array_equal(pixels(explorer), before[2]), f"{control} changed no pixel"
        # the fast path (cached background + dynamic artists) equals a render from scratch
        fast = pixels(explorer)
        canvas.forget_backgrounds()
        explorer.render_now()
        np.testing.assert_array_equal(fast, pixels(explorer), err_msg=control)


def test_moving_a_slider_back_reuses_the_cached_background():
    explorer = w.make_mask_explorer()
    canvas = explorer.figure.canvas
    explorer.render_now()
    full = canvas.full_renders
    for num_pad in (3, 2, 3, 2):
        explorer.controls["num_pad"].value = num_pad
        explorer.render_now()
    assert canvas.full_renders == full + 1  # only the first visit of num_pad=3


# --------------------------------------------------------------------------- explorer by explorer


def test_softmax_explorer_bars_are_the_weights():
    explorer = w.make_softmax_explorer([1.0, 2.0, 3.0], ["a", "b", "c"])
    bars = explorer.art.bars
    np.testing.assert_allclose([b.get_height() for b in bars], softmax([1.0, 2.0, 3.0]))
    explorer.controls["score 0"].value = 5.0
    explorer.controls["temperature"].value = 2.0
    expected = softmax(np.array([5.0, 2.0, 3.0]) / 2.0)
    np.testing.assert_allclose([b.get_height() for b in bars], expected, atol=1e-12)
    assert f"max weight {expected.max():.2f} on 'a'" in explorer.readout.value
    assert "entropy" in explorer.readout.value
    assert [t.get_text() for t in explorer.art.ax.get_xticklabels()] == ["a", "b", "c"]


def test_softmax_explorer_defaults_and_bad_arguments():
    explorer = w.make_softmax_explorer()
    assert [c.description for c in list(explorer.controls.values())[:4]] == [
        "trophy",
        "suitcase",
        "fit",
        "big",
    ]
    with pytest.raises(ValueError, match="tokens must name each score"):
        w.make_softmax_explorer([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="1-D list of 2 to 12"):
        w.make_softmax_explorer(np.zeros(20))


def test_scaling_explorer_histogram_and_theory():
    explorer = w.make_scaling_explorer()
    c = explorer.controls
    c["d_k"].value = 256
    heights = explorer.art.hist.get_data().values
    stats = w.scaling_statistics(256)
    np.testing.assert_allclose(
        heights, np.minimum(w.softmax.histogram_fractions(stats["scores"]), 0.5)
    )
    assert "theory 1.00" in explorer.readout.value
    measured = float(explorer.readout.value.split("measured ")[1].split(",")[0])
    assert measured == pytest.approx(1.0, abs=0.1)
    c["scaling"].value = False
    assert c["scale"].disabled
    assert "theory 16.00" in explorer.readout.value
    assert heights[0] != explorer.art.hist.get_data().values[0]  # scores pile up at the edges
    c["scaling"].value = True
    c["spread"].value = 0.25  # std 0.0625: one tall bin, cut off, its height printed
    assert explorer.art.peak.get_text().startswith("← cut off: ")


def test_qkv_explorer_query_marker_weights_and_click():
    explorer = w.make_qkv_explorer()
    c, art = explorer.controls, explorer.art
    c["q_x"].value, c["q_y"].value = -1.0, 2.0  # right on the key of "suitcase"
    assert art.query.get_xydata().tolist() == [[-1.0, 2.0]]
    output, weights, _ = w.single_query_attention(
        [-1.0, 2.0], w.lookup.KEYS, w.lookup.VALUES, scale=c["scale"].value
    )
    np.testing.assert_allclose([b.get_height() for b in art.bars], weights)
    np.testing.assert_allclose(art.output.get_xydata()[0], output)
    np.testing.assert_allclose(art.values.get_sizes(), 20 + 400 * weights)
    assert "largest weight: 'suitcase'" in explorer.readout.value
    # a click in the left panel moves the query, with one update for both sliders
    updates = []
    explorer.readout.observe(updates.append, names="value")
    x, y = art.ax_k.transData.transform((2.0, -1.0))
    explorer.figure.canvas.callbacks.process(
        "button_press_event",
        MouseEvent("button_press_event", explorer.figure.canvas, x, y, button=1),
    )
    assert (c["q_x"].value, c["q_y"].value) == (pytest.approx(2.0), pytest.approx(-1.0))
    assert len(updates) == 1


def test_sentence_explorer_shows_the_toy_model():
    explorer = w.make_sentence_explorer()
    c, art = explorer.controls, explorer.art
    tokens, weights = toy_attention(TROPHY_SENTENCE)
    assert c["query"].value == tokens.index("it")
    assert c["layer"].value == 1  # the last layer, where "it" resolves
    np.testing.assert_allclose(art.image.get_array(), weights[1, 0])
    assert [t.get_text() for t in art.ax_h.get_xticklabels()] == tokens
    assert "'it' gives" in explorer.readout.value
    assert "'trophy'" in explorer.readout.value
    np.testing.assert_allclose(art.lines.get_linewidths(), 0.5 + 7.5 * weights[1, 0, 8])
    c["layer"].value = 0
    np.testing.assert_allclose(art.image.get_array(), weights[0, 0])
    c["query"].value = 1
    np.testing.assert_allclose(art.lines.get_linewidths(), 0.5 + 7.5 * weights[0, 0, 1])
    assert art.row.get_xy() == (-0.5, 0.5)
    c["layer"].value = 1
    c["sentence"].value = TROPHY_SMALL_SENTENCE
    assert c["query"].value == 8  # a new sentence: back to "it"
    assert "'suitcase'" in explorer.readout.value.split(",")[1]


@pytest.mark.parametrize(
    ("text", "expected", "mode"),
    [
        ("", "Type a sentence", "ipympl"),
        ("", "Type a sentence", "static"),
        (" ".join(["the trophy"] * 100), "200 tokens", "ipympl"),
        ("The trophy 😀 didn't fit", "does not know the word", "ipympl"),
        ("日本語の文です", "does not know the word", "static"),
    ],
)
def test_sentence_explorer_keeps_the_last_good_picture(text, expected, mode, monkeypatch):
    monkeypatch.setenv(_base.MODE_ENV, mode)
    explorer = w.make_sentence_explorer()
    explorer.render_now()
    before = (explorer.art.image.get_array().copy(), explorer.readout.value, pixels(explorer))
    explorer.controls["sentence"].value = text  # must not raise
    assert expected in explorer.message.value
    assert "Traceback" not in explorer.message.value
    assert len(explorer.message.value) < 600
    np.testing.assert_array_equal(explorer.art.image.get_array(), before[0])
    assert explorer.readout.value == before[1]
    explorer.render_now()
    np.testing.assert_array_equal(pixels(explorer), before[2])
    explorer.controls["query"].value = 1  # other controls still work; the message stays
    assert explorer.art.row.get_xy() == (-0.5, 0.5)
    assert expected in explorer.message.value
    explorer.controls["sentence"].value = TROPHY_SMALL_SENTENCE  # good input clears the message
    assert explorer.message.value == ""


def test_sentence_explorer_with_another_model():
    def attend(sentence):  # one layer, two heads, like a small trained model
        tokens = sentence.split()
        n = len(tokens)
        scores = np.arange(2 * n * n, dtype=float).reshape(1, 2, n, n) % 3
        return tokens, softmax(scores)

    explorer = w.make_sentence_explorer("a b c", attend=attend)
    c = explorer.controls
    assert c["layer"].layout.display == "none"  # one layer: no layer choice
    assert c["head"].layout.display is None
    c["head"].value = 1
    np.testing.assert_allclose(explorer.art.image.get_array(), attend("a b c")[1][0, 1])
    c["sentence"].value = "a b c d e"
    assert explorer.art.image.get_array().shape == (5, 5)
    assert explorer.message.value == ""

    def broken(sentence):
        raise KeyError("tokenizer missing")

    explorer = w.make_sentence_explorer("a b", attend=broken)  # bad from the start: no crash
    assert "KeyError" in explorer.message.value
    with pytest.raises(TypeError, match="attend must be a function"):
        w.make_sentence_explorer(attend="toy")


def test_heads_explorer_side_by_side():
    tokens, weights = toy_attention(TROPHY_SENTENCE)
    explorer = w.make_heads_explorer(tokens, weights, layer_names=LAYER_NAMES)
    left, right = explorer.art.images
    np.testing.assert_allclose(left.get_array(), weights[0, 0])
    np.testing.assert_allclose(right.get_array(), weights[1, 0])
    assert "pick the noun" in str(explorer.controls["right layer"].options)
    explorer.controls["left layer"].value = 1
    np.testing.assert_allclose(left.get_array(), weights[1, 0])
    assert explorer.art.axes[0].get_title() == "layer 1, head 0"
    explorer.controls["query"].value = 11
    assert explorer.art.rows[1].get_xy() == (-0.5, 10.5)
    assert explorer.readout.value.count("'big' gives") == 2


def test_heads_explorer_many_heads_and_bad_input():
    rng = np.random.default_rng(0)
    weights = softmax(rng.normal(size=(6, 12, 5, 5)))  # like MiniLM: 6 layers, 12 heads
    tokens = ["[CLS]", "the", "trophy", "it", "[SEP]"]
    explorer = w.make_heads_explorer(tokens, weights)
    explorer.controls["right layer"].value = 5
    explorer.controls["right head"].value = 11
    np.testing.assert_allclose(explorer.art.images[1].get_array(), weights[5, 11])
    chosen = w.make_heads_explorer(tokens, weights, left=(2, 7), right=(5, 11), query="trophy")
    np.testing.assert_allclose(chosen.art.images[0].get_array(), weights[2, 7])
    np.testing.assert_allclose(chosen.art.images[1].get_array(), weights[5, 11])
    assert chosen.controls["query"].value == 2
    with pytest.raises(ValueError, match="out of range"):
        w.make_heads_explorer(tokens, weights, left=(6, 0))
    with pytest.raises(ValueError, match="is not one of the tokens"):
        w.make_heads_explorer(tokens, weights, query="box")
    with pytest.raises(ValueError, match="tokens must label every position"):
        w.make_heads_explorer(tokens[:3], weights)
    with pytest.raises(ValueError, match="layer_names must name each"):
        w.make_heads_explorer(tokens, weights, layer_names=["one"])
    with pytest.raises(ValueError, match="must have shape"):
        w.make_heads_explorer(tokens, np.ones((5, 4)))


def test_mask_explorer_shows_nan_uniform_and_zero_rows():
    explorer = w.make_mask_explorer()
    c, art = explorer.controls, explorer.art
    c["kind"].value = "causal + left padding"
    c["num_pad"].value = 2
    c["fill"].value = "-inf"
    shown = art.image.get_array()
    assert shown.mask[:2].all()  # NaN rows are masked: drawn in the "bad" colour
    assert not shown.mask[2:].any()
    assert [t.get_text() for t in art.notes[:3]] == ["NaN", "NaN", ""]
    assert "2 fully masked row(s)" in explorer.readout.value
    assert "NaN" in explorer.readout.value
    np.testing.assert_array_equal(
        art.mask_image.get_array(), w.mask_for("causal + left padding", 8, 2)[0]
    )
    c["fill"].value = "-1e9"
    np.testing.assert_allclose(art.image.get_array()[:2], 1 / 8)
    assert "uniform, 0.125 each" in explorer.readout.value
    c["fill"].value = "safe"
    np.testing.assert_array_equal(art.image.get_array()[:2], 0.0)
    assert art.notes[0].get_text() == "zeros"
    c["kind"].value = "none"
    assert "No row is fully masked" in explorer.readout.value
    assert [t.get_text() for t in art.ax_w.get_xticklabels()][-2:] == ["<pad>", "<pad>"]


def test_position_explorer_outputs_change_only_with_positions():
    explorer = w.make_position_explorer()
    c, art = explorer.controls, explorer.art
    heights = lambda: np.array([b.get_height() for b in art.bars])  # noqa: E731
    np.testing.assert_allclose(heights(), 0.0, atol=1e-9)
    assert "changes no token's output" in explorer.readout.value
    c["positions"].value = True
    assert (heights() > 0.01).sum() >= 2
    assert "outputs change by more than 1%" in explorer.readout.value
    c["order"].value = "original"
    np.testing.assert_allclose(heights(), 0.0, atol=1e-9)
    c["d_model"].value = 64
    assert art.image.get_array().shape == (50, 64)
    assert art.ax_p.get_xlim() == (-0.5, 63.5)
    np.testing.assert_allclose(art.image.get_array()[:, 0], np.sin(np.arange(50)))


def test_no_exception_escapes_an_explorer(monkeypatch):
    explorer = w.make_softmax_explorer()

    def boom():
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(explorer, "_compute", boom)
    explorer.controls["temperature"].value = 2.0  # must not raise
    assert "ZeroDivisionError" in explorer.message.value


def test_mode_detection_falls_back_without_the_lab_extension(monkeypatch, tmp_path):
    import jupyter_core.paths

    monkeypatch.delenv(_base.MODE_ENV, raising=False)
    assert _base.ipympl_available()  # the course environment has ipympl and its extension
    monkeypatch.setattr(jupyter_core.paths, "jupyter_path", lambda *parts: [str(tmp_path)])
    assert not _base.ipympl_available()
    explorer = w.make_softmax_explorer()
    assert explorer.static
    assert "Static mode" in explorer.children[1].value


def test_building_an_explorer_keeps_the_learners_matplotlib_backend():
    """``import ipympl`` switches the backend; the explorers must put the learner's choice back."""
    import os
    import subprocess
    import sys

    code = (
        "import matplotlib; matplotlib.use('agg')\n"
        "from attn_helpers.widgets import make_softmax_explorer\n"
        "explorer = make_softmax_explorer()\n"
        "import matplotlib.pyplot as plt\n"
        "assert matplotlib.get_backend().lower() == 'agg', matplotlib.get_backend()\n"
        "assert type(plt.figure().canvas).__name__ == 'FigureCanvasAgg'\n"
    )
    env = {**os.environ, "ATTN_HELPERS_WIDGETS": "ipympl"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("mode", ["static", "ipympl"])
def test_scaling_explorer_control_set_to_none_shows_our_message_and_recovers(mode, monkeypatch):
    """Issue 12: a Dropdown set to None in code gave numpy's/Python's raw error text."""
    monkeypatch.setenv(_base.MODE_ENV, mode)
    explorer = w.make_scaling_explorer()
    c = explorer.controls
    good = explorer.readout.value
    heights = explorer.art.hist.get_data().values.copy()
    c["scale"].value = None
    message = explorer.message.value
    assert "divide by" in message
    assert "sqrt(d_k), sqrt(d_model), none" in message
    assert "last good input" in message
    assert "Error" not in message
    assert explorer.readout.value == good  # the last good picture stays
    np.testing.assert_array_equal(explorer.art.hist.get_data().values, heights)
    c["d_k"].value = 16  # another change while the dropdown is still empty: still our message
    assert "divide by" in explorer.message.value
    assert "Error" not in explorer.message.value
    c["scaling"].value = False  # the scale is not used: the picture updates
    assert explorer.message.value == ""
    assert "no scaling" in explorer.readout.value
    c["scaling"].value = True
    assert "divide by" in explorer.message.value
    c["scale"].value = "sqrt(d_k)"  # the next valid value recovers
    assert explorer.message.value == ""
    assert "1/sqrt(d_k) = 0.250" in explorer.readout.value
