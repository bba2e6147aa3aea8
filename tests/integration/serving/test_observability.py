"""/metrics, request ids and JSON logs; logs never carry snippet, payload or tip text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.runtime import Nudge
from nudge_infra.logs import JsonFormatter, configure_logging
from nudge_infra.storage.tables import outbox
from tests.conftest import FixedClock, MakeSettings, gateway_headers

PAYLOAD_MARKER = "payload-secret-5d1e"
TIP_MARKER = "tip-secret-a8b4"


@pytest.fixture
def nudge(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Nudge]:
    llm = FakeLLM()
    n = bootstrap(settings_for(), clock=clock, llm=llm)
    yield n
    n.stop()


def _drive(client: TestClient, nudge: Nudge) -> dict[str, str]:
    """A user, a signal, a sweep, a tip: return the tip response's headers and body."""
    client.put("/v1/users/obs", json={"timezone": "UTC"})
    client.put("/v1/users/obs/consents/tasks.read", json={"granted": True})
    signal = {
        "kind": "task",
        "external_id": "t1",
        "payload": {"title": f"Pay the {PAYLOAD_MARKER} bill", "due": "2026-11-21"},
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    assert client.post("/v1/users/obs/signals", json={"signals": [signal]}).status_code == 200
    nudge.sweeper.sweep_all()
    llm = nudge.llm
    assert isinstance(llm, FakeLLM)
    # The shipped prompt asks for the tip alone; it must name the task to be grounded.
    answer = {"tip": f"Pay the {PAYLOAD_MARKER} bill now, ref {TIP_MARKER}."}
    llm.push(json.dumps(answer))
    r = client.get("/v1/users/obs/tip", headers={"x-request-id": "req-42"})
    assert r.status_code == 200
    return {"request_id": r.headers["x-request-id"], **r.json()}


def _metrics(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_metrics_count_requests_tips_llm_sweeps_and_backlog(nudge: Nudge) -> None:
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        _drive(client, nudge)
        client.get("/v1/users/obs/tip")  # unchanged: served again without the LLM
        client.get("/v1/users/nobody/profile")
        found = _metrics(client)
    route = ("route", "/v1/users/{user_id}/tip")
    assert found[("nudge_http_requests_total", (("method", "GET"), route, ("status", "200")))] == 2
    profile = ("route", "/v1/users/{user_id}/profile")
    assert (
        found[("nudge_http_requests_total", (("method", "GET"), profile, ("status", "404")))] == 1
    )
    assert found[("nudge_http_request_duration_seconds_count", (("method", "GET"), route))] == 2
    tips = {labels: v for (name, labels), v in found.items() if name == "nudge_tips_total"}
    assert tips == {
        (("cached", "false"), ("fallback", "false"), ("reason", "none")): 1,
        (("cached", "true"), ("fallback", "false"), ("reason", "none")): 1,
    }
    tokens = {labels: v for (name, labels), v in found.items() if name == "nudge_llm_tokens_total"}
    assert {dict(labels)["kind"] for labels in tokens} == {"prompt", "completion"}
    assert all(v > 0 for v in tokens.values())
    assert found[("nudge_sweep_last_ok", (("agent", "tasks"),))] == 1
    assert ("nudge_sweep_last_duration_seconds", (("agent", "tasks"),)) in found
    with nudge.engine.connect() as conn:
        pending = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    assert pending > 0 and found[("nudge_outbox_backlog", ())] == pending
    # No raw paths (user ids) as labels.
    assert not any("obs" in str(labels) or "nobody" in str(labels) for _, labels in found)


def test_request_ids_are_returned_and_sanitised(nudge: Nudge) -> None:
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        mine = client.get("/healthz", headers={"x-request-id": "gw-123"})
        assert mine.headers["x-request-id"] == "gw-123"
        made = client.get("/healthz").headers["x-request-id"]
        bad = client.get("/healthz", headers={"x-request-id": "x" * 200}).headers["x-request-id"]
        assert len(made) == 32 and len(bad) == 32 and bad != "x" * 200
        refused = client.get("/v1/users/x/profile", headers={"Authorization": "Bearer no"})
        assert refused.status_code == 401 and refused.headers["x-request-id"]


def test_logs_are_json_with_request_ids_and_no_user_content(nudge: Nudge) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    try:
        configure_logging("DEBUG", "json")  # the most talkative level
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
            served = _drive(client, nudge)
            client.get(f"/v1/tips/{served['tip_id']}/explain")
            client.get("/v1/users/obs/export")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    assert served["text"] == f"Pay the {PAYLOAD_MARKER} bill now, ref {TIP_MARKER}."
    for marker in (PAYLOAD_MARKER, TIP_MARKER, "Open tasks"):
        assert marker not in text, marker
    access = [e for e in lines if e["logger"] == "nudge.access"]
    tip_line = next(e for e in access if e["route"] == "/v1/users/{user_id}/tip")
    assert tip_line["request_id"] == served["request_id"] == "req-42"
    assert tip_line["status"] == 200 and tip_line["caller"] == "gateway"
    assert all({"ts", "level", "logger", "message"} <= set(e) for e in lines)


def test_json_formatter_keeps_extras_and_exceptions() -> None:
    record = logging.makeLogRecord({"msg": "x %s", "args": (1,), "agent": "tasks"})
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "x 1" and entry["agent"] == "tasks"
    assert "ValueError: boom" in entry["exception"]
