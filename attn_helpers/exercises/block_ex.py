"""The exercises of notebook 07b (the transformer block): layer norm, and a pre-norm block."""

from __future__ import annotations

import numpy as np

from .. import block
from ..block import feed_forward, init_block_params, layer_norm, transformer_block
from ..core import multi_head_attention
from ._common import float32
from ._framework import (
    Case,
    Exercise,
    Mistake,
    WrongVariant,
    case_rng,
    check,
    register,
    transformed,
)

__all__ = ["check_layer_norm", "check_pre_norm_block"]


# ---------------------------------------------------------------- layer norm


def layer_norm_solution(x, gamma, beta, eps=1e-5):
    """Normalise each token's vector (the last axis), then scale and shift it."""
    mean = x.mean(axis=-1, keepdims=True)  # (..., 1): one mean per token
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # (..., 1): biased, divide by d_model
    return (x - mean) / np.sqrt(var + eps) * gamma + beta  # (..., d_model)


def _ln_wrong_axis(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0, keepdims=True)  # over the tokens, like batch norm
    var = ((x - mean) ** 2).mean(axis=0, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _ln_no_eps(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True)) * gamma + beta


def _ln_eps_outside(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True))
    return (x - mean) / (std + eps) * gamma + beta


def _ln_unbiased(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=-1, ddof=1, keepdims=True) + eps) * gamma + beta


def _ln_no_affine(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + eps)


def _ln_rms(x, gamma, beta, eps=1e-5):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * gamma + beta


def _ln_shift_then_scale(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    normed = (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + eps)
    return (normed + beta) * gamma


def _ln_std_not_var(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / (((x - mean) ** 2).mean(axis=-1, keepdims=True) + eps) * gamma + beta


def _ln_fixed_eps(x, gamma, beta, eps=1e-5):
    return layer_norm_solution(x, gamma, beta)  # ignores the eps it is given


def _ln_whole_array(x, gamma, beta, eps=1e-5):
    mean = x.mean()  # one mean and variance for every token at once
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean() + eps) * gamma + beta


def _ln_gamma_only(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + eps) * gamma


def _ln_package(x, gamma, beta, eps=1e-5):
    return block.layer_norm(x, gamma, beta, eps=eps)


def _ln_cases():
    rng = case_rng("layer_norm")
    d = 6
    gamma, beta = 1.0 + 0.5 * rng.standard_normal(d), 0.5 * rng.standard_normal(d)
    tiny = rng.standard_normal((3, d)) * 1e-3 + 4.0  # variance about 1e-6: eps (1e-5) dominates
    constant = np.vstack([rng.standard_normal(d) * 2, np.full(d, 3.0)])
    batched = rng.standard_normal((2, 3, 8)) * 2.0 + 1.0
    g8, b8 = 1.0 + 0.5 * rng.standard_normal(8), 0.5 * rng.standard_normal(8)
    return [
        Case((rng.standard_normal((4, d)) * 3.0 + 2.0, gamma, beta),
             description="`x` of shape (4, 6) (4 tokens, `d_model=6`), random `gamma` and `beta`"),
        Case((batched, g8, b8), description="`x` of shape (2, 3, 8): a batch of 2 sequences of 3 tokens"),
        Case((tiny, gamma, beta),
             description="`x` of shape (3, 6) whose rows vary by only about 0.001 (variance about 1e-6)"),
        Case((constant, gamma, beta), description="`x` of shape (2, 6) whose second row is constant (3.0)"),
        Case((tiny, gamma, beta), {"eps": 1e-3}, description="the rows of about 0.001 spread, `eps=1e-3`"),
    ]  # fmt: skip


register(
    Exercise(
        name="layer_norm",
        notebook="07b_the_transformer_block",
        title="Layer normalisation over each token's features",
        reference=layer_norm_solution,
        stub="my_layer_norm",
        cases=_ln_cases(),
        forbidden=(block.layer_norm, block._layer_norm),  # the exercise: write it with numpy
        mistakes=[
            Mistake(
                "wrong axis",
                _ln_wrong_axis,
                "you normalised over the tokens (axis 0), as batch norm does across a batch. Layer "
                "norm normalises each token on its own, over its features: the last axis "
                "(`axis=-1`, with `keepdims=True` so the result broadcasts back).",
            ),
            Mistake(
                "no eps",
                _ln_no_eps,
                "you divided by `sqrt(var)` without `eps`. On rows with almost no spread the result "
                "explodes (a constant row gives 0/0 = NaN). Add `eps` to the variance, under the "
                "square root.",
            ),
            Mistake(
                "eps outside the square root",
                _ln_eps_outside,
                "you added `eps` to the standard deviation, `sqrt(var) + eps`. PyTorch and the "
                "papers add it to the variance, under the square root: `sqrt(var + eps)`. The two "
                "differ most on rows with little spread.",
            ),
            Mistake(
                "unbiased variance",
                _ln_unbiased,
                "you used the unbiased variance (dividing by `d_model - 1`, `ddof=1`). Layer norm "
                "uses the plain mean of the squared deviations (divide by `d_model`), as "
                "`np.var` does by default and as PyTorch's `F.layer_norm` does.",
            ),
            Mistake(
                "no gamma and beta",
                _ln_no_affine,
                "your result has mean 0 and variance 1 per token, but you forgot the learned scale "
                "and shift: multiply by `gamma`, then add `beta`.",
            ),
            Mistake(
                "no centring (RMSNorm)",
                _ln_rms,
                "you divided by the root mean square without subtracting the mean first: that is "
                "RMSNorm. Layer norm centres each token first: `x - mean`.",
            ),
            Mistake(
                "shift before scale",
                _ln_shift_then_scale,
                "you added `beta` before multiplying by `gamma`. The order is scale, then shift: "
                "`normed * gamma + beta`.",
            ),
            Mistake(
                "divided by the variance",
                _ln_std_not_var,
                "you divided by the variance instead of the standard deviation: take the square "
                "root, `np.sqrt(var + eps)`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("eps ignored (always 1e-5)", _ln_fixed_eps, says="eps=1e-3"),
            WrongVariant("one mean and variance for the whole array", _ln_whole_array),
            WrongVariant("gamma without beta", _ln_gamma_only),
            WrongVariant(
                "float32 result", transformed(layer_norm_solution, float32), says="float32"
            ),
            WrongVariant(
                "the package's layer_norm", _ln_package, says="`attn_helpers.block.layer_norm`"
            ),
        ],
        hints=[
            "Each token is normalised on its own: take the mean and the variance over the last "
            "axis, `axis=-1`, with `keepdims=True` so they broadcast back against `x`.",
            "The variance is the mean of the squared deviations from the mean (divide by `d_model`, "
            "not `d_model - 1`). Add `eps` to it before the square root.",
            "`(x - mean) / np.sqrt(var + eps)` has mean 0 and variance 1 per token; then "
            "`* gamma + beta`.",
        ],
    )
)


def check_layer_norm(fn):
    """Check your ``layer_norm(x, gamma, beta, eps=1e-5)``: x of shape (..., d_model), over the last axis."""
    return check("layer_norm", fn)


# ---------------------------------------------------------------- a pre-norm block


def pre_norm_block_solution(x, params, num_heads):
    """A pre-norm block (GPT-2): normalise, run the sublayer, add its output to the stream."""
    p = params
    normed = layer_norm(x, p["ln1_gamma"], p["ln1_beta"])  # (..., T, d_model)
    attended, _ = multi_head_attention(
        normed, normed, p["w_q"], p["w_k"], p["w_v"], p["w_o"], num_heads=num_heads
    )
    h = x + attended  # residual: the stream plus what attention adds
    normed = layer_norm(h, p["ln2_gamma"], p["ln2_beta"])
    return h + feed_forward(normed, p["w_in"], p["b_in"], p["w_out"], p["b_out"])  # residual


def _attn(z, p, num_heads):
    return multi_head_attention(z, z, p["w_q"], p["w_k"], p["w_v"], p["w_o"], num_heads=num_heads)[
        0
    ]


def _ffn(z, p):
    return feed_forward(z, p["w_in"], p["b_in"], p["w_out"], p["b_out"])


def _ln(z, p, i):
    return layer_norm(z, p[f"ln{i}_gamma"], p[f"ln{i}_beta"])


def _block_post_norm(x, params, num_heads):
    h = _ln(x + _attn(x, params, num_heads), params, 1)  # normalise after adding
    return _ln(h + _ffn(h, params), params, 2)


def _block_no_attention_residual(x, params, num_heads):
    h = _attn(_ln(x, params, 1), params, num_heads)
    return h + _ffn(_ln(h, params, 2), params)


def _block_no_ffn_residual(x, params, num_heads):
    h = x + _attn(_ln(x, params, 1), params, num_heads)
    return _ffn(_ln(h, params, 2), params)


def _block_residual_from_normed(x, params, num_heads):
    normed = _ln(x, params, 1)
    h = normed + _attn(normed, params, num_heads)
    normed = _ln(h, params, 2)
    return normed + _ffn(normed, params)


def _block_one_norm(x, params, num_heads):
    h = x + _attn(_ln(x, params, 1), params, num_heads)
    return h + _ffn(_ln(h, params, 1), params)


def _block_ffn_reads_x(x, params, num_heads):
    h = x + _attn(_ln(x, params, 1), params, num_heads)
    return h + _ffn(_ln(x, params, 2), params)


def _block_final_norm(x, params, num_heads):
    h = x + _attn(_ln(x, params, 1), params, num_heads)
    return _ln(h + _ffn(_ln(h, params, 2), params), params, 2)  # an extra norm on the output


def _block_ffn_first(x, params, num_heads):
    h = x + _ffn(_ln(x, params, 1), params)
    return h + _attn(_ln(h, params, 2), params, num_heads)


def _block_package(x, params, num_heads):
    return transformer_block(x, params, num_heads=num_heads, norm="pre")[0]


def _block_cases():
    rng = case_rng("pre_norm_block")
    cases = []
    for shape, num_heads, d_ff in (((5, 8), 2, 32), ((2, 4, 12), 3, 20)):
        d = shape[-1]
        p = init_block_params(d, rng=rng, d_ff=d_ff)
        p["b_in"] = 0.3 * rng.standard_normal(d_ff)
        p["b_out"] = 0.3 * rng.standard_normal(d)
        for ln in ("ln1", "ln2"):  # trained norms are not ones and zeros: make every mistake show
            p[f"{ln}_gamma"] = 1.0 + 0.4 * rng.standard_normal(d)
            p[f"{ln}_beta"] = 0.4 * rng.standard_normal(d)
        x = 2.0 * rng.standard_normal(shape) + 0.5
        tokens = (
            "5 tokens, `d_model=8`" if len(shape) == 2 else "a batch of 2 x 4 tokens, `d_model=12`"
        )
        cases.append(
            Case(
                (x, p, num_heads), description=f"`x` of shape {shape} ({tokens}), {num_heads} heads"
            )
        )
    return cases


register(
    Exercise(
        name="pre_norm_block",
        notebook="07b_the_transformer_block",
        title="A pre-norm transformer block",
        reference=pre_norm_block_solution,
        solution_prelude="from attn_helpers import multi_head_attention\n"
        "from attn_helpers.block import feed_forward, layer_norm",
        cases=_block_cases(),
        forbidden=(transformer_block,),  # the exercise: assemble the block from its pieces
        mistakes=[
            Mistake(
                "post-norm",
                _block_post_norm,
                "you built a post-norm block (normalise after adding: `layer_norm(x + "
                "attention(x))`). In a pre-norm block the layer norm goes inside the branch, "
                "before the sublayer, and the residual adds to the un-normalised stream: "
                "`h = x + attention(layer_norm(x))`.",
            ),
            Mistake(
                "no residual around attention",
                _block_no_attention_residual,
                "the attention sublayer's output replaced the stream instead of being added to it. "
                "Keep the residual: `h = x + attention(...)`.",
            ),
            Mistake(
                "no residual around the feed-forward layer",
                _block_no_ffn_residual,
                "you returned the feed-forward layer's output alone. It is added to the stream too: "
                "`return h + ffn(...)`.",
            ),
            Mistake(
                "residual from the normalised stream",
                _block_residual_from_normed,
                "you added the sublayer's output to the normalised vectors. The residual "
                "carries the raw stream past the norm: add to `x` (and `h`), not to "
                "`layer_norm(x)`.",
            ),
            Mistake(
                "one layer norm for both sublayers",
                _block_one_norm,
                "you used `ln1_gamma`/`ln1_beta` before the feed-forward layer too. Each sublayer "
                "has its own layer norm: `ln2_gamma` and `ln2_beta` for the second.",
            ),
            Mistake(
                "feed-forward reads x",
                _block_ffn_reads_x,
                "your feed-forward layer read `x`, the stream before attention. In a sequential "
                "block it reads `h = x + attention(...)`, so it sees what attention added.",
            ),
        ],
        wrong_variants=[
            WrongVariant("a layer norm on the block's output", _block_final_norm),
            WrongVariant("feed-forward before attention", _block_ffn_first),
            WrongVariant("float32 result", transformed(pre_norm_block_solution, float32)),
            WrongVariant(
                "the package's transformer_block",
                _block_package,
                says="`attn_helpers.block.transformer_block`",
            ),
        ],
        hints=[
            "Two sublayers, each in the same pattern: `stream = stream + sublayer(layer_norm(stream))`.",
            "Attention: `multi_head_attention(normed, normed, params['w_q'], params['w_k'], "
            "params['w_v'], params['w_o'], num_heads=num_heads)` returns `(output, weights)`; keep "
            "the output. Use `ln1_gamma`, `ln1_beta` before it.",
            "Feed-forward: `feed_forward(normed, params['w_in'], params['b_in'], params['w_out'], "
            "params['b_out'])` on `layer_norm(h, params['ln2_gamma'], params['ln2_beta'])`, added "
            "to `h`.",
        ],
    )
)


def check_pre_norm_block(fn):
    """Check your ``pre_norm_block(x, params, num_heads)`` -> output of the same shape as x."""
    return check("pre_norm_block", fn)
