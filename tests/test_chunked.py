"""Tests for attn_helpers.chunked: the online-softmax attention must be the plain attention.

Same hand-computed example, same properties, same PyTorch fixtures and same teaching errors as
``scaled_dot_product_attention``, plus what is new: any chunk size (lengths not divisible by it),
memory that does not grow with seq_len_q * seq_len_k, and worker threads that change nothing but
the speed.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from _shared import readonly
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import ThreadpoolController

import attn_helpers
import attn_helpers._parallel as parallel_module
import attn_helpers.chunked as chunked_module
from attn_helpers import (
    causal_mask,
    chunked_attention,
    padding_mask,
    scaled_dot_product_attention,
)

FIXTURES = Path(__file__).parent / "fixtures"
LOG3 = math.log(3.0)


def plain_output(q, k, v, **kwargs):
    return scaled_dot_product_attention(q, k, v, **kwargs)[0]


# --------------------------------------------------------------------------- hand-computed


def test_chunked_attention_is_public():
    assert "chunked_attention" in attn_helpers.__all__
    assert attn_helpers.chunked_attention is chunked_attention


def test_hand_computed_example_one_key_per_chunk():
    # scores = [log 3, 0] -> weights [0.75, 0.25]; chunk_size=1 puts each key in its own tile,
    # so the second tile must rescale nothing (its max is lower) and just add.
    q = readonly([[1.0, 0.0]])
    k = readonly([[1.0, 0.0], [0.0, 1.0]])
    v = readonly([[4.0, 0.0], [0.0, 8.0]])
    output = chunked_attention(q, k, v, scale=LOG3, chunk_size=1)
    np.testing.assert_allclose(output, [[3.0, 2.0]], rtol=0, atol=1e-15)


def test_hand_computed_example_where_a_later_tile_scores_higher():
    # Key 0 scores 0, key 1 scores log 3: weights [0.25, 0.75]. The reference r stays at 0 (log 3
    # is below the rescaling threshold of log 256): the later tile simply adds exp(log 3) = 3.
    # The tests below move r.
    q = readonly([[1.0, 0.0]])
    k = readonly([[0.0, 1.0], [1.0, 0.0]])
    v = readonly([[4.0, 0.0], [0.0, 8.0]])
    output = chunked_attention(q, k, v, scale=LOG3, chunk_size=1)
    np.testing.assert_allclose(output, [[1.0, 6.0]], rtol=0, atol=1e-15)


def test_returns_only_the_output_array():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(3, 5, 4))
    output = chunked_attention(q, k, v, chunk_size=2)
    assert isinstance(output, np.ndarray)
    assert output.shape == (5, 4)


# --------------------------------------------------------------------------- parity with the plain version


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 16, 1000])
@pytest.mark.parametrize(
    ("q_shape", "k_shape", "d_v"),
    [
        ((10, 4), (10, 4), 3),
        ((2, 3, 17, 8), (2, 3, 13, 8), 5),  # batch and heads, T_q != T_k
        ((1, 7, 4), (3, 9, 4), 2),  # q broadcasts over the batch of k
        ((4, 6), (2, 11, 6), 6),  # 2-D q against a batch of k
    ],
)
def test_equals_scaled_dot_product_attention(q_shape, k_shape, d_v, chunk_size, no_warnings):
    rng = np.random.default_rng(2)
    q = readonly(rng.normal(size=q_shape))
    k = readonly(rng.normal(size=k_shape))
    v = readonly(rng.normal(size=(*k_shape[:-1], d_v)))
    expected = plain_output(q, k, v)
    actual = chunked_attention(q, k, v, chunk_size=chunk_size)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10)


def test_masks_causal_padding_and_fully_masked_rows(no_warnings):
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=(2, 3, 9, 4))
    v = rng.normal(size=(3, 9, 2))
    mask = padding_mask([0, 5, 9], 9) & causal_mask(9)  # batch item 0 is entirely padding
    expected = plain_output(q, k, v, mask=mask)
    actual = chunked_attention(q, k, v, mask=mask, chunk_size=4)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10)
    assert np.array_equal(actual[0], np.zeros((9, 2))), "fully masked rows must be exactly 0"
    assert not np.isnan(actual).any()


def test_a_query_masked_only_in_its_first_tiles_recovers():
    # Query 0 sees only the last key: its running max stays -inf for two tiles, then jumps.
    rng = np.random.default_rng(4)
    q, k, v = rng.normal(size=(3, 6, 3))
    mask = np.ones((6, 6), dtype=bool)
    mask[0, :5] = False
    actual = chunked_attention(q, k, v, mask=mask, chunk_size=2)
    np.testing.assert_allclose(actual[0], v[5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(actual, plain_output(q, k, v, mask=mask), rtol=0, atol=1e-10)


def test_float32_stays_float32_and_mixed_dtypes_promote():
    rng = np.random.default_rng(5)
    q32, k32, v32 = rng.normal(size=(3, 20, 8)).astype(np.float32)
    out32 = chunked_attention(q32, k32, v32, chunk_size=6)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, plain_output(q32, k32, v32), rtol=1e-5, atol=1e-6)
    assert chunked_attention(q32, k32, v32.astype(np.float64), chunk_size=6).dtype == np.float64
    assert chunked_attention(q32.astype(int), k32, v32).dtype == np.float64


def test_large_scores_do_not_overflow(no_warnings):
    # Scores of +-900 would overflow a naive exp; moving r keeps every exp <= 256.
    q = readonly([[30.0, 0.0], [-30.0, 0.0]])
    k = readonly([[30.0, 0.0], [29.0, 0.0], [0.0, 1.0]])
    v = readonly([[1.0], [2.0], [3.0]])
    actual = chunked_attention(q, k, v, scale=1.0, chunk_size=1)
    np.testing.assert_allclose(actual, plain_output(q, k, v, scale=1.0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("later", [20.0, 100.0])
def test_a_later_tile_raising_the_scores_far_above_r_rebases_it(dtype, later, no_warnings):
    # Keys 0-7 score about 0 and keep r = 0; key 9 scores 20 or 100, far above the threshold:
    # without moving r, exp(100) would overflow float32 (and exp(20) would break the promised
    # bound of 256, checked below).
    rng = np.random.default_rng(8)
    q = np.zeros((3, 4))
    q[:, 0] = 1.0
    k = rng.normal(scale=0.1, size=(10, 4))
    k[9, 0] = later
    v = rng.normal(size=(10, 2))
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    actual = chunked_attention(q, k, v, scale=1.0, chunk_size=4)
    expected = plain_output(q, k, v, scale=1.0)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scores_all_far_below_zero_do_not_underflow(dtype, no_warnings):
    # Every score is about -200: exp(-200) is 0 in float32. r is rebased to the first visible
    # scores, so the weights stay right (a stale r = 0 would give a zero output).
    rng = np.random.default_rng(9)
    k = rng.normal(scale=0.5, size=(12, 3))
    k[:, 0] = -200.0
    q = np.zeros((5, 3))
    q[:, 0] = 1.0
    v = rng.normal(size=(12, 2))
    mask = np.ones((5, 12), dtype=bool)
    mask[:, :5] = False  # the first tile of keys is masked: the first visible scores come later
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    actual = chunked_attention(q, k, v, mask=mask, scale=1.0, chunk_size=4)
    expected = plain_output(q, k, v, mask=mask, scale=1.0)
    assert np.abs(actual).min() > 0
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_float16_is_summed_in_float32_and_returned_as_float16(no_warnings):
    # 2000 keys with value 40: the running sums reach 2000 and 80000, past float16's 65504.
    q = np.zeros((3, 8), dtype=np.float16)
    k = np.random.default_rng(10).normal(size=(2000, 8)).astype(np.float16)
    v = np.full((2000, 2), 40.0, dtype=np.float16)
    actual = chunked_attention(q, k, v, chunk_size=512)
    assert actual.dtype == np.float16
    np.testing.assert_allclose(actual.astype(np.float64), 40.0, rtol=1e-3)


def test_many_short_heads_share_tiles_and_give_the_plain_result(no_warnings):
    # 64 heads of 10 tokens with a broadcast padding mask: several heads per tile.
    rng = np.random.default_rng(12)
    q, k, v = rng.normal(size=(3, 4, 16, 10, 6))
    mask = rng.random((4, 1, 1, 10)) > 0.3
    for workers in (1, 3):
        actual = chunked_attention(q, k, v, mask=mask, chunk_size=8, workers=workers)
        np.testing.assert_allclose(actual, plain_output(q, k, v, mask=mask), rtol=0, atol=1e-12)


@pytest.mark.parametrize("base2", [False, True])
def test_exponentials_stay_at_most_256_whatever_the_scores(monkeypatch, base2):
    # The module's promise: r follows the scores closely enough that no exponential exceeds 256,
    # with exp or with exp2. (A changed threshold, or r never moving up, must fail here.)
    largest = []

    def spying(real):
        def spy(x, *args, **kwargs):
            result = real(x, *args, **kwargs)
            largest.append(float(np.max(result)) if np.size(result) else 0.0)
            return result

        return spy

    monkeypatch.setattr(chunked_module, "_use_exp2", lambda dtype: base2)
    monkeypatch.setattr(np, "exp", spying(np.exp))
    monkeypatch.setattr(np, "exp2", spying(np.exp2))
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(scale=4.0, size=(3, 2, 40, 8))  # scores up to about +-100
    actual = chunked_attention(q, k, v, chunk_size=8)
    monkeypatch.undo()
    assert largest
    assert max(largest) <= 256.0 * (1 + 1e-12)
    np.testing.assert_allclose(actual, plain_output(q, k, v), rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_and_exp2_give_the_same_result(monkeypatch, dtype):
    rng = np.random.default_rng(14)
    q, k, v = rng.normal(scale=3.0, size=(3, 2, 50, 8)).astype(dtype)
    mask = rng.random((2, 50, 50)) > 0.3
    results = []
    for base2 in (False, True):
        monkeypatch.setattr(chunked_module, "_use_exp2", lambda dtype, base2=base2: base2)
        results.append(chunked_attention(q, k, v, mask=mask, chunk_size=16))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(results[1], results[0], rtol=tol, atol=tol)


def test_exp2_is_used_only_where_numpy_vectorises_it_like_exp(monkeypatch):
    import numpy.lib.introspect as introspect

    def fake(exp, exp2):
        return lambda **kwargs: {"exp": {"ff": {"current": exp}}, "exp2": {"ff": {"current": exp2}}}

    for exp, exp2, expected in [
        ("X86_V4", "X86_V4", True),  # AVX-512: both vectorised
        ("X86_V3", "baseline(X86_V2)", False),  # AVX2 only: exp2 has no fast kernel
        ("baseline(X86_V2)", "baseline(X86_V2)", False),
    ]:
        monkeypatch.setattr(introspect, "opt_func_info", fake(exp, exp2))
        assert chunked_module._use_exp2(np.float32) is expected
    monkeypatch.setattr(introspect, "opt_func_info", lambda **kwargs: {})  # numpy says nothing
    assert chunked_module._use_exp2(np.float32) is False


def test_a_query_with_sums_is_never_moved_down():
    # Tile 1 scores 0 (r = 0, l = 1), tile 2 scores -20: that query's r must stay at 0, or the
    # sums already made would be measured against the wrong reference. Answer: about v[0].
    q = readonly([[1.0, 0.0]])
    k = readonly([[0.0, 0.0], [-20.0, 0.0]])
    v = readonly([[1.0], [5.0]])
    actual = chunked_attention(q, k, v, scale=1.0, chunk_size=1)
    np.testing.assert_allclose(actual, plain_output(q, k, v, scale=1.0), rtol=1e-12, atol=0)


def test_values_near_the_float_range_do_not_overflow_the_running_sums(no_warnings):
    # The running sums hold up to 256 * seq_len_k * max|v| before the division; plain attention
    # normalises first. v is scaled by a power of two (exactly) when that could overflow.
    q = np.zeros((1, 2), np.float32)
    q[0, 0] = 1.0
    k = np.zeros((4, 2), np.float32)
    k[:, 0] = 5.0  # below the threshold: r stays 0, the exponentials are about 148
    v = np.full((4, 1), 1e36, np.float32)
    v[0] = -2e36
    actual = chunked_attention(q, k, v, scale=1.0)
    np.testing.assert_allclose(actual, plain_output(q, k, v, scale=1.0), rtol=1e-5)
    assert np.isfinite(actual).all()


def test_keys_and_values_shared_by_all_heads_are_not_copied_per_head():
    # q (32, 1024, 16) against k and v (1, 1024, 16): [k | 1] and [v | 1] stay one copy.
    rng = np.random.default_rng(13)
    q = rng.normal(size=(32, 1024, 16))
    k, v = rng.normal(size=(2, 1, 1024, 16))
    peak = _peak_bytes(lambda: chunked_attention(q, k, v, chunk_size=1024))
    heads, t, d = q.shape
    budget = (
        heads * t * (d + 1) * 8  # [q * scale | -r]
        + heads * t * d * 8  # the output
        + t * t * 8  # one tile of scores
        + 2 * t * (d + 1) * 8 * 3  # [k | 1], [v | 1], [acc | l], [pv], small buffers
    )
    per_head_copies = 2 * heads * t * (d + 1) * 8
    assert peak < budget + per_head_copies / 4, f"{peak / 2**20:.1f} MiB vs {budget / 2**20:.1f}"


def test_inputs_are_never_modified():
    rng = np.random.default_rng(6)
    arrays = [rng.normal(size=(2, 7, 4)) for _ in range(3)]
    mask = rng.random((2, 7, 7)) > 0.3
    copies = [a.copy() for a in (*arrays, mask)]
    output = chunked_attention(*arrays, mask=mask, chunk_size=3)
    for before, after in zip(copies, (*arrays, mask)):
        assert np.array_equal(before, after)
    for a in arrays:
        assert not np.shares_memory(output, a)


# --------------------------------------------------------------------------- properties (hypothesis)


@st.composite
def attention_problem(draw):
    batch = draw(st.sampled_from([(), (1,), (2,), (2, 3)]))
    t_q = draw(st.integers(1, 24))
    t_k = draw(st.integers(1, 24))
    d_k = draw(st.integers(1, 6))
    d_v = draw(st.integers(1, 5))
    chunk_size = draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    spread = draw(st.sampled_from([0.1, 1.0, 5.0]))
    q = rng.normal(scale=spread, size=(*batch, t_q, d_k))
    k = rng.normal(scale=spread, size=(*batch, t_k, d_k))
    v = rng.normal(size=(*batch, t_k, d_v))
    kind = draw(
        st.sampled_from(["none", "random", "random with empty rows", "causal", "broadcast"])
    )
    if kind == "none":
        mask = None
    elif kind == "causal":
        mask = np.tril(np.ones((t_q, t_k), dtype=bool), k=t_k - t_q)  # the last query sees all
    elif kind == "broadcast":
        mask = rng.random((*batch, 1, t_k)) > 0.4  # padding-like: one row for all queries
    else:
        mask = rng.random((*batch, t_q, t_k)) > 0.5
        if kind == "random with empty rows":
            mask[..., rng.integers(t_q), :] = False
    return q, k, v, mask, chunk_size


@given(attention_problem(), st.integers(1, 4))
def test_property_equals_the_plain_version_for_any_chunk_size(problem, workers):
    q, k, v, mask, chunk_size = problem
    expected = plain_output(q, k, v, mask=mask)
    actual = chunked_attention(q, k, v, mask=mask, chunk_size=chunk_size, workers=workers)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10)


@given(attention_problem(), st.floats(-50.0, 50.0))
def test_property_adding_a_constant_to_v_shifts_the_output(problem, c):
    # Weights sum to 1 per row, so output(v + c) = output(v) + c (rows that see nothing stay 0).
    q, k, v, mask, chunk_size = problem
    base = chunked_attention(q, k, v, mask=mask, chunk_size=chunk_size)
    shifted = chunked_attention(q, k, v + c, mask=mask, chunk_size=chunk_size)
    sees_something = np.ones(base.shape[:-1], dtype=bool)
    if mask is not None:
        sees_something = np.broadcast_to(mask, (*base.shape[:-1], k.shape[-2])).any(axis=-1)
    expected = base + c * sees_something[..., None]
    np.testing.assert_allclose(shifted, expected, rtol=1e-9, atol=1e-9)


@given(st.integers(2, 20), st.integers(1, 8), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_property_causal_changing_a_future_token_leaves_earlier_outputs(
    seq_len, d, chunk_size, seed
):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(seq_len, d))
    pos = int(rng.integers(1, seq_len))
    y = x.copy()
    y[pos:] = rng.normal(size=(seq_len - pos, d))  # change every token from pos on
    mask = causal_mask(seq_len)
    out_x = chunked_attention(x, x, x, mask=mask, chunk_size=chunk_size)
    out_y = chunked_attention(y, y, y, mask=mask, chunk_size=chunk_size)
    np.testing.assert_allclose(out_x[:pos], out_y[:pos], rtol=0, atol=1e-12)


@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_property_permuting_keys_and_values_together_changes_nothing(t_k, chunk_size, seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(5, 3))
    k = rng.normal(size=(t_k, 3))
    v = rng.normal(size=(t_k, 2))
    perm = rng.permutation(t_k)
    a = chunked_attention(q, k, v, chunk_size=chunk_size)
    b = chunked_attention(q, k[perm], v[perm], chunk_size=chunk_size)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- PyTorch fixtures


def _sdpa_fixture_cases() -> list:
    params = []
    for dtype, atol in (("float64", 1e-6), ("float32", 1e-5)):
        path = FIXTURES / f"core_sdpa_{dtype}.npz"
        if not path.exists():
            params.append(pytest.param(None, None, None, marks=pytest.mark.skip(f"{path} missing")))
            continue
        with np.load(path) as data:
            for case in data["cases"]:
                prefix = f"{case}__"
                arrays = {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}
                params.append(pytest.param(arrays, dtype, atol, id=f"{dtype}-{case}"))
    return params


@pytest.mark.parametrize(("arrays", "dtype", "atol"), _sdpa_fixture_cases())
@pytest.mark.parametrize("chunk_size", [1, 3, 512])
def test_matches_the_pytorch_fixtures(arrays, dtype, atol, chunk_size):
    a = {key: readonly(value) for key, value in arrays.items()}
    kwargs = {"chunk_size": chunk_size}
    if "mask" in a:
        kwargs["mask"] = a["mask"]
    if "scale" in a:
        kwargs["scale"] = float(a["scale"])
    output = chunked_attention(a["q"], a["k"], a["v"], **kwargs)
    assert output.dtype == np.dtype(dtype)
    fully = np.broadcast_to(a["fully_masked"][..., None], output.shape)
    np.testing.assert_allclose(output[~fully], a["output"][~fully], rtol=1e-5, atol=atol)
    assert np.all(output[fully] == 0.0), "fully masked rows must be exactly 0"


# --------------------------------------------------------------------------- memory


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_never_materialises_the_scores_matrix():
    # seq_len 2048: the (T, T) float64 matrix would be 32 MiB; the chunked version needs the
    # inputs' copies, the output and a few (chunk, chunk) tiles.
    seq_len, d = 2048, 16
    rng = np.random.default_rng(7)
    q, k, v = rng.normal(size=(3, seq_len, d))
    peak = _peak_bytes(lambda: chunked_attention(q, k, v, chunk_size=256, workers=1))
    full = seq_len * seq_len * 8
    # [q | -r], [k | 1], [v | 1] and the output: (T, d + 1) each; one (256, 256) tile, small buffers.
    budget = 4 * seq_len * (d + 1) * 8 + 256 * 256 * 8
    assert peak < 1.2 * budget, f"peak {peak / 2**20:.2f} MiB vs budget {budget / 2**20:.2f} MiB"
    assert peak < 0.06 * full, f"peak {peak / 2**20:.1f} MiB vs (T, T) {full / 2**20:.0f} MiB"


def test_each_extra_worker_costs_one_set_of_buffers_not_one_per_tile():
    # 8 query blocks of 256 against 8 key blocks: 64 tiles of 256 x 256 float64 (512 KiB each).
    # A second worker allocates its own buffers once: about one more tile, not 32 more.
    seq_len, d, chunk_size = 2048, 16, 256
    rng = np.random.default_rng(7)
    q, k, v = rng.normal(size=(3, seq_len, d))
    one = _peak_bytes(lambda: chunked_attention(q, k, v, chunk_size=chunk_size, workers=1))
    two = _peak_bytes(lambda: chunked_attention(q, k, v, chunk_size=chunk_size, workers=2))
    tile = chunk_size * chunk_size * 8
    assert two - one < 1.5 * tile, f"second worker added {(two - one) / tile:.2f} tiles"


# --------------------------------------------------------------------------- worker threads


@pytest.mark.parametrize("workers", [2, 3, 16])
def test_workers_share_heads_and_query_blocks_without_changing_the_result(workers, no_warnings):
    # (2, 3) leading axes x 3 query blocks: 18 blocks, a causal mask, a query that sees nothing.
    rng = np.random.default_rng(11)
    q = rng.normal(size=(2, 3, 40, 8))
    k, v = rng.normal(size=(2, 2, 3, 33, 8))
    mask = np.tril(np.ones((40, 33), dtype=bool), k=-7)  # queries 0-6 see no key at all
    serial = chunked_attention(q, k, v, mask=mask, chunk_size=16, workers=1)
    parallel = chunked_attention(q, k, v, mask=mask, chunk_size=16, workers=workers)
    np.testing.assert_allclose(parallel, serial, rtol=0, atol=1e-14)
    np.testing.assert_allclose(parallel, plain_output(q, k, v, mask=mask), rtol=0, atol=1e-12)
    assert not parallel[..., :7, :].any()


def test_threads_really_share_large_blocks_and_match_one_worker(monkeypatch):
    # Blocks of 256 x 256 scores are large enough for numpy to release the GIL, so the threads
    # really overlap; every block must land on one worker and the output must not change.
    seen = []  # (thread, BLAS threads inside the worker) per block
    real = chunked_module._block_worker

    def spy(**kwargs):
        attend = real(**kwargs)

        def attend_and_record(block):
            seen.append((threading.get_ident(), tuple(_blas_threads())))
            attend(block)

        return attend_and_record

    monkeypatch.setattr(chunked_module, "_block_worker", spy)
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(3, 2, 1024, 16)).astype(np.float32)
    with ThreadpoolController().limit(limits=2, user_api="blas"):  # as on a 2-core laptop
        blas_outside = tuple(_blas_threads())
        one = chunked_attention(q, k, v, chunk_size=256, workers=1)
        assert len({thread for thread, _ in seen}) == 1
        assert {threads for _, threads in seen} == {blas_outside}  # one worker: BLAS untouched
        seen.clear()
        two = chunked_attention(q, k, v, chunk_size=256, workers=2)
    assert len(seen) == 8  # 2 heads x 4 query blocks
    assert len({thread for thread, _ in seen}) == 2
    if blas_outside:  # BLAS visible to threadpoolctl: limited to one thread inside workers
        assert {threads for _, threads in seen} == {(1,) * len(blas_outside)}
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "workers", "cpus", "expected"),
    [
        ((2, 1024, 1024), 1, 4, 1),  # the default: one worker, however large
        ((2, 1024, 1024), None, 4, 4),  # None: one per CPU (2 x 4 blocks of 256)
        ((2, 1024, 1024), None, 16, 8),  # at most 8
        ((1, 512, 4096), None, 4, 2),  # but no more than there are blocks (2 query blocks)
        ((1, 512, 4096), 5, 1, 2),  # an explicit number too
    ],
)
def test_number_of_workers(monkeypatch, shape, workers, cpus, expected):
    calls = []
    monkeypatch.setattr(chunked_module, "available_cpus", lambda: cpus)
    monkeypatch.setattr(
        chunked_module, "run_in_threads", lambda make, items, workers: calls.append(workers)
    )
    t_q, t_k = shape[1], shape[2]
    q = np.zeros((shape[0], t_q, 2), dtype=np.float32)
    k = np.zeros((shape[0], t_k, 2), dtype=np.float32)
    chunked_attention(q, k, k, chunk_size=256, workers=workers)
    assert calls == [expected]


@pytest.mark.parametrize("settings", [{"all": "raise"}, {"all": "ignore"}, {"under": "raise"}])
def test_workers_follow_the_callers_numpy_error_settings(settings):
    # Scores spread over hundreds: some exp() underflow. Whatever np.errstate the caller set,
    # 1 and 2 workers must behave alike (numpy's settings are per thread; workers inherit them).
    rng = np.random.default_rng(4)
    q, k, v = rng.normal(scale=10.0, size=(3, 2, 64, 8))

    def outcome(workers):
        with warnings.catch_warnings(record=True) as caught, np.errstate(**settings):
            warnings.simplefilter("always")
            try:
                result = chunked_attention(q, k, v, chunk_size=16, workers=workers)
            except FloatingPointError as err:
                return ("raised", str(err).split(" encountered")[0], len(caught))
            return ("returned", result.round(12).tobytes(), len(caught))

    assert outcome(2) == outcome(1)


@pytest.mark.parametrize(
    ("v2", "v1_quota", "v1_period", "expected"),
    [
        ("max 100000\n", None, None, None),  # cgroup v2, no quota
        ("150000 100000\n", None, None, 1.5),  # cgroup v2, one and a half CPUs
        (None, "-1\n", "100000\n", None),  # cgroup v1, no quota
        (None, "200000\n", "100000\n", 2.0),  # cgroup v1, two CPUs
        (None, None, None, None),  # no cgroup files (macOS, Windows)
        ("garbage", None, None, None),
    ],
)
def test_container_cpu_quota_is_read_from_cgroup_files(
    tmp_path, monkeypatch, v2, v1_quota, v1_period, expected
):
    for name, text in (("CGROUP_V2_CPU_MAX", v2), ("CGROUP_V1_QUOTA", v1_quota),
                       ("CGROUP_V1_PERIOD", v1_period)):  # fmt: skip
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        monkeypatch.setattr(parallel_module, name, path)
    assert parallel_module.cgroup_cpu_quota() == expected


def test_default_workers_stay_within_the_container_quota(tmp_path, monkeypatch):
    quota_file = tmp_path / "cpu.max"
    quota_file.write_text("100000 100000\n")  # one CPU, whatever the machine shows
    monkeypatch.setattr(parallel_module, "CGROUP_V2_CPU_MAX", quota_file)
    assert parallel_module.available_cpus() == 1
    quota_file.write_text("50000 100000\n")  # half a CPU still gets one thread
    assert parallel_module.available_cpus() == 1


def _blas_threads() -> list[int]:
    return [
        lib["num_threads"] for lib in ThreadpoolController().info() if lib["user_api"] == "blas"
    ]


def _require_visible_blas():
    if not _blas_threads():
        pytest.skip("threadpoolctl cannot see numpy's BLAS here (Apple Accelerate, for one)")


def test_blas_threads_are_restored_after_a_call_and_after_an_error():
    _require_visible_blas()
    controller = ThreadpoolController()
    with controller.limit(limits=2, user_api="blas"):
        before = _blas_threads()
        rng = np.random.default_rng(0)
        q, k, v = rng.normal(size=(3, 4, 64, 8))
        chunked_attention(q, k, v, chunk_size=16, workers=2)
        assert _blas_threads() == before
        huge = np.full((4, 64, 2), 1e200)
        with pytest.raises(ValueError, match="overflowed"):
            chunked_attention(huge, huge, v, chunk_size=16, workers=2)
        assert _blas_threads() == before


def test_overlapping_callers_limit_blas_once_and_the_last_one_restores_it(monkeypatch):
    # The BLAS thread count is one setting per process. If each caller saved and restored it, a
    # second caller would save the first one's limit and "restore" that. Only the outermost may.
    events = []

    class FakeLimiter:
        def restore_original_limits(self):
            events.append("restore")

    def fake_limit():
        events.append("limit")
        return FakeLimiter()

    monkeypatch.setattr(parallel_module, "_limit_blas_to_one_thread", fake_limit)
    with parallel_module.single_threaded_blas():  # caller 1
        with parallel_module.single_threaded_blas():  # caller 2 starts while caller 1 runs
            pass
        assert events == ["limit"]  # caller 2 neither limited again nor restored
    assert events == ["limit", "restore"]
    with pytest.raises(RuntimeError), parallel_module.single_threaded_blas():
        raise RuntimeError("a failing caller still restores")
    assert events == ["limit", "restore", "limit", "restore"]


def test_works_without_threadpoolctl(tmp_path):
    # threadpoolctl only tunes speed: without it, import and threads still work.
    code = (
        "import sys; sys.modules['threadpoolctl'] = None\n"
        "import numpy as np, attn_helpers\n"
        "q, k, v = np.random.default_rng(0).normal(size=(3, 2, 50, 4))\n"
        "out = attn_helpers.chunked_attention(q, k, v, chunk_size=8, workers=2)\n"
        "ref = attn_helpers.scaled_dot_product_attention(q, k, v)[0]\n"
        "assert np.allclose(out, ref, rtol=0, atol=1e-12)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_an_overflow_found_by_a_worker_thread_names_a_true_position():
    # Only head 3 overflows; whichever worker meets it, the error reaches the caller and the
    # position it names really holds an overflowing score.
    q = np.ones((4, 10, 2))
    q[3, 6] = 1e200
    k = np.full((4, 9, 2), 1e200)
    v = np.ones((4, 9, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="overflowed the float64 range") as err:
            chunked_attention(q, k, v, chunk_size=4, workers=3)
    position = str(err.value).split("at (")[1].split(")")[0]
    head, query, key = (int(i) for i in position.split(","))
    assert (head, query) == (3, 6)
    assert 0 <= key < 9


def test_the_first_error_stops_the_other_workers(monkeypatch):
    # Head 0 overflows in its first block; the other worker stops after the block it is on
    # instead of finishing its 19. (40 blocks of 1024 x 1024 scores, several milliseconds each:
    # longer than Python's 5 ms thread switch, so the first error is seen early.)
    done = []
    real = chunked_module._block_worker

    def spy(**kwargs):
        attend = real(**kwargs)

        def attend_and_count(block):
            attend(block)
            done.append(block)

        return attend_and_count

    monkeypatch.setattr(chunked_module, "_block_worker", spy)
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(3, 40, 1024, 8))
    q[0] = 1e200
    k[0] = 1e200
    with pytest.raises(ValueError, match="overflowed"):
        chunked_attention(q, k, v, chunk_size=1024, workers=2)
    assert len(done) < 10, f"{len(done)} blocks done after the first error"


# --------------------------------------------------------------------------- errors


def _bad_calls():
    ro = readonly
    return {
        "d_k mismatch": ((ro(np.ones((4, 8))), ro(np.ones((4, 6))), ro(np.ones((4, 2)))), {}),
        "k and v lengths": ((ro(np.ones((4, 8))), ro(np.ones((4, 8))), ro(np.ones((3, 2)))), {}),
        "1-D q": ((ro(np.ones(8)), ro(np.ones((4, 8))), ro(np.ones((4, 2)))), {}),
        "leading axes": ((ro(np.ones((2, 4, 8))), ro(np.ones((3, 4, 8))), ro(np.ones((3, 4, 2)))), {}),
        "NaN in v": ((ro(np.ones((2, 2))), ro(np.ones((2, 2))), ro([[1.0, np.nan], [0.0, 0.0]])), {}),
        "-inf in k": ((ro(np.ones((2, 2))), ro([[1.0, -np.inf], [0.0, 0.0]]), ro(np.ones((2, 2)))), {}),
        "strings": ((ro([["a", "b"]]), ro(np.ones((2, 2))), ro(np.ones((2, 2)))), {}),
        "integer mask": ((ro(np.ones((3, 2))), ro(np.ones((3, 2))), ro(np.ones((3, 2)))), {"mask": np.ones((3, 3))}),
        "mask shape": ((ro(np.ones((3, 2))), ro(np.ones((3, 2))), ro(np.ones((3, 2)))), {"mask": np.ones((2, 3), bool)}),
        "mask enlarges": ((ro(np.ones((3, 2))), ro(np.ones((3, 2))), ro(np.ones((3, 2)))), {"mask": np.ones((2, 3, 3), bool)}),
        "scale zero": ((ro(np.ones((2, 2))), ro(np.ones((2, 2))), ro(np.ones((2, 2)))), {"scale": 0.0}),
        "scale text": ((ro(np.ones((2, 2))), ro(np.ones((2, 2))), ro(np.ones((2, 2)))), {"scale": "1"}),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_bad_calls()))
def test_bad_input_gives_the_same_teaching_error_as_the_plain_version(name):
    args, kwargs = _bad_calls()[name]
    with pytest.raises((ValueError, TypeError)) as plain:
        scaled_dot_product_attention(*args, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(plain.type) as chunked:
            chunked_attention(*args, **kwargs)
    assert str(chunked.value) == str(plain.value)


@pytest.mark.parametrize(
    ("q_fill", "k_fill", "scale"),
    [(1e200, 1e200, None), (1e200, -1e200, None), (1e150, 1e150, 1e10)],
)
def test_overflowing_scores_raise_like_the_plain_version(q_fill, k_fill, scale):
    q, k, v = (
        readonly(np.full((3, 2), q_fill)),
        readonly(np.full((5, 2), k_fill)),
        readonly(np.ones((5, 2))),
    )
    with pytest.raises(ValueError, match="overflowed"):
        scaled_dot_product_attention(q, k, v, scale=scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"overflowed the float64 range .* Hint"):
            chunked_attention(q, k, v, scale=scale, chunk_size=2)


@pytest.mark.parametrize(
    ("chunk_size", "exc"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_bad_chunk_size_is_named(chunk_size, exc):
    with pytest.raises(exc, match="chunk_size"):
        chunked_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), chunk_size=chunk_size)


@pytest.mark.parametrize(
    ("workers", "exc"), [(0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_bad_workers_is_named(workers, exc):
    with pytest.raises(exc, match="workers"):
        chunked_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), workers=workers)


# --- causal=True and window=: tiles above the diagonal (or beyond the window) are skipped ---


def band_mask(t_q, t_k, window=None, *, align="upper_left"):
    """The causal (or sliding-window) mask, built independently of the package: top-left aligned,
    or bottom-right (query i at position i + t_k - t_q, as in decoding with a KV cache)."""
    shift = t_k - t_q if align == "lower_right" else 0
    offset = np.arange(t_q)[:, None] + shift - np.arange(t_k)[None, :]  # i + shift - j
    visible = offset >= 0
    if window is not None:
        visible &= offset < window
    return visible


@pytest.mark.parametrize(("t_q", "t_k"), [(1, 1), (7, 7), (40, 40), (13, 29), (29, 13), (64, 3)])
@pytest.mark.parametrize("chunk_size", [1, 3, 8, 16, 64])
@pytest.mark.parametrize("window", [None, 1, 4, 17])
def test_causal_and_window_equal_the_plain_version_with_the_mask(t_q, t_k, chunk_size, window):
    rng = np.random.default_rng(t_q * 100 + t_k)
    q, k, v = (
        rng.normal(size=(2, t_q, 8)),
        rng.normal(size=(2, t_k, 8)),
        rng.normal(size=(2, t_k, 5)),
    )
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(t_q, t_k, window))
    output = chunked_attention(q, k, v, causal=True, window=window, chunk_size=chunk_size)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-10)


def test_causal_equals_causal_mask_and_window_implies_causal():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(3, 2, 50, 16))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(50))
    np.testing.assert_allclose(
        chunked_attention(q, k, v, causal=True, chunk_size=8), expected, rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(  # window >= seq_len: plain causal attention
        chunked_attention(q, k, v, window=50, chunk_size=8), expected, rtol=0, atol=1e-10
    )
    # window=... with causal=False still looks back only (the window implies causal).
    windowed = chunked_attention(q, k, v, window=5, causal=False, chunk_size=8)
    expected_window, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(50, 50, 5))
    np.testing.assert_allclose(windowed, expected_window, rtol=0, atol=1e-10)


@pytest.mark.parametrize("min_tile", [1, 2, 128])
def test_causal_sub_tiles_change_nothing(monkeypatch, min_tile):
    """Diagonal tiles are cut in four down to MIN_CAUSAL_TILE: any size gives the same output."""
    monkeypatch.setattr(chunked_module, "MIN_CAUSAL_TILE", min_tile)
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(3, 1, 70, 8))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(70, 70, 9))
    output = chunked_attention(q, k, v, window=9, chunk_size=32)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-10)


def test_causal_combines_with_a_mask_by_and():
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(3, 2, 30, 8))
    pad = padding_mask([30, 11], 30)  # (2, 1, 30): the second sequence has 11 real tokens
    expected, _ = scaled_dot_product_attention(q, k, v, mask=pad & band_mask(30, 30, 6))
    output = chunked_attention(q, k, v, mask=pad, window=6, chunk_size=4)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-10)


def test_causal_rows_with_no_visible_key_are_zero():
    # A window with more queries than keys: query 9 (window 2) may see keys 8 and 9, which do
    # not exist; its row is fully masked and its output zero, as in the plain version.
    rng = np.random.default_rng(4)
    q, k, v = rng.normal(size=(10, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    output = chunked_attention(q, k, v, window=2, chunk_size=2)
    assert np.all(output[6:] == 0)
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(10, 5, 2))
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-12)


def test_causal_skips_the_tiles_above_the_diagonal(monkeypatch):
    """Count the score tiles computed: about half of them, not all (the point of causal=True)."""
    tiles = []
    original_matmul = np.matmul

    def counting_matmul(a, b, *args, **kwargs):
        if kwargs.get("out") is not None and b.shape[-2] == 9:  # q_aug @ k_aug.T: d_k + 1 = 9
            tiles.append(a.shape[-2] * b.shape[-1])
        return original_matmul(a, b, *args, **kwargs)

    monkeypatch.setattr(chunked_module.np, "matmul", counting_matmul)
    monkeypatch.setattr(chunked_module, "MIN_CAUSAL_TILE", 16)
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(3, 256, 8))
    chunked_attention(q, k, v, chunk_size=64)
    full = sum(tiles)
    tiles.clear()
    chunked_attention(q, k, v, causal=True, chunk_size=64)
    monkeypatch.undo()
    assert full == 256 * 256
    # Exactly the lower triangle at the granularity of the smallest diagonal tiles (16 x 16):
    # 16 * 15 / 2 tiles below the diagonal and the 16 on it, 136 of the 256.
    assert sum(tiles) == 136 * 16 * 16, (sum(tiles), full)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"causal": 1}, TypeError, "causal must be True, False, 'upper_left' or 'lower_right'"),
        ({"causal": None}, TypeError, "causal must be True, False"),
        ({"causal": "yes"}, ValueError, "causal must be True, False, 'upper_left' or 'lower_r"),
        ({"causal": "bottom_right"}, ValueError, "KV cache"),
        ({"window": 0}, ValueError, "window"),
        ({"window": 2.5}, TypeError, "window"),
        ({"window": -3}, ValueError, "window"),
    ],
)
def test_causal_and_window_bad_values_are_explained(kwargs, error, message):
    q = np.ones((4, 2))
    with pytest.raises(error, match=message):
        chunked_attention(q, q, q, **kwargs)


@given(
    t_q=st.integers(1, 24),
    t_k=st.integers(1, 24),
    chunk_size=st.integers(1, 10),
    window=st.one_of(st.none(), st.integers(1, 30)),
    seed=st.integers(0, 2**16),
)
def test_causal_window_property(t_q, t_k, chunk_size, window, seed):
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(t_q, 4)), rng.normal(size=(t_k, 4)), rng.normal(size=(t_k, 3))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(t_q, t_k, window))
    output = chunked_attention(q, k, v, causal=True, window=window, chunk_size=chunk_size)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("t_q", "t_k", "window"), [(256, 256, None), (100, 37, None), (300, 300, 40)]
)
def test_tile_plan_covers_every_visible_score_and_skips_whole_tiles(monkeypatch, t_q, t_k, window):
    monkeypatch.setattr(chunked_module, "MIN_CAUSAL_TILE", 16)
    plan = chunked_module.tile_plan(t_q, t_k, causal=True, window=window, chunk_size=64)
    covered = np.zeros((t_q, t_k), dtype=int)
    for q0, q1, k0, k1, masked in plan:
        covered[q0:q1, k0:k1] += 1
        inside = band_mask(t_q, t_k, window)[q0:q1, k0:k1]
        assert inside.any()  # no tile computed in vain
        assert masked == (not inside.all())  # a mask pass only where needed
    assert covered.max() == 1  # no score computed twice
    assert np.all(covered[band_mask(t_q, t_k, window)] == 1)  # every visible score computed
    if window is None and t_q == t_k == 256:
        assert sum((q1 - q0) * (k1 - k0) for q0, q1, k0, k1, _ in plan) == 136 * 16 * 16


def test_tile_plan_without_causal_is_the_full_grid():
    plan = chunked_module.tile_plan(10, 7, chunk_size=4)
    assert [(q0, k0) for q0, _, k0, _, _ in plan] == [
        (0, 0),
        (0, 4),
        (4, 0),
        (4, 4),
        (8, 0),
        (8, 4),
    ]
    assert not any(masked for *_, masked in plan)


# --- causal="lower_right": the queries are the last seq_len_q of seq_len_k positions (KV cache) ---


@pytest.mark.parametrize(("t_q", "t_k"), [(1, 1), (1, 40), (7, 29), (29, 29), (29, 13), (64, 3)])
@pytest.mark.parametrize("chunk_size", [1, 3, 8, 64])
@pytest.mark.parametrize("window", [None, 1, 4, 17])
def test_lower_right_equals_the_plain_version_with_the_mask(t_q, t_k, chunk_size, window):
    rng = np.random.default_rng(t_q * 100 + t_k + 7)
    q, k, v = (
        rng.normal(size=(2, t_q, 8)),
        rng.normal(size=(2, t_k, 8)),
        rng.normal(size=(2, t_k, 5)),
    )
    mask = band_mask(t_q, t_k, window, align="lower_right")
    if window is None:  # the package's mask builder says the same
        assert np.array_equal(mask, causal_mask(t_q, t_k, align="lower_right"))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    output = chunked_attention(q, k, v, causal="lower_right", window=window, chunk_size=chunk_size)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-10)


def test_upper_left_is_true_and_the_alignments_agree_when_square():
    rng = np.random.default_rng(8)
    q, k, v = rng.normal(size=(3, 2, 30, 8))
    upper = chunked_attention(q, k, v, causal="upper_left", chunk_size=7)
    np.testing.assert_array_equal(upper, chunked_attention(q, k, v, causal=True, chunk_size=7))
    lower = chunked_attention(q, k, v, causal="lower_right", chunk_size=7)
    np.testing.assert_allclose(lower, upper, rtol=0, atol=1e-12)
    # Rectangular, they differ: 3 queries against 30 keys.
    short = chunked_attention(q[:, :3], k, v, causal="lower_right", chunk_size=7)
    assert not np.allclose(short, chunked_attention(q[:, :3], k, v, causal=True, chunk_size=7))


@pytest.mark.parametrize("min_tile", [1, 2, 128])
def test_lower_right_sub_tiles_change_nothing(monkeypatch, min_tile):
    """Diagonal tiles are cut in four down to MIN_CAUSAL_TILE with the shifted diagonal too."""
    monkeypatch.setattr(chunked_module, "MIN_CAUSAL_TILE", min_tile)
    rng = np.random.default_rng(9)
    q, k, v = rng.normal(size=(50, 8)), rng.normal(size=(90, 8)), rng.normal(size=(90, 3))
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(50, 90, align="lower_right"))
    output = chunked_attention(q, k, v, causal="lower_right", chunk_size=32)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-10)


@given(
    t=st.integers(1, 30),
    new=st.integers(1, 30),
    chunk_size=st.integers(1, 10),
    window=st.one_of(st.none(), st.integers(1, 30)),
    seed=st.integers(0, 2**16),
)
def test_property_lower_right_decoding_equals_recomputation(t, new, chunk_size, window, seed):
    """The last `new` tokens attending over all t cached keys (lower-right) give the last rows
    of full causal (or windowed) attention: what a KV cache relies on."""
    new = min(new, t)
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(t, 4)), rng.normal(size=(t, 4)), rng.normal(size=(t, 3))
    full = chunked_attention(q, k, v, causal=True, window=window, chunk_size=chunk_size)
    tail = chunked_attention(
        q[t - new :], k, v, causal="lower_right", window=window, chunk_size=chunk_size
    )
    np.testing.assert_allclose(tail, full[t - new :], rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("t_q", "t_k", "window"), [(64, 256, None), (300, 100, None), (40, 300, 50)]
)
def test_tile_plan_lower_right_covers_every_visible_score(monkeypatch, t_q, t_k, window):
    monkeypatch.setattr(chunked_module, "MIN_CAUSAL_TILE", 16)
    plan = chunked_module.tile_plan(t_q, t_k, causal="lower_right", window=window, chunk_size=64)
    visible = band_mask(t_q, t_k, window, align="lower_right")
    covered = np.zeros((t_q, t_k), dtype=int)
    for q0, q1, k0, k1, masked in plan:
        covered[q0:q1, k0:k1] += 1
        inside = visible[q0:q1, k0:k1]
        assert inside.any()
        assert masked == (not inside.all())
    assert covered.max() == 1
    assert np.all(covered[visible] == 1)


def test_docstring_documents_each_parameter_once():
    """Each parameter has one paragraph (the chunk_size paragraph was once duplicated and cut)."""
    import inspect
    import re

    doc = chunked_attention.__doc__
    for name in inspect.signature(chunked_attention).parameters:
        entries = re.findall(rf"(?m)^    (?:\w+, )*{name}(?:, \w+)* : ", doc)
        assert len(entries) == 1, (name, entries)
    assert doc.count("Tokens per tile") == 1
