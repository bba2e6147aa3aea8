"""Full-day personas: signals for every built-in agent, like the demo users'."""

from __future__ import annotations

from ml.evaluation.scenario_kit import ALL, Persona, S, Spec, everything

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


def specs() -> list[Spec]:
    """This theme's scenarios, in file order."""
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
