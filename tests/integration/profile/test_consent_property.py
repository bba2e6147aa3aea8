"""For any profile, no snippet of an agent lacking a consent reaches a prompt or provenance."""

from __future__ import annotations

import itertools
import json

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.data import demo_signals
from nudge_infra.storage.tables import agent_outputs
from nudge_profile.signals import SignalIn
from tests.conftest import FixedClock, MakeSettings, gateway_headers

KEYS = ["tasks.read", "calendar.read", "habits.read", "health.read", "reading.read"]
CONTEXTS = [None, "vacation", "sleep", "commute"]


def test_no_snippet_without_consent(settings_for: MakeSettings, clock: FixedClock) -> None:
    llm = FakeLLM()
    nudge = bootstrap(settings_for(), clock=clock, llm=llm)
    registry = nudge.registry.current
    counter = itertools.count()

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        granted=st.sets(st.sampled_from(KEYS)),
        revoked_later=st.sets(st.sampled_from(KEYS)),
        context=st.sampled_from(CONTEXTS),
    )
    def check(granted: set[str], revoked_later: set[str], context: str | None) -> None:
        user = f"u{next(counter)}"
        nudge.profiles.upsert_user(user, timezone="Europe/Paris")
        for key in KEYS:
            nudge.profiles.set_consent(
                user, key, key in granted, agents_requiring=registry.agents_requiring
            )
        if context:
            nudge.profiles.set_context(user, context, None)
        nudge.signals.ingest(
            user, [SignalIn.model_validate(s) for s in demo_signals("alice", clock())]
        )
        nudge.sweeper.sweep_all()
        for key in revoked_later:
            nudge.profiles.set_consent(user, key, False, agents_requiring=registry.agents_requiring)
        allowed = granted - revoked_later
        forbidden = {
            a.id for a in registry.agents.values() if not set(a.manifest.consents) <= allowed
        }

        with nudge.engine.connect() as conn:
            stored = set(
                conn.execute(
                    select(agent_outputs.c.agent_id).where(agent_outputs.c.user_id == user)
                ).scalars()
            )
        assert not stored & forbidden, "outputs of unconsented agents must not exist"

        before = len(llm.requests)
        llm.push(
            json.dumps(
                {
                    "tip": "Do the most urgent thing now.",
                    "agents": ["feedback_history"],
                    "rationale": "r",
                }
            )
        )
        tip = client.get(f"/v1/users/{user}/tip", params={"refresh": "true"}).json()
        prov = client.get(f"/v1/tips/{tip['tip_id']}/explain").json()["provenance"]
        if len(llm.requests) > before:
            prompt = "\n".join(m.content for m in llm.requests[-1].messages)
            for agent_id in forbidden:
                assert f'<snippet agent="{agent_id}">' not in prompt
        else:
            llm._answers.clear()  # nothing was eligible: the queued answer was not needed
        assert not {c["agent_id"] for c in prov["cited"]} & forbidden
        assert not {e["agent_id"] for e in prov["eligible"]} & forbidden
        assert not set(tip["agents"]) & forbidden
        for entry in prov["excluded"]:
            if entry["agent_id"] in forbidden and entry["reason"] != "disabled":
                assert entry["reason"] == "missing_consent"

    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        check()
    nudge.stop()
