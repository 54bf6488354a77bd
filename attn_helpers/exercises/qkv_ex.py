"""Exercise checkers for notebook 01 (queries, keys, values).

Learner-facing signatures (what the notebook's stubs look like):

- 01: ``dot_scores(q, k) -> scores``, ``weighted_average(weights, v) -> output``,
  ``soft_lookup(query, keys, values) -> (output, weights)``.

Each exercise lists the common mistakes it recognises and the wrong variants it must reject;
``tests/test_exercises_variants.py`` checks that the reference passes and every one is rejected.
"""

from __future__ import annotations

import numpy as np

from ..core import scaled_dot_product_attention, softmax
from ._common import absolute, float32, item, negated, normal, swap_last
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = [
    "check_dot_scores",
    "check_soft_lookup",
    "check_weighted_average",
]


def _stable_softmax(x, axis=-1):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


# =============================================================================== notebook 01


# ----------------------------------------------------------------------------- dot_scores


def dot_scores_solution(q, k):
    """Every query's dot product with every key: scores[i, j] = q[i] . k[j]."""
    return q @ k.T  # (seq_len_q, d_k) @ (d_k, seq_len_k) -> (seq_len_q, seq_len_k)


def _scores_transposed(q, k):
    return k @ q.T  # (seq_len_k, seq_len_q): one row per key


def _scores_scaled(q, k):
    return q @ k.T / np.sqrt(q.shape[-1])


def _scores_cosine(q, k):
    return (q @ k.T) / np.outer(np.linalg.norm(q, axis=-1), np.linalg.norm(k, axis=-1))


def _scores_elementwise(q, k):
    return (q * k).sum(axis=-1)  # only pairs query i with key i


def _scores_last_key_skipped(q, k):
    return q @ k[:-1].T


_randn = normal("dot_scores", decimals=3)

register(
    Exercise(
        name="dot_scores",
        notebook="01_queries_keys_values",
        title="Scores: every query against every key",
        reference=dot_scores_solution,
        cases=[
            Case(
                (np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[3.0, 1.0], [1.0, 1.0]])),
                description="`q` (2, 2) and `k` (2, 2)",
            ),
            Case((_randn(3, 4), _randn(5, 4)), description="`q` (3, 4) and `k` (5, 4)"),
            Case((_randn(6, 8), _randn(6, 8)), description="`q` (6, 8) and `k` (6, 8)"),
        ],
        mistakes=[
            Mistake(
                "transposed",
                _scores_transposed,
                "your rows are the keys and your columns the queries. The course's convention is "
                "one row per query (`scores[i, j]` = how well query `i` matches key `j`), the "
                "layout the softmax will normalise along.",
            ),
            Mistake(
                "scaled",
                _scores_scaled,
                "you divided by `sqrt(d_k)`. That scaling is a good idea (notebook 02 shows why), "
                "but this exercise asks for the raw dot products.",
            ),
            Mistake(
                "cosine",
                _scores_cosine,
                "you divided by the vectors' lengths (cosine similarity). Attention uses the raw "
                "dot product, so the length of a query or key matters.",
            ),
            Mistake(
                "element-wise",
                _scores_elementwise,
                "you paired query `i` only with key `i` (an element-wise product, summed). Every "
                "query needs a score against every key: a `(seq_len_q, seq_len_k)` matrix.",
            ),
        ],
        wrong_variants=[
            WrongVariant("abs", transformed(dot_scores_solution, absolute)),
            WrongVariant("negated", transformed(dot_scores_solution, negated)),
            WrongVariant("transposed result", transformed(dot_scores_solution, swap_last)),
            WrongVariant("last key skipped (off by one)", _scores_last_key_skipped),
            WrongVariant("float32", transformed(dot_scores_solution, float32), says="float32"),
        ],
        hints=[
            "`scores[i, j]` is the dot product of query row `q[i]` with key row `k[j]`. Try it "
            "with two loops first.",
            "One matrix product does every pair at once: `q` of shape `(seq_len_q, d_k)` times "
            "the transpose of `k`, shape `(d_k, seq_len_k)`.",
        ],
    )
)


def check_dot_scores(fn):
    """Check your ``dot_scores(q, k) -> scores`` of shape (seq_len_q, seq_len_k)."""
    return check("dot_scores", fn)


# ----------------------------------------------------------------------------- weighted_average


def weighted_average_solution(weights, v):
    """Each query's output: its weights times the value rows, summed."""
    return weights @ v  # (seq_len_q, seq_len_k) @ (seq_len_k, d_v) -> (seq_len_q, d_v)


def _average_transposed(weights, v):
    return weights.T @ v  # uses column j of the weights (one key's weights) for query j


def _average_unweighted(weights, v):
    mean = v.mean(axis=0)  # (d_v,)
    return np.broadcast_to(mean, (*weights.shape[:-1], v.shape[-1])).copy()


def _average_elementwise_sum(weights, v):
    return (weights[..., :, None] * v).sum(axis=-1)  # summed over the features, not the keys


def _average_divided_by_count(weights, v):
    return weights @ v / v.shape[0]  # a mean of weighted rows: the weights already sum to 1


def _average_max(weights, v):
    return (weights[..., :, None] * v).max(axis=-2)  # the largest weighted value, not the sum


_randn = normal("weighted_average", decimals=3)

register(
    Exercise(
        name="weighted_average",
        notebook="01_queries_keys_values",
        title="The output: a weighted average of the values",
        reference=weighted_average_solution,
        cases=[
            Case(
                (np.array([0.25, 0.75]), np.array([[4.0, 0.0], [0.0, 8.0]])),
                description="one query's weights (2,) and `v` (2, 2)",
            ),
            Case(
                (
                    np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7], [0.0, 0.0, 1.0]]),
                    np.arange(6.0).reshape(3, 2),
                ),
                description="weights (3, 3) for three queries and `v` (3, 2)",
            ),
            Case(
                (_stable_softmax(_randn(4, 4)), _randn(4, 5)),
                description="weights (4, 4) and `v` (4, 5)",
            ),
        ],
        mistakes=[
            Mistake(
                "unweighted mean",
                _average_unweighted,
                "every query got the plain mean of the values: the weights were ignored. Multiply "
                "each value row by its weight before adding up.",
            ),
            Mistake(
                "transposed weights",
                _average_transposed,
                "you used the weights' columns. Row `i` of `weights` belongs to query `i`: "
                "`output[i]` = the sum over keys `j` of `weights[i, j] * v[j]`.",
            ),
            Mistake(
                "summed over the features",
                _average_elementwise_sum,
                "you added up across each value's features. The sum runs over the keys: the "
                "output keeps the value width `d_v`.",
            ),
            Mistake(
                "divided by the number of keys",
                _average_divided_by_count,
                "your output is too small by the number of keys: you divided by it. The weights "
                "already sum to 1, so the weighted sum is the average.",
            ),
        ],
        wrong_variants=[
            WrongVariant("max instead of sum", _average_max),
            WrongVariant("negated", transformed(weighted_average_solution, negated)),
            WrongVariant("abs", transformed(weighted_average_solution, absolute)),
            WrongVariant("float32", transformed(weighted_average_solution, float32)),
        ],
        hints=[
            "For one query: `output = weights[0] * v[0] + weights[1] * v[1] + ...` (one term "
            "per key).",
            "As a matrix product: `weights` `(seq_len_q, seq_len_k)` `@` `v` `(seq_len_k, d_v)`. "
            "It also works for a single row of weights of shape `(seq_len_k,)`.",
        ],
    )
)


def check_weighted_average(fn):
    """Check your ``weighted_average(weights, v) -> output`` of shape (seq_len_q, d_v)."""
    return check("weighted_average", fn)


# ----------------------------------------------------------------------------- soft_lookup


def soft_lookup_solution(query, keys, values):
    """A soft dictionary lookup: softmax of the query's dot products with the keys, then average."""
    scores = keys @ query  # (seq_len, d_k) @ (d_k,) -> (seq_len,)
    weights = np.exp(scores - scores.max())  # subtract the max: exp never overflows
    weights = weights / weights.sum()  # (seq_len,), sums to 1
    return weights @ values, weights  # (seq_len,) @ (seq_len, d_v) -> (d_v,)


def _lookup_hard(query, keys, values):
    weights = np.zeros(len(keys))
    weights[np.argmax(keys @ query)] = 1.0
    return weights @ values, weights


def _lookup_no_softmax(query, keys, values):
    weights = keys @ query
    return weights @ values, weights


def _lookup_normalised_scores(query, keys, values):
    scores = keys @ query
    weights = scores / scores.sum()
    return weights @ values, weights


def _lookup_distance(query, keys, values):
    scores = -np.linalg.norm(keys - query, axis=-1)
    weights = _stable_softmax(scores)
    return weights @ values, weights


def _lookup_naive_softmax(query, keys, values):
    scores = keys @ query
    with np.errstate(over="ignore", invalid="ignore"):
        weights = np.exp(scores)  # overflows to inf once a score passes ~709.78
        weights = weights / weights.sum()  # inf / inf = NaN
    return weights @ values, weights


def _lookup_scaled(query, keys, values):
    weights = _stable_softmax(keys @ query / np.sqrt(query.shape[-1]))
    return weights @ values, weights


def _lookup_min_subtracted(query, keys, values):
    scores = keys @ query
    with np.errstate(over="ignore", invalid="ignore"):
        weights = np.exp(scores - scores.min())  # the min, not the max: still overflows
        weights = weights / weights.sum()
    return weights @ values, weights


def _lookup_negated_scores(query, keys, values):
    weights = _stable_softmax(-(keys @ query))  # favours the keys that match least
    return weights @ values, weights


def _lookup_package_softmax(query, keys, values):
    weights = softmax(keys @ query)
    return weights @ values, weights


def _lookup_package_attention(query, keys, values):
    out, weights = scaled_dot_product_attention(query[None], keys, values, scale=1.0)
    return out[0], weights[0]


_KEYS_2D = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
_VALUES_2D = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
_randn = normal("soft_lookup", decimals=3)
_NAN_DIAGNOSIS = (
    "your weights are NaN: with scores near 1000, `np.exp` overflows to `inf` and `inf / inf` is "
    "NaN. Subtract the largest score before `np.exp`; the weights do not change, because only "
    "differences of scores count."
)

register(
    Exercise(
        name="soft_lookup",
        notebook="01_queries_keys_values",
        title="A soft dictionary lookup",
        reference=soft_lookup_solution,
        cases=[
            Case(
                (np.array([2.0, 0.5]), _KEYS_2D, _VALUES_2D),
                description="a query (2,), three keys (3, 2) and three values (3, 2)",
            ),
            Case(
                (np.array([0.0, 3.0]), _KEYS_2D, _VALUES_2D),
                description="a query (2,) close to the second key",
            ),
            Case(
                (_randn(4), _randn(6, 4), _randn(6, 3)),
                description="a query (4,), keys (6, 4), values (6, 3)",
            ),
            Case(
                (
                    np.array([500.0, 501.0]),
                    np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),
                    _VALUES_2D,
                ),
                description="a long query (2,) whose scores are 1000, 1002 and 1001",
            ),
            Case(
                (
                    np.array([1.0, 0.0]),
                    np.array([[800.0, 0.0], [-100.0, 3.0], [0.0, 1.0]]),
                    _VALUES_2D,
                ),
                description="a query (2,) whose scores are 800, -100 and 0",
            ),
        ],
        mistakes=[
            Mistake(
                "hard lookup",
                _lookup_hard,
                "your weights are one-hot: you picked only the best-matching key (a hard lookup). "
                "Attention blends all values, each weighted by the softmax of its score.",
            ),
            Mistake(
                "no softmax",
                _lookup_no_softmax,
                "you used the raw scores as weights. They can be negative and do not sum to 1: "
                "turn them into weights with a softmax first.",
            ),
            Mistake(
                "scores divided by their sum",
                _lookup_normalised_scores,
                "you divided the scores by their sum. That sums to 1 but breaks with negative "
                "scores; the softmax exponentiates first, so every weight is positive.",
            ),
            Mistake(
                "distance instead of dot product",
                _lookup_distance,
                "you scored keys by (negative) distance. That is a fine kernel (the "
                "Nadaraya-Watson picture), but attention's score is the dot product "
                "`keys @ query`.",
            ),
            Mistake("no max subtraction", _lookup_naive_softmax, _NAN_DIAGNOSIS),
            Mistake(
                "scaled by sqrt(d_k)",
                _lookup_scaled,
                "you divided the scores by `sqrt(d_k)`. That scaling comes in notebook 02; this "
                "exercise asks for the softmax of the raw dot products `keys @ query`.",
            ),
            Mistake(
                "negated scores",
                _lookup_negated_scores,
                "your weights favour the keys that match the query least: the scores went into "
                "the softmax with the wrong sign. Use `keys @ query` as it is.",
            ),
        ],
        wrong_variants=[
            WrongVariant("min subtracted instead of max", _lookup_min_subtracted),
            WrongVariant(
                "the package's softmax",
                _lookup_package_softmax,
                says="calls the package's `attn_helpers.softmax`",
            ),
            WrongVariant(
                "the package's attention",
                _lookup_package_attention,
                says="`attn_helpers.scaled_dot_product_attention`",
            ),
            WrongVariant(
                "output and weights swapped", transformed(soft_lookup_solution, lambda o: o[::-1])
            ),
            WrongVariant("abs of the output", transformed(soft_lookup_solution, item(0, absolute))),
        ],
        forbidden=(softmax, scaled_dot_product_attention),
        returns=("output", "weights"),
        hints=[
            "Three steps: scores (one dot product per key), weights = the softmax of the scores, "
            "output = the weighted average of the value rows. Return both `output` and `weights`.",
            "`scores = keys @ query`; `weights = np.exp(scores - scores.max())`, divided by their "
            "sum; `output = weights @ values`.",
        ],
    )
)


def check_soft_lookup(fn):
    """Check your ``soft_lookup(query, keys, values) -> (output, weights)``."""
    return check("soft_lookup", fn)
