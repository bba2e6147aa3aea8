"""What each agent would say for a scenario, and which agents the manifests keep out.

Pure functions of a registry and a scenario: no store, no clock. The harness uses them
to look for an excluded agent's snippet in the prompt (a snippet that was never stored
can only get there through a leak), and the dataset checks use them to make sure every
expectation can be met.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Literal

from ml.agents.base import Signal, Snippet, UserView
from ml.evaluation.dataset import Scenario
from ml.precompute.checked import check_run
from ml.precompute.inputs import prepare
from ml.registry.registry import RegisteredAgent, Registry

log = logging.getLogger(__name__)

Exclusion = Literal["consent", "context"]


def exclusions(
    agents: Iterable[RegisteredAgent], *, granted: Collection[str], context: str | None
) -> dict[str, Exclusion]:
    """Enabled agents kept out by a missing consent or silenced by the context.

    A missing consent wins over the context, in the order eligibility applies its rules.
    Derived here from the manifests, not with ``ml.registry.eligibility``: the harness
    checks that code for leaks, so it must not share it.
    """
    excluded: dict[str, Exclusion] = {}
    for agent in agents:
        if not agent.enabled:
            continue
        if not set(agent.consents) <= set(granted):
            excluded[agent.id] = "consent"
        elif context is not None and context in agent.silenced_in:
            excluded[agent.id] = "context"
    return excluded


def scenario_exclusions(registry: Registry, scenario: Scenario) -> dict[str, Exclusion]:
    return exclusions(registry.agents.values(), granted=scenario.consents, context=scenario.context)


def would_say(agent: RegisteredAgent, scenario: Scenario) -> Snippet | None:
    """The snippet ``agent`` would store at the scenario's time, consent and context aside."""
    signals = sorted(
        (
            Signal(s.kind, s.external_id, s.payload, s.occurred_at)
            for s in scenario.signals
            if s.kind in agent.manifest.reads
        ),
        key=lambda s: s.occurred_at,
        reverse=True,  # newest first, as the sweep reads them
    )
    user = UserView(f"eval-{scenario.id}", scenario.zone, scenario.preferences)
    try:
        inp = prepare(agent, user, scenario.now, signals).input
        # The same check the sweep applies, so the text is what would have been stored.
        snippet = check_run(agent.impl.compute(inp)).snippet
    except Exception as exc:  # an agent failing on odd data says nothing, as in a sweep
        log.warning("agent %s fails on scenario %s: %s", agent.id, scenario.id, exc)
        return None
    return snippet


def snippets_for(registry: Registry, scenario: Scenario) -> dict[str, Snippet]:
    """Every enabled agent's snippet for the scenario, for agents that have something to say."""
    found: dict[str, Snippet] = {}
    for agent in registry.enabled():
        snippet = would_say(agent, scenario)
        if snippet is not None:
            found[agent.id] = snippet
    return found
