"""Refuse a model's answer that nearly repeats one of the user's recent tips.

The ``embedder`` alias turns the candidate tip and the recent tips into vectors; at the
model's cosine threshold or above the answer is refused like any invalid answer, so the
next candidate (often about another snippet) is tried. Recent tips' vectors are kept by
tip id (a tip's text never changes). An embedder that fails turns the check off for that
tip rather than refusing it: a repeat is a lesser harm than no tip.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ml.serving.llm.embedder import Embedder, EmbedRequest
from ml.serving.llm.port import LLMError
from ml.serving.tip.answer import Answer
from ml.serving.tip.near_repeat import RepeatCheck, check_repeat
from ml.serving.tip.tip_store import TipHead

log = logging.getLogger(__name__)

_KEPT_VECTORS = 20_000  # about 30 MB of 384-dimension vectors


@dataclass(frozen=True, slots=True)
class RepeatConfig:
    alias: str
    threshold: float
    recent: int = 5
    """How many of the user's latest tips an answer is compared with."""
    timeout_s: float = 2.0


class RepeatGuards:
    """Makes one ``RepeatGuard`` per tip written; holds the recent tips' vectors."""

    def __init__(self, embedder: Embedder, config: RepeatConfig) -> None:
        self._embedder = embedder
        self.config = config
        self._vectors: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._warned: set[str] = set()

    async def guard(self, recent: Sequence[TipHead]) -> RepeatGuard:
        """A guard against ``recent`` (the user's latest tips, newest first)."""
        tips = list(recent)[: self.config.recent]
        missing = [t for t in tips if t.tip_id not in self._vectors]
        if missing:
            vectors = await self.embed_texts([t.text for t in missing])
            if vectors is None:
                return RepeatGuard(self, {}, {}, enabled=False)
            for tip, vector in zip(missing, vectors, strict=True):
                self._keep(tip.tip_id, vector)
        known = {t.tip_id: self._vectors[t.tip_id] for t in tips if t.tip_id in self._vectors}
        return RepeatGuard(self, known, {t.tip_id: t.agents for t in tips}, enabled=True)

    async def embed_texts(self, texts: list[str]) -> NDArray[np.float32] | None:
        request = EmbedRequest(self.config.alias, texts, timeout_s=self.config.timeout_s)
        try:
            return (await self._embedder.embed(request)).vectors
        except LLMError as exc:
            if exc.kind not in self._warned:  # once per kind: a missing model fails every time
                self._warned.add(exc.kind)
                log.warning("near-repeat check skipped: the embedder failed (%s)", exc)
            return None

    def _keep(self, tip_id: str, vector: NDArray[np.float32]) -> None:
        self._vectors[tip_id] = vector
        self._vectors.move_to_end(tip_id)
        while len(self._vectors) > _KEPT_VECTORS:
            self._vectors.popitem(last=False)


class RepeatGuard:
    def __init__(
        self,
        guards: RepeatGuards,
        recent: dict[str, NDArray[np.float32]],
        agents: dict[str, list[str]],
        *,
        enabled: bool,
    ) -> None:
        self._guards = guards
        self._recent = recent
        self._agents = agents
        self.enabled = enabled
        self.accepted: RepeatCheck | None = None
        self.refused: list[RepeatCheck] = []

    async def __call__(self, answer: Answer) -> str | None:
        """Why ``answer`` is refused as a near-repeat, or None when it is not one."""
        if not self.enabled or not self._recent:
            return None
        vectors = await self._guards.embed_texts([answer.tip])
        if vectors is None:
            self.enabled = False
            return None
        check = check_repeat(vectors[0], self._recent, threshold=self._guards.config.threshold)
        if not check.refused:
            self.accepted = check
            return None
        self.refused.append(check)
        return (
            f"tip nearly repeats a recent tip (cosine {check.cosine:.2f} ≥ {check.threshold:.2f})"
        )

    def repeated_agents(self) -> set[str]:
        """The agents of the recent tips that refused answers: a fallback avoids them."""
        return {a for c in self.refused if c.closest_tip for a in self._agents[c.closest_tip]}

    def record(self) -> dict[str, Any] | None:
        """What the provenance keeps: the kept answer's closest recent tip and cosine, and
        how many answers were refused as near-repeats."""
        if not self.enabled or not self._recent:
            return None
        kept = self.accepted
        return {
            "threshold": self._guards.config.threshold,
            "compared_with": len(self._recent),
            "closest_tip": None if kept is None else kept.closest_tip,
            "cosine": None if kept is None else round(kept.cosine, 4),
            "refused": [
                {"closest_tip": c.closest_tip, "cosine": round(c.cosine, 4)} for c in self.refused
            ],
        }
