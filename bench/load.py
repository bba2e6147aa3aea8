"""A bounded loopback load on the tip endpoint of a real ``nudge run`` (embedded LLM).

50 concurrent callers for 60 s (10 for 15 s with --quick), each in a loop over 22 users
(alice, bob and 20 more with a few tasks and events each, swept before the load):
nine polls in ten are plain ``GET …/tip`` (served again when nothing changed), one in ten
asks ``?refresh=true`` (a new tip, so an LLM call or a fallback). Counted: errors
(anything but 200, or no answer), latency per kind of request, and the process's RSS
sampled every second, comparing the first and the last 10 s.

The floor is the same load on ``GET /healthz`` for 10 s: the cost of the HTTP path alone.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.context import BenchContext
from bench.product import ProductProcess, read_status
from bench.stats import fmt_bytes, fmt_ms, render_table, summarize
from nudge.settings import REPO_ROOT

NAME = "load"
EXTRA_USERS = 20
MAX_GROWTH = 1.10  # last-10-s RSS over first-10-s RSS


def run(ctx: BenchContext) -> dict[str, Any]:
    callers, seconds = ctx.n(50, 10), ctx.n(60, 15)
    data = ctx.tmpdir("load-")
    product = ProductProcess.spawn(data)
    ctx.on_close(product.stop)
    product.wait_ready()
    users = ["alice", "bob", *add_users(product)]
    sweep_now(product)
    floor = asyncio.run(drive(product, ["healthz"], callers, min(seconds, 10), refresh_share=0))
    load = asyncio.run(drive(product, users, callers, seconds, refresh_share=0.1))
    product.stop()
    return _report(ctx, callers, seconds, users, floor, load)


def add_users(product: ProductProcess) -> list[str]:
    now = datetime.now(UTC)
    added = []
    with httpx.Client(
        base_url=product.base_url, headers=product.headers, timeout=30, trust_env=False
    ) as c:
        for i in range(EXTRA_USERS):
            user = f"load-{i:02d}"
            c.put(f"/v1/users/{user}", json={"timezone": "Europe/Paris"}).raise_for_status()
            for key in ("tasks.read", "calendar.read", "habits.read"):
                c.put(f"/v1/users/{user}/consents/{key}", json={"granted": True})
            start = now + timedelta(hours=1 + i % 5)
            signals = [
                {
                    "kind": "task",
                    "external_id": f"t{j}",
                    "payload": {
                        "title": f"Task {j} of {user}",
                        "due": (now + timedelta(days=j - 1)).date().isoformat(),
                        "priority": 1 + j % 3,
                    },
                    "occurred_at": now.isoformat(),
                }
                for j in range(3)
            ] + [
                {
                    "kind": "calendar_event",
                    "external_id": "e1",
                    "payload": {
                        "title": f"Review with team {i}",
                        "start": start.isoformat(),
                        "end": (start + timedelta(minutes=45)).isoformat(),
                    },
                    "occurred_at": now.isoformat(),
                }
            ]
            c.post(f"/v1/users/{user}/signals", json={"signals": signals}).raise_for_status()
            added.append(user)
    return added


def sweep_now(product: ProductProcess) -> None:
    """Compute the new users' outputs now (the scheduler would within 15 minutes)."""
    env = {**os.environ, "NUDGE_DATA_DIR": str(product.data_dir), "NUDGE_EMBEDDED_LLM": "false"}
    env.pop("DATABASE_URL", None)
    env.pop("NATS_URL", None)
    subprocess.run(
        [sys.executable, "-m", "nudge.cli", "sweep"],
        env=env,
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )


async def drive(
    product: ProductProcess, users: list[str], callers: int, seconds: float, refresh_share: float
) -> dict[str, Any]:
    stop_at = time.monotonic() + seconds
    latencies: dict[str, list[float]] = {"poll": [], "refresh": [], "healthz": []}
    errors: Counter[str] = Counter()
    rss: list[tuple[float, int]] = []

    async def sample() -> None:
        started = time.monotonic()
        while time.monotonic() < stop_at:
            rss.append((time.monotonic() - started, read_status(product.pid)["VmRSS"]))
            await asyncio.sleep(1.0)

    async def caller(k: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(k)
        while time.monotonic() < stop_at:
            user = rng.choice(users)
            if user == "healthz":
                kind, url, params = "healthz", "/healthz", {}
            elif rng.random() < refresh_share:
                kind, url, params = "refresh", f"/v1/users/{user}/tip", {"refresh": "true"}
            else:
                kind, url, params = "poll", f"/v1/users/{user}/tip", {}
            started = time.perf_counter()
            try:
                r = await client.get(url, params=params)
                if r.status_code != 200:
                    errors[f"HTTP {r.status_code}"] += 1
                    continue
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies[kind].append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=callers, max_keepalive_connections=callers)
    async with httpx.AsyncClient(
        base_url=product.base_url,
        headers=product.headers,
        timeout=120,
        limits=limits,
        trust_env=False,
    ) as client:
        await asyncio.gather(sample(), *(caller(k, client) for k in range(callers)))
    return {"latencies": latencies, "errors": errors, "rss": rss}


def _report(
    ctx: BenchContext,
    callers: int,
    seconds: int,
    users: list[str],
    floor: dict[str, Any],
    load: dict[str, Any],
) -> dict[str, Any]:
    rows = []
    stats: dict[str, Any] = {}
    for label, run_ in (("healthz (floor)", floor), ("tip", load)):
        for kind, values in run_["latencies"].items():
            if not values:
                continue
            s = summarize(values)
            stats[f"{label}:{kind}"] = s.as_dict()
            rows.append([label, kind, s.n, fmt_ms(s.p50), fmt_ms(s.p95), fmt_ms(s.p99)])
    ctx.say(
        f"{callers} concurrent callers for {seconds} s over {len(users)} users "
        "(9 polls in 10, 1 refresh in 10), one `nudge run` process with the embedded LLM"
    )
    ctx.say(render_table(["load", "request", "n", "p50", "p95", "p99"], rows))
    errors = sum(load["errors"].values()) + sum(floor["errors"].values())
    rss = load["rss"]
    first = [v for t, v in rss if t < 10]
    last = [v for t, v in rss if t >= rss[-1][0] - 10]
    growth = (sum(last) / len(last)) / (sum(first) / len(first)) if first and last else 1.0
    total = sum(len(v) for v in load["latencies"].values())
    ctx.say(
        f"requests {total} ({total / seconds:.0f}/s), errors {errors} "
        f"{dict(load['errors']) or ''}; RSS first 10 s {fmt_bytes(1024 * sum(first) / len(first))}"
        f", last 10 s {fmt_bytes(1024 * sum(last) / len(last))} ({growth:.3f}x)"
    )
    ctx.check(NAME, "errors under load", errors, 0, "at_most")
    ctx.check(NAME, "RSS last/first 10 s", growth, MAX_GROWTH, "at_most")
    return {
        "callers": callers,
        "seconds": seconds,
        "users": len(users),
        "requests": total,
        "errors": dict(load["errors"]),
        "floor_errors": dict(floor["errors"]),
        "latency_s": stats,
        "rss_kib": rss,
        "rss_growth": growth,
    }
