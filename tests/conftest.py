"""Shared fixtures: a fresh database per test on SQLite, and on Postgres with DATABASE_URL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text

from nudge_infra.storage.engine import make_engine, migrate
from nudge_infra.storage.tables import metadata

pytest_plugins = ["tests.llm_fixtures", "tests.integration.serving.tip_env"]

IN_CI = os.environ.get("CI") == "true"
DATABASE_URL = os.environ.get("DATABASE_URL")

# In CI the property tests draw the same examples on every run, so a red build is the code's
# and never the luck of the draw; elsewhere each run draws new ones, and hypothesis keeps a
# failing example under .hypothesis/ to replay it.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile("ci" if IN_CI else "explore")


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 21, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating every time is slow)."""
    path = tmp_path_factory.mktemp("template") / "nudge.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A private, migrated schema in the test database; dropped at the end."""
    if not DATABASE_URL:
        pytest.skip("DATABASE_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_url(DATABASE_URL), pool_pre_ping=True)  # survives a restart test
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(postgres_url(schema))
    migrate(engine)
    engine.dispose()
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _pg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def postgres_url(schema: str) -> str:
    assert DATABASE_URL
    base = _pg_url(DATABASE_URL)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@dataclass(frozen=True)
class Database:
    backend: str
    url: str
    engine: Engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Database]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "nudge.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        schema = request.getfixturevalue("postgres_schema")
        url = postgres_url(schema)
    engine = make_engine(url)
    if request.param == "postgres":
        with engine.begin() as conn:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield Database(request.param, url, engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def _mark_backend(request: pytest.FixtureRequest) -> None:
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("database") == "postgres" and not DATABASE_URL:
        if IN_CI:
            pytest.fail("CI=true but DATABASE_URL is unset: Postgres tests must run")
        pytest.skip("DATABASE_URL is not set")


MakeSettings = Callable[..., Any]


@pytest.fixture
def settings_for(database: Database, tmp_path: Path) -> MakeSettings:
    """Settings for a test Nudge on ``database``; nothing starts by itself."""
    return _settings_maker(tmp_path, database.url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> MakeSettings:
    """The same on SQLite only: for tests about the LLM, where the backend changes nothing
    and a second run would only double a minute of model time."""
    return _settings_maker(tmp_path, None)


def _settings_maker(tmp_path: Path, database_url: str | None) -> MakeSettings:
    from nudge.settings import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "nats_url": None,  # the in-process bus unless a test asks for JetStream
            "redis_url": None,  # rate limits per process unless a test shares them
            "embedded_llm": False,
            "watch_manifests": False,
            "scheduler": False,
            # The MLflow registry has tests of its own; the rest read the repository's file.
            "prompt_registry": "file",
            # Tests of the tip path see every eligible snippet in priority order; the
            # learned policy has tests of its own (policy="thompson").
            "policy": "static",
            "policy_top_k": 8,
            # Scripted answers repeat themselves on purpose; the near-repeat check has
            # tests of its own (near_repeat_check=True).
            "near_repeat_check": False,
        }
        values.update(overrides)
        return Settings(**values)

    return make


def gateway_headers(nudge: Any) -> dict[str, str]:
    """The gateway's bearer credential of a test Nudge (generated under its data dir)."""
    return {"Authorization": f"Bearer {nudge.credentials.gateway_token}"}


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[Any]:
    """A private nats-server (not started yet: tests start and stop it). Part of the NATS
    suite: skipped without NATS_URL, and a failure under CI=true."""
    from bench.natsd import NatsServer

    if not os.environ.get("NATS_URL"):
        if IN_CI:
            pytest.fail("CI=true but NATS_URL is unset: the NATS suite must run")
        pytest.skip("NATS_URL is not set")
    server = NatsServer(tmp_path / "jetstream")
    yield server
    server.stop()


@pytest.fixture
def redis_url() -> str:
    """The Redis every API process shares (REDIS_URL): skipped without it, and a failure
    under CI=true."""
    url = os.environ.get("REDIS_URL")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but REDIS_URL is unset: the shared rate limit must be tested")
        pytest.skip("REDIS_URL is not set")
    return url
