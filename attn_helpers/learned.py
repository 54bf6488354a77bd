"""Attention is learned: a tiny transformer, trained in numpy, that works out what "it" refers to.

    "The trophy didn't fit in the suitcase because it was too big."   (it = the trophy)
    "The trophy didn't fit in the suitcase because it was too small." (it = the suitcase)

The data are synthetic minimal pairs built from a few templates ("The X didn't fit in the Y
because it was too big/small.", "I could not put the X in the Y because ...", ...) with many nouns,
each of which can be the object (X, the thing that goes in) or the container (Y). "Too big", "too
long", ... point at the object; "too small", "too short", ... at the container. Some pairs of
nouns are held out (never seen together in training); "trophy" and "suitcase" are such a pair, and
the course's own sentence pair is in no generated data set at all. Every training template names
the object first; ``REVERSED_TEMPLATES`` (container first) are never trained on and show the
limits of what the model learns.

The model (forward and backward written by hand in ``_learned_backprop``): token + position
embeddings, self-attention layer 1 with a residual (lets "it" hear the size word and the nouns hear
their role), self-attention layer 2 *without* a residual and with values taken from the token
embeddings (so the answer has to pass through its attention weights), and a readout at "it" that
compares what "it" gathered with the two nouns' value vectors. Adam, seeded, a tqdm progress bar;
300 steps take a few seconds.

>>> model = train_pronoun_model(steps=300, seed=0, progress=False)  # doctest: +SKIP
>>> model.predict("The trophy didn't fit in the suitcase because it was too big.")  # doctest: +SKIP
'trophy'
>>> tokens, weights = model.attention(SOURCE_PAIR[1])  # doctest: +SKIP
>>> weights.shape  # (layers, heads, seq_len, seq_len)  # doctest: +SKIP
(2, 2, 13, 13)
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field

import numpy as np

from . import _learned_backprop as bp
from ._validation import check_heads, check_positive_int

__all__ = [
    "ADJECTIVE_PAIRS",
    "NOUNS",
    "SOURCE_PAIR",
    "TEMPLATES",
    "REVERSED_TEMPLATES",
    "PronounDataset",
    "PronounModel",
    "gradient_check",
    "make_pronoun_dataset",
    "tokenize",
    "train_pronoun_model",
]

NOUNS = (
    "trophy", "suitcase", "box", "bag", "ball", "book", "laptop", "guitar", "cake", "pot",
    "jar", "drawer", "bottle", "vase", "crate", "basket", "backpack", "bucket", "shoe", "hat",
    "bowl", "envelope", "letter", "chair", "lamp", "toy", "pillow", "blanket", "painting", "cup",
)  # fmt: skip
# (word that points at the object, word that points at the container)
ADJECTIVE_PAIRS = (("big", "small"), ("large", "tiny"), ("long", "short"), ("wide", "narrow"))
# {obj} goes inside {cont}. In every training template the object comes first.
TEMPLATES = (
    "the {obj} didn't fit in the {cont} because it was too {adj} .",
    "the {obj} did not fit into the {cont} because it was too {adj} .",
    "i could not put the {obj} in the {cont} because it was too {adj} .",
    "she could not fit the {obj} into the {cont} because it was too {adj} .",
    "the {obj} would not go in the {cont} because it was too {adj} .",
)
# Container first: never in training (split="reversed"), to show what the model did NOT learn.
REVERSED_TEMPLATES = (
    "the {cont} couldn't hold the {obj} because it was too {adj} .",
    "the {cont} could not take the {obj} because it was too {adj} .",
)
SOURCE_PAIR = (
    "The trophy didn't fit in the suitcase because it was too big.",
    "The trophy didn't fit in the suitcase because it was too small.",
)
PAD = "<pad>"
_OBJECT_WORDS = {big for big, _ in ADJECTIVE_PAIRS}
_ADJECTIVES = tuple(w for pair in ADJECTIVE_PAIRS for w in pair)
_TEMPLATE_TOKENS = tuple(t.split() for t in TEMPLATES + REVERSED_TEMPLATES)
_TEMPLATE_WORDS = sorted({w for t in _TEMPLATE_TOKENS for w in t if not w.startswith("{")})
VOCAB = (PAD, *_TEMPLATE_WORDS, *NOUNS, *_ADJECTIVES)
_TRAINED_WORDS = {w for t in TEMPLATES for w in t.split()}
_UNTRAINED_WORDS = tuple(w for w in _TEMPLATE_WORDS if w not in _TRAINED_WORDS)  # only in reversed
_INDEX = {w: i for i, w in enumerate(VOCAB)}
_SLOT_WORDS = {"{obj}": NOUNS, "{cont}": NOUNS, "{adj}": _ADJECTIVES}
MAX_LEN = max(len(t) for t in _TEMPLATE_TOKENS)
_HELD_OUT_FRACTION, _SPLIT_SEED = 0.2, 2023  # the split of noun pairs never changes


def tokenize(sentence: str) -> list[str]:
    """Lower-case words and the full stop; commas are dropped.

    ``"The trophy didn't fit."`` -> ``['the', 'trophy', "didn't", 'fit', '.']``.
    """
    if not isinstance(sentence, str):
        raise TypeError(
            f"sentence must be a string; got {type(sentence).__name__}. Hint: for a list of "
            "sentences use model.predict_batch(sentences)."
        )
    text = sentence.lower().replace("\u2019", "'")
    tokens = [t for t in re.findall(r"[a-z]+(?:'[a-z]+)?|[^\sa-z]", text) if t != ","]
    if tokens and tokens[-1] != ".":
        tokens.append(".")  # the full stop is optional
    return tokens


def _parse(sentence: str):
    """Return (tokens, it_pos, (first_noun, second_noun), referent) or raise a teaching error."""
    tokens = tokenize(sentence)  # checks that sentence is a string
    return _parse_tokens(sentence, tuple(tokens))


@functools.lru_cache(maxsize=65536)
def _parse_tokens(sentence: str, tokens: tuple):
    for word in tokens:
        if word not in _INDEX or word == PAD:
            close = difflib.get_close_matches(word, VOCAB[1:], n=3)
            did_you_mean = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"unknown word {word!r} in {sentence!r}: the model only knows {len(VOCAB) - 1} "
                f"words, those of its sentence templates plus the nouns and size words (the "
                f"{len(_UNTRAINED_WORDS)} that occur only in the container-first templates, "
                f"{', '.join(map(repr, _UNTRAINED_WORDS))}, were never trained)."
                f"{did_you_mean} Hint: change only the two nouns "
                f"(known nouns: {', '.join(NOUNS)}) and the size word ({', '.join(_ADJECTIVES)})."
            )
    for pattern in _TEMPLATE_TOKENS:
        if len(pattern) != len(tokens):
            continue
        slots = {}
        for want, word in zip(pattern, tokens):
            if word in _SLOT_WORDS.get(want, ()):
                slots[want] = word
            elif want != word:
                break
        else:
            if slots["{obj}"] == slots["{cont}"]:
                raise ValueError(
                    f"{sentence!r} uses {slots['{obj}']!r} for both nouns, so 'it' is ambiguous. "
                    "Hint: use two different nouns."
                )
            nouns = [w for w, p in zip(tokens, pattern) if p in ("{obj}", "{cont}")]
            referent = slots["{obj}"] if slots["{adj}"] in _OBJECT_WORDS else slots["{cont}"]
            return tokens, pattern.index("it"), tuple(nouns), referent
    examples = "\n".join(
        "  " + t.format(obj="X", cont="Y", adj="big") for t in TEMPLATES + REVERSED_TEMPLATES
    )
    raise ValueError(
        f"{sentence!r} does not fit any of the sentence templates the model knows (the last "
        f"{len(REVERSED_TEMPLATES)} are never trained on):\n"
        f"{examples}\nHint: keep a template's words and change only the nouns X, Y and the size "
        f"word (one of {', '.join(_ADJECTIVES)})."
    )


@dataclass(frozen=True)
class PronounDataset:
    """Minimal pairs: ``sentences[2*i]`` and ``sentences[2*i + 1]`` differ only in the size word.

    ``referents[j]`` is the noun "it" refers to in ``sentences[j]``; ``others[j]`` is the other noun.
    """

    sentences: list[str]
    referents: list[str]
    others: list[str]
    split: str

    def __len__(self) -> int:
        return len(self.sentences)


def _noun_pairs(split: str) -> list[tuple[str, str]]:
    """The unordered noun pairs of a split (fixed for ever by ``_SPLIT_SEED``)."""
    pairs = [(a, b) for i, a in enumerate(NOUNS) for b in NOUNS[i + 1 :]]
    rng = np.random.default_rng(_SPLIT_SEED)
    held_out = set(rng.permutation(len(pairs))[: round(_HELD_OUT_FRACTION * len(pairs))].tolist())
    held_out.add(pairs.index(("trophy", "suitcase")))
    return [p for i, p in enumerate(pairs) if (i in held_out) == (split == "test")]


def make_pronoun_dataset(n, *, seed, split):
    """Generate ``n`` minimal pairs (``2 * n`` sentences) from the templates.

    Parameters
    ----------
    n : int
        Number of minimal pairs. Each pair is one template, object, container and adjective pair,
        once with the "big" word (it = the object) and once with the "small" word (it = the
        container). Pairs are drawn without repetition (at most all combinations of the split).
    seed : int
        Seeds the draw.
    split : {"train", "test", "reversed"}
        ``"test"`` uses only the held-out noun pairs (about 20 %, always including trophy and
        suitcase); ``"train"`` only the others. :data:`SOURCE_PAIR` is in neither.
        ``"reversed"`` uses the held-out noun pairs in :data:`REVERSED_TEMPLATES` (container
        first), which no model is ever trained on.

    Returns
    -------
    PronounDataset
    """
    n = check_positive_int(n, "n")
    if split not in ("train", "test", "reversed"):
        raise ValueError(f"split must be 'train', 'test' or 'reversed'; got {split!r}.")
    templates = REVERSED_TEMPLATES if split == "reversed" else TEMPLATES
    combos = [
        (template, obj, cont, adjs)
        for a, b in _noun_pairs("train" if split == "train" else "test")
        for obj, cont in ((a, b), (b, a))
        for template in templates
        for adjs in ADJECTIVE_PAIRS
        if not (
            template == TEMPLATES[0] and (obj, cont) == ("trophy", "suitcase") and adjs[0] == "big"
        )
    ]
    if n > len(combos):
        raise ValueError(f"n={n} is more than the {len(combos)} distinct {split} pairs; use fewer.")
    rng = np.random.default_rng(seed)
    sentences, referents, others = [], [], []
    for i in rng.choice(len(combos), size=n, replace=False):
        template, obj, cont, adjs = combos[i]
        for adj, referent, other in ((adjs[0], obj, cont), (adjs[1], cont, obj)):
            text = template.format(obj=obj, cont=cont, adj=adj).replace(" .", ".")
            sentences.append(text[0].upper() + text[1:])
            referents.append(referent)
            others.append(other)
    return PronounDataset(sentences, referents, others, split)


def _encode(sentences):
    """Token ids (B, T) padded with 0, lengths (B,), it_pos (B,), candidate ids (B, 2), parses."""
    parses = [_parse(s) for s in sentences]
    seq_len = max(len(p[0]) for p in parses)
    ids = np.zeros((len(parses), seq_len), dtype=np.int64)
    for row, (tokens, *_rest) in enumerate(parses):
        ids[row, : len(tokens)] = [_INDEX[w] for w in tokens]
    lengths = np.array([len(p[0]) for p in parses])
    it_pos = np.array([p[1] for p in parses])
    candidates = np.array([[_INDEX[w] for w in p[2]] for p in parses])  # nouns in sentence order
    return ids, lengths, it_pos, candidates, parses


@dataclass
class PronounModel:
    """A trained (or untrained) pronoun model. Build it with :func:`train_pronoun_model`.

    Attributes
    ----------
    params : dict of str -> ndarray
        The weights (float64). ``tok_emb`` (vocab, d_model), ``pos_emb`` (max_len, d_model),
        ``w_q1, w_k1, w_v1, w_o1, w_q2, w_k2, w_v2`` (d_model, d_model).
    num_heads : int
    history : dict
        ``step`` and ``loss`` for every step; ``eval_step``, ``heldout_accuracy`` every few steps.
    snapshots : dict of int -> PronounModel
        Copies of the model at the steps asked for with ``snapshot_steps``.
    """

    params: dict
    num_heads: int
    history: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    num_layers: int = 2
    residual_last: bool = False

    def _forward(self, sentences, *, uniform_attention=False, uniform_heads=()):
        uniform_heads = self._check_uniform_heads(uniform_heads)
        ids, lengths, it_pos, candidates, parses = _encode(sentences)
        logits, cache = bp.forward(
            self.params, ids, lengths, it_pos, candidates, self.num_heads,
            uniform_last=uniform_attention, residual_last=self.residual_last,
            uniform_heads=uniform_heads,
        )  # fmt: skip
        return logits, cache, parses

    def _check_uniform_heads(self, uniform_heads):
        pairs = list(uniform_heads or ())
        for pair in pairs:
            ok = (
                isinstance(pair, tuple | list)
                and len(pair) == 2
                and all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in pair)
                and pair[0] in (1, 2)
                and 0 <= pair[1] < self.num_heads
            )
            if not ok:
                raise ValueError(
                    f"uniform_heads must list (layer, head) pairs with layer 1 or 2 and head from 0 "
                    f"to {self.num_heads - 1}; got {pair!r} in {uniform_heads!r}. Hint: "
                    "uniform_heads=[(2, 0)] makes head 0 of layer 2 uniform."
                )
        return tuple((int(a), int(b)) for a, b in pairs)

    def predict(self, sentence: str, *, uniform_attention: bool = False, uniform_heads=()) -> str:
        """The noun that "it" refers to, according to the model.

        ``uniform_attention=True`` is the ablation: layer 2's weights become uniform.
        ``uniform_heads=[(layer, head), ...]`` ablates single heads instead (layers 1 and 2,
        heads from 0): only their weights become uniform over the sentence's tokens.
        """
        logits, _, parses = self._forward(
            [sentence], uniform_attention=uniform_attention, uniform_heads=uniform_heads
        )
        return parses[0][2][int(np.argmax(logits[0]))]

    def predict_batch(
        self, sentences, *, uniform_attention: bool = False, uniform_heads=()
    ) -> list[str]:
        """:meth:`predict` for a list of sentences at once (one padded batch, much faster)."""
        logits, _, parses = self._forward(
            list(sentences), uniform_attention=uniform_attention, uniform_heads=uniform_heads
        )
        return [p[2][i] for p, i in zip(parses, np.argmax(logits, axis=1))]

    def attention(self, sentence: str):
        """Return ``(tokens, weights)``, weights of shape (num_layers, num_heads, seq_len, seq_len)."""
        _, cache, parses = self._forward([sentence])
        weights = np.stack([cache["weights1"][0], cache["weights2"][0]])  # (layers, h, T, T)
        return list(parses[0][0]), weights

    def accuracy(
        self, dataset: PronounDataset, *, uniform_attention: bool = False, uniform_heads=()
    ) -> float:
        """Fraction of ``dataset``'s sentences whose referent the model predicts.

        ``uniform_attention`` and ``uniform_heads`` are the ablations of :meth:`predict`.
        """
        predicted = self.predict_batch(
            dataset.sentences, uniform_attention=uniform_attention, uniform_heads=uniform_heads
        )
        return float(np.mean([p == r for p, r in zip(predicted, dataset.referents)]))

    def referent_attention(self, dataset: PronounDataset, *, head=None) -> np.ndarray:
        """Layer 2's attention from "it" on (referent, other noun), shape (len(dataset), 2).

        ``head=None`` averages over heads; an int picks one head.
        """
        _, cache, parses = self._forward(dataset.sentences)
        w = cache["weights2"]  # (B, h, T, T)
        w = w.mean(axis=1) if head is None else w[:, head]  # (B, T, T)
        out = np.empty((len(dataset), 2))
        for row, (tokens, it_pos, _nouns, _ref) in enumerate(parses):
            ref, other = dataset.referents[row], dataset.others[row]
            # The nouns are distinct, so each appears once in the sentence.
            out[row] = w[row, it_pos, tokens.index(ref)], w[row, it_pos, tokens.index(other)]
        return out

    def pair_attention_score(self, dataset: PronounDataset, *, head=None) -> float:
        """Fraction of minimal pairs where "it" attends more to the correct noun in BOTH sentences."""
        att = self.referent_attention(dataset, head=head)
        right = (att[:, 0] > att[:, 1]).reshape(-1, 2)  # (pairs, 2): big and small sentence
        return float(right.all(axis=1).mean())


def train_pronoun_model(
    *, steps, seed, progress=True, d_model=16, num_heads=2, lr=0.005, batch_size=64,
    train_pairs=2000, eval_every=25, snapshot_steps=(), residual_last=False,
):  # fmt: skip
    """Train the pronoun model with Adam on minibatches of the training split; seeded.

    Parameters
    ----------
    steps : int
        Number of Adam steps (``0`` returns the untrained model).
    seed : int
        Seeds the initial weights, the training data and the minibatches.
    progress : bool
        Show a tqdm progress bar.
    d_model, num_heads, lr, batch_size, train_pairs
        Model width, heads per layer, Adam's learning rate, sentences per step, and the number
        of training minimal pairs.
    eval_every : int
        Measure the held-out accuracy (on 200 held-out pairs) every this many steps.
    snapshot_steps : iterable of int
        Keep a copy of the model at these steps (0 = before training) in ``model.snapshots``.
    residual_last : bool
        Add a residual connection around layer 2, the design this model avoids: the answer can
        then bypass layer 2's attention (notebook 06 compares the two).

    Returns
    -------
    PronounModel
    """
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0; got {steps!r}.")
    check_heads(d_model, num_heads)
    rng = np.random.default_rng(seed)
    params = bp.init_params(len(VOCAB), MAX_LEN, d_model, rng)
    model = PronounModel(params, num_heads, residual_last=residual_last)
    train = make_pronoun_dataset(train_pairs, seed=seed, split="train")
    heldout = make_pronoun_dataset(200, seed=seed + 1, split="test")
    ids, lengths, it_pos, candidates, parses = _encode(train.sentences)
    target = np.array([p[2].index(r) for p, r in zip(parses, train.referents)])  # 0 or 1
    history = {"step": [], "loss": [], "eval_step": [], "heldout_accuracy": []}
    snapshot_steps = set(snapshot_steps)
    state = {}

    def record(step):
        if step in snapshot_steps:
            snap = {k: v.copy() for k, v in params.items()}
            model.snapshots[step] = PronounModel(snap, num_heads, residual_last=residual_last)
        if step % eval_every == 0 or step == steps:
            history["eval_step"].append(step)
            history["heldout_accuracy"].append(model.accuracy(heldout))

    record(0)
    bar = range(1, steps + 1)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc="training", unit="step")
    for step in bar:
        batch = rng.choice(len(target), size=batch_size, replace=False)
        logits, cache = bp.forward(
            params, ids[batch], lengths[batch], it_pos[batch], candidates[batch], num_heads,
            residual_last=residual_last,
        )  # fmt: skip
        loss, probs = bp.loss_and_probs(logits, target[batch])
        grads = bp.backward(params, cache, probs, target[batch], num_heads)
        bp.adam_step(params, grads, state, lr=lr)
        history["step"].append(step)
        history["loss"].append(loss)
        record(step)
        if progress and step % eval_every == 0:
            bar.set_postfix(
                loss=f"{loss:.3f}", heldout_acc=f"{history['heldout_accuracy'][-1]:.2f}"
            )
    model.history = history
    return model


def gradient_check(
    *, seed=0, num_sentences=4, d_model=8, num_heads=2, eps=1e-6, residual_last=False
):
    """Compare the hand-written gradients with central finite differences, parameter by parameter.

    Returns
    -------
    dict of str -> float
        For each parameter, the relative error ``|g - g_num| / (|g| + |g_num|)`` (vector norms
        over all its entries). Below 1e-6 means the backward pass is right.
    """
    rng = np.random.default_rng(seed)
    params = bp.init_params(len(VOCAB), MAX_LEN, d_model, rng)
    data = make_pronoun_dataset(num_sentences // 2 + num_sentences % 2, seed=seed, split="train")
    ids, lengths, it_pos, candidates, parses = _encode(data.sentences)
    target = np.array([p[2].index(r) for p, r in zip(parses, data.referents)])
    batch = ids, lengths, it_pos, candidates

    def loss_of(p):
        logits, _ = bp.forward(p, *batch, num_heads, residual_last=residual_last)
        return bp.loss_and_probs(logits, target)[0]

    logits, cache = bp.forward(params, *batch, num_heads, residual_last=residual_last)
    grads = bp.backward(params, cache, bp.loss_and_probs(logits, target)[1], target, num_heads)
    errors = {}
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + eps
            plus = loss_of(params)
            value[idx] = old - eps
            minus = loss_of(params)
            value[idx] = old
            numeric[idx] = (plus - minus) / (2 * eps)
        denom = np.linalg.norm(grads[name]) + np.linalg.norm(numeric)
        errors[name] = float(np.linalg.norm(grads[name] - numeric) / denom) if denom else 0.0
    return errors
