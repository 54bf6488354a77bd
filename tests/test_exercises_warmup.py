import numpy as np

from attn_helpers.exercises import check_similarity_scores
from attn_helpers.exercises._framework import assert_checker_sound


def test_checker_is_sound():
    assert_checker_sound("similarity_scores")


def test_a_loop_version_is_correct():
    def loop(query, keys):
        return np.array([sum(q * k for q, k in zip(query, key)) for key in keys])

    assert check_similarity_scores(loop)


def test_query_first_is_diagnosed_even_when_it_crashes():
    from attn_helpers.exercises import check_similarity_scores as check

    res = check(lambda query, keys: query @ keys)
    assert res.mistake == "query @ keys"
    assert "rows" in res.message or "row" in res.message
