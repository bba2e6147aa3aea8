"""The registry as operators and agent authors see it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import Engine

from ml.precompute.status import last_sweeps, output_counts
from ml.registry.registry import Registry
from ml.serving.schemas import AgentOut, LoadErrorOut, RegistryOut


def make_router(
    registry: Callable[[], Registry], engine: Engine, caller: Callable[..., Any]
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["agents"], dependencies=[Depends(caller)])

    @router.get("/agents", response_model=RegistryOut)
    def list_agents() -> RegistryOut:
        """Every loaded agent with its last sweep and stored outputs, and every rejected file."""
        snapshot = registry()
        sweeps, counts = last_sweeps(engine), output_counts(engine)
        agents = [
            AgentOut(
                id=a.id,
                version=a.version,
                name=a.manifest.name,
                description=a.manifest.description,
                enabled=a.enabled,
                priority=a.priority,
                source=str(a.source),
                kind="template" if a.manifest.template is not None else "entrypoint",
                manifest=a.manifest.model_dump(mode="json"),
                last_sweep=sweeps.get(a.id),
                outputs=counts.get(a.id, 0),
            )
            for a in sorted(snapshot.agents.values(), key=lambda a: a.id)
        ]
        rejected = [
            LoadErrorOut(file=e.file, line=e.line, field=e.field, message=e.message)
            for e in snapshot.errors
        ]
        return RegistryOut(loaded_at=snapshot.loaded_at, agents=agents, rejected=rejected)

    return router
