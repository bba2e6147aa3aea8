from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml.registry.eligibility import (
    AgentRules,
    Decision,
    Exclusion,
    OutputRef,
    Suppression,
    candidates,
    decide,
)
from ml.registry.manifest import Manifest

NOW = datetime(2026, 5, 10, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rules:
    id: str = "calendar"
    version: int = 3
    enabled: bool = True
    consents: tuple[str, ...] = ("calendar.read",)
    silenced_in: tuple[str, ...] = ("vacation",)
    ttl: timedelta = timedelta(hours=1)


def output(
    agent_id: str = "calendar",
    version: int = 3,
    snippet_hash: str = "h1",
    age: timedelta = timedelta(minutes=10),
    lifetime: timedelta = timedelta(hours=1),
) -> OutputRef:
    computed_at = NOW - age
    return OutputRef(agent_id, version, snippet_hash, computed_at, computed_at + lifetime)


def one(
    agent: AgentRules = Rules(),
    *,
    granted: frozenset[str] = frozenset({"calendar.read"}),
    context: str | None = None,
    outputs: dict[str, OutputRef] | None = None,
    suppressions: tuple[Suppression, ...] = (),
) -> Decision:
    [decision] = decide(
        [agent],
        granted=granted,
        active_context=context,
        outputs={"calendar": output()} if outputs is None else outputs,
        suppressions=suppressions,
        now=NOW,
    )
    return decision


def test_an_agent_passing_every_rule_is_eligible() -> None:
    assert one() == Decision("calendar", True, None, "eligible", ("calendar.read",))


@pytest.mark.parametrize(
    ("kwargs", "reason", "detail"),
    [
        ({"agent": Rules(enabled=False)}, Exclusion.DISABLED, "disabled in its manifest"),
        ({"granted": frozenset()}, Exclusion.MISSING_CONSENT, "consent calendar.read not granted"),
        ({"context": "vacation"}, Exclusion.SILENCED, "silenced in vacation"),
        ({"outputs": {}}, Exclusion.NO_OUTPUT, "no stored output"),
        (
            {"outputs": {"calendar": output(version=2)}},
            Exclusion.OLD_VERSION,
            "output is of version 2, manifest is 3",
        ),
        (
            {"outputs": {"calendar": output(age=timedelta(hours=2))}},
            Exclusion.EXPIRED,
            "output expired at 2026-05-10T08:00:00+00:00",
        ),
        (
            {"suppressions": (Suppression("calendar", "snoozed", None, NOW + timedelta(hours=1)),)},
            Exclusion.SNOOZED,
            "snoozed until 2026-05-10T10:00:00+00:00",
        ),
        (
            {"suppressions": (Suppression("calendar", "dismissed", "h1", None),)},
            Exclusion.DISMISSED,
            "this snippet was marked dismissed",
        ),
        (
            {"suppressions": (Suppression("calendar", "done", "h1", None),)},
            Exclusion.DONE,
            "this snippet was marked done",
        ),
    ],
)
def test_each_exclusion(kwargs: dict[str, object], reason: Exclusion, detail: str) -> None:
    decision = one(**kwargs)  # type: ignore[arg-type]
    assert (decision.eligible, decision.reason, decision.detail) == (False, reason, detail)


def test_names_every_missing_consent() -> None:
    agent = Rules(consents=("calendar.read", "tasks.read", "health.read"))
    decision = one(agent, granted=frozenset({"tasks.read"}))
    assert decision.detail == "consents calendar.read, health.read not granted"
    assert decision.consents == ("tasks.read",)


def test_expires_by_the_manifest_ttl_even_before_the_stored_expiry() -> None:
    long_lived = output(age=timedelta(minutes=90), lifetime=timedelta(days=1))
    decision = one(Rules(ttl=timedelta(hours=1)), outputs={"calendar": long_lived})
    assert decision.reason is Exclusion.EXPIRED


def test_an_output_expiring_exactly_now_is_expired() -> None:
    decision = one(outputs={"calendar": output(age=timedelta(hours=1))})
    assert decision.reason is Exclusion.EXPIRED


def test_a_newer_output_version_than_the_manifest_is_not_used() -> None:
    assert one(outputs={"calendar": output(version=4)}).reason is Exclusion.OLD_VERSION


@pytest.mark.parametrize(
    "suppression",
    [
        Suppression("calendar", "snoozed", None, NOW - timedelta(seconds=1)),
        Suppression("calendar", "snoozed", None, NOW),
        Suppression("tasks", "snoozed", None, NOW + timedelta(hours=1)),
        Suppression("calendar", "dismissed", "older-snippet", None),
        Suppression("calendar", "done", "older-snippet", None),
        Suppression("calendar", "dismissed", "h1", NOW - timedelta(minutes=1)),
        Suppression("tasks", "done", "h1", None),
    ],
)
def test_suppressions_that_do_not_apply(suppression: Suppression) -> None:
    assert one(suppressions=(suppression,)).eligible


def test_a_snooze_applies_whatever_the_snippet() -> None:
    snooze = Suppression("calendar", "snoozed", "another", NOW + timedelta(minutes=5))
    assert one(suppressions=(snooze,)).reason is Exclusion.SNOOZED


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"agent": Rules(enabled=False), "granted": frozenset(), "context": "vacation"},
            Exclusion.DISABLED,
        ),
        ({"granted": frozenset(), "context": "vacation", "outputs": {}}, Exclusion.MISSING_CONSENT),
        ({"context": "vacation", "outputs": {}}, Exclusion.SILENCED),
        (
            {"outputs": {"calendar": output(version=2, age=timedelta(days=1))}},
            Exclusion.OLD_VERSION,
        ),
        (
            {
                "outputs": {"calendar": output(age=timedelta(hours=2))},
                "suppressions": (Suppression("calendar", "snoozed", None, None),),
            },
            Exclusion.EXPIRED,
        ),
        (
            {
                "suppressions": (
                    Suppression("calendar", "done", "h1", None),
                    Suppression("calendar", "snoozed", None, None),
                ),
            },
            Exclusion.SNOOZED,
        ),
        (
            {
                "suppressions": (
                    Suppression("calendar", "done", "h1", None),
                    Suppression("calendar", "dismissed", "h1", None),
                ),
            },
            Exclusion.DISMISSED,
        ),
    ],
)
def test_the_first_failing_rule_is_the_reason(kwargs: dict[str, object], reason: Exclusion) -> None:
    assert one(**kwargs).reason is reason  # type: ignore[arg-type]


def test_decides_every_agent_in_the_given_order() -> None:
    agents = [Rules(id="b"), Rules(id="a", enabled=False), Rules(id="c", consents=())]
    decisions = decide(
        agents,
        granted=frozenset({"calendar.read"}),
        active_context=None,
        outputs={"b": output("b"), "c": output("c")},
        suppressions=(),
        now=NOW,
    )
    assert [(d.agent_id, d.eligible) for d in decisions] == [("b", True), ("a", False), ("c", True)]
    assert decisions[2].consents == ()


def test_candidates_are_the_agents_whose_outputs_are_worth_reading() -> None:
    agents = [
        Rules(id="on"),
        Rules(id="off", enabled=False),
        Rules(id="unconsented", consents=("mail.read",)),
        Rules(id="muted", silenced_in=("sleep",)),
        Rules(id="free", consents=()),
    ]
    found = candidates(agents, granted=frozenset({"calendar.read"}), active_context="sleep")
    assert found == ["on", "free"]


def test_accepts_manifests() -> None:
    manifest = Manifest.model_validate(
        {
            "id": "calendar",
            "version": 3,
            "name": "Calendar",
            "description": "Free slots.",
            "entrypoint": "ml.agents.calendar:CalendarAgent",
            "schedule": {"every": "15m"},
            "ttl": "45m",
            "consents": ["calendar.read"],
        }
    )
    assert one(manifest).eligible


CONSENTS = st.sampled_from(["calendar.read", "tasks.read", "health.read", "mail.read"])


@given(
    required=st.frozensets(CONSENTS, min_size=1),
    granted=st.frozensets(CONSENTS),
    enabled=st.booleans(),
    context=st.none() | st.sampled_from(["vacation", "work"]),
    version=st.integers(min_value=1, max_value=3),
    age_minutes=st.integers(min_value=0, max_value=120),
    suppressed=st.booleans(),
)
def test_an_agent_missing_a_consent_is_never_eligible(
    required: frozenset[str],
    granted: frozenset[str],
    enabled: bool,
    context: str | None,
    version: int,
    age_minutes: int,
    suppressed: bool,
) -> None:
    agent = Rules(consents=tuple(sorted(required)), enabled=enabled)
    suppressions = (Suppression("calendar", "done", "x", None),) if suppressed else ()
    [decision] = decide(
        [agent],
        granted=granted,
        active_context=context,
        outputs={"calendar": output(version=version, age=timedelta(minutes=age_minutes))},
        suppressions=suppressions,
        now=NOW,
    )
    in_candidates = candidates([agent], granted=granted, active_context=context) == ["calendar"]
    if not required <= granted:
        assert not decision.eligible
        assert not in_candidates
    if decision.eligible:
        assert set(decision.consents) == required
