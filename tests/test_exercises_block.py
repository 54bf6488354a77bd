"""The checkers of notebook 07b (attn_helpers.exercises.block_ex) can tell right from wrong."""

import numpy as np
import pytest

from attn_helpers import block
from attn_helpers.exercises import _framework as fw
from attn_helpers.exercises import block_ex, check_layer_norm, check_pre_norm_block

NAMES = ["layer_norm", "pre_norm_block"]


def test_the_exercises_are_registered_for_notebook_07b():
    assert set(NAMES) <= set(fw.list_exercises("07b_the_transformer_block"))


@pytest.mark.parametrize("name", NAMES)
def test_checker_is_sound(name):
    """Reference passes, stub is 'not attempted', every known-wrong variant fails with its diagnosis."""
    fw.assert_checker_sound(name)


@pytest.mark.parametrize("name", NAMES)
def test_known_wrong_variants_fail_with_their_own_diagnosis(name):
    exercise = fw.REGISTRY[name]
    assert len(exercise.mistakes) >= 5
    for mistake in exercise.mistakes:
        result = fw.check(name, mistake.fn)
        assert result.status == "incorrect", mistake.name
        assert result.mistake == mistake.name, (mistake.name, result.message)
        assert "Traceback" not in result.message


def test_stubs_are_not_attempted():
    def layer_norm(x, gamma, beta, eps=1e-5):
        raise NotImplementedError  # your code here

    def pre_norm_block(x, params, num_heads):
        raise NotImplementedError

    assert check_layer_norm(layer_norm).status == "not attempted"
    assert check_pre_norm_block(pre_norm_block).status == "not attempted"


# Independent implementations must pass: the package's own functions, and other correct spellings.


def test_the_package_functions_the_exercises_ask_you_to_write_are_refused():
    result = check_layer_norm(block.layer_norm)
    assert result.status == "incorrect"
    assert "`attn_helpers.block.layer_norm`" in result.message
    result = check_pre_norm_block(
        lambda x, params, num_heads: block.transformer_block(x, params, num_heads=num_heads)[0]
    )
    assert result.status == "incorrect"
    assert "transformer_block" in result.message


def test_the_pieces_of_the_package_may_be_used_in_the_block():
    def with_package_pieces(x, params, num_heads):  # layer_norm, attention, ffn: all allowed
        return block_ex.pre_norm_block_solution(x, params, num_heads)

    assert check_pre_norm_block(with_package_pieces)


def test_solutions_print_under_the_notebooks_stub_names():
    assert "def my_layer_norm(" in str(fw.solution("layer_norm"))
    assert "def pre_norm_block(" in str(fw.solution("pre_norm_block"))


def test_np_var_and_np_std_spellings_pass():
    def with_np_var(x, gamma, beta, eps=1e-5):
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(
            x.var(-1, keepdims=True) + eps
        ) * gamma + beta

    assert check_layer_norm(with_np_var)


def test_the_checker_uses_the_learners_eps():
    def fixed_eps(x, gamma, beta, eps=1e-5):
        return block_ex.layer_norm_solution(x, gamma, beta, eps=1e-5)  # ignores the eps it is given

    result = check_layer_norm(fixed_eps)
    assert result.status == "incorrect"
    assert "eps=1e-3" in result.message


def test_a_forgotten_eps_is_diagnosed_on_the_constant_row_even_if_it_slips_through_before():
    result = check_layer_norm(block_ex._ln_no_eps)
    assert result.mistake == "no eps"
    assert (
        "sqrt(var + eps)" in result.message or "variance, under the square root" in result.message
    )


def test_post_norm_is_named():
    result = check_pre_norm_block(block_ex._block_post_norm)
    assert result.mistake == "post-norm"
    assert "the branch, before the sublayer" in result.message
