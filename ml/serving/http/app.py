"""The FastAPI application, assembled from parts the composition root built."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from ml.registry.registry import Registry
from ml.serving.http.auth import Authenticator, CallerDependency, caller_dependency
from ml.serving.http.error_responses import BodyLimit, ErrorResponse, install_error_handlers
from ml.serving.http.observability import Metrics, RequestContext
from ml.serving.http.ratelimit import TipRateLimit
from ml.serving.http.routes import (
    agent_routes,
    experiment_routes,
    health_routes,
    privacy_routes,
    profile_routes,
    signal_routes,
    tip_routes,
)
from ml.serving.http.routes.health_routes import ReadinessCheck
from ml.serving.http.signal_contract import document_signal_kinds
from ml.serving.prompts.experiments import Experiments
from ml.serving.tip.learning import learned_view
from ml.serving.tip.orchestrator import Orchestrator
from ml.serving.tip.policy import PolicyConfig
from ml.serving.tip.tip_store import TipStore
from nudge_infra.clock import Clock
from nudge_profile.insights import Insights
from nudge_profile.signal_kinds import SignalKinds
from nudge_profile.signals import SignalStore
from nudge_profile.store import ProfileStore

API_VERSION = "0.1.0"


@dataclass(frozen=True)
class Services:
    """What the routes need; built by ``nudge.bootstrap``."""

    engine: Engine
    clock: Clock
    registry: Callable[[], Registry]
    reload_registry: Callable[[], Registry]
    orchestrator: Orchestrator
    tips: TipStore
    profiles: ProfileStore
    signals: SignalStore
    readiness: ReadinessCheck
    on_signals: Callable[[], None]
    max_request_bytes: int
    auth: Authenticator
    tip_rate: TipRateLimit
    experiments: Experiments
    insights: Insights
    policy_config: PolicyConfig


def create_app(
    services: Services,
    *,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Nudge",
        version=API_VERSION,
        description="One timely, actionable, explainable tip per user.",
        lifespan=lifespan,
        responses={
            400: {"model": ErrorResponse, "description": "the body could not be parsed"},
            401: {"model": ErrorResponse, "description": "missing or invalid credential"},
            403: {"model": ErrorResponse, "description": "the credential cannot do this"},
            404: {"model": ErrorResponse, "description": "unknown user, tip or route"},
            413: {"model": ErrorResponse, "description": "request body too large"},
            422: {
                "model": ErrorResponse,
                "description": "invalid request; details name each problem",
            },
            503: {
                "model": ErrorResponse,
                "description": "the database is unavailable; nothing was stored; see Retry-After",
            },
        },
    )
    install_error_handlers(app)
    metrics = Metrics(services.engine)
    app.add_middleware(BodyLimit, max_bytes=services.max_request_bytes)
    app.add_middleware(RequestContext, metrics=metrics)  # outermost: sees every response
    caller = caller_dependency(services.auth)
    app.include_router(health_routes.make_router(services.readiness, metrics))
    app.include_router(_profile_router(services, caller))
    app.include_router(
        signal_routes.make_router(services.signals, caller, services.on_signals, services.registry)
    )
    app.include_router(
        tip_routes.make_router(
            services.orchestrator,
            services.tips,
            services.clock,
            caller,
            services.tip_rate,
            metrics.tip,
            services.registry,
        )
    )
    for router in _data_routers(services, caller):
        app.include_router(router)
    _document_signal_kinds(app, services.signals.kinds)
    return app


def _document_signal_kinds(app: FastAPI, kinds: SignalKinds) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_signal_kinds(generate(), kinds)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _data_routers(services: Services, caller: CallerDependency) -> list[APIRouter]:
    """Export and erasure, the registry, experiments: reads that count this process's
    unwritten serves first."""
    flush = services.tips.flush_served
    return [
        privacy_routes.make_router(services.engine, services.clock, caller, flush),
        agent_routes.make_router(
            services.registry,
            services.reload_registry,
            services.engine,
            caller,
            services.insights.population,
        ),
        experiment_routes.make_router(services.experiments, services.engine, caller, flush),
    ]


def _profile_router(services: Services, caller: CallerDependency) -> APIRouter:
    def learned(user_id: str) -> dict[str, dict[str, Any]]:
        user, population = services.insights.learned(user_id)
        return learned_view(user, population, services.registry(), services.policy_config)

    return profile_routes.make_router(
        services.profiles,
        lambda key: services.registry().agents_requiring(key),
        lambda key: services.registry().inferred_under(key),
        caller,
        services.insights,
        learned,
    )
