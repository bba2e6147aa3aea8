"""Users, preferences, contexts and consents in the database."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, delete, insert, select, update

from nudge_infra.clock import Clock
from nudge_infra.errors import Invalid, NotFound
from nudge_infra.events import outbox as events
from nudge_infra.storage.driver import Reader, Statement
from nudge_infra.storage.tables import (
    agent_outputs,
    agent_state,
    consent_history,
    consents,
    contexts,
    inferred_params,
    preferences,
    users,
)
from nudge_profile.model import ActiveContext, Consent, Profile

AgentsRequiring = Callable[[str], Sequence[str]]
InferredUnder = Callable[[str], Sequence[str]]
"""The inferred keys that agents needing a consent ask for (params with ``infer:``)."""


def _nothing_inferred(key: str) -> Sequence[str]:
    return ()


# The tip path reads a profile on every request: three primary-key lookups on the
# driver's cursor (see nudge_infra.storage.driver).
_USER = Statement(
    """
    SELECT u.user_id, u.timezone, u.active, u.created_at, u.updated_at,
           c.name, c.until, c.set_at
    FROM users u LEFT OUTER JOIN contexts c ON c.user_id = u.user_id
    WHERE u.user_id = ?
    """
)
_PREFERENCES = Statement("SELECT key, value FROM preferences WHERE user_id = ?")
_CONSENTS = Statement("SELECT key, granted, changed_at FROM consents WHERE user_id = ?")


def load_profile(reader: Reader, user_id: str) -> Profile | None:
    """Read one user's whole profile, or None when there is no such user."""
    user = reader.one(_USER, (user_id,))
    if user is None:
        return None
    c = reader.codec
    uid, timezone, active, created_at, updated_at, context_name, until, set_at = user
    context = None
    if context_name is not None:
        context = ActiveContext(context_name, c.time_or_none(until), c.time_out(set_at))
    return Profile(
        user_id=uid,
        timezone=ZoneInfo(timezone),
        active=c.bool_out(active),
        created_at=c.time_out(created_at),
        updated_at=c.time_out(updated_at),
        preferences={k: c.json_out(v) for k, v in reader.all(_PREFERENCES, (user_id,))},
        context=context,
        consents={
            k: Consent(k, c.bool_out(granted), c.time_out(at))
            for k, granted, at in reader.all(_CONSENTS, (user_id,))
        },
    )


def read_profile(reader: Reader, user_id: str) -> Profile:
    """The user's profile; NotFound when there is no such user."""
    profile = load_profile(reader, user_id)
    if profile is None:
        raise NotFound("user", user_id)
    return profile


class ProfileStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, user_id: str) -> Profile:
        with Reader(self._engine) as reader:
            return read_profile(reader, user_id)

    def exists(self, user_id: str) -> bool:
        with self._engine.connect() as conn:
            return user_exists(conn, user_id)

    def upsert_user(self, user_id: str, *, timezone: str, active: bool = True) -> bool:
        """Create or update a user; return True when the user is new."""
        now = self._clock()
        with self._engine.begin() as conn:
            if user_exists(conn, user_id):
                conn.execute(
                    update(users)
                    .where(users.c.user_id == user_id)
                    .values(timezone=timezone, active=active, updated_at=now)
                )
                return False
            conn.execute(
                insert(users).values(
                    user_id=user_id,
                    timezone=timezone,
                    active=active,
                    created_at=now,
                    updated_at=now,
                )
            )
            return True

    def set_preferences(self, user_id: str, prefs: Mapping[str, Any]) -> None:
        """Replace the whole preference map."""
        now = self._clock()
        with self._engine.begin() as conn:
            require_user(conn, user_id)
            conn.execute(delete(preferences).where(preferences.c.user_id == user_id))
            if prefs:
                conn.execute(
                    insert(preferences),
                    [
                        {"user_id": user_id, "key": k, "value": v, "updated_at": now}
                        for k, v in prefs.items()
                    ],
                )
            _touch(conn, user_id, now)

    def set_context(self, user_id: str, name: str, until: datetime | None) -> None:
        now = self._clock()
        if until is not None and until <= now:
            raise Invalid("until must be in the future")
        with self._engine.begin() as conn:
            require_user(conn, user_id)
            conn.execute(delete(contexts).where(contexts.c.user_id == user_id))
            conn.execute(
                insert(contexts).values(user_id=user_id, name=name, until=until, set_at=now)
            )
            _touch(conn, user_id, now)

    def clear_context(self, user_id: str) -> bool:
        """Remove the active context; return False when there was none."""
        now = self._clock()
        with self._engine.begin() as conn:
            require_user(conn, user_id)
            removed = conn.execute(delete(contexts).where(contexts.c.user_id == user_id))
            _touch(conn, user_id, now)
            return bool(removed.rowcount)

    def set_consent(
        self,
        user_id: str,
        key: str,
        granted: bool,
        *,
        agents_requiring: AgentsRequiring,
        inferred_under: InferredUnder = _nothing_inferred,
    ) -> int:
        """Grant or revoke one consent key.

        A revocation deletes, in the same transaction, the user's stored outputs and state
        of every agent that needs the key, and the values inferred for those agents (an
        agent still allowed to infer one infers it again on its next run). Returns how many
        outputs were deleted.
        """
        now = self._clock()
        deleted = 0
        with self._engine.begin() as conn:
            require_user(conn, user_id)
            current = conn.execute(
                select(consents.c.granted).where(
                    consents.c.user_id == user_id, consents.c.key == key
                )
            ).scalar_one_or_none()
            if current is None:
                conn.execute(
                    insert(consents).values(
                        user_id=user_id, key=key, granted=granted, changed_at=now
                    )
                )
            elif current != granted:
                conn.execute(
                    update(consents)
                    .where(consents.c.user_id == user_id, consents.c.key == key)
                    .values(granted=granted, changed_at=now)
                )
            if current == granted:
                return 0
            conn.execute(
                insert(consent_history).values(user_id=user_id, key=key, granted=granted, at=now)
            )
            if not granted:
                deleted = _forget_under(conn, user_id, key, agents_requiring, inferred_under)
            events.append(
                conn,
                events.Topic.CONSENT_CHANGED,
                user_id,
                {"user_id": user_id, "key": key, "granted": granted, "outputs_deleted": deleted},
                now,
            )
            _touch(conn, user_id, now)
        return deleted


def _forget_under(
    conn: Connection,
    user_id: str,
    key: str,
    agents_requiring: AgentsRequiring,
    inferred_under: InferredUnder,
) -> int:
    """Delete what was read or worked out under a revoked consent; how many outputs."""
    deleted = 0
    agent_ids = list(agents_requiring(key))
    if agent_ids:
        mine = (agent_outputs.c.user_id == user_id, agent_outputs.c.agent_id.in_(agent_ids))
        deleted = conn.execute(delete(agent_outputs).where(*mine)).rowcount
        # What those agents kept about the user was read under the consent too.
        conn.execute(
            delete(agent_state).where(
                agent_state.c.user_id == user_id, agent_state.c.agent_id.in_(agent_ids)
            )
        )
    if inferred := list(inferred_under(key)):
        conn.execute(
            delete(inferred_params).where(
                inferred_params.c.user_id == user_id, inferred_params.c.key.in_(inferred)
            )
        )
    return deleted


def user_exists(conn: Connection, user_id: str) -> bool:
    found = conn.execute(select(users.c.user_id).where(users.c.user_id == user_id)).first()
    return found is not None


def require_user(conn: Connection, user_id: str) -> None:
    """Raise NotFound unless the user exists."""
    if not user_exists(conn, user_id):
        raise NotFound("user", user_id)


def _touch(conn: Connection, user_id: str, now: datetime) -> None:
    conn.execute(update(users).where(users.c.user_id == user_id).values(updated_at=now))
