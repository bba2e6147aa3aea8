"""The set-based reads a sweep makes of the profile: active users by page, and one batch's
time zones, preferences and granted consents in three queries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, func, select

from nudge_infra.storage.tables import consents, preferences, users


@dataclass(frozen=True, slots=True)
class SweepUser:
    """One user as a sweep sees them."""

    user_id: str
    zone_name: str
    timezone: ZoneInfo | None
    """None when ``zone_name`` is not a known zone: that user's failure, not the sweep's."""
    preferences: Mapping[str, Any]
    granted: frozenset[str]

    @property
    def unknown_zone(self) -> str:
        return f"unknown time zone {self.zone_name!r}"


def count_active_users(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(users).where(users.c.active.is_(True))
        return int(conn.execute(query).scalar_one())


def active_user_pages(engine: Engine, page_size: int) -> Iterator[list[str]]:
    """The active users' ids in id order, a page at a time (one short query per page)."""
    after: str | None = None
    while True:
        query = select(users.c.user_id).where(users.c.active.is_(True))
        if after is not None:
            query = query.where(users.c.user_id > after)
        with engine.connect() as conn:
            page = list(conn.execute(query.order_by(users.c.user_id).limit(page_size)).scalars())
        if not page:
            return
        yield page
        after = page[-1]


def read_sweep_users(conn: Connection, ids: Sequence[str]) -> list[SweepUser]:
    """These users (unknown ids are left out), in the order given."""
    if not ids:
        return []
    zones = {
        r.user_id: r.timezone
        for r in conn.execute(
            select(users.c.user_id, users.c.timezone).where(users.c.user_id.in_(ids))
        )
    }
    prefs: dict[str, dict[str, Any]] = {u: {} for u in ids}
    for row in conn.execute(
        select(preferences.c.user_id, preferences.c.key, preferences.c.value).where(
            preferences.c.user_id.in_(ids)
        )
    ):
        prefs[row.user_id][row.key] = row.value
    granted: dict[str, set[str]] = {u: set() for u in ids}
    for grant in conn.execute(
        select(consents.c.user_id, consents.c.key).where(
            consents.c.user_id.in_(ids), consents.c.granted.is_(True)
        )
    ):
        granted[grant.user_id].add(grant.key)
    return [
        SweepUser(u, zones[u], _zone(zones[u]), prefs[u], frozenset(granted[u]))
        for u in ids
        if u in zones
    ]


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # removed from tzdata, or never a zone
        return None
