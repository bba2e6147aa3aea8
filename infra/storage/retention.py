"""Forget old tips, their provenance and feedback, lapsed item marks, and events already
published."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete

from nudge_infra.clock import Clock
from nudge_infra.storage.tables import (
    item_marks,
    outbox,
    signals,
    suppressions,
    tip_feedback,
    tips,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    tips: timedelta
    """Tips with their provenance, the feedback on them and feedback remembered as signals."""
    events: timedelta
    """Outbox rows, once published."""


def prune(engine: Engine, clock: Clock, policy: RetentionPolicy) -> dict[str, int]:
    """Delete what the policy no longer keeps, in one transaction; return rows per table."""
    now = clock()
    tips_before, events_before = now - policy.tips, now - policy.events
    with engine.begin() as conn:
        counts = {
            "tip_feedback": conn.execute(
                delete(tip_feedback).where(tip_feedback.c.created_at < tips_before)
            ).rowcount,
            "suppressions": conn.execute(
                delete(suppressions).where(
                    suppressions.c.tip_id.in_(
                        tips.select()
                        .with_only_columns(tips.c.tip_id)
                        .where(tips.c.created_at < tips_before)
                    )
                )
            ).rowcount,
            "tips": conn.execute(delete(tips).where(tips.c.created_at < tips_before)).rowcount,
            # A done mark never lapses (the item stays closed); a lapsed dismissal or
            # snooze hides nothing any more.
            "item_marks": conn.execute(
                delete(item_marks).where(item_marks.c.until.is_not(None), item_marks.c.until < now)
            ).rowcount,
            "feedback_signals": conn.execute(
                delete(signals).where(
                    signals.c.kind == "tip_feedback", signals.c.occurred_at < tips_before
                )
            ).rowcount,
            "events": conn.execute(
                delete(outbox).where(
                    outbox.c.published_at.is_not(None), outbox.c.published_at < events_before
                )
            ).rowcount,
        }
    if any(counts.values()):
        log.info("retention pruned %s", counts)
    return counts
