"""Bulk upsert: the same rows stored on both backends, whether staged with COPY or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from nudge.storage.tables import signals, users
from nudge.storage.upsert import COPY_THRESHOLD, upsert
from tests.conftest import Database

NOW = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)


def _row(i: int, version: int) -> dict[str, Any]:
    return {
        "user_id": "u1",
        "kind": "task",
        "external_id": f"t{i}",
        "payload": {
            "title": f"Task {i} v{version}",
            "n": i,
            "tags": ["a", None],
            "x": 1.5,
            "quote": 'it\'s "quoted"\\tand tabbed\n',
        },
        "occurred_at": NOW + timedelta(minutes=i),
        "received_at": NOW,
    }


@pytest.mark.parametrize("count", [3, COPY_THRESHOLD, 300])
def test_upsert_inserts_then_replaces(database: Database, count: int) -> None:
    with database.engine.begin() as conn:
        conn.execute(
            insert(users).values(
                user_id="u1", timezone="UTC", active=True, created_at=NOW, updated_at=NOW
            )
        )
        upsert(
            conn,
            signals,
            [_row(i, 1) for i in range(count)],
            keys=("user_id", "kind", "external_id"),
        )
    changed = [_row(i, 2) for i in range(0, count, 2)] + [_row(count + 1, 2)]
    with database.engine.begin() as conn:
        # Twice in one transaction: the staging table must start clean the second time.
        upsert(conn, signals, changed[: len(changed) // 2], keys=("user_id", "kind", "external_id"))
        upsert(conn, signals, changed[len(changed) // 2 :], keys=("user_id", "kind", "external_id"))
    with database.engine.connect() as conn:
        stored = {r.external_id: r for r in conn.execute(select(signals))}
    assert len(stored) == count + 1
    for i in range(count):
        version = 2 if i % 2 == 0 else 1
        expected = _row(i, version)
        got = stored[f"t{i}"]
        assert got.payload == expected["payload"]
        assert got.occurred_at == expected["occurred_at"]
    assert stored[f"t{count + 1}"].payload["title"] == f"Task {count + 1} v2"
