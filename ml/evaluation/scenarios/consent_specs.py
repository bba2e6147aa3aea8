"""Scenarios with consents withheld: what a denied kind holds must stay out of the tip."""

from __future__ import annotations

from ml.evaluation.scenario_kit import (
    C,
    H,
    R,
    S,
    Spec,
    T,
    article,
    event,
    habit,
    sleep,
    task,
)


def specs() -> list[Spec]:
    """This theme's scenarios, in file order."""
    return [
        *_one_consent_granted(),
        *_health_or_calendar_denied(),
        *_habits_or_tasks_denied(),
        *_nothing_to_say(),
    ]


def _one_consent_granted() -> list[Spec]:
    s = []
    sp = Spec(
        "paris-tasks-denied-calendar-granted",
        "Europe/Paris",
        "2026-05-08 11:20",
        "Calendar allowed, tasks not: the task title must stay out.",
        consents=(C,),
    )
    sp.signals = [
        task(sp.now, 1, "Prepare the lawyer's documents", due=0, priority=1),
        event(sp.now, 1, "Lunch with Chloé", "12:30", 60),
    ]
    sp.mention = [["Lunch with Chloé", "12:30"]]
    s.append(sp)

    sp = Spec(
        "losangeles-only-reading-consent",
        "America/Los_Angeles",
        "2026-09-17 12:15",
        "Every kind of signal, but only the reading list is allowed.",
        consents=(R,),
    )
    sp.signals = [
        task(sp.now, 1, "Renew the gym membership", due=-1, priority=1),
        event(sp.now, 1, "Demo day rehearsal", "14:00", 60),
        *habit(sp.now, "Cold shower", range(1, 6)),
        *sleep(sp.now, "00:30", "06:00"),
        article(sp.now, 1, "Why we sleep less in spring", 9),
    ]
    sp.cite, sp.mention = ["reading_list"], [["sleep less in spring", "9 min", "9-minute"]]
    s.append(sp)
    return s


def _health_or_calendar_denied() -> list[Spec]:
    s = []
    sp = Spec(
        "berlin-health-denied",
        "Europe/Berlin",
        "2026-09-17 20:15",
        "Sleep logs without health consent; a habit streak may be used.",
        consents=(T, H),
    )
    sp.signals = [
        *sleep(sp.now, "01:00", "06:10"),
        *habit(sp.now, "Walk 10,000 steps", range(1, 5)),
    ]
    sp.cite, sp.mention = ["habits"], [["10,000 steps", "steps"]]
    sp.not_contain = ["slept"]
    s.append(sp)

    sp = Spec(
        "london-calendar-denied-focus-too",
        "Europe/London",
        "2026-12-03 10:30",
        "Without calendar consent neither calendar nor focus may speak.",
        consents=(T, S),
    )
    sp.signals = [
        event(sp.now, 1, "Performance review", "11:00", 60),
        task(sp.now, 1, "Finish the self-assessment", due=0, at="10:55", priority=1),
        *sleep(sp.now, "23:15", "07:00"),
    ]
    sp.mention = [["self-assessment", "10:55"]]
    s.append(sp)
    return s


def _habits_or_tasks_denied() -> list[Spec]:
    s = []
    sp = Spec(
        "singapore-habits-denied",
        "Asia/Singapore",
        "2026-05-08 21:30",
        "Habit check-ins without habits consent; tasks allowed.",
        consents=(T, R),
    )
    sp.signals = [
        *habit(sp.now, "Meditate", range(1, 9)),
        task(sp.now, 1, "Pack for the Bali trip", due=1, priority=2),
    ]
    sp.cite, sp.mention = ["tasks"], [["Bali", "pack"]]
    s.append(sp)

    sp = Spec(
        "auckland-everything-but-tasks",
        "Pacific/Auckland",
        "2026-06-13 09:15",
        "Every consent but tasks: the overdue task title must stay out.",
        consents=(C, H, S, R),
    )
    sp.signals = [
        task(sp.now, 1, "Fix the leaking tap", due=-3, priority=1),
        event(sp.now, 1, "Rugby match", "15:00", 120),
        *habit(sp.now, "Stretch", range(1, 5)),
        article(sp.now, 1, "Weekend bread baking", 6),
    ]
    sp.mention = [["Rugby match", "Stretch", "bread baking", "15:00"]]
    s.append(sp)
    return s


def _nothing_to_say() -> list[Spec]:
    s = []
    sp = Spec(
        "utc-habits-only-consent-no-streak",
        "UTC",
        "2026-08-30 12:00",
        "A single check-in yesterday is no streak: nothing to say.",
        consents=(H,),
    )
    sp.signals = habit(sp.now, "Drink water", [1])
    s.append(sp)

    sp = Spec(
        "chicago-empty-user",
        "America/Chicago",
        "2026-02-07 20:30",
        "Every consent, no signal at all, after working hours: nothing to say.",
    )
    s.append(sp)
    return s
