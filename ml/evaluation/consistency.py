"""Whether a scenario's expectations can hold under the manifests and the agents.

Expectations are written by hand (or generated); manifests and agents change. These checks
keep the two in step: an agent listed in ``not_cite`` must really be excluded, a ``cite``d
agent must be admitted and have something to say, a ``mention`` must be something an
admitted snippet says, and a ``not_contain`` text something no admitted snippet says.
"""

from __future__ import annotations

from ml.evaluation.dataset import Scenario
from ml.evaluation.shadow import scenario_exclusions, snippets_for
from ml.registry.registry import Registry


def scenario_problems(scenario: Scenario, registry: Registry) -> list[str]:
    """Every reason the scenario's expectations cannot hold; empty when they can."""
    where = f"scenario {scenario.id!r}"
    expect = scenario.expect
    excluded = scenario_exclusions(registry, scenario)
    admitted = {
        agent_id: snippet.text
        for agent_id, snippet in snippets_for(registry, scenario).items()
        if agent_id not in excluded
    }
    said = "\n".join(admitted.values()).casefold()
    known_keys = {key for agent in registry.agents.values() for key in agent.consents}
    problems = [
        f"{where}: consents: {key!r} is not a key any manifest asks for"
        for key in scenario.consents
        if key not in known_keys
    ]
    for agent_id in (*expect.cite, *expect.not_cite):
        if agent_id not in registry.agents:
            problems.append(f"{where}: expect: {agent_id!r} is not a registered agent")
    for agent_id in expect.not_cite:
        if agent_id in registry.agents and agent_id not in excluded:
            problems.append(
                f"{where}: expect.not_cite: {agent_id} is neither missing a consent nor "
                f"silenced by context {scenario.context!r}; remove it"
            )
    for agent_id in expect.cite:
        if agent_id in excluded:
            problems.append(
                f"{where}: expect.cite: {agent_id} is excluded ({excluded[agent_id]}); "
                "it can never be cited"
            )
        elif agent_id in registry.agents and agent_id not in admitted:
            problems.append(f"{where}: expect.cite: {agent_id} has nothing to say here")
    for alternatives in expect.mention:
        if not any(a.casefold() in said for a in alternatives):
            problems.append(
                f"{where}: expect.mention: no admitted snippet says any of {list(alternatives)}"
            )
    for text in expect.not_contain:
        if text.casefold() in said:
            problems.append(f"{where}: expect.not_contain: an admitted snippet says {text!r}")
    return problems
