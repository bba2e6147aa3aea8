"""Bulk upsert: the same rows stored on both backends, whether staged with COPY or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from nudge_infra.storage.tables import signals, users
from nudge_infra.storage.upsert import COPY_THRESHOLD, upsert
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


def test_the_same_keys_twice_in_one_transaction_keep_the_second(database: Database) -> None:
    keys = ("user_id", "kind", "external_id")
    with database.engine.begin() as conn:
        conn.execute(
            insert(users).values(
                user_id="u1", timezone="UTC", active=True, created_at=NOW, updated_at=NOW
            )
        )
    count = COPY_THRESHOLD + 10
    with database.engine.begin() as conn:
        upsert(conn, signals, [_row(i, 2) for i in range(count)], keys=keys)
        upsert(conn, signals, [_row(i, 3) for i in range(count)], keys=keys)
    with pytest.raises(RuntimeError), database.engine.begin() as conn:
        upsert(conn, signals, [_row(i, 4) for i in range(count)], keys=keys)
        raise RuntimeError("roll the transaction back")
    with database.engine.begin() as conn:  # after a rollback: staging starts empty again
        upsert(conn, signals, [_row(i, 5) for i in range(0, count, 2)], keys=keys)
    with database.engine.connect() as conn:
        titles = {r.external_id: r.payload["title"] for r in conn.execute(select(signals))}
    assert titles == {f"t{i}": f"Task {i} v{5 if i % 2 == 0 else 3}" for i in range(count)}


@pytest.mark.postgres
def test_sweep_writes_relax_the_commit_flush_for_their_own_transaction_only(
    database: Database,
) -> None:
    from sqlalchemy import text

    from ml.precompute.outputs import OutputBatch, write_outputs

    if database.backend != "postgres":
        pytest.skip("a Postgres setting")
    with database.engine.begin() as conn:
        conn.execute(
            insert(users).values(
                user_id="u1", timezone="UTC", active=True, created_at=NOW, updated_at=NOW
            )
        )
    row = {
        "user_id": "u1",
        "agent_id": "tasks",
        "agent_version": 1,
        "snippet": "Open tasks: 1 overdue.",
        "suggestion": None,
        "because": None,
        "facts": {},
        "snippet_hash": "h",
        "computed_at": NOW,
        "expires_at": NOW + timedelta(hours=1),
    }
    write_outputs(database.engine, OutputBatch("tasks", 1, NOW, rows=[row]))
    with database.engine.connect() as conn:  # the pool hands the same connection back
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
        stored = conn.execute(text("SELECT count(*) FROM agent_outputs")).scalar_one()
    assert stored == 1
