"""The upper bound: a policy that knows each simulated user's hidden tastes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ml.evaluation.simulation.people import SimUser
from ml.evaluation.simulation.tastes import acceptance
from ml.serving.tip.draws import Draws
from ml.serving.tip.policy import Candidate, Choice, PolicyConfig


class OraclePolicy:
    """Ranks by the user's true chance of a done at this hour; ``at`` says who and when.

    Only the simulator builds it: the product's policies never read hidden tastes.
    """

    name = "oracle"
    version = "oracle-1"

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self._user: SimUser | None = None
        self._now: datetime | None = None

    def at(self, user: SimUser, now: datetime) -> None:
        self._user, self._now = user, now

    def _ranked(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        if self._user is None or self._now is None:
            raise RuntimeError("OraclePolicy.at(user, now) must be called before choosing")
        hour = self._user.local_hour(self._now)
        taste = self._user.taste
        return sorted(candidates, key=lambda c: (-acceptance(taste, c.agent_id, hour), c.agent_id))

    def lead_probabilities(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        ranked = self._ranked(candidates)
        return {c.agent_id: 1.0 if i == 0 else 0.0 for i, c in enumerate(ranked)}

    def choose(self, candidates: Sequence[Candidate], rng: Draws) -> Choice:
        ranked = self._ranked(candidates)
        order = tuple(c.agent_id for c in ranked)
        probabilities = self.lead_probabilities(ranked)
        return Choice(
            order=order,
            chosen=order[: self.config.top_k],
            lead=order[0] if order else "",
            policy=self.name,
            version=self.version,
            probabilities=lambda: probabilities,
        )
