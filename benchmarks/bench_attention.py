"""Attention timings against a floor: what BLAS alone needs for the same two matrix products.

The floor is ``q @ k.T`` then ``scores @ v``, written into preallocated outputs with ``out=``:
no softmax, no fresh memory. Every timing is interleaved with a floor timing in the same loop
(so a busy machine slows both alike), repeated, and reported as a median; the ratio is the median
of the per-round ratios. The order of the functions changes from round to round (a balanced Latin
square), so that no function always runs right after the same other one.

After a multi-threaded product, OpenBLAS keeps its helper threads spinning (busy-waiting for more
work) for about 0.1-0.2 s on this kind of machine; a call that starts meanwhile shares the cores
with them; ``chunked_attention(..., workers=None)``, which runs threads of its own, suffers most
from it. So the chunked goals are judged in two regimes, and count as met only if they hold in
both:

- *settled*: each timed call starts after a pause of ``SETTLE_SECONDS``, once the previous call's
  BLAS threads have gone to sleep (the pause applies to every function alike, the floor included);
- *back to back*: no pause, each call starts as soon as the previous timed call returns (another
  attention call or the floor; close to a model, where attention runs right after the matrix
  product that computed its queries, which is also timed on its own, not judged).

The judged numbers are the worse of the two, for the default call (``workers=1``: no threads of
its own; BLAS still uses every core). Reported beside them, not judged: ``workers=None`` (one
thread per CPU), the attention call right after a query projection ``x @ w_q``, and many short
heads.

Run ``python -m benchmarks.bench_attention`` for these two entries alone.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc

import numpy as np

from attn_helpers import chunked_attention, scaled_dot_product_attention

SDPA_GOAL_RATIO = 12.0
CHUNKED_GOAL_RATIO = 2.5
CHUNKED_GOAL_SPEEDUP = 2.0
CHUNKED_GOAL_MEMORY_FRACTION = 0.10
MEMORY_SEQ_LEN = 16384
SETTLE_SECONDS = 0.25
REGIMES = {"settled": SETTLE_SECONDS, "back_to_back": 0.0}  # name: pause before each timed call
JUDGED_SHAPES = ((8, 1024, 64), (1, 4096, 64))
SPEEDUP_SHAPE = (1, 4096, 64)
PROJECTION_D_MODEL = 256  # x (seq_len, 256) @ w_q (256, head_dim), before the attention call
MANY_HEADS_SHAPE = (256, 64, 64)  # 256 heads of 64 tokens
CAUSAL_GOAL_RATIO = 0.6  # chunked_attention(causal=True) time / unmasked time, at SPEEDUP_SHAPE
CAUSAL_WINDOW = 512  # the sliding window reported beside it (not judged)
EXTRA_REPEATS = 5  # at most this many rounds for the cases that are reported, not judged


def _inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(shape).astype(dtype) for _ in range(3))  # q, k, v


def _floor(q, k, v):
    """The two products of attention into preallocated buffers (allocated once, outside timing)."""
    *lead, t, _ = q.shape
    scores = np.empty((*lead, t, k.shape[-2]), dtype=q.dtype)  # (..., T_q, T_k)
    output = np.empty((*lead, t, v.shape[-1]), dtype=q.dtype)  # (..., T_q, d_v)
    k_t = k.swapaxes(-1, -2)

    def run():
        np.matmul(q, k_t, out=scores)
        np.matmul(scores, v, out=output)

    return run


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def round_orders(n: int) -> list[list[int]]:
    """Orders of ``n`` functions, one per round: a balanced Latin square (Williams design).

    Row ``r`` is the first row with every index shifted by ``r`` (mod ``n``), so each function
    runs first once per cycle, and each runs right after every other one equally often (for odd
    ``n`` the reversed rows are appended, which makes the cycle ``2 n`` rounds).
    """
    first, low, high = [0], 1, n - 1
    while low <= high:
        first.append(low)
        if low != high:
            first.append(high)
        low, high = low + 1, high - 1
    rows = [[(i + r) % n for i in first] for r in range(n)]
    return rows if n % 2 == 0 else rows + [row[::-1] for row in rows]


def compare(fns: dict, *, repeats: int, settle: float = SETTLE_SECONDS, before=None) -> dict:
    """Median seconds of each function in ``fns``, timed round-robin ``repeats`` times.

    Each timed call starts ``settle`` seconds after the previous one ended (0: back to back); the
    order changes every round (``round_orders``). ``before``, if given, runs right before each
    timed call, after the pause, and is timed separately.

    Returns ``{name: {"seconds": median, "ratio_to_floor": median of per-round ratios (when
    ``fns`` has a "floor"), "times": every round's seconds}}``, plus ``"before_seconds"`` (median
    of ``before``'s times) when ``before`` is given.
    """
    names = list(fns)
    for fn in fns.values():  # warm-up: first-touch page faults, BLAS thread start-up
        if before is not None:
            before()
        fn()
    times = {name: [] for name in names}
    before_times = []
    orders = round_orders(len(names))
    gc.collect()
    for i in range(repeats):
        for name in (names[j] for j in orders[i % len(orders)]):
            time.sleep(settle)
            if before is not None:
                before_times.append(_time(before))
            times[name].append(_time(fns[name]))
    out = {}
    for name, ts in times.items():
        out[name] = {"seconds": statistics.median(ts), "times": ts}
        if "floor" in times:
            out[name]["ratio_to_floor"] = statistics.median(
                t / f for t, f in zip(ts, times["floor"])
            )
    if before is not None:
        out["before_seconds"] = statistics.median(before_times)
    return out


def paired_ratio(numerator: dict, denominator: dict) -> float:
    """Median over the rounds of numerator time / denominator time (same round, same load)."""
    return statistics.median(a / b for a, b in zip(numerator["times"], denominator["times"]))


def bench_sdpa(repeats: int = 7) -> dict:
    """``scaled_dot_product_attention`` at (heads=8, seq_len=1024, head_dim=64), float32 and float64."""
    cases = {}
    for dtype in ("float32", "float64"):
        q, k, v = _inputs((8, 1024, 64), dtype)
        r = compare(
            {
                "floor": _floor(q, k, v),
                "sdpa": lambda q=q, k=k, v=v: scaled_dot_product_attention(q, k, v),
            },
            repeats=repeats,
        )
        cases[f"(8, 1024, 64) {dtype}"] = {
            "seconds": r["sdpa"]["seconds"],
            "floor_seconds": r["floor"]["seconds"],
            "ratio_to_floor": r["sdpa"]["ratio_to_floor"],
        }
    worst = max(c["ratio_to_floor"] for c in cases.values())
    return {
        "goal": (
            f"ratio to the floor <= {SDPA_GOAL_RATIO:g} at (8, 1024, 64), float32 and float64, "
            f"after a {SETTLE_SECONDS:g} s pause before each call"
        ),
        "met": worst <= SDPA_GOAL_RATIO,
        "worst_ratio_to_floor": worst,
        "cases": cases,
        "repeats": repeats,
        "settle_seconds": SETTLE_SECONDS,
    }


def peak_memory(fn) -> int:
    """Peak bytes allocated through numpy/Python while ``fn()`` runs (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def _attention_fns(q, k, v) -> dict:
    """The floor and the three attention calls compared in every chunked case."""
    return {
        "floor": _floor(q, k, v),
        "chunked": lambda: chunked_attention(q, k, v),
        "chunked_threads": lambda: chunked_attention(q, k, v, workers=None),
        "sdpa": lambda: scaled_dot_product_attention(q, k, v),
    }


def _against(r: dict, name: str) -> dict:
    """One function's numbers in one ``compare`` result, beside the floor's and sdpa's."""
    return {
        "seconds": r[name]["seconds"],
        "floor_seconds": r["floor"]["seconds"],
        "sdpa_seconds": r["sdpa"]["seconds"],
        "ratio_to_floor": r[name]["ratio_to_floor"],
        "speedup_over_sdpa": paired_ratio(r["sdpa"], r[name]),
    }


def _judged_case(shape, repeats: int) -> dict:
    """Chunked (default, workers=1) in both regimes; the top-level numbers are the worse regime's."""
    fns = _attention_fns(*_inputs(shape, "float32"))
    case = {"threads": {}}
    for regime, settle in REGIMES.items():
        r = compare(fns, repeats=repeats, settle=settle)
        case[regime] = _against(r, "chunked")
        case["threads"][regime] = _against(r, "chunked_threads")
    ratio_regime = max(REGIMES, key=lambda g: case[g]["ratio_to_floor"])
    speedup_regime = min(REGIMES, key=lambda g: case[g]["speedup_over_sdpa"])
    return {
        # seconds, floor_seconds and sdpa_seconds: from the regime with the worse ratio
        **{key: case[ratio_regime][key] for key in ("seconds", "floor_seconds", "sdpa_seconds")},
        "ratio_to_floor": case[ratio_regime]["ratio_to_floor"],
        "speedup_over_sdpa": case[speedup_regime]["speedup_over_sdpa"],
        "worse_regime": {"ratio_to_floor": ratio_regime, "speedup_over_sdpa": speedup_regime},
        **case,
    }


def _projection_then_attention(repeats: int) -> dict:
    """Each attention call right after ``x @ w_q`` (multi-threaded BLAS); only the call is timed."""
    q, k, v = _inputs(SPEEDUP_SHAPE, "float32")
    rng = np.random.default_rng(1)
    seq_len, head_dim = SPEEDUP_SHAPE[-2:]
    x = rng.standard_normal((seq_len, PROJECTION_D_MODEL)).astype("float32")
    w_q = (rng.standard_normal((PROJECTION_D_MODEL, head_dim)) / PROJECTION_D_MODEL**0.5).astype(
        "float32"
    )

    def project():  # the queries every attention call then reads
        np.matmul(x, w_q, out=q[0])

    r = compare(_attention_fns(q, k, v), repeats=repeats, settle=SETTLE_SECONDS, before=project)
    return {
        "description": (
            f"x {x.shape} @ w_q {w_q.shape} into the queries, then at once the attention call "
            f"{SPEEDUP_SHAPE} float32; the attention call alone is timed (the floor too follows a "
            "projection); a pause before each projection"
        ),
        "projection_seconds": r["before_seconds"],
        **{name: _against(r, name) for name in ("chunked", "chunked_threads", "sdpa")},
    }


def _many_heads(repeats: int) -> dict:
    """Many short heads, both regimes: thread start-up and per-head overheads dominate."""
    fns = _attention_fns(*_inputs(MANY_HEADS_SHAPE, "float32"))
    out = {"heads": MANY_HEADS_SHAPE[0], "seq_len": MANY_HEADS_SHAPE[1]}
    for regime, settle in REGIMES.items():
        r = compare(fns, repeats=repeats, settle=settle)
        out[regime] = {name: _against(r, name) for name in ("chunked", "chunked_threads", "sdpa")}
    return out


def bench_chunked(repeats: int = 7) -> dict:
    """``chunked_attention``: ratio to the floor, speed-up over the plain version, peak memory."""
    cases = {f"{shape} float32": _judged_case(shape, repeats) for shape in JUDGED_SHAPES}
    extra_repeats = min(repeats, EXTRA_REPEATS)
    not_judged = {
        f"projection then attention {SPEEDUP_SHAPE} float32": _projection_then_attention(
            extra_repeats
        ),
        f"many heads {MANY_HEADS_SHAPE} float32": _many_heads(extra_repeats),
    }
    # Peak memory at a length where the plain version would need gigabytes (not run: computed).
    q, k, v = _inputs((1, MEMORY_SEQ_LEN, 64), "float32")
    inputs_bytes = q.nbytes + k.nbytes + v.nbytes
    start = time.perf_counter()
    peak = peak_memory(lambda: chunked_attention(q, k, v))
    seconds_16k = time.perf_counter() - start
    weights_bytes = MEMORY_SEQ_LEN * MEMORY_SEQ_LEN * np.dtype("float32").itemsize
    fraction = peak / weights_bytes
    worst_ratio = max(c["ratio_to_floor"] for c in cases.values())  # over shapes and regimes
    speedup = cases[f"{SPEEDUP_SHAPE} float32"]["speedup_over_sdpa"]  # the worse regime's
    return {
        "goal": (
            f"ratio to the floor <= {CHUNKED_GOAL_RATIO:g} at (8, 1024, 64) and (1, 4096, 64) "
            f"float32; >= {CHUNKED_GOAL_SPEEDUP:g}x faster than scaled_dot_product_attention at "
            f"(1, 4096, 64); both judged after a {SETTLE_SECONDS:g} s pause before each call and "
            f"back to back (no pause), the worse counting; peak memory at seq_len "
            f"{MEMORY_SEQ_LEN}, head_dim 64 (default workers) <= "
            f"{CHUNKED_GOAL_MEMORY_FRACTION:.0%} of the (T, T) weight matrix"
        ),
        "met": (
            worst_ratio <= CHUNKED_GOAL_RATIO
            and speedup >= CHUNKED_GOAL_SPEEDUP
            and fraction <= CHUNKED_GOAL_MEMORY_FRACTION
        ),
        "met_ratio": worst_ratio <= CHUNKED_GOAL_RATIO,
        "met_speedup": speedup >= CHUNKED_GOAL_SPEEDUP,
        "met_memory": fraction <= CHUNKED_GOAL_MEMORY_FRACTION,
        "worst_ratio_to_floor": worst_ratio,
        "speedup_over_sdpa_at_4096": speedup,
        "cases": cases,
        "not_judged": not_judged,
        "memory": {
            "seq_len": MEMORY_SEQ_LEN,
            "head_dim": 64,
            "dtype": "float32",
            "peak_bytes": peak,
            "weights_matrix_bytes": weights_bytes,
            "fraction_of_weights_matrix": fraction,
            "inputs_bytes": inputs_bytes,
            "seconds_under_tracemalloc": seconds_16k,
        },
        "repeats": repeats,
        "extra_repeats": extra_repeats,
        "regimes": {
            name: f"{settle:g} s pause before each timed call" for name, settle in REGIMES.items()
        },
        "settle_seconds": SETTLE_SECONDS,
        "workers": "default (workers=1); workers=None (one thread per CPU) reported, not judged",
    }


def bench_causal(repeats: int = 7) -> dict:
    """Causal tile skipping: ``chunked_attention(causal=True)`` against the same call unmasked.

    Judged as issue 13 measured it ("one BLAS thread each"), in both regimes (the worse counts),
    as a median of per-round ratios. Reported, not judged: the same with the BLAS library's own
    thread count (there the many smaller products of the diagonal gain less from a second
    thread), the same causal attention given as a stored ``causal_mask`` (every tile computed,
    then masked), a sliding window of ``CAUSAL_WINDOW`` tokens, and the plain version with
    ``causal_mask``.
    """
    from threadpoolctl import threadpool_limits

    from attn_helpers import causal_mask

    q, k, v = _inputs(SPEEDUP_SHAPE, "float32")
    mask = causal_mask(SPEEDUP_SHAPE[-2])
    fns = {
        "unmasked": lambda: chunked_attention(q, k, v),
        "causal": lambda: chunked_attention(q, k, v, causal=True),
        "stored_mask": lambda: chunked_attention(q, k, v, mask=mask),
        "window": lambda: chunked_attention(q, k, v, window=CAUSAL_WINDOW),
        "sdpa_causal_mask": lambda: scaled_dot_product_attention(q, k, v, mask=mask),
    }

    def measure(regimes_to_run):
        out = {}
        for regime, settle in regimes_to_run.items():
            r = compare(fns, repeats=repeats, settle=settle)
            out[regime] = {
                "seconds": {name: r[name]["seconds"] for name in fns},
                "ratio_to_unmasked": {
                    name: paired_ratio(r[name], r["unmasked"]) for name in fns if name != "unmasked"
                },
            }
        return out

    with threadpool_limits(1):  # judged: one BLAS thread, as the issue measured
        regimes = measure(REGIMES)
    default_threads = measure({"settled": SETTLE_SECONDS})  # reported, not judged
    worse = max(REGIMES, key=lambda g: regimes[g]["ratio_to_unmasked"]["causal"])
    ratio = regimes[worse]["ratio_to_unmasked"]["causal"]
    return {
        "goal": (
            f"chunked_attention(causal=True) <= {CAUSAL_GOAL_RATIO:g}x the unmasked time at "
            f"{SPEEDUP_SHAPE} float32, one BLAS thread, in both regimes (the worse counts)"
        ),
        "met": ratio <= CAUSAL_GOAL_RATIO,
        "ratio": ratio,
        "worse_regime": worse,
        "default_blas_threads": default_threads,
        "shape": list(SPEEDUP_SHAPE),
        "window": CAUSAL_WINDOW,
        "regimes": regimes,
        "repeats": repeats,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(
        json.dumps(
            {"sdpa": bench_sdpa(), "chunked": bench_chunked(), "causal": bench_causal()}, indent=2
        )
    )
