"""Export everything about a user; erase everything about a user, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from nudge.runtime import Nudge
from nudge_infra.events.outbox import Topic
from nudge_infra.storage.tables import metadata, outbox
from nudge_profile.privacy import USER_TABLES
from tests.conftest import FixedClock, MakeSettings
from tests.integration.serving.tip_env import Env, open_env


@pytest.fixture
def env(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Env]:
    """The shared tip env, with the admin's credential instead of the gateway's."""

    def admin(nudge: Nudge) -> dict[str, str]:
        return {"Authorization": f"Bearer {nudge.credentials.admin_token}"}

    with open_env(settings_for(), clock, admin) as opened:
        yield opened


def _give_alice_a_history(env: Env) -> str:
    c = env.client
    c.put("/v1/users/alice/consents/sleep.read", json={"granted": False})
    c.put("/v1/users/alice/consents/sleep.read", json={"granted": True})
    env.llm.push(
        json.dumps(
            {"tip": "Send the Q3 invoice now.", "agents": ["tasks"], "rationale": "Overdue."}
        )
    )
    tip_id = str(c.get("/v1/users/alice/tip").json()["tip_id"])
    until = (env.clock() + timedelta(hours=2)).isoformat()
    c.post(f"/v1/tips/{tip_id}/feedback", json={"reaction": "snooze", "snooze_until": until})
    return tip_id


def rows_of(env: Env, user_id: str) -> dict[str, int]:
    """Rows naming the user, in every table that has a user_id column."""
    counts = {}
    with env.nudge.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if "user_id" in table.c:
                counts[table.name] = conn.execute(
                    select(func.count()).select_from(table).where(table.c.user_id == user_id)
                ).scalar_one()
    return counts


def test_every_table_with_user_rows_is_covered() -> None:
    with_user = {t.name for t in metadata.sorted_tables if "user_id" in t.c}
    assert with_user == {t.name for t in USER_TABLES}


def test_export_holds_everything_stored_about_the_user(env: Env) -> None:
    tip_id = _give_alice_a_history(env)
    r = env.client.get("/v1/users/alice/export")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["user_id"] == "alice"
    assert doc["users"][0]["timezone"] == "Europe/Paris"
    assert {p["key"] for p in doc["preferences"]} >= {"work_start", "focus_minutes"}
    history = [(h["key"], h["granted"]) for h in doc["consent_history"] if h["key"] == "sleep.read"]
    assert history[-2:] == [("sleep.read", False), ("sleep.read", True)]
    assert {s["kind"] for s in doc["signals"]} >= {"task", "calendar_event", "tip_feedback"}
    assert {o["agent_id"] for o in doc["agent_outputs"]} >= {"tasks", "calendar"}
    tip = next(t for t in doc["tips"] if t["tip_id"] == tip_id)
    assert tip["text"] == "Send the Q3 invoice now."
    assert tip["provenance"]["cited"][0]["agent_id"] == "tasks"
    assert [f["reaction"] for f in doc["tip_feedback"]] == ["snooze"]
    assert [(m["ref"], m["kind"]) for m in doc["item_marks"]] == [("task:task-1", "snoozed")]
    credit = {c["agent_id"]: c for c in doc["agent_credit"]}
    assert (credit["tasks"]["served"], credit["tasks"]["snoozed"]) == (1, 1)
    assert {p["key"] for p in doc["inferred_params"]} >= {"wake_time", "active_hour"}
    assert {e["topic"] for e in doc["events"]} >= {Topic.TIP_SERVED, Topic.CONSENT_CHANGED}
    # Every table with user rows has a section, holding alice's rows only.
    for table in USER_TABLES:
        assert {row["user_id"] for row in doc[table.name]} <= {"alice"}, table.name


def test_delete_erases_every_row_of_the_user_and_only_theirs(env: Env) -> None:
    _give_alice_a_history(env)
    bob_before = rows_of(env, "bob")
    assert sum(rows_of(env, "alice").values()) > 20
    r = env.client.delete("/v1/users/alice")
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["users"] == 1 and r.json()["deleted"]["signals"] > 0
    assert set(rows_of(env, "alice").values()) == {0}
    assert rows_of(env, "bob") == bob_before
    with env.nudge.engine.connect() as conn:
        remaining = conn.execute(select(outbox.c.topic, outbox.c.payload)).all()
    about_alice = [(t, p) for t, p in remaining if "alice" in json.dumps(p)]
    # The one row left naming alice is the erasure notice itself.
    assert about_alice == [(Topic.USER_DELETED, {"user_id": "alice"})]
    assert any(t == Topic.AGENT_OUTPUTS_WRITTEN and "bob" in p["users"] for t, p in remaining)
    # Gone means gone for every route.
    assert env.client.get("/v1/users/alice/profile").status_code == 404
    assert env.client.get("/v1/users/alice/export").status_code == 404
    assert env.client.delete("/v1/users/alice").status_code == 404


def test_delete_is_one_transaction(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure part-way through leaves every row in place."""
    from nudge_profile import privacy

    before = rows_of(env, "alice")

    def broken(*_: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(privacy, "_forget_events", broken)
    with pytest.raises(RuntimeError):
        privacy.delete_user(env.nudge.engine, env.clock, "alice")
    assert rows_of(env, "alice") == before
