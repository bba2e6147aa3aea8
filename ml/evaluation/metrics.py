"""The run's aggregate metrics, each with its direction (is higher better?)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from ml.evaluation.scenario_result import ScenarioResult
from nudge_infra.percentiles import percentile

HIGHER_IS_BETTER = 1
LOWER_IS_BETTER = -1
NEUTRAL = 0


@dataclass(frozen=True, slots=True)
class Metrics:
    scenarios: int
    valid_output_rate: float | None
    """LLM answers used (no fallback), among scenarios with at least one eligible agent."""
    grounding_rate: float | None
    """LLM-written tips that mention a fact of a cited snippet, among LLM-written tips."""
    expectation_hit_rate: float | None
    """Mean share of each scenario's expectations met (an unrun scenario meets none)."""
    consent_violations: int
    context_violations: int
    fallback_rate: float | None
    """Fallback tips among tips served, 'no eligible agent' included."""
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    judge_score: float | None
    """Mean judge score, 1 to 5, of the judgments that did not fail."""
    judge_coverage: float | None
    """Judgments that did not fail, among those asked for."""
    errors: int = 0
    """Scenarios that could not be run at all."""
    fallback_reasons: dict[str, int] = field(default_factory=dict)
    invalid_answers: dict[str, int] = field(default_factory=dict)
    """Why the model's answers were refused, by kind (see ``invalid_kind``)."""

    def numbers(self) -> dict[str, float]:
        """Every numeric metric that has a value (for trackers that refuse None)."""
        values: dict[str, float] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[f.name] = float(value)
        return values


DIRECTIONS: dict[str, int] = {
    "scenarios": NEUTRAL,
    "valid_output_rate": HIGHER_IS_BETTER,
    "grounding_rate": HIGHER_IS_BETTER,
    "expectation_hit_rate": HIGHER_IS_BETTER,
    "consent_violations": LOWER_IS_BETTER,
    "context_violations": LOWER_IS_BETTER,
    "fallback_rate": LOWER_IS_BETTER,
    "latency_p50_ms": LOWER_IS_BETTER,
    "latency_p95_ms": LOWER_IS_BETTER,
    "judge_score": HIGHER_IS_BETTER,
    "judge_coverage": HIGHER_IS_BETTER,
    "errors": LOWER_IS_BETTER,
}


def rate(count: int, total: int) -> float | None:
    """``count / total``, or None when there is nothing to divide by."""
    return count / total if total else None


_KIND_CUT = re.compile(r"[:(]")
_NOT_A_WORD = re.compile(r"[^a-z0-9]+")


def invalid_kind(detail: str) -> str:
    """A refused answer's kind, from its message without the particulars:
    ``"bad_response: answer is not JSON (finish_reason=length…)"`` → ``answer_is_not_json``,
    ``"cites agents that were not eligible: x"`` → ``cites_agents_that_were_not_eligible``.
    """
    message = detail.removeprefix("bad_response: ")
    head = _KIND_CUT.split(message, maxsplit=1)[0]
    return _NOT_A_WORD.sub("_", head.lower()).strip("_")[:60] or "unknown"


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(results: Sequence[ScenarioResult]) -> Metrics:
    served = [r for r in results if r.served]
    with_eligible = [r for r in served if r.eligible]
    written = [r for r in with_eligible if not r.fallback]
    hit_rates = [r.met / r.expectations for r in results if r.expectations]
    latencies = [r.latency_ms for r in served if r.latency_ms is not None]
    judged = [r for r in results if r.judged]
    scores = [float(r.judge_score) for r in judged if r.judge_score is not None]
    reasons = Counter(r.fallback_reason or "unknown" for r in served if r.fallback)
    invalid = Counter(
        invalid_kind(r.fallback_detail or "")
        for r in served
        if r.fallback and r.fallback_reason == "invalid_answer"
    )
    return Metrics(
        scenarios=len(results),
        valid_output_rate=rate(len(written), len(with_eligible)),
        grounding_rate=rate(sum(r.grounded is True for r in written), len(written)),
        expectation_hit_rate=mean(hit_rates),
        consent_violations=sum(len(r.consent_violations) for r in results),
        context_violations=sum(len(r.context_violations) for r in results),
        fallback_rate=rate(sum(r.fallback for r in served), len(served)),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        judge_score=mean(scores),
        judge_coverage=rate(len(scores), len(judged)),
        errors=sum(r.error is not None for r in results),
        fallback_reasons=dict(sorted(reasons.items())),
        invalid_answers=dict(invalid.most_common()),
    )
