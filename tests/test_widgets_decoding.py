"""The decoding explorer of notebook 09 (attn_helpers.widgets.decoding), headless."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

from attn_helpers import widgets as w
from attn_helpers.decoder import decode_step, prefill, train_causal_lm
from attn_helpers.widgets import _base

pytestmark = pytest.mark.filterwarnings(
    r"ignore:Passing unrecognized arguments to super\(Toolbar\):DeprecationWarning"
)


@pytest.fixture(scope="module")
def model():
    return train_causal_lm(steps=300, seed=0)


def test_trace_weights_are_the_cached_steps(model):
    trace = w.decoding_trace(model, "the trophy")
    words, steps = trace["words"], trace["steps"]
    assert words[:3] == ["<bos>", "the", "trophy"]
    assert len(steps) == len(words) - trace["prompt_len"]
    ids = model.encode(words)
    _, cache = prefill(model, ids[:2])
    for i, weights in enumerate(steps):
        _, cache, expected = decode_step(model, int(ids[2 + i]), cache)
        np.testing.assert_array_equal(weights, expected)
        assert weights.shape == (model.num_heads, 3 + i)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("", "Type a prompt"),
        ("the zebra", "does not know the word 'zebra'"),
        ("the " * 30, "at most"),
    ],
)
def test_trace_rejects_bad_prompts_with_a_short_message(model, prompt, expected):
    with pytest.raises(w.InputProblem, match=expected):
        w.decoding_trace(model, prompt)


@pytest.mark.parametrize("mode", ["ipympl", "static"])
def test_explorer_builds_updates_and_keeps_the_last_good_picture(model, mode, monkeypatch, capsys):
    monkeypatch.setenv(_base.MODE_ENV, mode)
    explorer = w.make_decoding_explorer(model)
    assert isinstance(explorer, ipywidgets.VBox)
    assert plt.get_fignums() == []
    assert capsys.readouterr().out == ""
    assert explorer.message.value == ""
    assert "step 1 of" in explorer.readout.value
    explorer.controls["step"].value = 4
    trace = w.decoding_trace(model, "the trophy")
    heights = [b.get_height() for b in explorer.art.bars]
    np.testing.assert_allclose(heights[:6], trace["steps"][3][0])
    assert "step 4 of" in explorer.readout.value
    explorer.controls["head"].value = 1
    heights = [b.get_height() for b in explorer.art.bars]
    np.testing.assert_allclose(heights[:6], trace["steps"][3][1])
    before = explorer.readout.value
    explorer.controls["prompt"].value = "the zebra"  # must not raise
    assert "does not know the word" in explorer.message.value
    assert "Traceback" not in explorer.message.value
    assert explorer.readout.value == before
    explorer.controls["prompt"].value = "the cake"
    assert explorer.message.value == ""
    assert "After 'the cake'" in explorer.readout.value


def test_builder_wants_a_model():
    with pytest.raises(TypeError, match="CausalLM"):
        w.make_decoding_explorer("not a model")


def test_unknown_words_get_a_readable_message(model):
    """Issue 22: the hint showed a Python list, with "<bos>" in it."""
    with pytest.raises(w.InputProblem) as caught:
        w.decoding_trace(model, "the zebra ate the gnu")
    message = str(caught.value)
    assert message.startswith("The model does not know the words 'zebra', 'ate' and 'gnu'.")
    assert "[" not in message
    assert "<bos>" not in message
    assert "<pad>" not in message
    known = [t for t in model.vocab if not t.startswith("<")]
    assert f"It knows {len(known)} words" in message
    examples = message.split("e.g. ")[1].split(".")[0].split(", ")
    assert examples
    assert all(word in known for word in examples)


@pytest.mark.parametrize("mode", ["ipympl", "static"])
def test_step_slider_runs_over_the_generated_words(model, mode, monkeypatch):
    """Issue 22: the slider ran to 24 whatever the generation length."""
    monkeypatch.setenv(_base.MODE_ENV, mode)
    explorer = w.make_decoding_explorer(model)
    step = explorer.controls["step"]
    assert step.min == 1
    assert step.max == len(w.decoding_trace(model, "the trophy")["steps"])
    step.value = step.max
    assert f"step {step.max} of {step.max}" in explorer.readout.value
    longer = "the trophy did not fit into the"
    explorer.controls["prompt"].value = longer
    n = len(w.decoding_trace(model, longer)["steps"])
    assert n < len(w.decoding_trace(model, "the trophy")["steps"])
    assert step.max == n
    assert step.value == n  # clamped to the new end, with one consistent picture
    assert f"step {n} of {n}" in explorer.readout.value
    assert explorer.message.value == ""
