"""Signals in: a batch per user, all stored or none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Response

from ml.registry.registry import Registry
from ml.serving.http.auth import CallerDependency
from ml.serving.http.routes.profile_routes import UserIdPath
from ml.serving.http.schemas import SignalKindOut, SignalsAccepted
from nudge_infra.errors import Invalid, NotFound
from nudge_profile.signal_kinds import KIND_PATTERN
from nudge_profile.signals import SignalBatch, SignalStore


def make_router(
    signals: SignalStore,
    caller: CallerDependency,
    on_ingest: Callable[[], None],
    registry: Callable[[], Registry],
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["signals"], dependencies=[Depends(caller)])

    @router.get("/signal-kinds", response_model=list[SignalKindOut])
    async def signal_kinds() -> list[SignalKindOut]:
        """Every kind of signal Nudge accepts: the JSON Schema of its payload, an example,
        how long it is kept, and the agents that read it."""
        agents = registry().agents.values()
        return [
            SignalKindOut(
                kind=k.name,
                description=k.description,
                payload_schema=k.schema,
                example=k.example,
                retention_days=k.retention.days,
                reserved=k.reserved,
                read_by=sorted(a.manifest.id for a in agents if k.name in a.manifest.reads),
            )
            for k in signals.kinds
        ]

    @router.post("/users/{user_id}/signals", response_model=SignalsAccepted)
    async def post_signals(user_id: UserIdPath, body: SignalBatch) -> SignalsAccepted:
        """Upsert signals by (kind, external_id). Each payload must satisfy its kind's schema
        (`GET /v1/signal-kinds`); a bad item rejects the whole batch with 422, naming each
        bad item's index and field."""
        reserved = body.reserved(signals.kinds)
        if reserved:
            raise Invalid("signals of reserved kinds; nothing was stored", details=reserved)
        stored = await anyio.to_thread.run_sync(signals.ingest, user_id, body.signals)
        on_ingest()
        return SignalsAccepted(user_id=user_id, stored=stored)

    @router.delete(
        "/users/{user_id}/signals/{kind}/{external_id}",
        status_code=204,
        responses={404: {"description": "unknown user or signal"}},
    )
    def delete_signal(
        user_id: UserIdPath,
        kind: Annotated[str, Path(pattern=KIND_PATTERN)],
        external_id: Annotated[str, Path(min_length=1, max_length=200)],
    ) -> Response:
        """Forget one signal; agents stop seeing it at their next sweep."""
        if kind in signals.kinds.reserved or not signals.delete(user_id, kind, external_id):
            raise NotFound("signal", f"{kind}/{external_id}")
        return Response(status_code=204)

    return router
