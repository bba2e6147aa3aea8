"""What the load benchmark prints and returns: poll latency against the /healthz of the
same run, stale answers, how long a change of inputs took to reach a tip, tips written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bench.context import BenchContext
from bench.load_users import Change, WrittenTip
from bench.stats import (
    fmt_bytes,
    fmt_ms,
    fmt_ratio,
    fmt_target,
    ratio,
    render_table,
    summarize,
    verdict,
)

TARGET_RATIO = 1.5  # poll p99 over /healthz p99, same run
MAX_GROWTH = 1.10  # last-10-s RSS over first-10-s RSS
RECENT_S = 10.0  # changes this close to the end may not have had the time to reach a tip
# Tips written without asking the model: with only these, it was not decoding during the run.
MODEL_NOT_ASKED = frozenset({"llm_circuit_open", "llm_unreachable", "no_eligible_agents"})
Answers = Mapping[str, Sequence[tuple[float, str, bool]]]


def freshness(
    changes: Sequence[Change], tips: Mapping[str, Sequence[WrittenTip]], answers: Answers
) -> dict[str, Any]:
    """Per change, seconds from its POST returning to the first tip stored that was made from
    the changed snippet, and to the first poll that got that tip or a newer one, not stale."""
    created = {t.tip_id: t.created_at for made in tips.values() for t in made}
    polls = {user: sorted(seen) for user, seen in answers.items()}
    stored: list[float] = []
    seen: list[float] = []
    never: list[Change] = []
    for change in changes:
        fresh = next(
            (
                t
                for t in tips.get(change.user, ())
                if t.created_at >= change.sent
                and t.inputs_at is not None
                and t.inputs_at >= change.sent
            ),
            None,
        )
        if fresh is None:
            never.append(change)
            continue
        stored.append(fresh.created_at - change.done)
        got = next(
            (
                at
                for at, tip_id, stale in polls.get(change.user, ())
                if at >= fresh.created_at
                and not stale
                and created.get(tip_id, 0.0) >= fresh.created_at
            ),
            None,
        )
        if got is not None:
            seen.append(got - change.done)
    return {"stored": stored, "seen": seen, "never": never}


def report(
    ctx: BenchContext,
    name: str,
    shape: tuple[int, int, Sequence[str]],
    setup: dict[str, Any],
    floor: dict[str, Any],
    load: dict[str, Any],
    tips: Mapping[str, Sequence[WrittenTip]],
) -> dict[str, Any]:
    callers, seconds, users = shape
    first = setup["first_tips"]
    ctx.say(
        f"{callers} concurrent callers for {seconds} s over {len(users)} users, "
        f"{len(load['changes'])} polls preceded by a change of the user's inputs (about one "
        "in ten), one `nudge run` process with the embedded LLM; "
        f"setup {setup['users_s']:.0f} s; first tips written before the timed run, once the "
        f"product was idle ({first['idle_after_s']:.0f} s): {len(users)} in "
        f"{first['seconds']:.0f} s ({first['fallbacks']} fallbacks)"
    )
    latency = _latency(ctx, floor, load)
    in_app = _in_app(ctx, load.get("in_app", {}))
    errors = _errors(ctx, floor, load, seconds)
    stale_share = _stale(ctx, load["answered"])
    fresh = _freshness(ctx, load, tips)
    written = _written(ctx, tips, seconds)
    _cpu(ctx, setup, load)
    growth = _rss(ctx, load["rss"])
    asked = sum(n for origin, n in written["by_origin"].items() if origin not in MODEL_NOT_ASKED)
    ctx.check(
        name,
        "poll p99 / healthz p99 (same run)",
        latency["ratio"],
        TARGET_RATIO,
        "at_most",
        "" if asked else "the model was asked for no tip during the run (circuit open?)",
        valid=asked > 0,
    )
    ctx.check(name, "errors under load", errors, 0, "at_most")
    ctx.check(name, "RSS last/first 10 s", growth, MAX_GROWTH, "at_most")
    return {
        "callers": callers,
        "seconds": seconds,
        "users": len(users),
        "setup": setup,
        "errors": dict(load["errors"]),
        "floor_errors": dict(floor["errors"]),
        **latency,
        "in_app_s": in_app,
        "stale_share": stale_share,
        "answered": load["answered"],
        "freshness": fresh,
        "written": written,
        "product_cpu_s": load["product_cpu_s"],
        "client_cpu_s": load["client_cpu_s"],
        "rss_kib": load["rss"],
        "rss_growth": growth,
    }


def _latency(ctx: BenchContext, floor: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    labels = {
        ("floor", "healthz"): ("healthz alone (model idle)", "GET /healthz"),
        ("load", "poll"): ("load", "GET …/tip"),
        ("load", "refresh"): ("load", "GET …/tip?refresh=true"),
        ("load", "change"): ("load", "POST …/signals (change)"),
        ("load", "healthz"): ("load", "GET /healthz (prober)"),
    }
    rows, stats = [], {}
    for (run_, kind), (label, request) in labels.items():
        values = (floor if run_ == "floor" else load)["latencies"].get(kind)
        if values:
            s = summarize(values)
            stats[f"{run_}:{kind}"] = s.as_dict()
            rows.append([label, request, s.n, fmt_ms(s.p50), fmt_ms(s.p95), fmt_ms(s.p99)])
    ctx.say(render_table(["load", "request", "n", "p50", "p95", "p99"], rows))
    poll, probe = stats.get("load:poll"), stats.get("load:healthz")
    alone = stats.get("floor:healthz")
    r = ratio(poll["p99"], probe["p99"]) if poll and probe else float("inf")
    if poll and probe:
        ctx.say(
            f"poll p99 / healthz p99 (same run): {fmt_ms(poll['p99'])} / "
            f"{fmt_ms(probe['p99'])} = {fmt_ratio(r)} (target "
            f"{fmt_target(TARGET_RATIO, 'at_most')}: {verdict(r, TARGET_RATIO, 'at_most')})"
        )
    if probe and alone:
        ctx.say(
            f"healthz p99 while the model writes tips: {fmt_ms(probe['p99'])}, "
            f"{fmt_ratio(ratio(probe['p99'], alone['p99']))} its p99 with the model idle "
            f"({fmt_ms(alone['p99'])}, under {len(floor['latencies']['healthz'])} calls)"
        )
    return {"latency_s": stats, "ratio": r}


def _in_app(ctx: BenchContext, by_route: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    wanted = ("GET /v1/users/{user_id}/tip", "GET /healthz", "POST /v1/users/{user_id}/signals")
    found = {r: summarize(by_route[r]).as_dict() for r in wanted if by_route.get(r)}
    if found:
        parts = [f"{r} {fmt_ms(s['p50'])}/{fmt_ms(s['p99'])}" for r, s in found.items()]
        ctx.say(f"time in the app (access log), p50/p99: {'; '.join(parts)}")
    return found


def _errors(ctx: BenchContext, floor: dict[str, Any], load: dict[str, Any], seconds: int) -> int:
    errors = int(sum(load["errors"].values()) + sum(floor["errors"].values()))
    total = sum(len(v) for v in load["latencies"].values())
    ctx.say(
        f"requests {total} ({total / seconds:.0f}/s), errors {errors} "
        f"{dict(load['errors'] + floor['errors']) or ''}"
    )
    return errors


def _stale(ctx: BenchContext, answered: Mapping[str, int]) -> float:
    share = answered.get("stale", 0) / max(1, answered.get("all", 0))
    ctx.say(
        f"answers to polls: {answered.get('stale', 0)}/{answered.get('all', 0)} stale "
        f"({share:.1%}), {answered.get('fallback', 0)} fallbacks"
    )
    return share


def _freshness(
    ctx: BenchContext, load: dict[str, Any], tips: Mapping[str, Sequence[WrittenTip]]
) -> dict[str, Any]:
    fresh = freshness(load["changes"], tips, load["answers"])
    recent = sum(c.done > load["ended"] - RECENT_S for c in fresh["never"])
    found: dict[str, Any] = {
        "changes": len(load["changes"]),
        "never_fresh": len(fresh["never"]),
        "never_fresh_recent": recent,
    }
    parts = []
    for key, label in (("stored", "fresh tip stored"), ("seen", "seen by a poll")):
        if fresh[key]:
            s = summarize(fresh[key])
            found[key] = s.as_dict()
            parts.append(f"{label} p50 {fmt_ms(s.p50)}, p95 {fmt_ms(s.p95)} (n={s.n})")
    ctx.say(
        f"freshness lag (change posted → {'; '.join(parts) or 'no fresh tip'}); never fresh "
        f"within the run: {len(fresh['never'])} of {len(load['changes'])} changes "
        f"({recent} of them posted in the last {RECENT_S:.0f} s)"
    )
    return found


def _written(
    ctx: BenchContext, tips: Mapping[str, Sequence[WrittenTip]], seconds: int
) -> dict[str, Any]:
    made = [t for per_user in tips.values() for t in per_user]
    reasons = Counter(t.fallback_reason or "model" for t in made)
    ctx.say(
        f"tips written during the run: {len(made)} ({len(made) / seconds:.2f}/s) "
        f"for {sum(bool(v) for v in tips.values())} users; by origin {dict(reasons)}"
    )
    return {"tips": len(made), "per_s": len(made) / seconds, "by_origin": dict(reasons)}


def _cpu(ctx: BenchContext, setup: dict[str, Any], load: dict[str, Any]) -> None:
    seconds = load["seconds"]
    product = load["product_cpu_s"]
    groups = ", ".join(
        f"{setup['threads_by_nice'].get(n, '?')} threads at nice {n}: {s / seconds:.2f}"
        for n, s in product.items()
    )
    ctx.say(
        f"CPU over the run, in cores: product {sum(product.values()) / seconds:.2f} ({groups}); "
        f"bench client {load['client_cpu_s'] / seconds:.2f}"
    )


def _rss(ctx: BenchContext, rss: Sequence[tuple[float, int]]) -> float:
    first = [v for t, v in rss if t < 10]
    last = [v for t, v in rss if t >= rss[-1][0] - 10]
    growth = (sum(last) / len(last)) / (sum(first) / len(first)) if first and last else 1.0
    ctx.say(
        f"RSS first 10 s {fmt_bytes(1024 * sum(first) / max(1, len(first)))}, last 10 s "
        f"{fmt_bytes(1024 * sum(last) / max(1, len(last)))} ({growth:.3f}x)"
    )
    return growth
