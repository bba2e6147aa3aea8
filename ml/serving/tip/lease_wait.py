"""Waiting for a tip that another API process, holding the lease on its inputs, writes."""

from __future__ import annotations

import asyncio

import anyio

from ml.serving.tip.plan import Plan
from ml.serving.tip.tip_lease import TipLeases
from ml.serving.tip.tip_store import TipHead, TipStore
from ml.serving.tip.tip_writer import PENDING


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
