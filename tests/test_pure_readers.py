"""Issue 15 item 2: the pure-Python WordPiece tokenizer and numpy safetensors reader give exactly
what the ``tokenizers`` and ``safetensors`` libraries give; threads degrade gracefully."""

from __future__ import annotations

import ast
import importlib.util
import json
import struct
import threading
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attn_helpers import _parallel, minilm, toy
from attn_helpers._safetensors import load_file
from attn_helpers._wordpiece import WordPieceTokenizer
from attn_helpers.chunked import chunked_attention

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
needs_model = pytest.mark.skipif(
    importlib.util.find_spec(minilm.MODEL_PACKAGE) is None,
    reason=f"the MiniLM weights are not installed ({minilm.MODEL_PACKAGE_PIN})",
)


def _course_texts() -> list[str]:
    """Every string literal in the notebooks' code cells and toy.py, and the fixture sentences."""
    texts = {toy.TROPHY_SENTENCE, toy.TROPHY_SMALL_SENTENCE}
    sources = [(ROOT / "attn_helpers" / "toy.py").read_text(encoding="utf-8")]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        sources += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:  # a cell with IPython magics
            continue
        texts |= {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
    for name in ("batch", "edge"):
        texts |= {str(s) for s in np.load(FIXTURES / f"minilm_{name}.npz")["sentences"]}
    return sorted(texts)


@pytest.fixture(scope="module")
def tokenizers_pair():
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer

    if importlib.util.find_spec(minilm.MODEL_PACKAGE) is None:
        pytest.skip("the MiniLM weights are not installed")
    path = minilm.model_dir() / "tokenizer.json"
    ref = Tokenizer.from_file(str(path))
    ref.no_padding()
    ref.enable_truncation(max_length=minilm.MAX_SEQ_LEN)
    return ref, WordPieceTokenizer.from_file(path, max_length=minilm.MAX_SEQ_LEN)


def _same(pair, text):
    ref, pure = pair
    a, b = ref.encode(text), pure.encode(text)
    assert b.tokens == a.tokens, repr(text)
    assert b.ids == a.ids, repr(text)
    assert b.dropped == minilm._dropped_pieces(a), repr(text)


def test_wordpiece_matches_tokenizers_on_every_course_and_fixture_text(tokenizers_pair):
    texts = _course_texts()
    assert len(texts) > 100  # the notebooks' strings, toy.py's and the 14 fixture sentences
    for text in texts:
        _same(tokenizers_pair, text)


@pytest.mark.parametrize(
    "text",
    [
        "hello [MASK] world[SEP]x",  # added tokens written in the text stay whole
        "ΑΣ ΣΑΣ İstanbul ǅungla ß ﬁ",  # per-character lowercasing, no final sigma
        "x\x0by\x1cz\x85w\u2028v\u00a0u",  # controls dropped, White_Space becomes a split
        "a\u0378b \U000e0080 \U0010fffd",  # unassigned and private-use: kept (Cn) or dropped (Co)
        "$5+3=8 ^_^ ~`| «quoted» — dash… ¿qué?",  # ASCII symbols and Unicode punctuation
        "東京は日本の首都です 𠀀𪜀",  # CJK ideographs split, including the extension planes
        "a" * 101 + " " + "a" * 100,  # longer than max_input_chars_per_word: [UNK]
        "antidisestablishmentarianism " * 3 + "zzqxj🤖",  # ## pieces, unknown word
        "word " * 300,  # truncation and its count
        "",
    ],
)
def test_wordpiece_matches_tokenizers_on_hard_cases(tokenizers_pair, text):
    _same(tokenizers_pair, text)


_alphabet = st.one_of(
    st.sampled_from(list("aeiouxyz AEIOU.,!?'\"-()[]#@$%^&*_+=~`|\\/<>\t\n\r\x00")),
    st.sampled_from(
        list("éèêëàâäôöûüçñÅØßæœ́̈̀ΑΣσςИЖ中文東京한국ㄱ🍕😀🏽\u200b\u00ad\ufffd\u3000\u2014«»…")
    ),
    # Any character whose Unicode category has not changed since Unicode 3.2: the Rust library's
    # character tables are older than Python's, so characters assigned since differ (see
    # _wordpiece's docstring and the issue-15 note for the full scan).
    st.characters(codec="utf-8", exclude_categories=("Cs",)).filter(
        lambda c: unicodedata.category(c) == unicodedata.ucd_3_2_0.category(c) != "Cn"
    ),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet=_alphabet, max_size=60))
def test_wordpiece_matches_tokenizers_on_fuzzed_unicode(tokenizers_pair, text):
    _same(tokenizers_pair, text)


def test_wordpiece_rejects_a_tokenizer_it_does_not_implement(tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {}}}))
    with pytest.raises(ValueError, match="not a BERT WordPiece tokenizer"):
        WordPieceTokenizer.from_file(tmp_path / "tokenizer.json")


# --------------------------------------------------------------------------- safetensors


@needs_model
def test_safetensors_reader_matches_the_library_on_the_model_file():
    lib = pytest.importorskip("safetensors.numpy")
    path = minilm.model_dir() / "model.safetensors"
    ours, theirs = load_file(path), lib.load_file(str(path))
    assert ours.keys() == theirs.keys()
    for name, ref in theirs.items():
        assert ours[name].dtype == ref.dtype, name
        assert ours[name].shape == ref.shape, name
        np.testing.assert_array_equal(ours[name], ref, err_msg=name)


def _write(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_safetensors_reader_round_trips_small_tensors(tmp_path):
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([1, -2], dtype="<i8")
    header = {
        "__metadata__": {"format": "np"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
    }
    out = load_file(_write(tmp_path / "x.safetensors", header, a.tobytes() + b.tobytes()))
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["b"], b)
    out["a"][0, 0] = 5  # writable, like the library's arrays


@pytest.mark.parametrize(
    ("header", "data", "expected"),
    [
        (None, b"", "fewer than the 8-byte header length"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "outside"),
        (
            {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
            b"\0" * 8,
            "needs 12 bytes",
        ),
        ({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0" * 2, "dtype 'BF16'"),
        ({"a": {"dtype": "F32", "shape": [1]}}, b"", "needs dtype, shape and data_offsets"),
        ([1, 2], b"", "expected an object"),
    ],
)
def test_safetensors_reader_names_what_is_wrong(tmp_path, header, data, expected):
    path = tmp_path / "bad.safetensors"
    if header is None:
        path.write_bytes(b"\1\2")
    else:
        _write(path, header, data)
    with pytest.raises(ValueError, match=expected):
        load_file(path)


def test_safetensors_reader_refuses_a_header_longer_than_the_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 10**6) + b"{}")
    with pytest.raises(ValueError, match="header claims 1000000 bytes"):
        load_file(path)


# --------------------------------------------------------------------------- both load paths


@needs_model
def test_library_and_pure_loaders_give_identical_results(tmp_path):
    pytest.importorskip("tokenizers")
    lib, pure = minilm.load_minilm(pure=False), minilm.load_minilm(pure=True)
    assert type(pure._tokenizer).__name__ == "WordPieceTokenizer"
    assert type(lib._tokenizer).__name__ == "Tokenizer"
    texts = _course_texts()[:40] + [toy.TROPHY_SENTENCE]
    t_lib, ids_lib, len_lib = lib.tokenize(texts)
    t_pure, ids_pure, len_pure = pure.tokenize(texts)
    assert t_pure == t_lib
    np.testing.assert_array_equal(ids_pure, ids_lib)
    np.testing.assert_array_equal(len_pure, len_lib)
    np.testing.assert_array_equal(pure.encode(texts), lib.encode(texts))
    np.testing.assert_array_equal(
        pure.attend(toy.TROPHY_SENTENCE)[1], lib.attend(toy.TROPHY_SENTENCE)[1]
    )
    with pytest.warns(minilm.TruncationWarning, match="text 0: 46"):
        pure.attend("word " * 300)


@needs_model
def test_pure_path_is_chosen_when_the_libraries_are_missing(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "tokenizers" else real(n, *a)
    )
    assert type(minilm.load_minilm()._tokenizer).__name__ == "WordPieceTokenizer"


# --------------------------------------------------------------------------- threads


def test_chunked_attention_runs_when_threads_cannot_start(monkeypatch):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 64, 8)) for _ in range(3))
    expected = chunked_attention(q, k, v, chunk_size=16, workers=1)

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = chunked_attention(q, k, v, chunk_size=16, workers=4)
    np.testing.assert_array_equal(
        got[0] if isinstance(got, tuple) else got,
        expected[0] if isinstance(expected, tuple) else expected,
    )


def test_threads_failing_after_some_started_still_give_every_item(monkeypatch):
    started, real_start = [], threading.Thread.start

    def second_fails(self):
        if started:
            raise RuntimeError("can't start new thread")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", second_fails)
    seen = []
    _parallel.run_in_threads(lambda: seen.append, list(range(10)), 3)
    assert sorted(seen) == list(range(10))


def test_missing_threadpoolctl_is_no_crash(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_threadpoolctl(name, *args, **kwargs):
        if name == "threadpoolctl":
            raise ImportError("No module named 'threadpoolctl'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_threadpoolctl)
    seen = []
    with _parallel.single_threaded_blas():
        _parallel.run_in_threads(lambda: seen.append, list(range(5)), 2)
    assert sorted(seen) == list(range(5))


# --------------------------------------------------------------------------- packaged data


def test_packaged_reference_is_the_fixture():
    reference, versions = minilm.reference_outputs()
    fixture = np.load(FIXTURES / "minilm_batch.npz")
    assert sorted(reference) == sorted(fixture.files)
    for key in fixture.files:
        np.testing.assert_array_equal(reference[key], fixture[key], err_msg=key)
    assert versions == json.loads((FIXTURES / "minilm_versions.json").read_text())


def test_notebook_08_does_not_read_the_tests_folder():
    cells = json.loads((ROOT / "notebooks" / "08_real_model.ipynb").read_text(encoding="utf-8"))
    code = "".join("".join(c["source"]) for c in cells["cells"] if c["cell_type"] == "code")
    assert "fixtures" not in code
    assert '"tests"' not in code
    assert "reference_outputs()" in code


def test_pyproject_ships_the_data_files():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'attn_helpers = ["data/*.npz", "data/*.json"]' in text
