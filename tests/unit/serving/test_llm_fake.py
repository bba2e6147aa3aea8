"""The fake LLM client that unit tests of the orchestrator rely on."""

from __future__ import annotations

import pytest

from ml.serving.llm.fake import FakeLLM
from ml.serving.llm.port import LLMClient, LLMError, LLMRequest, Message


def request(alias: str = "tip-generator") -> LLMRequest:
    return LLMRequest(
        alias=alias,
        messages=[Message("system", "be brief"), Message("user", "one tip please")],
        json_schema={"type": "object"},
    )


def test_it_satisfies_the_port() -> None:
    assert isinstance(FakeLLM(), LLMClient)


async def test_answers_come_in_order_and_requests_are_recorded() -> None:
    fake = FakeLLM(['{"tip": "first"}'])
    fake.push('{"tip": "second"}')

    first = await fake.complete(request())
    second = await fake.complete(request("judge"))

    assert [first.content, second.content] == ['{"tip": "first"}', '{"tip": "second"}']
    assert [r.alias for r in fake.requests] == ["tip-generator", "judge"]
    assert first.resolved_model == "fake/tip-generator"
    assert first.prompt_tokens == 5 and first.completion_tokens == 2 and first.attempts == 1
    assert fake.pending == 0


async def test_a_queued_error_is_raised() -> None:
    fake = FakeLLM([LLMError("timeout", "slow"), "{}"])

    with pytest.raises(LLMError) as info:
        await fake.complete(request())
    assert info.value.kind == "timeout"
    assert (await fake.complete(request())).content == "{}"
    assert len(fake.requests) == 2


async def test_an_empty_queue_is_an_error_not_a_hang() -> None:
    with pytest.raises(LLMError, match="no answer queued") as info:
        await FakeLLM().complete(request())
    assert info.value.kind == "error"


async def test_known_models_make_unknown_aliases_fail() -> None:
    fake = FakeLLM(["{}"], models={"tip-generator": "ollama_chat/qwen2.5:1.5b"})

    assert fake.resolve("tip-generator") == "ollama_chat/qwen2.5:1.5b"
    with pytest.raises(LLMError) as info:
        await fake.complete(request("poet"))
    assert info.value.kind == "unknown_alias"
    assert fake.pending == 1  # the answer was not consumed


async def test_health_is_settable() -> None:
    fake = FakeLLM(healthy=False)
    assert await fake.health("tip-generator") is False
    fake.healthy = True
    assert await fake.health("tip-generator") is True
