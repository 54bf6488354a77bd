"""Exercise checkers for notebook 06 (attention is learned).

Learner-facing signatures (what the notebook's stubs look like):

- ``numerical_gradient(f, x, eps=1e-6) -> grad``: central finite differences of a scalar ``f``.
- ``attention_backward(d_output, q, k, v) -> (dq, dk, dv)``: the backward pass of
  ``output = softmax(q @ k.T / sqrt(d_k)) @ v`` (one head, no mask).
- ``adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
  -> (new_param, m, v)``: one Adam step that returns new arrays.

Each exercise lists the common mistakes it recognises; ``tests/test_exercises_learned.py`` checks
that the reference passes and every mistake gets its own diagnosis.
"""

from __future__ import annotations

import numpy as np

from ._common import absolute, float32, item, negated, normal
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = ["check_adam_update", "check_attention_backward", "check_numerical_gradient"]


# ----------------------------------------------------------------------------- numerical_gradient


def numerical_gradient_solution(f, x, eps=1e-6):
    """Central differences: grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)."""
    grad = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(x.shape):  # every entry of x, whatever its shape
        x_plus = x.astype(float)  # a copy: the input is never modified
        x_minus = x.astype(float)
        x_plus[idx] += eps
        x_minus[idx] -= eps
        grad[idx] = (f(x_plus) - f(x_minus)) / (2 * eps)
    return grad


def _forward_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(x.shape):
        x_plus = x.astype(float)
        x_plus[idx] += eps
        grad[idx] = (f(x_plus) - f(x)) / eps
    return grad


def _divide_by_eps(f, x, eps=1e-6):
    return 2 * numerical_gradient_solution(f, x, eps)


def _one_step_for_all(f, x, eps=1e-6):
    value = (f(x + eps) - f(x - eps)) / (2 * eps)  # nudges every entry at once
    return np.full(x.shape, value)


def _gradient_too_small_eps(f, x, eps=1e-6):
    return numerical_gradient_solution(f, x, eps * 1e-6)  # ignores the eps it was given


def _gradient_negated_difference(f, x, eps=1e-6):
    return -numerical_gradient_solution(f, x, eps)


def _gradient_first_entry_only(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=float)
    idx = (0,) * x.ndim
    x_plus, x_minus = x.astype(float), x.astype(float)
    x_plus[idx] += eps
    x_minus[idx] -= eps
    grad[idx] = (f(x_plus) - f(x_minus)) / (2 * eps)
    return grad


def _gradient_flat_loop(f, x, eps=1e-6):
    grad = np.zeros(x.size)
    for i in range(x.ndim):  # loops over the axes, not the entries (off by a lot)
        x_plus, x_minus = x.astype(float).ravel(), x.astype(float).ravel()
        x_plus[i] += eps
        x_minus[i] -= eps
        grad[i] = (f(x_plus.reshape(x.shape)) - f(x_minus.reshape(x.shape))) / (2 * eps)
    return grad.reshape(x.shape)


def _cubes(x):
    return float(np.sum(x**3))


def _sines(x):
    return float(np.sum(np.sin(x)))


def _logsumexp(x):
    return float(np.log(np.exp(x).sum()))


_randn = normal("numerical_gradient", decimals=3)

register(
    Exercise(
        name="numerical_gradient",
        notebook="06_attention_is_learned",
        title="Gradients by finite differences",
        reference=numerical_gradient_solution,
        cases=[
            Case(
                (_cubes, np.array([1.0, -2.0, 0.5])), {"eps": 1e-3}, "`f(x) = sum(x**3)`, `x` (3,)"
            ),
            Case(
                (_logsumexp, _randn(2, 3)), {"eps": 1e-4}, "`f(x) = log(sum(exp(x)))`, `x` (2, 3)"
            ),
            Case((_cubes, _randn(4)), {}, "`f(x) = sum(x**3)` with the default `eps`"),
            Case(
                (_sines, np.array([[0.3, 2.5], [-2.0, 1.0]])),
                {"eps": 1e-4},
                "`f(x) = sum(sin(x))`, `x` (2, 2), where some slopes are negative",
            ),
        ],
        mistakes=[
            Mistake(
                "forward difference",
                _forward_difference,
                "your result looks like a one-sided difference `(f(x + eps) - f(x)) / eps`. It is "
                "off by about `eps` times the curvature; nudge both ways and divide by `2 * eps`.",
            ),
            Mistake(
                "divided by eps",
                _divide_by_eps,
                "your gradient is twice too large: the two nudged points are `2 * eps` apart.",
            ),
            Mistake(
                "nudged everything",
                _one_step_for_all,
                "every entry of your gradient is the same number: you nudged all of `x` at once. "
                "Nudge one entry at a time and keep the others fixed.",
            ),
            Mistake(
                "sign flipped",
                _gradient_negated_difference,
                "your gradient points the wrong way: subtract `f(x - eps e_i)` from "
                "`f(x + eps e_i)`, not the other way round.",
            ),
        ],
        wrong_variants=[
            WrongVariant("own eps instead of the argument", _gradient_too_small_eps),
            WrongVariant("only the first entry", _gradient_first_entry_only),
            WrongVariant("loop over the axes, not the entries", _gradient_flat_loop),
            WrongVariant("abs", transformed(numerical_gradient_solution, absolute)),
            WrongVariant("float32", transformed(numerical_gradient_solution, float32)),
        ],
        hints=[
            "For one entry `i`: make two copies of `x`, add `eps` to entry `i` of one and "
            "subtract it from the other, and compare `f` at the two copies. Do not nudge `x` "
            "itself, even if you put the old value back afterwards: that still modifies the input "
            "in place (the checker hands you a read-only array). Nudge a copy, e.g. "
            "`x_plus = x.astype(float)`.",
            "Loop over every index with `for idx in np.ndindex(x.shape):`, use `x.astype(float)` "
            "(a copy) for each nudged point, and divide the difference by `2 * eps`.",
        ],
        rtol=1e-6,
        atol=1e-8,
    )
)


def check_numerical_gradient(fn):
    """Check your ``numerical_gradient(f, x, eps=1e-6) -> grad`` (same shape as ``x``)."""
    return check("numerical_gradient", fn)


# ----------------------------------------------------------------------------- attention_backward


def _softmax_rows(scores):
    z = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def attention_backward_solution(d_output, q, k, v):
    """Gradients of ``output = softmax(q @ k.T / sqrt(d_k)) @ v`` given ``d_output``."""
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = q @ k.T * scale  # (T_q, T_k): the forward pass, recomputed from the inputs
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)  # softmax over each row
    dv = weights.T @ d_output  # (T_k, T_q) @ (T_q, d_v) -> (T_k, d_v)
    d_weights = d_output @ v.T  # (T_q, d_v) @ (d_v, T_k) -> (T_q, T_k)
    # Softmax backward, row by row: d_scores = w * (d_w - sum_j w_j d_w_j)
    d_scores = weights * (d_weights - (d_weights * weights).sum(axis=-1, keepdims=True))
    dq = d_scores @ k * scale  # (T_q, T_k) @ (T_k, d_k)
    dk = d_scores.T @ q * scale  # (T_k, T_q) @ (T_q, d_k)
    return dq, dk, dv


def _backward_no_scale(d_output, q, k, v):
    dq, dk, dv = attention_backward_solution(d_output, q, k, v)
    scale = np.sqrt(q.shape[-1])
    # Same weights, but the chain rule forgot the 1/sqrt(d_k) of scores = q @ k.T / sqrt(d_k).
    return dq * scale, dk * scale, dv


def _backward_no_subtraction(d_output, q, k, v):
    scale = 1.0 / np.sqrt(q.shape[-1])
    weights = _softmax_rows(q @ k.T * scale)
    d_scores = weights * (d_output @ v.T)  # the diagonal of the softmax Jacobian only
    return d_scores @ k * scale, d_scores.T @ q * scale, weights.T @ d_output


def _backward_untransposed_weights(d_output, q, k, v):
    dq, dk, _ = attention_backward_solution(d_output, q, k, v)
    weights = _softmax_rows(q @ k.T / np.sqrt(q.shape[-1]))
    return dq, dk, weights @ d_output


def _backward_swapped_qk(d_output, q, k, v):
    dq, dk, dv = attention_backward_solution(d_output, q, k, v)
    return dk, dq, dv


def _backward_softmax_axis0(d_output, q, k, v):
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = q @ k.T * scale
    z = np.exp(scores - scores.max(axis=0, keepdims=True))
    weights = z / z.sum(axis=0, keepdims=True)  # columns sum to 1: the wrong axis
    d_weights = d_output @ v.T
    d_scores = weights * (d_weights - (d_weights * weights).sum(axis=-1, keepdims=True))
    return d_scores @ k * scale, d_scores.T @ q * scale, weights.T @ d_output


def _backward_wrong_order(d_output, q, k, v):
    dq, dk, dv = attention_backward_solution(d_output, q, k, v)
    return dv, dq, dk


def _backward_sum_over_queries(d_output, q, k, v):
    scale = 1.0 / np.sqrt(q.shape[-1])
    weights = _softmax_rows(q @ k.T * scale)
    d_weights = d_output @ v.T
    d_scores = weights * (d_weights - (d_weights * weights).sum(axis=0, keepdims=True))
    return d_scores @ k * scale, d_scores.T @ q * scale, weights.T @ d_output


_randn = normal("attention_backward", decimals=3)

register(
    Exercise(
        name="attention_backward",
        notebook="06_attention_is_learned",
        title="The backward pass of scaled dot-product attention",
        reference=attention_backward_solution,
        returns=("dq", "dk", "dv"),
        cases=[
            Case(
                (_randn(4, 3), _randn(4, 5), _randn(4, 5), _randn(4, 3)),
                {},
                "self-attention: `d_output` (4, 3), `q` (4, 5), `k` (4, 5), `v` (4, 3)",
            ),
            Case(
                (_randn(2, 6), _randn(2, 4), _randn(5, 4), _randn(5, 6)),
                {},
                "`d_output` (2, 6), `q` (2, 4), `k` (5, 4), `v` (5, 6): 2 queries, 5 keys",
            ),
        ],  # fmt: skip
        mistakes=[
            Mistake(
                "no scale",
                _backward_no_scale,
                "your `dv` is right, but `dq` and `dk` are `sqrt(d_k)` times too large: the scores "
                "are `q @ k.T / sqrt(d_k)`, so the chain rule multiplies by `1 / sqrt(d_k)` once "
                "more.",
            ),
            Mistake(
                "no softmax subtraction",
                _backward_no_subtraction,
                "your `dv` is right, but `dq` and `dk` use only the diagonal of the softmax "
                "Jacobian (`weights * d_weights`). Every weight in a row depends on every score of "
                "the row: subtract the row's weighted mean of `d_weights` first.",
            ),
            Mistake(
                "untransposed weights",
                _backward_untransposed_weights,
                "your `dq` and `dk` are right, but `dv` is not: value `j` receives from every "
                "query `i` the amount `weights[i, j]`, so `dv = weights.T @ d_output`.",
            ),
            Mistake(
                "dq and dk swapped",
                _backward_swapped_qk,
                "your `dq` looks like the expected `dk` and the other way round. "
                "`dq = d_scores @ k` (scaled); `dk = d_scores.T @ q` (scaled).",
            ),
            Mistake(
                "softmax along axis 0",
                _backward_softmax_axis0,
                "your gradients match a forward pass whose softmax runs down the columns (axis 0), "
                "so each key's weights over the queries sum to 1. Each query's row of weights "
                "must sum to 1: softmax along the last axis (`axis=-1`) of "
                "`q @ k.T / sqrt(d_k)`.",
            ),
            Mistake(
                "wrong return order",
                _backward_wrong_order,
                "your three gradients are right but in the order `(dv, dq, dk)`. Return "
                "`(dq, dk, dv)`, in the order of the arguments `q`, `k`, `v`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("softmax backward summed over the queries", _backward_sum_over_queries),
            WrongVariant(
                "dk negated",
                transformed(attention_backward_solution, item(1, negated)),
                says="(the second item, `dk`)",
            ),
            WrongVariant(
                "dv float32",
                transformed(attention_backward_solution, item(2, float32)),
                says="the third item, `dv`",
            ),
            WrongVariant("dq abs", transformed(attention_backward_solution, item(0, absolute))),
        ],
        hints=[
            "Recompute the forward pass first: `scores = q @ k.T / sqrt(d_k)`, "
            "`weights = softmax(scores)`, `output = weights @ v`. Then go backwards one line at a "
            "time.",
            "`output = weights @ v` gives `dv = weights.T @ d_output` and "
            "`d_weights = d_output @ v.T`. The softmax backward is "
            "`d_scores = weights * (d_weights - (d_weights * weights).sum(-1, keepdims=True))`, "
            "and then `scores = q @ k.T * scale` gives `dq` and `dk`.",
        ],
        rtol=1e-6,
        atol=1e-9,
    )
)


def check_attention_backward(fn):
    """Check your ``attention_backward(d_output, q, k, v) -> (dq, dk, dv)``."""
    return check("attention_backward", fn)


# ----------------------------------------------------------------------------- adam_update


def adam_update_solution(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (t counts from 1); returns new arrays (param, m, v)."""
    m = beta1 * m + (1 - beta1) * grad  # running mean of the gradient
    v = beta2 * v + (1 - beta2) * grad**2  # running mean of its square
    m_hat = m / (1 - beta1**t)  # bias correction: m and v start at zero
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_no_bias_correction(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return param - lr * m / (np.sqrt(v) + eps), m, v


def _adam_ascent(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    new, m, v = adam_update_solution(param, grad, m, v, t, lr, beta1, beta2, eps)
    return 2 * param - new, m, v


def _adam_abs_not_square(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * np.abs(grad)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_returns_hats(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat


def _adam_t_off_by_one(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_update_solution(param, grad, m, v, t + 1, lr, beta1, beta2, eps)


def _adam_eps_inside_sqrt(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return param - lr * m_hat / np.sqrt(v_hat + eps), m, v


def _adam_m_before_v_uses_new_m(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * m**2  # squares the running mean, not the gradient
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_betas_swapped(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_update_solution(param, grad, m, v, t, lr, beta2, beta1, eps)


def _adam_no_sqrt(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return param - lr * m_hat / (v_hat + eps), m, v


_randn = normal("adam_update", decimals=3)
_param, _grad = _randn(3, 2), _randn(3, 2)
_m, _v = 0.1 * _randn(3, 2), 0.01 * np.abs(_randn(3, 2))

register(
    Exercise(
        name="adam_update",
        notebook="06_attention_is_learned",
        title="One step of Adam",
        reference=adam_update_solution,
        returns=("new_param", "m", "v"),
        cases=[
            Case(
                (_param, _grad, np.zeros((3, 2)), np.zeros((3, 2)), 1),
                {"lr": 0.1},
                "the first step (`t=1`, `m` and `v` zero), `lr=0.1`",
            ),
            Case(
                (_param, _grad, _m, _v, 5),
                {"lr": 0.01},
                "a later step (`t=5`) with non-zero `m` and `v`, `lr=0.01`",
            ),
            Case(
                (_param, _grad, _m, _v, 3),
                {"lr": 0.05, "beta1": 0.5, "beta2": 0.9},
                "`t=3` with `beta1=0.5` and `beta2=0.9`",
            ),
        ],  # fmt: skip
        mistakes=[
            Mistake(
                "no bias correction",
                _adam_no_bias_correction,
                "you updated `m` and `v`, but divided `m` by `sqrt(v)` without the bias "
                "correction. `m` and `v` start at zero, so early on they are too small; divide "
                "them by `(1 - beta1**t)` and `(1 - beta2**t)`.",
            ),
            Mistake(
                "ascent",
                _adam_ascent,
                "your parameters moved uphill: subtract `lr * m_hat / (sqrt(v_hat) + eps)`, "
                "gradient descent goes against the gradient.",
            ),
            Mistake(
                "abs instead of square",
                _adam_abs_not_square,
                "your `v` tracks `abs(grad)`; Adam's `v` is the running mean of `grad**2` (and the "
                "step divides by its square root).",
            ),
            Mistake(
                "returned m_hat and v_hat",
                _adam_returns_hats,
                "your new parameters are right, but you returned the bias-corrected `m_hat` and "
                "`v_hat`. Return the running means `m` and `v` themselves: the next step updates "
                "them, and corrects them again with its own `t`.",
            ),
            Mistake(
                "t off by one",
                _adam_t_off_by_one,
                "your step matches Adam with `t + 1` instead of `t`. `t` already counts from 1 "
                "(the first step has `t=1`): use it as given in `(1 - beta1**t)` and "
                "`(1 - beta2**t)`.",
            ),
            Mistake(
                "eps inside the square root",
                _adam_eps_inside_sqrt,
                "you divided by `sqrt(v_hat + eps)`; this Adam adds `eps` after the root, "
                "`sqrt(v_hat) + eps`. (Both keep the division safe, but they differ where the "
                "gradient is tiny.)",
            ),
        ],
        wrong_variants=[
            WrongVariant("v from the new m", _adam_m_before_v_uses_new_m),
            WrongVariant("beta1 and beta2 swapped", _adam_betas_swapped),
            WrongVariant("no square root", _adam_no_sqrt),
            WrongVariant(
                "new_param float32",
                transformed(adam_update_solution, item(0, float32)),
                says="(the first item, `new_param`)",
            ),
        ],
        hints=[
            "Four lines: update `m` (mean of grads), update `v` (mean of squared grads), correct "
            "both for starting at zero, then step against `m_hat / sqrt(v_hat)`.",
            "`m = beta1 * m + (1 - beta1) * grad`; `v = beta2 * v + (1 - beta2) * grad**2`; "
            "`m_hat = m / (1 - beta1**t)`; `v_hat = v / (1 - beta2**t)`; "
            "`param - lr * m_hat / (np.sqrt(v_hat) + eps)`. Return `(new_param, m, v)`, new "
            "arrays.",
        ],
        rtol=1e-7,
        atol=1e-10,
    )
)


def check_adam_update(fn):
    """Check your ``adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    -> (new_param, m, v)``."""
    return check("adam_update", fn)
