"""Field types shared by the manifest models: durations and pattern-checked names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from ml.registry.durations import (
    DURATION_EXAMPLES,
    DURATION_PATTERN,
    format_duration,
    not_a_duration,
    parse_duration,
)

_SHOWN_MAX = 60


def author_error(kind: str, message: str) -> PydanticCustomError:
    """Build a validation error whose text is shown to the manifest author as is."""
    return PydanticCustomError(kind, message)


def shown(value: object) -> str:
    """Render a value the way it would be written in YAML: "text", 12, true."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


def _to_timedelta(value: object) -> timedelta:
    if isinstance(value, timedelta):
        try:
            format_duration(value)
        except ValueError as exc:
            raise author_error("duration", str(exc)) from None
        return value
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise author_error("duration", str(exc)) from None
    raise author_error("duration", not_a_duration(value))


Duration = Annotated[
    timedelta,
    PlainValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": f"A duration such as {DURATION_EXAMPLES} or 500ms.",
        }
    ),
]


@dataclass(frozen=True, slots=True)
class Matches:
    """Constrain a string to a regex; the error names what was expected and shows an example."""

    pattern: str
    what: str
    example: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema

    def _check(self, value: str) -> str:
        if re.fullmatch(self.pattern, value) is None:
            raise author_error("pattern", f'"{value}" is not {self.what} (use e.g. {self.example})')
        return value


AGENT_ID_PATTERN = r"^[a-z0-9_-]+$"

AgentId = Annotated[
    str,
    Field(max_length=64),
    Matches(AGENT_ID_PATTERN, "an agent id: lowercase letters, digits, - and _", "calendar"),
]
ConsentKey = Annotated[
    str,
    Field(max_length=64),
    Matches(
        r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
        "a consent key: dotted lowercase words",
        "calendar.read",
    ),
]
ContextName = Annotated[
    str,
    Field(max_length=64),
    Matches(r"^[a-z0-9_-]+$", "a context name: lowercase letters, digits, - and _", "vacation"),
]
SignalKind = Annotated[
    str,
    Field(max_length=64),
    Matches(r"^[a-z][a-z0-9_]*$", "a signal kind: a lowercase identifier", "calendar_event"),
]
ParamName = Annotated[
    str,
    Field(max_length=64),
    Matches(r"^[a-z][a-z0-9_]*$", "a parameter name: a lowercase identifier", "horizon_hours"),
]
EntrypointRef = Annotated[
    str,
    Field(max_length=200),
    Matches(
        r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$",
        "an entrypoint: module.path:ClassName",
        "ml.agents.calendar:CalendarAgent",
    ),
]
