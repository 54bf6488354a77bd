"""The warm-up exercise of notebook 00: how similar is one query to each key?"""

import numpy as np

from ._common import absolute, float32, negated, relu
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = ["check_similarity_scores"]


def similarity_scores_solution(query, keys):
    """One score per key: the dot product of the query with that key."""
    return keys @ query  # (seq_len, d) @ (d,) -> (seq_len,)


def _cosine(query, keys):
    return (keys @ query) / (np.linalg.norm(keys, axis=-1) * np.linalg.norm(query))


def _negative_distance(query, keys):
    return -np.linalg.norm(keys - query, axis=-1)


def _query_first(query, keys):
    return query @ keys


def _distance(query, keys):
    return np.linalg.norm(keys - query, axis=-1)


def _summed_over_keys(query, keys):
    return (keys * query).sum(axis=0)  # (d,): one number per feature, not per key


def _last_key_skipped(query, keys):
    return np.array([keys[i] @ query for i in range(len(keys) - 1)])  # range(len(keys) - 1)


def _squared(query, keys):
    return (keys @ query) ** 2


_SIGN = (
    "your scores are never negative, but a key that points away from the query has a negative "
    "dot product (here `[1, -2]` against `[0, 2]` gives -4). Keep the sign: no `np.abs`, no "
    "clipping at 0."
)
_KEYS = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])

register(
    Exercise(
        name="similarity_scores",
        notebook="00_start_here",
        title="Similarity scores by dot product",
        reference=similarity_scores_solution,
        cases=[
            Case(
                (np.array([1.0, 0.0]), np.array([[1.0, 2.0], [0.0, 1.0]])),
                description="a query (2,) and two keys (2, 2)",
            ),
            Case(
                (np.array([1.0, 2.0]), _KEYS),
                description="a query (2,) and four keys (4, 2) of different lengths",
            ),
            Case(
                (np.array([1.0, -2.0]), np.array([[3.0, 1.0], [0.0, 2.0], [-1.0, -1.0]])),
                description="a query (2,) and three keys (3, 2), one pointing away from the query",
            ),
            Case(
                (np.linspace(-1, 1, 8), np.arange(24.0).reshape(3, 8) / 10),
                description="a query (8,) and three keys (3, 8)",
            ),
        ],
        mistakes=[
            Mistake(
                "query @ keys",
                _query_first,
                "you computed `query @ keys`, which pairs the query with the columns of `keys`. "
                "`keys` has shape `(seq_len, d)`: one key per row. Multiply so that each row meets "
                "the query.",
            ),
            Mistake(
                "cosine similarity",
                _cosine,
                "you divided by the vectors' lengths (cosine similarity). Attention's score is the "
                "raw dot product, so a longer key scores higher: keep the lengths in.",
            ),
            Mistake(
                "negative distance",
                _negative_distance,
                "you measured (negative) distance between query and key. Attention uses the dot "
                "product: sum the element-wise products.",
            ),
            Mistake(
                "distance",
                _distance,
                "you measured the distance between query and key: a large distance means less "
                "similar. Attention uses the dot product instead.",
            ),
            Mistake("absolute value", transformed(similarity_scores_solution, absolute), _SIGN),
            Mistake("clipped at zero", transformed(similarity_scores_solution, relu), _SIGN),
        ],
        wrong_variants=[
            WrongVariant(
                "abs", transformed(similarity_scores_solution, absolute), says="Keep the sign"
            ),
            WrongVariant(
                "relu", transformed(similarity_scores_solution, relu), says="Keep the sign"
            ),
            WrongVariant("negated", transformed(similarity_scores_solution, negated)),
            WrongVariant("squared", _squared),
            WrongVariant("summed over the keys", _summed_over_keys),
            WrongVariant("last key skipped (off by one)", _last_key_skipped),
            WrongVariant(
                "float32", transformed(similarity_scores_solution, float32), says="float32"
            ),
        ],
        hints=[
            "The dot product of two vectors multiplies them element by element and adds up the "
            "products.",
            "With `keys` of shape `(seq_len, d)` and a `query` of shape `(d,)`, `keys @ query` "
            "gives all the dot products at once, shape `(seq_len,)`.",
        ],
    )
)


def check_similarity_scores(fn):
    """Check your ``similarity_scores(query, keys) -> scores`` of shape (seq_len,)."""
    return check("similarity_scores", fn)
