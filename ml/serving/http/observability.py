"""Metrics in Prometheus format, a request id on every request, one access log line each.

Nothing here reads bodies: logs and metrics carry route templates, status codes, timings,
counts and ids, never snippet text, signal payloads or tip text.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml.precompute.status import last_sweeps
from ml.serving.tip.orchestrator import ServedTip
from nudge_infra.logs import request_id
from nudge_infra.storage.tables import outbox

log = logging.getLogger("nudge.access")

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """One app's metrics, in a registry of its own (tests build many apps in one process)."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "nudge_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "nudge_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tips = Counter(
            "nudge_tips", "tips served", ["fallback", "reason", "cached"], registry=r
        )
        self.llm_latency = Histogram(
            "nudge_llm_duration_seconds",
            "LLM call latency per tip",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter("nudge_llm_tokens", "LLM tokens", ["model", "kind"], registry=r)
        r.register(_StoreCollector(engine))

    def tip(self, served: ServedTip) -> None:
        tip = served.tip
        self.tips.labels(
            fallback=str(tip.fallback).lower(),
            reason=tip.fallback_reason or "none",
            cached=str(served.cached).lower(),
        ).inc()
        generation = served.generation
        if generation is None or generation.response is None:
            return
        response = generation.response
        model = response.resolved_model
        self.llm_latency.labels(model=model).observe(generation.llm_ms / 1000)
        self.llm_tokens.labels(model=model, kind="prompt").inc(response.prompt_tokens)
        self.llm_tokens.labels(model=model, kind="completion").inc(response.completion_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    """Read at scrape time from the database: sweeps per agent and the outbox backlog."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        duration = GaugeMetricFamily(
            "nudge_sweep_last_duration_seconds",
            "duration of the agent's last sweep",
            labels=["agent"],
        )
        failures = GaugeMetricFamily(
            "nudge_sweep_last_failures", "users the agent's last sweep failed for", labels=["agent"]
        )
        ok = GaugeMetricFamily(
            "nudge_sweep_last_ok", "1 when the agent's last sweep completed", labels=["agent"]
        )
        backlog = GaugeMetricFamily("nudge_outbox_backlog", "events not yet published")
        try:
            sweeps = last_sweeps(self._engine)
            with self._engine.connect() as conn:
                pending = conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                ).scalar_one()
        except Exception:  # a scrape must not fail because the database is away
            log.warning("metrics: the database could not be read")
            return
        for agent, run in sorted(sweeps.items()):
            seconds = (run["finished_at"] - run["started_at"]).total_seconds()
            duration.add_metric([agent], seconds)
            failures.add_metric([agent], run["failures"])
            ok.add_metric([agent], 1.0 if run["status"] == "ok" else 0.0)
        backlog.add_metric([], pending)
        yield from (duration, failures, ok, backlog)


class RequestContext:
    """Pure ASGI middleware: request id in and out, metrics and one access log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER)
        rid = incoming if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
            method = scope["method"]
            if route != "/metrics":
                self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
                self.metrics.latency.labels(method=method, route=route).observe(elapsed)
            state = scope.get("state") or {}
            caller = state.get("caller")
            log.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "caller": getattr(caller, "kind", None),
                },
            )
            request_id.reset(token)


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:
                return None
    return None


def _route(scope: Scope) -> str:
    """The matched route's template (``/v1/users/{user_id}/tip``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
