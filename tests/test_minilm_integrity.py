"""Issue 12 items 10 and 11: every model file is hash-checked; truncation at 256 tokens is reported."""

from __future__ import annotations

import importlib.util
import shutil
import warnings

import pytest

from attn_helpers import minilm
from attn_helpers.minilm import FILE_SHA256, TruncationWarning, load_minilm

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec(minilm.MODEL_PACKAGE) is None,
    reason=f"the MiniLM weights are not installed ({minilm.MODEL_PACKAGE_PIN})",
)


@pytest.fixture(scope="module")
def model():
    return load_minilm()


def _copy_model(tmp_path):
    src = minilm.model_dir()
    for name in FILE_SHA256:
        shutil.copy(src / name, tmp_path / name)
    return tmp_path


def test_every_file_the_loader_reads_is_pinned():
    assert set(FILE_SHA256) == {"model.safetensors", "config.json", "tokenizer.json"}
    assert minilm.verify_files(minilm.model_dir()) == minilm.model_dir()


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "model.safetensors"])
def test_one_changed_byte_in_any_file_is_refused_naming_the_file(tmp_path, name):
    folder = _copy_model(tmp_path)
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 1
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{name}.*not the expected one.*{FILE_SHA256[name]}"):
        load_minilm(folder)


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json"])
def test_a_missing_file_is_named(tmp_path, name):
    folder = _copy_model(tmp_path)
    (folder / name).unlink()
    with pytest.raises(FileNotFoundError, match=name):
        load_minilm(folder)


def test_an_intact_copy_loads(tmp_path):
    assert load_minilm(_copy_model(tmp_path)).config.num_layers == 6


def test_attend_on_a_long_text_warns_how_many_pieces_were_dropped(model):
    with pytest.warns(TruncationWarning, match=r"text 0: 9746\b") as record:
        tokens, weights = model.attend("word " * 10000)
    assert len(tokens) == 256
    assert weights.shape[-1] == 256
    assert record[0].message.dropped == [10000 - 254]


def test_tokenize_and_encode_say_which_texts_were_cut(model):
    texts = ["short", "word " * 300, "also short"]
    with pytest.warns(TruncationWarning, match=r"1 text\(s\).*text 1: 46\b") as record:
        model.tokenize(texts)
    assert record[0].message.dropped == [0, 46, 0]
    with pytest.warns(TruncationWarning, match="text 1: 46"):
        model.encode(texts)


def test_text_that_fits_gives_no_warning(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokens, _ = model.attend("word " * 254)
    assert len(tokens) == 256


def test_sentence_explorer_message_says_the_model_cut_the_text(model):
    from attn_helpers.widgets import InputProblem, prepare_sentence

    with pytest.raises(InputProblem, match="46 more word pieces were dropped"):
        prepare_sentence("word " * 300, model.attend, max_tokens=40)


def test_sentence_explorer_never_draws_a_cut_text_even_when_it_could(model):
    """With max_tokens above the model's 256, a cut text still gets a message, not a picture."""
    from attn_helpers.widgets import InputProblem, prepare_sentence

    with pytest.raises(InputProblem, match="read only the first 256 tokens.*46 more word pieces"):
        prepare_sentence("word " * 300, model.attend, max_tokens=400)
    tokens, _ = prepare_sentence("word " * 30, model.attend, max_tokens=400)
    assert len(tokens) == 32
