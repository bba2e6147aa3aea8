"""Decoding speed with the tip's JSON-schema ``response_format`` against none.

Same model, same messages (the orchestrator's request for ``alice``, captured from a
real tip), the orchestrator's ``max_tokens``, temperature 0; only ``response_format``
differs. Calls
alternate (schema, none / none, schema). Reported: generated tokens, wall-clock
tokens/s (tokens over the whole call) and llama.cpp's own decode rate
(``timings.predicted_per_second``: prompt processing excluded). The ratio is on the
decode rate, the figure the grammar can slow down.
"""

from __future__ import annotations

import asyncio
import copy
import math
import statistics
import time
from typing import Any

from bench.context import BenchContext
from bench.demo_nudge import (
    USER,
    capture_completion_kwargs,
    completion_tokens,
    decode_rate,
    demo_nudge,
)
from bench.stats import fmt_ratio, fmt_target, ratio, render_table, summarize, verdict

NAME = "decode_schema"
TARGET = 0.8


def run(ctx: BenchContext) -> dict[str, Any]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> dict[str, Any]:
    demo = demo_nudge(ctx)
    kwargs: dict[str, Any] | None = ctx.shared.get("tip_request")
    if kwargs is None:
        kwargs = await capture_completion_kwargs(
            demo.litellm, lambda: demo.nudge.orchestrator.tip_for(USER, refresh=True, wait=math.inf)
        )
    if "response_format" not in kwargs:
        raise RuntimeError("the captured tip request has no response_format")
    base = {k: v for k, v in kwargs.items() if k != "response_format"}
    max_tokens = int(kwargs["max_tokens"])  # the orchestrator's own bound, the same for both
    base.update(temperature=0.0, timeout=120)
    variants = {"schema": {**base, "response_format": kwargs["response_format"]}, "none": base}
    per_side, warmup = ctx.n(10, 4), 2
    samples: dict[str, list[dict[str, float]]] = {"schema": [], "none": []}
    for i in range(warmup + per_side):
        order = ("schema", "none") if i % 2 == 0 else ("none", "schema")
        for side in order:
            call = copy.deepcopy(variants[side])
            started = time.perf_counter()
            response = await demo.litellm.acompletion(**call)
            wall = time.perf_counter() - started
            if i < warmup:
                continue
            tokens = completion_tokens(response)
            samples[side].append(
                {
                    "tokens": tokens,
                    "wall_s": wall,
                    "wall_tps": tokens / wall if wall else 0.0,
                    "decode_tps": decode_rate(response) or 0.0,
                    "finish": 1.0 if response.choices[0].finish_reason == "length" else 0.0,
                }
            )
    return _report(ctx, samples, per_side, max_tokens)


def _report(
    ctx: BenchContext, samples: dict[str, list[dict[str, float]]], n: int, max_tokens: int
) -> dict[str, Any]:
    def col(side: str, key: str) -> list[float]:
        return [s[key] for s in samples[side]]

    rows = []
    summary: dict[str, Any] = {}
    for side in ("schema", "none"):
        decode = summarize(col(side, "decode_tps"))
        wall = summarize(col(side, "wall_tps"))
        tokens = col(side, "tokens")
        cut = int(sum(col(side, "finish")))
        rows.append(
            [
                "json_schema" if side == "schema" else "no response_format",
                decode.n,
                f"{statistics.median(tokens):.0f} ({min(tokens):.0f}-{max(tokens):.0f})",
                f"{cut}/{decode.n}",
                f"{decode.p50:.1f}",
                f"{decode.min:.1f}",
                f"{wall.p50:.1f}",
                f"{summarize(col(side, 'wall_s')).p50:.2f} s",
            ]
        )
        summary[side] = {
            "decode_tps": decode.as_dict(),
            "wall_tps": wall.as_dict(),
            "tokens": tokens,
            "hit_max_tokens": cut,
        }
    decode_ratio = ratio(
        summary["schema"]["decode_tps"]["p50"], summary["none"]["decode_tps"]["p50"]
    )
    wall_ratio = ratio(summary["schema"]["wall_tps"]["p50"], summary["none"]["wall_tps"]["p50"])
    ctx.say(
        f"same messages as the tip, max_tokens={max_tokens} (the orchestrator's), temperature 0; "
        f"{n} calls each, interleaved; warm-up 2 each excluded"
    )
    ctx.say(
        render_table(
            [
                "response_format",
                "n",
                "tokens p50 (range)",
                "hit max",
                "decode tok/s p50",
                "min",
                "wall tok/s p50",
                "wall p50",
            ],
            rows,
        )
    )
    ctx.say(
        f"ratio schema/none: decode tok/s {fmt_ratio(decode_ratio)} "
        f"(target {fmt_target(TARGET, 'at_least')}: {verdict(decode_ratio, TARGET, 'at_least')}), "
        f"wall tok/s {fmt_ratio(wall_ratio)}"
    )
    ctx.check(NAME, "decode tok/s ratio schema/none (p50)", decode_ratio, TARGET, "at_least")
    return {
        **summary,
        "ratio_decode_p50": decode_ratio,
        "ratio_wall_p50": wall_ratio,
        "max_tokens": max_tokens,
    }
