"""Turn a scenario into a real user of a Nudge: profile, consents, context, signals, outputs."""

from __future__ import annotations

from ml.evaluation.dataset import Scenario
from nudge.runtime import Nudge


def user_id_for(scenario: Scenario) -> str:
    """Scenario users live in a namespace of their own, apart from real and demo users."""
    return f"eval-{scenario.id}"


def materialize(nudge: Nudge, scenario: Scenario, user_id: str) -> list[str]:
    """Write the scenario's user through the stores the API uses, then run every enabled
    agent for that user at the clock's time; return the agents' failures, if any.

    Safe to run again: the user is updated, consents and context replaced, signals upserted.
    """
    registry = nudge.registry.current
    profiles = nudge.profiles
    profiles.upsert_user(user_id, timezone=scenario.timezone)
    profiles.set_preferences(user_id, scenario.preferences)
    granted = set(scenario.consents)
    keys = {key for agent in registry.agents.values() for key in agent.consents} | granted
    for key in sorted(keys):
        profiles.set_consent(
            user_id, key, key in granted, agents_requiring=registry.agents_requiring
        )
    if scenario.context is not None:
        profiles.set_context(user_id, scenario.context, None)
    else:
        profiles.clear_context(user_id)
    if scenario.signals:
        # As the scenario holds them: some payloads are malformed on purpose (agents skip them).
        nudge.signals.ingest(
            user_id, [s.to_signal_in() for s in scenario.signals], check_payloads=False
        )
    failures: list[str] = []
    for agent in registry.enabled():
        report = nudge.sweeper.sweep_users(agent.id, [user_id])
        failures += [f"{agent.id}: {error}" for error in report.errors]
    return failures
