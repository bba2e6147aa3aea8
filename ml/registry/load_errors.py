"""Load errors as values, and their wording for the person who wrote the manifest."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ml.registry.fields import shown
from ml.registry.manifest import Manifest, ParamSpec, Schedule
from ml.registry.yamlsource import YamlDocument


@dataclass(frozen=True, slots=True)
class LoadError:
    """One reason a manifest file was rejected: ``manifests/x.yaml:12: field: message``."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


def field_path(loc: Sequence[str | int]) -> str | None:
    """Write a pydantic location the way an author reads it: ``consents[1]``, ``schedule.every``."""
    path = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for "the key itself": the path already ends with it
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


def validation_errors(exc: ValidationError, file: str, doc: YamlDocument) -> list[LoadError]:
    """Turn every error pydantic found into a LoadError on the line of its key."""
    return [
        LoadError(
            file=file,
            line=doc.line_of(error["loc"]),
            field=field_path(error["loc"]),
            message=_message(error),
        )
        for error in exc.errors()
    ]


_TYPE_MESSAGES = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "dict_type": "must be a mapping of keys to values",
    "tuple_type": "must be a list, e.g. [a, b]",
    "list_type": "must be a list, e.g. [a, b]",
}


def _message(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return _unknown_field(error["loc"])
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {shown(error['input'])}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {shown(error['input'])}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {shown(error['input'])}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {shown(error['input'])}"
    if kind in ("string_too_long", "too_long"):
        return f"is too long: at most {ctx.get('max_length')} allowed"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty"
    return error["msg"]


def _unknown_field(loc: Sequence[str | int]) -> str:
    name = str(loc[-1])
    model = _model_at(loc[:-1])
    known = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f'unknown field "{name}" (did you mean "{close[0]}"?)'
    return f'unknown field "{name}" (allowed: {", ".join(known)})' if known else "unknown field"


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    if not loc:
        return Manifest
    if tuple(loc) == ("schedule",):
        return Schedule
    if len(loc) == 2 and loc[0] == "params":
        return ParamSpec
    return None
