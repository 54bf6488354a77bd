"""Diagnoses a newcomer's read of notebooks 00-09 found wrong or missing (issue 22, A and B).

Each test writes the wrong answer the way a learner would (not the module's own mistake function)
and asserts the message they get.
"""

import warnings

import numpy as np

from attn_helpers.exercises import _framework as fw
from attn_helpers.exercises import (
    check_attention,
    check_cross_attention,
    check_mha_parameter_count,
    check_multi_head_attention,
    check_similarity_scores,
    check_sink_share,
    check_softmax,
    check_softmax_temperature,
)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_similarity_scores_with_abs_is_rejected_and_told_to_keep_the_sign():
    res = check_similarity_scores(lambda query, keys: np.abs(keys @ query))
    assert not res
    assert "Keep the sign" in res.message


def test_a_parameter_count_that_is_not_an_integer_is_rejected():
    def mha_parameter_count(d_model, num_heads):
        return 4 * (d_model * d_model + d_model) / num_heads * num_heads  # a float

    res = check_mha_parameter_count(mha_parameter_count)
    assert not res
    assert "`1050624.0`" in res.message
    res = check_mha_parameter_count(
        lambda d_model, num_heads: 4 * d_model * d_model + 4 * d_model + 1
    )
    assert "`1050625`" in res.message  # printed in full


def test_own_softmax_exercises_reject_the_package():
    from attn_helpers import softmax

    def my_softmax(x, axis=-1):
        return softmax(x, axis=axis)

    res = check_softmax(my_softmax)
    assert not res
    assert "calls the package's `attn_helpers.softmax`" in res.message
    assert check_softmax(_softmax)


# --------------------------------------------------------------------------- 08 sink_share


def test_sink_share_summed_over_queries_is_not_called_a_query_axis_mistake():
    def sink_share(weights, is_sink):
        return weights[..., is_sink].sum(axis=-1).sum(axis=2).mean(axis=1)  # sum, not mean

    res = check_sink_share(sink_share)
    assert res.mistake == "summed over the queries"
    assert "added up the queries' shares" in res.message
    assert "query axis" not in res.message
    assert "`weights[:, :, is_sink, :]`" not in res.message


def test_sink_share_selecting_rows_names_the_rows():
    def sink_share(weights, is_sink):
        return weights[:, :, is_sink, :].sum(axis=-1).mean(axis=(1, 2))

    res = check_sink_share(sink_share)
    assert res.mistake == "query axis"
    assert "`weights[:, :, is_sink, :]`" in res.message
    assert "rows" in res.message


# --------------------------------------------------------------------------- 04 reshape without transpose


def test_multi_head_attention_with_the_split_reshape_bug_is_diagnosed():
    def my_multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
        q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
        head_dim = q.shape[-1] // num_heads

        def split(t):  # the notebook's bug: reshape straight to (h, T, head_dim)
            return t.reshape(num_heads, t.shape[0], head_dim)

        q, k, v = split(q), split(k), split(v)
        weights = _softmax(q @ k.swapaxes(-1, -2) / np.sqrt(head_dim))
        heads = weights @ v
        return heads.swapaxes(0, 1).reshape(x_q.shape[0], -1) @ w_o, weights

    res = check_multi_head_attention(my_multi_head_attention)
    assert not res
    assert "reshape-without-transpose" in res.message


# --------------------------------------------------------------------------- 02 and 03


def test_naive_exp_with_a_temperature_is_diagnosed():
    def softmax_temperature(x, temperature):
        e = np.exp(x / temperature)
        return e / e.sum(axis=-1, keepdims=True)

    res = check_softmax_temperature(softmax_temperature)
    assert res.mistake == "no max subtraction"
    assert "temperature 0.01" in res.message
    # The learner's own overflow is listed as a warning, not as printed output.
    assert any("overflow" in w for w in res.warned)
    assert "printed" not in res.message


def test_unscaled_cross_attention_is_diagnosed():
    def cross_attention(x_q, x_kv, w_q, w_k, w_v):
        q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
        weights = _softmax(q @ k.T)
        return weights @ v, weights

    res = check_cross_attention(cross_attention)
    assert res.mistake == "not scaled"
    assert "`sqrt(d_k)`" in res.message


def test_no_warning_leaks_from_the_checker_for_the_k_T_mistake():
    """02: `k.T` on the (2, 5, 8) case; the checker then runs its known mistakes on that case."""

    def attention(q, k, v, mask=None):
        scores = q @ k.T / np.sqrt(q.shape[-1])
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        weights = _softmax(scores)
        return weights @ v, weights

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning reaching the learner fails this test
        res = check_attention(attention)
    assert not res
    assert "swapaxes" in res.message


def test_hint_shows_one_hint_and_names_the_next():
    first = str(fw.hint("similarity_scores"))
    assert first.startswith("Hint 1 of 2:")
    assert "`keys @ query`" not in first
    assert 'hint("similarity_scores", 2)' in first
