"""Scenarios for the calendar and focus agents: meetings, free time, working hours."""

from __future__ import annotations

from ml.evaluation.scenario_kit import (
    C,
    H,
    Spec,
    T,
    all_day,
    event,
)


def specs() -> list[Spec]:
    """This theme's scenarios, in file order."""
    return [
        *_todays_meetings(),
        *_all_day_and_tomorrow(),
        *_preferences_and_weekend(),
    ]


def _todays_meetings() -> list[Spec]:
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
    return s


def _all_day_and_tomorrow() -> list[Spec]:
    s = []
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
    return s


def _preferences_and_weekend() -> list[Spec]:
    s = []
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
