"""An agent run's input: the user's view, the signals it reads, its state, its resolved params.

A param's value comes from, in this order: the user's preference ``<agent id>.<param>``,
an inferred value at or above its confidence floor, the manifest's default. Where each
value came from travels with the output into the tip's provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ml.agents.base import AgentInput, Signal, UserView, signal_ref
from ml.agents.inference import (
    InferenceInput,
    Inferred,
    get_inferrer,
    run_inferrer,
)
from ml.registry.params import ParamSpec
from ml.registry.registry import RegisteredAgent
from nudge_profile.items import Marks


@dataclass(frozen=True, slots=True)
class Prepared:
    """One user's input, and the values inferred for it (to store with the output)."""

    input: AgentInput
    inferred: dict[str, Inferred] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)


def prepare(
    agent: RegisteredAgent,
    user: UserView,
    now: datetime,
    signals: Sequence[Signal],
    *,
    state: Mapping[str, Any] | None = None,
    marks: Marks | None = None,
) -> Prepared:
    """Build one run's input: hidden items' signals removed, inferrers run, params resolved.

    ``signals`` are the kinds the agent reads, newest first. Raises InferenceError when
    an inferrer raises or returns nonsense: that user's run fails, nothing is stored.
    """
    marks = marks or Marks()
    visible = [s for s in signals if signal_ref(s) not in marks.hidden]
    state = dict(state or {})
    inferred = _infer(agent, user, now, visible, state)
    values, sources = resolve_params(agent, user.preferences, inferred)
    inp = AgentInput(
        user=user,
        now=now,
        signals=visible,
        params=values,
        state=state,
        closed=marks.closed,
        hidden=marks.hidden,
        param_sources={name: str(source["source"]) for name, source in sources.items()},
    )
    return Prepared(inp, inferred, sources)


def _infer(
    agent: RegisteredAgent,
    user: UserView,
    now: datetime,
    signals: Sequence[Signal],
    state: Mapping[str, Any],
) -> dict[str, Inferred]:
    found: dict[str, Inferred] = {}
    for spec in agent.manifest.params.values():
        inferrer = get_inferrer(spec.infer) if spec.infer else None
        if inferrer is None or inferrer.name in found:
            continue
        kinds = set(inferrer.reads)
        inp = InferenceInput(
            signals=[s for s in signals if s.kind in kinds],
            timezone=user.timezone,
            now=now,
            state=state,
        )
        result = run_inferrer(inferrer, inp)
        if result is not None:
            found[inferrer.name] = result
    return found


def resolve_params(
    agent: RegisteredAgent, preferences: Mapping[str, Any], inferred: Mapping[str, Inferred]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Each param's value and where it came from: preference, inferred, or default."""
    prefix = agent.id + "."
    overrides = {k[len(prefix) :]: v for k, v in preferences.items() if k.startswith(prefix)}
    chosen = agent.manifest.resolved_params(overrides)
    values: dict[str, Any] = {}
    sources: dict[str, dict[str, Any]] = {}
    for name, spec in agent.manifest.params.items():
        if _valid(spec, overrides, name):
            values[name], sources[name] = chosen[name], {"source": "preference"}
            continue
        guess = inferred.get(spec.infer) if spec.infer else None
        inferrer = get_inferrer(spec.infer) if spec.infer else None
        floor = spec.min_confidence if spec.min_confidence is not None else (
            inferrer.min_confidence if inferrer else 1.0
        )  # fmt: skip
        if guess is not None and guess.confidence >= floor and _fits(spec, guess.value):
            values[name] = spec.coerce(guess.value)
            sources[name] = {
                "source": "inferred",
                "inferrer": spec.infer,
                "confidence": round(guess.confidence, 3),
                "observations": guess.observations,
            }
            continue
        values[name], sources[name] = spec.default, {"source": "default"}
    for name, source in sources.items():
        source["value"] = values[name]
    return values, sources


def _valid(spec: ParamSpec, overrides: Mapping[str, Any], name: str) -> bool:
    return name in overrides and _fits(spec, overrides[name])


def _fits(spec: ParamSpec, value: object) -> bool:
    """A value outside the param's type, bounds or choices is not used."""
    try:
        spec.coerce(value)
    except ValueError:
        return False
    return True
