"""The checkers of notebooks 01-02 tell right from wrong, and accept other correct solutions."""

import numpy as np
import pytest

from attn_helpers import scaled_dot_product_attention
from attn_helpers import softmax as package_softmax
from attn_helpers.exercises import qkv_ex, softmax_ex
from attn_helpers.exercises._framework import REGISTRY, assert_checker_sound


def np_softmax(x, axis=-1):
    """A learner's own numpy softmax (the exercises forbid the package's)."""
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


NAMES = [
    "dot_scores",
    "weighted_average",
    "soft_lookup",
    "softmax",
    "softmax_temperature",
    "softmax_jacobian",
    "attention",
]

# The module that holds each notebook's checkers.
MODULES = {"01_queries_keys_values": qkv_ex, "02_softmax_weighting": softmax_ex}


@pytest.mark.parametrize("name", NAMES)
def test_checker_is_sound(name):
    assert_checker_sound(name)


def test_three_exercises_per_notebook():
    for notebook in ("01_queries_keys_values", "02_softmax_weighting"):
        assert sum(REGISTRY[n].notebook == notebook for n in NAMES) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_checker_function_is_exported(name):
    module = MODULES[REGISTRY[name].notebook]
    assert getattr(module, f"check_{name}") in [getattr(module, n) for n in module.__all__]


# --------------------------------------------------------------------------- other correct answers


def test_loop_versions_are_correct():
    def dot_scores(q, k):
        return np.array([[sum(a * b for a, b in zip(qi, kj)) for kj in k] for qi in q])

    def weighted_average(weights, v):
        return np.sum(weights[..., :, None] * v, axis=-2)

    assert qkv_ex.check_dot_scores(dot_scores)
    assert qkv_ex.check_weighted_average(weighted_average)


def test_package_functions_are_rejected_where_the_notebook_forbids_them():
    """Notebook 02: "Use numpy only, not the package's `softmax`: the point is to write it yourself"."""
    res = softmax_ex.check_softmax(package_softmax)
    assert not res
    assert "calls the package's `attn_helpers.softmax`" in res.message
    res = softmax_ex.check_softmax_temperature(lambda x, t: package_softmax(x, temperature=t))
    assert "`attn_helpers.softmax`" in res.message

    def attention(q, k, v, mask=None):
        return scaled_dot_product_attention(q, k, v, mask=mask)

    res = softmax_ex.check_attention(attention)
    assert "`attn_helpers.scaled_dot_product_attention`" in res.message
    assert softmax_ex.check_softmax(np_softmax)


def test_jacobian_by_central_differences_is_accepted():
    def softmax_jacobian(weights):
        s = np.log(weights, out=np.full_like(weights, -50.0), where=weights > 0)
        eps = 1e-6
        cols = []
        for j in range(len(s)):
            d = np.zeros_like(s)
            d[j] = eps
            cols.append((np_softmax(s + d) - np_softmax(s - d)) / (2 * eps))
        return np.stack(cols, axis=1)

    assert softmax_ex.check_softmax_jacobian(softmax_jacobian)  # accurate to ~1e-10, within atol


def test_jacobian_with_forward_differences_is_not_accepted():
    def softmax_jacobian(weights):
        s = np.log(weights, out=np.full_like(weights, -50.0), where=weights > 0)
        eps = 1e-3
        return np.stack(
            [(np_softmax(s + eps * np.eye(len(s))[j]) - weights) / eps for j in range(len(s))],
            axis=1,
        )

    res = softmax_ex.check_softmax_jacobian(softmax_jacobian)
    assert not res
    assert "differs" in res.message


def test_attention_with_additive_mask_is_correct():
    """A learner who builds an additive -1e9 mask still passes (no fully masked rows in the cases)."""

    def attention(q, k, v, mask=None):
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores + np.where(mask, 0.0, -1e9)
        weights = np_softmax(scores)
        return weights @ v, weights

    assert softmax_ex.check_attention(attention)


# --------------------------------------------------------------------------- wrong answers


def test_attention_that_forgets_the_weights_is_incorrect():
    res = softmax_ex.check_attention(
        lambda q, k, v, mask=None: softmax_ex.attention_solution(q, k, v, mask)[0]
    )
    assert not res
    assert "tuple of 2 items" in res.message


def test_naive_softmax_written_by_a_learner_is_diagnosed():
    def softmax(x, axis=-1):
        e = np.exp(x)
        return e / e.sum(axis=axis, keepdims=True)

    with np.errstate(over="ignore", invalid="ignore"):
        res = softmax_ex.check_softmax(softmax)
    assert res.mistake == "no max subtraction"
    assert "large scores" in res.message


def test_softmax_over_axis_zero_is_diagnosed():
    res = softmax_ex.check_softmax(lambda x, axis=-1: np_softmax(x, axis=0))
    assert res.mistake == "wrong axis"
    assert "(2, 3) matrix" in res.message


def test_hard_lookup_is_diagnosed():
    def soft_lookup(query, keys, values):
        i = int(np.argmax(keys @ query))
        weights = np.eye(len(keys))[i]
        return values[i], weights

    assert qkv_ex.check_soft_lookup(soft_lookup).mistake == "hard lookup"


def test_mask_after_softmax_is_diagnosed():
    def attention(q, k, v, mask=None):
        weights = np_softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]))
        if mask is not None:
            weights = np.where(mask, weights, 0.0)
        return weights @ v, weights

    res = softmax_ex.check_attention(attention)
    assert res.mistake == "mask applied after softmax"
    assert "causal mask" in res.message


def test_softmax_with_one_global_max_is_diagnosed():
    def softmax(x, axis=-1):
        e = np.exp(x - x.max())
        return e / e.sum(axis=axis, keepdims=True)

    with np.errstate(under="ignore", invalid="ignore"):
        res = softmax_ex.check_softmax(softmax)
    assert res.mistake == "max of the whole array"
    assert "very different sizes" in res.message


def test_attention_with_k_T_on_heads_is_told_about_swapaxes():
    def attention(q, k, v, mask=None):
        scores = q @ k.T / np.sqrt(q.shape[-1])
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        weights = np_softmax(scores)
        return weights @ v, weights

    res = softmax_ex.check_attention(attention)
    assert not res
    assert "swapaxes" in res.message


def test_naive_soft_lookup_is_diagnosed_on_large_scores():
    def soft_lookup(query, keys, values):
        e = np.exp(keys @ query)  # no max subtraction
        weights = e / e.sum()
        return weights @ values, weights

    with np.errstate(over="ignore", invalid="ignore"):
        res = qkv_ex.check_soft_lookup(soft_lookup)
    assert res.mistake == "no max subtraction"
    assert "1000" in res.message
    assert "largest score" in res.message


def test_soft_lookup_scaled_by_sqrt_d_k_is_diagnosed():
    def soft_lookup(query, keys, values):
        weights = np_softmax(keys @ query / np.sqrt(len(query)))
        return weights @ values, weights

    res = qkv_ex.check_soft_lookup(soft_lookup)
    assert res.mistake == "scaled by sqrt(d_k)"
    assert "notebook 02" in res.message


def test_soft_lookup_with_the_package_softmax_is_rejected():
    """Notebook 01: "Write the softmax yourself with `np.exp`"."""

    def soft_lookup(query, keys, values):
        weights = package_softmax(keys @ query)
        return weights @ values, weights

    res = qkv_ex.check_soft_lookup(soft_lookup)
    assert not res
    assert "`attn_helpers.softmax`" in res.message


def test_jacobian_with_flipped_sign_is_diagnosed():
    res = softmax_ex.check_softmax_jacobian(lambda w: np.outer(w, w) - np.diag(w))
    assert res.mistake == "sign flipped"
    assert "wrong sign" in res.message
