"""The tip endpoint against a bare LiteLLM call with the identical request.

Endpoint: ``GET /v1/users/alice/tip?refresh=true`` with ``httpx.AsyncClient`` over
loopback TCP to uvicorn serving ``build_app(nudge)`` in a thread of this process (relay
running; scheduler, manifest watcher and embedded-LLM start off). Floor:
``litellm.acompletion(**kwargs)`` with the very keyword arguments the orchestrator
passed (captured during warm-up), against the same in-process llama.cpp server. Pairs
alternate their order (AB, BA, …) so drift and order effects cancel.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import statistics
import time
from typing import Any

import httpx
from sqlalchemy import Engine, delete

from bench.appserver import UvicornThread
from bench.context import BenchContext
from bench.demo_nudge import (
    USER,
    capture_completion_kwargs,
    completion_tokens,
    demo_nudge,
)
from bench.net import free_port
from bench.stats import (
    fmt_ci,
    fmt_ms,
    fmt_ratio,
    fmt_target,
    paired_ratio_ci,
    ratio,
    render_table,
    summarize,
    verdict,
)
from nudge_infra.storage.tables import tips

NAME = "tip_vs_bare_llm"
TARGET_P50 = 1.05
# Fallback reasons that mean the model gave no answer; "invalid_answer" still had one.
LLM_FAILED = frozenset({"llm_timeout", "llm_unreachable", "llm_error"})


def forget_tips(engine: Engine) -> None:
    """Delete the user's earlier tips (untimed): the same prompt at temperature 0 gets the
    same answer, which the near-repeat check would refuse as a repeat of the last tip and
    ask again; a user's inputs that changed would not."""
    with engine.begin() as conn:
        conn.execute(delete(tips).where(tips.c.user_id == USER))


def run(ctx: BenchContext) -> dict[str, Any]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> dict[str, Any]:
    demo = demo_nudge(ctx)
    pairs, warmup = ctx.n(30, 8), 3
    app = _app(demo.nudge)
    with UvicornThread(app, free_port()) as server:
        gateway = {"Authorization": f"Bearer {demo.nudge.credentials.gateway_token}"}
        async with httpx.AsyncClient(
            base_url=server.base_url, timeout=120, trust_env=False, headers=gateway
        ) as http:

            async def endpoint() -> str:
                # wait: the model's tip, not the fallback a poll gets after 3 s.
                params = {"refresh": "true", "wait": "30"}
                response = await http.get(f"/v1/users/{USER}/tip", params=params)
                response.raise_for_status()
                return str(response.json()["tip_id"])

            kwargs = await capture_completion_kwargs(demo.litellm, endpoint)
            ctx.shared["tip_request"] = kwargs

            async def bare(call_kwargs: dict[str, Any]) -> Any:
                return await demo.litellm.acompletion(**call_kwargs)

            pairs_done: list[dict[str, Any]] = []
            for i in range(warmup + pairs):
                order = ("endpoint", "bare") if i % 2 == 0 else ("bare", "endpoint")
                pair: dict[str, Any] = {}
                for side in order:
                    call_kwargs = copy.deepcopy(kwargs)  # outside the timed span
                    if side == "endpoint":
                        forget_tips(demo.nudge.engine)
                        started = time.perf_counter()
                        pair["tip_id"] = await endpoint()
                        pair["endpoint_s"] = time.perf_counter() - started
                        pair["tip"] = demo.nudge.tips.get(pair["tip_id"])  # before it is forgotten
                    else:
                        started = time.perf_counter()
                        try:
                            response = await bare(call_kwargs)
                        except Exception as exc:  # a timeout under load: the pair is void
                            pair["bare_error"] = type(exc).__name__
                            response = None
                        pair["bare_s"] = time.perf_counter() - started
                        if response is not None:
                            pair["bare_tokens"] = completion_tokens(response)
                            text = response.choices[0].message.content or ""
                            pair["bare_text"] = hashlib.sha256(text.encode()).hexdigest()[:12]
                if i >= warmup:
                    pairs_done.append(pair)
    return _report(ctx, demo.nudge, kwargs, pairs_done)


def _app(nudge: Any) -> Any:
    from nudge.bootstrap import build_app

    return build_app(nudge, start=True, sweep_now=False)


def _report(
    ctx: BenchContext, nudge: Any, kwargs: dict[str, Any], pairs: list[dict[str, Any]]
) -> dict[str, Any]:
    for pair in pairs:
        tip = pair.pop("tip")
        pair["tip_tokens"] = int(tip.provenance["tokens"]["completion"])
        pair["split"] = tip.provenance["latency_ms"]
        pair["fallback_reason"] = tip.fallback_reason
    # A pair counts only when both sides got an answer from the model.
    valid = [p for p in pairs if "bare_error" not in p and p["fallback_reason"] not in LLM_FAILED]
    void = len(pairs) - len(valid)
    if not valid:
        ctx.check(
            NAME,
            "p50 ratio endpoint/bare",
            0.0,
            TARGET_P50,
            "at_most",
            "no pair where both sides got a model answer",
            valid=False,
        )
        return {"pairs": pairs, "valid_pairs": 0}
    endpoint_s = [p["endpoint_s"] for p in valid]
    bare_s = [p["bare_s"] for p in valid]
    tip_tokens = [p["tip_tokens"] for p in valid]
    bare_tokens = [p["bare_tokens"] for p in valid]
    split = {
        part: statistics.median(float(p["split"][part]) for p in valid)
        for part in ("assembly", "llm", "total")
    }
    reasons = sorted({str(p["fallback_reason"]) for p in pairs})
    matched = sum(a == b for a, b in zip(tip_tokens, bare_tokens, strict=True))
    e, b = summarize(endpoint_s), summarize(bare_s)
    r50, r99 = ratio(e.p50, b.p50), ratio(e.p99, b.p99)
    ci50 = paired_ratio_ci(endpoint_s, bare_s, 50)
    ctx.say(
        "endpoint: GET /v1/users/alice/tip?refresh=true, httpx.AsyncClient -> uvicorn "
        "(thread, loopback TCP); floor: litellm.acompletion(**captured orchestrator kwargs)"
    )
    ctx.say(
        f"request: temperature={kwargs.get('temperature')} seed={kwargs.get('seed')} "
        f"max_tokens={kwargs.get('max_tokens')} response_format={_rf(kwargs)}, "
        f"{len(kwargs['messages'])} messages, "
        f"{sum(len(m['content']) for m in kwargs['messages'])} chars; warm-up 3 pairs "
        f"excluded; {void} void pair(s) (a side without a model answer) excluded"
    )
    rows = [
        _row("tip endpoint", e, tip_tokens),
        _row("bare acompletion", b, bare_tokens),
        ["ratio endpoint/bare", "", fmt_ratio(r50), fmt_ratio(r99), "", ""],
    ]
    ctx.say(render_table(["path", "n", "p50", "p99", "mean", "completion tokens"], rows))
    ctx.say(
        f"ratio p50 {fmt_ratio(r50)} ({fmt_ci(ci50)}; target {fmt_target(TARGET_P50, 'at_most')}: "
        f"{verdict(r50, TARGET_P50, 'at_most')}); p50 gap {fmt_ms(e.p50 - b.p50)}"
    )
    ctx.say(
        f"endpoint split (server-side, from provenance, p50): assembly {split['assembly']:.1f} ms, "
        f"llm {split['llm']:.1f} ms, total {split['total']:.1f} ms; fallback reasons: {reasons}"
    )
    rejected = sum(p["fallback_reason"] == "invalid_answer" for p in valid)
    if rejected:
        ctx.say(
            f"note: {rejected}/{len(valid)} endpoint tips were served as fallbacks after the "
            "model answered (validation rejected the answer); the model call itself is "
            "complete and identical on both sides"
        )
    texts = {p["bare_text"] for p in valid}
    ctx.say(
        f"same tokens: {matched}/{len(valid)} pairs with equal completion token counts; "
        f"distinct bare outputs: {len(texts)}"
    )
    enough = len(valid) >= max(5, len(pairs) // 2)
    ctx.check(
        NAME,
        "p50 ratio endpoint/bare",
        r50,
        TARGET_P50,
        "at_most",
        "" if enough else f"only {len(valid)}/{len(pairs)} pairs had model answers on both sides",
        valid=enough,
    )
    return {
        "endpoint_s": e.as_dict(),
        "bare_s": b.as_dict(),
        "ratio_p50": r50,
        "ratio_p99": r99,
        "ratio_p50_ci95": ci50,
        "endpoint_split_ms_p50": split,
        "completion_tokens": {"endpoint": tip_tokens, "bare": bare_tokens},
        "pairs_with_equal_tokens": matched,
        "valid_pairs": len(valid),
        "void_pairs": void,
        "bare_distinct_texts": len(texts),
        "fallback_reasons": reasons,
        "transport": "httpx.AsyncClient -> uvicorn in a thread (loopback TCP)",
        "request": {k: v for k, v in kwargs.items() if k not in ("messages", "api_key")},
        "pairs": pairs,
    }


def _rf(kwargs: dict[str, Any]) -> str:
    rf = kwargs.get("response_format")
    return "none" if rf is None else str(rf.get("type"))


def _row(label: str, s: Any, tokens: list[int]) -> list[str]:
    tok = f"p50 {statistics.median(tokens):.0f} ({min(tokens)}-{max(tokens)})" if tokens else "-"
    return [label, str(s.n), fmt_ms(s.p50), fmt_ms(s.p99), fmt_ms(s.mean), tok]
