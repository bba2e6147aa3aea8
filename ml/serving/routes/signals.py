"""Signals in: a batch per user, all stored or none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, Depends
from nudge_profile.api import UserIdPath

from ml.serving.schemas import SignalsAccepted
from nudge.errors import Invalid
from nudge.signals import SignalBatch, SignalStore


def make_router(
    signals: SignalStore, caller: Callable[..., Any], on_ingest: Callable[[], None]
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["signals"], dependencies=[Depends(caller)])

    @router.post("/users/{user_id}/signals", response_model=SignalsAccepted)
    async def post_signals(user_id: UserIdPath, body: SignalBatch) -> SignalsAccepted:
        """Upsert signals by (kind, external_id); a bad item rejects the batch, naming its index."""
        reserved = body.reserved()
        if reserved:
            raise Invalid("signals of reserved kinds; nothing was stored", details=reserved)
        stored = await anyio.to_thread.run_sync(signals.ingest, user_id, body.signals)
        on_ingest()
        return SignalsAccepted(user_id=user_id, stored=stored)

    return router
