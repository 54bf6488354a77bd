"""The SmolLM2 explorer of notebook 10: its computation, its picture and its messages."""

import numpy as np
import pytest
from _shared import requires_smollm

pytestmark = requires_smollm()


@pytest.fixture(scope="module")
def model():
    from attn_helpers.smollm import load_smollm

    return load_smollm()


def test_smollm_attention_computes_the_sink(model):
    from attn_helpers.widgets import smollm_attention

    data = smollm_attention(model, "The trophy didn't fit in the suitcase because it was too big.")
    assert data["weights"].shape == (30, 9, 15, 15)
    assert data["tokens"][:2] == ["The", "␣trophy"]
    np.testing.assert_allclose(data["sink"], data["weights"][:, :, 1:, 0].mean(-1))


def test_explorer_draws_and_reports_bad_input(model):
    from attn_helpers.widgets import make_smollm_explorer

    explorer = make_smollm_explorer(model)
    c = explorer.controls
    c["layer"].value, c["head"].value = 5, 4
    explorer.render_now()
    image = explorer.art.image.get_array()
    w = model.attend(
        model.tokenize("The trophy didn't fit in the suitcase because it was too big.")
    )[5, 4]
    np.testing.assert_allclose(np.ma.filled(image[:15, :15], np.nan), w, atol=1e-6)
    assert "kv head 1" in explorer.art.ax.get_title()
    assert "first token 'The'" in explorer.readout.value
    c["text"].value = ""
    assert "Type a sentence" in explorer.message.value
    c["text"].value = "word " * 40
    assert "at most 32" in explorer.message.value
    c["text"].value = "<|user|> hi"
    assert "looks like a special token" in explorer.message.value
    with pytest.raises(TypeError, match="SmolLM"):
        make_smollm_explorer("not a model")
