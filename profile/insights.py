"""What Nudge worked out about a user: inferred parameters and what it learned from their
reactions, as the profile shows them; and forgetting what was learned."""

from __future__ import annotations

from sqlalchemy import Engine

from nudge_profile.inferred import InferredValue, read_inferred
from nudge_profile.learned import Counts, credit_of, forget_credit, population_credit
from nudge_profile.store import require_user


class Insights:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def inferred(self, user_id: str) -> dict[str, InferredValue]:
        with self._engine.connect() as conn:
            require_user(conn, user_id)
            return dict(read_inferred(conn, [user_id]).get(user_id, {}))

    def learned(self, user_id: str) -> tuple[dict[str, Counts], dict[str, Counts]]:
        """The user's counts per agent, and everyone's (the prior a new user starts from)."""
        with self._engine.connect() as conn:
            require_user(conn, user_id)
            return credit_of(conn, user_id), population_credit(conn)

    def population(self) -> dict[str, Counts]:
        with self._engine.connect() as conn:
            return population_credit(conn)

    def forget_learned(self, user_id: str) -> int:
        """Forget the user's own counts (the population's keep them, without a name)."""
        with self._engine.begin() as conn:
            require_user(conn, user_id)
            return forget_credit(conn, user_id)
