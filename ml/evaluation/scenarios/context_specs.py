"""Scenarios with an active context (vacation, sleep, commute, focus) and what it silences."""

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
    feedback,
    habit,
    sleep,
    task,
)


def specs() -> list[Spec]:
    """This theme's scenarios, in file order."""
    return [
        *_vacation(),
        *_sleep_context_and_commute(),
        *_sleep_speaks_in_context(),
        *_calendar_denied_and_focus(),
    ]


def _vacation() -> list[Spec]:
    s = []
    sp = Spec(
        "berlin-vacation-reading-habits",
        "Europe/Berlin",
        "2026-07-01 11:00",
        "On vacation with a running streak and a travel article; work is silenced.",
        context="vacation",
    )
    sp.signals = [
        task(sp.now, 1, "Prepare the Q3 forecast", due=0, priority=1),
        event(sp.now, 1, "Steering committee", "15:00", 60),
        *habit(sp.now, "Run", range(1, 8)),
        article(sp.now, 1, "Travel light: a packing list", 8),
    ]
    sp.mention = [["Run", "Travel light", "packing list"]]
    s.append(sp)

    sp = Spec(
        "sydney-vacation-only-work-signals",
        "Australia/Sydney",
        "2026-12-03 10:00",
        "On vacation with only work signals: nothing may be said.",
        context="vacation",
    )
    sp.signals = [
        task(sp.now, 1, "Review the budget deck", due=0, priority=1),
        event(sp.now, 1, "Quarterly business review", "13:00", 90),
    ]
    s.append(sp)
    return s


def _sleep_context_and_commute() -> list[Spec]:
    s = []
    sp = Spec(
        "london-sleep-context-feedback",
        "Europe/London",
        "2026-04-22 23:50",
        "Sleep context near midnight: only the reaction history remains.",
        consents=(T, H),
        context="sleep",
    )
    sp.signals = [
        task(sp.now, 1, "Prepare the workshop agenda", due=1, priority=2),
        *habit(sp.now, "Floss", range(1, 6)),
        feedback(
            sp.now, 1, "done", "Spend 20 minutes on the workshop agenda.", ["tasks"], hours_ago=30
        ),
        feedback(
            sp.now,
            2,
            "snooze",
            "Go for a 15-minute walk.",
            ["habits"],
            hours_ago=4,
            snooze_hours=10,
        ),
    ]
    sp.cite = ["feedback_history"]
    s.append(sp)

    sp = Spec(
        "tokyo-commute-context",
        "Asia/Tokyo",
        "2026-12-03 08:10",
        "On the train (a context no agent is silenced by): tasks and a short read.",
        consents=(T, R),
        context="commute",
    )
    sp.signals = [
        task(sp.now, 1, "Confirm the venue booking", due=0, at="12:00", priority=1),
        article(sp.now, 1, "Small habits, big results", 4),
    ]
    sp.mention = [["venue", "Small habits", "4-minute", "4 min"]]
    s.append(sp)
    return s


def _sleep_speaks_in_context() -> list[Spec]:
    s = []
    sp = Spec(
        "chicago-vacation-short-night",
        "America/Chicago",
        "2026-07-01 08:30",
        "On vacation after a short night: sleep may speak, tasks may not.",
        consents=(S, T),
        context="vacation",
    )
    sp.signals = [
        *sleep(sp.now, "01:30", "06:45"),
        task(sp.now, 1, "Submit the conference abstract", due=0, priority=1),
    ]
    sp.cite, sp.mention = ["sleep"], [["5 h 15", "5h15", "5 hours 15", "5 hours and 15"]]
    s.append(sp)

    sp = Spec(
        "nairobi-sleep-context-left-on",
        "Africa/Nairobi",
        "2026-10-05 06:10",
        "The sleep context is still on at dawn: sleep speaks, the rest is silenced.",
        context="sleep",
    )
    sp.signals = [
        *sleep(sp.now, "22:40", "05:50"),
        task(sp.now, 1, "Prepare the supplier invoice", due=0, priority=1),
        event(sp.now, 1, "Warehouse inspection", "09:00", 60),
    ]
    sp.cite, sp.mention = ["sleep"], [["7 h 10", "7h10", "7 hours 10", "7 hours and 10"]]
    s.append(sp)
    return s


def _calendar_denied_and_focus() -> list[Spec]:
    s = []
    sp = Spec(
        "saopaulo-vacation-calendar-denied",
        "America/Sao_Paulo",
        "2026-02-07 15:00",
        "On vacation without calendar consent: reading is all that is left.",
        consents=(T, H, R),
        context="vacation",
    )
    sp.signals = [
        task(sp.now, 1, "Answer the tax office", due=-1, priority=1),
        event(sp.now, 1, "Beach volleyball", "17:00", 90),
        article(sp.now, 1, "The economics of vacations", 12),
    ]
    sp.cite, sp.mention = ["reading_list"], [["economics of vacations", "12 min", "12-minute"]]
    s.append(sp)

    sp = Spec(
        "paris-focus-context-deep-work",
        "Europe/Paris",
        "2026-12-03 09:10",
        "A focus context (it silences no agent) with a migration plan due today.",
        consents=(T, C),
        context="focus",
    )
    sp.signals = [
        task(sp.now, 1, "Write the migration plan", due=0, at="16:00", priority=1),
        event(sp.now, 1, "Ops sync", "13:30", 30),
    ]
    sp.mention = [["migration plan", "16:00", "4 pm"]]
    s.append(sp)
    return s
