"""The LLM is killed, the circuit opens, the LLM comes back.

A Nudge on SQLite with the demo users, served by uvicorn in a thread of this process, talks
through LiteLLM to the embedded LLM running as a child process (so it can be killed). With
the breaker's default settings: the model writes alice's tip; the LLM process is killed
(SIGKILL); tips are asked until one comes back ``llm_circuit_open``; then 200 tips are
asked (``?refresh=true``, so each one would need the model) across the demo users, and
200 ``/healthz`` as the floor, interleaved. The LLM is started again on the same port and
a tip is asked every 0.5 s until the model writes one again (the circuit closes once the
server answers its health check and a warm-up completion, not only after the cooldown).

Targets: tip p99 with the circuit open ≤ 50 ms; the model writes tips again within 30 s
of its return.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.appserver import UvicornThread
from bench.context import BenchContext, bench_settings
from bench.llm_process import EmbeddedLLMProcess
from bench.net import free_port
from bench.product import UNLIMITED
from bench.stats import fmt_ms, fmt_ratio, ratio, render_table, summarize
from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import load_model_list
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge

NAME = "outage"
TARGET_OPEN_P99_S = 0.050
TARGET_BACK_S = 30.0
LLM_DOWN = frozenset({"llm_timeout", "llm_unreachable", "llm_error", "llm_circuit_open"})
USERS = ("alice", "bob")

Reason = Callable[[dict[str, Any]], "str | None"]


def run(ctx: BenchContext) -> dict[str, Any]:
    server = EmbeddedLLMProcess.start()
    ctx.on_close(lambda: server.stop())
    nudge = _nudge(ctx, server.base_url)
    ctx.on_close(nudge.stop)
    # start=True: the app warms the model at start, as `nudge run` does (no embedded LLM,
    # scheduler or watcher of its own: the benchmark settings turn them off).
    with UvicornThread(build_app(nudge, start=True, sweep_now=False), free_port()) as app:
        headers = {"Authorization": f"Bearer {nudge.credentials.gateway_token}"}
        with httpx.Client(base_url=app.base_url, headers=headers, timeout=60) as http:
            reason = _reasons(nudge)
            first = reason(_tip(http, "alice"))
            port = server.port
            server.kill()
            killed_at = time.monotonic()
            until_open = _until_open(http, reason)
            opened_after = time.monotonic() - killed_at
            tips, healthz, reasons = _while_open(http, reason, ctx.n(200, 40))
            server = EmbeddedLLMProcess.start(port=port)
            back_at = time.monotonic()
            back = _until_written(http, reason, back_at)
    return _report(ctx, first, until_open, opened_after, tips, healthz, reasons, back)


def _nudge(ctx: BenchContext, base_url: str) -> Nudge:
    settings = bench_settings(ctx.tmpdir("outage-"), tip_rate_limit=UNLIMITED)
    models = load_model_list(settings.litellm_config, substitutions={"embedded_llm": base_url})
    nudge = bootstrap(settings, llm=LiteLLMClient(models))
    seed_demo(nudge, nudge.clock())
    nudge.sweeper.sweep_all()
    return nudge


def _reasons(nudge: Nudge) -> Callable[[dict[str, Any]], str | None]:
    """The stored fallback reason of an answered tip (None: the model wrote it)."""
    return lambda body: nudge.tips.get(body["tip_id"]).fallback_reason


def _tip(http: httpx.Client, user: str) -> dict[str, Any]:
    r = http.get(f"/v1/users/{user}/tip", params={"refresh": "true", "wait": "30"})
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def _until_open(http: httpx.Client, reason: Reason) -> list[str]:
    reasons: list[str] = []
    while not reasons or reasons[-1] != "llm_circuit_open":
        reasons.append(str(reason(_tip(http, "alice"))))
        if len(reasons) > 50:
            raise RuntimeError(f"the circuit never opened: {reasons[-5:]}")
    return reasons


def _while_open(
    http: httpx.Client, reason: Reason, n: int
) -> tuple[list[float], list[float], list[str]]:
    tips: list[float] = []
    healthz: list[float] = []
    reasons: list[str] = []
    for i in range(n):
        started = time.perf_counter()
        body = _tip(http, USERS[i % len(USERS)])
        tips.append(time.perf_counter() - started)
        reasons.append(str(reason(body)))
        started = time.perf_counter()
        http.get("/healthz").raise_for_status()
        healthz.append(time.perf_counter() - started)
    return tips, healthz, reasons


def _until_written(http: httpx.Client, reason: Reason, back_at: float) -> dict[str, Any]:
    asked = 0
    while time.monotonic() - back_at < 120:
        asked += 1
        body = _tip(http, "alice")
        if reason(body) not in LLM_DOWN:
            return {"seconds": time.monotonic() - back_at, "asked": asked, "tip": body}
        time.sleep(0.5)
    return {"seconds": float("inf"), "asked": asked, "tip": None}


def _report(
    ctx: BenchContext,
    first: str | None,
    until_open: list[str],
    opened_after: float,
    tips: list[float],
    healthz: list[float],
    reasons: list[str],
    back: dict[str, Any],
) -> dict[str, Any]:
    t, h = summarize(tips), summarize(healthz)
    open_share = reasons.count("llm_circuit_open") / len(reasons)
    ctx.say(f"the tip before the outage: {first or 'written by the model'}")
    ctx.say(
        f"after the kill: {len(until_open)} tips until the circuit opened "
        f"({', '.join(until_open)}), {opened_after:.2f} s"
    )
    rows = [
        [
            "tip, circuit open",
            len(tips),
            fmt_ms(t.p50),
            fmt_ms(t.p99),
            fmt_ratio(ratio(t.p99, h.p99)),
        ],
        ["/healthz (floor)", len(healthz), fmt_ms(h.p50), fmt_ms(h.p99), "1.00x"],
    ]
    ctx.say(render_table(["request", "n", "p50", "p99", "p99 / floor"], rows))
    ctx.say(f"answers with the circuit open: {open_share:.0%} llm_circuit_open")
    ctx.say(
        f"the model writes again {back['seconds']:.1f} s after its return ({back['asked']} asks)"
    )
    ctx.check(NAME, "tip p99, circuit open (s)", t.p99, TARGET_OPEN_P99_S, "at_most")
    ctx.check(
        NAME,
        "LLM tips again after its return (s)",
        back["seconds"],
        TARGET_BACK_S,
        "at_most",
        valid=first not in LLM_DOWN,
        note="the model never wrote the first tip: nothing to compare with",
    )
    return {
        "until_open": until_open,
        "opened_after_s": opened_after,
        "tip_open": t.as_dict(),
        "healthz": h.as_dict(),
        "open_share": open_share,
        "back_s": back["seconds"],
        "back_asks": back["asked"],
    }
