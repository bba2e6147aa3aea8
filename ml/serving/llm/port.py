"""The LLM port: typed request and answer, and the protocol every client implements.

Code asks for an alias (``tip-generator``, ``judge``, ``embedder``), never a model name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


LLMErrorKind = Literal["timeout", "unreachable", "bad_response", "unknown_alias", "error"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One completion. ``timeout_s`` bounds the whole call, retries included."""

    alias: str
    messages: Sequence[Message]
    json_schema: Mapping[str, Any] | None
    schema_name: str = "answer"
    max_tokens: int = 256
    temperature: float = 0.2
    timeout_s: float = 10.0
    retries: int = 1
    n: int = 1
    """How many answers to sample in one call (a server without it answers once)."""
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class LLMResponse:
    """The model's text (valid JSON when the request had a schema) and its cost."""

    content: str
    alias: str
    resolved_model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    attempts: int
    choices: tuple[str, ...] = ()
    """Every answer of a call with ``n`` > 1, in the server's order (``content`` first)."""

    @property
    def candidates(self) -> tuple[str, ...]:
        return self.choices or (self.content,)


class LLMError(Exception):
    """A failed completion, classified so callers can choose a fallback."""

    def __init__(self, kind: LLMErrorKind, message: str = "", *, attempts: int = 1) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind: LLMErrorKind = kind
        self.message = message
        self.attempts = attempts


@runtime_checkable
class LLMClient(Protocol):
    async def complete(self, req: LLMRequest) -> LLMResponse: ...

    def resolve(self, alias: str) -> str:
        """The model name behind ``alias`` (for provenance)."""
        ...

    async def health(self, alias: str) -> bool: ...

    def prepare(self) -> None:
        """Do slow one-time set-up now, at start, rather than on the first request."""
        ...


def knows(llm: LLMClient, alias: str) -> bool:
    """Whether ``alias`` is a model of the client's ``model_list``."""
    try:
        llm.resolve(alias)
    except LLMError:
        return False
    return True
