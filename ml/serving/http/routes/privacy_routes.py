"""A user's data rights over HTTP: export everything, erase everything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, Depends
from sqlalchemy import Engine

from ml.serving.http.auth import Caller, CallerDependency, require_admin
from ml.serving.http.routes.profile_routes import UserIdPath
from ml.serving.http.schemas import UserDeletedOut, UserExport
from nudge_infra.clock import Clock
from nudge_profile.privacy import delete_user, export_user


def make_router(
    engine: Engine,
    clock: Clock,
    caller: CallerDependency,
    flush_served: Callable[[], object],
) -> APIRouter:
    """``flush_served`` writes the serves this process counted in memory, before an export."""
    router = APIRouter(prefix="/v1/users", tags=["privacy"])

    @router.get("/{user_id}/export", response_model=UserExport)
    async def export(user_id: UserIdPath, who: Caller = Depends(caller)) -> Any:
        """Everything stored about the user, as one JSON document."""
        await anyio.to_thread.run_sync(flush_served)
        return await anyio.to_thread.run_sync(export_user, engine, user_id, clock())

    @router.delete("/{user_id}", response_model=UserDeletedOut)
    async def erase(user_id: UserIdPath, who: Caller = Depends(caller)) -> UserDeletedOut:
        """Erase the user and everything about them, in one transaction; emits UserDeleted.

        A user may erase themselves; erasing someone else needs the admin scope.
        """
        if who.kind != "user" or who.subject != user_id:
            require_admin(who)
        counts = await anyio.to_thread.run_sync(delete_user, engine, clock, user_id)
        return UserDeletedOut(user_id=user_id, deleted=counts)

    return router
