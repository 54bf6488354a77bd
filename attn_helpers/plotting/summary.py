"""The one-line text takeaway printed beside a figure: where does this query look?"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, shape_str
from ._labels import _query_labels, _resolve_query, _token_list

# --------------------------------------------------------------------------- text summary


def summarize_attention(weights, tokens, *, query=None, query_tokens=None, top=1):
    """The one-line takeaway to print beside a figure: where does this query look?

    Parameters
    ----------
    weights : array_like of shape (seq_len_k,) or (seq_len_q, seq_len_k)
    tokens : sequence of str of length seq_len_k
        Key labels.
    query : int or str
        Which query (row) to describe: an index, or a token that occurs once. Required for a
        matrix; optional for one row, where it only names the query.
    query_tokens : sequence of str of length seq_len_q, optional
        Query labels when they differ from ``tokens``.
    top : int, default 1
        How many keys to name, largest weight first.

    Returns
    -------
    str
        For example ``"'it' gives 0.62 of its attention to 'trophy'"`` or, with ``top=2``,
        ``"'it' gives 0.62 of its attention to 'trophy', then 0.21 to 'suitcase'"``. A token that
        occurs more than once is named with its position, ``'the' (#5)``. Uniform weights give
        ``"'x' spreads its attention evenly: 0.25 to each of the 4 keys"``.

    Examples
    --------
    >>> summarize_attention([[0.9, 0.1], [0.3, 0.7]], ["cats", "sleep"], query="sleep")
    "'sleep' gives 0.70 of its attention to itself"
    """
    arr = as_float_array(weights, "weights")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"weights must be 1-D (seq_len_k,) or 2-D (seq_len_q, seq_len_k); got weights.shape="
            f"{shape_str(arr.shape)}. Hint: for several heads summarise one, weights[h]."
        )
    keys = _token_list(tokens, arr.shape[-1], "tokens", "keys (columns)", arr.shape)
    top = int(top)
    if top < 1:
        raise ValueError(f"top must be at least 1; got {top}.")
    self_index = None
    if arr.ndim == 2:
        if query is None:
            raise ValueError(
                f"weights.shape={shape_str(arr.shape)} has {arr.shape[0]} queries; say which one "
                "to describe. Hint: query='it' or query=8."
            )
        queries = _query_labels(arr, keys, query_tokens)
        row = _resolve_query(query, queries)
        w, who = arr[row], _name(queries, row)
        if queries is keys:
            self_index = row
    else:
        w = arr
        if isinstance(query, str):
            who = repr(query)
        elif query is not None and query_tokens is not None:
            who = _name(list(query_tokens), query)
        else:
            who = "this query"
    if w.size > 1 and np.allclose(w, w[0], rtol=1e-9, atol=1e-12):
        return f"{who} spreads its attention evenly: {w[0]:.2f} to each of the {w.size} keys"
    order = np.argsort(-w, kind="stable")[:top]
    parts = []
    for rank, j in enumerate(order):
        target = "itself" if j == self_index else _name(keys, j)
        parts.append(
            f"{w[j]:.2f} of its attention to {target}" if rank == 0 else f"{w[j]:.2f} to {target}"
        )
    return f"{who} gives " + ", then ".join(parts)


def _name(labels: list[str], i: int) -> str:
    """``'token'``, with its position when the token occurs more than once."""
    token = labels[i]
    return f"{token!r} (#{i})" if labels.count(token) > 1 else repr(token)
