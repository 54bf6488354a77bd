"""A pure-Python BERT WordPiece tokenizer reading ``tokenizer.json`` (for Pyodide, where the Rust
``tokenizers`` library may be absent).

It reproduces what ``tokenizers`` does for all-MiniLM-L6-v2's ``tokenizer.json`` (BertNormalizer
with lowercase and accent stripping, BertPreTokenizer, WordPiece with ``##``, the [CLS] ... [SEP]
template, truncation at the end), token for token; tests compare the two on the course's
sentences, the fixtures and fuzzed unicode text.

The steps, for one text:

1. Added tokens (``[CLS]``, ``[SEP]``, ``[MASK]``, ...) written in the text are kept whole.
2. Normalise: drop NUL, U+FFFD and control characters; whitespace becomes a space; spaces go
   around CJK ideographs; NFD, then combining marks (accents) are dropped; lowercase.
3. Split on whitespace, and every punctuation character is a word of its own.
4. WordPiece: each word is cut greedily into the longest vocabulary pieces (later pieces start
   with ``##``); a word that cannot be cut, or is longer than 100 characters, is ``[UNK]``.
5. ``[CLS]`` + pieces + ``[SEP]``, keeping the first ``max_length - 2`` pieces.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WordPieceEncoding", "WordPieceTokenizer"]

# Unicode's White_Space property, as Rust's char::is_whitespace (str.isspace adds \x1c-\x1f).
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CJK = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)  # fmt: skip
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _is_whitespace(c: str) -> bool:
    return c in _WHITESPACE


def _is_control(c: str) -> bool:
    # Cc, Cf, Co, Cs: the Rust tables have no "unassigned" (Cn) entry, so those characters stay
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in _CJK)


def _is_punctuation(c: str) -> bool:
    return c in _ASCII_PUNCT or unicodedata.category(c).startswith("P")


def normalize(text: str) -> str:
    """BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase)."""
    out = []
    for c in text:
        if c == "\0" or c == "\ufffd" or _is_control(c):
            continue
        if _is_whitespace(c):
            out.append(" ")
        elif _is_cjk(c):
            out.append(f" {c} ")
        else:
            out.append(c)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return "".join(c.lower() for c in text)  # per character: no final-sigma rule, like Rust


def pre_tokenize(text: str) -> list[str]:
    """BertPreTokenizer: split on whitespace; each punctuation character is its own word."""
    words, current = [], []
    for c in text:
        if _is_whitespace(c) or _is_punctuation(c):
            if current:
                words.append("".join(current))
                current = []
            if not _is_whitespace(c):
                words.append(c)
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return words


@dataclass
class WordPieceEncoding:
    """What :meth:`WordPieceTokenizer.encode` returns (the fields ``minilm`` uses)."""

    ids: list[int]
    tokens: list[str]
    dropped: int = 0  #: word pieces cut off by truncation
    special_tokens_mask: list[int] = field(default_factory=list)


class WordPieceTokenizer:
    """BERT WordPiece from a ``tokenizer.json``; ``encode_batch`` like ``tokenizers.Tokenizer``.

    Parameters
    ----------
    vocab : dict of str -> int
    max_length : int, default 256
        [CLS] and [SEP] included.
    """

    def __init__(self, vocab, *, unk_token="[UNK]", prefix="##", max_input_chars_per_word=100,
                 added_tokens=(), cls_token="[CLS]", sep_token="[SEP]", max_length=256):  # fmt: skip
        self.vocab = dict(vocab)
        self.inverse = {i: t for t, i in self.vocab.items()}
        self.unk_token, self.prefix = unk_token, prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.cls_token, self.sep_token = cls_token, sep_token
        self.max_length = max_length
        self.added = {t: self.vocab[t] for t in added_tokens}
        longest_first = sorted(self.added, key=len, reverse=True)
        self._added_re = (
            re.compile("|".join(map(re.escape, longest_first))) if longest_first else None
        )

    @classmethod
    def from_file(cls, path, *, max_length=256) -> WordPieceTokenizer:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        model = raw["model"]
        if (
            model.get("type") != "WordPiece"
            or raw.get("pre_tokenizer", {}).get("type") != "BertPreTokenizer"
        ):
            raise ValueError(
                f"{path} is not a BERT WordPiece tokenizer (model type {model.get('type')!r}); "
                "this pure-Python reader implements only that one."
            )
        norm = raw.get("normalizer") or {}
        if (
            norm.get("type") != "BertNormalizer"
            or not norm.get("lowercase", False)
            or norm.get("strip_accents") is False
        ):
            raise ValueError(
                f"{path}: only an uncased BertNormalizer is implemented; got {norm!r}."
            )
        return cls(
            model["vocab"],
            unk_token=model.get("unk_token", "[UNK]"),
            prefix=model.get("continuing_subword_prefix", "##"),
            max_input_chars_per_word=model.get("max_input_chars_per_word", 100),
            added_tokens=[t["content"] for t in raw.get("added_tokens", [])],
            max_length=max_length,
        )

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def pieces(self, text: str) -> list[str]:
        """The word pieces of ``text``, without [CLS]/[SEP] and without truncation."""
        out, last = [], 0
        spans = list(self._added_re.finditer(text)) if self._added_re else []
        for m in [*spans, None]:
            chunk = text[last : m.start()] if m else text[last:]
            for word in pre_tokenize(normalize(chunk)):
                out.extend(self._wordpiece(word))
            if m:
                out.append(m.group())
                last = m.end()
        return out

    def encode(self, text: str) -> WordPieceEncoding:
        pieces = self.pieces(text)
        keep = self.max_length - 2
        dropped = max(0, len(pieces) - keep)
        tokens = [self.cls_token, *pieces[:keep], self.sep_token]
        mask = [1] + [1 if t in self.added else 0 for t in pieces[:keep]] + [1]
        return WordPieceEncoding([self.vocab[t] for t in tokens], tokens, dropped, mask)

    def encode_batch(self, texts) -> list[WordPieceEncoding]:
        return [self.encode(t) for t in texts]
