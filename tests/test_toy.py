"""The hand-designed toy model for the trophy sentence (attn_helpers.toy)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attn_helpers import scaled_dot_product_attention
from attn_helpers.toy import (
    D_K,
    FEATURES,
    TROPHY_SENTENCE,
    TROPHY_SMALL_SENTENCE,
    embed,
    tokenize,
    toy_attention,
    toy_forward,
    toy_projections,
    toy_vocabulary,
)

TROPHY_TOKENS = [
    "the", "trophy", "didn't", "fit", "in", "the", "suitcase", "because", "it", "was", "too",
    "big", ".",
]  # fmt: skip


def test_tokenize_the_running_example():
    assert tokenize(TROPHY_SENTENCE) == TROPHY_TOKENS
    assert tokenize(TROPHY_SMALL_SENTENCE) == [*TROPHY_TOKENS[:-2], "small", "."]


def test_tokenize_lower_cases_and_reads_curly_apostrophes():
    assert tokenize("THE Trophy DIDN\u2019T fit!") == ["the", "trophy", "didn't", "fit", "!"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_tokenize_empty_is_a_clear_error(text):
    with pytest.raises(ValueError, match="empty"):
        tokenize(text)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("The trophy didnt fit", "didnt"),
        ("The elephant was too big.", "elephant"),
        ("\u65e5\u672c\u8a9e", "\u65e5\u672c\u8a9e"),
        ("it was too big \U0001f642", "\U0001f642"),
        ("it was 3 times too big", "3"),
    ],
)
def test_unknown_words_name_the_word_and_list_known_ones(text, word):
    with pytest.raises(ValueError) as info:
        tokenize(text)
    message = str(info.value)
    assert repr(word) in message
    assert "'trophy'" in message
    assert "toy_vocabulary()" in message


def test_unknown_word_suggests_a_close_known_word():
    with pytest.raises(ValueError, match='Did you mean "didn\'t"'):
        tokenize("The trophy didnt fit")


def test_tokenize_rejects_non_strings():
    with pytest.raises(TypeError, match="string"):
        tokenize(["the", "trophy"])


def test_vocabulary_is_sorted_and_holds_the_running_example():
    vocab = toy_vocabulary()
    assert vocab == sorted(vocab)
    assert set(TROPHY_TOKENS + ["small"]) <= set(vocab)
    assert embed(vocab).shape == (len(vocab), len(FEATURES))


def test_embed_shape_and_named_features():
    x = embed(TROPHY_TOKENS)
    assert x.shape == (13, len(FEATURES))
    f = {name: i for i, name in enumerate(FEATURES)}
    row = dict(zip(TROPHY_TOKENS, x))
    assert row["trophy"][f["noun"]] == 1.0
    assert row["trophy"][f["container"]] == 0.0
    assert row["suitcase"][f["container"]] == 1.0
    assert row["it"][f["pronoun"]] == 1.0
    assert row["big"][f["size"]] == 1.0
    assert embed(["small"])[0, f["size"]] == -1.0
    assert not x[:, f["heard size"]].any(), "the 'heard size' slot is filled by layer 0 only"


def test_embed_returns_a_fresh_array():
    x = embed(["it"])
    x[:] = 99.0
    assert embed(["it"]).max() == 1.0


def test_embed_errors():
    with pytest.raises(TypeError, match="tokenize"):
        embed(TROPHY_SENTENCE)
    with pytest.raises(ValueError, match="empty"):
        embed([])
    with pytest.raises(ValueError, match="'Trophy'"):
        embed(["Trophy"])


@pytest.mark.parametrize("layer", [0, 1])
def test_projection_shapes(layer):
    p = toy_projections(layer)
    d_model = len(FEATURES)
    assert set(p) == {"w_q", "w_k", "w_v"}
    assert p["w_q"].shape == (d_model, D_K)
    assert p["w_k"].shape == (d_model, D_K)
    assert p["w_v"].shape == (d_model, d_model)
    p["w_q"][:] = 0.0  # fresh copies: changing one does not change the model
    assert toy_projections(layer)["w_q"].any()


@pytest.mark.parametrize("layer", [2, -1, True, "0"])
def test_projections_reject_other_layers(layer):
    with pytest.raises(ValueError, match="layer must be 0 or 1"):
        toy_projections(layer)


def test_toy_attention_shape_and_rows_sum_to_one():
    tokens, weights = toy_attention(TROPHY_SENTENCE)
    assert tokens == TROPHY_TOKENS
    assert weights.shape == (2, 1, 13, 13)
    assert np.allclose(weights.sum(axis=-1), 1.0)
    assert (weights >= 0).all()


@pytest.mark.parametrize(
    ("sentence", "layer0_target", "referent", "other"),
    [
        (TROPHY_SENTENCE, "big", "trophy", "suitcase"),
        (TROPHY_SMALL_SENTENCE, "small", "suitcase", "trophy"),
        ("The ball doesn't fit into the box because it is too large.", "large", "ball", "box"),
        ("The ball doesn't fit into the box because it is too tiny.", "tiny", "box", "ball"),
        (
            "The guitar did not fit in my backpack because it was too long.",
            "long",
            "guitar",
            "backpack",
        ),
    ],
)
def test_it_resolves_with_the_same_weights(sentence, layer0_target, referent, other):
    tokens, weights = toy_attention(sentence)
    it = tokens.index("it")
    assert tokens[int(weights[0, 0, it].argmax())] == layer0_target
    row = weights[-1, 0, it]
    assert tokens[int(row.argmax())] == referent
    assert row[tokens.index(referent)] > 0.5
    assert row[tokens.index(referent)] > 10 * row[tokens.index(other)]


def test_hand_computed_numbers_for_the_trophy_sentence():
    # Layer 0: score(it, big) = 5.5 / sqrt(2), every other score 0, 12 other tokens.
    e = np.exp(5.5 / np.sqrt(2))
    _, weights = toy_attention(TROPHY_SENTENCE)
    w_big = e / (e + 12)
    assert np.isclose(weights[0, 0, 8, 11], w_big)
    # Layer 1: "it" heard size w_big; scores (3 +- 4 w_big) / sqrt(2) on trophy / suitcase.
    s_trophy, s_suitcase = (3 + 4 * w_big) / np.sqrt(2), (3 - 4 * w_big) / np.sqrt(2)
    total = np.exp(s_trophy) + np.exp(s_suitcase) + 11
    assert np.isclose(weights[1, 0, 8, 1], np.exp(s_trophy) / total)
    assert np.isclose(weights[1, 0, 8, 6], np.exp(s_suitcase) / total)


def test_toy_forward_matches_a_hand_written_two_layer_loop():
    x = embed(TROPHY_TOKENS)
    expected = []
    h = x
    for layer in (0, 1):
        p = toy_projections(layer)
        out, w = scaled_dot_product_attention(h @ p["w_q"], h @ p["w_k"], h @ p["w_v"])
        h = h + out
        expected.append(w)
    x_out, weights = toy_forward(x)
    assert np.allclose(x_out, h)
    assert np.allclose(weights[:, 0], np.stack(expected))


def test_one_layer_cannot_tell_the_sentences_apart():
    """Layer 1 applied to raw embeddings: the trophy/suitcase ratio is the same in both sentences."""
    p = toy_projections(1)
    ratios = []
    for sentence in (TROPHY_SENTENCE, TROPHY_SMALL_SENTENCE):
        tokens = tokenize(sentence)
        x = embed(tokens)
        _, w = scaled_dot_product_attention(x @ p["w_q"], x @ p["w_k"], x @ p["w_v"])
        it = tokens.index("it")
        ratios.append(w[it, tokens.index("trophy")] / w[it, tokens.index("suitcase")])
    assert np.isclose(ratios[0], ratios[1])


def test_toy_attention_accepts_a_token_list():
    tokens, weights = toy_attention(TROPHY_TOKENS)
    assert tokens == TROPHY_TOKENS
    assert np.allclose(weights, toy_attention(TROPHY_SENTENCE)[1])


def test_toy_forward_rejects_wrong_width():
    with pytest.raises(ValueError, match=r"\(seq_len, 8\)"):
        toy_forward(np.zeros((3, 5)))


@given(st.permutations(list(range(13))))
def test_permutation_equivariance(perm):
    """No positions: reordering the tokens reorders the weights the same way."""
    perm = np.array(perm)
    _, weights = toy_attention(TROPHY_SENTENCE)
    _, permuted = toy_attention([TROPHY_TOKENS[i] for i in perm])
    assert np.allclose(permuted, weights[:, :, perm][:, :, :, perm])


@given(st.lists(st.sampled_from(toy_vocabulary()), min_size=1, max_size=40))
def test_any_known_tokens_give_valid_weights(tokens):
    out_tokens, weights = toy_attention(tokens)
    assert out_tokens == tokens
    assert weights.shape == (2, 1, len(tokens), len(tokens))
    assert np.isfinite(weights).all()
    assert np.allclose(weights.sum(axis=-1), 1.0)
