"""Generated artefacts must match their sources: the HTTP contract and the schema migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from nudge.cli.main import OPENAPI_PATH, openapi_document
from nudge_infra.storage.tables import metadata
from tests.conftest import Database


def test_openapi_document_matches_the_app() -> None:
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    assert committed == openapi_document(), "openapi/openapi.yaml is stale: run `make openapi`"


def test_migrations_produce_exactly_the_declared_tables(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == [], f"migrations and nudge/storage/tables.py disagree: {diff}"
