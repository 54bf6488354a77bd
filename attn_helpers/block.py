"""The transformer block around attention: norms, activations, the feed-forward layer, the block.

Attention is one of two sublayers of a transformer block. The other is a per-token MLP, the
feed-forward layer; both are wrapped in a residual connection (``x + sublayer(x)``, the "residual
stream") and a normalisation. Where the normalisation sits is the difference between a post-norm
block (the original Transformer, BERT, all-MiniLM-L6-v2) and a pre-norm block (GPT-2 onward)::

    post-norm:  x = layer_norm(x + attention(x));  x = layer_norm(x + ffn(x))
    pre-norm:   x = x + attention(layer_norm(x));  x = x + ffn(layer_norm(x))

Conventions as in :mod:`attn_helpers.core`: row vectors (``x @ w`` with ``w`` of shape
``(d_in, d_out)``), leading axes broadcast, inputs never modified, NaN and inf rejected with an error
naming the argument. Results take numpy's result dtype of the inputs: float32 in, float32 out
(float16 is computed in float32 and returned as float16).

:func:`block_flops` counts the arithmetic of one block per token, to see where attention's cost sits
next to the feed-forward layer's (notebook 07b).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._minilm_math import gelu as _exact_gelu
from ._validation import as_float_array, check_no_neg_inf, check_positive_int, shape_str
from .core import _check_positive_number, _project, multi_head_attention

__all__ = [
    "attention_crossover",
    "block_flops",
    "feed_forward",
    "gelu",
    "init_block_params",
    "layer_norm",
    "rms_norm",
    "silu",
    "swiglu",
    "transformer_block",
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# ---------------------------------------------------------------- the maths (no checks)


def _layer_norm(x, gamma, beta, *, eps):
    """Layer norm without argument checks: the one formula, shared with :mod:`attn_helpers.minilm`.

    ``(x - mean) / sqrt(var + eps) * gamma + beta`` over the last axis, with the biased
    (``ddof=0``) variance, as PyTorch's ``F.layer_norm``. MiniLM's forward pass calls this directly
    (and re-exports it as ``attn_helpers.minilm.layer_norm``) so its activations are not
    re-validated 13 times per call; :func:`layer_norm` is the checked public version.

    Parameters
    ----------
    x : ndarray of shape (..., d_model)
    gamma, beta : ndarray of shape (d_model,)
    eps : float
        Added to the variance; all-MiniLM-L6-v2 uses 1e-12 (its config.json).

    Returns
    -------
    ndarray of shape (..., d_model), numpy's result dtype of the inputs
    """
    mean = x.mean(axis=-1, keepdims=True)  # (..., 1)
    centred = x - mean  # (..., d_model)
    var = (centred * centred).mean(axis=-1, keepdims=True)  # (..., 1), ddof=0 as in PyTorch
    return centred / np.sqrt(var + eps) * gamma + beta


def _rms_norm(x, weight, *, eps):
    ms = (x * x).mean(axis=-1, keepdims=True)  # (..., 1): the mean square, no centring
    return x / np.sqrt(ms + eps) * weight


def _silu(x):
    with np.errstate(over="ignore"):  # exp(-x) -> inf for x < -88 (float32): x / inf = -0, right
        return x / (1.0 + np.exp(-x))


def _tanh_gelu(x):
    with np.errstate(over="ignore"):  # x**3 -> inf for huge |x|: tanh(+-inf) = +-1, right
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1.0 + np.tanh(inner))


# ---------------------------------------------------------------- argument checks


def _as_input(x, name: str, *, min_ndim: int = 1) -> np.ndarray:
    """A float array with no NaN or +-inf, or an error naming ``name``."""
    arr = as_float_array(x, name, min_ndim=min_ndim)
    check_no_neg_inf(arr, name)
    return arr


def _check_feature_vector(vec, name: str, d_model: int, x_name: str = "x") -> np.ndarray:
    """``vec`` as a float array of shape ``(d_model,)``, or an error naming both arrays."""
    vec = _as_input(vec, name)
    if vec.shape != (d_model,):
        raise ValueError(
            f"{name} must have shape (d_model,) = ({d_model},), one entry per feature of "
            f"{x_name} (its last axis); got {name}.shape={shape_str(vec.shape)}. Hint: a norm "
            "has one learned scale (and shift) per feature, shared by every token."
        )
    return vec


def _compute_dtype(*arrays):
    """(dtype to compute in, dtype to return): float16 is computed in float32, as core does."""
    out = np.result_type(*arrays)
    return (np.dtype(np.float32) if out == np.float16 else out), out


def _check_eps(eps) -> float:
    return _check_positive_number(eps, "eps")


# ---------------------------------------------------------------- norms


def layer_norm(x, gamma, beta, *, eps=1e-5):
    """Layer normalisation over the last axis: ``(x - mean) / sqrt(var + eps) * gamma + beta``.

    Each token's vector is shifted to mean 0 and scaled to variance 1 across its features, then
    the learned per-feature scale ``gamma`` and shift ``beta`` are applied (Ba et al., 2016). Tokens
    are normalised independently; nothing is averaged over the batch or the sequence.

    Parameters
    ----------
    x : array_like of shape (..., d_model)
    gamma, beta : array_like of shape (d_model,)
        The learned scale and shift (ones and zeros at initialisation).
    eps : float, default 1e-5
        Added to the variance before the square root (PyTorch's default; BERT models use 1e-12).
        It keeps a constant vector (variance 0) finite.

    Returns
    -------
    ndarray of shape (..., d_model)
        Same dtype as the inputs (float32 in, float32 out). The variance is the biased one
        (divided by ``d_model``, ``ddof=0``), as in PyTorch's ``F.layer_norm``.
    """
    x, gamma, beta, eps, (work, out) = _check_layer_norm_args(x, gamma, beta, eps)
    return _layer_norm(x.astype(work, copy=False), gamma, beta, eps=eps).astype(out, copy=False)


def _check_layer_norm_args(x, gamma, beta, eps):
    x = _as_input(x, "x")
    gamma = _check_feature_vector(gamma, "gamma", x.shape[-1])
    beta = _check_feature_vector(beta, "beta", x.shape[-1])
    return x, gamma, beta, _check_eps(eps), _compute_dtype(x, gamma, beta)


def rms_norm(x, weight, *, eps=1e-6):
    """RMSNorm over the last axis: ``x / sqrt(mean(x**2) + eps) * weight``.

    Layer norm without the centring and without the shift (Zhang & Sennrich, 2019): each token's
    vector is divided by its root mean square. Llama-family models use it. Scaling ``x`` by any
    positive number leaves the result unchanged (up to ``eps``).

    Parameters
    ----------
    x : array_like of shape (..., d_model)
    weight : array_like of shape (d_model,)
        The learned per-feature scale (ones at initialisation).
    eps : float, default 1e-6
        Added to the mean square before the square root (Llama uses 1e-5 or 1e-6).

    Returns
    -------
    ndarray of shape (..., d_model)
        Same dtype as the inputs (float32 in, float32 out).
    """
    x = _as_input(x, "x")
    weight = _check_feature_vector(weight, "weight", x.shape[-1])
    eps = _check_eps(eps)
    work, out = _compute_dtype(x, weight)
    return _rms_norm(x.astype(work, copy=False), weight, eps=eps).astype(out, copy=False)


# ---------------------------------------------------------------- activations


def silu(x):
    """SiLU (also called swish): ``x * sigmoid(x) = x / (1 + exp(-x))``, element-wise.

    Parameters
    ----------
    x : array_like of float, any shape

    Returns
    -------
    ndarray, same shape and dtype as ``x`` (float32 in, float32 out)
    """
    x = _as_input(x, "x", min_ndim=0)
    work, out = _compute_dtype(x)
    return _silu(x.astype(work, copy=False)).astype(out, copy=False)


def gelu(x, *, approximate=False):
    """GELU, ``x * Phi(x)`` with ``Phi`` the standard normal CDF, element-wise (Hendrycks & Gimpel).

    Parameters
    ----------
    x : array_like of float, any shape
    approximate : bool, default False
        False: the exact form ``0.5 * x * (1 + erf(x / sqrt(2)))`` (Hugging Face BERT's
        ``hidden_act="gelu"``, PyTorch's ``approximate='none'``). True: the tanh approximation
        ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))`` of GPT-2 and Google's original
        BERT code (PyTorch's ``approximate='tanh'``); the two differ by at most about 5e-4.

    Returns
    -------
    ndarray, same shape and dtype as ``x`` (float32 in, float32 out)
    """
    x = _as_input(x, "x", min_ndim=0)
    if not isinstance(approximate, bool | np.bool_):
        raise TypeError(
            f"approximate must be True or False; got {approximate!r}. Hint: PyTorch spells it "
            "approximate='tanh'; here that is approximate=True."
        )
    work, out = _compute_dtype(x)
    if approximate:
        return _tanh_gelu(x.astype(work, copy=False)).astype(out, copy=False)
    return _exact_gelu(x).astype(out, copy=False)  # erf form, computed in float64


# ---------------------------------------------------------------- feed-forward layers


def feed_forward(x, w_in, b_in, w_out, b_out, *, approximate=False):
    """The transformer's feed-forward layer: a per-token MLP, ``gelu(x @ w_in + b_in) @ w_out + b_out``.

    Every token goes through the same two-layer network on its own: no information moves between
    tokens here (that is attention's job). ``d_ff`` is usually ``4 * d_model``.

    Parameters
    ----------
    x : array_like of shape (..., seq_len, d_model)
    w_in : array_like of shape (d_model, d_ff)
    b_in : array_like of shape (d_ff,) or None
    w_out : array_like of shape (d_ff, d_model)
    b_out : array_like of shape (d_model,) or None
    approximate : bool, default False
        Use the tanh approximation of GELU (GPT-2) instead of the exact one (BERT); see :func:`gelu`.

    Returns
    -------
    ndarray of shape (..., seq_len, d_model)
    """
    x, w_in, b_in, w_out, b_out = _check_ffn_args(x, w_in, b_in, w_out, b_out)
    hidden = _project(x, w_in, b_in, "x", "w_in", "b_in", "(d_model, d_ff)")  # (..., T, d_ff)
    hidden = gelu(hidden, approximate=approximate)
    return _project(
        hidden, w_out, b_out, "gelu(x @ w_in + b_in)", "w_out", "b_out", "(d_ff, d_model)"
    )


def _check_ffn_args(x, *weights_and_biases):
    x = _as_input(x, "x")
    names = ("w_in", "b_in", "w_out", "b_out")
    arrays = [
        None if a is None else _as_input(a, name) for a, name in zip(weights_and_biases, names)
    ]
    return (x, *arrays)


def swiglu(x, w_gate, w_up, w_down):
    """The SwiGLU feed-forward layer of Llama-family models: ``(silu(x @ w_gate) * (x @ w_up)) @ w_down``.

    A gated linear unit (Shazeer, 2020): one projection, passed through SiLU, gates another
    element-wise. Three matrices instead of two and no biases; ``d_ff`` is often about
    ``8/3 * d_model`` so the parameter count matches a 4x MLP.

    Parameters
    ----------
    x : array_like of shape (..., seq_len, d_model)
    w_gate, w_up : array_like of shape (d_model, d_ff)
    w_down : array_like of shape (d_ff, d_model)

    Returns
    -------
    ndarray of shape (..., seq_len, d_model)
    """
    x = _as_input(x, "x")
    w_gate, w_up, w_down = (_as_input(w, n) for w, n in ((w_gate, "w_gate"), (w_up, "w_up"), (w_down, "w_down")))  # fmt: skip
    if w_gate.shape != w_up.shape:
        raise ValueError(
            f"w_gate and w_up must have the same shape (d_model, d_ff); got "
            f"w_gate.shape={shape_str(w_gate.shape)} and w_up.shape={shape_str(w_up.shape)}. "
            "Hint: the gate multiplies the up-projection element by element."
        )
    gate = _project(x, w_gate, None, "x", "w_gate", "", "(d_model, d_ff)")  # (..., T, d_ff)
    up = _project(x, w_up, None, "x", "w_up", "", "(d_model, d_ff)")  # (..., T, d_ff)
    hidden = _silu(gate) * up  # (..., T, d_ff)
    return _project(hidden, w_down, None, "silu(x @ w_gate) * (x @ w_up)", "w_down", "", "(d_ff, d_model)")  # fmt: skip


# ---------------------------------------------------------------- the block

_ATTENTION_KEYS = ("w_q", "w_k", "w_v", "w_o")
_REQUIRED_KEYS = (
    *_ATTENTION_KEYS,
    "ln1_gamma",
    "ln1_beta",
    "ln2_gamma",
    "ln2_beta",
    "w_in",
    "w_out",
)
_OPTIONAL_KEYS = ("b_q", "b_k", "b_v", "b_o", "b_in", "b_out")


def transformer_block(x, params, *, num_heads, norm="pre", mask=None, eps=1e-5, approximate=False):
    """One transformer block: multi-head self-attention and a feed-forward layer, each with a
    residual connection and a layer norm, in pre-norm or post-norm order.

    ::

        norm="pre"  (GPT-2 onward):  h = x + attention(layer_norm_1(x));  out = h + ffn(layer_norm_2(h))
        norm="post" (Transformer, BERT):  h = layer_norm_1(x + attention(x));  out = layer_norm_2(h + ffn(h))

    Parameters
    ----------
    x : array_like of shape (..., seq_len, d_model)
    params : mapping of str to array_like
        ``w_q, w_k, w_v, w_o`` (d_model, d_model) for :func:`~attn_helpers.core.multi_head_attention`;
        ``ln1_gamma, ln1_beta, ln2_gamma, ln2_beta`` (d_model,) for the two layer norms;
        ``w_in`` (d_model, d_ff) and ``w_out`` (d_ff, d_model) for :func:`feed_forward`.
        Optional biases: ``b_q, b_k, b_v, b_o`` (d_model,), ``b_in`` (d_ff,), ``b_out`` (d_model,).
        :func:`init_block_params` makes a random set.
    num_heads : int
        Attention heads; ``d_model`` must be divisible by it.
    norm : {"pre", "post"}, default "pre"
        Where the layer norms sit: before each sublayer, inside the residual branch (pre), or
        after each residual sum (post).
    mask : array_like of bool, broadcastable to (..., seq_len, seq_len), optional
        True = may attend (e.g. ``causal_mask(seq_len)``), as in ``multi_head_attention``.
    eps : float, default 1e-5
        The layer norms' epsilon.
    approximate : bool, default False
        The feed-forward layer's GELU: exact (False) or the tanh approximation (True).

    Returns
    -------
    output : ndarray of shape (..., seq_len, d_model)
    weights : ndarray of shape (..., num_heads, seq_len, seq_len)
        The attention weights of every head.
    """
    x, p = _check_block_args(x, params, norm)
    ln1 = p["ln1_gamma"], p["ln1_beta"]
    ln2 = p["ln2_gamma"], p["ln2_beta"]
    if norm == "pre":
        attended, weights = _block_attention(layer_norm(x, *ln1, eps=eps), p, num_heads, mask)
        h = x + attended  # the residual stream: x plus what attention adds
        return h + _block_ffn(layer_norm(h, *ln2, eps=eps), p, approximate), weights
    attended, weights = _block_attention(x, p, num_heads, mask)  # post-norm
    h = layer_norm(x + attended, *ln1, eps=eps)
    return layer_norm(h + _block_ffn(h, p, approximate), *ln2, eps=eps), weights


def _block_attention(x, p, num_heads, mask):
    biases = {k: p[k] for k in ("b_q", "b_k", "b_v", "b_o") if k in p}
    return multi_head_attention(
        x, x, p["w_q"], p["w_k"], p["w_v"], p["w_o"], num_heads=num_heads, mask=mask, **biases
    )


def _block_ffn(x, p, approximate):
    return feed_forward(
        x, p["w_in"], p.get("b_in"), p["w_out"], p.get("b_out"), approximate=approximate
    )


def _check_block_args(x, params, norm):
    if norm not in ("pre", "post"):
        raise ValueError(
            f'norm must be "pre" or "post"; got {norm!r}. Hint: "pre" is GPT-2 and later models, '
            '"post" the original Transformer and BERT.'
        )
    x = _as_input(x, "x", min_ndim=2)
    p = _check_block_params(params)
    for key in ("ln1_gamma", "ln1_beta", "ln2_gamma", "ln2_beta"):
        p[key] = _check_feature_vector(p[key], f"params[{key!r}]", x.shape[-1])
    return x, p


def _check_block_params(params) -> dict:
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a dict of arrays (w_q, w_k, w_v, w_o, ln1_gamma, ...); got "
            f"{type(params).__name__}. Hint: init_block_params(d_model, rng=rng) makes one."
        )
    missing = [k for k in _REQUIRED_KEYS if k not in params]
    if missing:
        raise KeyError(
            f"params is missing {', '.join(missing)}; a block needs {', '.join(_REQUIRED_KEYS)} "
            f"(optional: {', '.join(_OPTIONAL_KEYS)}). Hint: init_block_params(d_model, rng=rng) "
            "makes a complete set."
        )
    unknown = sorted(set(params) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise KeyError(
            f"params has keys a block does not use: {', '.join(unknown)}. Hint: check the spelling "
            f"(expected {', '.join(_REQUIRED_KEYS + _OPTIONAL_KEYS)})."
        )
    return dict(params)


def init_block_params(d_model, *, rng, d_ff=None, dtype=np.float64):
    """Random parameters for :func:`transformer_block`, as a block has them before training.

    Weight matrices are drawn from a normal distribution with standard deviation
    ``1 / sqrt(d_in)`` (so a projection keeps the variance of its input), biases are zero, layer
    norm scales one and shifts zero.

    Parameters
    ----------
    d_model : int
    rng : numpy.random.Generator
    d_ff : int, optional
        The feed-forward layer's width; default ``4 * d_model``.
    dtype : dtype, default float64

    Returns
    -------
    dict of str to ndarray
        ``w_q, w_k, w_v, w_o`` (d_model, d_model), ``ln1_gamma, ln1_beta, ln2_gamma, ln2_beta``
        (d_model,), ``w_in`` (d_model, d_ff), ``b_in`` (d_ff,), ``w_out`` (d_ff, d_model),
        ``b_out`` (d_model,).
    """
    d_model = check_positive_int(d_model, "d_model")
    d_ff = 4 * d_model if d_ff is None else check_positive_int(d_ff, "d_ff")

    def weight(d_in, d_out):
        return (rng.standard_normal((d_in, d_out)) / math.sqrt(d_in)).astype(dtype)

    params = {name: weight(d_model, d_model) for name in _ATTENTION_KEYS}
    params.update(
        ln1_gamma=np.ones(d_model, dtype), ln1_beta=np.zeros(d_model, dtype),
        ln2_gamma=np.ones(d_model, dtype), ln2_beta=np.zeros(d_model, dtype),
        w_in=weight(d_model, d_ff), b_in=np.zeros(d_ff, dtype),
        w_out=weight(d_ff, d_model), b_out=np.zeros(d_model, dtype),
    )  # fmt: skip
    return params


# ---------------------------------------------------------------- cost


def block_flops(seq_len, d_model, *, d_ff=None, ffn="mlp"):
    """Floating-point operations of one transformer block's forward pass, per token.

    One multiply-add counts as 2 FLOPs. With ``d = d_model`` and ``T = seq_len`` (every query looks
    at all ``T`` keys), per token:

    - ``"projections"``: q, k, v and the output projection, four (d, d) products: ``2 * 4 d**2``.
    - ``"ffn"``: two (d, d_ff) products, ``2 * 2 d d_ff`` (``2 * 8 d**2`` for ``d_ff = 4d``); SwiGLU
      has three: ``2 * 3 d d_ff``.
    - ``"attention"``: the scores ``q @ k.T`` (T multiply-adds of length d) and the weighted sum of
      the values (the same again): ``2 * 2 T d``. The only term that grows with ``T``.

    Norms, softmax, activations and residual additions are O(d) or O(T) per token and left out.

    Parameters
    ----------
    seq_len : int
    d_model : int
    d_ff : int, optional
        Default ``4 * d_model``.
    ffn : {"mlp", "swiglu"}, default "mlp"
        Two matrices (GELU MLP) or three (SwiGLU).

    Returns
    -------
    dict of str to int
        ``"projections"``, ``"ffn"``, ``"attention"`` and their sum ``"total"``, FLOPs per token.
        Multiply by ``seq_len`` for the whole sequence.
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    d_model = check_positive_int(d_model, "d_model")
    d_ff = _ffn_width(d_model, d_ff)
    costs = {
        "projections": 2 * 4 * d_model * d_model,
        "ffn": 2 * _ffn_matrices(ffn) * d_model * d_ff,
        "attention": 2 * 2 * seq_len * d_model,
    }
    costs["total"] = sum(costs.values())
    return costs


def attention_crossover(d_model, *, d_ff=None, ffn="mlp"):
    """The sequence length at which attention's ``T``-dependent work equals the rest of the block.

    From :func:`block_flops`: ``4 T d = 8 d**2 + 2 m d d_ff`` (``m`` = 2 matrices for an MLP, 3 for
    SwiGLU), so ``T = 2 d + m d_ff / 2``: ``6 * d_model`` for the usual MLP with ``d_ff = 4 d``.
    Below it the matrix products with weights dominate a block's cost; above it the scores and the
    weighted sum do.

    Parameters
    ----------
    d_model : int
    d_ff : int, optional
        Default ``4 * d_model``.
    ffn : {"mlp", "swiglu"}, default "mlp"

    Returns
    -------
    float
        The crossover ``seq_len`` (an integer value for even ``d_ff``).
    """
    d_model = check_positive_int(d_model, "d_model")
    d_ff = _ffn_width(d_model, d_ff)
    return 2.0 * d_model + _ffn_matrices(ffn) * d_ff / 2.0


def _ffn_width(d_model, d_ff):
    return 4 * d_model if d_ff is None else check_positive_int(d_ff, "d_ff")


def _ffn_matrices(ffn) -> int:
    if ffn == "mlp":
        return 2
    if ffn == "swiglu":
        return 3
    raise ValueError(
        f'ffn must be "mlp" (two matrices, GELU) or "swiglu" (three matrices); got {ffn!r}.'
    )
