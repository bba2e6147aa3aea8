"""Scenarios for the tasks agent: deadlines, backlogs, done or undated tasks, bad data."""

from __future__ import annotations

from ml.evaluation.scenario_kit import (
    C,
    H,
    R,
    Spec,
    T,
    all_day,
    clock_time,
    event,
    habit,
    task,
)


def specs() -> list[Spec]:
    """This theme's scenarios, in file order."""
    return [
        *_deadlines_and_backlog(),
        *_done_undated_weekend_night(),
        *_ranking_and_bad_data(),
    ]


def _deadlines_and_backlog() -> list[Spec]:
    s = []
    sp = Spec(
        "newyork-due-today-deadline",
        "America/New_York",
        "2026-04-22 14:10",
        "A grant report due at 17:00 today.",
        consents=(T,),
    )
    sp.signals = [
        task(sp.now, 1, "Submit the grant report", due=0, at="17:00", priority=1),
        task(sp.now, 2, "Email the landlord", due=1),
    ]
    sp.cite, sp.mention = ["tasks"], [["grant report", "17:00", "5 pm", "5pm"]]
    s.append(sp)

    sp = Spec(
        "tokyo-due-tomorrow-evening",
        "Asia/Tokyo",
        "2026-09-17 20:30",
        "Evening; slides are due tomorrow morning.",
        consents=(T, R),
    )
    sp.signals = [
        task(sp.now, 1, "Prepare slides for Kaito", due=1, at="10:00", priority=2),
        task(sp.now, 2, "Order printer ink", due=2),
    ]
    sp.cite, sp.mention = ["tasks"], [["slides", "Kaito"]]
    s.append(sp)

    sp = Spec(
        "sydney-many-tasks-monday",
        "Australia/Sydney",
        "2026-10-05 08:05",
        "Monday morning with seven open tasks, more than the agent lists.",
        consents=(T,),
    )
    titles = [
        "Lodge the BAS statement",
        "Call the accountant",
        "Reply to Priya",
        "Update the roadmap",
        "Fix the login bug",
        "Plan the team offsite",
        "Order new chairs",
    ]
    sp.signals = [
        task(sp.now, n, t, due=d, priority=p)
        for n, (t, d, p) in enumerate(
            zip(titles, [-3, -1, 0, 0, 1, 2, 3], [1, 2, 2, 3, 1, 4, 4], strict=True), start=1
        )
    ]
    sp.cite, sp.mention = ["tasks"], [["BAS statement", "BAS"]]
    s.append(sp)
    return s


def _done_undated_weekend_night() -> list[Spec]:
    s = []
    sp = Spec(
        "london-tasks-all-done",
        "Europe/London",
        "2026-05-08 17:30",
        "Every task is done: nothing is left for the tasks agent to say.",
        consents=(T,),
    )
    sp.signals = [
        task(sp.now, 1, "Book the dentist", due=0, done=True),
        task(sp.now, 2, "Send the slides to Tom", due=-1, done=True),
    ]
    sp.not_contain = ["Book the dentist"]
    s.append(sp)

    sp = Spec(
        "paris-weekend-no-due-date",
        "Europe/Paris",
        "2026-11-21 10:00",
        "Saturday: a task without a due date and a weekend away in the calendar.",
        consents=(T, C),
    )
    sp.signals = [
        task(sp.now, 1, "Someday: learn Rust", due=None),
        all_day(sp.now, 1, "Weekend in Normandy", days=2),
    ]
    sp.cite, sp.mention = ["calendar"], [["Normandy"]]
    sp.not_contain = ["learn Rust"]
    s.append(sp)

    sp = Spec(
        "berlin-weekend-birthday-gift",
        "Europe/Berlin",
        "2026-06-13 10:20",
        "Saturday morning: a gift to buy today and a running streak.",
        consents=(T, H),
    )
    sp.signals = [
        task(sp.now, 1, "Buy a birthday gift for Ana", due=0, priority=2),
        *habit(sp.now, "Run", range(1, 5)),
    ]
    sp.mention = [["gift", "Ana", "Run"]]
    s.append(sp)

    sp = Spec(
        "losangeles-night-owl-tasks",
        "America/Los_Angeles",
        "2026-03-10 02:30",
        "Still up at 02:30 with a pitch deck due at 11:00.",
        consents=(T,),
    )
    sp.signals = [task(sp.now, 1, "Finish the pitch deck", due=0, at="11:00", priority=1)]
    sp.cite, sp.mention = ["tasks"], [["pitch deck", "11:00"]]
    s.append(sp)
    return s


def _ranking_and_bad_data() -> list[Spec]:
    s = []
    sp = Spec(
        "singapore-overdue-before-priority",
        "Asia/Singapore",
        "2026-07-01 09:05",
        "A low-priority overdue chore ranks before a high-priority task due at noon.",
        consents=(T,),
    )
    sp.signals = [
        task(sp.now, 1, "Clean the desk", due=-1, priority=4),
        task(sp.now, 2, "Approve the payroll run", due=0, at="12:00", priority=1),
    ]
    sp.cite, sp.mention = ["tasks"], [["desk", "payroll"]]
    s.append(sp)

    sp = Spec(
        "nairobi-task-due-within-the-hour",
        "Africa/Nairobi",
        "2026-12-03 15:10",
        "Board minutes due at 16:00, a follow-up meeting right after.",
        consents=(T, C),
    )
    sp.signals = [
        task(sp.now, 1, "Send the board minutes", due=0, at="16:00", priority=1),
        event(sp.now, 1, "Board follow-up", "16:30", 30),
    ]
    sp.cite, sp.mention = ["tasks"], [["board minutes", "16:00", "4 pm", "4pm"]]
    s.append(sp)

    sp = Spec(
        "auckland-malformed-signals",
        "Pacific/Auckland",
        "2026-08-30 09:30",
        "Sunday; a task without a title and an event ending before it starts are skipped.",
        consents=(T, C),
    )
    sp.signals = [
        task(sp.now, 1, None, due=0),
        task(sp.now, 2, "Call Grandma", due=0, priority=2),
        {
            **event(sp.now, 1, "Broken event", "12:00", 30),
            "payload": {
                "title": "Broken event",
                "start": clock_time(sp.now, "12:00").isoformat(),
                "end": clock_time(sp.now, "11:00").isoformat(),
            },
        },
    ]
    sp.cite, sp.mention = ["tasks"], [["Grandma"]]
    sp.not_contain = ["Broken event"]
    s.append(sp)
    return s
