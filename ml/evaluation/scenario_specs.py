"""The evaluation scenarios, written in each user's local time (see ``generate``)."""

from __future__ import annotations

from ml.evaluation.scenario_kit import (
    ALL,
    C,
    H,
    Persona,
    R,
    S,
    Spec,
    T,
    all_day,
    article,
    clock_time,
    event,
    everything,
    feedback,
    habit,
    signal,
    sleep,
    task,
)


def specs() -> list[Spec]:
    """Every scenario, in file order. The first ten are the smoke set the integration test
    runs: they include a user without consents and users whose context silences agents."""
    return [
        *_smoke(),
        *_tasks(),
        *_calendar(),
        *_habits_sleep_reading(),
        *_contexts(),
        *_consents(),
        *_mixed(),
    ]


def _smoke() -> list[Spec]:
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


def _tasks() -> list[Spec]:
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


def _calendar() -> list[Spec]:
    s = []
    sp = Spec(
        "paris-in-meeting-now",
        "Europe/Paris",
        "2026-04-22 14:20",
        "In the quarterly planning until 15:00, coffee with Léa later.",
        consents=(C,),
    )
    sp.signals = [
        event(sp.now, 1, "Quarterly planning", "14:00", 60),
        event(sp.now, 2, "Coffee with Léa", "16:00", 30),
    ]
    sp.cite, sp.mention = ["calendar"], [["Quarterly planning", "15:00", "Léa"]]
    s.append(sp)

    sp = Spec(
        "newyork-free-afternoon",
        "America/New_York",
        "2026-10-05 13:05",
        "A free afternoon until a vendor call at 17:00.",
        consents=(C,),
    )
    sp.signals = [
        event(sp.now, 1, "Team stand-up", "09:30", 15),
        event(sp.now, 2, "Vendor call", "17:00", 30),
    ]
    sp.mention = [["Vendor call", "17:00", "5 pm", "5pm"]]
    s.append(sp)

    sp = Spec(
        "london-packed-day",
        "Europe/London",
        "2026-09-17 09:05",
        "Back-to-back meetings all day: no free slot, no deep-work window.",
        consents=(C,),
    )
    names = [
        "Sprint review",
        "Hiring panel",
        "Vendor negotiation",
        "Lunch with the CFO",
        "Roadmap workshop",
        "Security audit",
        "Partner call",
        "Retro",
        "Wrap-up",
    ]
    sp.signals = [
        event(sp.now, n, name, f"{8 + n:02d}:00", 60) for n, name in enumerate(names, start=1)
    ]
    sp.cite, sp.mention = ["calendar"], [["Sprint review", "Hiring panel", "10:00"]]
    s.append(sp)

    sp = Spec(
        "tokyo-all-day-offsite",
        "Asia/Tokyo",
        "2026-05-08 08:30",
        "An all-day offsite and a team dinner tonight.",
        consents=(C, T),
    )
    sp.signals = [
        all_day(sp.now, 1, "Offsite in Hakone"),
        event(sp.now, 2, "Team dinner", "19:00", 120),
    ]
    sp.cite, sp.mention = ["calendar"], [["Hakone", "Team dinner", "19:00"]]
    s.append(sp)

    sp = Spec(
        "sydney-evening-tomorrow-breakfast",
        "Australia/Sydney",
        "2026-04-22 21:00",
        "Evening; an investor breakfast first thing tomorrow.",
        consents=(C,),
    )
    sp.signals = [event(sp.now, 1, "Investor breakfast", "08:30", 60, days=1)]
    sp.cite, sp.mention = ["calendar"], [["Investor breakfast", "08:30", "8:30"]]
    s.append(sp)

    sp = Spec(
        "chicago-early-shift-hours",
        "America/Chicago",
        "2026-03-10 07:15",
        "Working hours 07:00-15:30 and 60-minute focus blocks before a walkthrough.",
        consents=(C,),
        preferences={"work_start": "07:00", "work_end": "15:30", "focus_minutes": 60},
    )
    sp.signals = [
        event(sp.now, 1, "Plant walkthrough", "09:00", 60),
        event(sp.now, 2, "Safety briefing", "12:00", 30),
    ]
    sp.mention = [["Plant walkthrough", "09:00", "9:00", "9 am"]]
    s.append(sp)

    sp = Spec(
        "berlin-focus-morning-window",
        "Europe/Berlin",
        "2026-01-19 08:45",
        "Monday: a two-hour deep-work window before the 11:00 stand-up.",
        consents=(C,),
        preferences={"focus_minutes": 120},
    )
    sp.signals = [
        event(sp.now, 1, "Stand-up", "11:00", 30),
        event(sp.now, 2, "Architecture sync", "14:00", 60),
    ]
    sp.mention = [["09:00", "9:00", "11:00", "Stand-up", "2 h", "two hours"]]
    s.append(sp)

    sp = Spec(
        "losangeles-weekend-free",
        "America/Los_Angeles",
        "2026-02-07 10:40",
        "A Saturday with only a farmers' market on the calendar.",
        consents=(C, H),
    )
    sp.signals = [event(sp.now, 1, "Farmers' market", "12:00", 60)]
    sp.mention = [["Farmers' market", "12:00", "noon"]]
    s.append(sp)
    return s


def _habits_sleep_reading() -> list[Spec]:
    s = []
    sp = Spec(
        "newyork-two-habits-at-risk",
        "America/New_York",
        "2026-11-21 18:40",
        "Saturday evening: a nine-day reading streak and a journaling streak at risk.",
        consents=(H,),
    )
    sp.signals = [
        *habit(sp.now, "Read 20 pages", range(1, 10)),
        *habit(sp.now, "Journal", range(1, 5)),
    ]
    sp.cite, sp.mention = ["habits"], [["Read 20 pages", "9-day", "9 days", "nine"]]
    s.append(sp)

    sp = Spec(
        "london-habit-done-today",
        "Europe/London",
        "2026-03-15 20:00",
        "Sunday evening, the stretch habit already checked in today: nothing at risk.",
        consents=(H,),
    )
    sp.signals = habit(sp.now, "Stretch", range(0, 6))
    s.append(sp)

    sp = Spec(
        "tokyo-short-streak",
        "Asia/Tokyo",
        "2026-10-05 21:00",
        "A two-day kanji streak is too short to mention; a bank call is due today.",
        consents=(H, T),
    )
    sp.signals = [
        *habit(sp.now, "Practice kanji", range(1, 3)),
        task(sp.now, 1, "Call the bank", due=0, priority=2),
    ]
    sp.cite, sp.mention = ["tasks"], [["bank"]]
    sp.not_contain = ["kanji"]
    s.append(sp)

    sp = Spec(
        "sydney-swim-streak-rested",
        "Australia/Sydney",
        "2026-01-19 06:50",
        "Early Monday after a full night: a twelve-day swimming streak to keep.",
        consents=(H, S),
    )
    sp.signals = [*habit(sp.now, "Swim", range(1, 13)), *sleep(sp.now, "22:30", "06:15")]
    sp.mention = [["Swim", "12-day", "12 days", "twelve"]]
    s.append(sp)

    sp = Spec(
        "paris-short-night-morning",
        "Europe/Paris",
        "2026-09-17 07:30",
        "A short night before a working day.",
        consents=(S,),
    )
    sp.signals = sleep(sp.now, "00:50", "06:30")
    sp.cite, sp.mention = ["sleep"], [["5 h 40", "5h40", "5 hours 40", "5 hours and 40"]]
    s.append(sp)

    sp = Spec(
        "newyork-good-night",
        "America/New_York",
        "2026-05-08 08:00",
        "A full night against a seven-hour target.",
        consents=(S,),
        preferences={"sleep_target_hours": 7},
    )
    sp.signals = sleep(sp.now, "22:45", "06:30")
    sp.cite, sp.mention = ["sleep"], [["7 h 45", "7h45", "7 hours 45", "7 hours and 45"]]
    s.append(sp)

    sp = Spec(
        "newyork-dst-short-night",
        "America/New_York",
        "2026-03-08 08:15",
        "The night clocks sprang forward: 23:30 to 06:30 on the wall is six hours.",
        consents=(S,),
    )
    sp.signals = sleep(sp.now, "23:30", "06:30")
    sp.cite, sp.mention = ["sleep"], [["6 h", "6 hours", "six hours"]]
    s.append(sp)

    sp = Spec(
        "berlin-everything-read",
        "Europe/Berlin",
        "2026-07-01 07:45",
        "No sleep logs and every saved article read: nothing to say.",
        consents=(S, R),
    )
    sp.signals = [
        article(sp.now, 1, "Notes on remote work", 7, read=True),
        article(sp.now, 2, "The joy of boring technology", 11, read=True),
    ]
    sp.not_contain = ["remote work", "boring technology"]
    s.append(sp)

    sp = Spec(
        "kolkata-nap-is-not-a-night",
        "Asia/Kolkata",
        "2026-04-22 16:00",
        "An afternoon nap does not count as last night's sleep.",
        consents=(S,),
    )
    sp.signals = [
        *sleep(sp.now, "23:00", "06:00"),
        signal(
            "sleep_log",
            "nap-1",
            {
                "start": clock_time(sp.now, "13:30").isoformat(),
                "end": clock_time(sp.now, "14:10").isoformat(),
            },
            clock_time(sp.now, "14:10"),
        ),
    ]
    sp.cite, sp.mention = ["sleep"], [["7 h", "7 hours", "seven hours"]]
    s.append(sp)

    sp = Spec(
        "london-long-articles-only",
        "Europe/London",
        "2026-11-21 11:30",
        "Saturday; only long articles are saved.",
        consents=(R,),
    )
    sp.signals = [
        article(sp.now, 1, "A history of the metric system", 25),
        article(sp.now, 2, "The architecture of open source", 40),
    ]
    sp.cite, sp.mention = ["reading_list"], [["metric system", "25 min", "25-minute"]]
    s.append(sp)

    sp = Spec(
        "singapore-lunch-reading",
        "Asia/Singapore",
        "2026-03-10 12:40",
        "Lunch break: a five-minute article, and a task due in two days.",
        consents=(R, T),
    )
    sp.signals = [
        article(sp.now, 1, "Why naps work", 5),
        task(sp.now, 1, "Draft the quarterly newsletter", due=2),
    ]
    sp.mention = [["Why naps work", "naps", "newsletter"]]
    s.append(sp)

    sp = Spec(
        "losangeles-single-article",
        "America/Los_Angeles",
        "2026-06-13 19:10",
        "An evening with one saved article and nothing else.",
    )
    sp.signals = [article(sp.now, 1, "Ten hikes near the coast", 5)]
    sp.cite, sp.mention = ["reading_list"], [["hikes", "5-minute", "5 min"]]
    s.append(sp)
    return s


def _contexts() -> list[Spec]:
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


def _consents() -> list[Spec]:
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


_PERSONAS = [
    (
        "paris-full-persona-saturday",
        "Europe/Paris",
        "2026-11-21 09:30",
        None,
        "Saturday morning with every agent having something to say.",
        Persona(
            ("Send the Q3 invoice", "Review Marc's pull request", "Book train to Lyon"),
            ("Design review", "1:1 with Sam"),
            "Meditate",
            ("How to run better meetings", 6),
            "Block 30 minutes this morning to clear your inbox.",
        ),
    ),
    (
        "newyork-full-persona-evening",
        "America/New_York",
        "2026-10-05 19:45",
        None,
        "Monday evening, every agent has data.",
        Persona(
            ("File the expense report", "Call the plumber", "Buy a birthday gift"),
            ("Book club", "Call with Mom"),
            "Practice guitar",
            ("Slow mornings, better days", 14),
            "Call the plumber before 17:00.",
        ),
    ),
    (
        "tokyo-full-persona-weekend",
        "Asia/Tokyo",
        "2026-06-13 11:00",
        None,
        "Saturday late morning with a full set of signals.",
        Persona(
            ("Return the library books", "Buy rice", "Fix the bike brakes"),
            ("Lunch with Haruto", "Calligraphy class"),
            "Practice shamisen",
            ("The quiet art of tea", 7),
            "Tidy the balcony for 10 minutes.",
        ),
    ),
    (
        "sydney-full-persona-insomnia",
        "Australia/Sydney",
        "2026-03-14 01:30",
        None,
        "Awake at 01:30 with no context set: the tip should suit the hour.",
        Persona(
            ("Submit the rental application", "Renew the car registration", "Email the strata"),
            ("Surf lesson", "Markets with Jess"),
            "Yoga",
            ("Why we wake at night", 8),
            "Put the phone away by 22:00.",
        ),
    ),
    (
        "london-full-persona-lunch",
        "Europe/London",
        "2026-09-17 12:30",
        None,
        "Thursday lunch time with a full day around it.",
        Persona(
            ("Send the pension form", "Reply to the recruiter", "Book the MOT"),
            ("Client workshop", "Team retro"),
            "Read 20 pages",
            ("Lunchtime walks, measured", 5),
            "Take a 10-minute walk after lunch.",
        ),
    ),
    (
        "kolkata-full-persona-vacation",
        "Asia/Kolkata",
        "2026-12-03 10:30",
        "vacation",
        "On vacation with a full set of signals: work is silenced.",
        Persona(
            ("Approve the vendor invoices", "Update the sales forecast", "Call the auditor"),
            ("Quarterly review", "Hiring sync"),
            "Sitar practice",
            ("Slow travel in Kerala", 9),
            "Plan one quiet morning this week.",
        ),
    ),
    (
        "berlin-full-persona-focus-context",
        "Europe/Berlin",
        "2026-03-10 10:10",
        "focus",
        "A focus context that silences nothing, every agent with data.",
        Persona(
            ("Send the grant report", "Review the thesis chapter", "Order lab supplies"),
            ("Lab meeting", "Seminar"),
            "Cycle to work",
            ("Notes on deep work", 10),
            "Close email for an hour.",
        ),
    ),
    (
        "saopaulo-full-persona-no-health",
        "America/Sao_Paulo",
        "2026-05-08 08:10",
        None,
        "A full day, but sleep logs without health consent.",
        Persona(
            ("Pay the condo fee", "Send the quote to Bruno", "Renew the visa"),
            ("Stand-up", "Client visit"),
            "Portuguese lessons",
            ("The art of the short break", 6),
            "Drink a glass of water first thing.",
        ),
    ),
]


def _mixed() -> list[Spec]:
    s = []
    for spec_id, zone, local, context, description, persona in _PERSONAS:
        consents = tuple(k for k in ALL if k != S) if "no-health" in spec_id else ALL
        sp = Spec(spec_id, zone, local, description, consents=consents, context=context)
        sp.signals = everything(sp.now, persona)
        silenced = context == "vacation"
        facts: list[str] = [persona.habit, persona.article[0]]
        if not silenced:
            facts = [persona.tasks[0], persona.meetings[0], *facts]
        sp.mention = [facts]
        s.append(sp)
    return s
