"""Protobuf events: generated code matches the schemas, released messages stay compatible."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from nudge_infra.events.bus import Event
from nudge_infra.events.codec import MESSAGE_TYPES, decode, encode, subject_of
from nudge_infra.events.outbox import Topic
from nudge_infra.events.pb import events_pb2 as pb
from nudge_infra.events.proto_gen import OUT, RELEASED, descriptor_set, generate, incompatibilities

AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
# One payload per topic, as the code that writes the outbox builds them.
PAYLOADS = {
    Topic.SIGNALS_INGESTED: {"user_id": "u1", "kinds": ["task", "habit"], "count": 3},
    Topic.AGENT_OUTPUTS_WRITTEN: {"agent_id": "tasks", "agent_version": 2, "users": ["u1", "u2"]},
    Topic.TIP_SERVED: {"tip_id": "t1", "user_id": "u1", "agents": ["tasks"], "fallback": True},
    Topic.TIP_FEEDBACK: {
        "tip_id": "t1",
        "user_id": "u1",
        "reaction": "snooze",
        "snooze_until": "2026-11-21T12:00:00+00:00",
    },
    Topic.CONSENT_CHANGED: {
        "user_id": "u1",
        "key": "calendar.read",
        "granted": False,
        "outputs_deleted": 2,
    },
    Topic.USER_DELETED: {"user_id": "u1"},
}


def test_generated_code_matches_the_schemas(tmp_path: Path) -> None:
    for fresh in generate(tmp_path):
        committed = OUT / fresh.name
        assert fresh.read_bytes() == committed.read_bytes(), (
            f"{committed} is stale: run python -m nudge_infra.events.proto_gen"
        )


def test_the_schemas_are_compatible_with_the_last_release() -> None:
    assert incompatibilities(RELEASED.read_bytes(), descriptor_set()) == []


def _released_with(change: str) -> bytes:
    """The current descriptor, edited as a careless change would edit the schema."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set())
    messages = {m.name: m for m in files.file[0].message_type}
    served = messages["TipServed"]
    if change == "remove":
        del served.field[-1]
    elif change == "renumber":
        served.field[1].number = 12
    elif change == "retype":
        served.field[1].type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
    elif change == "drop message":
        files.file[0].message_type.remove(messages["UserDeleted"])
    return files.SerializeToString()


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        ("remove", "TipServed.fallback (field 5) was removed"),
        ("renumber", "TipServed.tip_id (field 2) was removed"),
        ("retype", "TipServed.tip_id (field 2) changed its type"),
        ("drop message", "nudge.events.v1.UserDeleted was removed"),
    ],
)
def test_breaking_a_released_message_is_reported(change: str, reported: str) -> None:
    # Released = today's schema; current = the edited one.
    problems = incompatibilities(descriptor_set(), _released_with(change))
    assert any(reported in p for p in problems), problems


def test_adding_a_field_is_allowed() -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set())
    served = next(m for m in files.file[0].message_type if m.name == "TipServed")
    served.field.add(
        name="score",
        number=6,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    assert incompatibilities(descriptor_set(), files.SerializeToString()) == []


@pytest.mark.parametrize("topic", sorted(PAYLOADS))
def test_every_topic_round_trips(topic: str) -> None:
    event = Event(42, topic, "u1", PAYLOADS[topic], AT)
    message = decode(subject_of(topic), encode(event))
    assert isinstance(message, MESSAGE_TYPES[topic])
    assert message.meta.event_id == 42  # type: ignore[attr-defined]
    assert message.meta.occurred_at.ToDatetime(tzinfo=UTC) == AT  # type: ignore[attr-defined]
    assert subject_of(topic) == f"nudge.events.{topic}"


def test_feedback_fields_survive_the_wire() -> None:
    event = Event(1, Topic.TIP_FEEDBACK, "u1", PAYLOADS[Topic.TIP_FEEDBACK], AT)
    message = decode(subject_of(event.topic), encode(event))
    assert isinstance(message, pb.TipFeedbackReceived)
    assert message.reaction == pb.TipFeedbackReceived.SNOOZE
    assert message.snooze_until.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 21, 12, tzinfo=UTC)
    done = Event(
        2,
        Topic.TIP_FEEDBACK,
        "u1",
        {**PAYLOADS[Topic.TIP_FEEDBACK], "reaction": "done", "snooze_until": None},
        AT,
    )
    parsed = decode(subject_of(done.topic), encode(done))
    assert isinstance(parsed, pb.TipFeedbackReceived)
    assert parsed.reaction == pb.TipFeedbackReceived.DONE and not parsed.HasField("snooze_until")


def test_unknown_topics_are_refused() -> None:
    with pytest.raises(ValueError, match="no protobuf message"):
        encode(Event(1, "weather.changed", "u1", {}, AT))
