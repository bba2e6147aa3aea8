"""Writing a reaction to a tip: the feedback row, item marks or suppressions, the learned
counts, the feedback signal and the events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Row, and_, insert, select, update

from ml.registry.registry import Registry
from ml.serving.tip.tip_items import TipItem
from nudge_infra.errors import Invalid
from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import signals, suppressions, tip_feedback, tips
from nudge_infra.storage.upsert import upsert
from nudge_profile.items import MarkKind, NewMark, mark_items, split_ref
from nudge_profile.learned import Outcome, add_credit

Reaction = Literal["done", "snooze", "dismiss"]
DEFAULT_DISMISS_FOR = timedelta(days=7)
_OUTCOME: dict[Reaction, Outcome] = {"done": "done", "dismiss": "dismissed", "snooze": "snoozed"}
_MARK: dict[Reaction, MarkKind] = {"done": "done", "dismiss": "dismissed", "snooze": "snoozed"}


def chosen_items(tip: Row[*tuple[Any, ...]], refs: Sequence[str] | None) -> list[TipItem]:
    """The tip's items a reaction is about: all of them, or the ``refs`` named (which must
    be the tip's own)."""
    own = [TipItem.from_dict(i) for i in (tip.items or [])]
    if refs is None:
        return own
    unknown = sorted(set(refs) - {i.ref for i in own})
    if unknown:
        known = ", ".join(i.ref for i in own) or "none"
        raise Invalid(
            f"this tip is not about {', '.join(unknown)} (its items: {known})",
            details=[{"field": "items", "reason": f"unknown item ref {ref}"} for ref in unknown],
        )
    return [i for i in own if i.ref in set(refs)]


def write_reaction(
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
    *,
    registry: Registry | None = None,
    items: Sequence[str] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a reaction once, in the caller's transaction; return it and whether it is new.

    For the tip's items (or the ``items`` named): done closes them, dismiss hides them for
    their agent's ``dismiss_for``, snooze until ``snooze_until``. A cited agent without
    items keeps the snippet-level rule: snooze hides the agent, dismiss and done hide the
    snippet until the agent writes something different. The learned counts move from
    the tip's previous outcome to this one.
    """
    tip_id = tip.tip_id
    targets = chosen_items(tip, items)
    existing = conn.execute(
        select(tip_feedback.c.id, tip_feedback.c.snooze_until, tip_feedback.c.created_at).where(
            tip_feedback.c.tip_id == tip_id, tip_feedback.c.reaction == reaction
        )
    ).first()
    if existing is not None and existing.snooze_until == snooze_until:
        if items is not None:  # the same reaction, now about (more of) the tip's items
            _mark(conn, tip, targets, reaction, snooze_until, now, registry)
        return _feedback_out(tip_id, reaction, snooze_until, existing.created_at), False
    if existing is not None:
        conn.execute(
            update(tip_feedback)
            .where(tip_feedback.c.id == existing.id)
            .values(snooze_until=snooze_until, created_at=now)
        )
        conn.execute(
            update(suppressions)
            .where(and_(suppressions.c.tip_id == tip_id, suppressions.c.kind == "snoozed"))
            .values(until=snooze_until)
        )
        _mark(conn, tip, targets, reaction, snooze_until, now, registry)
    else:
        conn.execute(
            insert(tip_feedback).values(
                tip_id=tip_id,
                user_id=tip.user_id,
                reaction=reaction,
                snooze_until=snooze_until,
                created_at=now,
            )
        )
        with_items = {i.agent_id for i in (TipItem.from_dict(x) for x in (tip.items or []))}
        _suppress(conn, tip, with_items, reaction, snooze_until, now)
        _mark(conn, tip, targets, reaction, snooze_until, now, registry)
        _learn(conn, tip, reaction, now)
    _remember_as_signal(conn, tip, reaction, snooze_until, now)
    _emit_feedback(conn, tip, reaction, snooze_until, now, _kinds(targets, registry))
    return _feedback_out(tip_id, reaction, snooze_until, now), True


def _mark(
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    targets: Sequence[TipItem],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
    registry: Registry | None,
) -> None:
    for agent_id in dict.fromkeys(i.agent_id for i in targets):
        if reaction == "dismiss":
            agent = registry.get(agent_id) if registry is not None else None
            until: datetime | None = now + (
                agent.manifest.dismiss_for if agent is not None else DEFAULT_DISMISS_FOR
            )
        else:
            until = snooze_until if reaction == "snooze" else None
        mark_items(
            conn,
            tip.user_id,
            [NewMark(i.ref, i.agent_id, i.label) for i in targets if i.agent_id == agent_id],
            _MARK[reaction],
            until=until,
            tip_id=tip.tip_id,
            now=now,
        )


def _learn(conn: Connection, tip: Row[*tuple[Any, ...]], reaction: Reaction, now: datetime) -> None:
    """Move the tip's credit from its previous outcome (none, ignored…) to this reaction."""
    outcome: Outcome = _OUTCOME[reaction]
    previous = tip.outcome
    if previous == outcome:
        return
    changes: dict[Outcome, int] = {outcome: 1}
    if previous in ("done", "dismissed", "snoozed", "ignored"):
        changes[previous] = -1
    add_credit(conn, tip.user_id, tip.agents, changes, now)
    conn.execute(update(tips).where(tips.c.tip_id == tip.tip_id).values(outcome=outcome))


def _kinds(targets: Sequence[TipItem], registry: Registry | None) -> list[str]:
    """The signal kinds whose agents must run again now that these items changed."""
    kinds = {"tip_feedback"} | {split_ref(i.ref)[0] for i in targets}
    for agent_id in {i.agent_id for i in targets}:
        agent = registry.get(agent_id) if registry is not None else None
        if agent is not None:
            kinds |= set(agent.manifest.reads)
    return sorted(kinds)


def _suppress(
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    with_items: set[str],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
) -> None:
    """Snippet-level rules for the cited agents whose snippets name no items."""
    kind = _MARK[reaction]
    rows = [
        {
            "user_id": tip.user_id,
            "agent_id": cited["agent_id"],
            "kind": kind,
            "snippet_hash": None if reaction == "snooze" else cited["snippet_hash"],
            "until": snooze_until if reaction == "snooze" else None,
            "tip_id": tip.tip_id,
            "created_at": now,
        }
        for cited in tip.provenance.get("cited", [])
        if cited["agent_id"] not in with_items
    ]
    if rows:
        conn.execute(insert(suppressions), rows)


def _remember_as_signal(
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
) -> None:
    """Feedback becomes a signal, so the feedback-history agent reads it like any other."""
    upsert(
        conn,
        signals,
        [
            {
                "user_id": tip.user_id,
                "kind": "tip_feedback",
                "external_id": f"{tip.tip_id}:{reaction}",
                "payload": {
                    "reaction": reaction,
                    "tip_text": tip.text,
                    "agents": list(tip.agents),
                    "snooze_until": snooze_until.isoformat() if snooze_until else None,
                },
                "occurred_at": now,
                "received_at": now,
            }
        ],
        keys=("user_id", "kind", "external_id"),
    )


def _emit_feedback(
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
    kinds: list[str],
) -> None:
    # The feedback is also a signal: the agents that read it, or the items' kinds, run
    # again for this user (signal-triggered refresh) and leave the items out.
    events.append(
        conn,
        events.Topic.SIGNALS_INGESTED,
        tip.user_id,
        {"user_id": tip.user_id, "kinds": kinds, "count": 1},
        now,
    )
    events.append(
        conn,
        events.Topic.TIP_FEEDBACK,
        tip.user_id,
        {
            "tip_id": tip.tip_id,
            "user_id": tip.user_id,
            "reaction": reaction,
            "snooze_until": snooze_until.isoformat() if snooze_until else None,
        },
        now,
    )


def _feedback_out(
    tip_id: str, reaction: str, snooze_until: datetime | None, at: datetime
) -> dict[str, Any]:
    return {"tip_id": tip_id, "reaction": reaction, "snooze_until": snooze_until, "recorded_at": at}


def settle_ignored(conn: Connection, user_id: str | None, before: datetime, now: datetime) -> int:
    """Count the tips made before ``before`` and never answered as ignored: one user's, or
    everyone's (``user_id=None``)."""
    query = select(tips.c.tip_id, tips.c.user_id, tips.c.agents).where(
        tips.c.outcome.is_(None), tips.c.created_at < before
    )
    if user_id is not None:
        query = query.where(tips.c.user_id == user_id)
    stale = conn.execute(query).all()
    for _, owner, agents in stale:
        add_credit(conn, owner, agents, {"ignored": 1}, now)
    if stale:
        conn.execute(
            update(tips)
            .where(tips.c.tip_id.in_([tip_id for tip_id, _, _ in stale]))
            .values(outcome="ignored")
        )
    return len(stale)
