"""Precompute sweeps on a real database: one user's or one agent's failure stays its own."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, func, select

from ml.agents.base import SNIPPET_MAX_CHARS, SUGGESTION_MAX_CHARS
from ml.precompute.status import last_sweeps, output_counts
from nudge.bootstrap import bootstrap
from nudge.runtime import Nudge
from nudge_infra.errors import NotFound
from nudge_infra.storage.tables import agent_outputs, sweep_runs
from tests.conftest import FixedClock, MakeSettings
from tests.integration.precompute import sweep_agents
from tests.integration.precompute.sweep_agents import write_manifest

MakeNudge = Callable[..., Nudge]


@pytest.fixture(autouse=True)
def _reset_agents() -> Iterator[None]:
    sweep_agents.SEEN.clear()
    sweep_agents.RELEASE.clear()
    yield
    sweep_agents.RELEASE.set()  # let an abandoned hanging run finish


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    directory = tmp_path / "manifests"
    directory.mkdir()
    return directory


@pytest.fixture
def make_nudge(
    settings_for: MakeSettings, clock: FixedClock, manifests: Path
) -> Iterator[MakeNudge]:
    made: list[Nudge] = []

    def make(**overrides: Any) -> Nudge:
        settings = settings_for(
            manifests_dir=manifests, agent_packages=sweep_agents.PACKAGES, **overrides
        )
        nudge = bootstrap(settings, clock=clock)
        made.append(nudge)
        return nudge

    yield make
    for nudge in made:
        nudge.stop()


def add_users(nudge: Nudge, *user_ids: str, active: bool = True) -> None:
    for user_id in user_ids:
        nudge.profiles.upsert_user(user_id, timezone="Europe/Paris", active=active)


def outputs(nudge: Nudge, agent_id: str) -> dict[str, Row[Any]]:
    with nudge.engine.connect() as conn:
        rows = conn.execute(select(agent_outputs).where(agent_outputs.c.agent_id == agent_id))
        return {row.user_id: row for row in rows}


def last_run(nudge: Nudge, agent_id: str) -> Row[Any]:
    with nudge.engine.connect() as conn:
        return conn.execute(
            select(sweep_runs)
            .where(sweep_runs.c.agent_id == agent_id)
            .order_by(sweep_runs.c.id.desc())
            .limit(1)
        ).one()


def test_an_agent_that_raises_fails_only_that_user(make_nudge: MakeNudge, manifests: Path) -> None:
    write_manifest(manifests, "flaky", "FailingAgent")
    nudge = make_nudge()
    add_users(nudge, "alice", "fail-bob", "zoe")

    report = nudge.sweeper.sweep("flaky")

    assert report.status == "partial"
    assert (report.users, report.outputs, report.failures) == (3, 2, 1)
    assert set(outputs(nudge, "flaky")) == {"alice", "zoe"}, "users after the failure still run"
    run = last_run(nudge, "flaky")
    assert (run.status, run.users, run.outputs, run.failures) == ("partial", 3, 2, 1)
    assert run.error == "fail-bob: RuntimeError: boom for fail-bob"
    assert last_sweeps(nudge.engine)["flaky"]["errors"] == [run.error]
    assert output_counts(nudge.engine) == {"flaky": 2}


def test_a_hanging_agent_times_out_and_the_other_agents_still_sweep(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    # The hanging agent has the higher priority, so sweep_all runs it first.
    write_manifest(manifests, "stuck", "HangingAgent", timeout="200ms", priority=90)
    write_manifest(manifests, "echo", priority=10)
    nudge = make_nudge()
    add_users(nudge, "alice", "hang-bob", "zoe")

    started = time.monotonic()
    reports = {r.agent_id: r for r in nudge.sweeper.sweep_all()}
    elapsed = time.monotonic() - started

    assert elapsed < 0.2 + 1.0, f"the sweep waited {elapsed:.1f}s for a hung agent"
    assert list(reports) == ["stuck", "echo"]
    assert reports["stuck"].status == "timeout"
    assert reports["stuck"].errors == ["hang-bob: timed out after 0.2s"]
    assert "alice" in outputs(nudge, "stuck"), "the run before the hang is kept"
    assert "hang-bob" not in outputs(nudge, "stuck")
    assert reports["echo"].status == "ok"
    assert set(outputs(nudge, "echo")) == {"alice", "hang-bob", "zoe"}
    run = last_run(nudge, "stuck")
    assert (run.status, run.failures) == ("timeout", 1)
    assert run.error == "hang-bob: timed out after 0.2s"


def test_a_wrong_return_type_is_that_users_failure(make_nudge: MakeNudge, manifests: Path) -> None:
    write_manifest(manifests, "odd", "WrongTypeAgent")
    nudge = make_nudge()
    add_users(nudge, "alice", "odd-bob")

    report = nudge.sweeper.sweep("odd")

    assert report.status == "partial"
    assert set(outputs(nudge, "odd")) == {"alice"}
    assert report.errors == ["odd-bob: TypeError: agent returned dict, expected Snippet or None"]
    assert last_run(nudge, "odd").error == report.errors[0]


def test_an_oversize_output_is_truncated_then_stored(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    write_manifest(manifests, "big", "OversizeAgent")
    nudge = make_nudge()
    add_users(nudge, "alice")

    report = nudge.sweeper.sweep("big")

    assert (report.status, report.outputs, report.failures) == ("ok", 1, 0)
    row = outputs(nudge, "big")["alice"]
    assert len(row.snippet) == SNIPPET_MAX_CHARS
    assert row.snippet.startswith("word word") and row.snippet.endswith("…")
    assert len(row.suggestion) == SUGGESTION_MAX_CHARS and row.suggestion.endswith("…")
    assert row.facts == {"truncated": True}


def test_output_no_database_can_store_fails_only_that_user(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    write_manifest(manifests, "unstorable", "UnstorableAgent")
    nudge = make_nudge()
    add_users(nudge, "alice", "jnul-bob", "nan-bob", "nul-bob", "set-bob", "zoe")

    report = nudge.sweeper.sweep("unstorable")

    assert report.status == "partial"
    assert set(outputs(nudge, "unstorable")) == {"alice", "zoe"}
    failed = {line.split(":")[0]: line for line in report.errors}
    assert set(failed) == {"jnul-bob", "nan-bob", "nul-bob", "set-bob"}
    assert "TypeError" in failed["set-bob"] and "set" in failed["set-bob"]
    assert "ValueError" in failed["nan-bob"]
    assert "NUL" in failed["nul-bob"] and "NUL" in failed["jnul-bob"]
    assert last_run(nudge, "unstorable").failures == 4


def test_batches_cover_every_user_and_report_progress(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    write_manifest(manifests, "echo")
    nudge = make_nudge(sweep_batch_size=3)
    users = [f"u{i:02d}" for i in range(10)]
    add_users(nudge, *reversed(users))
    progress: list[int] = []

    report = nudge.sweeper.sweep("echo", progress.append)

    assert progress == [3, 3, 3, 1]
    assert sum(progress) == report.users == report.outputs == 10
    assert sorted(outputs(nudge, "echo")) == users
    assert sorted(user for _, user in sweep_agents.SEEN) == users, "each user ran exactly once"


def test_inactive_users_are_skipped(make_nudge: MakeNudge, manifests: Path) -> None:
    write_manifest(manifests, "echo")
    nudge = make_nudge()
    add_users(nudge, "alice", "zoe")
    add_users(nudge, "bob", active=False)

    report = nudge.sweeper.sweep("echo")

    assert report.users == 1 + 1
    assert set(outputs(nudge, "echo")) == {"alice", "zoe"}
    assert "bob" not in {user for _, user in sweep_agents.SEEN}
    assert nudge.sweeper.count_active_users() == 2


def test_users_without_the_consents_get_nothing_and_lose_older_outputs(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    write_manifest(manifests, "echo")
    nudge = make_nudge()
    add_users(nudge, "alice", "bob", "carol")
    nudge.sweeper.sweep("echo")
    assert set(outputs(nudge, "echo")) == {"alice", "bob", "carol"}

    # Version 2 needs two consents: alice grants both, bob one, carol none.
    write_manifest(manifests, "echo", version=2, consents=["notes.read", "notes.share"])
    nudge.registry.reload()
    requiring = nudge.registry.current.agents_requiring
    for key in ("notes.read", "notes.share"):
        nudge.profiles.set_consent("alice", key, True, agents_requiring=requiring)
    nudge.profiles.set_consent("bob", "notes.read", True, agents_requiring=requiring)
    sweep_agents.SEEN.clear()

    report = nudge.sweeper.sweep("echo")

    assert report.skipped_no_consent == 2
    stored = outputs(nudge, "echo")
    assert set(stored) == {"alice"} and stored["alice"].agent_version == 2
    assert sweep_agents.SEEN == [("EchoAgent", "alice")], "never computed without consent"


def test_an_agent_returning_none_deletes_the_users_old_output(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    write_manifest(manifests, "echo", params={"mute": {"type": "bool", "default": False}})
    nudge = make_nudge()
    add_users(nudge, "alice", "bob")
    nudge.sweeper.sweep("echo")
    assert set(outputs(nudge, "echo")) == {"alice", "bob"}

    nudge.profiles.set_preferences("bob", {"echo.mute": True})
    report = nudge.sweeper.sweep("echo")

    assert (report.status, report.outputs, report.empty) == ("ok", 1, 1)
    assert set(outputs(nudge, "echo")) == {"alice"}


def test_outputs_carry_version_clock_and_expiry(
    make_nudge: MakeNudge, manifests: Path, clock: FixedClock
) -> None:
    write_manifest(manifests, "echo", version=4, ttl="45m")
    nudge = make_nudge()
    add_users(nudge, "alice")

    nudge.sweeper.sweep("echo")
    row = outputs(nudge, "echo")["alice"]
    assert row.agent_version == 4
    assert row.computed_at == clock() and row.expires_at == clock() + timedelta(minutes=45)
    assert row.facts["now"] == clock().isoformat(), "agents get the injected clock"

    later = clock.advance(minutes=20)
    nudge.sweeper.sweep("echo")
    row = outputs(nudge, "echo")["alice"]
    assert row.computed_at == later and row.expires_at == later + timedelta(minutes=45)
    assert row.facts["now"] == later.isoformat()
    run = last_run(nudge, "echo")
    assert run.started_at == later and run.agent_version == 4


def test_per_user_param_overrides_reach_the_agent_and_bad_ones_are_ignored(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    params = {
        "count": {"type": "int", "default": 2, "min": 1, "max": 5},
        "tone": {"type": "str", "default": "plain", "choices": ["plain", "warm"]},
    }
    write_manifest(manifests, "echo", params=params)
    nudge = make_nudge()
    add_users(nudge, "alice", "bob", "carol")
    nudge.profiles.set_preferences("alice", {"echo.count": 4, "echo.tone": "warm"})
    nudge.profiles.set_preferences(
        "bob",
        {"echo.count": 99, "echo.tone": "shouty", "other.count": 3, "count": 5, "echo.new": 1},
    )

    nudge.sweeper.sweep("echo")

    got = {user: row.facts["params"] for user, row in outputs(nudge, "echo").items()}
    assert got["alice"] == {"count": 4, "tone": "warm"}
    assert got["bob"] == {"count": 2, "tone": "plain"}, "out of range, not a choice, not ours"
    assert got["carol"] == {"count": 2, "tone": "plain"}


def test_a_disabled_agent_stores_nothing(make_nudge: MakeNudge, manifests: Path) -> None:
    write_manifest(manifests, "off", enabled=False)
    write_manifest(manifests, "echo")
    nudge = make_nudge()
    add_users(nudge, "alice")

    report = nudge.sweeper.sweep("off")

    assert (report.status, report.users, report.outputs) == ("disabled", 0, 0)
    assert last_run(nudge, "off").status == "disabled"
    assert [r.agent_id for r in nudge.sweeper.sweep_all()] == ["echo"]
    assert outputs(nudge, "off") == {}
    assert ("EchoAgent", "alice") in sweep_agents.SEEN and len(sweep_agents.SEEN) == 1


def test_an_unknown_agent_is_refused(make_nudge: MakeNudge, manifests: Path) -> None:
    write_manifest(manifests, "echo")
    nudge = make_nudge()
    with pytest.raises(NotFound, match="'nope'"):
        nudge.sweeper.sweep("nope")
    with nudge.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sweep_runs)).scalar_one() == 0


def test_a_user_with_an_unknown_time_zone_fails_alone(
    make_nudge: MakeNudge, manifests: Path
) -> None:
    write_manifest(manifests, "echo")
    nudge = make_nudge()
    add_users(nudge, "alice", "zoe")
    nudge.profiles.upsert_user("mars", timezone="Mars/Olympus_Mons")  # stores no longer check

    reports = nudge.sweeper.sweep_all()

    assert [(r.agent_id, r.status, r.outputs) for r in reports] == [("echo", "partial", 2)]
    assert reports[0].errors == ["mars: unknown time zone 'Mars/Olympus_Mons'"]
    assert set(outputs(nudge, "echo")) == {"alice", "zoe"}
    assert last_run(nudge, "echo").error == reports[0].errors[0]
