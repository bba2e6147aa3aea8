"""Outbox rows as protobuf messages on their JetStream subjects (package nudge.events.v1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from nudge_infra.events.bus import Event
from nudge_infra.events.outbox import Topic
from nudge_infra.events.pb import events_pb2 as pb

SUBJECT_PREFIX = "nudge.events."


def subject_of(topic: str) -> str:
    """``tip.served`` → ``nudge.events.tip.served``."""
    if topic not in _BUILDERS:
        raise ValueError(f"no protobuf message for topic {topic!r}")
    return SUBJECT_PREFIX + topic


def encode(event: Event) -> bytes:
    """The event's protobuf message, serialized."""
    try:
        build = _BUILDERS[event.topic]
    except KeyError:
        raise ValueError(f"no protobuf message for topic {event.topic!r}") from None
    meta = pb.Meta(event_id=event.id, occurred_at=_timestamp(event.created_at))
    return build(meta, event.payload).SerializeToString()


def decode(subject: str, data: bytes) -> Message:
    """The message of ``subject`` parsed from ``data`` (for consumers and tests)."""
    topic = subject.removeprefix(SUBJECT_PREFIX)
    message = MESSAGE_TYPES[topic]()
    message.ParseFromString(data)
    return message


def _timestamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def _optional_timestamp(value: Any) -> Timestamp | None:
    return _timestamp(datetime.fromisoformat(value)) if value else None


_REACTIONS = {
    "done": pb.TipFeedbackReceived.DONE,
    "snooze": pb.TipFeedbackReceived.SNOOZE,
    "dismiss": pb.TipFeedbackReceived.DISMISS,
}

_BUILDERS: dict[str, Callable[[pb.Meta, dict[str, Any]], Message]] = {
    Topic.SIGNALS_INGESTED: lambda m, p: pb.SignalsIngested(
        meta=m, user_id=p["user_id"], kinds=p["kinds"], count=p["count"]
    ),
    Topic.AGENT_OUTPUTS_WRITTEN: lambda m, p: pb.AgentOutputWritten(
        meta=m, agent_id=p["agent_id"], agent_version=p["agent_version"], user_ids=p["users"]
    ),
    Topic.TIP_SERVED: lambda m, p: pb.TipServed(
        meta=m,
        tip_id=p["tip_id"],
        user_id=p["user_id"],
        agents=p["agents"],
        fallback=p["fallback"],
    ),
    Topic.TIP_FEEDBACK: lambda m, p: pb.TipFeedbackReceived(
        meta=m,
        tip_id=p["tip_id"],
        user_id=p["user_id"],
        reaction=_REACTIONS[p["reaction"]],
        snooze_until=_optional_timestamp(p.get("snooze_until")),
    ),
    Topic.CONSENT_CHANGED: lambda m, p: pb.ConsentChanged(
        meta=m,
        user_id=p["user_id"],
        key=p["key"],
        granted=p["granted"],
        outputs_deleted=p["outputs_deleted"],
    ),
    Topic.USER_DELETED: lambda m, p: pb.UserDeleted(meta=m, user_id=p["user_id"]),
}

MESSAGE_TYPES: dict[str, type[Message]] = {
    Topic.SIGNALS_INGESTED: pb.SignalsIngested,
    Topic.AGENT_OUTPUTS_WRITTEN: pb.AgentOutputWritten,
    Topic.TIP_SERVED: pb.TipServed,
    Topic.TIP_FEEDBACK: pb.TipFeedbackReceived,
    Topic.CONSENT_CHANGED: pb.ConsentChanged,
    Topic.USER_DELETED: pb.UserDeleted,
}
