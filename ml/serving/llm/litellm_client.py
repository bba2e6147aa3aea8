"""The LLM port: typed request and answer, the LiteLLM adapter, and a fake for unit tests.

Code asks for an alias (``tip-generator``, ``judge``, ``embedder``), never a model name.
The aliases live in one YAML file in LiteLLM's own ``model_list`` format, read by
``load_model_list``. LiteLLM is imported lazily, inside the adapter only: importing this
module has no side effects and opens no connection.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import os
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ml.registry.yamlsource import node_line

Role = Literal["system", "user", "assistant"]
LLMErrorKind = Literal["timeout", "unreachable", "bad_response", "unknown_alias", "error"]

_RETRYABLE: frozenset[LLMErrorKind] = frozenset({"timeout", "unreachable"})
_MIN_ATTEMPT_S = 0.25  # never start a retry with less time than this left
_BACKOFF_S = 0.1


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


# --- configuration: LiteLLM's model_list format ---------------------------------------


class LiteLLMParams(BaseModel):
    """``litellm_params`` of one entry; keys other than these pass through to LiteLLM."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="provider/model, e.g. openai/x")
    api_base: str | None = None
    api_key: str | None = None

    def call_kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1, description="the alias code uses")
    litellm_params: LiteLLMParams
    model_info: dict[str, Any] = Field(default_factory=dict)


class ModelList(BaseModel):
    """The parsed file. Only ``model_list`` is read: global LiteLLM settings would be
    process-wide state, so they are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

    model_list: list[ModelEntry] = Field(min_length=1)

    @field_validator("model_list")
    @classmethod
    def _unique_aliases(cls, entries: list[ModelEntry]) -> list[ModelEntry]:
        seen: set[str] = set()
        for entry in entries:
            if entry.model_name in seen:
                raise ValueError(
                    f"model_name {entry.model_name!r} appears twice; "
                    "keep one entry per alias (Nudge does not load-balance)"
                )
            seen.add(entry.model_name)
        return entries

    @property
    def aliases(self) -> list[str]:
        return [e.model_name for e in self.model_list]

    def entry(self, alias: str) -> ModelEntry:
        for entry in self.model_list:
            if entry.model_name == alias:
                return entry
        raise LLMError(
            "unknown_alias",
            f"no model_name {alias!r} in the LiteLLM config; known: {', '.join(self.aliases)}",
        )


class ModelListError(ValueError):
    """The LiteLLM config file is unusable; the message names file, line, field and fix."""


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_model_list(path: Path, *, substitutions: Mapping[str, str]) -> ModelList:
    """Read a LiteLLM ``model_list`` YAML file, filling ``{name}`` placeholders.

    ``{embedded_llm}`` is the usual one: the embedded server's base URL, known only
    once its port is, so one file works whatever port the server got.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelListError(f"{path}: cannot read the LiteLLM config ({exc})") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ModelListError(f"{where}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelListError(f"{path}:1: expected a mapping with a `model_list:` key")

    problems: list[str] = []
    filled = _substitute(data, (), substitutions, problems, path, root)
    try:
        models = ModelList.model_validate(filled)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{path}:{node_line(root, loc)}: {field}: {err['msg']}")
    if problems:
        raise ModelListError("\n".join(problems))
    return models


def _substitute(
    value: Any,
    loc: tuple[str | int, ...],
    subs: Mapping[str, str],
    problems: list[str],
    path: Path,
    root: yaml.Node | None,
) -> Any:
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in subs:
                field = ".".join(str(p) for p in loc)
                problems.append(
                    f"{path}:{node_line(root, loc)}: {field}: no value for {{{name}}} "
                    f"(known placeholders: {', '.join(sorted(subs)) or 'none'})"
                )
                return match.group(0)
            return subs[name]

        return _PLACEHOLDER.sub(fill, value)
    if isinstance(value, dict):
        return {k: _substitute(v, (*loc, k), subs, problems, path, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*loc, i), subs, problems, path, root) for i, v in enumerate(value)]
    return value


def knows(llm: LLMClient, alias: str) -> bool:
    """Whether ``alias`` is a model of the client's ``model_list``."""
    try:
        llm.resolve(alias)
    except LLMError:
        return False
    return True


# --- the LiteLLM adapter ---------------------------------------------------------------


@functools.cache
def _litellm() -> Any:
    """Import LiteLLM offline and quiet; the only place that touches it."""
    # Without this, importing litellm fetches its model cost map from GitHub.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    # Imported as Any: LiteLLM's annotations are partial, and it stays behind this port.
    litellm: Any = importlib.import_module("litellm")

    litellm.telemetry = False  # a no-op on releases that dropped telemetry
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    litellm.turn_off_message_logging = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return litellm


class LiteLLMClient:
    """``LLMClient`` over ``litellm.acompletion``, configured by a ``ModelList``."""

    def __init__(self, models: ModelList, *, health_timeout_s: float = 2.0) -> None:
        self._models = models
        self._health_timeout_s = health_timeout_s

    def prepare(self) -> None:
        """Import LiteLLM now (about 2 s) so that the first request does not wait for it."""
        _litellm()

    def resolve(self, alias: str) -> str:
        return self._models.entry(alias).litellm_params.model

    async def complete(self, req: LLMRequest) -> LLMResponse:
        entry = self._models.entry(req.alias)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + req.timeout_s
        attempts = 0
        while True:
            attempts += 1
            remaining = deadline - loop.time()
            try:
                async with asyncio.timeout(remaining):
                    raw = await self._call(entry, req)
                latency_ms = (loop.time() - started) * 1000
                return _to_response(raw, req, entry, latency_ms, attempts)
            except LLMError as exc:
                error = exc
            except TimeoutError as exc:
                error = LLMError("timeout", f"no answer within {req.timeout_s:g}s")
                error.__cause__ = exc
            except Exception as exc:  # LiteLLM raises many unrelated types
                error = _classify(exc)
                error.__cause__ = exc
            error.attempts = attempts
            left = deadline - loop.time()
            if (
                error.kind in _RETRYABLE
                and attempts <= req.retries
                and left > _BACKOFF_S + _MIN_ATTEMPT_S
            ):
                await asyncio.sleep(_BACKOFF_S)
                continue
            raise error

    async def _call(self, entry: ModelEntry, req: LLMRequest) -> Any:
        kwargs: dict[str, Any] = entry.litellm_params.call_kwargs()
        kwargs.update(
            messages=[{"role": m.role, "content": m.content} for m in req.messages],
            max_tokens=req.max_tokens,
            temperature=req.temperature,
            # The request's whole timeout, a constant: LiteLLM keys its cached SDK client
            # (and its connection pool) on it, so a per-attempt remainder built a new client
            # and a new connection for every tip (~40 ms each). The deadline is enforced
            # around the call.
            timeout=req.timeout_s,
            # Retries are ours (bounded by the deadline): the OpenAI SDK's default two
            # retries with backoff turned a 2 s timeout into 7 s.
            max_retries=0,
            num_retries=0,
            # Providers that lack an option get the call without it, not an exception;
            # a missing JSON mode still shows up as an unparseable answer.
            drop_params=True,
        )
        if req.json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": req.schema_name,
                    "schema": json.loads(json.dumps(req.json_schema)),
                    "strict": True,
                },
            }
        return await _litellm().acompletion(**kwargs)

    async def health(self, alias: str) -> bool:
        """Whether the model server behind ``alias`` answers, within a short timeout."""
        params = self._models.entry(alias).litellm_params
        url = _health_url(params)
        if url is None:
            probe = LLMRequest(
                alias=alias,
                messages=[Message("user", "ping")],
                json_schema=None,
                max_tokens=1,
                timeout_s=self._health_timeout_s,
                retries=0,
            )
            try:
                await self.complete(probe)
            except LLMError:
                return False
            return True
        headers = {"Authorization": f"Bearer {params.api_key}"} if params.api_key else {}
        try:
            async with httpx.AsyncClient(timeout=self._health_timeout_s, trust_env=False) as client:
                response = await client.get(url, headers=headers)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def _health_url(params: LiteLLMParams) -> str | None:
    if not params.api_base:
        return None
    base = params.api_base.rstrip("/")
    provider = params.model.split("/", 1)[0]
    if provider in ("ollama", "ollama_chat"):
        return f"{base}/api/tags"
    return f"{base}/models"  # OpenAI-compatible servers: llama.cpp, vLLM, LiteLLM proxy


def _to_response(
    raw: Any, req: LLMRequest, entry: ModelEntry, latency_ms: float, attempts: int
) -> LLMResponse:
    try:
        choice = raw.choices[0]
        content = choice.message.content
        finish = getattr(choice, "finish_reason", None)
    except (AttributeError, IndexError, TypeError) as exc:
        raise LLMError("bad_response", f"no choices in the answer ({exc})") from exc
    if not isinstance(content, str) or not content.strip():
        raise LLMError("bad_response", f"empty answer (finish_reason={finish})")
    if req.json_schema is not None:
        try:
            json.loads(content)
        except ValueError as exc:
            raise LLMError(
                "bad_response",
                f"answer is not JSON (finish_reason={finish}; raise max_tokens or shorten "
                f"the schema's maxLength if 'length'): {content[:120]!r}",
            ) from exc
    usage = getattr(raw, "usage", None)
    return LLMResponse(
        content=content,
        alias=req.alias,
        resolved_model=entry.litellm_params.model,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        latency_ms=latency_ms,
        attempts=attempts,
    )


def _classify(exc: BaseException) -> LLMError:
    """Map whatever LiteLLM raised to an ``LLMError`` by walking the cause chain.

    LiteLLM's own class is not enough: a refused connection surfaces as
    ``litellm.InternalServerError`` wrapping ``openai.APIConnectionError``.
    """
    names: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    summary = f"{type(exc).__name__}: {str(exc)[:300]}"
    # litellm.Timeout, openai.APITimeoutError, httpx.ReadTimeout, aiohttp's *TimeoutError...
    if any(n.endswith(("Timeout", "TimeoutError")) for n in names):
        return LLMError("timeout", summary)
    unreachable = {
        "APIConnectionError",
        "ConnectError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "RemoteProtocolError",
        "ServerDisconnectedError",
        "ClientConnectorError",
        "ServiceUnavailableError",
    }
    if any(n in unreachable for n in names):
        return LLMError("unreachable", summary)
    return LLMError("error", summary)


# --- the fake ---------------------------------------------------------------------------


class FakeLLM:
    """An ``LLMClient`` for unit tests: answers from a queue, remembers every request."""

    def __init__(
        self,
        answers: Iterable[str | LLMError] = (),
        *,
        models: Mapping[str, str] | None = None,
        healthy: bool = True,
    ) -> None:
        self._answers: deque[str | LLMError] = deque(answers)
        self._models = dict(models) if models is not None else None
        self.healthy = healthy
        self.requests: list[LLMRequest] = []

    def push(self, *answers: str | LLMError) -> None:
        self._answers.extend(answers)

    @property
    def pending(self) -> int:
        return len(self._answers)

    def resolve(self, alias: str) -> str:
        if self._models is None:
            return f"fake/{alias}"
        if alias not in self._models:
            raise LLMError("unknown_alias", f"no model_name {alias!r} in the fake's models")
        return self._models[alias]

    async def complete(self, req: LLMRequest) -> LLMResponse:
        self.requests.append(req)
        resolved = self.resolve(req.alias)
        if not self._answers:
            raise LLMError("error", "FakeLLM has no answer queued; push() one")
        answer = self._answers.popleft()
        if isinstance(answer, LLMError):
            raise answer
        return LLMResponse(
            content=answer,
            alias=req.alias,
            resolved_model=resolved,
            prompt_tokens=sum(len(m.content.split()) for m in req.messages),
            completion_tokens=len(answer.split()),
            latency_ms=0.0,
            attempts=1,
        )

    def prepare(self) -> None:
        return None

    async def health(self, alias: str) -> bool:
        self.resolve(alias)
        return self.healthy
