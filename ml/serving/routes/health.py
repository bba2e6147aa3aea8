"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]


def make_router(readiness: ReadinessCheck) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
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

    return router
