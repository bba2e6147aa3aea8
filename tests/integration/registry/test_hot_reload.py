"""Manifests change under a running app: new agents served, broken ones reported."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge.settings import REPO_ROOT
from tests.conftest import FixedClock, MakeSettings, gateway_headers

GREETING = """\
id: greeting
version: 1
name: Greeting
description: A declarative agent added while the app runs.
template: |
  {% for s in signals %}Open task from the greeting agent: {{ s.payload.title }}
  {% endfor %}
schedule: {every: 15m}
ttl: 45m
consents: [tasks.read]
silenced_in: []
priority: 95
reads: [task]
"""


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not true within {seconds}s")


@pytest.fixture
def live(
    settings_for: MakeSettings, clock: FixedClock, tmp_path: Path
) -> Iterator[tuple[Nudge, TestClient, FakeLLM, Path]]:
    manifests = tmp_path / "manifests"
    shutil.copytree(REPO_ROOT / "manifests", manifests)
    llm = FakeLLM()
    nudge = bootstrap(
        settings_for(manifests_dir=manifests, watch_manifests=True, scheduler=True),
        clock=clock,
        llm=llm,
    )
    seed_demo(nudge, clock())
    with TestClient(
        build_app(nudge), headers=gateway_headers(nudge)
    ) as client:  # the lifespan starts watcher and scheduler
        yield nudge, client, llm, manifests


def agent_ids(client: TestClient) -> set[str]:
    return {a["id"] for a in client.get("/v1/agents").json()["agents"]}


def test_added_manifest_is_served_without_restart(
    live: tuple[Nudge, TestClient, FakeLLM, Path],
) -> None:
    _, client, llm, manifests = live
    (manifests / "greeting.yaml").write_text(GREETING)
    eventually(lambda: "greeting" in agent_ids(client))
    # A new agent is swept at once by the scheduler.
    eventually(
        lambda: any(
            a["id"] == "greeting" and a["outputs"] > 0
            for a in client.get("/v1/agents").json()["agents"]
        )
    )
    llm.push(
        json.dumps(
            {
                "tip": "Send the Q3 invoice, the greeting agent says.",
                "agents": ["greeting"],
                "rationale": "new",
            }
        )
    )
    tip = client.get("/v1/users/alice/tip", params={"refresh": "true"}).json()
    # The shipped prompt cites what the tip's words name: the new agent among them.
    assert "greeting" in tip["agents"] and tip["fallback"] is False
    assert '<snippet agent="greeting">' in "\n".join(m.content for m in llm.requests[-1].messages)

    (manifests / "greeting.yaml").unlink()
    eventually(lambda: "greeting" not in agent_ids(client))


def test_broken_manifest_is_reported_and_the_others_keep_working(
    live: tuple[Nudge, TestClient, FakeLLM, Path],
) -> None:
    _, client, llm, manifests = live
    before = agent_ids(client)
    (manifests / "broken.yaml").write_text(
        GREETING.replace("id: greeting", "id: broken").replace("every: 15m", "every: 15 mins")
    )
    eventually(lambda: bool(client.get("/v1/agents").json()["rejected"]))
    rejected = client.get("/v1/agents").json()["rejected"]
    assert rejected[0]["file"].endswith("broken.yaml")
    assert rejected[0]["field"] == "schedule.every" and rejected[0]["line"] == 8
    assert agent_ids(client) == before
    llm.push(
        json.dumps(
            {"tip": "Send the Q3 invoice before noon.", "agents": ["tasks"], "rationale": "due"}
        )
    )
    assert client.get("/v1/users/alice/tip").json()["fallback"] is False


def test_version_bump_makes_older_outputs_ineligible(
    settings_for: MakeSettings, clock: FixedClock, tmp_path: Path
) -> None:
    manifests = tmp_path / "manifests"
    shutil.copytree(REPO_ROOT / "manifests", manifests)
    llm = FakeLLM()
    nudge = bootstrap(settings_for(manifests_dir=manifests), clock=clock, llm=llm)
    seed_demo(nudge, clock())
    nudge.sweeper.sweep_all()
    path = manifests / "tasks.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 2"))
    nudge.registry.reload()
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        llm.push(
            json.dumps(
                {
                    "tip": "Prepare for the design review at 12:00.",
                    "agents": ["calendar"],
                    "rationale": "soon",
                }
            )
        )
        tip = client.get("/v1/users/alice/tip").json()
        prov = client.get(f"/v1/tips/{tip['tip_id']}/explain").json()["provenance"]
    tasks = next(e for e in prov["excluded"] if e["agent_id"] == "tasks")
    assert tasks["reason"] == "old_version"
    nudge.stop()
