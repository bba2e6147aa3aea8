"""Per-scenario checks of a served tip: expectations met, and consent or context leaks."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ml.evaluation.dataset import Expectation
from ml.evaluation.shadow import Exclusion
from ml.serving.tip.facts import extract_facts


@dataclass(frozen=True, slots=True)
class ExpectationOutcome:
    met: int
    total: int
    missed: tuple[str, ...]
    """One line per unmet expectation, e.g. ``mention "invoice"``."""


def check_expectations(
    expect: Expectation, *, tip: str, cited: Collection[str]
) -> ExpectationOutcome:
    lowered = tip.casefold()
    missed = [f"cite {a}" for a in expect.cite if a not in cited]
    missed += [f"not_cite {a}" for a in expect.not_cite if a in cited]
    missed += [
        "mention " + " | ".join(repr(a) for a in alternatives)
        for alternatives in expect.mention
        if not any(a.casefold() in lowered for a in alternatives)
    ]
    missed += [f"not_contain {t!r}" for t in expect.not_contain if t.casefold() in lowered]
    return ExpectationOutcome(expect.count - len(missed), expect.count, tuple(missed))


@dataclass(frozen=True, slots=True)
class Violations:
    """Excluded agents whose data reached the tip or the prompt, one line per agent."""

    consent: tuple[str, ...] = ()
    context: tuple[str, ...] = ()


def find_violations(
    *,
    excluded: Mapping[str, Exclusion],
    eligible: Collection[str],
    cited: Collection[str],
    prompt: str,
    would_say: Mapping[str, str],
    admitted: Collection[str],
) -> Violations:
    """Look for each excluded agent in the provenance and in what reached the LLM.

    ``would_say`` holds the snippet texts excluded agents would have written; none was
    stored, so finding one (or a title only it quotes) in ``prompt`` is a leak. ``admitted``
    are the texts of the agents allowed in: a title they share is not evidence.
    """
    flat_prompt = _flat(prompt)
    allowed = _flat("\n".join(admitted))
    found: dict[Exclusion, list[str]] = {"consent": [], "context": []}
    for agent_id, reason in sorted(excluded.items()):
        why = _leak(agent_id, eligible, cited, flat_prompt, would_say.get(agent_id), allowed)
        if why is not None:
            found[reason].append(f"{agent_id}: {why}")
    return Violations(tuple(found["consent"]), tuple(found["context"]))


def _leak(
    agent_id: str,
    eligible: Collection[str],
    cited: Collection[str],
    prompt: str,
    text: str | None,
    allowed: str,
) -> str | None:
    if agent_id in cited:
        return "cited by the tip"
    if agent_id in eligible:
        return "listed as eligible"
    if not text or not prompt:
        return None
    if _flat(text) in prompt:
        return "its snippet reached the prompt"
    for fact in extract_facts(text):
        title = _flat(fact.label)
        if fact.kind == "title" and title in prompt and title not in allowed:
            return f'"{fact.label}" reached the prompt'
    return None


def _flat(text: str) -> str:
    return " ".join(text.casefold().split())
