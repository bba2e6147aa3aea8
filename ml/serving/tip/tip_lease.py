"""A lease in the database on writing one user's tip for one set of inputs, so that API
processes sharing the database write it once: the others wait for the holder's tip."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import Engine, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from nudge_infra.clock import Clock
from nudge_infra.storage.tables import tip_leases


def process_holder() -> str:
    """A name for this process's leases: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class TipLeases:
    def __init__(
        self, engine: Engine, clock: Clock, *, ttl: timedelta, holder: str | None = None
    ) -> None:
        """``ttl`` outlasts the longest generation (every model call's timeout): a lease
        left by a process that died is taken over once it expires."""
        self._engine = engine
        self._clock = clock
        self._ttl = ttl
        self.holder = holder or process_holder()

    def acquire(self, user_id: str, fingerprint: str) -> bool:
        """Take the lease, or take over an expired one; False while another holds it."""
        now = self._clock()
        expires_at = now + self._ttl
        key = (tip_leases.c.user_id == user_id) & (tip_leases.c.fingerprint == fingerprint)
        with self._engine.begin() as conn:
            # Postgres re-checks the condition after a concurrent taker commits: one wins.
            # RETURNING, not rowcount: psycopg reports no count for these statements.
            taken_over = conn.execute(
                update(tip_leases)
                .where(key & (tip_leases.c.expires_at < now))
                .values(holder=self.holder, expires_at=expires_at)
                .returning(tip_leases.c.holder)
            ).first()
            if taken_over is not None:
                return True
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            inserted = conn.execute(
                dialect.insert(tip_leases)
                .values(
                    user_id=user_id,
                    fingerprint=fingerprint,
                    holder=self.holder,
                    expires_at=expires_at,
                )
                .on_conflict_do_nothing(index_elements=["user_id", "fingerprint"])
                .returning(tip_leases.c.holder)
            ).first()
        return inserted is not None

    def held_elsewhere(self, user_id: str, fingerprint: str) -> bool:
        """Another holder has an unexpired lease on these inputs."""
        query = select(
            exists().where(
                (tip_leases.c.user_id == user_id)
                & (tip_leases.c.fingerprint == fingerprint)
                & (tip_leases.c.holder != self.holder)
                & (tip_leases.c.expires_at >= self._clock())
            )
        )
        with self._engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    def release(self, user_id: str, fingerprint: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                delete(tip_leases).where(
                    (tip_leases.c.user_id == user_id)
                    & (tip_leases.c.fingerprint == fingerprint)
                    & (tip_leases.c.holder == self.holder)
                )
            )

    def prune(self) -> int:
        """Forget expired leases (left by processes that died); the count removed."""
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    delete(tip_leases).where(tip_leases.c.expires_at < self._clock())
                ).rowcount
            )
