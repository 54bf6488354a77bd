"""Tests for attn_helpers.head_roles and its figure, plotting.plot_head_roles.

Hand-built heads with a known role first (a previous-token head, a [CLS] head, uniform heads), then
the checks on input, the summary line, the figure's artists, and last the claim notebook 08 makes
about the real model: layer 0 has a previous-token head.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from attn_helpers import minilm
from attn_helpers.head_roles import RELATIONS, head_role_shares, summarize_head_roles
from attn_helpers.plotting import plot_head_roles

PREVIOUS, NEXT, SELF, CLS, SEP = range(5)


def _tokens(seq_len):
    return ["[CLS]", *[f"w{i}" for i in range(seq_len - 2)], "[SEP]"]


def _heads(seq_len):
    # (2 layers, 3 heads, T, T): layer 0 = previous-token, next-token, self; layer 1 = [CLS],
    # [SEP], uniform. [CLS] and [SEP] rows point at themselves where a rule has no key.
    eye = np.eye(seq_len)
    previous = np.roll(eye, -1, axis=1)  # row i has its 1 at column i - 1 (row 0 wraps)
    following = np.roll(eye, 1, axis=1)
    to_cls = np.zeros((seq_len, seq_len))
    to_cls[:, 0] = 1.0
    to_sep = np.zeros((seq_len, seq_len))
    to_sep[:, -1] = 1.0
    uniform = np.full((seq_len, seq_len), 1.0 / seq_len)
    return np.stack([[previous, following, eye], [to_cls, to_sep, uniform]])


def test_heads_with_one_role_score_one_on_it_and_zero_elsewhere():
    seq_len = 7
    shares, uniform = head_role_shares([(_tokens(seq_len), _heads(seq_len))])
    assert shares.shape == (len(RELATIONS), 2, 3)
    np.testing.assert_allclose(uniform, 1 / seq_len)
    expected = np.zeros((5, 2, 3))
    expected[PREVIOUS, 0, 0] = expected[NEXT, 0, 1] = expected[SELF, 0, 2] = 1.0
    expected[CLS, 1, 0] = expected[SEP, 1, 1] = 1.0
    expected[:, 1, 2] = 1 / seq_len  # the uniform head scores exactly the baseline
    # The first word piece's previous token is [CLS], the last one's next token is [SEP]: 1 of 5.
    expected[CLS, 0, 0] = expected[SEP, 0, 1] = 1 / (seq_len - 2)
    np.testing.assert_allclose(shares, expected, atol=1e-15)


def test_edge_word_pieces_are_left_out_of_previous_and_next():
    # The first word piece's previous token is [CLS]: a [CLS] head must not count as previous-token.
    shares, _ = head_role_shares([(_tokens(6), _heads(6))])
    assert shares[PREVIOUS, 1, 0] == 0.0  # the [CLS] head
    assert shares[NEXT, 1, 1] == 0.0  # the [SEP] head


def test_sentences_are_pooled_by_query_tokens():
    # Sentence A (T=4, 2 word pieces): head on [CLS]; sentence B (T=8, 6 word pieces): uniform.
    a = np.zeros((1, 1, 4, 4))
    a[..., 0] = 1.0
    b = np.full((1, 1, 8, 8), 1 / 8)
    shares, uniform = head_role_shares([(_tokens(4), a), (_tokens(8), b)])
    np.testing.assert_allclose(shares[CLS, 0, 0], (2 * 1.0 + 6 / 8) / 8)
    np.testing.assert_allclose(uniform[CLS], (2 / 4 + 6 / 8) / 8)
    # previous: 1 query in A (none on its previous token), 5 in B
    np.testing.assert_allclose(shares[PREVIOUS, 0, 0], (0 + 5 / 8) / 6)
    np.testing.assert_allclose(uniform[PREVIOUS], (1 / 4 + 5 / 8) / 6)


def test_input_is_not_modified():
    w = _heads(6)
    before = w.copy()
    head_role_shares([(_tokens(6), w)])
    np.testing.assert_array_equal(w, before)


@pytest.mark.parametrize(
    ("attention", "match"),
    [
        ([], "attention is empty"),
        ([(_tokens(5), np.ones((5, 5)))], r"num_layers, num_heads, seq_len, seq_len"),
        ([(_tokens(6), _heads(5))], r"6 tokens for weights of shape \(2, 3, 5, 5\)"),
        ([(["a", "b", "c", "d", "[SEP]"], _heads(5))], "must start with '\\[CLS\\]'"),
        ([(_tokens(3), _heads(3))], "at least two word pieces"),
        ([(_tokens(5), _heads(5)), (_tokens(5), _heads(5)[:1])], "attention\\[0\\] had 2"),
    ],
)
def test_bad_input_gets_an_error_that_names_it(attention, match):
    with pytest.raises(ValueError, match=match):
        head_role_shares(attention)


def test_summary_names_the_strongest_head_of_every_relation():
    shares, uniform = head_role_shares([(_tokens(7), _heads(7))])
    text = summarize_head_roles(shares, uniform)
    assert text.startswith("strongest head per relation: ")
    assert "the previous token: layer 0, head 0, 1.00 (7x uniform 0.14)" in text
    assert "[SEP]: layer 1, head 1, 1.00" in text
    with pytest.raises(ValueError, match="shares must have shape"):
        summarize_head_roles(shares[:2], uniform)


def test_figure_draws_each_relation_on_a_fixed_zero_to_one_scale():
    shares, uniform = head_role_shares([(_tokens(7), _heads(7))])
    fig, axes = plot_head_roles(shares, uniform=uniform)
    assert len(axes) == len(RELATIONS)
    for r, ax in enumerate(axes):
        image = ax.images[0]
        np.testing.assert_array_equal(image.get_array(), shares[r])
        assert image.get_clim() == (0.0, 1.0)
        assert RELATIONS[r] in ax.get_title()
        assert "uniform: 0.14" in ax.get_title()
        assert ax.texts[0].get_text() == f"{shares[r].max():.2f}"
        assert len(ax.patches) == 1
    assert axes[0].texts[0].get_position() == (0, 0)  # the previous-token head: layer 0, head 0
    assert axes[0].get_ylabel() == "layer (from 0)"
    assert fig.axes[-1].get_ylabel() == "share of attention"
    assert "Share of each head's attention" in fig.get_suptitle()


def test_figure_rejects_mismatched_inputs():
    shares = np.zeros((5, 2, 3))
    with pytest.raises(ValueError, match="relations has 2 names"):
        plot_head_roles(shares, relations=["a", "b"])
    with pytest.raises(ValueError, match="uniform must have shape \\(5,\\)"):
        plot_head_roles(shares, uniform=np.zeros(4))
    with pytest.raises(ValueError, match="shares must have shape"):
        plot_head_roles(shares[0])


@pytest.fixture(scope="module")
def model():
    if importlib.util.find_spec(minilm.MODEL_PACKAGE) is None:
        reason = f"the model package {minilm.MODEL_PACKAGE_PIN} is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run the MiniLM tests, but " + reason)
        pytest.skip(reason)
    return minilm.load_minilm()


def test_minilm_layer_0_has_a_previous_token_head(model):
    sentences = [
        "The trophy didn't fit in the suitcase because it was too big.",
        "The cat couldn't catch the mouse because it was too slow.",
        "Joan made sure to thank Susan for all the help she had received.",
    ]
    shares, uniform = head_role_shares([model.attend(s) for s in sentences])
    assert shares.shape == (5, 6, 12)
    assert np.all((shares >= 0) & (shares <= 1 + 1e-6))
    head = int(shares[PREVIOUS, 0].argmax())
    assert shares[PREVIOUS, 0, head] > 0.9 > 10 * uniform[PREVIOUS]


def test_docstring_example_runs():
    import doctest

    from attn_helpers import head_roles

    result = doctest.testmod(head_roles)
    assert result.attempted > 0
    assert result.failed == 0
