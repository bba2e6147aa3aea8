"""The orchestrator's plan step (everything before the LLM) against bare indexed reads.

Data: N users (10,000; 2,000 with --quick) × 8 agents (the 7 shipped manifests and the
README's declarative ``water`` agent), written with bulk inserts: profiles with
preferences, consents and sometimes a context; ~300-character snippets; one or two
past tips with a realistic provenance record; some feedback and suppressions.

Measured: ``Orchestrator.plan`` for random users (profile, eligibility, outputs,
suppressions, last tip, prompt assembly; its reads run on the driver's cursor, see
ADR 0008). Floor: the same rows and columns read with plain SQL text on one DBAPI
connection checked out of the same pool, fetched and discarded: seven indexed lookups
(user, preferences, consents, context, the candidate outputs with the policy's counts,
active suppressions and item marks, the last tip with its feedback-since flag). The two
alternate per user (plan, floor / floor, plan).
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text

from bench.bulk_data import write_dataset
from bench.context import BenchContext, bench_settings
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

if TYPE_CHECKING:
    from ml.registry.registry import Registry
    from ml.serving.tip.plan import Plan
    from ml.serving.tip.prompt import PromptTemplate

NAME = "context_fetch"
TARGET_P99 = 3.0
AGENTS = 8


def run(ctx: BenchContext) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for backend in ctx.backends:
        ctx.say(f"-- {backend}")
        try:
            with _database(ctx, backend) as url:
                results[backend] = _measure(ctx, backend, url)
        except _Unavailable as exc:
            ctx.say(f"skipped {backend}: {exc}")
            ctx.skipped.append(f"{NAME} on {backend}: {exc}")
            results[backend] = {"skipped": str(exc)}
    return results


class _Unavailable(RuntimeError):
    pass


@contextlib.contextmanager
def _database(ctx: BenchContext, backend: str) -> Iterator[str | None]:
    """``None`` (SQLite under the data dir) or a Postgres URL on a private schema."""
    if backend == "sqlite":
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ctx.pg_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        raise _Unavailable(
            f"cannot create a schema at {ctx.pg_url} ({type(exc).__name__})"
        ) from exc
    sep = "&" if "?" in ctx.pg_url else "?"
    try:
        yield f"{ctx.pg_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _measure(ctx: BenchContext, backend: str, url: str | None) -> dict[str, Any]:
    from ml.serving.llm.fake import FakeLLM
    from nudge.bootstrap import bootstrap

    users, calls, warmup = ctx.n(10_000, 2_000), ctx.n(2_000, 300), ctx.n(200, 50)
    settings = bench_settings(ctx.tmpdir(f"context-{backend}-"), database_url=url, water=True)
    now = datetime.now(UTC)
    # The LLM is never called: the plan stops before it.
    nudge = bootstrap(settings, clock=lambda: now, llm=FakeLLM())
    try:
        registry = nudge.registry.current
        if len(registry.agents) != AGENTS or registry.errors:
            raise RuntimeError(f"expected {AGENTS} agents, got {sorted(registry.agents)}")
        engine = nudge.engine
        t0 = time.perf_counter()
        counts = write_dataset(engine, registry, now, users, random.Random(7))
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        load_s = time.perf_counter() - t0
        ctx.say(
            f"data: {', '.join(f'{k} {v:,}' for k, v in counts.items())} "
            f"(written in {load_s:.1f} s)"
        )
        orchestrator = nudge.orchestrator
        rng = random.Random(11)
        sample = [f"u{rng.randrange(users):05d}" for _ in range(warmup + calls)]
        floor = _Floor(engine, registry, now)
        floor.prepare(set(sample))

        def plan(user_id: str) -> Plan:
            # As the tip path does: the user's arm (prompt, model, A/B variant), then the plan.
            return orchestrator.plan(user_id, now)

        statements = _statements_per_call(engine, plan, floor, sample[:50])
        plan_s: list[float] = []
        floor_s: list[float] = []
        eligible = 0
        prompt_chars = 0
        prompts: dict[str, PromptTemplate] = {}  # each user's, for the phases below
        for i, user_id in enumerate(sample):
            sides = ("plan", "floor") if i % 2 == 0 else ("floor", "plan")
            for side in sides:
                started = time.perf_counter()
                if side == "plan":
                    result = plan(user_id)
                else:
                    floor.read(user_id)
                elapsed = time.perf_counter() - started
                if side == "plan":
                    prompts[user_id] = result.arm.prompt
                if i < warmup:
                    continue
                if side == "plan":
                    plan_s.append(elapsed)
                    eligible += len(result.eligible)
                    prompt_chars += sum(len(m.content) for m in result.prompt.messages)
                else:
                    floor_s.append(elapsed)
        phases = _phases(engine, registry, prompts, now, sample[warmup : warmup + 300])
    finally:
        nudge.stop()
    p, f = summarize(plan_s), summarize(floor_s)
    r50, r99 = ratio(p.p50, f.p50), ratio(p.p99, f.p99)
    ci99 = paired_ratio_ci(plan_s, floor_s, 99)
    rows: list[list[Any]] = [
        [
            "plan (Orchestrator.plan)",
            p.n,
            fmt_ms(p.p50),
            fmt_ms(p.p99),
            fmt_ms(p.mean),
            statements["plan"],
        ],
        [
            "floor (bare SQL)",
            f.n,
            fmt_ms(f.p50),
            fmt_ms(f.p99),
            fmt_ms(f.mean),
            statements["floor"],
        ],
        ["ratio plan/floor", "", fmt_ratio(r50), fmt_ratio(r99), "", ""],
    ]
    ctx.say(render_table(["path", "n", "p50", "p99", "mean", "statements"], rows))
    ping = " (+1 pool pre-ping per checkout)" if backend == "postgres" else ""
    ctx.say(
        f"ratio p99 {fmt_ratio(r99)} ({fmt_ci(ci99)}; target {fmt_target(TARGET_P99, 'at_most')}: "
        f"{verdict(r99, TARGET_P99, 'at_most')}); plan statements per call: "
        f"{statements['plan']}{ping}; per plan: {eligible / p.n:.1f} eligible agents, "
        f"{prompt_chars / p.n:.0f} prompt chars; warm-up {warmup} excluded"
    )
    ctx.say(
        "plan phases (p50, same functions timed one by one, 300 users): "
        + ", ".join(f"{k} {fmt_ms(v)}" for k, v in phases.items())
    )
    ctx.check(NAME, f"p99 ratio plan/floor ({backend})", r99, TARGET_P99, "at_most")
    return {
        "users": users,
        "rows": counts,
        "plan_s": p.as_dict(),
        "floor_s": f.as_dict(),
        "ratio_p50": r50,
        "ratio_p99": r99,
        "ratio_p99_ci95": ci99,
        "statements_per_call": statements,
        "pool_pre_ping": backend == "postgres",
        "phases_p50_s": phases,
        "eligible_per_plan": eligible / p.n,
        "prompt_chars_per_plan": prompt_chars / p.n,
    }


def _statements_per_call(
    engine: Engine, plan: Callable[[str], Any], floor: _Floor, users: list[str]
) -> dict[str, str]:
    """Statements sent per call (min-max over ``users``).

    SQLAlchemy statements are counted by its cursor event; the plan's driver-cursor reads
    (``nudge_infra.storage.driver.Reader``) by wrapping the reader's two methods for the count.
    """
    from nudge_infra.storage.driver import Reader

    seen: list[int] = []

    def count(*_: Any) -> None:
        seen[-1] += 1

    def counted(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            count()
            return method(*args)

        return wrapper

    originals = {"all": Reader.all, "one": Reader.one}
    found: dict[str, str] = {}
    event.listen(engine, "before_cursor_execute", count)
    for name, method in originals.items():
        setattr(Reader, name, counted(method))
    try:
        for side, call in (("plan", plan), ("floor", floor.read)):
            per_call = []
            for user_id in users:
                seen.append(0)
                call(user_id)
                per_call.append(seen[-1])
            found[side] = _span(per_call)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        for name, method in originals.items():
            setattr(Reader, name, method)
    if found["floor"] == "0":
        found["floor"] = _span(floor.statements_sent)  # raw DBAPI cursors skip the event
    return found


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def _phases(
    engine: Engine,
    registry: Registry,
    prompts: Mapping[str, PromptTemplate],
    now: datetime,
    users: list[str],
) -> dict[str, float]:
    """Time the plan's steps one by one (informative; the plan itself is measured above).

    The steps are the product functions ``ml.serving.tip.plan.make_plan`` calls, in its
    order, each user with the prompt of the arm the plan chose (``prompts``); only the
    glue between them is repeated here (the ranking of eligible outputs is left out).
    """
    from bench.stats import percentile
    from ml.registry.eligibility import candidates, decide
    from ml.serving.tip.prompt import Frame, PromptSnippet, assemble
    from ml.serving.tip.tip_context import read_outputs, read_suppressions
    from ml.serving.tip.tip_store import read_last_tip
    from nudge_infra.storage.driver import Reader
    from nudge_profile.store import read_profile

    spans: dict[str, list[float]] = {
        k: []
        for k in ("checkout", "profile", "outputs", "suppressions", "last_tip", "decide+prompt")
    }
    agents = list(registry.agents.values())
    for user_id in users:
        t = time.perf_counter()
        with Reader(engine) as reader:
            spans["checkout"].append(time.perf_counter() - t)
            t = time.perf_counter()
            profile = read_profile(reader, user_id)
            context = profile.context_at(now)
            wanted = candidates(agents, granted=profile.granted, active_context=context)
            spans["profile"].append(time.perf_counter() - t)
            t = time.perf_counter()
            outputs = read_outputs(reader, user_id, wanted)
            spans["outputs"].append(time.perf_counter() - t)
            t = time.perf_counter()
            suppressed, hidden = read_suppressions(reader, user_id, now)
            spans["suppressions"].append(time.perf_counter() - t)
            t = time.perf_counter()
            read_last_tip(reader, user_id)
            spans["last_tip"].append(time.perf_counter() - t)
        t = time.perf_counter()
        decisions = decide(
            agents,
            granted=profile.granted,
            active_context=context,
            outputs={k: o.ref() for k, o in outputs.items()},
            suppressions=suppressed,
            now=now,
            hidden_items=hidden,
        )
        eligible = [outputs[d.agent_id] for d in decisions if d.eligible]
        frame = Frame(prompts[user_id], now, profile.timezone, profile.preferences, context)
        assemble(frame, [PromptSnippet(o.agent_id, o.snippet) for o in eligible])
        spans["decide+prompt"].append(time.perf_counter() - t)
    return {k: percentile(v, 50) for k, v in spans.items()}


class _Floor:
    """The rows a plan reads, by primary key or index, as plain SQL on one DBAPI connection."""

    def __init__(self, engine: Engine, registry: Any, now: datetime) -> None:
        self._engine = engine
        self._registry = registry
        self._now_dt = now
        self._sqlite = engine.dialect.name == "sqlite"
        mark = "?" if self._sqlite else "%s"
        self._mark = mark
        self._now: Any = (
            now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else now
        )
        self._sql = {
            "user": "SELECT user_id, timezone, active, created_at, updated_at FROM users "
            f"WHERE user_id = {mark}",
            "prefs": f"SELECT key, value FROM preferences WHERE user_id = {mark}",
            "context": f"SELECT name, until, set_at FROM contexts WHERE user_id = {mark}",
            "consents": f"SELECT key, granted, changed_at FROM consents WHERE user_id = {mark}",
            # Snippet suppressions and item marks, as the plan reads them: one statement.
            "suppressions": "SELECT agent_id, kind, snippet_hash, until, NULL FROM suppressions "
            f"WHERE user_id = {mark} AND (until IS NULL OR until > {mark}) UNION ALL "
            "SELECT agent_id, kind, NULL, until, ref FROM item_marks "
            f"WHERE user_id = {mark} AND (until IS NULL OR until > {mark})",
            # The latest tip's head (no provenance: the plan does not read it either) and
            # whether feedback came after it, as one row.
            "last_tip": "SELECT t.tip_id, t.user_id, t.text, t.rationale, t.agents, t.fallback, "
            "t.fallback_reason, t.fingerprint, t.created_at, t.serve_count, t.last_served_at, "
            "t.items, EXISTS (SELECT 1 FROM tip_feedback f WHERE f.user_id = t.user_id "
            "AND f.created_at >= t.created_at) AS feedback_since "
            f"FROM tips t WHERE t.user_id = {mark} ORDER BY t.created_at DESC LIMIT 1",
        }
        self._wanted: dict[str, list[str]] = {}
        self.statements_sent: list[int] = []

    def prepare(self, users: set[str]) -> None:
        """The candidate agents of each user, as the plan will compute them (not timed)."""
        from ml.registry.eligibility import candidates
        from nudge_infra.storage.driver import Reader
        from nudge_profile.store import read_profile

        agents = list(self._registry.agents.values())
        now = self._now_dt
        with Reader(self._engine) as reader:
            for user_id in users:
                profile = read_profile(reader, user_id)
                self._wanted[user_id] = candidates(
                    agents, granted=profile.granted, active_context=profile.context_at(now)
                )

    def read(self, user_id: str) -> None:
        wanted = self._wanted[user_id]
        conn = self._engine.raw_connection()
        sent = 0
        try:
            cur = conn.cursor()
            for key in ("user", "prefs", "context", "consents"):
                cur.execute(self._sql[key], (user_id,))
                cur.fetchall()
                sent += 1
            if wanted:
                marks = ", ".join([self._mark] * len(wanted))
                # The outputs with their items and params, and the policy's counts (the
                # user's and everyone's) for each: one statement, as the plan reads them.
                cur.execute(
                    "SELECT o.agent_id, o.agent_version, o.snippet, o.suggestion, "
                    "o.snippet_hash, o.computed_at, o.expires_at, o.items, o.params, "
                    "c.served, c.done, c.dismissed, c.snoozed, c.ignored, "
                    "p.served, p.done, p.dismissed, p.snoozed, p.ignored FROM agent_outputs o "
                    "LEFT JOIN agent_credit c ON c.user_id = o.user_id AND c.agent_id = o.agent_id "
                    "LEFT JOIN agent_population p ON p.agent_id = o.agent_id "
                    f"WHERE o.user_id = {self._mark} AND o.agent_id IN ({marks})",
                    (user_id, *wanted),
                )
                cur.fetchall()
                sent += 1
            cur.execute(self._sql["suppressions"], (user_id, self._now, user_id, self._now))
            cur.fetchall()
            cur.execute(self._sql["last_tip"], (user_id,))
            cur.fetchone()
            sent += 2
            cur.close()
        finally:
            conn.close()
        if len(self.statements_sent) < 1000:
            self.statements_sent.append(sent)
