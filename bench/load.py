"""A bounded loopback load on the tip endpoint of a real ``nudge run`` (embedded LLM).

50 concurrent callers for 60 s over 200 users (10 callers for 15 s over 40 users with
--quick): alice, bob and the others added through the API with three tasks, a meeting and
every consent each, swept, and given a first tip (``?wait=30``) before the timed run, so
every poll has a tip to show. Each caller loops: pick a user; one time in ten first change
that user's inputs (POST a task signal: the embedded refresh re-runs the tasks agent for
them, then writes their next tip ahead of the poll); then poll ``GET …/tip``.

In the same run a prober asks ``GET /healthz`` every 75 ms on its own connection, in the
same client event loop as the callers: the event loop's responsiveness while llama.cpp
decodes, measured like the polls. Before the load, 10 s of the same callers on
``/healthz`` alone give the HTTP path's cost with the model idle.

Counted: latency per kind of request, errors (anything but 200, or no answer), the share of
answers marked stale, and per change the freshness lag: from the POST returning to the
first tip stored that was made from the changed snippet (its provenance says when the
tasks agent computed it), and to the first poll that got that tip (or a newer one) not
stale. Afterwards the tips stored during the run are read back through the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.context import BenchContext
from bench.load_report import report
from bench.load_users import (
    Change,
    add_users,
    change_body,
    client,
    first_tips,
    sweep_now,
    written_tips,
)
from bench.machine import cpu_seconds, stat_fields
from bench.product import ProductProcess, read_status

NAME = "load"
CHANGE_SHARE = 0.10
PROBE_EVERY_S = 0.075
FLOOR_S = 10
HEALTHZ = "healthz"

__all__ = ["NAME", "add_users", "drive", "run", "sweep_now"]


def run(ctx: BenchContext) -> dict[str, Any]:
    callers, seconds, count = ctx.n(50, 10), ctx.n(60, 15), ctx.n(200, 40)
    product = ProductProcess.spawn(ctx.tmpdir("load-"))
    ctx.on_close(product.stop)
    product.wait_ready()
    started = time.perf_counter()
    users = ["alice", "bob", *add_users(product, count - 2)]
    sweep_now(product)
    setup = {"users_s": time.perf_counter() - started, "first_tips": first_tips(product, users)}
    floor = asyncio.run(drive(product, [HEALTHZ], callers, min(seconds, FLOOR_S)))
    load = asyncio.run(
        drive(
            product,
            users,
            callers,
            seconds,
            change_share=CHANGE_SHARE,
            probe_every=PROBE_EVERY_S,
        )
    )
    setup["threads_by_nice"] = {n: t for n, (t, _) in thread_cpu(product.pid).items()}
    load["in_app"] = in_app_times(product, load["started"], load["ended"])
    tips = written_tips(product, users, load["started"], load["ended"])
    product.stop()
    return report(ctx, NAME, (callers, seconds, users), setup, floor, load, tips)


async def drive(
    product: ProductProcess,
    users: Sequence[str],
    callers: int,
    seconds: float,
    refresh_share: float = 0.0,
    change_share: float = 0.0,
    probe_every: float | None = None,
) -> dict[str, Any]:
    """``callers`` loops over ``users`` for ``seconds`` (``"healthz"`` as a user: that
    endpoint). ``refresh_share`` of the polls ask ``?refresh=true``; ``change_share`` are
    preceded by a change of the user's inputs; ``probe_every``: the /healthz prober."""
    load = _Drive(product, users, refresh_share, change_share)
    return await load.run(callers, seconds, probe_every)


class _Drive:
    def __init__(
        self,
        product: ProductProcess,
        users: Sequence[str],
        refresh_share: float,
        change_share: float,
    ) -> None:
        self.product = product
        self.users = list(users)
        self.refresh_share = refresh_share
        self.change_share = change_share
        self.latencies: dict[str, list[float]] = {
            k: [] for k in ("poll", "refresh", "change", HEALTHZ)
        }
        self.errors: Counter[str] = Counter()
        self.rss: list[tuple[float, int]] = []
        self.changes: list[Change] = []
        self.answers: dict[str, list[tuple[float, str, bool]]] = defaultdict(list)
        self.answered = Counter[str]()
        self.stop_at = 0.0
        self.sequence = 0

    async def run(self, callers: int, seconds: float, probe_every: float | None) -> dict[str, Any]:
        started, mine = time.time(), os.times()
        product_cpu = thread_cpu(self.product.pid)
        self.stop_at = time.monotonic() + seconds
        async with contextlib.AsyncExitStack() as stack:
            # A client (one connection) per caller, as a gateway's workers would have: one
            # httpx pool shared by 50 callers cost the client 2.5-3 ms of CPU a request and
            # gave /healthz alone a p99 of 0.8-0.9 s, against 0.8-1 ms and 63-76 ms this way.
            own = [
                await stack.enter_async_context(client(self.product, 1)) for _ in range(callers + 1)
            ]
            work = [self._sample(), *(self._caller(k, own[k]) for k in range(callers))]
            if probe_every is not None:
                work.append(self._probe(own[-1], probe_every))
            await asyncio.gather(*work)
        client_cpu = sum(os.times()[:2]) - sum(mine[:2])
        return {
            "product_cpu_s": cpu_used(product_cpu, thread_cpu(self.product.pid)),
            "client_cpu_s": client_cpu,
            "latencies": self.latencies,
            "errors": self.errors,
            "rss": self.rss,
            "changes": self.changes,
            "answers": dict(self.answers),
            "answered": dict(self.answered),
            "started": started,
            "ended": time.time(),
            "seconds": seconds,
        }

    async def _sample(self) -> None:
        started = time.monotonic()
        while time.monotonic() < self.stop_at:
            self.rss.append((time.monotonic() - started, read_status(self.product.pid)["VmRSS"]))
            await asyncio.sleep(1.0)

    async def _probe(self, c: httpx.AsyncClient, every: float) -> None:
        while time.monotonic() < self.stop_at:
            await self._get(c, HEALTHZ, "/healthz")
            await asyncio.sleep(every)

    async def _caller(self, k: int, c: httpx.AsyncClient) -> None:
        rng = random.Random(k)
        while time.monotonic() < self.stop_at:
            user = rng.choice(self.users)
            if user == HEALTHZ:
                await self._get(c, HEALTHZ, "/healthz")
                continue
            if rng.random() < self.change_share:
                await self._change(c, user)
            refresh = rng.random() < self.refresh_share
            kind = "refresh" if refresh else "poll"
            params = {"refresh": "true"} if refresh else {}
            body = await self._get(c, kind, f"/v1/users/{user}/tip", params)
            if body is not None and not refresh:
                self.answers[user].append((time.time(), body["tip_id"], body["stale"]))
                self.answered["all"] += 1
                self.answered["stale"] += bool(body["stale"])
                self.answered["fallback"] += bool(body["fallback"])

    async def _get(
        self, c: httpx.AsyncClient, kind: str, url: str, params: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        started = time.perf_counter()
        try:
            r = await c.get(url, params=params)
        except httpx.HTTPError as exc:
            self.errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        elapsed = time.perf_counter() - started
        if r.status_code != 200:
            self.errors[f"{kind}: HTTP {r.status_code}"] += 1
            return None
        self.latencies[kind].append(elapsed)
        return {} if kind == HEALTHZ else dict(r.json())

    async def _change(self, c: httpx.AsyncClient, user: str) -> None:
        self.sequence += 1
        body = change_body(self.sequence)
        sent, started = time.time(), time.perf_counter()
        try:
            r = await c.post(f"/v1/users/{user}/signals", json=body)
        except httpx.HTTPError as exc:
            self.errors[f"change: {type(exc).__name__}"] += 1
            return
        elapsed = time.perf_counter() - started
        if r.status_code != 200:
            self.errors[f"change: HTTP {r.status_code}"] += 1
            return
        self.latencies["change"].append(elapsed)
        self.changes.append(Change(user, sent, time.time()))


def thread_cpu(pid: int) -> dict[int, tuple[int, float]]:
    """Per nice value of the process's threads: how many, and their CPU seconds so far."""
    found: dict[int, tuple[int, float]] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = stat_fields(task / "stat")
            nice = int(fields[16])  # field 19 of stat, counting from the state (3)
        except (OSError, ValueError, IndexError):
            continue
        threads, total = found.get(nice, (0, 0.0))
        found[nice] = (threads + 1, total + cpu_seconds(fields))
    return dict(sorted(found.items()))


def cpu_used(
    before: dict[int, tuple[int, float]], after: dict[int, tuple[int, float]]
) -> dict[int, float]:
    """CPU seconds used between two ``thread_cpu`` readings, per nice value."""
    return {n: after[n][1] - before.get(n, (0, 0.0))[1] for n in after}


def in_app_times(product: ProductProcess, since: float, until: float) -> dict[str, list[float]]:
    """Seconds the app spent on each request between ``since`` and ``until``, by route, from
    its access log (the middleware's span: not the time a request waited to be read)."""
    found: dict[str, list[float]] = defaultdict(list)
    for _, line in list(product.lines):
        if '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["ts"]).timestamp()
            route, seconds = f"{entry['method']} {entry['route']}", entry["duration_ms"] / 1000
        except (ValueError, KeyError, TypeError):
            continue
        if since <= at <= until:
            found[route].append(seconds)
    return dict(found)
