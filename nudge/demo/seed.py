"""Load the demo users and their signals through the same stores the API uses."""

from __future__ import annotations

from datetime import datetime

from nudge.demo.data import demo_signals, demo_users
from nudge.runtime import Nudge
from nudge_profile.signals import SignalIn


def seed_demo(nudge: Nudge, now: datetime) -> list[str]:
    """Create or refresh the demo users; safe to run again."""
    registry = nudge.registry.current
    seeded = []
    for user in demo_users():
        nudge.profiles.upsert_user(user.user_id, timezone=user.timezone)
        nudge.profiles.set_preferences(user.user_id, user.preferences)
        for key in sorted({k for a in registry.agents.values() for k in a.manifest.consents}):
            nudge.profiles.set_consent(
                user.user_id,
                key,
                key in user.granted,
                agents_requiring=registry.agents_requiring,
                inferred_under=registry.inferred_under,
            )
        if user.active_context:
            nudge.profiles.set_context(user.user_id, user.active_context, None)
        else:
            nudge.profiles.clear_context(user.user_id)
        batch = [SignalIn.model_validate(s) for s in demo_signals(user.user_id, now)]
        nudge.signals.ingest(user.user_id, batch)
        seeded.append(user.user_id)
    return seeded
