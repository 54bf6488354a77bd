"""Latency of the explorers: an in-place update against rebuilding the figure.

For each explorer (default sizes), the benchmark sets one control after another ``repeats``
times and measures the kernel-side cost of one change: the observers (compute + artist
updates) plus the one Agg render the browser would ask for, including the PNG frame that is
sent to it. The baseline builds a brand-new figure for the same state and renders it (fewer
repeats: it is the slow path). Goal: median update <= 40 ms and >= 3x faster than rebuilding.

Run ``python -m benchmarks.bench_widgets`` (or ``make bench``, through benchmarks/__main__.py).
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time

GOAL_MS = 40.0
GOAL_SPEEDUP = 3.0


def _cases():
    """(name, builder, [(control, values to cycle through), ...]) for every explorer."""
    from attn_helpers import widgets as w
    from attn_helpers.toy import LAYER_NAMES, TROPHY_SENTENCE, toy_attention

    tokens, weights = toy_attention(TROPHY_SENTENCE)
    from attn_helpers.decoder import train_causal_lm

    decoding_model = train_causal_lm(steps=300, seed=0)  # notebook 09's model, trained once
    return [
        (
            "softmax",
            w.make_softmax_explorer,
            [("score 0", [2.5, 0.0, -1.5, 4.0]), ("temperature", [0.3, 1.0, 3.0])],
        ),
        (
            "scaling",
            w.make_scaling_explorer,
            [("spread", [0.5, 1.0, 1.5]), ("d_k", [16, 64, 256]), ("scale", ["none", "sqrt(d_k)"])],
        ),
        (
            "qkv",
            w.make_qkv_explorer,
            [("q_x", [-2.0, 0.0, 2.0]), ("q_y", [-1.0, 1.0]), ("scale", [0.3, 1.0, 3.0])],
        ),
        ("sentence", w.make_sentence_explorer, [("query", [1, 6, 8, 11]), ("layer", [0, 1])]),
        (
            "heads",
            lambda: w.make_heads_explorer(tokens, weights, layer_names=LAYER_NAMES),
            [("query", [1, 8, 11]), ("right head", [0])],
        ),
        (
            "mask",
            w.make_mask_explorer,
            [("fill", ["-1e9", "safe", "-inf"]), ("num_pad", [1, 2, 3])],
        ),
        (
            "position",
            w.make_position_explorer,
            [
                ("order", ["reversed", "shuffled", "swap 'trophy' and 'suitcase'"]),
                ("positions", [True, False]),
                ("base", [100, 10000]),
            ],
        ),
        (
            "decoding",
            lambda: w.make_decoding_explorer(decoding_model),
            [("step", [1, 4, 8, 11]), ("head", [0, 1])],
        ),
    ]


def _schedule(controls):
    """Alternate between the controls, cycling each one's values: one change per step."""
    cycles = [(name, itertools.cycle(values)) for name, values in controls]
    for name, values in itertools.cycle(cycles):
        yield name, next(values)


def measure(builder, controls, *, repeats=50, rebuild_repeats=None) -> dict:
    """Median update and rebuild times (ms) for one explorer."""
    explorer = builder()
    canvas = explorer.figure.canvas
    if hasattr(canvas, "syncing_data_url"):
        canvas.syncing_data_url = False  # as after the browser's "initialized" message
    explorer.render_now()
    updates, steps = [], _schedule(controls)
    full_before = canvas.full_renders
    gc.collect()
    while len(updates) < repeats:
        name, value = next(steps)
        control = explorer.controls[name]
        if control.value == value:
            continue
        start = time.perf_counter()
        control.value = value  # observers: compute, update artists, request one render
        explorer.render_now()  # the render the browser asks for after draw_idle()
        updates.append(time.perf_counter() - start)
    if explorer.message.value:
        raise RuntimeError(f"the explorer reported a problem: {explorer.message.value}")
    full_renders = canvas.full_renders - full_before
    rebuilds = []
    for _ in range(rebuild_repeats or max(5, repeats // 5)):
        start = time.perf_counter()
        explorer.rebuild_and_render()
        rebuilds.append(time.perf_counter() - start)
    update_ms = 1000 * statistics.median(updates)
    rebuild_ms = 1000 * statistics.median(rebuilds)
    return {
        "update_ms": round(update_ms, 1),
        "update_p90_ms": round(1000 * sorted(updates)[int(0.9 * (len(updates) - 1))], 1),
        "rebuild_ms": round(rebuild_ms, 1),
        "speedup": round(rebuild_ms / update_ms, 1),
        "full_renders": full_renders,
        "updates": len(updates),
        "meets_goal": update_ms <= GOAL_MS and rebuild_ms / update_ms >= GOAL_SPEEDUP,
    }


def run(repeats=50) -> dict:
    """Benchmark every explorer; return {explorer: {update_ms, rebuild_ms, speedup, ...}}.

    ``update_ms`` is the median kernel-side update (compute + one Agg render + PNG frame),
    ``rebuild_ms`` the median time to build and render a new figure instead, ``speedup`` their
    ratio; ``full_renders`` counts updates that needed a full render (tick labels or limits
    changed) rather than redrawing only the changing artists.
    """
    return {
        name: measure(builder, controls, repeats=repeats) for name, builder, controls in _cases()
    }


def report(results: dict) -> str:
    lines = [
        f"{'explorer':<10} {'update':>9} {'p90':>8} {'rebuild':>9} {'speedup':>8}  full/updates  goal"
    ]
    for name, r in results.items():
        lines.append(
            f"{name:<10} {r['update_ms']:>6.1f} ms {r['update_p90_ms']:>5.1f} ms {r['rebuild_ms']:>6.1f} ms "
            f"{r['speedup']:>7.1f}x  {r['full_renders']:>4}/{r['updates']:<7} "
            f"{'ok' if r['meets_goal'] else 'MISSED'}"
        )
    lines.append(
        f"goal: median update <= {GOAL_MS:.0f} ms and >= {GOAL_SPEEDUP:.0f}x faster than a rebuild"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
