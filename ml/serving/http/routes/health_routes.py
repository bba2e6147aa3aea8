"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from ml.serving.http.observability import Metrics

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]


def make_router(readiness: ReadinessCheck, metrics: Metrics) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        # On the event loop: a liveness answer must not queue for the thread pool.
        return {"status": "ok"}

    @router.get(
        "/readyz",
        responses={503: {"description": "a dependency is not ready; `checks` names it"}},
    )
    async def readyz() -> JSONResponse:
        """Database, registry and scheduler must be ready; an LLM outage only degrades tips."""
        checks = await readiness()
        ready = all(c.get("ok", False) or c.get("degraded_only", False) for c in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    async def prometheus() -> Response:
        """Requests, tips, LLM latency and tokens, sweeps per agent, outbox backlog."""
        body = await anyio.to_thread.run_sync(metrics.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
