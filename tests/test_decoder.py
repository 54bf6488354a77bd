"""The tiny causal LM and its KV cache (attn_helpers.decoder, notebook 09)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attn_helpers import decoder
from attn_helpers.decoder import _loss_and_grads


@pytest.fixture(scope="module")
def model():
    return decoder.train_causal_lm(steps=300, seed=0)


def test_training_is_seeded_and_learns(model):
    again = decoder.train_causal_lm(steps=300, seed=0)
    for name in decoder.PARAM_NAMES:
        np.testing.assert_array_equal(model.params[name], again.params[name])
    loss = model.history["loss"]
    assert loss[0] > 4.0  # about log(vocab): knows nothing
    assert np.mean(loss[-20:]) < 0.9  # the templates are learned (the nouns stay a guess)


def test_generates_template_sentences(model):
    words = decoder.generate(model, ["<bos>", "the", "trophy"], 20)
    assert words[-1] == "."
    assert "because" in words
    assert words[:3] == ["<bos>", "the", "trophy"]


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    vocab, d_model, num_heads = 7, 8, 2
    params = {
        "tok_emb": rng.normal(size=(vocab, d_model)),
        **{n: rng.normal(size=(d_model, d_model)) / 3 for n in ("w_q", "w_k", "w_v", "w_o")},
        "w_out": rng.normal(size=(d_model, vocab)) / 3,
    }
    ids = rng.integers(0, vocab, size=(3, 6))
    valid = np.ones((3, 5))
    valid[2, 3:] = 0
    _, grads = _loss_and_grads(params, ids, valid, num_heads)
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + eps
            plus = _loss_and_grads(params, ids, valid, num_heads)[0]
            value[idx] = old - eps
            minus = _loss_and_grads(params, ids, valid, num_heads)[0]
            value[idx] = old
            numeric[idx] = (plus - minus) / (2 * eps)
        err = np.linalg.norm(grads[name] - numeric) / (
            np.linalg.norm(grads[name]) + np.linalg.norm(numeric)
        )
        assert err < 1e-6, (name, err)


@given(prompt_len=st.integers(1, 10), seed=st.integers(0, 1000))
def test_cached_decoding_equals_full_recomputation(model, prompt_len, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, len(model.vocab), size=16)
    full, _ = model.forward(ids)  # (16, vocab)
    logits, cache = decoder.prefill(model, ids[:prompt_len])
    np.testing.assert_allclose(logits, full[:prompt_len], atol=1e-12, rtol=0)
    for t in range(prompt_len, 16):
        step, cache, weights = decoder.decode_step(model, int(ids[t]), cache)
        assert cache.seq_len == t + 1
        assert weights.shape == (model.num_heads, t + 1)
        np.testing.assert_allclose(step, full[t], atol=1e-12, rtol=0)


def test_kv_cache_bytes_per_token_for_published_shapes():
    # Llama 2 7B (32 layers, 32 kv heads of 128), fp16: 0.5 MiB per token.
    assert decoder.kv_cache_bytes_per_token(num_layers=32, num_kv_heads=32, head_dim=128) == 2**19
    # Llama 3 8B / Mistral 7B: GQA with 8 kv heads: a quarter of that.
    assert decoder.kv_cache_bytes_per_token(num_layers=32, num_kv_heads=8, head_dim=128) == 2**17
    with pytest.raises(ValueError, match="num_kv_heads"):
        decoder.kv_cache_bytes_per_token(num_layers=32, num_kv_heads=0, head_dim=128)


def test_unknown_word_is_explained(model):
    with pytest.raises(ValueError, match="unknown word.*zebra.*Hint"):
        model.encode(["<bos>", "the", "zebra"])
