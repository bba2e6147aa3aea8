"""A/B experiments: users assigned to prompt versions or models, by a stable hash.

Experiments are declared in a YAML file (``config/experiments.yaml``)::

    experiments:
      - name: shorter-prompt
        description: Does the concise prompt get more tips done?
        variants:
          - {name: control, weight: 50}                   # the served alias, default model
          - {name: concise, weight: 50, prompt: "@concise"}   # a version ("4") or an @alias

A user's variant depends only on the experiment's name, the user id and the weights, so it
is the same on every replica and every request, and weights split users evenly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ml.serving.tip.prompt import Arm, PromptTemplate

_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_PROMPT_REF = r"^(@[A-Za-z0-9_-]{1,64}|[1-9][0-9]{0,8})$"


class ExperimentsError(ValueError):
    """An experiments file that cannot be used; the message names the file and the field."""


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=_NAME)]
    weight: Annotated[int, Field(ge=1, le=10_000)]
    prompt: Annotated[
        str | None, Field(pattern=_PROMPT_REF, description='a prompt version ("3") or "@alias"')
    ] = None
    model: Annotated[
        str | None, Field(min_length=1, max_length=64, description="a LiteLLM model alias")
    ] = None


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=_NAME)]
    description: str = ""
    enabled: bool = True
    variants: Annotated[list[Variant], Field(min_length=2, max_length=20)]

    @model_validator(mode="after")
    def _distinct_variants(self) -> Experiment:
        _unique("variant", [v.name for v in self.variants])
        return self

    @property
    def total_weight(self) -> int:
        return sum(v.weight for v in self.variants)

    def variant_for(self, user_id: str) -> Variant:
        """The user's variant: a bucket of the hash of (experiment, user), cut by weight."""
        digest = hashlib.sha256(f"{self.name}\x1f{user_id}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % self.total_weight
        for variant in self.variants:
            if bucket < variant.weight:
                return variant
            bucket -= variant.weight
        raise AssertionError("weights cover every bucket")  # pragma: no cover


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiments: list[Experiment] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _rules(self) -> _File:
        _unique("experiment", [e.name for e in self.experiments])
        enabled = [e.name for e in self.experiments if e.enabled]
        if len(enabled) > 1:
            # Two experiments on the same users would confound each other's results.
            raise ValueError(f"at most one experiment may be enabled: {', '.join(enabled)}")
        return self


def _unique(what: str, names: list[str]) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{what} names must be unique: {', '.join(duplicates)}")


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: str
    variant: str
    prompt: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class Experiments:
    all: tuple[Experiment, ...] = ()

    @classmethod
    def load(cls, path: Path | None) -> Experiments:
        """Read the file; a missing file (or None) means no experiments."""
        if path is None or not path.exists():
            return cls()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ExperimentsError(f"{path}: cannot be read: {exc}") from None
        try:
            parsed = _File.model_validate(raw or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise ExperimentsError(f"{path}: {where}: {first['msg']}{more}") from None
        return cls(tuple(parsed.experiments))

    def get(self, name: str) -> Experiment | None:
        return next((e for e in self.all if e.name == name), None)

    @property
    def active(self) -> Experiment | None:
        return next((e for e in self.all if e.enabled), None)

    def prompt_refs(self) -> list[str]:
        """The prompt references the active experiment needs loaded ahead of requests."""
        active = self.active
        return [v.prompt for v in active.variants if v.prompt] if active else []

    def check_models(self, known: Callable[[str], bool]) -> None:
        """Refuse variants naming a model alias the LiteLLM config does not have."""
        for experiment in self.all:
            for variant in experiment.variants:
                if variant.model is not None and not known(variant.model):
                    raise ExperimentsError(
                        f"experiment {experiment.name}, variant {variant.name}: model alias "
                        f"{variant.model!r} is not in the LiteLLM model_list"
                    )

    def assign(self, user_id: str) -> Assignment | None:
        active = self.active
        if active is None:
            return None
        variant = active.variant_for(user_id)
        return Assignment(active.name, variant.name, variant.prompt, variant.model)


def choose_arm(
    assignment: Assignment | None,
    *,
    default_prompt: PromptTemplate,
    default_alias: str,
    pinned: Callable[[str], PromptTemplate | None],
) -> Arm:
    """Apply a user's assignment; a variant whose prompt is not loaded serves no one."""
    if assignment is None:
        return Arm(default_prompt, default_alias)
    prompt = default_prompt
    if assignment.prompt is not None:
        found = pinned(assignment.prompt)
        if found is None:
            return Arm(default_prompt, default_alias)
        prompt = found
    return Arm(prompt, assignment.model or default_alias, assignment.experiment, assignment.variant)


def split(experiment: Experiment, user_ids: Sequence[str]) -> dict[str, int]:
    """How many of ``user_ids`` land in each variant."""
    counts = {v.name: 0 for v in experiment.variants}
    for user_id in user_ids:
        counts[experiment.variant_for(user_id).name] += 1
    return counts
