"""The load benchmark's users: added through the API, a first tip each, their inputs
changed during the load, and, afterwards, when each change reached a stored tip.

A change rewrites one overdue task of the user (``bench-change``, priority 1) with a new
title, so the tasks agent's snippet changes as soon as the agent re-runs for that user.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.machine import cpu_seconds, stat_fields
from bench.product import ProductProcess
from nudge.settings import REPO_ROOT

EXTRA_USERS = 20
CONSENTS = ("tasks.read", "calendar.read", "habits.read")
CHANGED_TASK = "bench-change"
CHANGED_AGENT = "tasks"  # the agent that reads the changed signal
SETUP_CALLS = 16  # requests in flight while adding users
FIRST_TIP_CALLS = 4  # first tips asked at once (the model writes 2 at a time)
IDLE_CORES = 0.2  # below this the product has finished re-running the new users' agents
IDLE_WAIT_S = 120.0


@dataclass(frozen=True, slots=True)
class Change:
    """One change of a user's inputs: wall-clock times before and after its POST."""

    user: str
    sent: float
    done: float


@dataclass(frozen=True, slots=True)
class WrittenTip:
    tip_id: str
    created_at: float
    fallback_reason: str | None
    inputs_at: float | None
    """When the changed agent computed the snippet this tip was made from."""


def client(product: ProductProcess, connections: int = SETUP_CALLS) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        base_url=product.base_url,
        headers=product.headers,
        timeout=120,
        limits=limits,
        trust_env=False,
    )


def add_users(product: ProductProcess, count: int = EXTRA_USERS) -> list[str]:
    """Add ``count`` users with three tasks and a meeting each, every consent granted."""
    users = [f"load-{i:03d}" for i in range(count)]
    asyncio.run(_add_users(product, users))
    return users


async def _add_users(product: ProductProcess, users: Sequence[str]) -> None:
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(SETUP_CALLS)
    async with client(product) as c:

        async def add(i: int, user: str) -> None:
            async with gate:
                r = await c.put(f"/v1/users/{user}", json={"timezone": "Europe/Paris"})
                r.raise_for_status()
                for key in CONSENTS:
                    r = await c.put(f"/v1/users/{user}/consents/{key}", json={"granted": True})
                    r.raise_for_status()
                r = await c.post(f"/v1/users/{user}/signals", json=_signals(user, i, now))
                r.raise_for_status()

        await asyncio.gather(*(add(i, u) for i, u in enumerate(users)))


def _signals(user: str, i: int, now: datetime) -> dict[str, Any]:
    start = now + timedelta(hours=1 + i % 5)
    tasks = [
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
    ]
    meeting = {
        "kind": "calendar_event",
        "external_id": "e1",
        "payload": {
            "title": f"Review with team {i}",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=45)).isoformat(),
        },
        "occurred_at": now.isoformat(),
    }
    return {"signals": [*tasks, meeting]}


def change_body(n: int) -> dict[str, Any]:
    """The signal batch of change ``n``: the user's overdue task under a new title."""
    now = datetime.now(UTC)
    payload = {
        "title": f"Call the supplier about order {n}",
        "due": (now - timedelta(days=1)).date().isoformat(),
        "priority": 1,
    }
    signal = {
        "kind": "task",
        "external_id": CHANGED_TASK,
        "payload": payload,
        "occurred_at": now.isoformat(),
    }
    return {"signals": [signal]}


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


def first_tips(product: ProductProcess, users: Sequence[str]) -> dict[str, Any]:
    """Once the product is idle, ask every user's first tip, waiting up to 30 s for the
    model's (not timed): the signals just posted re-run agents first, and tips asked
    meanwhile would time out and open the circuit."""
    idle_after = wait_idle(product.pid)
    return {"idle_after_s": idle_after, **asyncio.run(_first_tips(product, users))}


def wait_idle(pid: int) -> float:
    """Seconds until the process used less than ``IDLE_CORES`` over one second."""
    started = time.monotonic()

    def cpu_s() -> float:
        return cpu_seconds(stat_fields(Path(f"/proc/{pid}/stat")))

    last = cpu_s()
    while time.monotonic() - started < IDLE_WAIT_S:
        time.sleep(1.0)
        now = cpu_s()
        if now - last < IDLE_CORES:
            break
        last = now
    return time.monotonic() - started


async def _first_tips(product: ProductProcess, users: Sequence[str]) -> dict[str, Any]:
    gate = asyncio.Semaphore(FIRST_TIP_CALLS)
    fallbacks = 0
    started = time.perf_counter()
    async with client(product, FIRST_TIP_CALLS) as c:

        async def first(user: str) -> None:
            nonlocal fallbacks
            async with gate:
                r = await c.get(f"/v1/users/{user}/tip", params={"wait": 30})
                r.raise_for_status()
                fallbacks += bool(r.json()["fallback"])

        await asyncio.gather(*(first(u) for u in users))
    return {"seconds": time.perf_counter() - started, "fallbacks": fallbacks}


def written_tips(
    product: ProductProcess, users: Sequence[str], since: float, until: float
) -> dict[str, list[WrittenTip]]:
    """Each user's tips stored between ``since`` and ``until``, oldest first, with the time
    the changed agent's snippet they were made from was computed (from the provenance)."""
    return asyncio.run(_written_tips(product, users, since, until))


async def _written_tips(
    product: ProductProcess, users: Sequence[str], since: float, until: float
) -> dict[str, list[WrittenTip]]:
    gate = asyncio.Semaphore(SETUP_CALLS)
    found: dict[str, list[WrittenTip]] = {}
    async with client(product) as c:

        async def explain(tip_id: str, created_at: float) -> WrittenTip:
            async with gate:
                r = await c.get(f"/v1/tips/{tip_id}/explain")
            r.raise_for_status()
            body = r.json()
            inputs_at = next(
                (
                    _ts(e["computed_at"])
                    for e in body["provenance"]["eligible"]
                    if e["agent_id"] == CHANGED_AGENT
                ),
                None,
            )
            return WrittenTip(tip_id, created_at, body["fallback_reason"], inputs_at)

        async def of_user(user: str) -> None:
            async with gate:
                r = await c.get(f"/v1/users/{user}/tips", params={"limit": 100})
            r.raise_for_status()
            made = [(t["tip_id"], _ts(t["created_at"])) for t in r.json()]
            made = sorted((t for t in made if since <= t[1] <= until), key=lambda t: t[1])
            found[user] = list(await asyncio.gather(*(explain(i, at) for i, at in made)))

        await asyncio.gather(*(of_user(u) for u in users))
    return found


def _ts(iso: str) -> float:
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
