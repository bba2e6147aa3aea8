"""Writing a tip under the lease on its inputs, or waiting for the one another API process,
holding that lease, writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from ml.serving.tip.plan import Plan
from ml.serving.tip.provenance import Generation
from ml.serving.tip.tip_lease import TipLeases
from ml.serving.tip.tip_store import TipHead, TipStore
from ml.serving.tip.tip_writer import PENDING


@dataclass(frozen=True, slots=True)
class Made:
    """A tip written for one user and inputs."""

    tip: TipHead
    generation: Generation | None
    """None when another process, holding the lease on these inputs, wrote the tip."""


async def under_lease(
    leases: TipLeases, tips: TipStore, plan: Plan, write: Callable[[], Awaitable[Made]]
) -> Made | None:
    """``write()`` while holding the lease on the plan's inputs; None while another
    process holds it."""
    key = (plan.profile.user_id, plan.fingerprint)
    if not await anyio.to_thread.run_sync(leases.acquire, *key):
        return None
    try:
        # Another process may have finished between our plan and our lease.
        theirs = await anyio.to_thread.run_sync(newer_tip, tips, plan)
        return Made(theirs, None) if theirs is not None else await write()
    finally:
        await anyio.to_thread.run_sync(leases.release, *key)


def newer_tip(tips: TipStore, plan: Plan) -> TipHead | None:
    """A tip for the plan's inputs made since the tip the plan saw (not a pending
    fallback, which may have been stored after it)."""
    before = plan.last_tip
    after = None if before is None else before.created_at
    return tips.written_for(plan.profile.user_id, plan.fingerprint, after=after, pending=PENDING)


async def written_elsewhere(tips: TipStore, leases: TipLeases, plan: Plan) -> TipHead | None:
    """Wait while another process holds the lease: its tip once stored, or None when the
    lease went without one (it failed or expired: try to take it)."""
    pause = 0.05
    key = (plan.profile.user_id, plan.fingerprint)
    while True:
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
        theirs = await anyio.to_thread.run_sync(newer_tip, tips, plan)
        if theirs is not None:
            return theirs
        if not await anyio.to_thread.run_sync(leases.held_elsewhere, *key):
            return await anyio.to_thread.run_sync(newer_tip, tips, plan)
