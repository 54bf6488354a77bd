"""A tiny hand-designed attention model for the course's running example.

    "The trophy didn't fit in the suitcase because it was too big."   (it = the trophy)
    "The trophy didn't fit in the suitcase because it was too small." (it = the suitcase)

Everything here is **designed by hand**, numpy only, so that every number can be read:

- Each word's embedding is a vector of a few named features (``FEATURES``): "noun",
  "container", "pronoun", "size word", "size" (+1 for big, -1 for small), ...
- Two single-head self-attention layers with a residual connection, like the model that
  notebook 06 *trains*:

  * layer 0, "find the size word": a pronoun's query matches the key of a size word, and the
    value copies that word's size (+1 big, -1 small) into the pronoun's free slot
    "heard size" (``x1 = x + attention output``).
  * layer 1, "pick the noun": a pronoun looks for nouns, and the size it heard decides which
    one: a positive size (big) favours a noun that goes *inside* something, a negative size
    (small) favours a *container*.

So with the same weights, "it" attends most to "trophy" in "...too big." and to "suitcase" in
"...too small.". The world knowledge "too big -> the thing that goes in, too small -> the
container" is one hand-set sign in layer 1's projections; a trained model has to discover it
from examples (notebook 06). A *single* layer could never do this: "it"'s query and the keys of
"trophy" and "suitcase" do not depend on the rest of the sentence, so the ratio of their
weights would be the same in both sentences. There are no positional encodings either: this
toy is permutation-equivariant (notebook 03 uses that as the motivation for positions).

Unknown words raise a ``ValueError`` that names the word and lists known ones (there is no
``[UNK]`` embedding: a silent fallback would hide a typo in a sentence explorer).

Shapes: ``embed(tokens)`` is ``(seq_len, d_model)``; ``toy_projections(layer)`` holds
``w_q, w_k`` of shape ``(d_model, d_k)`` and ``w_v`` of shape ``(d_model, d_model)``
(row vectors, ``x @ w``); ``toy_attention(sentence)`` returns weights of shape
``(num_layers, num_heads, seq_len, seq_len) = (2, 1, T, T)``, the same layout as the real and
trained models' attention (layers, heads, queries, keys).
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from .core import scaled_dot_product_attention

__all__ = [
    "D_K",
    "FEATURES",
    "LAYER_NAMES",
    "TROPHY_SENTENCE",
    "TROPHY_SMALL_SENTENCE",
    "embed",
    "tokenize",
    "toy_attention",
    "toy_forward",
    "toy_projections",
    "toy_vocabulary",
]

TROPHY_SENTENCE = "The trophy didn't fit in the suitcase because it was too big."
TROPHY_SMALL_SENTENCE = "The trophy didn't fit in the suitcase because it was too small."

#: The named features: one per column of ``embed(tokens)``.
FEATURES = (
    "noun",  # a thing: trophy, suitcase, ball, box, ...
    "container",  # a thing other things go into: suitcase, box, bag, ...
    "pronoun",  # it
    "size word",  # big, small, large, tiny, ...
    "size",  # +1 for "too big" words, -1 for "too small" words, 0 otherwise
    "heard size",  # empty in every embedding; layer 0 writes the size a pronoun heard here
    "verb",  # fit, was, is, ...
    "function word",  # the, in, because, too, punctuation, ...
)
_F = {name: i for i, name in enumerate(FEATURES)}
D_MODEL = len(FEATURES)
#: Width of the queries and keys in both layers (one head each).
D_K = 2
LAYER_NAMES = ("find the size word", "pick the noun")

_OBJECTS = (
    "trophy", "ball", "book", "cup", "laptop", "guitar", "cake", "bottle", "chair", "table",
    "piano", "shoe", "toy", "statue", "painting", "sofa", "bed", "bike", "lamp", "vase",
)  # fmt: skip
_CONTAINERS = (
    "suitcase", "box", "bag", "backpack", "drawer", "car", "case", "cupboard", "closet",
    "trunk", "basket", "room", "crate", "envelope", "pocket", "van",
)  # fmt: skip
_BIG = ("big", "large", "huge", "tall", "wide", "long", "bulky", "heavy")
_SMALL = ("small", "tiny", "little", "short", "narrow", "thin")
_PRONOUNS = ("it",)
_VERBS = ("fit", "fits", "was", "is", "did", "does", "go", "went", "goes", "get", "put")
_FUNCTION = (
    "the", "a", "an", "in", "into", "inside", "because", "too", "didn't", "doesn't", "wasn't",
    "couldn't", "won't", "not", "and", "but", "so", "very", "of", "my", "his", "her", "their",
    ".", ",", "!", "?",
)  # fmt: skip


def _build_vocabulary() -> dict[str, np.ndarray]:
    vocab: dict[str, np.ndarray] = {}

    def add(words, **features):
        for word in words:
            vec = np.zeros(D_MODEL)
            for name, value in features.items():
                vec[_F[name.replace("_", " ")]] = value
            vocab[word] = vec

    add(_OBJECTS, noun=1.0)
    add(_CONTAINERS, noun=1.0, container=1.0)
    add(_BIG, size_word=1.0, size=1.0)
    add(_SMALL, size_word=1.0, size=-1.0)
    add(_PRONOUNS, pronoun=1.0)
    add(_VERBS, verb=1.0)
    add(_FUNCTION, function_word=1.0)
    for vec in vocab.values():
        vec.flags.writeable = False
    return vocab


_VOCAB = _build_vocabulary()

# Words: letters with an optional inner apostrophe ("didn't"); numbers; any other single
# non-space character (punctuation, emoji, ...) is a token of its own.
_TOKEN_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+|\S")


def toy_vocabulary() -> list[str]:
    """Every word the toy model knows, sorted (punctuation included)."""
    return sorted(_VOCAB)


def _unknown_word_error(word: str, where: str) -> ValueError:
    close = difflib.get_close_matches(word, list(_VOCAB), n=3)
    suggestion = f" Did you mean {' or '.join(repr(w) for w in close)}?" if close else ""
    examples = ", ".join(repr(w) for w in ("trophy", "suitcase", "ball", "box", "big", "small"))
    return ValueError(
        f"the toy model does not know the word {word!r}{where}.{suggestion} It knows "
        f"{len(_VOCAB)} words, for example {examples}; see toy_vocabulary() for all of them. "
        "Hint: the toy is built for sentences like \"The ball didn't fit in the box because it "
        'was too small."'
    )


def tokenize(sentence: str) -> list[str]:
    """Split a sentence into lower-cased word and punctuation tokens the toy model knows.

    Parameters
    ----------
    sentence : str
        For example ``TROPHY_SENTENCE``. Curly apostrophes are read as straight ones.

    Returns
    -------
    tokens : list of str
        ``"didn't"`` stays one token; ``"."`` is a token of its own.

    Raises
    ------
    TypeError
        If ``sentence`` is not a string.
    ValueError
        If the sentence is empty or contains a word the toy model does not know.

    Examples
    --------
    >>> tokenize("The trophy didn't fit.")
    ['the', 'trophy', "didn't", 'fit', '.']
    """
    if not isinstance(sentence, str):
        raise TypeError(
            f"sentence must be a string; got {type(sentence).__name__}. "
            'Hint: tokenize("The trophy didn\'t fit in the suitcase because it was too big.")'
        )
    tokens = _TOKEN_RE.findall(sentence.replace("\u2019", "'").lower())
    if not tokens:
        raise ValueError(
            f"sentence is empty (got {sentence!r}); type a sentence such as {TROPHY_SENTENCE!r}."
        )
    for position, token in enumerate(tokens):
        if token not in _VOCAB:
            raise _unknown_word_error(token, f" (token {position} of {sentence!r})")
    return tokens


def embed(tokens) -> np.ndarray:
    """The designed embeddings of ``tokens``: one row of named features (``FEATURES``) per token.

    Parameters
    ----------
    tokens : list of str
        Lower-cased tokens, as returned by :func:`tokenize`.

    Returns
    -------
    x : ndarray of shape (seq_len, d_model)
        ``d_model = len(FEATURES) = 8``; a fresh array (safe to modify).
    """
    if isinstance(tokens, str):
        raise TypeError(
            "embed takes a list of tokens, not a string; got a str. Hint: embed(tokenize(sentence))."
        )
    tokens = list(tokens)
    if not tokens:
        raise ValueError("tokens is empty; embed needs at least one token.")
    for position, token in enumerate(tokens):
        if not isinstance(token, str) or token not in _VOCAB:
            raise _unknown_word_error(str(token), f" (tokens[{position}])")
    return np.stack([_VOCAB[token] for token in tokens])  # (T, d_model)


def toy_projections(layer: int = 0) -> dict[str, np.ndarray]:
    """The hand-set projections of one layer: ``dict(w_q=..., w_k=..., w_v=...)``.

    Parameters
    ----------
    layer : {0, 1}, default 0
        0, "find the size word": applied to ``embed(tokens)`` directly.
        1, "pick the noun": applied to ``x1 = x + output of layer 0`` (see :func:`toy_forward`).

    Returns
    -------
    projections : dict of ndarray
        ``w_q`` and ``w_k`` of shape ``(d_model, d_k) = (8, 2)``, ``w_v`` of shape
        ``(d_model, d_model) = (8, 8)``. Row vectors: ``q = x @ w_q``. Fresh copies.
    """
    if layer not in (0, 1) or isinstance(layer, bool):
        raise ValueError(f"layer must be 0 or 1 (the toy model has two layers); got {layer!r}.")
    w_q = np.zeros((D_MODEL, D_K))
    w_k = np.zeros((D_MODEL, D_K))
    w_v = np.zeros((D_MODEL, D_MODEL))
    if layer == 0:
        # Column 0: a pronoun asks "where is a size word?"
        w_q[_F["pronoun"], 0] = 5.5
        w_k[_F["size word"], 0] = 1.0
        # Column 1: a size word asks "where is a noun?" (it describes one)
        w_q[_F["size word"], 1] = 2.0
        w_k[_F["noun"], 1] = 1.0
        # Value: hand over the word's size, written into the free "heard size" slot.
        w_v[_F["size"], _F["heard size"]] = 1.0
    else:
        # Column 0: a pronoun asks "where is a noun?"
        w_q[_F["pronoun"], 0] = 3.0
        w_k[_F["noun"], 0] = 1.0
        # Column 1: the size the pronoun heard decides which noun. The key is +1 for a noun that
        # goes inside things and -1 for a container, so "too big" (+) favours the thing that
        # goes in and "too small" (-) the container. THIS sign is the designed world knowledge.
        w_q[_F["heard size"], 1] = 4.0
        w_k[_F["noun"], 1] = 1.0
        w_k[_F["container"], 1] = -2.0
        # Value: hand over the whole embedding (the pronoun takes on its referent's features).
        w_v[:] = np.eye(D_MODEL)
    return {"w_q": w_q, "w_k": w_k, "w_v": w_v}


def toy_forward(x) -> tuple[np.ndarray, np.ndarray]:
    """Run both layers on embeddings ``x`` of shape (seq_len, d_model).

    Returns
    -------
    x_out : ndarray of shape (seq_len, d_model)
        The residual stream after layer 1 (``x1 + output of layer 1``).
    weights : ndarray of shape (2, 1, seq_len, seq_len)
        (layers, heads, queries, keys).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != D_MODEL:
        raise ValueError(
            f"x must have shape (seq_len, {D_MODEL}) (one row of FEATURES per token); got "
            f"x.shape={x.shape}. Hint: toy_forward(embed(tokens))."
        )
    all_weights = []
    for layer in (0, 1):
        p = toy_projections(layer)
        q, k, v = x @ p["w_q"], x @ p["w_k"], x @ p["w_v"]  # (T, d_k), (T, d_k), (T, d_model)
        out, weights = scaled_dot_product_attention(q, k, v)  # (T, d_model), (T, T)
        x = x + out  # residual connection
        all_weights.append(weights)
    return x, np.stack(all_weights)[:, None]  # (2, T, T) -> (2, 1, T, T)


def toy_attention(sentence) -> tuple[list[str], np.ndarray]:
    """Tokenize, embed and run the toy model; return the tokens and every layer's weights.

    Parameters
    ----------
    sentence : str or list of str
        A sentence (tokenized with :func:`tokenize`) or a list of known tokens.

    Returns
    -------
    tokens : list of str
    weights : ndarray of shape (2, 1, seq_len, seq_len)
        (layers, heads, queries, keys). ``weights[0, 0]`` is layer 0, "find the size word";
        ``weights[-1, 0]`` is layer 1, "pick the noun", where "it" resolves to its noun.

    Raises
    ------
    ValueError
        For an empty sentence or an unknown word (the message names it).

    Examples
    --------
    >>> tokens, weights = toy_attention(TROPHY_SENTENCE)
    >>> it = tokens.index("it")
    >>> tokens[int(weights[-1, 0, it].argmax())]
    'trophy'
    >>> tokens, weights = toy_attention(TROPHY_SMALL_SENTENCE)
    >>> tokens[int(weights[-1, 0, it].argmax())]
    'suitcase'
    """
    tokens = tokenize(sentence) if isinstance(sentence, str) else list(sentence)
    _, weights = toy_forward(embed(tokens))
    return tokens, weights
