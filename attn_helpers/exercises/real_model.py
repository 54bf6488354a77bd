"""Exercises of notebook 08 (a real model): mean pooling, the attention-sink share, exact GELU."""

import math

import numpy as np

from .._minilm_math import erf, gelu, mean_pool
from ._common import absolute, float32, negated
from ._framework import (
    Case,
    Exercise,
    Mistake,
    WrongVariant,
    _default_compare,
    case_rng,
    check,
    register,
    transformed,
)

__all__ = ["check_gelu", "check_mean_pool", "check_sink_share"]

NOTEBOOK = "08_real_model"


# --------------------------------------------------------------------------- mean pooling


def mean_pool_solution(hidden, lengths):
    """Average each sequence's token vectors over its real (unpadded) tokens."""
    seq_len = hidden.shape[1]
    real = np.arange(seq_len)[None, :] < np.asarray(lengths)[:, None]  # (batch, seq_len)
    total = (hidden * real[:, :, None]).sum(axis=1)  # (batch, seq_len, d_model) -> (batch, d_model)
    return total / np.asarray(lengths)[:, None]


def _mean_with_padding(hidden, lengths):
    return hidden.mean(axis=1)


def _sum_over_real(hidden, lengths):
    real = np.arange(hidden.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return (hidden * real[:, :, None]).sum(axis=1)


def _divide_by_seq_len(hidden, lengths):
    real = np.arange(hidden.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return (hidden * real[:, :, None]).sum(axis=1) / hidden.shape[1]


def _pooled_and_normalised(hidden, lengths):
    pooled = mean_pool_solution(hidden, lengths)
    return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)


def _mean_over_features(hidden, lengths):
    return hidden.mean(axis=2)


def _skip_cls(hidden, lengths):
    positions = np.arange(hidden.shape[1])[None, :]  # (1, seq_len)
    real = (positions >= 1) & (positions < np.asarray(lengths)[:, None])  # [CLS] left out
    with np.errstate(invalid="ignore", divide="ignore"):
        return (hidden * real[:, :, None]).sum(axis=1) / real.sum(axis=1, keepdims=True)


def _lengths_not_reshaped(hidden, lengths):
    real = np.arange(hidden.shape[1])[None, :] < np.asarray(lengths)[:, None]
    total = (hidden * real[:, :, None]).sum(axis=1)  # (batch, d_model)
    return total / np.asarray(lengths)  # (batch, d_model) / (batch,): a broadcasting error


def _lengths_off_by_one(hidden, lengths):
    real = np.arange(hidden.shape[1])[None, :] <= np.asarray(lengths)[:, None]  # one too many
    return (hidden * real[:, :, None]).sum(axis=1) / np.asarray(lengths)[:, None]


def _max_pool(hidden, lengths):
    real = np.arange(hidden.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return np.where(real[:, :, None], hidden, -np.inf).max(axis=1)


def _mean_pool_package(hidden, lengths):
    return mean_pool(hidden, lengths)


_HIDDEN = np.arange(24.0).reshape(2, 4, 3) / 10  # (batch=2, seq_len=4, d_model=3)

register(
    Exercise(
        name="mean_pool",
        notebook=NOTEBOOK,
        title="Mean pooling over real tokens",
        reference=mean_pool_solution,
        forbidden=(mean_pool,),
        cases=[
            Case((_HIDDEN, np.array([4, 4])), description="two unpadded sequences (2, 4, 3)"),
            Case(
                (_HIDDEN, np.array([2, 4])),
                description="`hidden` (2, 4, 3) where the first sequence has 2 real tokens and 2 "
                "padding",
            ),
            Case(
                (
                    case_rng("mean_pool").standard_normal((3, 5, 4)),
                    np.array([1, 5, 3]),
                ),
                description="`hidden` (3, 5, 4) with `lengths` `[1, 5, 3]`",
            ),
        ],
        mistakes=[
            Mistake(
                "padding included",
                _mean_with_padding,
                "you averaged over every position, padding included, so a short sentence's "
                "embedding depends on how long the others in its batch are. Average only over the "
                "first `lengths[i]` tokens of sequence `i`.",
            ),
            Mistake(
                "sum not mean",
                _sum_over_real,
                "you summed the real tokens' vectors but did not divide by how many there are.",
            ),
            Mistake(
                "divided by seq_len",
                _divide_by_seq_len,
                "you summed only the real tokens (good) but divided by the padded `seq_len` "
                "instead of each sequence's own length.",
            ),
            Mistake(
                "normalised",
                _pooled_and_normalised,
                "your mean is right but you also scaled it to length 1. That is the next step "
                "(`l2_normalize`); this exercise asks for the mean only.",
            ),
            Mistake(
                "wrong axis",
                _mean_over_features,
                "you averaged over the feature axis (`d_model`, axis 2). Pool over the tokens "
                "(axis 1) so each sentence keeps its `d_model` features.",
            ),
            Mistake(
                "skipped [CLS]",
                _skip_cls,
                "you left out the first token. `[CLS]` is a real token too, and the model's mean "
                "pooling includes it (and `[SEP]`): average over all of the first `lengths[i]` "
                "positions.",
            ),
            Mistake(
                "lengths not reshaped",
                _lengths_not_reshaped,
                "numpy could not divide your `(batch, d_model)` sums by `lengths`, of shape "
                "`(batch,)`: broadcasting lines up the last axes. Divide by `lengths[:, None]`, "
                "of shape `(batch, 1)`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("one padding token too many", _lengths_off_by_one),
            WrongVariant("max pooling", _max_pool),
            WrongVariant("abs", transformed(mean_pool_solution, absolute)),
            WrongVariant("float32", transformed(mean_pool_solution, float32)),
            WrongVariant(
                "the package's mean_pool",
                _mean_pool_package,
                says="`attn_helpers.minilm.mean_pool`",
            ),
        ],
        hints=[
            "Build a boolean `(batch, seq_len)` array that is True for real tokens: compare "
            "`np.arange(seq_len)` with `lengths[:, None]`.",
            "Multiply `hidden` by that mask (add an axis: `mask[:, :, None]`), sum over axis 1, "
            "then divide by `lengths[:, None]`.",
        ],
    )
)


def check_mean_pool(fn):
    """Check your mean_pool(hidden, lengths) -> (batch, d_model): the mean over real tokens only."""
    return check("mean_pool", fn)


# --------------------------------------------------------------------------- attention sink share


def sink_share_solution(weights, is_sink):
    """Per layer: the share of attention landing on the sink keys, averaged over heads and queries."""
    on_sinks = weights[..., np.asarray(is_sink)].sum(axis=-1)  # (layers, heads, seq_len_q)
    return on_sinks.mean(axis=(1, 2))  # -> (layers,)


def _query_axis(weights, is_sink):
    return weights[..., np.asarray(is_sink), :].sum(axis=-1).mean(axis=(1, 2))


def _rows_summed(weights, is_sink):
    return weights[:, :, np.asarray(is_sink), :].sum(axis=2).mean(axis=(1, 2))  # rows, not columns


def _summed_over_queries(weights, is_sink):
    return weights[..., np.asarray(is_sink)].sum(axis=-1).sum(axis=2).mean(axis=1)


def _max_over_queries(weights, is_sink):
    return weights[..., np.asarray(is_sink)].sum(axis=-1).max(axis=2).mean(axis=1)


def _not_sinks(weights, is_sink):
    return weights[..., ~np.asarray(is_sink)].sum(axis=-1).mean(axis=(1, 2))


def _summed_over_heads(weights, is_sink):
    return weights[..., np.asarray(is_sink)].sum(axis=-1).sum(axis=1).mean(axis=1)


def _per_head(weights, is_sink):
    return weights[..., np.asarray(is_sink)].sum(axis=-1).mean(axis=2)


def _mean_over_sinks(weights, is_sink):
    return weights[..., np.asarray(is_sink)].mean(axis=-1).mean(axis=(1, 2))


def _count_share(weights, is_sink):
    share = np.asarray(is_sink).mean()
    return np.full(weights.shape[0], share)


def _sink_case(name, layers, heads, seq_len, sinks):
    rng = case_rng(name)
    scores = rng.standard_normal((layers, heads, seq_len, seq_len)) * 2
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    is_sink = np.zeros(seq_len, dtype=bool)
    is_sink[list(sinks)] = True
    return weights, is_sink


_ROWS_DIAGNOSIS = (
    "you selected the sink tokens' rows, `weights[:, :, is_sink, :]`: rows are queries, so that "
    "is the attention the sinks give out. The share that lands on a token is in its column: "
    "select the keys, `weights[..., is_sink]`."
)

register(
    Exercise(
        name="sink_share",
        notebook=NOTEBOOK,
        title="The attention-sink share per layer",
        reference=sink_share_solution,
        cases=[
            Case(
                (np.full((1, 1, 4, 4), 0.25), np.array([True, False, False, False])),
                description="uniform weights (1, 1, 4, 4) with one sink key",
            ),
            Case(
                _sink_case("sink_share 1", 2, 3, 5, [0, 4]),
                description="weights (2, 3, 5, 5) with sinks at keys 0 and 4",
            ),
            Case(
                _sink_case("sink_share 2", 6, 12, 7, [0, 5, 6]),
                description="weights (6, 12, 7, 7), the MiniLM layout, with three sink keys",
            ),
        ],
        mistakes=[
            Mistake("query axis", _query_axis, _ROWS_DIAGNOSIS),
            Mistake(
                "summed over the queries",
                _summed_over_queries,
                "you added up the queries' shares instead of averaging them, so the share grows "
                "with the number of tokens and can exceed 1. Average over the heads and the "
                "queries: `.mean(axis=(1, 2))`.",
            ),
            Mistake(
                "summed heads",
                _summed_over_heads,
                "you added the heads up instead of averaging them, so the share can exceed 1.",
            ),
            Mistake(
                "per head",
                _per_head,
                "you returned one share per head. Average over the heads too, to get one number "
                "per layer.",
            ),
            Mistake(
                "averaged over sinks",
                _mean_over_sinks,
                "you averaged over the sink keys, which gives the attention on a typical sink. "
                "The share landing on the sinks is their total: sum over the sink keys, then "
                "average over heads and queries.",
            ),
            Mistake(
                "token count",
                _count_share,
                "your shares equal the fraction of tokens that are sinks: uniform attention gives "
                "that, and so does selecting the sinks' rows (`weights[:, :, is_sink, :]`, the "
                "attention the sinks give out) and averaging. Use the weights of the sink keys' "
                "columns, `weights[..., is_sink]`: how much attention actually lands there?",
            ),
        ],
        wrong_variants=[
            WrongVariant("rows selected", _query_axis, says="`weights[:, :, is_sink, :]`"),
            WrongVariant("rows summed", _rows_summed, says="`weights[:, :, is_sink, :]`"),
            WrongVariant("max over the queries", _max_over_queries),
            WrongVariant("the non-sink keys", _not_sinks),
            WrongVariant("float32", transformed(sink_share_solution, float32)),
        ],
        hints=[
            "`weights[..., is_sink]` keeps only the sink keys' columns: shape "
            "`(layers, heads, seq_len_q, number of sinks)`.",
            "Sum over the last axis (the sinks), then average over heads and queries "
            "(axes 1 and 2).",
        ],
    )
)


def check_sink_share(fn):
    """Check your sink_share(weights, is_sink) -> (layers,): attention landing on the sink keys."""
    return check("sink_share", fn)


# --------------------------------------------------------------------------- exact GELU


def gelu_solution(x):
    """GELU(x) = x * Phi(x), with the standard normal CDF Phi(x) = (1 + erf(x / sqrt(2))) / 2."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _tanh_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _sigmoid_gelu(x):
    return x / (1.0 + np.exp(-1.702 * x))


def _no_half(x):
    return x * (1.0 + erf(x / math.sqrt(2.0)))


def _no_sqrt2(x):
    return 0.5 * x * (1.0 + erf(x))


def _phi_only(x):
    return 0.5 * (1.0 + erf(x / math.sqrt(2.0)))


def _rounded_constant(x):
    return 0.5 * x * (1.0 + erf(x * 0.7071))


def _math_erf_on_array(x):
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))  # raises TypeError on an array


_GELU_RTOL, _GELU_ATOL = 1e-9, 1e-12


def _compare_gelu(expected, actual):
    # The default comparison, plus a clearer message for results that are close but not exact.
    problem = _default_compare(expected, actual, rtol=_GELU_RTOL, atol=_GELU_ATOL)
    if problem is None or not isinstance(expected, np.ndarray):
        return problem
    try:
        a = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        return problem
    if a.shape == expected.shape and np.allclose(a, expected, rtol=1e-4, atol=1e-6):
        return (
            f"your result is close to the expected values but not within `rtol={_GELU_RTOL:g}`: "
            "check your constants (write `1 / math.sqrt(2)` exactly, not a rounded decimal) and "
            "compute in float64, not float32"
        )
    return problem


register(
    Exercise(
        name="gelu",
        notebook=NOTEBOOK,
        title="The exact (erf) GELU",
        reference=gelu_solution,
        forbidden=(gelu,),
        solution_prelude="import math\n\nfrom attn_helpers.minilm import erf",
        cases=[
            Case((np.array([0.0, 1.0, -1.0]),), description="`x = [0, 1, -1]`"),
            Case((np.linspace(-4.0, 4.0, 17),), description="17 points from -4 to 4"),
            Case(
                (case_rng("gelu").standard_normal((2, 3, 5)) * 3,),
                description="an array of shape (2, 3, 5)",
            ),
        ],
        mistakes=[
            Mistake(
                "tanh approximation",
                _tanh_gelu,
                "you used the tanh approximation of GELU. It is close, but not what BERT models "
                "use; use `erf`: `0.5 * x * (1 + erf(x / sqrt(2)))`.",
            ),
            Mistake(
                "sigmoid approximation",
                _sigmoid_gelu,
                "you used the sigmoid approximation `x * sigmoid(1.702 * x)`. Use the exact form "
                "with `erf`.",
            ),
            Mistake("missing half", _no_half, "your result is twice too large: keep the `0.5`."),
            Mistake(
                "missing sqrt(2)",
                _no_sqrt2,
                "`Phi(x)`, the normal CDF, is `(1 + erf(x / sqrt(2))) / 2`: you left out the "
                "division by `sqrt(2)`.",
            ),
            Mistake(
                "Phi only",
                _phi_only,
                "you returned `Phi(x)`, the probability, without multiplying by `x`.",
            ),
            Mistake(
                "rounded 1/sqrt(2)",
                _rounded_constant,
                "you are close, but `0.7071` is `1 / sqrt(2)` rounded: write `1 / math.sqrt(2)` "
                "(or divide by `math.sqrt(2)`) so the result is exact to float64 precision.",
            ),
            Mistake(
                "math.erf on an array",
                _math_erf_on_array,
                "`math.erf` takes one number, not an array; use `attn_helpers.minilm.erf`, which "
                "works element-wise on numpy arrays.",
            ),
        ],
        wrong_variants=[
            WrongVariant("relu", lambda x: np.maximum(x, 0.0)),
            WrongVariant("negated", transformed(gelu_solution, negated)),
            WrongVariant("float32", transformed(gelu_solution, float32), says="float32"),
            WrongVariant(
                "the package's gelu", lambda x: gelu(x), says="`attn_helpers.minilm.gelu`"
            ),
        ],
        hints=[
            "`GELU(x) = x * Phi(x)`, where `Phi` is the standard normal CDF.",
            "`Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))`; `erf` is `attn_helpers.minilm.erf` (numpy "
            "has none; `math.erf` works on one number at a time).",
        ],
        compare=_compare_gelu,
        rtol=_GELU_RTOL,
        atol=_GELU_ATOL,
    )
)


def check_gelu(fn):
    """Check your gelu(x): the exact, erf-based GELU, element-wise."""
    return check("gelu", fn)
