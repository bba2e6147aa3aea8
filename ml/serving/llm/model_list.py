"""The aliases: one YAML file in LiteLLM's own ``model_list`` format, read and checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ml.registry.yamlsource import node_line
from ml.serving.llm.port import LLMError


class LiteLLMParams(BaseModel):
    """``litellm_params`` of one entry; keys other than these pass through to LiteLLM."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="provider/model, e.g. openai/x")
    api_base: str | None = None
    api_key: str | None = None

    def call_kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ModelInfo(BaseModel):
    """``model_info`` of one entry: LiteLLM's own keys pass through; these are Nudge's."""

    model_config = ConfigDict(extra="allow")

    candidates: int = Field(
        default=1,
        ge=1,
        le=8,
        description="answers sampled in one call when the first answer is refused (best-of-n)",
    )
    near_repeat_cosine: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="an embedding model's cosine at or above which a tip nearly repeats "
        "a recent one (cosines of different models are not comparable)",
    )


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1, description="the alias code uses")
    litellm_params: LiteLLMParams
    model_info: ModelInfo = Field(default_factory=ModelInfo)


class RouterSettings(BaseModel):
    """``router_settings``: of LiteLLM's router, only ``fallbacks`` (Nudge does not
    load-balance; the other keys are refused rather than silently ignored)."""

    model_config = ConfigDict(extra="forbid")

    fallbacks: list[dict[str, list[str]]] = Field(
        default_factory=list,
        description="[{alias: [backup alias, ...]}]: asked in order when the alias is down",
    )


class ModelList(BaseModel):
    """The parsed file: ``model_list`` and ``router_settings.fallbacks``. Global LiteLLM
    settings would be process-wide state, so they are refused rather than silently
    ignored."""

    model_config = ConfigDict(extra="forbid")

    model_list: list[ModelEntry] = Field(min_length=1)
    router_settings: RouterSettings = Field(default_factory=RouterSettings)

    @field_validator("model_list")
    @classmethod
    def _unique_aliases(cls, entries: list[ModelEntry]) -> list[ModelEntry]:
        seen: set[str] = set()
        for entry in entries:
            if entry.model_name in seen:
                raise ValueError(
                    f"model_name {entry.model_name!r} appears twice; "
                    "keep one entry per alias (Nudge does not load-balance)"
                )
            seen.add(entry.model_name)
        return entries

    @model_validator(mode="after")
    def _known_fallbacks(self) -> ModelList:
        known = set(self.aliases)
        for rule in self.router_settings.fallbacks:
            for alias, backups in rule.items():
                unknown = [a for a in (alias, *backups) if a not in known]
                if unknown:
                    raise ValueError(
                        f"router_settings.fallbacks names {', '.join(map(repr, unknown))}: "
                        f"not a model_name of this file (known: {', '.join(sorted(known))})"
                    )
                if alias in backups:
                    raise ValueError(f"router_settings.fallbacks: {alias!r} falls back to itself")
        return self

    def fallbacks(self, alias: str) -> list[str]:
        """The aliases asked, in order, when ``alias`` times out, is unreachable or fails."""
        return [b for rule in self.router_settings.fallbacks for b in rule.get(alias, [])]

    @property
    def aliases(self) -> list[str]:
        return [e.model_name for e in self.model_list]

    def candidates(self, alias: str) -> int:
        """How many answers ``alias`` is asked for when its first one is refused."""
        return self.entry(alias).model_info.candidates

    def entry(self, alias: str) -> ModelEntry:
        for entry in self.model_list:
            if entry.model_name == alias:
                return entry
        raise LLMError(
            "unknown_alias",
            f"no model_name {alias!r} in the LiteLLM config; known: {', '.join(self.aliases)}",
        )


class ModelListError(ValueError):
    """The LiteLLM config file is unusable; the message names file, line, field and fix."""


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_model_list(path: Path, *, substitutions: Mapping[str, str]) -> ModelList:
    """Read a LiteLLM ``model_list`` YAML file, filling ``{name}`` placeholders.

    ``{embedded_llm}`` is the usual one: the embedded server's base URL, known only
    once its port is, so one file works whatever port the server got.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelListError(f"{path}: cannot read the LiteLLM config ({exc})") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ModelListError(f"{where}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelListError(f"{path}:1: expected a mapping with a `model_list:` key")

    problems: list[str] = []
    filled = _substitute(data, (), substitutions, problems, path, root)
    try:
        models = ModelList.model_validate(filled)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{path}:{node_line(root, loc)}: {field}: {err['msg']}")
    if problems:
        raise ModelListError("\n".join(problems))
    return models


def _substitute(
    value: Any,
    loc: tuple[str | int, ...],
    subs: Mapping[str, str],
    problems: list[str],
    path: Path,
    root: yaml.Node | None,
) -> Any:
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in subs:
                field = ".".join(str(p) for p in loc)
                problems.append(
                    f"{path}:{node_line(root, loc)}: {field}: no value for {{{name}}} "
                    f"(known placeholders: {', '.join(sorted(subs)) or 'none'})"
                )
                return match.group(0)
            return subs[name]

        return _PLACEHOLDER.sub(fill, value)
    if isinstance(value, dict):
        return {k: _substitute(v, (*loc, k), subs, problems, path, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*loc, i), subs, problems, path, root) for i, v in enumerate(value)]
    return value
