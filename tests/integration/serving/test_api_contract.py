"""Bad input on every route: a 4xx JSON error naming the problem, and nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.runtime import Nudge
from nudge_infra.storage.tables import signals
from tests.conftest import FixedClock, MakeSettings, gateway_headers


@pytest.fixture
def nudge(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Nudge]:
    n = bootstrap(settings_for(max_request_bytes=64 * 1024), clock=clock, llm=FakeLLM())
    n.profiles.upsert_user("dana", timezone="Europe/Berlin")
    yield n
    n.stop()


@pytest.fixture
def client(nudge: Nudge) -> Iterator[TestClient]:
    with TestClient(
        build_app(nudge, start=False),
        raise_server_exceptions=False,
        headers=gateway_headers(nudge),
    ) as c:
        yield c


def signal(i: int, **changes: object) -> dict[str, object]:
    item: dict[str, object] = {
        "kind": "task",
        "external_id": f"t{i}",
        "payload": {"title": f"Task {i}", "due": "2026-11-21"},
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    item.update(changes)
    return item


def stored_signals(nudge: Nudge) -> int:
    with nudge.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(signals)).scalar_one())


def assert_error(response: object, status: int, *, mentions: str = "") -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    if mentions:
        assert mentions in json.dumps(body), body
    return body["error"]  # type: ignore[no-any-return]


def test_signals_are_upserted_by_kind_and_external_id(client: TestClient, nudge: Nudge) -> None:
    r = client.post("/v1/users/dana/signals", json={"signals": [signal(1), signal(2)]})
    assert r.status_code == 200 and r.json() == {"user_id": "dana", "stored": 2}
    r = client.post(
        "/v1/users/dana/signals",
        json={"signals": [signal(1, payload={"title": "New", "due": "2026-11-22"})]},
    )
    assert r.status_code == 200
    assert stored_signals(nudge) == 2
    with nudge.engine.connect() as conn:
        payload = conn.execute(
            select(signals.c.payload).where(signals.c.external_id == "t1")
        ).scalar_one()
    assert payload["title"] == "New"


def test_a_bad_item_rejects_the_whole_batch_naming_its_index(
    client: TestClient, nudge: Nudge
) -> None:
    batch = [
        signal(0),
        signal(1, kind="Not A Kind"),
        signal(2),
        signal(3, occurred_at="2026-11-20T10:00:00"),
    ]
    error = assert_error(client.post("/v1/users/dana/signals", json={"signals": batch}), 422)
    indexes = sorted({d["index"] for d in error["details"]})  # type: ignore[index, union-attr]
    assert indexes == [1, 3]
    assert stored_signals(nudge) == 0


def test_oversized_payload_is_rejected_and_nothing_stored(client: TestClient, nudge: Nudge) -> None:
    big = signal(1, payload={"title": "x" * 20_000, "due": "2026-11-21"})
    error = assert_error(
        client.post("/v1/users/dana/signals", json={"signals": [signal(0), big]}), 422
    )
    assert error["details"] == [
        {"index": 1, "field": "payload", "reason": "payload is larger than 16384 bytes"}
    ]
    assert stored_signals(nudge) == 0


def test_oversized_body_is_refused_with_413(client: TestClient) -> None:
    batch = [signal(i, payload={"title": "y" * 10_000, "due": "2026-11-21"}) for i in range(10)]
    assert_error(client.post("/v1/users/dana/signals", json={"signals": batch}), 413)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/v1/users/nobody/signals", {"signals": [signal(1)]}, 404),
        ("get", "/v1/users/nobody/tip", None, 404),
        ("get", "/v1/users/nobody/profile", None, 404),
        ("put", "/v1/users/nobody/prefs", {"preferences": {}}, 404),
        ("put", "/v1/users/nobody/context", {"name": "vacation"}, 404),
        ("delete", "/v1/users/nobody/context", None, 404),
        ("put", "/v1/users/nobody/consents/calendar.read", {"granted": True}, 404),
        ("get", "/v1/tips/00000000-0000-0000-0000-000000000000/explain", None, 404),
        (
            "post",
            "/v1/tips/00000000-0000-0000-0000-000000000000/feedback",
            {"reaction": "done"},
            404,
        ),
        ("get", "/v1/tips/not-a-tip/explain", None, 422),
        ("get", "/v1/users/bad%20id!/tip", None, 422),
        ("put", "/v1/users/dana", {"timezone": "Mars/Olympus"}, 422),
        ("put", "/v1/users/dana", {"timezone": "UTC", "extra": 1}, 422),
        ("put", "/v1/users/dana", [1, 2], 422),
        ("put", "/v1/users/dana/consents/NOT_A_KEY", {"granted": True}, 422),
        ("put", "/v1/users/dana/consents/calendar.read", {"granted": "maybe"}, 422),
        ("put", "/v1/users/dana/context", {"name": "Vacation Time"}, 422),
        (
            "put",
            "/v1/users/dana/context",
            {"name": "vacation", "until": "2020-01-01T00:00:00Z"},
            422,
        ),
        (
            "put",
            "/v1/users/dana/context",
            {"name": "vacation", "until": "2030-01-01T00:00:00"},
            422,
        ),
        ("put", "/v1/users/dana/prefs", {"preferences": {"Bad Key": 1}}, 422),
        ("put", "/v1/users/dana/prefs", {"preferences": {f"k{i}": i for i in range(101)}}, 422),
        ("post", "/v1/users/dana/signals", {"signals": []}, 422),
        ("post", "/v1/users/dana/signals", {"signals": "nope"}, 422),
        ("post", "/v1/users/dana/signals", {"signals": [signal(1, kind="tip_feedback")]}, 422),
        ("get", "/v1/nowhere", None, 404),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    client: TestClient, method: str, path: str, body: object, status: int
) -> None:
    response = client.request(method, path, json=body)
    assert_error(response, status)


def test_malformed_json_is_a_422_not_a_500(client: TestClient) -> None:
    r = client.post(
        "/v1/users/dana/signals",
        content=b'{"signals": [',
        headers={"content-type": "application/json"},
    )
    assert_error(r, 422)


def test_feedback_rules(client: TestClient, nudge: Nudge, clock: FixedClock) -> None:
    tip = client.get("/v1/users/dana/tip").json()  # nothing eligible: a fallback tip, no LLM
    url = f"/v1/tips/{tip['tip_id']}/feedback"
    assert_error(client.post(url, json={"reaction": "snooze"}), 422, mentions="snooze_until")
    past = (clock() - timedelta(minutes=1)).isoformat()
    assert_error(
        client.post(url, json={"reaction": "snooze", "snooze_until": past}), 422, mentions="future"
    )
    future = (clock() + timedelta(hours=1)).isoformat()
    assert_error(client.post(url, json={"reaction": "done", "snooze_until": future}), 422)
    assert_error(client.post(url, json={"reaction": "love"}), 422, mentions="reaction")
    first = client.post(url, json={"reaction": "done"})
    second = client.post(url, json={"reaction": "done"})
    assert first.status_code == second.status_code == 200
    assert first.json()["new"] is True and second.json()["new"] is False
    assert len(client.get(f"/v1/tips/{tip['tip_id']}/explain").json()["feedback"]) == 1


def test_profile_round_trip(client: TestClient) -> None:
    r = client.put("/v1/users/erin", json={"timezone": "America/Chicago"})
    assert r.status_code == 201
    assert client.put("/v1/users/erin", json={"timezone": "Europe/Paris"}).status_code == 200
    client.put("/v1/users/erin/prefs", json={"preferences": {"work_start": "08:00"}})
    client.put("/v1/users/erin/consents/tasks.read", json={"granted": True})
    client.put("/v1/users/erin/context", json={"name": "sleep"})
    profile = client.get("/v1/users/erin/profile").json()
    assert profile["timezone"] == "Europe/Paris"
    assert profile["preferences"] == {"work_start": "08:00"}
    assert profile["context"]["name"] == "sleep"
    assert [(c["key"], c["granted"]) for c in profile["consents"]] == [("tasks.read", True)]
    assert client.delete("/v1/users/erin/context").json()["context"] is None


def test_health_ready_and_registry(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True
    agents = client.get("/v1/agents").json()
    ids = {a["id"] for a in agents["agents"]}
    assert {
        "tasks",
        "calendar",
        "habits",
        "focus",
        "feedback_history",
        "sleep",
        "reading_list",
    } <= ids
    assert agents["rejected"] == []


def test_signals_can_be_deleted_one_by_one(client: TestClient, nudge: Nudge) -> None:
    client.post("/v1/users/dana/signals", json={"signals": [signal(1), signal(2)]})
    assert client.delete("/v1/users/dana/signals/task/t1").status_code == 204
    assert stored_signals(nudge) == 1
    assert_error(client.delete("/v1/users/dana/signals/task/t1"), 404)
    assert_error(client.delete("/v1/users/nobody/signals/task/t2"), 404)
    assert_error(client.delete("/v1/users/dana/signals/tip_feedback/x"), 404)
    assert_error(client.delete("/v1/users/dana/signals/Bad Kind/x"), 422)


def test_recent_tips_newest_first(client: TestClient, clock: FixedClock) -> None:
    first = client.get("/v1/users/dana/tip").json()
    clock.advance(minutes=5)
    second = client.get("/v1/users/dana/tip", params={"refresh": "true"}).json()
    listed = client.get("/v1/users/dana/tips", params={"limit": 5}).json()
    assert [t["tip_id"] for t in listed] == [second["tip_id"], first["tip_id"]]
    assert_error(client.get("/v1/users/dana/tips", params={"limit": 0}), 422)
    assert_error(client.get("/v1/users/nobody/tips"), 404)
