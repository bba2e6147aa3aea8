"""The smoke set: the first ten scenarios, the ones the integration test runs.

They include a user without consents and users whose context silences agents.
"""

from __future__ import annotations

from ml.evaluation.scenario_kit import (
    C,
    H,
    R,
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
        *_tasks_vacation_no_consent(),
        *_sleep_calendar_habits_reading(),
        *_denied_or_silenced(),
    ]


def _tasks_vacation_no_consent() -> list[Spec]:
    """Tasks before work, a vacation, and no consent at all."""
    s = []
    sp = Spec(
        "paris-overdue-invoice",
        "Europe/Paris",
        "2026-03-10 08:40",
        "An overdue invoice and a pull request due today, before work.",
    )
    sp.signals = [
        task(sp.now, 1, "Send the Q3 invoice", due=-2, priority=1),
        task(sp.now, 2, "Review Marc's pull request", due=0, priority=2),
    ]
    sp.cite, sp.mention = ["tasks"], [["Q3 invoice", "invoice"]]
    s.append(sp)

    sp = Spec(
        "newyork-vacation-silences-work",
        "America/New_York",
        "2026-07-01 10:15",
        "On vacation: work tasks and meetings are silenced, a guitar streak is not.",
        context="vacation",
    )
    sp.signals = [
        task(sp.now, 1, "File the expense report", due=-1, priority=1),
        event(sp.now, 1, "Budget sync", "14:00", 60),
        *habit(sp.now, "Practice guitar", range(1, 6)),
    ]
    sp.cite, sp.mention = ["habits"], [["guitar"]]
    s.append(sp)

    sp = Spec(
        "tokyo-no-consent-feedback-only",
        "Asia/Tokyo",
        "2026-04-22 19:30",
        "No consent granted: only the history of reactions to earlier tips may be used.",
        consents=(),
    )
    sp.signals = [
        task(sp.now, 1, "Submit visa application", due=0, priority=1),
        article(sp.now, 1, "Ten hikes near Kyoto", 8),
        feedback(sp.now, 1, "done", "Take a 10-minute walk after lunch.", ["habits"], hours_ago=20),
        feedback(
            sp.now, 2, "dismiss", "Read one saved article tonight.", ["reading_list"], hours_ago=3
        ),
    ]
    sp.cite, sp.mention = ["feedback_history"], [["walk", "article"]]
    s.append(sp)
    return s


def _sleep_calendar_habits_reading() -> list[Spec]:
    """One agent speaks in each: sleep, calendar, habits, reading."""
    s = []
    sp = Spec(
        "sydney-sleep-context-night",
        "Australia/Sydney",
        "2026-06-13 23:20",
        "Late on a Saturday with the sleep context on: only sleep may speak.",
        context="sleep",
    )
    sp.signals = [
        task(sp.now, 1, "Pay the electricity bill", due=1),
        event(sp.now, 1, "Brunch with Mia", "10:30", 90, days=1),
        *sleep(sp.now, "01:10", "06:45"),
    ]
    sp.cite, sp.mention = ["sleep"], [["5 h 35", "5h35", "5 hours 35", "5 hours and 35"]]
    s.append(sp)

    sp = Spec(
        "london-calendar-next-meeting",
        "Europe/London",
        "2026-10-05 09:50",
        "Monday morning, a design review in 40 minutes.",
        consents=(C,),
    )
    sp.signals = [
        event(sp.now, 1, "Design review", "10:30", 60),
        event(sp.now, 2, "1:1 with Sam", "15:00", 30),
    ]
    sp.cite, sp.mention = ["calendar"], [["Design review", "10:30"]]
    s.append(sp)

    sp = Spec(
        "berlin-habit-streak-evening",
        "Europe/Berlin",
        "2026-05-08 19:30",
        "Friday evening: a six-day meditation streak breaks tonight without a check-in.",
        consents=(H, R),
    )
    sp.signals = [*habit(sp.now, "Meditate", range(1, 7)), *habit(sp.now, "Stretch", range(0, 4))]
    sp.cite, sp.mention = ["habits"], [["Meditate", "meditation"]]
    s.append(sp)

    sp = Spec(
        "saopaulo-reading-break",
        "America/Sao_Paulo",
        "2026-09-17 15:20",
        "Mid-afternoon with a six-minute article waiting.",
        consents=(R,),
    )
    sp.signals = [
        article(sp.now, 1, "The case for single-tasking", 6),
        article(sp.now, 2, "A field guide to technical debt", 25),
        article(sp.now, 3, "How to run better meetings", 9, read=True),
    ]
    sp.cite, sp.mention = ["reading_list"], [["single-tasking", "6 min", "6-minute"]]
    s.append(sp)
    return s


def _denied_or_silenced() -> list[Spec]:
    """Consents withheld or a sleep context: what they exclude must stay out of the tip."""
    s = []
    sp = Spec(
        "chicago-no-consents-none-eligible",
        "America/Chicago",
        "2026-12-03 11:00",
        "Plenty of data but no consent and no tip history: no agent may speak.",
        consents=(),
    )
    sp.signals = [
        task(sp.now, 1, "Renew the car insurance", due=0, priority=1),
        event(sp.now, 1, "Dentist appointment", "15:00", 45),
        *sleep(sp.now, "23:10", "06:20"),
    ]
    s.append(sp)

    sp = Spec(
        "kolkata-tasks-calendar-denied",
        "Asia/Kolkata",
        "2026-01-19 10:05",
        "Tasks allowed, calendar not: the client call must stay out of the tip.",
        consents=(T, H),
    )
    sp.signals = [
        task(sp.now, 1, "Renew passport", due=0, at="17:00", priority=1),
        event(sp.now, 1, "Client call with Ravi", "11:00", 30),
    ]
    sp.cite, sp.mention = ["tasks"], [["passport"]]
    s.append(sp)

    sp = Spec(
        "auckland-sleep-context-silenced-all",
        "Pacific/Auckland",
        "2026-03-14 22:45",
        "Sleep context and no health consent: every agent with data is silenced or excluded.",
        consents=(T, C, H, R),
        context="sleep",
    )
    sp.signals = [
        task(sp.now, 1, "Book the ferry tickets", due=1),
        *habit(sp.now, "Journal", range(1, 5)),
        article(sp.now, 1, "Slow mornings, better days", 7),
        *sleep(sp.now, "23:30", "06:50"),
    ]
    s.append(sp)
    return s
