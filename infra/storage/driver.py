"""Reads on the database driver's own cursor, for the few SELECTs of every tip request.

SQLAlchemy costs about 30 µs a statement in Python; SQLite answers a primary-key lookup
in about 5 µs, so on the embedded default the ORM layer, not the database, set the
latency of a tip's context (ADR 0008). The reads below are plain SQL with ``?``
placeholders, run on the DBAPI connection SQLAlchemy checked out, with the same
decoding SQLAlchemy's column types would apply. Writes stay on SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's DateTime stores values in SQLite


@dataclass(frozen=True, slots=True)
class Codec:
    """How one backend spells placeholders and returns times, JSON and booleans."""

    placeholder: str
    time_out: Callable[[Any], datetime]
    time_in: Callable[[datetime], Any]
    json_out: Callable[[Any], Any]
    bool_out: Callable[[Any], bool]

    def time_or_none(self, value: Any) -> datetime | None:
        return None if value is None else self.time_out(value)


def _sqlite_time_out(value: str) -> datetime:
    # Stored as naive UTC; parsing the offset is ~5x cheaper than replace(tzinfo=...).
    return datetime.fromisoformat(value + "+00:00")


def _sqlite_time_in(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC).strftime(_SQLITE_TIME)


def _aware_time_in(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value


def _sqlite_json_out(value: Any) -> Any:
    # A JSON column has NUMERIC affinity in SQLite: a bare number comes back as one.
    return json.loads(value) if isinstance(value, str) else value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _as_is(value: Any) -> Any:
    return value


SQLITE = Codec("?", _sqlite_time_out, _sqlite_time_in, _sqlite_json_out, bool)
POSTGRES = Codec("%s", _utc, _aware_time_in, _as_is, bool)
_CODECS = {"sqlite": SQLITE, "postgresql": POSTGRES}


class Reader:
    """Run prepared SQL on a DBAPI connection checked out of the engine's pool.

    Statements are written once with ``?`` placeholders and translated per backend on
    first use. Closing returns the connection to the pool, which rolls back whatever
    these reads opened (psycopg begins a transaction at the first statement).
    """

    def __init__(self, engine: Engine) -> None:
        name = engine.dialect.name
        try:
            self.codec = _CODECS[name]
        except KeyError:
            raise RuntimeError(f"no driver codec for the {name!r} dialect") from None
        self._conn = engine.raw_connection()
        try:
            self._cursor = self._conn.cursor()
        except BaseException:
            self._conn.close()
            raise

    def all(self, sql: Statement, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql.text_for(self.codec), params)
        return list(self._cursor.fetchall())

    def one(self, sql: Statement, params: Sequence[Any]) -> tuple[Any, ...] | None:
        self._cursor.execute(sql.text_for(self.codec), params)
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def close(self) -> None:
        try:
            self._cursor.close()
        finally:
            self._conn.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Statement:
    """One SQL text with ``?`` placeholders, translated once per backend."""

    __slots__ = ("_texts", "sql")

    def __init__(self, sql: str) -> None:
        if "%" in sql:
            raise ValueError("'%' would be read as a placeholder by psycopg")
        self.sql = " ".join(sql.split())
        self._texts: dict[str, str] = {}

    def text_for(self, codec: Codec) -> str:
        text = self._texts.get(codec.placeholder)
        if text is None:
            text = self.sql.replace("?", codec.placeholder)
            self._texts[codec.placeholder] = text
        return text
