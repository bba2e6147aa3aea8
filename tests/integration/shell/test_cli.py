"""The `nudge` command, driven in-process on a real database (SQLite, and Postgres when set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, insert, inspect, select, text
from typer.testing import CliRunner, Result

import nudge.bootstrap
from nudge.cli.main import OPENAPI_PATH, app
from nudge_infra.storage.engine import alembic_config, make_engine
from nudge_infra.storage.tables import agent_outputs, metadata, outbox, sweep_runs, users
from nudge_profile.store import ProfileStore
from tests.conftest import Database, FixedClock, postgres_url
from tests.integration.precompute import sweep_agents
from tests.integration.precompute.sweep_agents import write_manifest

REPO_MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
Env = dict[str, str | None]


def run(env: Env, *args: str) -> Result:
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is never an acceptable way to fail
    return result


def flat(output: str) -> str:
    """Undo the console's line wrapping: every run of whitespace becomes one space."""
    return " ".join(output.split())


def base_env(data_dir: Path) -> Env:
    return {
        "NUDGE_DATA_DIR": str(data_dir),
        "NUDGE_EMBEDDED_LLM": "false",
        "NUDGE_MANIFESTS_DIR": str(REPO_MANIFESTS),
        "NUDGE_AGENT_PACKAGES": None,
        "DATABASE_URL": None,
        "NATS_URL": None,
        "COLUMNS": "1000",
    }


@pytest.fixture
def env(
    database: Database, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Env:
    # The commands run on the test's clock, not the wall clock: what the demo's agents
    # have to say depends on the time of day (no deep-work window is left at 17:00).
    monkeypatch.setattr(
        nudge.bootstrap, "bootstrap", partial(nudge.bootstrap.bootstrap, clock=clock)
    )
    return {**base_env(tmp_path / "data"), "DATABASE_URL": database.url}


def count(engine: Engine, table: Any, **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def table_rows(output: str) -> dict[str, list[str]]:
    """The body rows of a printed table, by their first cell."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


# agents validate


def test_validate_accepts_the_repo_manifests(tmp_path: Path) -> None:
    env = {**base_env(tmp_path), "NUDGE_MANIFESTS_DIR": None}  # the default directory
    result = run(env, "agents", "validate")

    files = sorted(REPO_MANIFESTS.glob("*.yaml"))
    assert result.exit_code == 0, result.output
    assert f"{len(files)} valid, 0 error(s)" in result.stdout
    for path in files:
        assert f"ok {path}: {path.stem} v" in flat(result.stdout)
    assert result.stderr == ""


def broken_manifests(directory: Path) -> dict[str, str]:
    """Write one valid and three broken manifests; return the error each must produce."""
    write_manifest(directory, "fine", entrypoint="ml.agents.tasks:TasksAgent")
    write_manifest(directory, "bad_duration", schedule={"every": "15 mins"})
    write_manifest(directory, "unknown_key", colour="blue")
    write_manifest(directory, "outside", entrypoint="evil.agents:Agent")
    # The line numbers follow manifest_text's field order: id, version, name, description,
    # entrypoint, schedule (2 lines), ttl, timeout, then extra fields.
    return {
        "bad_duration": f'{directory}/bad_duration.yaml:7: schedule.every: "15 mins" is not a '
        "duration (use e.g. 15m, 1h30m, 45s)",
        "unknown_key": f'{directory}/unknown_key.yaml:10: colour: unknown field "colour"',
        "outside": f"{directory}/outside.yaml:5: entrypoint: module evil.agents is outside the "
        "allowed packages (ml.agents) and was not imported",
    }


def test_validate_prints_every_error_with_its_place(tmp_path: Path) -> None:
    directory = tmp_path / "manifests"
    expected = broken_manifests(directory)

    result = run(base_env(tmp_path / "data"), "agents", "validate", str(directory))

    assert result.exit_code == 1, result.output
    errors = flat(result.stderr)
    for agent_id, message in expected.items():
        assert f"fail {message}" in errors, agent_id
    assert errors.count("fail ") == 3
    assert f"ok {directory}/fine.yaml: fine v1" in flat(result.stdout)
    assert "1 valid, 3 error(s)" in result.stdout


def test_validate_prints_error_text_verbatim(tmp_path: Path) -> None:
    directory = tmp_path / "manifests"
    write_manifest(directory, "flat", consents="tasks.read")

    result = run(base_env(tmp_path / "data"), "agents", "validate", str(directory))

    assert result.exit_code == 1
    assert 'consents: must be a list, e.g. [a, b], got "tasks.read"' in flat(result.stderr)


def test_validate_a_missing_directory_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run(base_env(tmp_path / "data"), "agents", "validate", str(missing))
    assert result.exit_code == 2
    assert f"{missing} is not a directory" in flat(result.stderr)


# agents dry-run


def test_dry_run_prints_the_snippet_and_stores_nothing(env: Env, database: Database) -> None:
    assert run(env, "seed-demo").exit_code == 0
    tables = (agent_outputs, sweep_runs, outbox)
    before = [count(database.engine, t) for t in tables]

    result = run(env, "agents", "dry-run", "tasks", "--user", "alice")

    assert result.exit_code == 0, result.output
    assert [count(database.engine, t) for t in tables] == before
    assert result.stdout.startswith("snippet\n")
    assert "suggestion" in result.stdout and '"horizon_days": 3' in result.stdout

    # A real sweep, a moment later, stores the very snippet the dry run showed.
    assert run(env, "sweep", "--agent", "tasks").exit_code == 0
    with database.engine.connect() as conn:
        stored = conn.execute(
            select(agent_outputs.c.snippet).where(
                agent_outputs.c.user_id == "alice", agent_outputs.c.agent_id == "tasks"
            )
        ).scalar_one()
    assert flat(stored) in flat(result.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tasks", "--user", "nobody"), "user 'nobody' does not exist"),
        (("nope", "--user", "alice"), "agent 'nope' does not exist"),
    ],
)
def test_dry_run_of_an_unknown_user_or_agent_exits_1(
    env: Env, args: tuple[str, ...], message: str
) -> None:
    assert run(env, "seed-demo").exit_code == 0
    result = run(env, "agents", "dry-run", *args)
    assert result.exit_code == 1
    assert flat(result.stderr) == message
    assert result.stdout == ""


def test_dry_run_refuses_a_user_without_the_agents_consents(env: Env) -> None:
    assert run(env, "seed-demo").exit_code == 0  # bob has not granted calendar.read
    result = run(env, "agents", "dry-run", "calendar", "--user", "bob")
    assert result.exit_code == 1
    assert "calendar.read" in flat(result.stderr)
    assert result.stdout == ""


# sweep


def test_sweep_stores_outputs_and_prints_a_table(env: Env, database: Database) -> None:
    assert run(env, "seed-demo").exit_code == 0

    result = run(env, "sweep")

    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    manifests = sorted(p.stem for p in REPO_MANIFESTS.glob("*.yaml"))
    assert sorted(rows) == manifests
    for agent_id, (version, status, swept, stored, _empty, failures) in rows.items():
        assert (version, status, swept, failures) == ("1", "ok", "2", "0"), agent_id
        assert int(stored) == count(database.engine, agent_outputs, agent_id=agent_id) > 0
    assert count(database.engine, sweep_runs) == len(manifests)


def test_sweep_of_an_unknown_agent_exits_1(env: Env, database: Database) -> None:
    result = run(env, "sweep", "--agent", "nope")
    assert result.exit_code == 1
    assert flat(result.stderr).startswith("unknown agent 'nope'; known: calendar,")
    assert count(database.engine, sweep_runs) == 0


def test_sweep_exits_1_and_names_the_failed_user(
    env: Env, database: Database, tmp_path: Path, clock: FixedClock
) -> None:
    manifests = tmp_path / "manifests"
    write_manifest(manifests, "flaky", "FailingAgent")
    env = {
        **env,
        "NUDGE_MANIFESTS_DIR": str(manifests),
        "NUDGE_AGENT_PACKAGES": ",".join(sweep_agents.PACKAGES),
    }
    profiles = ProfileStore(database.engine, clock)
    for user_id in ("alice", "fail-bob"):
        profiles.upsert_user(user_id, timezone="UTC")

    result = run(env, "sweep")

    assert result.exit_code == 1
    assert table_rows(result.stdout)["flaky"][1:] == ["partial", "2", "1", "0", "1"]
    assert "flaky fail-bob: RuntimeError: boom for fail-bob" in flat(result.stderr)
    assert count(database.engine, agent_outputs, user_id="alice") == 1


# openapi, migrate


def test_openapi_check_passes_on_the_committed_contract(tmp_path: Path) -> None:
    if not OPENAPI_PATH.exists():
        pytest.skip(f"{OPENAPI_PATH} is not generated yet (run `nudge openapi`)")
    result = run(base_env(tmp_path / "data"), "openapi", "--check")
    assert result.exit_code == 0, result.output
    assert "openapi.yaml is up to date" in result.stdout


@pytest.fixture
def empty_database(database: Database, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no schema at all, on the backend of ``database``."""
    if database.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'nudge.db'}"
        return
    schema = f"m_{uuid.uuid4().hex[:10]}"
    with database.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield postgres_url(schema)
    with database.engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def test_migrate_creates_the_schema_and_is_harmless_twice(
    empty_database: str, tmp_path: Path, clock: FixedClock
) -> None:
    env = {**base_env(tmp_path / "fresh"), "DATABASE_URL": empty_database}
    engine = make_engine(empty_database)
    try:
        first = run(env, "migrate")
        assert first.exit_code == 0, first.output
        assert "database is up to date" in first.stdout
        assert set(inspect(engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}
        with engine.begin() as conn:
            conn.execute(
                insert(users).values(
                    user_id="alice",
                    timezone="UTC",
                    active=True,
                    created_at=clock(),
                    updated_at=clock(),
                )
            )

        second = run(env, "migrate")

        assert second.exit_code == 0, second.output
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
            )
        assert count(engine, users) == 1, "a second migrate keeps the data"
    finally:
        engine.dispose()


def test_token_prints_a_user_jwt_signed_with_the_local_secret(tmp_path: Path) -> None:
    import jwt

    env = base_env(tmp_path)
    result = run(env, "token", "alice", "--ttl", "600")
    assert result.exit_code == 0, result.output
    secret = (tmp_path / "jwt-secret").read_text().strip()
    claims = jwt.decode(result.output.strip(), secret, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == 600
    assert "scope" not in claims
    admin = jwt.decode(
        run(env, "token", "ops", "--admin").output.strip(), secret, algorithms=["HS256"]
    )
    assert admin["scope"] == "admin"


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["token", "../etc"], "not a valid user id"),
        (["token", "alice", "--ttl", "5"], "--ttl"),
        (["token", "alice", "--ttl", "soon"], "--ttl"),
    ],
)
def test_token_refuses_bad_input(tmp_path: Path, args: list[str], mentions: str) -> None:
    result = run(base_env(tmp_path), *args)
    assert result.exit_code == 2
    assert mentions in flat(result.output)
