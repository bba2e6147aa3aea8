"""The evaluation scenarios, written in each user's local time (see ``generate``).

Each theme lives in a module of ``ml.evaluation.scenarios``; this one fixes their order.
"""

from __future__ import annotations

from ml.evaluation.scenario_kit import Spec
from ml.evaluation.scenarios import (
    calendar_specs,
    consent_specs,
    context_specs,
    habit_sleep_reading_specs,
    persona_specs,
    smoke_specs,
    task_specs,
)


def specs() -> list[Spec]:
    """Every scenario, in file order. The first ten are the smoke set the integration test
    runs: they include a user without consents and users whose context silences agents."""
    return [
        *smoke_specs.specs(),
        *task_specs.specs(),
        *calendar_specs.specs(),
        *habit_sleep_reading_specs.specs(),
        *context_specs.specs(),
        *consent_specs.specs(),
        *persona_specs.specs(),
    ]
