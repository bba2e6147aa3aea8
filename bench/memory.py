"""Peak RSS of the all-in-one ``nudge run`` process (embedded LLM in-process).

Reads ``VmHWM`` from ``/proc/<pid>/status`` (children added, if any) of the process
the cold-start benchmark left running, after a burst of 20 concurrent
``?refresh=true`` tips (alice and bob alternately). Run alone, it starts its own
process and asks for one tip first.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx

from bench.context import BenchContext
from bench.product import ProductProcess
from bench.stats import fmt_bytes, fmt_ms, render_table, summarize, verdict

NAME = "memory"
TARGET_GIB = 1.0
BURST = 20


def run(ctx: BenchContext) -> dict[str, Any]:
    product: ProductProcess | None = ctx.shared.pop("product", None)
    if product is None or product.proc.poll() is not None:
        product = ProductProcess.spawn(ctx.tmpdir("memory-"))
        ctx.on_close(product.stop)
        product.wait_ready()
        with httpx.Client(
            base_url=product.base_url, timeout=120, trust_env=False, headers=product.headers
        ) as client:
            product.tip(client, "alice", refresh=False)
    try:
        before = product.memory()
        started = time.perf_counter()
        latencies, tip_ids = asyncio.run(_burst(product.base_url, product.headers))
        burst_s = time.perf_counter() - started
        after = product.memory()
        fallbacks, llm_ms, tokens = _explain(product.base_url, product.headers, tip_ids)
    finally:
        product.stop()
    hwm_gib = after["total_hwm_kib"] / 2**20
    lat = summarize(latencies)
    rows = [
        ["before the burst", fmt_bytes(before["VmHWM"] * 1024), fmt_bytes(before["VmRSS"] * 1024)],
        ["after the burst", fmt_bytes(after["VmHWM"] * 1024), fmt_bytes(after["VmRSS"] * 1024)],
    ]
    ctx.say(f"pid {after['pid']}, children: {[c['pid'] for c in after['children']] or 'none'}")
    ctx.say(render_table(["", "VmHWM (peak RSS)", "VmRSS"], rows))
    ctx.say(
        f"peak RSS {hwm_gib:.3f} GiB incl. children (target <= {TARGET_GIB:g} GiB: "
        f"{verdict(hwm_gib, TARGET_GIB, 'at_most')}); burst of {BURST} concurrent tips in "
        f"{burst_s:.1f} s, per request p50 {fmt_ms(lat.p50)} p99 {fmt_ms(lat.p99)}, "
        f"served from: {dict(fallbacks)}"
    )
    ctx.say(
        f"burst, server side: LLM call p50 {summarize(llm_ms).p50:.0f} ms "
        f"(max {max(llm_ms):.0f} ms), completion tokens p50 {summarize(tokens).p50:.0f} "
        f"(max {max(tokens)}); requests for one user wait for each other (one lock per user)"
    )
    ctx.check(NAME, "peak RSS (GiB)", hwm_gib, TARGET_GIB, "at_most")
    return {
        "before_kib": before,
        "after_kib": after,
        "peak_rss_gib": hwm_gib,
        "burst": {"n": BURST, "wall_s": burst_s, "latency_s": lat.as_dict()},
        "fallbacks": dict(fallbacks),
        "burst_server_llm_ms": llm_ms,
        "burst_completion_tokens": tokens,
    }


def _explain(
    base_url: str, headers: dict[str, str], tip_ids: list[str]
) -> tuple[Counter[str], list[float], list[int]]:
    """How each burst tip was served, its server-side LLM time (ms) and its tokens."""
    reasons: Counter[str] = Counter()
    llm_ms: list[float] = []
    tokens: list[int] = []
    with httpx.Client(base_url=base_url, timeout=30, trust_env=False, headers=headers) as client:
        for tip_id in tip_ids:
            explain = client.get(f"/v1/tips/{tip_id}/explain").json()
            reasons[str(explain["fallback_reason"] or "llm answer")] += 1
            llm_ms.append(float(explain["provenance"]["latency_ms"]["llm"]))
            tokens.append(int(explain["provenance"]["tokens"]["completion"]))
    return reasons, llm_ms, tokens


async def _burst(base_url: str, headers: dict[str, str]) -> tuple[list[float], list[str]]:
    async with httpx.AsyncClient(
        base_url=base_url, timeout=300, trust_env=False, headers=headers
    ) as client:

        async def one(user: str) -> tuple[float, str]:
            started = time.perf_counter()
            response = await client.get(f"/v1/users/{user}/tip", params={"refresh": "true"})
            response.raise_for_status()
            return time.perf_counter() - started, str(response.json()["tip_id"])

        done = await asyncio.gather(*(one("alice" if i % 2 == 0 else "bob") for i in range(BURST)))
    return [t for t, _ in done], [tip_id for _, tip_id in done]
