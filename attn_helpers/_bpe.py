"""A pure-Python byte-level BPE tokenizer for SmolLM2 (for Pyodide, where the Rust ``tokenizers``
library may be absent).

It reproduces llama.cpp's ``smollm`` pre-tokenizer and byte-level BPE (and so the ``tokenizers``
pipeline :mod:`attn_helpers.smollm` builds from the same vocabulary and merges), id for id; tests
compare the two on the course's sentences and on fuzzed unicode text.

The steps, for one text:

1. Special tokens written in the text (``<|im_start|>``, ``<|im_end|>``, ...) are kept whole.
2. Every digit (Unicode category N) is a piece of its own.
3. The rest is cut by the GPT-2 pattern
   ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``
   (written out by hand below: Python's ``re`` has no ``\\p{L}``).
4. Each piece becomes its UTF-8 bytes, each byte one printable character (GPT-2's
   ``bytes_to_unicode``: a space is ``Ġ``, a newline ``Ċ``), and the merges are applied, lowest rank
   first, until no pair of neighbours has a merge.
5. Decoding maps the characters back to bytes and the bytes back to text.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["ByteLevelBPE", "bytes_to_unicode", "pre_tokenize"]

# Unicode's White_Space property (what \s means in Oniguruma and in llama.cpp's regex).
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def _kind(c: str) -> str:
    """'s' whitespace, 'L' letter, 'N' number, 'o' anything else."""
    if c in _WHITESPACE:
        return "s"
    cat = unicodedata.category(c)[0]
    return cat if cat in "LN" else "o"


def _gpt2_split(text: str) -> list[str]:
    """The GPT-2 pattern, alternative by alternative, as a regex engine would try them."""
    pieces, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":  # 's|'t|'re|'ve|'m|'ll|'d
            hit = next((s for s in _CONTRACTIONS if text.startswith(s, i + 1)), None)
            if hit is not None:
                pieces.append(text[i : i + 1 + len(hit)])
                i += 1 + len(hit)
                continue
        start = i + 1 if c == " " and i + 1 < n else i  # the optional space of " ?X+"
        kind = _kind(text[start])
        if kind != "s":  # " ?\p{L}+", " ?\p{N}+" or " ?[^\s\p{L}\p{N}]+": one run of one kind
            j = start
            while j < n and _kind(text[j]) == kind:
                j += 1
            pieces.append(text[i:j])
            i = j
            continue
        # \s+(?!\S) then \s+
        j = i
        while j < n and text[j] in _WHITESPACE:
            j += 1
        if j == i:  # cannot happen: every character is one of the kinds above
            raise AssertionError(f"unmatched character {c!r}")
        if j < n and j - 1 > i:
            j -= 1  # leave the last space to the word that follows
        pieces.append(text[i:j])
        i = j
    return pieces


def pre_tokenize(text: str) -> list[str]:
    """llama.cpp's ``smollm`` pre-tokenizer: each digit alone, then the GPT-2 pattern on the rest."""
    pieces, run = [], []
    for c in text:
        if unicodedata.category(c)[0] == "N":
            if run:
                pieces.extend(_gpt2_split("".join(run)))
                run = []
            pieces.append(c)
        else:
            run.append(c)
    if run:
        pieces.extend(_gpt2_split("".join(run)))
    return pieces


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character (printable bytes map to themselves)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class ByteLevelBPE:
    """Byte-level BPE over a vocabulary (list of token strings) and merges (``"a b"`` strings).

    Parameters
    ----------
    tokens : list of str
        The vocabulary; the id of a token is its index.
    merges : list of str
        ``"left right"`` pairs, highest priority first.
    special : dict of str -> int
        Special tokens recognised whole in the text, with their ids.
    """

    def __init__(self, tokens, merges, special):
        self.tokens = list(tokens)
        self.vocab = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.special = dict(special)
        self._byte = bytes_to_unicode()
        self._unbyte = {c: b for b, c in self._byte.items()}
        self._cache: dict[str, list[int]] = {}

    def _bpe(self, piece: str) -> list[int]:
        if piece in self._cache:
            return self._cache[piece]
        word = [self._byte[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            pairs = [(self.ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank = min((r for r, _ in pairs if r is not None), default=None)
            if rank is None:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and self.ranks.get((word[i], word[i + 1])) == rank:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids = [self.vocab[w] for w in word]
        if len(self._cache) < 50_000:
            self._cache[piece] = ids
        return ids

    def _split_special(self, text: str) -> list[tuple[str, bool]]:
        """Cut ``text`` at the special tokens it contains: (segment, is_special) pairs."""
        out, i, start = [], 0, 0
        names = sorted(self.special, key=len, reverse=True)
        while i < len(text):
            hit = (
                next((s for s in names if text.startswith(s, i)), None) if text[i] == "<" else None
            )
            if hit is None:
                i += 1
                continue
            if i > start:
                out.append((text[start:i], False))
            out.append((hit, True))
            i += len(hit)
            start = i
        if start < len(text):
            out.append((text[start:], False))
        return out

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens written in it kept whole)."""
        ids = []
        for segment, is_special in self._split_special(text):
            if is_special:
                ids.append(self.special[segment])
            else:
                for piece in pre_tokenize(segment):
                    ids.extend(self._bpe(piece))
        return ids

    def decode(self, ids) -> str:
        """The text of ``ids`` (invalid UTF-8, from a cut multi-byte character, becomes U+FFFD)."""
        data = bytearray()
        for i in ids:
            token = self.tokens[int(i)]
            if token in self.special:
                data.extend(token.encode("utf-8"))
            else:
                data.extend(self._unbyte[c] for c in token)
        return data.decode("utf-8", errors="replace")
