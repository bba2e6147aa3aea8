"""Inferred parameters: values Nudge worked out from a user's signals, with a confidence.

One row per user and inferrer (``wake_time``, ``working_hours``…), shared by every agent
whose manifest asks for it. An explicit preference always wins over an inferred value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from nudge_infra.storage.tables import inferred_params
from nudge_infra.storage.upsert import upsert


@dataclass(frozen=True, slots=True)
class InferredValue:
    key: str
    value: Any
    confidence: float
    observations: int
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": round(self.confidence, 3),
            "observations": self.observations,
            "updated_at": self.updated_at,
        }


def read_inferred(
    conn: Connection, user_ids: Sequence[str], keys: Sequence[str] | None = None
) -> dict[str, dict[str, InferredValue]]:
    """These users' inferred values (all keys, or only ``keys``): user id → key → value."""
    found: dict[str, dict[str, InferredValue]] = defaultdict(dict)
    if not user_ids or (keys is not None and not keys):
        return found
    query = select(inferred_params).where(inferred_params.c.user_id.in_(list(user_ids)))
    if keys is not None:
        query = query.where(inferred_params.c.key.in_(list(keys)))
    for row in conn.execute(query):
        found[row.user_id][row.key] = InferredValue(
            row.key, row.value, row.confidence, row.observations, row.updated_at
        )
    return found


def write_inferred(conn: Connection, user_id: str, values: Sequence[InferredValue]) -> None:
    """Store a user's newly inferred values, in the caller's transaction."""
    rows = [
        {
            "user_id": user_id,
            "key": v.key,
            "value": v.value,
            "confidence": v.confidence,
            "observations": v.observations,
            "updated_at": v.updated_at,
        }
        for v in values
    ]
    if rows:
        upsert(conn, inferred_params, rows, keys=("user_id", "key"))
