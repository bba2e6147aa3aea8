"""Every agent, fed arbitrary payloads, params and preferences, neither raises nor overflows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.agents.base import (
    FACTS_MAX_BYTES,
    SNIPPET_MAX_CHARS,
    SUGGESTION_MAX_CHARS,
    Agent,
    AgentInput,
    Signal,
    Snippet,
    UserView,
)
from ml.agents.calendar import CalendarAgent
from ml.agents.feedback_history import FeedbackHistoryAgent
from ml.agents.focus import FocusAgent
from ml.agents.habits import HabitsAgent
from ml.agents.sleep import SleepAgent
from ml.agents.tasks import TasksAgent
from ml.agents.template import TemplateAgent

READING_LIST = Path(__file__).parents[3] / "manifests" / "reading_list.yaml"
KEYS = [
    "title", "due", "done", "priority", "start", "end", "all_day", "habit", "date",
    "reaction", "tip_text", "agents", "snooze_until", "minutes", "read", "saved_at",
]  # fmt: skip
ZONES = [
    "UTC", "Europe/Paris", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago",
    "Asia/Kathmandu", "Australia/Lord_Howe",
]  # fmt: skip
NOW_RANGE = (datetime(2000, 1, 1), datetime(2100, 1, 1))


def _template_agent() -> Agent:
    manifest = yaml.safe_load(READING_LIST.read_text())
    return TemplateAgent(manifest["template"], agent_id="reading_list")


AGENTS: dict[str, tuple[Agent, str]] = {
    "tasks": (TasksAgent(), "task"),
    "calendar": (CalendarAgent(), "calendar_event"),
    "focus": (FocusAgent(), "calendar_event"),
    "habits": (HabitsAgent(), "habit_checkin"),
    "sleep": (SleepAgent(), "sleep_log"),
    "feedback_history": (FeedbackHistoryAgent(), "tip_feedback"),
    "reading_list": (_template_agent(), "article"),
}

moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
near = st.datetimes(min_value=datetime(2026, 5, 1), max_value=datetime(2026, 5, 20))
iso_strings = st.one_of(
    near.map(lambda d: d.isoformat()),
    near.map(lambda d: d.replace(tzinfo=UTC).isoformat()),
    near.map(lambda d: d.date().isoformat()),
    moments.map(lambda d: d.isoformat() + "-11:00"),
    moments.map(lambda d: d.isoformat() + "+14:00"),
    st.dates().map(date.isoformat),
    st.sampled_from(["done", "snooze", "dismiss", "09:00", "25:99", "", " ", "2026-02-30"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    iso_strings,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)
payloads = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=len(KEYS)),
    st.dictionaries(st.text(max_size=10), values, max_size=4),
    st.lists(values, max_size=3),  # not even a mapping
)
occurred = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive, as some databases return them
    near.map(lambda d: d.replace(tzinfo=UTC)),
)
settings_maps = st.dictionaries(
    st.sampled_from(
        [
            "horizon_days", "horizon_hours", "min_free_minutes", "min_streak", "focus_minutes",
            "lookback_days", "sleep_target_hours", "max_minutes", "work_start", "work_end",
        ]
    ),
    values,
)  # fmt: skip


@st.composite
def inputs(draw: st.DrawFn, kind: str) -> AgentInput:
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    now = draw(
        st.one_of(
            near.map(lambda d: d.replace(tzinfo=UTC)),
            st.datetimes(*NOW_RANGE, timezones=st.just(UTC)),
        )
    )
    signals = [
        Signal(kind, draw(st.text(max_size=5)), payload, draw(occurred))
        for payload in draw(st.lists(payloads, max_size=12))
    ]
    user = UserView("u", tz, draw(settings_maps))
    return AgentInput(user, now, signals, draw(settings_maps))


def check(snippet: Snippet | None) -> None:
    if snippet is None:
        return
    assert isinstance(snippet, Snippet)
    assert snippet.text.strip() and len(snippet.text) <= SNIPPET_MAX_CHARS
    if snippet.suggestion is not None:
        assert snippet.suggestion.strip() and len(snippet.suggestion) <= SUGGESTION_MAX_CHARS
    assert len(json.dumps(dict(snippet.facts), allow_nan=False).encode()) <= FACTS_MAX_BYTES


@pytest.mark.parametrize("agent_id", sorted(AGENTS))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_payloads_never_raise_and_stay_within_bounds(
    agent_id: str, data: st.DataObject
) -> None:
    agent, kind = AGENTS[agent_id]
    inp = data.draw(inputs(kind))
    snippet = agent.compute(inp)
    check(snippet)
    assert agent.compute(inp) == snippet  # deterministic


def test_a_flood_of_signals_stays_within_bounds() -> None:
    now = datetime(2026, 5, 12, 10, 0, tzinfo=UTC)
    start = datetime(2026, 5, 12, 9, 0, tzinfo=UTC)
    payload: Mapping[str, Any] = {
        "title": "T" * 500,
        "due": "2026-05-12",
        "start": (start).isoformat(),
        "end": (start + timedelta(minutes=5)).isoformat(),
        "habit": "H" * 500,
        "date": "2026-05-11",
        "reaction": "dismiss",
        "tip_text": "x" * 5000,
        "agents": ["tasks"] * 1000,
        "minutes": 3,
        "saved_at": "2026-05-01",
    }
    for agent, kind in AGENTS.values():
        signals = [Signal(kind, f"id{i}", {**payload, "habit": f"h{i}"}, now) for i in range(3000)]
        check(agent.compute(AgentInput(UserView("u", ZoneInfo("Europe/Paris")), now, signals, {})))


@pytest.mark.parametrize("max_minutes", [None, "15", [], 15])
def test_the_reading_list_falls_back_to_its_default_limit(max_minutes: object) -> None:
    """Hypothesis found `{"max_minutes": None}` stopping the template with a TypeError."""
    agent, kind = AGENTS["reading_list"]
    now = datetime(2026, 5, 1, tzinfo=UTC)
    article = Signal(kind, "a1", {"title": "Short read", "minutes": 4}, now)
    user = UserView("u", ZoneInfo("UTC"), {})
    snippet = agent.compute(AgentInput(user, now, [article], {"max_minutes": max_minutes}))
    assert snippet is not None and snippet.suggestion is not None
    assert '4-minute break to read "Short read"' in snippet.suggestion
