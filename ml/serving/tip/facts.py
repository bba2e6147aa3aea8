"""Checkable facts in a snippet (titles, clock times, durations, counts), and whether a tip
mentions one of them: how validation grounds a tip in a snippet, and how the evaluation
measures grounding.

Agents write facts in a fixed style (``"Send the invoice"``, ``14:00``, ``5 h 40 min``,
``6 days``); a tip may say them differently (``2 pm``, ``5 hours 40 minutes``, ``6-day``),
so every fact carries a pattern accepting the usual spellings, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

FactKind = Literal["title", "clock", "duration", "count"]

_TITLE = re.compile(r'"([^"\n]{2,80})"')
_CLOCK = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?!\d)")
_DURATION = re.compile(r"\b(\d{1,4}) h(?: (\d{1,2}) min)?\b|\b(\d{1,4}) min\b")
_COUNT = re.compile(
    r"\b(\d{1,4})[ -](day|night|task|article|meeting|habit|tip|overdue|unread)s?\b", re.I
)
_WORD = re.compile(r"[^\W_]{4,}")
# Words too common to identify a title on their own.
_COMMON = frozenset(
    [
        "with",
        "from",
        "your",
        "this",
        "that",
        "into",
        "about",
        "have",
        "will",
        "what",
        "when",
        "the",
        "and",
        "for",
    ]
)
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve".split()  # noqa: SIM905
)


# With facts in the snippets, the sentence must name one as the snippet writes it (a title
# may start in either case): the model still writes the sentence, the grammar only keeps
# it from leaving out what makes it checkable. Bounded so that it fits the
# tip's 140 characters.
_FACT_MAX = 38
_OUTSIDE_SENTENCE = frozenset('".;!?\\')
_REGEX_SPECIAL = frozenset("\\^$.|?*+()[]{}")


@dataclass(frozen=True, slots=True)
class Fact:
    kind: FactKind
    label: str
    """The fact as the snippet writes it."""
    pattern: re.Pattern[str]
    """Matches the usual spellings of the fact in a tip."""

    def mentioned_in(self, text: str) -> bool:
        return self.pattern.search(text) is not None


def extract_facts(text: str) -> list[Fact]:
    """The facts of a snippet, in order of appearance, each once."""
    found: list[tuple[int, Fact]] = []
    found += [(m.start(), _title_fact(m.group(1))) for m in _TITLE.finditer(text)]
    found += [(m.start(), _clock_fact(int(m[1]), int(m[2]))) for m in _CLOCK.finditer(text)]
    found += [(m.start(), _duration_fact(m)) for m in _DURATION.finditer(text)]
    found += [(m.start(), _count_fact(m)) for m in _COUNT.finditer(text)]
    unique: dict[tuple[str, str], Fact] = {}
    for _, fact in sorted(found, key=lambda item: item[0]):
        unique.setdefault((fact.kind, fact.label.casefold()), fact)
    return list(unique.values())


def grounded_facts(tip: str, snippets: Iterable[str]) -> list[Fact]:
    """The facts of ``snippets`` that ``tip`` mentions."""
    return [f for text in snippets for f in extract_facts(text) if f.mentioned_in(tip)]


def is_grounded(tip: str, snippets: Iterable[str]) -> bool:
    return bool(grounded_facts(tip, snippets))


def fact_sentence(facts: Sequence[str]) -> str | None:
    """TIP_SENTENCE that names one of ``facts`` as written; None when none can be named
    in one sentence (too long, or holding a character a sentence here cannot)."""
    usable = [
        f
        for f in dict.fromkeys(facts)
        if 2 <= len(f) <= _FACT_MAX and not set(f) & _OUTSIDE_SENTENCE
    ]
    if not usable:
        return None
    alternatives = "|".join(_literal(f) for f in usable)
    words = r'[^".;!?\\]'
    # Either words, a space and the fact, or the sentence opens with the fact; then the rest.
    return (
        rf"^(([A-Z]{words}{{0,50}} ({alternatives}){words}{{0,50}})"
        rf"|(({alternatives}){words}{{4,50}}))[.!]$"
    )


def _literal(fact: str) -> str:
    escaped = "".join("\\" + c if c in _REGEX_SPECIAL else c for c in fact)
    first = fact[0]
    if first.isalpha() and first.lower() != first.upper():
        return f"[{first.upper()}{first.lower()}]{escaped[1:]}"
    return escaped


def _compile(alternatives: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


def _title_fact(title: str) -> Fact:
    words = sorted({w.casefold() for w in _WORD.findall(title)} - _COMMON)
    alternatives = [re.escape(title.strip())]
    if len(words) >= 2:
        # Every telling word of the title, in any order: "the Q3 invoice" for "Send Q3 invoice".
        alternatives.append("^" + "".join(rf"(?=[\s\S]*\b{re.escape(w)}\b)" for w in words))
    return Fact("title", title, _compile(alternatives))


def _clock_fact(hour: int, minute: int) -> Fact:
    label = f"{hour:02d}:{minute:02d}"
    alternatives = [rf"(?<![\d:])0?{hour}:{minute:02d}(?!\d)"]
    twelve = hour % 12 or 12
    suffix = "am" if hour < 12 else "pm"
    minutes = rf"(?::{minute:02d})" + ("?" if minute == 0 else "")
    alternatives.append(rf"(?<![\d:]){twelve}{minutes}\s?{suffix[0]}\.?{suffix[1]}\.?")
    if (hour, minute) == (12, 0):
        alternatives.append(r"\bnoon\b")
    if (hour, minute) == (0, 0):
        alternatives.append(r"\bmidnight\b")
    return Fact("clock", label, _compile(alternatives))


def _duration_fact(match: re.Match[str]) -> Fact:
    if match[3] is not None:
        minutes = int(match[3])
        return Fact(
            "duration",
            match[0],
            _compile([rf"\b{minutes}[ -]?min(?:ute)?s?\b", _spelled(minutes) + r"[ -]minutes?\b"]),
        )
    hours, rest = int(match[1]), int(match[2] or 0)
    if not rest:
        alternatives = [rf"\b{hours}[ -]?h(?:ours?|rs?)?\b", _spelled(hours) + r"[ -]hours?\b"]
    else:
        alternatives = [
            rf"\b{hours}\s?h(?:ours?|rs?)?\s?(?:and\s)?{rest}(?:\s?m(?:in(?:ute)?s?)?)?\b",
        ]
        decimals = {15: "25", 30: "5", 45: "75"}.get(rest)
        if decimals is not None:
            alternatives.append(rf"\b{hours}\.{decimals}\s?h(?:ours?|rs?)?\b")
    return Fact("duration", match[0], _compile(alternatives))


def _count_fact(match: re.Match[str]) -> Fact:
    unit = match[2].lower()
    plural = "" if unit in ("overdue", "unread") else "s?"
    return Fact("count", match[0], _compile([rf"{_spelled(int(match[1]))}[ -]{unit}{plural}\b"]))


def _spelled(number: int) -> str:
    """A number as digits or, up to twelve, as a word."""
    if number < len(_NUMBER_WORDS):
        return rf"\b(?:{number}|{_NUMBER_WORDS[number]})"
    return rf"\b{number}"
