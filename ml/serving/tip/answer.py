"""What the LLM must answer, as a JSON schema built per request, and its validation.

A small model follows the schema but not always the sense: it may cite agents its tip
does not use, loop on a phrase, or carry on a list of times it made up. Validation keeps
only citations the tip is grounded in (it shares a content word with the cited snippet),
rejects tips that are not grounded at all, and rejects tips with a time or number the
model was never given, so every served tip can be explained by what it was shown.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml.serving.tip.facts import extract_facts, fact_sentence

# Bounds measured on the embedded 135M model: longer limits only buy rambling and
# answers cut off by max_tokens.
TIP_MIN, TIP_MAX = 10, 140
# What the schema asks for is longer than what validation accepts: held to 24 characters,
# the embedded model writes a sentence where it wrote a two-word label, and the share of
# its answers accepted on the evaluation set rose from 55% to 64%. A model that ignores
# the schema may still answer with a short real tip ("Send the Q3 invoice").
TIP_MIN_ASKED = 24
RATIONALE_MAX = 100
MAX_CITED = 2
_FACT_KINDS = "(a title, time, duration or count)"
# The `tip` answer's text as a grammar: one sentence that starts with a capital and ends
# at its first full stop, so a small model cannot run on into a list of made-up times.
# No double quote or backslash: a constrained decoder writes the pattern raw, unescaped.
# Validation below is the same for both shapes; this only shapes what is asked.
TIP_SENTENCE = r'^[A-Z][^".;!?\\]{20,120}[.!]$'
# Three words is the shortest tip seen to carry a fact ("Send the invoice"); fewer is a label.
MIN_WORDS = 3
_LABEL = re.compile(r"^(?:tip|answer)\s*\d*\s*[:.-]\s*", re.IGNORECASE)

# Words addressed to a model, not to a person: a tip carrying them is an injected
# instruction copied out of a snippet (a task titled "ignore previous instructions…").
_ADDRESSED_TO_MODEL = re.compile(
    r"\b(?:system prompt|(?:previous|prior|above) instructions|ignore (?:all|any|the|your)"
    r"|disregard (?:all|any|the|your)|you are now|debug mode|developer mode|jailbreak"
    r"|as an ai|language model)\b",
    re.IGNORECASE,
)
# Words of the prompt's instructions, not of anyone's day: a tip using one the snippets do
# not is echoing its instructions ("tip_1: one imperative sentence, naming a concrete fact").
_INSTRUCTION_WORDS = re.compile(
    r"\b(?:json|snippets?|rationale|imperative sentence|concrete fact|prompt)\b", re.IGNORECASE
)
# A number glued after a letter is part of a name ("Q3", "P1", "a8b4"), not a quantity.
_CLOCK_TIME = re.compile(r"(?<![\w.:])(\d{1,2})[:.](\d{2})(?![\d:])")
_NUMBER = re.compile(r"(?<!\w)\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"\d{1,2}:\d{2}|[^\W_]{4,}")
_STOPWORDS = frozenset(
    """about after again also because before being could each from have into just last
    least more most next only other over same should some such than that their them
    then there these they this those today tonight under until very were what when
    which while will with would your yours minutes minute hours hour time""".split()  # noqa: SIM905
)


class InvalidAnswer(ValueError):
    """The model answered, but not with a tip we may serve."""


@dataclass(frozen=True, slots=True)
class Answer:
    tip: str
    agents: tuple[str, ...]
    rationale: str
    cited_by_model: tuple[str, ...] = ()
    items_named: tuple[str, ...] = ()
    """The item refs the model said it used (checked against the tip's text later)."""


def answer_schema(
    eligible: Sequence[str],
    item_refs: Sequence[str] = (),
    *,
    shape: str = "full",
    facts: Sequence[str] = (),
) -> dict[str, Any]:
    """Bound every field so that even a tiny model cannot ramble or invent an agent or an
    item; naming the items is optional. The ``tip`` shape asks for one sentence only, one
    that names one of ``facts`` when there are any."""
    if shape == "tip":
        pattern = fact_sentence(facts) or TIP_SENTENCE
        return {
            "type": "object",
            "properties": {"tip": {"type": "string", "pattern": pattern}},
            "required": ["tip"],
            "additionalProperties": False,
        }
    items: dict[str, Any] = {}
    if item_refs:
        items["items"] = {
            "type": "array",
            "items": {"type": "string", "enum": list(dict.fromkeys(item_refs))},
            "maxItems": 3,
        }
    return {
        "type": "object",
        "properties": {
            "tip": {"type": "string", "minLength": TIP_MIN_ASKED, "maxLength": TIP_MAX},
            "agents": {
                "type": "array",
                "items": {"type": "string", "enum": list(eligible)},
                "minItems": 1,
                "maxItems": min(MAX_CITED, len(eligible)),
            },
            "rationale": {"type": "string", "minLength": 1, "maxLength": RATIONALE_MAX},
            **items,
        },
        "required": ["tip", "agents", "rationale"],
        "additionalProperties": False,
    }


def content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS}


def is_degenerate(text: str) -> bool:
    """True when a phrase keeps repeating: the mark of a model stuck in a loop."""
    words = text.lower().split()
    trigrams = Counter(zip(words, words[1:], words[2:], strict=False))
    return bool(trigrams) and trigrams.most_common(1)[0][1] >= 3


def _instruction_words(text: str) -> set[str]:
    return {w.lower() for w in _INSTRUCTION_WORDS.findall(text)}


def _times_and_numbers(text: str) -> tuple[set[tuple[int, int]], set[float]]:
    """The clock times (hour, minute) in ``text``, and every other number in it."""
    times = {(int(h), int(m)) for h, m in _CLOCK_TIME.findall(text)}
    rest = _CLOCK_TIME.sub(" ", text)
    return times, {float(n.replace(",", "")) for n in _NUMBER.findall(rest)}


def invented_numbers(tip: str, source: str) -> list[str]:
    """Times and numbers in ``tip`` that ``source`` (what the model was shown) lacks.

    "09:00" and "9:00" are one time; a number may also be the hour or minute of a time
    ("meet at 9" after "09:00"). "24:30" never is: the model made it up.
    """
    tip_times, tip_numbers = _times_and_numbers(tip)
    known_times, known_numbers = _times_and_numbers(source)
    known_numbers |= {float(part) for t in known_times for part in t}
    invented = [f"{h}:{m:02d}" for h, m in sorted(tip_times - known_times)]
    invented += [f"{n:g}" for n in sorted(tip_numbers - known_numbers)]
    return invented


def _whole_words(text: str, limit: int) -> str:
    """Drop a word the schema's maxLength cut in half."""
    if len(text) < limit or " " not in text:
        return text
    return text.rsplit(" ", 1)[0].rstrip(",;:-")


def parse_answer(
    content: str,
    snippets: Mapping[str, str],
    *,
    forbidden: Sequence[str] = (),
    shown: str | None = None,
    shape: str = "full",
) -> Answer:
    """Check the model's JSON against the eligible ``snippets`` (agent id → text).

    ``shown`` is the text the model was given (default: the snippets); a time or number
    in the tip must come from it. A ``full`` answer cites agents, kept only where the tip
    shares a content word with their snippet; a ``tip`` answer cites the snippets it shares
    the most content words with, and its rationale is left for the caller to compose.
    """
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InvalidAnswer(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidAnswer("not a JSON object")
    tip = data.get("tip")
    if not isinstance(tip, str):
        raise InvalidAnswer("tip must be a string")
    tip = _whole_words(_LABEL.sub("", " ".join(tip.split())), TIP_MAX)  # "Tip 1: Send…" → "Send…"
    if shape == "tip":
        _check_tip(tip, snippets, forbidden, shown)
        grounded = _best_grounded(tip, snippets)
        if not grounded:
            raise InvalidAnswer(f"tip names no fact of any snippet {_FACT_KINDS}")
        return Answer(tip, grounded, "", cited_by_model=())
    cited, rationale = _cited(data, snippets)
    _check_tip(tip, snippets, forbidden, shown)
    grounded = _best_grounded(tip, {a: snippets[a] for a in cited}, keep_order=True)
    if not grounded:
        raise InvalidAnswer(f"tip names no fact of the snippets it cites {_FACT_KINDS}")
    rationale = _whole_words(" ".join(rationale.split()), RATIONALE_MAX)
    cited_words = set().union(*(content_words(snippets[a]) for a in grounded))
    if not rationale or is_degenerate(rationale) or not content_words(rationale) & cited_words:
        # The tip stands on its own; an invented or looping reason is replaced, not served.
        rationale = "Based on " + ", ".join(grounded) + "."
    return Answer(tip, grounded, rationale, cited_by_model=cited, items_named=_named(data))


def _cited(data: Mapping[str, Any], snippets: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    """The agents a ``full`` answer cites (each one eligible) and its rationale."""
    agents, rationale = data.get("agents"), data.get("rationale")
    if not isinstance(agents, list) or not agents or not all(isinstance(a, str) for a in agents):
        raise InvalidAnswer("agents must be a non-empty list of ids")
    cited = tuple(dict.fromkeys(agents))
    unknown = sorted(set(cited) - set(snippets))
    if unknown:
        raise InvalidAnswer(f"cites agents that were not eligible: {', '.join(unknown)}")
    if len(cited) > MAX_CITED:
        raise InvalidAnswer(f"cites more than {MAX_CITED} agents")
    if not isinstance(rationale, str) or len(rationale) > RATIONALE_MAX:
        raise InvalidAnswer(f"rationale must be a string of at most {RATIONALE_MAX} characters")
    return cited, rationale


def _check_tip(
    tip: str, snippets: Mapping[str, str], forbidden: Sequence[str], shown: str | None
) -> None:
    """The rules every tip meets, whatever the answer's shape (ADR 0004)."""
    if not TIP_MIN <= len(tip) <= TIP_MAX:
        raise InvalidAnswer(f"tip must be {TIP_MIN}-{TIP_MAX} characters")
    lowered = tip.lower()
    for needle in ("<snippet", "</snippet", *forbidden):
        if needle.lower() in lowered:
            raise InvalidAnswer("tip repeats prompt markup or instructions")
    if _ADDRESSED_TO_MODEL.search(tip):
        raise InvalidAnswer("tip speaks to a model, not to the user (an injected instruction?)")
    echoed = _instruction_words(tip) - _instruction_words("\n".join(snippets.values()))
    if echoed:
        raise InvalidAnswer(f"tip echoes its instructions: {', '.join(sorted(echoed))}")
    if is_degenerate(tip):
        raise InvalidAnswer("tip repeats itself")
    if len(tip.split()) < MIN_WORDS:
        raise InvalidAnswer(f"tip has fewer than {MIN_WORDS} words: not an actionable sentence")
    invented = invented_numbers(tip, "\n".join(snippets.values()) if shown is None else shown)
    if invented:
        raise InvalidAnswer(f"tip has times or numbers it was not given: {', '.join(invented)}")


def grounding(tip: str, snippet: str) -> tuple[int, int] | None:
    """How well ``tip`` stands on ``snippet``: (facts it names, content words it shares),
    or None when it does not. A snippet with checkable facts grounds only a tip that names
    one of them; a snippet without any, only a tip that shares a content word with it."""
    facts = extract_facts(snippet)
    named = sum(f.mentioned_in(tip) for f in facts)
    shared = len(content_words(tip) & content_words(snippet))
    if named or (not facts and shared):
        return named, shared
    return None


def _best_grounded(
    tip: str, snippets: Mapping[str, str], *, keep_order: bool = False
) -> tuple[str, ...]:
    """The snippets ``tip`` stands on, most facts named first (ties, or ``keep_order``:
    the order given)."""
    scored = [(grounding(tip, text), i, a) for i, (a, text) in enumerate(snippets.items())]
    found = [(g, i, a) for g, i, a in scored if g is not None]
    if not keep_order:
        found.sort(key=lambda s: (-s[0][0], -s[0][1], s[1]))
    return tuple(a for _, _, a in found[:MAX_CITED])


def composed_rationale(cited: Sequence[str], because: Mapping[str, str | None]) -> str:
    """A ``tip`` answer's rationale, from the cited agents' own reasons."""
    clauses = [because.get(a) or f"{a} reported it" for a in cited]
    return f"Because {' and '.join(clauses)}."


def _named(data: Mapping[str, Any]) -> tuple[str, ...]:
    named = data.get("items")
    return tuple(i for i in named if isinstance(i, str))[:3] if isinstance(named, list) else ()
