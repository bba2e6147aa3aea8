"""Scenarios for the habits, sleep and reading-list agents."""

from __future__ import annotations

from ml.evaluation.scenario_kit import (
    H,
    R,
    S,
    Spec,
    T,
    article,
    clock_time,
    habit,
    signal,
    sleep,
    task,
)


def specs() -> list[Spec]:
    """This theme's scenarios, in file order."""
    return [
        *_habit_streaks(),
        *_last_nights(),
        *_all_read_and_a_nap(),
        *_saved_articles(),
    ]


def _habit_streaks() -> list[Spec]:
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
    return s


def _last_nights() -> list[Spec]:
    s = []
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
    return s


def _all_read_and_a_nap() -> list[Spec]:
    s = []
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
    return s


def _saved_articles() -> list[Spec]:
    s = []
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
