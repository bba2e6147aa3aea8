"""Off-policy evaluation from what a Nudge logged: each stored tip's policy record (the
candidates, the lead, its propensity) and whether the user marked it done."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from ml.evaluation.off_policy import Estimate, Logged, estimate
from ml.serving.tip.policy import Policy
from ml.serving.tip.policy_record import candidates_from_record
from nudge_infra.storage.tables import tips


def logged_contexts(engine: Engine) -> Iterator[tuple[str, datetime, dict[str, Any]]]:
    """(user id, time, policy record) of every tip whose policy chose among candidates."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(tips.c.user_id, tips.c.created_at, tips.c.provenance).order_by(tips.c.created_at)
        ).all()
    for user_id, created_at, provenance in rows:
        record = (provenance or {}).get("policy")
        if record and record.get("lead"):
            yield user_id, created_at, record


def logged_decisions(engine: Engine) -> list[Logged]:
    """Every tip whose policy chose among candidates, with its reward (done or not)."""
    logs: list[Logged] = []
    with engine.connect() as conn:
        rows = conn.execute(select(tips.c.provenance, tips.c.outcome).order_by(tips.c.created_at))
        for provenance, outcome in rows:
            record = (provenance or {}).get("policy")
            if not record or not record.get("lead"):
                continue  # made before the policy existed, or with nothing to choose from
            logs.append(
                Logged(
                    lead=str(record["lead"]),
                    propensity=float(record["propensity"]),
                    reward=1.0 if outcome == "done" else 0.0,
                    candidates=tuple(candidates_from_record(record)),
                )
            )
    return logs


def true_acceptance(engine: Engine) -> float:
    """The share of stored tips that were marked done."""
    with engine.connect() as conn:
        outcomes = [row.outcome for row in conn.execute(select(tips.c.outcome))]
    return sum(o == "done" for o in outcomes) / len(outcomes) if outcomes else 0.0


def evaluate_policy(engine: Engine, target: Policy) -> Estimate:
    """Estimate ``target``'s acceptance (IPS, SNIPS) from the logged tips."""
    return estimate(target, logged_decisions(engine))
