"""The LiteLLM adapter against the real embedded llama.cpp server (SmolLM2-135M)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from ml.serving.llm.embedded_server import EmbeddedLLM
from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import load_model_list
from ml.serving.llm.port import LLMRequest, Message

pytestmark = pytest.mark.llm

REPO = Path(__file__).resolve().parents[3]
AGENTS = ["tasks", "calendar"]
TIP_SCHEMA = {
    "type": "object",
    "properties": {
        "tip": {"type": "string", "minLength": 10, "maxLength": 140},
        "agents": {
            "type": "array",
            "items": {"type": "string", "enum": AGENTS},
            "minItems": 1,
            "maxItems": 2,
        },
        "rationale": {"type": "string", "maxLength": 100},
    },
    "required": ["tip", "agents", "rationale"],
    "additionalProperties": False,
}
PROMPT = [
    Message("system", "Write one short, actionable tip. Answer with JSON only."),
    Message(
        "user",
        "<<<agent:tasks>>>\nSend the Q3 budget review to Marta, due today 17:00.\n<<<end>>>\n"
        "<<<agent:calendar>>>\nFree from 13:00 to 14:30; 1:1 with Lena at 15:00.\n<<<end>>>\n"
        "It is 12:40. Write one tip and cite the agents you used.",
    ),
]


@pytest.fixture(scope="module")
def client(embedded_llm_url: str) -> LiteLLMClient:
    models = load_model_list(
        REPO / "config" / "litellm.yaml", substitutions={"embedded_llm": embedded_llm_url}
    )
    return LiteLLMClient(models)


async def test_schema_call_returns_json_matching_the_schema(client: LiteLLMClient) -> None:
    # Greedy decoding keeps the test deterministic; max_tokens covers the schema's
    # worst case (1 token per character of both strings plus the JSON around them).
    request = LLMRequest(
        alias="tip-generator",
        messages=PROMPT,
        json_schema=TIP_SCHEMA,
        schema_name="tip",
        max_tokens=300,
        temperature=0.0,
        timeout_s=30,
    )
    response = await client.complete(request)

    answer = json.loads(response.content)
    assert set(answer) == {"tip", "agents", "rationale"}
    assert 10 <= len(answer["tip"]) <= 140
    assert len(answer["rationale"]) <= 100
    assert 1 <= len(answer["agents"]) <= 2
    assert set(answer["agents"]) <= set(AGENTS)
    assert response.alias == "tip-generator"
    assert response.resolved_model == "openai/smollm2-135m-instruct"
    assert response.prompt_tokens > 50
    assert 0 < response.completion_tokens <= 300
    assert response.attempts == 1
    assert response.latency_ms > 0


async def test_health_of_a_running_server(client: LiteLLMClient) -> None:
    assert await client.health("tip-generator") is True


def test_embedder_alias_has_an_embeddings_endpoint(embedded_llm_url: str) -> None:
    body = {"model": "smollm2-135m-instruct", "input": ["water the plants"]}
    response = httpx.post(f"{embedded_llm_url}/embeddings", json=body, timeout=10)

    assert response.status_code == 200
    assert len(response.json()["data"][0]["embedding"]) == 576


def test_in_process_server_frees_its_port_on_stop() -> None:
    llm = EmbeddedLLM(port=0, parallel=1, ctx_size=1024)
    llm.start(timeout=30)
    port = int(llm.base_url.rsplit(":", 1)[1].removesuffix("/v1"))
    assert llm.running
    assert httpx.get(f"{llm.base_url}/models", timeout=5).status_code == 200

    llm.stop()

    assert not llm.running
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass
    again = EmbeddedLLM(port=port, parallel=1, ctx_size=1024)  # the same port binds again
    again.start(timeout=30)
    again.stop()
