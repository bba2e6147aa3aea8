"""Inferred parameters: values guessed from one user's signals, with how sure the guess is.

A manifest param may say ``infer: <name>``. The inferrer of that name is a pure function
of the user's signals (only the kinds it ``reads``, newest first) and the agent's JSON
state; it returns an ``Inferred`` value or None. Its result is checked by ``run_inferrer``
before anyone uses it, so a broken inferrer is reported as an ``InferenceError`` instead
of leaking a mistyped value into an agent's params. Whoever resolves params prefers an
explicit user preference, then an inferred value whose confidence reaches the inferrer's
``min_confidence``, then the manifest default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from ml.agents.base import Signal

# The manifest's param type names; ml.agents must not import ml.registry to share them.
InferredType = Literal["int", "float", "str", "bool"]

MAX_STR_CHARS = 64
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Enough of a bad value to recognise it in a log line, never the whole of it.
_SHOWN_CHARS = 80


class InferenceError(ValueError):
    """An inferrer failed or returned something its declaration does not allow."""


@dataclass(frozen=True, slots=True)
class Inferred:
    value: int | float | str | bool
    confidence: float
    observations: int


@dataclass(frozen=True, slots=True)
class InferenceInput:
    """One user's signals (the kinds an inferrer reads, newest first) and the agent's state."""

    signals: Sequence[Signal]
    timezone: ZoneInfo
    now: datetime
    state: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A naive `now` would be read in the host's zone and make results machine-dependent.
        if self.now.tzinfo is None:
            raise ValueError("InferenceInput.now must be timezone-aware (UTC)")

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.timezone)

    @property
    def today(self) -> date:
        return self.local_now.date()

    def of_kind(self, kind: str) -> list[Signal]:
        return [s for s in self.signals if s.kind == kind]


@dataclass(frozen=True, slots=True)
class Inferrer:
    """A named, registered way to infer one param value from the signal kinds it reads."""

    name: str
    reads: tuple[str, ...]
    type: InferredType
    min_confidence: float
    description: str
    compute: Callable[[InferenceInput], Inferred | None]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise InferenceError(f"inferrer {self.name!r}: name must match {_NAME.pattern}")
        if not self.reads or not all(isinstance(kind, str) and kind for kind in self.reads):
            raise InferenceError(f"inferrer {self.name}: reads must name at least one kind")
        if self.type not in get_args(InferredType):
            raise InferenceError(
                f"inferrer {self.name}: type {self.type!r} is not one of int, float, str, bool"
            )
        if _unit_interval(self.min_confidence) is None:
            raise InferenceError(f"inferrer {self.name}: min_confidence must be within [0, 1]")


def run_inferrer(inferrer: Inferrer, inp: InferenceInput) -> Inferred | None:
    """Run `inferrer` on `inp` and check its result; any failure is an InferenceError."""
    try:
        result = inferrer.compute(inp)
    except Exception as exc:
        detail = _shown(str(exc))
        raise InferenceError(
            f"inferrer {inferrer.name} failed: {type(exc).__name__}: {detail}"
        ) from exc
    if result is None:
        return None
    if not isinstance(result, Inferred):
        raise InferenceError(
            f"inferrer {inferrer.name} returned {type(result).__name__}, not Inferred or None"
        )
    return Inferred(
        value=_checked_value(inferrer, result.value),
        confidence=_checked_confidence(inferrer, result.confidence),
        observations=_checked_observations(inferrer, result.observations),
    )


def _checked_value(inferrer: Inferrer, value: object) -> int | float | str | bool:
    checked = _as_type(inferrer.type, value)
    if checked is None:
        raise InferenceError(
            f"inferrer {inferrer.name}: value {_shown(repr(value))} is not a valid"
            f" {inferrer.type}" + _str_rule(inferrer.type)
        )
    return checked


def _as_type(kind: InferredType, value: object) -> int | float | str | bool | None:
    """`value` as `kind`, or None when it is not one; bool is never taken for a number."""
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "str":
        if isinstance(value, str) and len(value) <= MAX_STR_CHARS and not _CONTROL.search(value):
            return value
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if kind == "float":
        return float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


def _str_rule(kind: InferredType) -> str:
    if kind == "str":
        return f" (at most {MAX_STR_CHARS} characters, no control characters)"
    return ""


def _checked_confidence(inferrer: Inferrer, confidence: object) -> float:
    checked = _unit_interval(confidence)
    if checked is None:
        raise InferenceError(
            f"inferrer {inferrer.name}: confidence {_shown(repr(confidence))} is not a finite"
            " number within [0, 1]"
        )
    return checked


def _checked_observations(inferrer: Inferrer, observations: object) -> int:
    if isinstance(observations, bool) or not isinstance(observations, int) or observations < 0:
        raise InferenceError(
            f"inferrer {inferrer.name}: observations {_shown(repr(observations))} is not an"
            " int >= 0"
        )
    return observations


def _unit_interval(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


class _BuiltIns(Mapping[str, Inferrer]):
    """The built-in inferrers by name, loaded when first read, and the registered ones."""

    def __getitem__(self, name: str) -> Inferrer:
        return _REGISTERED[name] if name in _REGISTERED else _built_ins()[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**_built_ins(), **_REGISTERED})

    def __len__(self) -> int:
        return len({**_built_ins(), **_REGISTERED})

    def __repr__(self) -> str:
        return f"INFERRERS({sorted(self)})"


_REGISTERED: dict[str, Inferrer] = {}


def register_inferrer(inferrer: Inferrer) -> Callable[[], None]:
    """Add an inferrer beside the built-ins (before the manifests naming it are loaded);
    return the function that removes it. A name already taken is an error."""
    if inferrer.name in INFERRERS:
        raise InferenceError(f"inferrer {inferrer.name}: declared twice; names are unique")
    _REGISTERED[inferrer.name] = inferrer

    def unregister() -> None:
        _REGISTERED.pop(inferrer.name, None)

    return unregister


@cache
def _built_ins() -> Mapping[str, Inferrer]:
    # The built-ins are declared with this module's types, so importing them at the top
    # would be circular whichever of the two modules is imported first.
    from ml.agents.inferrers import BUILT_IN

    table: dict[str, Inferrer] = {}
    for inferrer in BUILT_IN:
        if inferrer.name in table:
            raise InferenceError(f"inferrer {inferrer.name}: declared twice; names are unique")
        table[inferrer.name] = inferrer
    return MappingProxyType(table)


INFERRERS: Mapping[str, Inferrer] = _BuiltIns()


def get_inferrer(name: str) -> Inferrer | None:
    return INFERRERS.get(name)


def inferrer_names() -> list[str]:
    return sorted(INFERRERS)
