"""The checkers of notebooks 03-05 (attn_helpers.exercises: self_attention_ex, multi_head_ex,
masks_positions_ex) can tell right from wrong."""

import numpy as np
import pytest

from attn_helpers import (
    causal_mask,
    merge_heads,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
    split_heads,
)
from attn_helpers.exercises import _framework as fw
from attn_helpers.exercises import masks_positions_ex, multi_head_ex, self_attention_ex

NAMES = [
    "self_attention",
    "cross_attention",
    "attention_entropy",
    "split_heads",
    "merge_heads",
    "multi_head_attention",
    "mha_parameter_count",
    "causal_mask",
    "padding_mask",
    "masked_attention",
    "sinusoidal_positions",
]

# The module that holds each notebook's checkers.
MODULES = {
    "03_self_attention": self_attention_ex,
    "04_multi_head_attention": multi_head_ex,
    "05_masks_and_positions": masks_positions_ex,
}


def test_every_exercise_is_registered_with_its_notebook():
    for notebook in ("03_self_attention", "04_multi_head_attention", "05_masks_and_positions"):
        assert len(fw.list_exercises(notebook)) >= 3, notebook
    assert set(NAMES) <= set(fw.REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_checker_is_sound(name):
    fw.assert_checker_sound(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_really_differs_from_the_reference_on_some_case(name):
    """A mistake that equals the reference everywhere would make a checker pass wrong code."""
    exercise = fw.REGISTRY[name]
    assert len(exercise.mistakes) >= 2
    for mistake in exercise.mistakes:
        assert not fw.check(name, mistake.fn), mistake.name


@pytest.mark.parametrize("name", NAMES)
def test_public_checker_function_exists(name):
    module = MODULES[fw.REGISTRY[name].notebook]
    checker = getattr(module, f"check_{name}")
    assert checker(fw.reference_solution(name)).correct
    assert f"check_{name}" in module.__all__


# The package's own functions are independent implementations: they must pass the checkers too.


def _package_self_attention(x, w_q, w_k, w_v):
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def _package_cross_attention(x_q, x_kv, w_q, w_k, w_v):
    return scaled_dot_product_attention(x_q @ w_q, x_kv @ w_k, x_kv @ w_v)


def _package_mha(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
    return multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, num_heads=num_heads)


def _package_masked(q, k, v, mask):
    return scaled_dot_product_attention(q, k, v, mask=mask)


def _package_positions(seq_len, d_model):
    return sinusoidal_positions(seq_len, d_model)


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("self_attention", _package_self_attention),
        ("cross_attention", _package_cross_attention),
        ("split_heads", split_heads),
        ("merge_heads", merge_heads),
        ("multi_head_attention", _package_mha),
        ("causal_mask", causal_mask),
        ("padding_mask", padding_mask),
        ("masked_attention", _package_masked),
        ("sinusoidal_positions", _package_positions),
    ],
)
def test_the_package_agrees_with_the_checkers_but_is_refused(name, fn):
    """The package computes the same answers, but calling it is not writing it yourself."""
    ex = fw.REGISTRY[name]
    for case in ex.cases:
        assert ex.differs(fw._call(ex.reference, case), fw._call(fn, case)) is None
    result = fw.check(name, fn)
    assert not result
    assert "calls the package's `attn_helpers." in result.message


def test_split_heads_diagnoses_reshape_without_transpose():
    def learner(x, num_heads):
        *lead, t, d = x.shape
        return x.reshape(*lead, num_heads, t, d // num_heads)

    result = multi_head_ex.check_split_heads(learner)
    assert result.status == "incorrect"
    assert result.mistake == "reshape without transpose"
    assert "heads mix" in result.message


def test_merge_heads_diagnoses_a_forgotten_transpose():
    def learner(x):
        *lead, h, t, hd = x.shape
        return x.reshape(*lead, t, h * hd)

    result = multi_head_ex.check_merge_heads(learner)
    assert result.mistake == "transpose forgotten before merging"


def test_causal_mask_diagnoses_an_inverted_mask_and_the_off_by_one_diagonal():
    inverted = masks_positions_ex.check_causal_mask(lambda n: ~np.tril(np.ones((n, n), dtype=bool)))
    assert inverted.mistake == "inverted (True = block)"
    no_diag = masks_positions_ex.check_causal_mask(lambda n: np.tri(n, k=-1, dtype=bool))
    assert no_diag.mistake == "diagonal excluded"


def test_masked_attention_diagnoses_the_fully_masked_row_conventions():
    def big_negative(q, k, v, mask):
        scores = np.where(mask, q @ k.T / np.sqrt(q.shape[-1]), -1e9)
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights = e / e.sum(axis=-1, keepdims=True)
        return weights @ v, weights

    result = masks_positions_ex.check_masked_attention(big_negative)
    assert result.mistake == "fill -1e9: fully masked row uniform"
    assert "second row" in result.message  # the case that exposes it is named


def test_attention_entropy_of_known_distributions():
    h = self_attention_ex.attention_entropy_solution(np.array([[0.25] * 4, [0, 1, 0, 0]]))
    assert np.allclose(h, [np.log(4), 0.0])


def test_unexpected_learner_error_is_reported_not_raised():
    def broken(x, num_heads):
        return x.reshape(7, 7)

    result = multi_head_ex.check_split_heads(broken)
    assert result.status == "incorrect"
    assert "ValueError" in result.message


def test_stub_is_not_attempted():
    def my_causal_mask(seq_len):
        raise NotImplementedError

    assert masks_positions_ex.check_causal_mask(my_causal_mask).status == "not attempted"


def test_parameter_count_of_the_original_transformer():
    assert multi_head_ex.mha_parameter_count_solution(512, 8) == 4 * (512 * 512 + 512) == 1_050_624


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_multi_head_attention_diagnoses_a_missing_scale():
    def learner(x_q, x_kv, w_q, w_k, w_v, w_o, *, num_heads):
        q, k, v = (split_heads(t, num_heads) for t in (x_q @ w_q, x_kv @ w_k, x_kv @ w_v))
        weights = _softmax(q @ k.swapaxes(-1, -2))  # no 1/sqrt(head_dim)
        return merge_heads(weights @ v) @ w_o, weights

    result = multi_head_ex.check_multi_head_attention(learner)
    assert result.mistake == "not scaled"
    assert "sqrt(head_dim)" in result.message


def test_masked_attention_diagnoses_a_missing_scale():
    def learner(q, k, v, mask):
        scores = np.where(mask, q @ k.swapaxes(-1, -2), -np.inf)  # no 1/sqrt(d_k)
        row_max = scores.max(axis=-1, keepdims=True)
        e = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0.0))
        total = e.sum(axis=-1, keepdims=True)
        weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
        return weights @ v, weights

    result = masks_positions_ex.check_masked_attention(learner)
    assert result.mistake == "not scaled"
    assert "sqrt(d_k)" in result.message


def test_masked_attention_diagnoses_blocked_scores_set_to_zero():
    def learner(q, k, v, mask):
        scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
        weights = _softmax(np.where(mask, scores, 0.0))  # 0 is an ordinary score, not "blocked"
        return weights @ v, weights

    result = masks_positions_ex.check_masked_attention(learner)
    assert result.mistake == "blocked scores set to 0"
    assert "-inf" in result.message


def test_sinusoidal_positions_diagnoses_cos_with_its_own_column_index():
    def learner(seq_len, d_model):
        p = np.zeros((seq_len, d_model))
        for pos in range(seq_len):
            for col in range(d_model):
                angle = pos / 10000 ** (col / d_model)  # the cos column 2i+1 uses (2i+1)/d_model
                p[pos, col] = np.sin(angle) if col % 2 == 0 else np.cos(angle)
        return p

    result = masks_positions_ex.check_sinusoidal_positions(learner)
    assert result.mistake == "cos uses (2i+1)/d_model"


def test_sinusoidal_positions_i_instead_of_2i_says_the_wavelengths_grow():
    def learner(seq_len, d_model):
        angles = np.arange(seq_len)[:, None] / 10000 ** (np.arange(d_model // 2) / d_model)
        p = np.zeros((seq_len, d_model))
        p[:, 0::2], p[:, 1::2] = np.sin(angles), np.cos(angles)
        return p

    result = masks_positions_ex.check_sinusoidal_positions(learner)
    assert result.mistake == "i instead of 2i"
    assert "grow too slowly" in result.message


def test_causal_mask_inverted_names_the_pytorch_module_whose_bool_mask_blocks():
    result = masks_positions_ex.check_causal_mask(
        lambda n: np.triu(np.ones((n, n), dtype=bool), k=1)
    )
    assert "nn.MultiheadAttention" in result.message


def test_self_attention_diagnoses_learner_style_slips():
    from attn_helpers.exercises import check_self_attention

    def naive(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        e = np.exp(q @ k.T / np.sqrt(q.shape[-1]))
        weights = e / e.sum(axis=-1, keepdims=True)
        return weights @ v, weights

    def transposed(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        s = k @ q.T / np.sqrt(q.shape[-1])
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        weights = e / e.sum(axis=-1, keepdims=True)
        return weights @ v, weights

    with np.errstate(all="ignore"):
        assert check_self_attention(naive).mistake == "no max subtraction"
    assert check_self_attention(transposed).mistake == "scores transposed"


def test_cross_attention_diagnoses_the_wrong_axis():
    from attn_helpers.exercises import check_cross_attention

    def wrong_axis(x_q, x_kv, w_q, w_k, w_v):
        q, k, v = x_q @ w_q, x_kv @ w_k, x_kv @ w_v
        s = q @ k.T / np.sqrt(q.shape[-1])
        e = np.exp(s - s.max(axis=0))
        weights = e / e.sum(axis=0)
        return weights @ v, weights

    assert check_cross_attention(wrong_axis).mistake == "softmax over the wrong axis"
