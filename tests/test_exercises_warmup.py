import numpy as np

from attn_helpers.exercises import check_similarity_scores
from attn_helpers.exercises._framework import assert_checker_sound


def test_checker_is_sound():
    assert_checker_sound("similarity_scores")


def test_a_loop_version_is_correct():
    def loop(query, keys):
        return np.array([sum(q * k for q, k in zip(query, key)) for key in keys])

    assert check_similarity_scores(loop)
