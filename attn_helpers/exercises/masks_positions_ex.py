"""Exercise checkers for notebook 05: causal and padding masks, masked attention, positions.

Each exercise is data (reference solution, cases, known mistakes with diagnoses, hints); each
``check_...`` function takes the learner's function itself::

    check_causal_mask(my_causal_mask)

The references are written the way the notebooks teach them (plain numpy, shapes in comments), so
``solution(name)`` shows a readable worked answer.
"""

from __future__ import annotations

import numpy as np

from ..chunked import chunked_attention
from ..core import (
    causal_mask,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
    sliding_window_mask,
    softmax,
)
from ._common import _softmax_rows, float32, item, negated, normal, swap_last
from ._framework import Case, Exercise, Mistake, WrongVariant, check, register, transformed

__all__ = [
    "check_causal_mask",
    "check_masked_attention",
    "check_padding_mask",
    "check_sinusoidal_positions",
]

_FORBIDDEN = (softmax, scaled_dot_product_attention, multi_head_attention, chunked_attention)


# =============================================================================== notebook 05


def causal_mask_solution(seq_len):
    """(seq_len, seq_len) boolean mask, True = may attend: token i sees tokens 0..i."""
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))  # lower triangle, diagonal included


def _causal_inverted(seq_len):
    return np.triu(np.ones((seq_len, seq_len), dtype=bool), k=1)


def _causal_upper(seq_len):
    return np.triu(np.ones((seq_len, seq_len), dtype=bool))


def _causal_no_diagonal(seq_len):
    return np.tril(np.ones((seq_len, seq_len), dtype=bool), k=-1)


def _causal_float(seq_len):
    return np.tril(np.ones((seq_len, seq_len)))


def _causal_int(seq_len):
    return np.tril(np.ones((seq_len, seq_len), dtype=int))


def _causal_one_ahead(seq_len):
    return np.tril(np.ones((seq_len, seq_len), dtype=bool), k=1)


def _causal_package(seq_len):
    return causal_mask(seq_len)


def _causal_window(seq_len):
    return sliding_window_mask(seq_len, seq_len)


register(
    Exercise(
        name="causal_mask",
        notebook="05_masks_and_positions",
        title="A causal mask",
        reference=causal_mask_solution,
        stub="my_causal_mask",
        forbidden=(causal_mask, sliding_window_mask),
        cases=[
            Case((4,), description="`seq_len=4`"),
            Case((1,), description="`seq_len=1`"),
            Case((7,), description="`seq_len=7`"),
        ],
        mistakes=[
            Mistake(
                "inverted (True = block)",
                _causal_inverted,
                "your mask is True exactly where attention must be blocked: that is the "
                "'True = block' convention (the `attn_mask` of PyTorch's "
                "`nn.MultiheadAttention`). This course uses True = may attend, like `np.tril`.",
            ),
            Mistake(
                "upper triangle",
                _causal_upper,
                "your mask lets token `i` see tokens `i` to `seq_len - 1`: the future, not the "
                "past. Rows are queries and columns keys; the allowed entries are on and below "
                "the diagonal.",
            ),
            Mistake(
                "diagonal excluded",
                _causal_no_diagonal,
                "your mask stops each token from seeing itself (the diagonal is False), and the "
                "first token can see nothing at all. Token `i` may attend to tokens 0 to `i`, "
                "itself included.",
            ),
            Mistake(
                "not boolean",
                _causal_float,
                "your pattern is right, but the mask holds numbers, not booleans. Masks in this "
                "course are boolean: `np.ones(..., dtype=bool)`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("integers", _causal_int, says="boolean"),
            WrongVariant("one token ahead (off by one)", _causal_one_ahead),
            WrongVariant("transposed", transformed(causal_mask_solution, swap_last)),
            WrongVariant(
                "the package's causal_mask", _causal_package, says="`attn_helpers.causal_mask`"
            ),
            WrongVariant(
                "the package's sliding_window_mask",
                _causal_window,
                says="`attn_helpers.sliding_window_mask`",
            ),
        ],
        hints=[
            "Row `i` is the query at position `i`; it may look at columns 0 to `i`. Draw it for "
            "`seq_len=3`.",
            "`np.tril` keeps the lower triangle including the diagonal; start from "
            "`np.ones((seq_len, seq_len), dtype=bool)`.",
        ],
    )
)


def check_causal_mask(fn):
    """Check your ``my_causal_mask(seq_len) -> (seq_len, seq_len)`` boolean mask (True = may attend)."""
    return check("causal_mask", fn)


def padding_mask_solution(lengths, seq_len):
    """(batch, 1, seq_len) boolean mask, True where key j is a real token (j < length)."""
    lengths = np.asarray(lengths)  # (batch,)
    real = np.arange(seq_len) < lengths[:, None]  # (1, seq_len) < (batch, 1) -> (batch, seq_len)
    return real[:, None, :]  # (batch, 1, seq_len): the 1 broadcasts over the queries


def _pad_inverted(lengths, seq_len):
    return ~padding_mask_solution(lengths, seq_len)


def _pad_no_query_axis(lengths, seq_len):
    return np.arange(seq_len) < np.asarray(lengths)[:, None]


def _pad_off_by_one(lengths, seq_len):
    return (np.arange(seq_len) <= np.asarray(lengths)[:, None])[:, None, :]


def _pad_query_axis_last(lengths, seq_len):
    return (np.arange(seq_len) < np.asarray(lengths)[:, None])[:, :, None]  # (batch, seq_len, 1)


def _pad_from_the_left(lengths, seq_len):
    return (np.arange(seq_len)[::-1] < np.asarray(lengths)[:, None])[:, None, :]


def _pad_float(lengths, seq_len):
    return padding_mask_solution(lengths, seq_len).astype(float)


def _pad_package(lengths, seq_len):
    return padding_mask(lengths, seq_len)


register(
    Exercise(
        name="padding_mask",
        notebook="05_masks_and_positions",
        title="A padding mask for a batch of different lengths",
        reference=padding_mask_solution,
        stub="my_padding_mask",
        forbidden=(padding_mask,),
        cases=[
            Case(
                (np.array([3, 5, 1]), 5), description="`lengths` `[3, 5, 1]` padded to `seq_len=5`"
            ),
            Case(
                (np.array([2, 0]), 4),
                description="`lengths` `[2, 0]` padded to `seq_len=4` (an empty sequence)",
            ),
        ],
        mistakes=[
            Mistake(
                "inverted (True = padding)",
                _pad_inverted,
                "your mask is True on the padding: that is the 'True = ignore' convention "
                "(PyTorch's `key_padding_mask`). This course uses True = may attend, i.e. a real "
                "token.",
            ),
            Mistake(
                "query axis missing",
                _pad_no_query_axis,
                "your values are right but the shape is `(batch, seq_len)`. Add a length-1 query "
                "axis, `(batch, 1, seq_len)`, so the mask broadcasts against weights of shape "
                "`(batch, seq_len_q, seq_len_k)`.",
            ),
            Mistake(
                "off by one",
                _pad_off_by_one,
                "your mask lets each sequence see one padding position too many: a sequence of "
                "length `n` has real tokens at positions 0 to `n - 1`, so use `<` rather than `<=`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("query axis last", _pad_query_axis_last),
            WrongVariant("padded on the left", _pad_from_the_left),
            WrongVariant("floats", _pad_float, says="boolean"),
            WrongVariant(
                "the package's padding_mask", _pad_package, says="`attn_helpers.padding_mask`"
            ),
        ],
        hints=[
            "Compare the positions `np.arange(seq_len)` with each length: position `j` is real "
            "when `j < length`.",
            "`np.arange(seq_len) < lengths[:, None]` broadcasts to `(batch, seq_len)`; then add "
            "the query axis with `[:, None, :]`.",
        ],
    )
)


def check_padding_mask(fn):
    """Check your ``my_padding_mask(lengths, seq_len) -> (batch, 1, seq_len)`` boolean mask."""
    return check("padding_mask", fn)


def masked_attention_solution(q, k, v, mask):
    """Attention where mask (True = may attend) blocks keys; a fully masked row gets zeros."""
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])  # (..., T_q, T_k)
    scores = np.where(mask, scores, -np.inf)  # blocked keys: exp(-inf) = 0, *before* the softmax
    row_max = scores.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # fully masked row: avoid -inf - -inf
    e = np.exp(scores - row_max)
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # 0/0 -> zeros
    return weights @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


def _masked_after_softmax(q, k, v, mask):
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])) * mask
    return weights @ v, weights


def _masked_inverted(q, k, v, mask):
    return masked_attention_solution(q, k, v, ~np.asarray(mask))


def _masked_ignored(q, k, v, mask):
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]))
    return weights @ v, weights


def _masked_unscaled(q, k, v, mask):
    return masked_attention_solution(q * np.sqrt(q.shape[-1]), k, v, mask)  # undoes the 1/sqrt(d_k)


def _masked_fill_zero(q, k, v, mask):
    scores = np.where(mask, q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), 0.0)
    weights = _softmax_rows(scores)
    return weights @ v, weights


def _masked_big_negative(q, k, v, mask):
    scores = np.where(mask, q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), -1e9)
    weights = _softmax_rows(scores)
    return weights @ v, weights


def _masked_neg_inf_nan(q, k, v, mask):
    scores = np.where(mask, q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), -np.inf)
    with np.errstate(invalid="ignore"):
        weights = _softmax_rows(scores)
        return weights @ v, weights


def _masked_nan_to_zero(q, k, v, mask):
    out, weights = _masked_neg_inf_nan(q, k, v, mask)
    return np.nan_to_num(out), np.nan_to_num(weights)


def _masked_package(q, k, v, mask):
    return scaled_dot_product_attention(q, k, v, mask=mask)


def _masked_package_softmax(q, k, v, mask):
    weights = softmax(np.where(mask, q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]), -np.inf))
    return weights @ v, weights


def _masked_multiplied_scores(q, k, v, mask):
    weights = _softmax_rows(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]) * mask)
    return weights @ v, weights


_randn = normal("masked_attention")
_ROW_MASKED = np.array(
    [[True, True, False, False], [False, False, False, False], [True, False, True, True]]
)  # (3 queries, 4 keys); the middle query may attend to nothing

register(
    Exercise(
        name="masked_attention",
        notebook="05_masks_and_positions",
        title="Masked attention, fully masked rows included",
        reference=masked_attention_solution,
        forbidden=_FORBIDDEN,
        returns=("output", "weights"),
        cases=[
            Case(
                (_randn(4, 3), _randn(4, 3), _randn(4, 2), np.tril(np.ones((4, 4), dtype=bool))),
                description="`q`, `k` (4, 3), `v` (4, 2) with a causal mask (4, 4)",
            ),
            Case(
                (_randn(3, 3), _randn(4, 3), _randn(4, 2), _ROW_MASKED),
                description="`q` (3, 3), `k` (4, 3), `v` (4, 2) with a mask (3, 4) whose second "
                "row is all False",
            ),
        ],
        mistakes=[
            Mistake(
                "mask applied after softmax",
                _masked_after_softmax,
                "your rows no longer sum to 1: you zeroed the blocked weights after the softmax. "
                "Block the scores before it (set them to `-np.inf`) so the allowed weights share "
                "the whole 1.",
            ),
            Mistake(
                "inverted mask",
                _masked_inverted,
                "you blocked exactly the keys the mask allows: in this course True means 'may "
                "attend' (`np.tril` orientation). Keep scores where `mask` is True.",
            ),
            Mistake(
                "mask ignored",
                _masked_ignored,
                "your weights ignore the mask: every key gets some weight. Set the scores of "
                "blocked keys (`mask == False`) to `-np.inf` before the softmax.",
            ),
            Mistake(
                "blocked scores set to 0",
                _masked_fill_zero,
                "your blocked keys still get weight: you set their scores to 0, and `exp(0) = 1`. "
                "A score of 0 is an ordinary score, not 'blocked'. Set them to `-np.inf` so that "
                "`exp(-inf) = 0`.",
            ),
            Mistake(
                "not scaled",
                _masked_unscaled,
                "your mask is applied correctly, but your scores were not scaled. Divide "
                "`q @ k.T` by `sqrt(d_k)` (`d_k = q.shape[-1]`) before masking and the softmax.",
            ),
            Mistake(
                "fill -1e9: fully masked row uniform",
                _masked_big_negative,
                "a query with no allowed key got uniform weights: a fill value of `-1e9` makes every "
                "score in that row equal. The course's convention is zero weights and a zero output "
                "for such a row.",
            ),
            Mistake(
                "fill -inf: fully masked row NaN",
                _masked_neg_inf_nan,
                "a query with no allowed key got NaN: its max score is `-inf` and "
                "`-inf - (-inf)` is NaN. Give such rows zero weights (for example: replace a "
                "`-inf` row max by 0, and divide only where the row total is positive).",
            ),
        ],
        wrong_variants=[
            WrongVariant(
                "weights transposed", transformed(masked_attention_solution, item(1, swap_last))
            ),
            WrongVariant("mask multiplied into the scores", _masked_multiplied_scores),
            WrongVariant(
                "output negated", transformed(masked_attention_solution, item(0, negated))
            ),
            WrongVariant(
                "weights float32", transformed(masked_attention_solution, item(1, float32))
            ),
            WrongVariant(
                "the package's attention",
                _masked_package,
                says="`attn_helpers.scaled_dot_product_attention`",
            ),
            WrongVariant(
                "the package's softmax", _masked_package_softmax, says="`attn_helpers.softmax`"
            ),
        ],
        hints=[
            "Compute the scaled scores, replace blocked entries with `-np.inf` "
            "(`np.where(mask, scores, -np.inf)`), then a stable softmax over the last axis.",
            "A row that is all `-inf` has max `-inf`: replace that max by 0 before subtracting, "
            "and use `np.divide(e, total, out=np.zeros_like(e), where=total > 0)`.",
        ],
    )
)


def check_masked_attention(fn):
    """Check your ``masked_attention(q, k, v, mask) -> (output, weights)`` (True = may attend)."""
    return check("masked_attention", fn)


def sinusoidal_positions_solution(seq_len, d_model):
    """P[pos, 2i] = sin(pos / 10000**(2i/d_model)), P[pos, 2i+1] = cos(same angle); d_model even."""
    pos = np.arange(seq_len)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2)  # (d_model/2,): 0, 2, 4, ...
    angles = pos / 10000 ** (two_i / d_model)  # (T, 1) / (d_model/2,) -> (T, d_model/2)
    positions = np.zeros((seq_len, d_model))
    positions[:, 0::2] = np.sin(angles)  # even columns
    positions[:, 1::2] = np.cos(angles)  # odd columns
    return positions


def _pos_swapped(seq_len, d_model):
    p = sinusoidal_positions_solution(seq_len, d_model)
    return p.reshape(seq_len, -1, 2)[..., ::-1].reshape(seq_len, d_model)


def _pos_i_not_2i(seq_len, d_model):
    angles = np.arange(seq_len)[:, None] / 10000 ** (np.arange(d_model // 2) / d_model)
    p = np.zeros((seq_len, d_model))
    p[:, 0::2], p[:, 1::2] = np.sin(angles), np.cos(angles)
    return p


def _pos_cos_own_column(seq_len, d_model):
    pos = np.arange(seq_len)[:, None]
    p = np.zeros((seq_len, d_model))
    p[:, 0::2] = np.sin(pos / 10000 ** (np.arange(0, d_model, 2) / d_model))
    p[:, 1::2] = np.cos(pos / 10000 ** (np.arange(1, d_model, 2) / d_model))  # (2i+1)/d_model
    return p


def _pos_halves(seq_len, d_model):
    p = sinusoidal_positions_solution(seq_len, d_model)
    return np.concatenate([p[:, 0::2], p[:, 1::2]], axis=1)


def _pos_from_one(seq_len, d_model):
    return sinusoidal_positions_solution(seq_len + 1, d_model)[1:]  # positions 1 to seq_len


def _pos_base_1000(seq_len, d_model):
    pos = np.arange(seq_len)[:, None]
    angles = pos / 1000 ** (np.arange(0, d_model, 2) / d_model)
    p = np.zeros((seq_len, d_model))
    p[:, 0::2], p[:, 1::2] = np.sin(angles), np.cos(angles)
    return p


def _pos_multiplied(seq_len, d_model):
    pos = np.arange(seq_len)[:, None]
    angles = pos * 10000 ** (np.arange(0, d_model, 2) / d_model)  # times instead of divided
    p = np.zeros((seq_len, d_model))
    p[:, 0::2], p[:, 1::2] = np.sin(angles), np.cos(angles)
    return p


def _pos_package(seq_len, d_model):
    return sinusoidal_positions(seq_len, d_model)


register(
    Exercise(
        name="sinusoidal_positions",
        notebook="05_masks_and_positions",
        title="Sinusoidal positional encodings",
        reference=sinusoidal_positions_solution,
        stub="my_sinusoidal_positions",
        forbidden=(sinusoidal_positions,),
        cases=[
            Case((6, 8), description="`seq_len=6`, `d_model=8`"),
            Case((20, 16), description="`seq_len=20`, `d_model=16`"),
        ],
        mistakes=[
            Mistake(
                "sin and cos swapped",
                _pos_swapped,
                "your sin and cos are swapped: the even columns (0, 2, 4, ...) hold the sine and "
                "the odd columns the cosine, so position 0 is `[0, 1, 0, 1, ...]`.",
            ),
            Mistake(
                "i instead of 2i",
                _pos_i_not_2i,
                "your wavelengths grow too slowly across the columns (your last columns turn far "
                "too fast): the exponent is `2i / d_model`, where `2i` is the even column index "
                "(0, 2, 4, ...), not `i / d_model`.",
            ),
            Mistake(
                "cos uses (2i+1)/d_model",
                _pos_cos_own_column,
                "your sine columns are right, but each cosine column uses its own index in the "
                "exponent, `(2i + 1) / d_model`. A sin/cos pair shares one angle: column `2i + 1` "
                "holds the cos of the same angle as column `2i`, `pos / 10000**(2i / d_model)`.",
            ),
            Mistake(
                "halves instead of interleaved",
                _pos_halves,
                "you put all the sines first and all the cosines after. Here they are interleaved: "
                "column `2i` holds the sin and column `2i + 1` the cos of the same angle.",
            ),
            Mistake(
                "positions from 1",
                _pos_from_one,
                "your rows are shifted by one position: the first token is at position 0, so "
                "row 0 is `[0, 1, 0, 1, ...]`. Use `np.arange(seq_len)`.",
            ),
        ],
        wrong_variants=[
            WrongVariant("base 1000", _pos_base_1000),
            WrongVariant("multiplied by the frequency term", _pos_multiplied),
            WrongVariant("transposed", transformed(sinusoidal_positions_solution, lambda p: p.T)),
            WrongVariant("float32", transformed(sinusoidal_positions_solution, float32)),
            WrongVariant(
                "the package's sinusoidal_positions",
                _pos_package,
                says="`attn_helpers.sinusoidal_positions`",
            ),
        ],
        hints=[
            "Build a `(seq_len, d_model / 2)` table of angles `pos / 10000**(2i / d_model)` by "
            "broadcasting a column of positions against a row of frequencies.",
            "`positions[:, 0::2] = np.sin(angles)` and `positions[:, 1::2] = np.cos(angles)`; "
            "`two_i = np.arange(0, d_model, 2)`.",
        ],
    )
)


def check_sinusoidal_positions(fn):
    """Check your ``my_sinusoidal_positions(seq_len, d_model) -> (seq_len, d_model)`` (d_model even)."""
    return check("sinusoidal_positions", fn)
