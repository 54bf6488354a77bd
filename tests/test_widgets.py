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

BUILDERS = {
    "softmax": w.make_softmax_explorer,
    "scaling": w.make_scaling_explorer,
    "qkv": w.make_qkv_explorer,
    "sentence": w.make_sentence_explorer,
    "heads": lambda: w.make_heads_explorer(
        *toy_attention(TROPHY_SENTENCE), layer_names=LAYER_NAMES
    ),
    "heads pair": lambda: w.make_heads_explorer(
        sentences={
            "big": toy_attention(TROPHY_SENTENCE),
            "small": toy_attention(TROPHY_SMALL_SENTENCE),
        },
        layer_names=LAYER_NAMES,
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
    "scaling": {"d_k": 256, "spread": 0.5, "scale": "sqrt(d_model)"},
    "qkv": {"q_x": -2.0, "q_y": 2.0, "scale": 3.0},
    "sentence": {"query": 6, "layer": 0, "sentence": TROPHY_SMALL_SENTENCE},
    "heads": {"query": 1, "left layer": 1, "right layer": 0},
    "heads pair": {"query": 1, "left layer": 1, "right layer": 0, "sentence": "small"},
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
        (" ".join(["the trophy"] * 100), f"at most {w.sentence.MAX_TOKENS}"),
        ("The trophy 🏆 didn't fit", "does not know the word '🏆'"),
        ("トロフィーはスーツケースに入らなかった", "does not know the word"),
        ("x " * 500, f"at most {w.sentence.MAX_TOKENS}"),
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
    assert f"largest weight {expected.max():.2f} on 'a'" in explorer.readout.value
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
    c["scale"].value = "none"
    assert "theory 16.00" in explorer.readout.value
    assert heights[0] != explorer.art.hist.get_data().values[0]  # scores pile up at the edges
    c["scale"].value = "sqrt(d_k)"
    c["spread"].value = 0.25  # std 0.0625: one tall bin, cut off, its height printed
    assert explorer.art.peak.get_text().startswith("← cut off: ")


def test_scaling_explorer_has_one_scale_control_whose_label_is_its_state():
    """Issue 22: a toggle read "scaling on" when off, and "divide by: none" duplicated it."""
    explorer = w.make_scaling_explorer()
    c = explorer.controls
    assert set(c) == {"d_k", "spread", "scale"}
    scale = c["scale"]
    assert isinstance(scale, ipywidgets.ToggleButtons)  # the pressed button is the state
    labels = dict(
        (value, label) for label, value in zip(scale._options_labels, scale._options_values)
    )
    assert labels == {
        "sqrt(d_k)": "√d_k",
        "sqrt(d_model)": "√d_model",
        "none": "nothing (no scaling)",
    }
    for value, label in labels.items():
        scale.value = value
        assert scale.label == label  # what the learner reads is what is used
        assert explorer.message.value == ""
    assert "scores not scaled" in explorer.readout.value
    scale.value = "sqrt(d_k)"
    assert "scores divided by √d_k = √64 = 8.0" in explorer.readout.value


def test_scaling_explorer_shows_d_model_instead_of_assuming_heads():
    explorer = w.make_scaling_explorer()
    c = explorer.controls
    c["d_k"].value = 32
    c["scale"].value = "sqrt(d_model)"
    assert "d_model = 8 heads × d_k = 8 × 32 = <b>256</b>" in explorer.d_model_note.value
    assert explorer.d_model_note in explorer.children[2].children  # next to the buttons
    assert "scores divided by √d_model = √256 = 16.0" in explorer.readout.value
    assert w.scaling_statistics(32, scale="sqrt(d_model)")["d_model"] == 256


def test_scaling_explorer_rank_axis_ticks_are_whole_numbers():
    explorer = w.make_scaling_explorer()
    explorer.render_now()
    ticks = explorer.art.ax_w.get_xticks()
    assert len(ticks) >= 4
    np.testing.assert_array_equal(ticks, np.round(ticks))  # not 2.5, 7.5
    assert ticks.min() >= 1
    assert ticks.max() <= explorer.seq_len


def test_softmax_summary_and_explorer_call_equal_scores_a_tie():
    """Issue 22: all scores equal was reported as a win for 'trophy'."""
    summary = w.softmax_summary([1.0, 1.0, 1.0, 1.0])
    assert summary["tied"] == [0, 1, 2, 3]
    assert w.softmax_summary([3.0, 1.0, 3.0])["tied"] == [0, 2]
    assert w.softmax_summary([3.0, 1.0, 2.0])["tied"] == [0]
    explorer = w.make_softmax_explorer()
    c = explorer.controls
    with explorer.hold():
        for i in range(4):
            c[f"score {i}"].value = 1.0
    readout = explorer.readout.value
    assert "all 4 weights equal (a tie): 0.25 each" in readout
    assert "trophy'" not in readout.split("|")[-1]  # no winner named
    colors = {tuple(bar.get_facecolor()) for bar in explorer.art.bars}
    assert len(colors) == 1  # no bar highlighted as the winner
    c["score 2"].value = 2.0
    c["score 3"].value = 2.0
    assert "a tie for the largest weight: 0.37 each on 'fit' and 'big'" in explorer.readout.value
    c["score 3"].value = 2.5
    assert "largest weight 0.49 on 'big'" in explorer.readout.value


def test_qkv_explorer_query_marker_weights_and_click():
    explorer = w.make_qkv_explorer()
    c, art = explorer.controls, explorer.art
    c["q_x"].value, c["q_y"].value = -1.0, 2.0  # up and left: towards the key of "suitcase"
    assert art.query.get_xydata().tolist() == [[-1.0, 2.0]]
    output, weights, _ = w.single_query_attention(
        [-1.0, 2.0], w.lookup.KEYS, w.lookup.VALUES, scale=c["scale"].value
    )
    np.testing.assert_allclose([b.get_height() for b in art.bars], weights)
    np.testing.assert_allclose(art.output.get_xydata()[0], output)
    np.testing.assert_allclose(art.values.get_sizes(), 20 + 400 * weights)
    assert f"largest weight {weights.max():.2f} on 'suitcase'" in explorer.readout.value
    # a click in the left panel moves the query, with one update for both sliders
    updates = []
    explorer.readout.observe(updates.append, names="value")
    _mouse(explorer, "button_press_event", 2.0, -1.0)
    assert (c["q_x"].value, c["q_y"].value) == (pytest.approx(2.0), pytest.approx(-1.0))
    assert len(updates) == 1


def _mouse(explorer, name, x, y, *, buttons=None):
    """Send a mouse event at data point (x, y) of the keys' panel, as ipympl would."""
    canvas = explorer.figure.canvas
    px, py = explorer.art.ax_k.transData.transform((x, y))
    kwargs = {"buttons": buttons} if name == "motion_notify_event" else {"button": 1}
    canvas.callbacks.process(name, MouseEvent(name, canvas, px, py, **kwargs))


def test_drag_query_logic_as_a_plain_function():
    """Issue 22: the text said drag, but only a click moved the query."""
    drag = w.lookup.drag_query
    assert drag(False, "press", in_axes=True, x=1.04, y=-0.26) == (True, (1.0, -0.3))
    assert drag(False, "press", in_axes=False, x=None, y=None) == (False, None)
    assert drag(True, "motion", in_axes=True, x=1.5, y=0.2) == (True, (1.5, 0.2))
    assert drag(True, "motion", in_axes=True, x=7.0, y=-9.0) == (True, (3.0, -3.0))  # clipped
    assert drag(True, "motion", in_axes=False, x=None, y=None) == (True, None)  # off the panel
    assert drag(False, "motion", in_axes=True, x=1.5, y=0.2) == (False, None)  # hover: nothing
    assert drag(True, "release", in_axes=True, x=1.5, y=0.2) == (False, (1.5, 0.2))
    assert drag(True, "release", in_axes=False, x=None, y=None) == (False, None)
    assert drag(False, "release", in_axes=True, x=1.5, y=0.2) == (False, None)
    assert drag(True, "leave", in_axes=False) == (False, None)
    with pytest.raises(ValueError, match="kind must be"):
        drag(False, "scroll", in_axes=True, x=0.0, y=0.0)


def test_qkv_explorer_follows_a_drag_and_stops_at_release():
    explorer = w.make_qkv_explorer()
    c = explorer.controls
    updates = []
    explorer.readout.observe(updates.append, names="value")
    _mouse(explorer, "motion_notify_event", -2.0, 1.0)  # hovering moves nothing
    assert (c["q_x"].value, c["q_y"].value) == w.lookup.START_QUERY
    _mouse(explorer, "button_press_event", 1.0, 1.0)
    for x, y in [(0.5, 1.5), (0.0, 2.0), (-0.5, 2.5)]:
        _mouse(explorer, "motion_notify_event", x, y, buttons=[1])
        assert (c["q_x"].value, c["q_y"].value) == (pytest.approx(x), pytest.approx(y))
        assert explorer.art.query.get_xydata().tolist() == [[pytest.approx(x), pytest.approx(y)]]
    assert len(updates) == 4  # the press and three moves: one update each
    _mouse(explorer, "button_release_event", -0.7, 2.6)  # motion events can be dropped
    assert (c["q_x"].value, c["q_y"].value) == (pytest.approx(-0.7), pytest.approx(2.6))
    _mouse(explorer, "motion_notify_event", 2.0, 0.0)  # released: moving moves nothing
    assert (c["q_x"].value, c["q_y"].value) == (pytest.approx(-0.7), pytest.approx(2.6))


def test_qkv_explorer_uses_the_keys_of_notebook_01_section_5():
    """Issue 22: the explorer's keys differed from section 5's under the same names."""
    import ast
    import json
    from pathlib import Path

    path = Path(__file__).parents[1] / "notebooks" / "01_queries_keys_values.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = next(
        "".join(c["source"]) for c in cells if "keys_2d = np.array" in "".join(c["source"])
    )
    names = {"small_tokens", "keys_2d", "values_2d", "query_big"}
    found = {}
    for node in ast.parse(source).body:  # only the plain assignments of these names
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in names:
            exec(compile(ast.Module([node], []), "section5", "exec"), {"np": np}, found)
    assert set(found) == names
    assert list(w.lookup.TOKENS) == found["small_tokens"]
    np.testing.assert_array_equal(w.lookup.KEYS, found["keys_2d"])
    np.testing.assert_array_equal(w.lookup.VALUES, found["values_2d"])
    np.testing.assert_array_equal(w.lookup.START_QUERY, found["query_big"])
    explorer = w.make_qkv_explorer()
    assert [t.get_text() for t in explorer.art.ax_k.texts] == found["small_tokens"]


def test_qkv_explorer_scale_slider_starts_where_its_label_says():
    """Issue 22: the slider showed 0.69 while its label said 0.71 (the log grid missed it)."""
    scale = w.make_qkv_explorer().controls["scale"]
    assert scale.value == pytest.approx(1 / math.sqrt(2))
    assert f"{scale.value:.2f}" in scale.description
    stops = (math.log10(scale.value) - scale.min) / scale.step  # a browser snaps to these
    assert stops == pytest.approx(round(stops), abs=1e-6)
    assert 10**scale.min < 0.06
    assert 10**scale.max > 6


def test_qkv_explorer_readout_never_shows_minus_zero():
    explorer = w.make_qkv_explorer()
    c = explorer.controls
    for qx in np.arange(-3.0, 3.01, 0.5):
        for qy in np.arange(-3.0, 3.01, 0.5):
            with explorer.hold():
                c["q_x"].value, c["q_y"].value = float(qx), float(qy)
            assert "-0.00" not in explorer.readout.value, (qx, qy, explorer.readout.value)


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


def _overlapping(texts, figure) -> int:
    """How many neighbouring visible labels overlap, as drawn."""
    renderer = figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]
    return sum(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))


def _toy_sentence(n_tokens):
    """A toy-model sentence of exactly n_tokens tokens."""
    words = (TROPHY_SENTENCE.lower().replace(".", " .").split() * 10)[:n_tokens]
    return " ".join(words)


@pytest.mark.parametrize("n_tokens", [13, 24, w.sentence.MAX_TOKENS])
def test_sentence_explorer_labels_are_legible_up_to_the_limit(n_tokens):
    """Issue 22: near the token limit the labels overlapped and became illegible."""
    explorer = w.make_sentence_explorer(_toy_sentence(n_tokens))
    assert explorer.message.value == ""
    explorer.render_now()
    art, figure = explorer.art, explorer.figure
    for texts in (art.ax_h.get_xticklabels(), art.ax_h.get_yticklabels(), art.right, art.left):
        shown = [t for t in texts if t.get_visible() and t.get_text()]
        assert _overlapping(texts, figure) == 0
        assert len(shown) == n_tokens  # every token labelled
        assert min(t.get_fontsize() for t in shown) >= 6.5  # and none too small to read


def test_sentence_explorer_thins_labels_beyond_the_limit_it_was_given():
    explorer = w.make_sentence_explorer(_toy_sentence(70), max_tokens=80)
    assert explorer.message.value == ""
    explorer.render_now()
    art = explorer.art
    labels = [t.get_text() for t in art.ax_h.get_yticklabels()]
    assert 0 < len(labels) < 70  # every n-th token only, and the axis says so
    assert "labelled" in art.ax_h.get_xlabel()
    assert "labelled" in art.ax_l.get_title()
    for texts in (art.ax_h.get_xticklabels(), art.ax_h.get_yticklabels(), art.right):
        assert _overlapping(texts, explorer.figure) == 0
    assert art.query_text.get_visible()  # the query is always named
    explorer.controls["sentence"].value = TROPHY_SENTENCE  # back to a short one: all labels
    assert len(art.ax_h.get_yticklabels()) == 13


def test_the_sentence_notebook_03_suggests_makes_the_toy_model_fail():
    """The explorer's prose in notebook 03 suggests a sentence the designed model gets wrong."""
    import json
    from pathlib import Path

    path = Path(__file__).parents[1] / "notebooks" / "03_self_attention.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells]
    explorer_cell = next(i for i, src in enumerate(sources) if "make_sentence_explorer(" in src)
    prose = sources[explorer_cell - 1]  # the markdown cell introducing the explorer
    failing = "The trophy fit in the suitcase because it was small."  # it = the trophy
    working = "The ball didn't fit in the box because it was too large."  # it = the ball
    assert failing in prose
    assert working in prose
    for sentence, right, wrong in ((failing, "trophy", "suitcase"), (working, "ball", "box")):
        explorer = w.make_sentence_explorer(sentence)
        assert explorer.message.value == ""
        tokens, weights = toy_attention(sentence)
        row = weights[-1, 0, tokens.index("it")]
        picked = tokens[int(row.argmax())]
        assert (
            f"'it' gives {row.max():.2f} of its attention to '{picked}'" in explorer.readout.value
        )
        if sentence == failing:
            assert picked == wrong  # the toy's fixed rule "small -> the container" is wrong here
        else:
            assert picked == right


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


def test_heads_explorer_switches_between_sentences_keeping_heads_and_query():
    """Issue 22: notebook 08's heads explorer showed only the "too big" sentence."""
    tokens_big, weights_big = toy_attention(TROPHY_SENTENCE)
    tokens_small, weights_small = toy_attention(TROPHY_SMALL_SENTENCE)
    explorer = w.make_heads_explorer(
        sentences={"big": (tokens_big, weights_big), "small": (tokens_small, weights_small)},
        left=(1, 0),
        query="it",
    )
    c, art = explorer.controls, explorer.art
    assert isinstance(c["sentence"], ipywidgets.ToggleButtons)
    assert c["sentence"].options == ("big", "small")
    it = tokens_big.index("it")
    np.testing.assert_allclose(art.images[0].get_array(), weights_big[1, 0])
    assert explorer.readout.value.startswith("big layer 1, head 0: 'it' gives")
    assert "'trophy'" in explorer.readout.value.split("|")[0]
    c["sentence"].value = "small"
    np.testing.assert_allclose(art.images[0].get_array(), weights_small[1, 0])
    assert c["query"].value == it  # the same row, in the other sentence
    assert c["query"].label == f"{it}: it"
    assert c["query"].options[11] == ("11: small", 11)
    assert [t.get_text() for t in art.axes[0].get_xticklabels()][11] == "small"
    assert explorer.readout.value.startswith("small layer 1, head 0: 'it' gives")
    assert "'suitcase'" in explorer.readout.value.split("|")[0]
    assert explorer.message.value == ""
    one = w.make_heads_explorer(tokens_big, weights_big)
    assert "sentence" not in one.controls  # one sentence: no buttons
    assert not one.readout.value.startswith("big")


def test_heads_explorer_sentences_bad_arguments():
    tokens, weights = toy_attention(TROPHY_SENTENCE)
    with pytest.raises(TypeError, match="not both"):
        w.make_heads_explorer(tokens, weights, sentences={"a": (tokens, weights)})
    with pytest.raises(TypeError, match="give tokens and weights"):
        w.make_heads_explorer()
    with pytest.raises(TypeError, match="non-empty dict"):
        w.make_heads_explorer(sentences={})
    with pytest.raises(TypeError, match=r"sentences\['a'\] must be a \(tokens, weights\) pair"):
        w.make_heads_explorer(sentences={"a": tokens})
    rng = np.random.default_rng(0)
    other = softmax(rng.normal(size=(1, 2, 13, 13)))  # another model: 1 layer, 2 heads
    with pytest.raises(ValueError, match="same model"):
        w.make_heads_explorer(sentences={"a": (tokens, weights), "b": (tokens, other)})


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


def test_mask_explorer_shows_pad_tokens_in_its_readout():
    """Issue 22: "0 (), 1 ()": the readout's <pad> was swallowed as an HTML tag."""
    explorer = w.make_mask_explorer()
    explorer.controls["kind"].value = "causal + left padding"
    readout = explorer.readout.value
    assert "0 (&lt;pad&gt;), 1 (&lt;pad&gt;)" in readout  # escaped: the browser shows <pad>
    assert "<pad>" not in readout


def test_mask_explorer_says_that_pads_take_part_without_a_padding_mask():
    explorer = w.make_mask_explorer()
    c = explorer.controls
    c["kind"].value = "causal"
    c["num_pad"].value = 2
    readout = explorer.readout.value
    assert "the causal mask knows nothing of padding" in readout
    assert "2 &lt;pad&gt; token(s) at the end take part" in readout
    c["kind"].value = "none"
    assert "with no mask the 2 &lt;pad&gt; token(s) take part" in explorer.readout.value
    for kind in ("padding", "causal + left padding"):
        c["kind"].value = kind
        assert "Note:" not in explorer.readout.value
    c["kind"].value = "causal"
    c["num_pad"].value = 0
    assert "Note:" not in explorer.readout.value


def test_mask_explorer_buttons_fit_their_labels():
    """Issue 22: the button "causal + left padding" was cut off at the default width."""
    kind = w.make_mask_explorer().controls["kind"]
    assert kind.style.button_width == "auto"


@pytest.mark.parametrize("name", BUILDERS)
def test_readouts_are_escaped_text(name):
    """The readout is plain text: any "<" in it reaches the browser as "&lt;", never as a tag."""
    explorer = BUILDERS[name]()
    for control, value in NEW_VALUES[name].items():
        explorer.controls[control].value = value
        assert "<" not in explorer.readout.value, (control, explorer.readout.value)


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


@pytest.mark.parametrize("forced", [None, "ipympl"])
def test_an_ipympl_without_the_internals_we_override_falls_back_to_static(forced, monkeypatch):
    """Issue 22: _base overrides private ipympl/matplotlib canvas attributes; an ipympl that
    lacks one must give static mode (the widget says so), never a broken canvas."""
    if forced is None:
        monkeypatch.delenv(_base.MODE_ENV, raising=False)
    else:
        monkeypatch.setenv(_base.MODE_ENV, forced)
    assert _base.ipympl_internals_missing() == []  # the pinned ipympl has them all
    assert _base.ipympl_available()
    renamed = {**_base.IPYMPL_INTERNALS, "Canvas": ("_png_is_old", "_renamed_in_a_later_ipympl")}
    monkeypatch.setattr(_base, "IPYMPL_INTERNALS", renamed)
    assert _base.ipympl_internals_missing() == ["Canvas._renamed_in_a_later_ipympl"]
    assert not _base.ipympl_available()
    explorer = w.make_softmax_explorer()
    assert explorer.static
    assert "Static mode" in explorer.children[1].value
    assert explorer.message.value == ""


def test_pyproject_pins_the_ipympl_release_that_is_tested():
    import re
    from importlib.metadata import version
    from pathlib import Path

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    low, high = re.search(r'"ipympl>=([\d.]+),<([\d.]+)"', pyproject).groups()
    installed = tuple(int(p) for p in version("ipympl").split(".")[:2])
    assert (
        tuple(int(p) for p in low.split(".")) <= installed < tuple(int(p) for p in high.split("."))
    )


def test_readout_helpers():
    assert _base.number(-0.004) == "0.00"
    assert _base.number(-0.006) == "-0.01"
    assert _base.number(-0.0, ".1f") == "0.0"
    np.testing.assert_array_equal(_base.tied_for_max([0.25, 0.25, 0.25, 0.25]), [0, 1, 2, 3])
    np.testing.assert_array_equal(_base.tied_for_max([0.5, 0.498, 0.002]), [0, 1])
    np.testing.assert_array_equal(_base.tied_for_max([0.6, 0.3, 0.1]), [0])
    assert _base.largest_weight([0.6, 0.3, 0.1], "abc") == "largest weight 0.60 on 'a'"
    assert _base.largest_weight([0.5, 0.5], "ab") == "all 2 weights equal (a tie): 0.50 each"
    assert _base.largest_weight([0.4, 0.2, 0.4], "abc") == (
        "a tie for the largest weight: 0.40 each on 'a' and 'c'"
    )


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
    """Issue 12: a control set to None in code gave numpy's/Python's raw error text."""
    monkeypatch.setenv(_base.MODE_ENV, mode)
    explorer = w.make_scaling_explorer()
    c = explorer.controls
    good = explorer.readout.value
    heights = explorer.art.hist.get_data().values.copy()
    c["scale"].value = None
    message = explorer.message.value
    assert "divide scores by" in message
    assert "√d_k, √d_model, nothing (no scaling)" in message
    assert "last good input" in message
    assert "Error" not in message
    assert explorer.readout.value == good  # the last good picture stays
    np.testing.assert_array_equal(explorer.art.hist.get_data().values, heights)
    c["d_k"].value = 16  # another change while the buttons are still empty: still our message
    assert "divide scores by" in explorer.message.value
    assert "Error" not in explorer.message.value
    c["scale"].value = "none"  # the next valid value recovers
    assert explorer.message.value == ""
    assert "scores not scaled" in explorer.readout.value
    c["scale"].value = "sqrt(d_k)"
    assert "scores divided by √d_k = √16 = 4.0" in explorer.readout.value
