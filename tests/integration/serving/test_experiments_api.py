"""A/B experiments end to end: assignment at request time, provenance, the per-variant report."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ml.serving.llm.fake import FakeLLM
from ml.serving.prompts.experiments import ExperimentsError
from nudge.bootstrap import bootstrap, build_app
from nudge.runtime import Nudge
from nudge_infra.percentiles import percentile
from nudge_infra.storage.tables import tips
from tests.conftest import FixedClock, MakeSettings, gateway_headers

USERS = [f"user{n:02d}" for n in range(40)]
EXPERIMENTS = """
experiments:
  - name: judge-as-writer
    description: Does the judge model write better tips?
    variants:
      - {name: control, weight: 1}
      - {name: judge, weight: 1, model: judge}
  - name: finished
    enabled: false
    variants: [{name: a, weight: 1}, {name: b, weight: 3}]
"""


@pytest.fixture
def world(
    settings_for: MakeSettings, clock: FixedClock, tmp_path: Path
) -> Iterator[tuple[Nudge, TestClient, FakeLLM]]:
    path = tmp_path / "experiments.yaml"
    path.write_text(EXPERIMENTS, encoding="utf-8")
    llm = FakeLLM(models={"tip-generator": "small/model", "judge": "bigger/model"})
    nudge = bootstrap(
        settings_for(experiments_file=path, tip_rate_limit="1000/minute"), clock=clock, llm=llm
    )
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        for user in USERS:
            assert client.put(f"/v1/users/{user}", json={"timezone": "UTC"}).is_success
            client.put(f"/v1/users/{user}/consents/tasks.read", json={"granted": True})
            signal = {
                "kind": "task",
                "external_id": "t1",
                "payload": {"title": f"Report for {user}", "due": "2026-01-01"},
                "occurred_at": "2025-12-30T10:00:00Z",
            }
            client.post(f"/v1/users/{user}/signals", json={"signals": [signal]})
        nudge.sweeper.sweep_all()
        yield nudge, client, llm
    nudge.stop()


def answer(llm: FakeLLM, user: str) -> None:
    llm.push(json.dumps({"tip": f"Finish the report for {user}.", "agents": ["tasks"],
                         "rationale": "It is overdue."}))  # fmt: skip


def test_users_get_their_variant_and_the_report_counts_it(
    world: tuple[Nudge, TestClient, FakeLLM],
) -> None:
    nudge, client, llm = world
    experiment = nudge.experiments.get("judge-as-writer")
    assert experiment is not None
    expected = {u: experiment.variant_for(u).name for u in USERS}
    served: dict[str, dict[str, str]] = {}
    for user in USERS:
        answer(llm, user)
        body = client.get(f"/v1/users/{user}/tip").json()
        alias = llm.requests[-1].alias
        assert alias == ("judge" if expected[user] == "judge" else "tip-generator")
        explained = client.get(f"/v1/tips/{body['tip_id']}/explain").json()
        assert explained["experiment"] == {"name": "judge-as-writer", "variant": expected[user]}
        assert explained["model"]["resolved"] == (
            "bigger/model" if expected[user] == "judge" else "small/model"
        )
        served[user] = body
    # Served again unchanged: the same tip, counted once as written and twice as served.
    again = client.get(f"/v1/users/{USERS[0]}/tip").json()
    assert again["cached"] is True and again["tip_id"] == served[USERS[0]]["tip_id"]

    reactions = {"done": USERS[:6], "snooze": USERS[6:9], "dismiss": USERS[9:10]}
    for reaction, users in reactions.items():
        for user in users:
            body = {"reaction": reaction}
            if reaction == "snooze":
                body["snooze_until"] = "2099-01-01T00:00:00Z"
            response = client.post(f"/v1/tips/{served[user]['tip_id']}/feedback", json=body)
            assert response.is_success, response.text

    with nudge.engine.connect() as conn:
        rows = conn.execute(select(tips.c.user_id, tips.c.variant, tips.c.total_ms)).all()
    report = client.get("/v1/experiments/judge-as-writer").json()
    assert report["enabled"] is True
    by_name = {v["name"]: v for v in report["variants"]}
    split = Counter(expected.values())
    for name in ("control", "judge"):
        v = by_name[name]
        assert v["tips"] == split[name] and v["users"] == split[name]
        assert v["served"] == split[name] + (expected[USERS[0]] == name)
        for reaction, users in reactions.items():
            count = sum(1 for u in users if expected[u] == name)
            assert v["reactions"][reaction] == count
            assert v[f"{reaction}_rate"] == pytest.approx(round(count / split[name], 4))
        assert v["fallback_rate"] == 0.0
        # Read by rank in SQL, the same definition as the evaluation's in Python.
        latencies = [row.total_ms for row in rows if row.variant == name]
        assert v["latency_ms"] == {
            f"p{q}": pytest.approx(round(percentile(latencies, q) or 0, 2), abs=0.006)
            for q in (50, 95)
        }
        assert v["share"] == 0.5 and v["weight"] == 1
    assert {row.user_id: row.variant for row in rows} == expected


def test_listing_unknown_names_and_credentials(world: tuple[Nudge, TestClient, FakeLLM]) -> None:
    nudge, client, _ = world
    listed = client.get("/v1/experiments").json()
    assert [(e["name"], e["enabled"]) for e in listed] == [
        ("judge-as-writer", True),
        ("finished", False),
    ]
    assert [v["share"] for v in listed[1]["variants"]] == [0.25, 0.75]
    finished = client.get("/v1/experiments/finished").json()
    assert finished["enabled"] is False and all(v["tips"] == 0 for v in finished["variants"])

    missing = client.get("/v1/experiments/nothing-here")
    assert missing.status_code == 404 and "nothing-here" in missing.json()["error"]["message"]
    assert client.get("/v1/experiments/Bad%20Name").status_code == 422
    anonymous = client.get("/v1/experiments/judge-as-writer", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    from datetime import timedelta

    user_token = nudge.auth.issue("user01", ttl=timedelta(hours=1))
    as_user = client.get(
        "/v1/experiments/judge-as-writer", headers={"Authorization": f"Bearer {user_token}"}
    )
    assert as_user.status_code == 403


def test_a_variant_with_an_unknown_model_stops_start_up(
    settings_for: MakeSettings, tmp_path: Path
) -> None:
    path = tmp_path / "experiments.yaml"
    path.write_text(
        "experiments: [{name: x, variants: [{name: a, weight: 1}, {name: b, weight: 1,"
        " model: gpt-9}]}]",
        encoding="utf-8",
    )
    with pytest.raises(ExperimentsError, match="gpt-9"):
        bootstrap(settings_for(experiments_file=path), llm=FakeLLM(models={"tip-generator": "m"}))
