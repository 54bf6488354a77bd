"""What does each head attend to? Shares of attention on simple relations, per layer and head.

Clark et al. (2019, "What Does BERT Look At?") found that many of BERT's heads follow one simple
rule: look at the previous token, at the next one, at the token itself, or at ``[CLS]`` / ``[SEP]``.
:func:`head_role_shares` measures, for every layer and head of a BERT-style encoder, the share of
attention that lands on each of these five keys, averaged over the word pieces of many sentences;
:func:`summarize_head_roles` turns the result into the one-line takeaway printed beside its figure
(:func:`attn_helpers.plotting.plot_head_roles`).

Usage::

    model = load_minilm()
    attention = [model.attend(s) for s in sentences]  # [(tokens, weights (6, 12, T, T)), ...]
    shares, uniform = head_role_shares(attention)  # (5, 6, 12) and (5,)
    print(summarize_head_roles(shares, uniform))

Layers and heads are numbered from 0, as everywhere in the course (``weights[layer, head]``).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, shape_str

__all__ = ["RELATIONS", "head_role_shares", "summarize_head_roles"]

#: The five relations measured, in the order of axis 0 of :func:`head_role_shares`' ``shares``.
RELATIONS = ("the previous token", "the next token", "itself", "[CLS]", "[SEP]")


def _key_positions(seq_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # For each relation, (query positions, key positions). Queries are the word pieces between
    # [CLS] and [SEP]; "previous"/"next" skip the queries whose neighbour is [CLS]/[SEP], so that
    # the five keys of a query are always five different tokens.
    words = np.arange(1, seq_len - 1)  # (seq_len - 2,): positions of the word pieces
    previous = words[1:]  # the previous token is a word piece too
    following = words[:-1]
    return [
        (previous, previous - 1),
        (following, following + 1),
        (words, words),
        (words, np.zeros_like(words)),
        (words, np.full_like(words, seq_len - 1)),
    ]


def _check_sentence(index: int, tokens, weights) -> np.ndarray:
    w = as_float_array(weights, f"attention[{index}] weights")
    if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
        raise ValueError(
            f"attention[{index}]: weights must have shape (num_layers, num_heads, seq_len, "
            f"seq_len); got {shape_str(w.shape)}. Hint: pass the pairs returned by "
            "model.attend(sentence), one per sentence."
        )
    tokens = list(tokens)
    if len(tokens) != w.shape[-1]:
        raise ValueError(
            f"attention[{index}]: {len(tokens)} tokens for weights of shape {shape_str(w.shape)} "
            f"(seq_len={w.shape[-1]}). Hint: the tokens and weights must come from the same call."
        )
    if len(tokens) < 4 or tokens[0] != "[CLS]" or tokens[-1] != "[SEP]":
        raise ValueError(
            f"attention[{index}]: tokens must start with '[CLS]', end with '[SEP]' and hold at "
            f"least two word pieces between them; got {tokens!r}. Hint: use the tokens returned "
            "by model.attend(sentence) for a sentence of two words or more."
        )
    return w


def head_role_shares(attention):
    """Per layer and head, the share of attention on the previous token, the next, itself, [CLS], [SEP].

    Each share is an average over the query tokens of all sentences, pooled (every word piece
    counts once): for "previous token", the weight each word piece gives to the word piece just
    before it; for "[CLS]", the weight it gives to ``[CLS]``; and so on. Only word pieces are
    queries (``[CLS]`` and ``[SEP]`` are not), and "previous token" / "next token" leave out the
    first / last word piece, whose neighbour is ``[CLS]`` / ``[SEP]``: the five keys of a query are
    then always five different tokens.

    Parameters
    ----------
    attention : iterable of (tokens, weights)
        One pair per sentence, as returned by ``MiniLM.attend``: ``tokens`` a list of seq_len str
        starting with ``"[CLS]"`` and ending with ``"[SEP]"``; ``weights`` of shape
        (num_layers, num_heads, seq_len, seq_len), rows summing to 1. Sentences may differ in
        length; all must share num_layers and num_heads.

    Returns
    -------
    shares : ndarray of shape (5, num_layers, num_heads), float64
        ``shares[r, layer, head]``: the mean weight on relation ``RELATIONS[r]``; between 0 and 1.
    uniform : ndarray of shape (5,), float64
        The same shares for a head that spreads its attention evenly (``1 / seq_len`` to every
        key): the baseline to compare with.

    Examples
    --------
    A one-layer, one-head model whose every token looks at the token before it:

    >>> w = np.eye(5, k=-1)[None, None]  # (1, 1, 5, 5); [CLS] looks at nothing
    >>> w[0, 0, 0, 0] = 1.0
    >>> shares, uniform = head_role_shares([(["[CLS]", "a", "b", "c", "[SEP]"], w)])
    >>> shares[:, 0, 0].round(2).tolist(), uniform.round(2).tolist()
    ([1.0, 0.0, 0.0, 0.33, 0.0], [0.2, 0.2, 0.2, 0.2, 0.2])
    """
    totals, uniform, counts, shape = None, np.zeros(len(RELATIONS)), np.zeros(len(RELATIONS)), None
    for index, (tokens, weights) in enumerate(attention):
        w = _check_sentence(index, tokens, weights)
        if shape is None:
            shape = w.shape[:2]
            totals = np.zeros((len(RELATIONS), *shape))
        elif w.shape[:2] != shape:
            raise ValueError(
                f"attention[{index}]: weights have {w.shape[0]} layers and {w.shape[1]} heads, "
                f"attention[0] had {shape[0]} and {shape[1]}. Hint: measure one model at a time."
            )
        seq_len = w.shape[-1]
        for r, (queries, keys) in enumerate(_key_positions(seq_len)):
            totals[r] += w[..., queries, keys].sum(axis=-1)  # (layers, heads)
            counts[r] += len(queries)
            uniform[r] += len(queries) / seq_len
    if shape is None:
        raise ValueError(
            "attention is empty: pass at least one (tokens, weights) pair. "
            "Hint: attention = [model.attend(s) for s in sentences]."
        )
    return totals / counts[:, None, None], uniform / counts


def summarize_head_roles(shares, uniform):
    """The one-line takeaway: for each relation, the head that follows it most, and by how much.

    Parameters
    ----------
    shares : array_like of shape (5, num_layers, num_heads)
    uniform : array_like of shape (5,)
        Both as returned by :func:`head_role_shares`.

    Returns
    -------
    str
        For example ``"strongest head per relation: previous token: layer 0, head 3, 0.62 (9x
        uniform 0.07); ..."``; layers and heads are numbered from 0.
    """
    s = as_float_array(shares, "shares")
    u = as_float_array(uniform, "uniform")
    if s.ndim != 3 or s.shape[0] != len(RELATIONS) or u.shape != (len(RELATIONS),):
        raise ValueError(
            f"shares must have shape ({len(RELATIONS)}, num_layers, num_heads) and uniform shape "
            f"({len(RELATIONS)},); got {shape_str(s.shape)} and {shape_str(u.shape)}. "
            "Hint: pass both results of head_role_shares."
        )
    parts = []
    for r, name in enumerate(RELATIONS):
        layer, head = np.unravel_index(int(s[r].argmax()), s[r].shape)
        best = s[r, layer, head]
        parts.append(
            f"{name}: layer {layer}, head {head}, {best:.2f} ({best / u[r]:.0f}x uniform {u[r]:.2f})"
        )
    return "strongest head per relation: " + "; ".join(parts)
