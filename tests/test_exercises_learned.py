"""The checkers of notebook 06 tell right from wrong, and accept other correct solutions."""

import numpy as np
import pytest

from attn_helpers import scaled_dot_product_attention
from attn_helpers import softmax as package_softmax
from attn_helpers.exercises import learned_ex as ex
from attn_helpers.exercises._framework import REGISTRY, assert_checker_sound

NAMES = ["numerical_gradient", "attention_backward", "adam_update"]


@pytest.mark.parametrize("name", NAMES)
def test_checker_is_sound(name):
    assert_checker_sound(name)


def test_three_exercises_for_notebook_06():
    assert all(REGISTRY[n].notebook == "06_attention_is_learned" for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_checker_function_is_exported(name):
    assert getattr(ex, f"check_{name}") in [getattr(ex, n) for n in ex.__all__]


def test_checkers_are_reexported():
    from attn_helpers import exercises

    for name in NAMES:
        assert getattr(exercises, f"check_{name}") is getattr(ex, f"check_{name}")


# --------------------------------------------------------------------------- hand-checked references


def test_numerical_gradient_by_hand():
    grad = ex.numerical_gradient_solution(lambda x: float(np.sum(x**2)), np.array([1.0, -3.0]))
    assert np.allclose(grad, [2.0, -6.0], atol=1e-8)


def test_attention_backward_matches_finite_differences():
    """The reference is itself checked against the package's forward pass."""
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    d_output = rng.normal(size=(3, 2))

    def loss(q_, k_, v_):
        return float(np.sum(scaled_dot_product_attention(q_, k_, v_)[0] * d_output))

    dq, dk, dv = ex.attention_backward_solution(d_output, q, k, v)
    num_dq = ex.numerical_gradient_solution(lambda x: loss(x, k, v), q)
    num_dk = ex.numerical_gradient_solution(lambda x: loss(q, x, v), k)
    num_dv = ex.numerical_gradient_solution(lambda x: loss(q, k, x), v)
    for analytic, numeric in ((dq, num_dq), (dk, num_dk), (dv, num_dv)):
        assert np.allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_adam_first_step_is_lr_times_sign():
    param, grad = np.array([1.0, 2.0]), np.array([0.3, -5.0])
    new, m, v = ex.adam_update_solution(param, grad, np.zeros(2), np.zeros(2), 1, lr=0.1)
    assert np.allclose(new, [0.9, 2.1], atol=1e-6)
    assert np.allclose(m, 0.1 * grad)
    assert np.allclose(v, 0.001 * grad**2)


# --------------------------------------------------------------------------- other correct answers


def test_vectorised_numerical_gradient_is_correct():
    def numerical_gradient(f, x, eps=1e-6):
        basis = np.eye(x.size).reshape(x.size, *x.shape) * eps
        return np.array([(f(x + e) - f(x - e)) / (2 * eps) for e in basis]).reshape(x.shape)

    assert ex.check_numerical_gradient(numerical_gradient)


def test_attention_backward_with_the_package_softmax_is_correct():
    def attention_backward(d_output, q, k, v):
        scale = 1 / np.sqrt(q.shape[-1])
        w = package_softmax(q @ k.T * scale)
        d_w = d_output @ v.T
        jac = np.einsum("ij,jk->ijk", w, np.eye(w.shape[1])) - w[:, :, None] * w[:, None, :]
        d_s = np.einsum("ij,ijk->ik", d_w, jac)  # i: query, j, k: keys
        return d_s @ k * scale, d_s.T @ q * scale, w.T @ d_output

    assert ex.check_attention_backward(attention_backward)


def test_adam_with_sqrt_of_corrected_v_written_differently_is_correct():
    def adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = m * beta1 + grad * (1 - beta1)
        v = v * beta2 + grad * grad * (1 - beta2)
        step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        return param - step, m, v

    assert ex.check_adam_update(adam_update)


# --------------------------------------------------------------------------- wrong answers


def test_in_place_nudging_is_reported():
    def numerical_gradient(f, x, eps=1e-6):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += eps  # modifies the learner's input
            plus = f(x)
            x[i] -= 2 * eps
            minus = f(x)
            x[i] += eps
            grad[i] = (plus - minus) / (2 * eps)
        return grad

    res = ex.check_numerical_gradient(numerical_gradient)
    assert not res
    assert "in place" in res.message


def test_adam_that_modifies_m_in_place_is_reported():
    def adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m *= beta1
        m += (1 - beta1) * grad
        return ex.adam_update_solution(param, grad, m, v, t, lr, beta1, beta2, eps)

    res = ex.check_adam_update(adam_update)
    assert not res
    assert "in place" in res.message


def test_backward_returning_two_arrays_is_incorrect():
    res = ex.check_attention_backward(
        lambda d, q, k, v: ex.attention_backward_solution(d, q, k, v)[:2]
    )
    assert not res
    assert "tuple of 3 items" in res.message
