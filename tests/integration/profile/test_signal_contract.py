"""Every signal kind has a contract: a kind file with the JSON Schema of its payload.

A batch with an unknown kind or a payload its schema refuses is rejected whole with 422,
naming each bad item's index and field; `GET /v1/signal-kinds` lists the contract.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from nudge_infra.storage.tables import signals
from tests.integration.serving.tip_env import Env

NOW = "2026-11-20T09:00:00+00:00"


def item(kind: str, external_id: str, **payload: Any) -> dict[str, Any]:
    return {"kind": kind, "external_id": external_id, "payload": payload, "occurred_at": NOW}


def stored(env: Env, user: str = "alice") -> int:
    with env.nudge.engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(signals).where(signals.c.user_id == user)
        ).scalar()
    return int(count or 0)


def post(env: Env, *items: dict[str, Any]) -> Any:
    return env.client.post("/v1/users/alice/signals", json={"signals": list(items)})


def test_the_kinds_are_listed_with_their_schema_example_and_readers(env: Env) -> None:
    r = env.client.get("/v1/signal-kinds")
    assert r.status_code == 200
    kinds = {k["kind"]: k for k in r.json()}
    assert {"task", "calendar_event", "sleep_log", "habit_checkin", "article"} <= set(kinds)
    task = kinds["task"]
    assert task["read_by"] == ["tasks"] and task["reserved"] is False
    assert task["payload_schema"]["required"] == ["title"]
    assert task["retention_days"] == 30 and task["example"]["title"]
    assert kinds["tip_feedback"]["reserved"] is True
    assert sorted(kinds["calendar_event"]["read_by"]) == ["calendar", "focus"]


def test_each_kinds_example_is_accepted_and_stored(env: Env) -> None:
    kinds = [k for k in env.client.get("/v1/signal-kinds").json() if not k["reserved"]]
    before = stored(env)
    r = post(env, *(item(k["kind"], f"example-{k['kind']}", **k["example"]) for k in kinds))
    assert r.status_code == 200, r.text
    assert stored(env) == before + len(kinds)


def test_a_misspelt_kind_is_refused_with_the_nearest_name_and_nothing_is_stored(
    env: Env,
) -> None:
    before = stored(env)
    r = post(
        env,
        item("task", "ok", title="Renew the parking permit", due="2026-11-21"),
        item("calender_event", "e1", start=NOW, end=NOW),
    )
    assert r.status_code == 422
    (detail,) = r.json()["error"]["details"]
    assert detail["index"] == 1 and detail["field"] == "kind"
    assert "did you mean 'calendar_event'" in detail["reason"]
    assert stored(env) == before  # the good item of the batch was not stored either


def test_each_bad_field_of_each_bad_item_is_named(env: Env) -> None:
    before = stored(env)
    r = post(
        env,
        item("task", "ok", title="Renew the parking permit"),
        item("task", "bad", due="2026-11-21", priority=9, tittle="typo"),
        item("sleep_log", "night", start="2026-11-20T23:30:00+01:00"),
    )
    assert r.status_code == 422
    found = {(d["index"], d["field"]): d["reason"] for d in r.json()["error"]["details"]}
    assert found[(1, "payload.title")] == "is required"
    assert "9 is greater than the maximum of 4" in found[(1, "payload.priority")]
    assert found[(1, "payload.tittle")].startswith("is not a field of this kind (fields: done")
    assert found[(2, "payload.end")] == "is required"
    assert all(index in (1, 2) for index, _ in found)
    assert stored(env) == before


def test_dates_must_be_real_iso_dates_and_a_time_without_offset_is_local(env: Env) -> None:
    for bad, why in (("2026-02-30", "day is out of range"), ("tomorrow", "not an ISO 8601")):
        r = post(env, item("task", "t", title="Pay rent", due=bad))
        assert r.status_code == 422
        (detail,) = r.json()["error"]["details"]
        assert detail["field"] == "payload.due" and why in detail["reason"]
    for good in ("2026-11-21", "2026-11-21T14:00", "2026-11-21T14:00:00Z"):
        assert post(env, item("task", "t", title="Pay rent", due=good)).status_code == 200


def test_a_timed_event_needs_an_end_and_an_all_day_event_does_not(env: Env) -> None:
    timed = item("calendar_event", "e1", title="Review", start="2026-11-21T14:00")
    r = post(env, timed)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "payload.end"
    all_day = item("calendar_event", "e2", title="Offsite", start="2026-11-21", all_day=True)
    assert post(env, all_day).status_code == 200


def test_wrong_types_are_named_not_coerced(env: Env) -> None:
    r = post(env, item("article", "a", title="Read me", minutes="six", read="yes"))
    assert r.status_code == 422
    found = {d["field"]: d["reason"] for d in r.json()["error"]["details"]}
    assert found == {
        "payload.minutes": "'six' is not of type 'number'",
        "payload.read": "'yes' is not of type 'boolean'",
    }
