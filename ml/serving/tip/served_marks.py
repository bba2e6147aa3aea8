"""Polls that served a stored tip again, counted in memory and written together.

A poll that serves the last tip again would otherwise write its row (serve count, last
served time) on every call: under many callers those writes queued behind the tip and
signal writes and made a read the slowest request. The marks are kept here and written in
one transaction per flush (the API flushes every second and at shutdown); readers of the
tip store flush first, so this process always reads its own marks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, case, update

from nudge_infra.storage.tables import tips


@dataclass(slots=True)
class _Mark:
    count: int
    last: datetime


class ServedMarks:
    """Serves of stored tips not written yet, per tip; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._pending: dict[str, _Mark] = {}
        # A flush that finds nothing pending may not return while another one is still
        # writing: the caller is about to read the serves it took.
        self._flushing = threading.Lock()

    def add(self, tip_id: str, now: datetime) -> int:
        """Count one more serve of ``tip_id`` at ``now``; the serves not written yet."""
        with self._lock:
            mark = self._pending.get(tip_id)
            if mark is None:
                self._pending[tip_id] = mark = _Mark(0, now)
            mark.count += 1
            mark.last = max(mark.last, now)
            return mark.count

    def flush(self) -> int:
        """Write every pending mark in one transaction; the number of tips written. On a
        database error the marks are kept for the next flush and the error is raised."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return 0
            try:
                self._write(batch)
            except BaseException:
                self._keep(batch)
                raise
            return len(batch)

    def _write(self, batch: dict[str, _Mark]) -> None:
        seen = bindparam("seen", type_=tips.c.last_served_at.type)
        statement = (
            update(tips)
            .where(tips.c.tip_id == bindparam("id"))
            .values(
                serve_count=tips.c.serve_count + bindparam("serves"),
                # Another process may have written a later serve already.
                last_served_at=case(
                    (tips.c.last_served_at < seen, seen), else_=tips.c.last_served_at
                ),
            )
        )
        rows = [
            {"id": tip_id, "serves": mark.count, "seen": mark.last}
            for tip_id, mark in sorted(batch.items())
        ]
        with self._engine.begin() as conn:
            conn.execute(statement, rows)

    def _keep(self, batch: dict[str, _Mark]) -> None:
        with self._lock:
            for tip_id, mark in batch.items():
                now = self._pending.get(tip_id)
                if now is None:
                    self._pending[tip_id] = mark
                else:
                    now.count += mark.count
                    now.last = max(now.last, mark.last)
