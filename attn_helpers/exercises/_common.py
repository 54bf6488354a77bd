"""Small helpers shared by the exercise modules: case generators and wrong-variant transforms."""

from __future__ import annotations

import numpy as np

from ._framework import case_rng


def _softmax_rows(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def normal(name: str, *, decimals: int | None = None):
    """``randn(*shape)`` drawing from exercise ``name``'s own stream (rounded if ``decimals``)."""
    rng = case_rng(name)

    def randn(*shape):
        x = rng.standard_normal(shape)
        return x if decimals is None else np.round(x, decimals)

    return randn


# Transforms of a right answer into a plausible wrong one (used with ``transformed``). Each takes
# the reference's output; ``item(i, t)`` applies ``t`` to item ``i`` of a tuple output only.


def negated(out):
    return -np.asarray(out)


def absolute(out):
    return np.abs(out)


def relu(out):
    return np.maximum(out, 0.0)


def float32(out):
    return np.asarray(out, dtype=np.float32)


def swap_last(out):
    return np.swapaxes(out, -1, -2)


def as_float(out):
    return float(out)


def item(i: int, transform):
    def apply(out):
        return tuple(transform(o) if j == i else o for j, o in enumerate(out))

    apply.__name__ = f"item{i}_{transform.__name__}"
    return apply
