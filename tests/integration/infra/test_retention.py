"""Retention: old tips, provenance and feedback go; recent ones and unpublished events stay."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from ml.precompute.scheduler import PrecomputeScheduler
from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge_infra.storage.tables import item_marks, outbox, signals, tip_feedback, tips
from tests.conftest import FixedClock, MakeSettings, gateway_headers


def count(nudge: object, table: object, *where: object) -> int:
    with nudge.engine.connect() as conn:  # type: ignore[attr-defined]
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int(conn.execute(query.where(*where)).scalar_one())  # type: ignore[arg-type]


def test_prune_keeps_what_is_recent_and_what_is_unpublished(
    settings_for: MakeSettings, clock: FixedClock
) -> None:
    llm = FakeLLM()
    nudge = bootstrap(settings_for(retention_days=30, event_retention_days=2), clock=clock, llm=llm)
    try:
        seed_demo(nudge, clock())
        nudge.sweeper.sweep_all()
        with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as c:
            answer = {"tip": "Send the Q3 invoice now.", "agents": ["tasks"], "rationale": "Due."}
            llm.push(json.dumps(answer))
            old = c.get("/v1/users/alice/tip").json()["tip_id"]
            c.post(f"/v1/tips/{old}/feedback", json={"reaction": "dismiss"})
            clock.advance(days=31)
            nudge.sweeper.sweep_all()  # the month-old outputs have expired
            llm.push(json.dumps(answer))
            new = c.get("/v1/users/alice/tip?refresh=true").json()["tip_id"]
            c.post(f"/v1/tips/{new}/feedback", json={"reaction": "done"})
        # Everything so far is unpublished (no relay ran); publish the older half.
        with nudge.engine.begin() as conn:
            ids = [r.id for r in conn.execute(select(outbox.c.id).order_by(outbox.c.id))]
            half = ids[: len(ids) // 2]
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(half))
                .values(published_at=clock() - timedelta(days=3))
            )
        cutoff = clock() - timedelta(days=30)
        old_feedback = count(
            nudge, signals, signals.c.kind == "tip_feedback", signals.c.occurred_at < cutoff
        )
        assert old_feedback >= 1  # the old tip's, and the demo's own history
        pruned = nudge.prune()
        assert pruned["tips"] == 1 and pruned["tip_feedback"] == 1
        # Both tips were about one item (task-1): done replaced the lapsed dismissal,
        # and a done mark is never pruned.
        assert pruned["suppressions"] == 0 and pruned["item_marks"] == 0
        assert count(nudge, item_marks, item_marks.c.kind == "done") == 1
        assert pruned["feedback_signals"] == old_feedback
        assert pruned["events"] == len(half)
        assert count(nudge, tips, tips.c.tip_id == old) == 0
        assert count(nudge, tips, tips.c.tip_id == new) == 1
        assert count(nudge, tip_feedback, tip_feedback.c.tip_id == new) == 1
        assert count(nudge, item_marks, item_marks.c.tip_id == new) == 1
        assert count(nudge, signals, signals.c.external_id == f"{new}:done") == 1
        assert count(nudge, signals, signals.c.external_id == f"{old}:dismiss") == 0
        assert count(nudge, outbox) == len(ids) - len(half)  # unpublished rows are kept
        assert nudge.prune() == dict.fromkeys(pruned, 0)  # nothing more to do
    finally:
        nudge.stop()


def test_housekeeping_jobs_run_on_their_interval_and_survive_errors(
    settings_for: MakeSettings, clock: FixedClock
) -> None:
    nudge = bootstrap(settings_for(), clock=clock, llm=FakeLLM())
    scheduler = PrecomputeScheduler(nudge.sweeper, lambda: nudge.registry.current)
    runs: list[int] = []
    twice = threading.Event()

    def flaky() -> None:
        runs.append(1)
        if len(runs) >= 2:
            twice.set()
        raise RuntimeError("boom")

    try:
        scheduler.start(sweep_now=False)
        scheduler.every("flaky", timedelta(seconds=0.2), flaky)
        assert twice.wait(5), "the job stopped after its first failure"
    finally:
        scheduler.stop()
        nudge.stop()
