"""The signal contract: one file per kind, a JSON Schema for its payload, read at start.

A kind is ``<kind>.yaml`` in the kinds folder (beside the agents' manifests): a
description, the payload's JSON Schema (draft 2020-12), an example that the schema must
accept, how long its raw signals are kept, and whether only Nudge may write it. Adding a
kind is adding a file. Two formats name what signals carry: ``local-date-time`` (an ISO
8601 date and time; without an offset it is the user's local time) and
``date-or-local-date-time`` (the same, or a date alone).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

KIND_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
DEFAULT_RETENTION_DAYS = 30
ERRORS_PER_ITEM = 10
_FIELDS = {"description", "schema", "example", "retention_days", "reserved"}
# Shapes first (dates of the calendar next): 2026-11-21, 2026-11-21T14:00, …:00.5+01:00, …Z
_DATE = r"\d{4}-\d{2}-\d{2}"
_DATE_TIME = _DATE + r"[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?"
_LOCAL_DATE_TIME = re.compile(_DATE_TIME)
_DATE_OR_LOCAL = re.compile(f"{_DATE}|{_DATE_TIME}")

formats = FormatChecker()


@formats.checks("local-date-time", raises=ValueError)
def _local_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # a type error is the schema's `type` to report
    if not _LOCAL_DATE_TIME.fullmatch(value):
        raise ValueError("not an ISO 8601 date and time, e.g. 2026-11-21T14:00:00+01:00")
    datetime.fromisoformat(value.replace("Z", "+00:00"))  # a real day and time
    return True


@formats.checks("date-or-local-date-time", raises=ValueError)
def _date_or_local(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_OR_LOCAL.fullmatch(value):
        raise ValueError("not an ISO 8601 date or date and time, e.g. 2026-11-21 or …T14:00")
    if len(value) == 10:
        date.fromisoformat(value)
    else:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


class SignalKindError(ValueError):
    """A kind file that cannot be used; the message names the file and the field."""


class SignalLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class SignalKind:
    name: str
    description: str
    schema: dict[str, Any]
    example: dict[str, Any]
    retention: timedelta
    reserved: bool
    source: Path

    @cached_property
    def _validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema, format_checker=formats)

    def problems(self, payload: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """(field, reason) for each way ``payload`` breaks the schema, the first few."""
        errors = sorted(self._validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
        for error in errors[:ERRORS_PER_ITEM]:
            yield _field(error), _reason(error)


class SignalKinds:
    """Every kind Nudge accepts, by name."""

    def __init__(self, kinds: Iterable[SignalKind]) -> None:
        self._kinds = {k.name: k for k in sorted(kinds, key=lambda k: k.name)}
        self.reserved = frozenset(k.name for k in self._kinds.values() if k.reserved)
        """Kinds only Nudge writes: a gateway cannot send or delete them."""

    @classmethod
    def load(cls, folder: Path) -> SignalKinds:
        """Read every ``*.yaml`` of ``folder``; a bad file stops the start, naming it."""
        if not folder.is_dir():
            raise SignalKindError(f"{folder}: the signal kinds folder does not exist")
        paths = sorted(p for p in folder.glob("*.y*ml") if not p.name.startswith("."))
        return cls(read_kind(p) for p in paths)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[SignalKind]:
        return iter(self._kinds.values())

    @property
    def names(self) -> list[str]:
        return list(self._kinds)

    def get(self, name: str) -> SignalKind | None:
        return self._kinds.get(name)

    def unknown(self, name: str) -> str:
        """Why ``name`` is refused: not a kind, with the nearest kind if one is close."""
        close = difflib.get_close_matches(name, self.names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown signal kind {name!r}{hint}; known kinds: {', '.join(self.names)}"

    def problems(self, batch: Sequence[SignalLike]) -> list[dict[str, Any]]:
        """One entry (index, field, reason) per bad item and field of ``batch``."""
        found: list[dict[str, Any]] = []
        for i, signal in enumerate(batch):
            kind = self._kinds.get(signal.kind)
            if kind is None:
                found.append({"index": i, "field": "kind", "reason": self.unknown(signal.kind)})
                continue
            for field, reason in kind.problems(signal.payload):
                found.append({"index": i, "field": field, "reason": reason})
        return found


def read_kind(path: Path) -> SignalKind:
    name = path.stem
    if not re.fullmatch(KIND_PATTERN, name):
        raise SignalKindError(f"{path.name}: {name!r} is not a kind name ({KIND_PATTERN})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SignalKindError(f"{path.name}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise SignalKindError(f"{path.name}: must be a mapping of {sorted(_FIELDS)}")
    if extra := set(data) - _FIELDS:
        raise SignalKindError(f"{path.name}: unknown field(s) {sorted(extra)}")
    kind = SignalKind(
        name=name,
        description=_text(path, data, "description"),
        schema=_mapping(path, data, "schema"),
        example=_mapping(path, data, "example"),
        retention=timedelta(days=_days(path, data)),
        reserved=_flag(path, data, "reserved"),
        source=path,
    )
    try:
        Draft202012Validator.check_schema(kind.schema)
    except SchemaError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(root)"
        raise SignalKindError(f"{path.name}: schema at {where}: {exc.message}") from None
    if kind.schema.get("type") != "object":
        raise SignalKindError(f"{path.name}: schema: a payload is an object (type: object)")
    if bad := list(kind.problems(kind.example)):
        raise SignalKindError(f"{path.name}: example: {bad[0][0]}: {bad[0][1]}")
    return kind


def _text(path: Path, data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise SignalKindError(f"{path.name}: {field}: a non-empty text is required")
    return " ".join(value.split())


def _mapping(path: Path, data: Mapping[str, Any], field: str) -> dict[str, Any]:
    value = data.get(field)
    if not isinstance(value, dict):
        raise SignalKindError(f"{path.name}: {field}: a mapping is required")
    return value


def _days(path: Path, data: Mapping[str, Any]) -> int:
    value = data.get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise SignalKindError(f"{path.name}: retention_days: a whole number of days, 1 to 3650")
    return value


def _flag(path: Path, data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field, False)
    if not isinstance(value, bool):
        raise SignalKindError(f"{path.name}: {field}: true or false")
    return value


def _field(error: ValidationError) -> str:
    path = ["payload", *map(str, error.absolute_path)]
    if error.validator == "required" and isinstance(error.instance, dict):
        wanted = error.validator_value if isinstance(error.validator_value, list) else []
        path += [p for p in wanted if p not in error.instance][:1]
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        path += sorted(k for k in error.instance if k not in _properties(error))[:1]
    return ".".join(path)


def _reason(error: ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        fields = ", ".join(sorted(_properties(error))) or "none"
        return f"is not a field of this kind (fields: {fields})"
    if error.validator == "format" and error.cause is not None:
        return str(error.cause)
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."


def _properties(error: ValidationError) -> set[str]:
    schema = error.schema
    properties = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    return set(properties)
