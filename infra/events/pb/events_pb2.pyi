import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Meta(_message.Message):
    __slots__ = ("event_id", "occurred_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SignalsIngested(_message.Message):
    __slots__ = ("meta", "user_id", "kinds", "count")
    META_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    user_id: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    count: int
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., user_id: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., count: _Optional[int] = ...) -> None: ...

class AgentOutputWritten(_message.Message):
    __slots__ = ("meta", "agent_id", "agent_version", "user_ids")
    META_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    agent_id: str
    agent_version: int
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., agent_id: _Optional[str] = ..., agent_version: _Optional[int] = ..., user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TipServed(_message.Message):
    __slots__ = ("meta", "tip_id", "user_id", "agents", "fallback")
    META_FIELD_NUMBER: _ClassVar[int]
    TIP_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    tip_id: str
    user_id: str
    agents: _containers.RepeatedScalarFieldContainer[str]
    fallback: bool
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., tip_id: _Optional[str] = ..., user_id: _Optional[str] = ..., agents: _Optional[_Iterable[str]] = ..., fallback: _Optional[bool] = ...) -> None: ...

class TipFeedbackReceived(_message.Message):
    __slots__ = ("meta", "tip_id", "user_id", "reaction", "snooze_until")
    class Reaction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        REACTION_UNSPECIFIED: _ClassVar[TipFeedbackReceived.Reaction]
        DONE: _ClassVar[TipFeedbackReceived.Reaction]
        SNOOZE: _ClassVar[TipFeedbackReceived.Reaction]
        DISMISS: _ClassVar[TipFeedbackReceived.Reaction]
    REACTION_UNSPECIFIED: TipFeedbackReceived.Reaction
    DONE: TipFeedbackReceived.Reaction
    SNOOZE: TipFeedbackReceived.Reaction
    DISMISS: TipFeedbackReceived.Reaction
    META_FIELD_NUMBER: _ClassVar[int]
    TIP_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    SNOOZE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    tip_id: str
    user_id: str
    reaction: TipFeedbackReceived.Reaction
    snooze_until: _timestamp_pb2.Timestamp
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., tip_id: _Optional[str] = ..., user_id: _Optional[str] = ..., reaction: _Optional[_Union[TipFeedbackReceived.Reaction, str]] = ..., snooze_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConsentChanged(_message.Message):
    __slots__ = ("meta", "user_id", "key", "granted", "outputs_deleted")
    META_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_DELETED_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    user_id: str
    key: str
    granted: bool
    outputs_deleted: int
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., user_id: _Optional[str] = ..., key: _Optional[str] = ..., granted: _Optional[bool] = ..., outputs_deleted: _Optional[int] = ...) -> None: ...

class UserDeleted(_message.Message):
    __slots__ = ("meta", "user_id")
    META_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    user_id: str
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...
