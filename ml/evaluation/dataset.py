"""The evaluation scenarios: a YAML file of synthetic users, validated with pydantic.

Each scenario is one user at one moment: time zone, preferences, granted consents, active
context, signals, and what a good tip for them must (and must not) contain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ml.registry.yamlsource import node_line
from nudge_profile.signals import SignalIn

DEFAULT_SCENARIOS = Path(__file__).resolve().parent / "scenarios.yaml"

AgentId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


def _alternatives(value: object) -> object:
    return (value,) if isinstance(value, str) else value


Alternatives = Annotated[tuple[Text, ...], BeforeValidator(_alternatives), Field(min_length=1)]
"""One expected mention: a string, or a list of strings any one of which will do."""


class ScenarioSignal(BaseModel):
    """A signal as the gateway would send it; times are absolute ISO strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    payload: dict[str, Any]
    occurred_at: AwareDatetime

    def to_signal_in(self) -> SignalIn:
        return SignalIn.model_validate(self.model_dump())


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cite: tuple[AgentId, ...] = ()
    """Agents the tip must cite."""
    not_cite: tuple[AgentId, ...] = ()
    """Agents excluded by a missing consent or the active context: never cited."""
    mention: tuple[Alternatives, ...] = ()
    """Facts the tip should mention (case-insensitive substrings)."""
    not_contain: tuple[Text, ...] = ()
    """Text the tip must not contain (case-insensitive)."""

    @model_validator(mode="after")
    def _cite_or_not(self) -> Expectation:
        both = sorted(set(self.cite) & set(self.not_cite))
        if both:
            raise ValueError(f"{', '.join(both)} both in cite and not_cite")
        return self

    @property
    def count(self) -> int:
        return len(self.cite) + len(self.not_cite) + len(self.mention) + len(self.not_contain)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    description: Text
    now: AwareDatetime
    timezone: str
    preferences: dict[str, Any] = Field(default_factory=dict)
    consents: tuple[Annotated[str, StringConstraints(min_length=1, max_length=64)], ...] = ()
    """Granted consent keys; every other key is denied."""
    context: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None
    signals: tuple[ScenarioSignal, ...] = ()
    expect: Expectation

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)") from None
        return value

    @model_validator(mode="after")
    def _unique_signals(self) -> Scenario:
        seen: set[tuple[str, str]] = set()
        for signal in self.signals:
            key = (signal.kind, signal.external_id)
            if key in seen:
                raise ValueError(f"signal {signal.kind}/{signal.external_id} appears twice")
            seen.add(key)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DatasetError(ValueError):
    """The scenario file is unusable; ``problems`` name the line, scenario id and field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _Loader(yaml.SafeLoader):
    """Keep ISO dates and times as text: pydantic parses them, and payloads stay JSON."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_scenarios(path: Path = DEFAULT_SCENARIOS) -> list[Scenario]:
    """Read and validate every scenario; raise DatasetError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError([f"{path}: cannot be read ({exc.strerror})"]) from None
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise DatasetError([f"{where}: not valid YAML ({exc})"]) from None
    items = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise DatasetError([f"{path}:1: expected a mapping with a `scenarios:` list"])

    scenarios: list[Scenario] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for index, item in enumerate(items):
        line = node_line(root, ("scenarios", index))
        raw_id = item.get("id") if isinstance(item, dict) else None
        label = f"scenario {raw_id!r}" if isinstance(raw_id, str) else f"scenario #{index + 1}"
        if not isinstance(item, dict):
            problems.append(f"{path}:{line}: {label}: expected a mapping")
            continue
        try:
            scenario = Scenario.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                field = ".".join(str(part) for part in loc) or "(scenario)"
                at = node_line(root, ("scenarios", index, *loc))
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{path}:{at}: {label}: {field}: {message}")
            continue
        if scenario.id in first_line:
            problems.append(
                f"{path}:{line}: {label}: id: duplicate of the scenario at line "
                f"{first_line[scenario.id]}; ids must be unique"
            )
            continue
        first_line[scenario.id] = line
        scenarios.append(scenario)
    if problems:
        raise DatasetError(problems)
    return scenarios


def dataset_digest(scenarios: Sequence[Scenario]) -> str:
    """SHA-256 of the scenarios' canonical JSON: equal digests, equal datasets."""
    canonical = json.dumps(
        [s.model_dump(mode="json") for s in scenarios], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
