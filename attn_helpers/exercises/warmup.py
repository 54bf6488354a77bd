"""The warm-up exercise of notebook 00: how similar is one query to each key?"""

import numpy as np

from ._framework import Case, Exercise, Mistake, check, register

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
                (np.linspace(-1, 1, 8), np.arange(24.0).reshape(3, 8) / 10),
                description="a query (8,) and three keys (3, 8)",
            ),
        ],
        mistakes=[
            Mistake(
                "query @ keys",
                _query_first,
                "you computed query @ keys, which pairs the query with the *columns* of keys. keys has "
                "shape (seq_len, d): one key per row. Multiply so that each row meets the query.",
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
                "you measured the distance between query and key: a *large* distance means *less* "
                "similar. Attention uses the dot product instead.",
            ),
        ],
        hints=[
            "The dot product of two vectors multiplies them element by element and adds up the products.",
            "With keys of shape (seq_len, d) and a query of shape (d,), `keys @ query` gives all the "
            "dot products at once, shape (seq_len,).",
        ],
    )
)


def check_similarity_scores(fn):
    """Check your ``similarity_scores(query, keys) -> scores`` of shape (seq_len,)."""
    return check("similarity_scores", fn)
