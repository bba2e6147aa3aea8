"""The context_fetch data set: users × 8 agents with profiles, outputs, tips and feedback.

Written with bulk inserts, directly into the tables (the API would take minutes for
10,000 users). Shapes follow what the product writes: ~300-character snippets, one or
two past tips with a provenance record, suppressions that match the feedback.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

# The README's example of a declarative agent: the eighth agent of the data set.
WATER_MANIFEST = """\
id: water
version: 1
name: Water
description: Glasses of water logged today.
template: |
  {% set today_logs = signals | selectattr("payload.date", "equalto", today) | list %}
  {% if today_logs | length < 4 %}Water: {{ today_logs | length }} glasses logged today, goal 8.
  ---suggestion---
  Drink a glass of water now.{% endif %}
schedule: {every: 30m, jitter: 2m}
ttl: 1h
consents: [health.read]
silenced_in: [sleep]
priority: 30
timeout: 2s
reads: [water_log]
"""

ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "Europe/London", "UTC")
CONTEXTS = ("vacation", "sleep", "focus", "travel")
# fmt: off
WORDS = (
    "review", "invoice", "meeting", "design", "slot", "focus", "window", "streak", "habit",
    "sleep", "target", "reading", "article", "overdue", "today", "tomorrow", "priority",
    "calendar", "stand-up", "budget", "report", "draft", "call", "walk", "stretch", "journal",
    "guitar", "minutes", "hours", "average", "morning", "afternoon", "evening",
)
# fmt: on


def all_consents(registry: Any) -> list[str]:
    """Every consent key some agent of `registry` asks for (what "all consents" means)."""
    return sorted({key for agent in registry.agents.values() for key in agent.consents})


def write_dataset(
    engine: Engine, registry: Any, now: datetime, n_users: int, rng: random.Random
) -> dict[str, int]:
    """Write the data set with bulk inserts; return the row count of each table."""
    from nudge_infra.storage.tables import (
        agent_outputs,
        consents,
        contexts,
        preferences,
        suppressions,
        tip_feedback,
        tips,
        users,
    )

    agents = sorted(registry.agents.values(), key=lambda a: a.id)
    keys = all_consents(registry)
    rows: dict[str, list[dict[str, Any]]] = {
        t: [] for t in ("users", "preferences", "consents", "contexts", "agent_outputs")
    }
    later: dict[str, list[dict[str, Any]]] = {"tips": [], "tip_feedback": [], "suppressions": []}
    for i in range(n_users):
        user_id = f"u{i:05d}"
        created = now - timedelta(days=rng.randrange(1, 400))
        rows["users"].append(
            {
                "user_id": user_id,
                "timezone": rng.choice(ZONES),
                "active": True,
                "created_at": created,
                "updated_at": now - timedelta(hours=rng.randrange(1, 200)),
            }
        )
        prefs: dict[str, Any] = {
            "work_start": "09:00",
            "work_end": rng.choice(["17:00", "18:00", "19:00"]),
            "focus_minutes": rng.choice([45, 60, 90]),
            "sleep_target_hours": rng.choice([7, 7.5, 8]),
        }
        if rng.random() < 0.3:
            prefs["tasks.horizon_hours"] = 24
        rows["preferences"] += [
            {"user_id": user_id, "key": k, "value": v, "updated_at": created}
            for k, v in prefs.items()
        ]
        refused = {rng.choice(keys)} if rng.random() < 0.15 else set()
        rows["consents"] += [
            {"user_id": user_id, "key": k, "granted": k not in refused, "changed_at": created}
            for k in keys
        ]
        if rng.random() < 0.15:
            until = rng.choice([None, now + timedelta(days=2), now - timedelta(hours=1)])
            rows["contexts"].append(
                {
                    "user_id": user_id,
                    "name": rng.choice(CONTEXTS),
                    "until": until,
                    "set_at": now - timedelta(days=1),
                }
            )
        hashes: dict[str, str] = {}
        for agent in agents:
            if set(agent.consents) & refused:
                continue  # a sweep stores nothing without consent
            snippet = _snippet(rng, agent.id)
            suggestion = f"{rng.choice(WORDS).capitalize()} the {rng.choice(WORDS)} now."
            digest = hashlib.sha256((snippet + suggestion).encode()).hexdigest()[:32]
            hashes[agent.id] = digest
            computed = now - timedelta(seconds=rng.randrange(0, 900))
            expired = rng.random() < 0.03
            rows["agent_outputs"].append(
                {
                    "user_id": user_id,
                    "agent_id": agent.id,
                    "agent_version": agent.version if rng.random() > 0.02 else agent.version + 1,
                    "snippet": snippet,
                    "suggestion": suggestion,
                    "facts": {"count": rng.randrange(10), "next": rng.choice(WORDS), "ok": True},
                    "snippet_hash": digest,
                    "computed_at": computed,
                    "expires_at": computed + (timedelta(0) if expired else agent.ttl),
                }
            )
        _tips_of(rng, user_id, now, agents, hashes, later)
    with engine.begin() as conn:
        for table in (users, preferences, consents, contexts, agent_outputs):
            _bulk(conn, table, rows[table.name])
        for table in (tips, tip_feedback, suppressions):
            _bulk(conn, table, later[table.name])
    return {name: len(v) for name, v in (rows | later).items()}


def _bulk(conn: Any, table: Any, rows: list[dict[str, Any]], chunk: int = 5_000) -> None:
    for start in range(0, len(rows), chunk):
        conn.execute(insert(table), rows[start : start + chunk])


def _snippet(rng: random.Random, agent_id: str) -> str:
    """About 300 characters of agent prose with times and titles, like the real ones."""
    parts = [f"{agent_id.replace('_', ' ').capitalize()}:"]
    while sum(len(p) + 1 for p in parts) < 290:
        hour = rng.randrange(7, 20)
        parts.append(
            f'"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)}" at {hour:02d}:'
            f"{rng.choice(['00', '15', '30', '45'])} ({rng.randrange(5, 90)} min);"
        )
    return " ".join(parts)[:300]


def _tips_of(
    rng: random.Random,
    user_id: str,
    now: datetime,
    agents: list[Any],
    hashes: dict[str, str],
    out: dict[str, list[dict[str, Any]]],
) -> None:
    """One or two past tips with a provenance record, and sometimes feedback on them."""
    made = []
    for age_h in [30, 3][: rng.choice([1, 2])]:
        cited = [a for a in agents if a.id in hashes][:1]
        created = now - timedelta(hours=age_h, minutes=rng.randrange(60))
        tip_id = str(uuid.UUID(int=rng.getrandbits(128)))
        provenance = {
            "cited": [
                {
                    "agent_id": a.id,
                    "agent_version": a.version,
                    "computed_at": created.isoformat(),
                    "expires_at": (created + a.ttl).isoformat(),
                    "consents": list(a.consents),
                    "snippet_hash": hashes[a.id],
                    "snippet": _snippet(rng, a.id),
                }
                for a in cited
            ],
            "eligible": [
                {"agent_id": a, "agent_version": 1, "snippet_hash": h} for a, h in hashes.items()
            ],
            "cited_by_model": [a.id for a in cited],
            "excluded": [
                {"agent_id": a.id, "reason": "missing_consent", "detail": "consent not granted"}
                for a in agents
                if a.id not in hashes
            ],
            "context": None,
            "prompt": {"name": "tip-orchestrator", "version": "1"},
            "model": {"alias": "tip-generator", "resolved": "openai/smollm2-135m-instruct"},
            "latency_ms": {"assembly": 3.1, "llm": 912.4, "total": 920.2},
            "tokens": {"prompt": 870, "completion": 80},
            "llm_attempts": 1,
            "fallback": False,
            "fallback_reason": None,
            "llm_error": None,
            "registry_fingerprint": "0" * 32,
        }
        out["tips"].append(
            {
                "tip_id": tip_id,
                "user_id": user_id,
                "text": f"{rng.choice(WORDS).capitalize()} your {rng.choice(WORDS)} before 11:00.",
                "rationale": "It is due soon and you have a free slot.",
                "agents": [a.id for a in cited],
                "fallback": False,
                "fallback_reason": None,
                "fingerprint": hashlib.sha256(tip_id.encode()).hexdigest()[:32],
                "prompt_name": "tip-orchestrator",
                "prompt_version": "1",
                "model_alias": "tip-generator",
                "resolved_model": "openai/smollm2-135m-instruct",
                "assembly_ms": 3.1,
                "llm_ms": 912.4,
                "prompt_tokens": 870,
                "completion_tokens": 80,
                "created_at": created,
                "serve_count": 1,
                "last_served_at": created,
                "provenance": provenance,
            }
        )
        made.append((tip_id, created, cited))
    if made and rng.random() < 0.2:
        tip_id, created, cited = made[-1]
        reaction = rng.choice(["done", "snooze", "dismiss"])
        at = created + timedelta(minutes=20)
        snooze_until = now + timedelta(hours=2) if reaction == "snooze" else None
        out["tip_feedback"].append(
            {
                "tip_id": tip_id,
                "user_id": user_id,
                "reaction": reaction,
                "snooze_until": snooze_until,
                "created_at": at,
            }
        )
        kind = {"snooze": "snoozed", "dismiss": "dismissed", "done": "done"}[reaction]
        out["suppressions"] += [
            {
                "user_id": user_id,
                "agent_id": a.id,
                "kind": kind,
                "snippet_hash": None if reaction == "snooze" else hashes[a.id],
                "until": snooze_until,
                "tip_id": tip_id,
                "created_at": at,
            }
            for a in cited
        ]
