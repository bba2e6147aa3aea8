"""The registry as operators and agent authors see it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import APIRouter, Depends
from sqlalchemy import Engine

from ml.precompute.status import last_sweeps, output_counts
from ml.registry.registry import Registry
from ml.serving.http.auth import Caller, CallerDependency, require_admin, require_service
from ml.serving.http.schemas import AgentOut, LoadErrorOut, ReactionsOut, RegistryOut
from ml.serving.tip.learning import reaction_rates


def make_router(
    registry: Callable[[], Registry],
    reload: Callable[[], Registry],
    engine: Engine,
    caller: CallerDependency,
    population: Callable[[], Mapping[str, Mapping[str, int]]],
) -> APIRouter:
    """``population()``: every agent's reaction counts over all users."""
    router = APIRouter(prefix="/v1", tags=["agents"])

    @router.get("/agents", response_model=RegistryOut)
    def list_agents(who: Caller = Depends(caller)) -> RegistryOut:
        """Every loaded agent with its last sweep, stored outputs and how its tips were
        answered (counts and rates over all users), and every rejected file.

        Needs a service credential (gateway or admin).
        """
        require_service(who)
        return _registry_out(registry(), engine, population())

    @router.post("/agents/reload", response_model=RegistryOut)
    def reload_agents(who: Caller = Depends(caller)) -> RegistryOut:
        """Load the manifest directory now instead of waiting for the watcher (admin scope)."""
        require_admin(who)
        return _registry_out(reload(), engine, population())

    return router


def _registry_out(
    snapshot: Registry, engine: Engine, population: Mapping[str, Mapping[str, int]]
) -> RegistryOut:
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
            reactions=ReactionsOut(**reaction_rates(population.get(a.id))),
        )
        for a in sorted(snapshot.agents.values(), key=lambda a: a.id)
    ]
    rejected = [
        LoadErrorOut(file=e.file, line=e.line, field=e.field, message=e.message)
        for e in snapshot.errors
    ]
    return RegistryOut(loaded_at=snapshot.loaded_at, agents=agents, rejected=rejected)
