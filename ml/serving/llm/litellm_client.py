"""The LiteLLM adapter: ``LLMClient`` over ``litellm.acompletion``.

LiteLLM is imported lazily, inside this adapter only: importing this module has no side
effects and opens no connection.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import os
from typing import Any

import httpx

from ml.serving.llm.model_list import LiteLLMParams, ModelEntry, ModelList
from ml.serving.llm.port import LLMError, LLMErrorKind, LLMRequest, LLMResponse, Message

_RETRYABLE: frozenset[LLMErrorKind] = frozenset({"timeout", "unreachable"})
# A backup alias is asked when the model is down or failing, not when it answered badly.
_FALL_BACK_ON: frozenset[LLMErrorKind] = frozenset({"timeout", "unreachable", "error"})


_MIN_ATTEMPT_S = 0.25  # never start a retry with less time than this left


_BACKOFF_S = 0.1


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
        """Ask ``req.alias``; when it is down, its fallbacks (``router_settings``) in order,
        each with the request's whole timeout. The answer names the model that gave it."""
        entry = self._models.entry(req.alias)
        try:
            return await self._complete(entry, req)
        except LLMError as error:
            if error.kind not in _FALL_BACK_ON:
                raise
            for backup in self._models.fallbacks(req.alias):
                try:
                    return await self._complete(self._models.entry(backup), req)
                except LLMError as failed:
                    if failed.kind not in _FALL_BACK_ON:
                        raise
            raise

    async def _complete(self, entry: ModelEntry, req: LLMRequest) -> LLMResponse:
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
        if req.n > 1:
            kwargs["n"] = req.n
        if req.seed is not None:
            kwargs["seed"] = req.seed
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
        answers = [(c.message.content, getattr(c, "finish_reason", None)) for c in raw.choices]
    except (AttributeError, TypeError) as exc:
        raise LLMError("bad_response", f"no choices in the answer ({exc})") from exc
    usable = [text for text, _ in answers if isinstance(text, str) and text.strip()]
    if req.json_schema is not None:
        usable = [text for text in usable if _is_json(text)]
    if not usable:
        content, finish = answers[0] if answers else (None, None)
        if not isinstance(content, str) or not content.strip():
            raise LLMError("bad_response", f"empty answer (finish_reason={finish})")
        raise LLMError(
            "bad_response",
            f"answer is not JSON (finish_reason={finish}; raise max_tokens or shorten "
            f"the schema's maxLength if 'length'): {content[:120]!r}",
        )
    usage = getattr(raw, "usage", None)
    return LLMResponse(
        content=usable[0],
        alias=req.alias,
        resolved_model=entry.litellm_params.model,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        latency_ms=latency_ms,
        attempts=attempts,
        choices=tuple(usable) if req.n > 1 else (),
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


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
