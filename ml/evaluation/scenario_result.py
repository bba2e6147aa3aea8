"""What one scenario produced: its tip, the checks on it, and the judge's grade."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario_id: str
    user_id: str
    tip_id: str | None = None
    tip: str = ""
    fallback: bool = False
    fallback_reason: str | None = None
    fallback_detail: str | None = None
    """What went wrong with the model's answer (a validation message, an LLM error)."""
    eligible: tuple[str, ...] = ()
    cited: tuple[str, ...] = ()
    grounded: bool | None = None
    """Whether the tip mentions a fact of a cited snippet; None when it cites none."""
    grounding_facts: tuple[str, ...] = ()
    met: int = 0
    expectations: int = 0
    missed: tuple[str, ...] = ()
    consent_violations: tuple[str, ...] = ()
    context_violations: tuple[str, ...] = ()
    latency_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judged: bool = False
    """Whether the judge was asked (its answer may still have failed)."""
    judge_score: int | None = None
    judge_reason: str | None = None
    error: str | None = None
    """Why the scenario could not be run; None when it was."""

    @property
    def served(self) -> bool:
        return self.error is None and self.tip_id is not None

    @property
    def llm_written(self) -> bool:
        """A tip the model wrote and validation accepted (not a fallback)."""
        return self.served and bool(self.eligible) and not self.fallback

    @property
    def hit_rate(self) -> float | None:
        return self.met / self.expectations if self.expectations else None

    def row(self) -> dict[str, Any]:
        """Flat values for CSV and JSON."""
        return {
            "scenario_id": self.scenario_id,
            "user_id": self.user_id,
            "tip_id": self.tip_id,
            "tip": self.tip,
            "fallback": self.fallback,
            "fallback_reason": self.fallback_reason,
            "fallback_detail": self.fallback_detail,
            "eligible": " ".join(self.eligible),
            "cited": " ".join(self.cited),
            "grounded": self.grounded,
            "grounding_facts": "; ".join(self.grounding_facts),
            "expectations_met": self.met,
            "expectations": self.expectations,
            "missed": "; ".join(self.missed),
            "consent_violations": "; ".join(self.consent_violations),
            "context_violations": "; ".join(self.context_violations),
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "judged": self.judged,
            "judge_score": self.judge_score,
            "judge_reason": self.judge_reason,
            "error": self.error,
        }
