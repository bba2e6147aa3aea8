"""Per-agent state and inferred parameters on a real database: stored with the output in
one transaction, given back on the next run, reset by a version bump, bounded, exported
and erased; an inferrer that fails fails that user's run and writes nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ml.agents.inference import Inferred, Inferrer, register_inferrer
from nudge.bootstrap import bootstrap
from nudge.runtime import Nudge
from nudge.settings import Settings
from nudge_infra.storage.tables import agent_outputs, agent_state, inferred_params
from nudge_profile.privacy import delete_user, export_user
from nudge_profile.signals import SignalIn
from tests.conftest import FixedClock, MakeSettings
from tests.integration.precompute import sweep_agents
from tests.integration.precompute.sweep_agents import write_manifest


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    return tmp_path / "manifests"


PING_KIND = """
description: A test signal carrying the minute of the day something happened.
schema: {type: object, required: [minute], properties: {minute: {type: integer}}}
example: {minute: 400}
"""


@pytest.fixture
def nudge(
    settings_for: MakeSettings, clock: FixedClock, manifests: Path, tmp_path: Path
) -> Iterator[Nudge]:
    write_manifest(manifests, "counter", "CountingAgent")
    kinds = tmp_path / "signal-kinds"  # the shipped kinds, and this test's own
    shutil.copytree(Settings().signal_kinds_dir, kinds)
    (kinds / "ping.yaml").write_text(PING_KIND, encoding="utf-8")
    made = bootstrap(
        settings_for(
            manifests_dir=manifests, agent_packages=sweep_agents.PACKAGES, signal_kinds_dir=kinds
        ),
        clock=clock,
    )
    for user_id in ("alice", "bigbob"):
        made.profiles.upsert_user(user_id, timezone="Europe/Paris")
    yield made
    made.stop()


def _rows(nudge: Nudge, table: Any) -> dict[str, Any]:
    with nudge.engine.connect() as conn:
        return {row.user_id: row for row in conn.execute(select(table))}


def test_state_is_kept_between_runs_bounded_and_reset_by_a_version_bump(
    nudge: Nudge, manifests: Path
) -> None:
    nudge.sweeper.sweep("counter")
    report = nudge.sweeper.sweep("counter")
    states = _rows(nudge, agent_state)
    assert states["alice"].state["runs"] == 2
    assert _rows(nudge, agent_outputs)["alice"].snippet.startswith("run 2")
    # Over its bound (4 KiB by default): that user's run fails and nothing of it is stored.
    assert "bigbob" not in states and "bigbob" not in _rows(nudge, agent_outputs)
    assert report.failures == 1 and report.errors == [
        "bigbob: ValueError: state is 100011 bytes; this agent's bound is 4096"
    ]

    write_manifest(manifests, "counter", "CountingAgent", version=2)
    nudge.registry.reload()
    nudge.sweeper.sweep("counter")
    assert _rows(nudge, agent_state)["alice"].state["runs"] == 1  # a new version starts over

    write_manifest(
        manifests, "counter", "CountingAgent", version=3, state={"keep_across_versions": True}
    )
    nudge.registry.reload()
    nudge.sweeper.sweep("counter")
    assert _rows(nudge, agent_state)["alice"].state["runs"] == 2


def test_state_is_exported_shown_by_a_dry_run_and_erased(nudge: Nudge) -> None:
    nudge.sweeper.sweep("counter")
    document = export_user(nudge.engine, "alice", nudge.clock())
    assert [row["state"]["runs"] for row in document["agent_state"]] == [1]
    preview = nudge.sweeper.preview("counter", "alice")
    assert preview.prepared is not None and preview.prepared.input.state["runs"] == 1
    assert preview.state is not None and preview.state["runs"] == 2
    assert _rows(nudge, agent_state)["alice"].state["runs"] == 1  # a dry run stores nothing

    counts = delete_user(nudge.engine, nudge.clock, "alice")
    assert counts["agent_state"] == 1 and "alice" not in _rows(nudge, agent_state)


WAKE_SIGNALS = [
    SignalIn(
        kind="ping",
        external_id=f"p{day}",
        payload={"minute": 400 + day},
        occurred_at=FixedClock().now - timedelta(days=day),
    )
    for day in range(5)
]


def _median_minute(inp: Any) -> Inferred | None:
    minutes = sorted(int(s.payload["minute"]) for s in inp.signals)
    if not minutes:
        return None
    return Inferred(minutes[len(minutes) // 2], min(1.0, len(minutes) / 5), len(minutes))


def test_inferred_params_follow_preference_then_confidence_then_default(
    nudge: Nudge, manifests: Path
) -> None:
    remove = register_inferrer(
        Inferrer("ping_minute", ("ping",), "int", 0.8, "Median ping minute.", _median_minute)
    )
    try:
        params = {"wake": {"type": "int", "default": 420, "infer": "ping_minute"}}
        write_manifest(manifests, "counter", "CountingAgent", reads=["ping"], params=params)
        nudge.registry.reload()
        nudge.signals.ingest("alice", WAKE_SIGNALS[:3])  # confidence 0.6: below the floor
        nudge.sweeper.sweep("counter")
        assert _rows(nudge, agent_state)["alice"].state["sources"] == {"wake": "default"}
        assert _rows(nudge, inferred_params)["alice"].confidence == 0.6

        nudge.signals.ingest("alice", WAKE_SIGNALS)
        nudge.sweeper.sweep("counter")
        output = _rows(nudge, agent_outputs)["alice"]
        assert output.params["wake"] == {
            "source": "inferred", "inferrer": "ping_minute", "confidence": 1.0,
            "observations": 5, "value": 402,
        }  # fmt: skip

        nudge.profiles.set_preferences("alice", {"counter.wake": 360})
        nudge.sweeper.sweep("counter")
        output = _rows(nudge, agent_outputs)["alice"]
        assert output.params["wake"] == {"source": "preference", "value": 360}
    finally:
        remove()


def _raises(inp: Any) -> Inferred | None:
    raise ZeroDivisionError("no pings")


def _nonsense(inp: Any) -> Inferred | None:
    return Inferred(420, 7.5, 3)  # a confidence above 1


@pytest.mark.parametrize(
    ("inferrer", "message"),
    [(_raises, "ZeroDivisionError: no pings"), (_nonsense, "confidence 7.5")],
)
def test_a_failing_inferrer_fails_the_users_run_and_writes_nothing(
    nudge: Nudge, manifests: Path, inferrer: Any, message: str
) -> None:
    nudge.sweeper.sweep("counter")
    before = _rows(nudge, agent_outputs)["alice"].snippet
    remove = register_inferrer(Inferrer("broken", ("ping",), "int", 0.5, "Broken.", inferrer))
    try:
        params = {"wake": {"type": "int", "default": 420, "infer": "broken"}}
        write_manifest(manifests, "counter", "CountingAgent", reads=["ping"], params=params)
        nudge.registry.reload()
        report = nudge.sweeper.sweep("counter")
    finally:
        remove()
    assert report.status == "partial" and report.failures == 2
    assert any(message in error for error in report.errors), report.errors
    assert _rows(nudge, agent_outputs)["alice"].snippet == before
    assert _rows(nudge, agent_state)["alice"].state["runs"] == 1
    assert _rows(nudge, inferred_params) == {}
