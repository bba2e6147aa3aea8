"""The tip path's driver-cursor reads return what SQLAlchemy's column types would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from ml.registry.eligibility import Suppression
from ml.serving.tip.tip_context import read_outputs, read_suppressions
from ml.serving.tip.tip_store import read_last_tip
from nudge_infra.storage.driver import Reader, Statement
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
from nudge_profile.model import Consent
from nudge_profile.store import load_profile
from tests.conftest import Database

NOW = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)
# JSON values whose SQLite storage is easy to get wrong: a JSON column has NUMERIC
# affinity there, so bare numbers come back as numbers and numeric strings must not.
PREFS: dict[str, Any] = {
    "int": 90,
    "float": 7.5,
    "numeric_string": "12",
    "time": "09:00",
    "flag": True,
    "off": False,
    "nothing": None,
    "list": [1, "two"],
    "map": {"a": {"b": 1}},
    "unicode": "café ☕",
}


def _seed(db: Database) -> None:
    later = NOW + timedelta(hours=2)
    with db.engine.begin() as conn:
        conn.execute(
            insert(users).values(
                user_id="u1", timezone="Europe/Paris", active=True, created_at=NOW, updated_at=NOW
            )
        )
        conn.execute(
            insert(contexts).values(user_id="u1", name="vacation", until=later, set_at=NOW)
        )
        conn.execute(
            insert(preferences),
            [{"user_id": "u1", "key": k, "value": v, "updated_at": NOW} for k, v in PREFS.items()],
        )
        conn.execute(
            insert(consents),
            [
                {"user_id": "u1", "key": "tasks.read", "granted": True, "changed_at": NOW},
                {"user_id": "u1", "key": "calendar.read", "granted": False, "changed_at": NOW},
            ],
        )
        conn.execute(
            insert(agent_outputs),
            [
                {
                    "user_id": "u1",
                    "agent_id": agent,
                    "agent_version": 2,
                    "snippet": f"{agent} snippet ‹with› 'quotes' and ? marks",
                    "suggestion": None if agent == "habits" else "Do it",
                    "facts": {"n": 1},
                    "snippet_hash": f"h-{agent}",
                    "computed_at": NOW,
                    "expires_at": later,
                }
                for agent in ("tasks", "habits", "calendar")
            ],
        )
        conn.execute(insert(tips).values(**_tip("t0", NOW - timedelta(hours=2))))
        conn.execute(
            insert(suppressions),
            [
                _suppression("tasks", "snoozed", None, NOW + timedelta(microseconds=1)),
                _suppression("habits", "snoozed", None, NOW),  # lapses exactly now: not active
                _suppression("calendar", "dismissed", "h-calendar", None),
            ],
        )


def _suppression(
    agent: str, kind: str, digest: str | None, until: datetime | None
) -> dict[str, Any]:
    return {
        "user_id": "u1",
        "agent_id": agent,
        "kind": kind,
        "snippet_hash": digest,
        "until": until,
        "tip_id": "t0",
        "created_at": NOW,
    }


def _tip(tip_id: str, at: datetime) -> dict[str, Any]:
    return {
        "tip_id": tip_id,
        "user_id": "u1",
        "text": "Send the invoice",
        "rationale": "Because it is overdue.",
        "agents": ["tasks", "calendar"],
        "fallback": False,
        "fallback_reason": None,
        "fingerprint": "f" * 32,
        "prompt_name": "tip-orchestrator",
        "prompt_version": "1",
        "model_alias": "tip-generator",
        "resolved_model": "m",
        "assembly_ms": 1.0,
        "llm_ms": 2.0,
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "created_at": at,
        "serve_count": 2,
        "last_served_at": at + timedelta(minutes=1),
        "provenance": {},
    }


def test_profile_matches_what_was_written(database: Database) -> None:
    _seed(database)
    with Reader(database.engine) as reader:
        profile = load_profile(reader, "u1")
        missing = load_profile(reader, "nobody")
    assert missing is None
    assert profile is not None
    assert profile.user_id == "u1"
    assert str(profile.timezone) == "Europe/Paris"
    assert profile.active is True
    assert profile.created_at == NOW and profile.created_at.tzinfo is not None
    assert dict(profile.preferences) == PREFS
    assert type(profile.preferences["int"]) is int
    assert type(profile.preferences["numeric_string"]) is str
    assert profile.context is not None
    assert (profile.context.name, profile.context.until) == ("vacation", NOW + timedelta(hours=2))
    assert dict(profile.consents) == {
        "tasks.read": Consent("tasks.read", True, NOW),
        "calendar.read": Consent("calendar.read", False, NOW),
    }
    assert profile.granted == frozenset({"tasks.read"})


def test_outputs_and_suppressions_match_sqlalchemy(database: Database) -> None:
    _seed(database)
    with Reader(database.engine) as reader:
        outputs = read_outputs(reader, "u1", ["tasks", "habits", "unknown"])
        active, hidden = read_suppressions(reader, "u1", NOW)
    assert sorted(outputs) == ["habits", "tasks"]
    with database.engine.connect() as conn:
        row = conn.execute(
            select(agent_outputs).where(
                agent_outputs.c.user_id == "u1", agent_outputs.c.agent_id == "tasks"
            )
        ).one()
    tasks = outputs["tasks"]
    assert (tasks.agent_version, tasks.snippet, tasks.suggestion, tasks.snippet_hash) == (
        row.agent_version,
        row.snippet,
        row.suggestion,
        row.snippet_hash,
    )
    assert (tasks.computed_at, tasks.expires_at) == (row.computed_at, row.expires_at)
    assert outputs["habits"].suggestion is None
    assert sorted(active, key=lambda s: s.agent_id) == [
        Suppression("calendar", "dismissed", "h-calendar", None),
        Suppression("tasks", "snoozed", None, NOW + timedelta(microseconds=1)),
    ]
    assert hidden == frozenset()


def test_last_tip_and_feedback_since(database: Database) -> None:
    _seed(database)
    with Reader(database.engine) as reader:
        assert read_last_tip(reader, "nobody") == (None, False)
    with database.engine.begin() as conn:
        conn.execute(insert(tips), [_tip("old", NOW - timedelta(hours=1)), _tip("new", NOW)])
    with Reader(database.engine) as reader:
        head, since = read_last_tip(reader, "u1")
    assert head is not None and since is False
    assert head.tip_id == "new"
    assert head.agents == ["tasks", "calendar"]
    assert head.fallback is False and head.fallback_reason is None
    assert head.created_at == NOW and head.last_served_at == NOW + timedelta(minutes=1)
    assert head.serve_count == 2
    with database.engine.begin() as conn:
        conn.execute(
            insert(tip_feedback).values(
                tip_id="old", user_id="u1", reaction="done", snooze_until=None, created_at=NOW
            )
        )
    with Reader(database.engine) as reader:
        assert read_last_tip(reader, "u1")[1] is True


def test_reader_returns_its_connection_with_no_transaction_open(database: Database) -> None:
    _seed(database)
    pool = database.engine.pool
    for _ in range(3):
        with Reader(database.engine) as reader:
            assert load_profile(reader, "u1") is not None
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    # A write after the reads is not blocked by, nor hidden behind, a read transaction.
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE users SET timezone = 'UTC' WHERE user_id = 'u1'"))
    with Reader(database.engine) as reader:
        profile = load_profile(reader, "u1")
    assert profile is not None and str(profile.timezone) == "UTC"


def test_reader_releases_the_connection_when_a_read_fails(database: Database) -> None:
    broken = Statement("SELECT no_such_column FROM users WHERE user_id = ?")
    with pytest.raises(Exception), Reader(database.engine) as reader:  # noqa: B017
        reader.all(broken, ("u1",))
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with Reader(database.engine) as reader:
        assert load_profile(reader, "u1") is None


def test_statement_refuses_percent_signs() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Statement("SELECT 1 WHERE 'a' LIKE 'a%'")
