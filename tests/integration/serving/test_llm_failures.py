"""How the LiteLLM adapter fails, for real: a dead server, a hung one, and no stray traffic."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import load_model_list
from ml.serving.llm.port import LLMError, LLMRequest, Message

if TYPE_CHECKING:  # a pytest plugin (tests/conftest.py); imported here for typing only
    from tests.llm_fixtures import EmbeddedLLMProcess

pytestmark = pytest.mark.llm

REPO = Path(__file__).resolve().parents[3]
SCHEMA = {
    "type": "object",
    "properties": {"tip": {"type": "string", "maxLength": 60}},
    "required": ["tip"],
    "additionalProperties": False,
}


def client_for(base_url: str) -> LiteLLMClient:
    models = load_model_list(
        REPO / "config" / "litellm.yaml", substitutions={"embedded_llm": base_url}
    )
    client = LiteLLMClient(models)
    client.prepare()  # keep LiteLLM's import time out of the measurements
    return client


def tip_request(timeout_s: float, retries: int = 1) -> LLMRequest:
    return LLMRequest(
        alias="tip-generator",
        messages=[Message("user", "One tip about water, as JSON.")],
        json_schema=SCHEMA,
        max_tokens=40,
        timeout_s=timeout_s,
        retries=retries,
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hung_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


async def test_nothing_listening_fails_fast_as_unreachable() -> None:
    client = client_for(f"http://127.0.0.1:{closed_port()}/v1")

    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        await client.complete(tip_request(timeout_s=10, retries=1))
    elapsed = time.monotonic() - started

    assert info.value.kind == "unreachable"
    assert info.value.attempts == 2  # one retry, then give up
    assert elapsed < 1.5
    assert await client.health("tip-generator") is False


async def test_a_killed_server_fails_fast_as_unreachable(
    spawn_embedded_llm: Callable[[], EmbeddedLLMProcess],
) -> None:
    server = spawn_embedded_llm()
    client = client_for(server.base_url)
    # Free text for the warm-up: only that the server answers matters here, and a
    # 135M model may run a JSON answer past max_tokens.
    warm_up = replace(tip_request(timeout_s=30), json_schema=None)
    assert (await client.complete(warm_up)).content

    server.kill()
    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        await client.complete(tip_request(timeout_s=10))

    assert info.value.kind == "unreachable"
    assert time.monotonic() - started < 1.5


async def test_a_hung_server_times_out_within_the_deadline(hung_server: int) -> None:
    client = client_for(f"http://127.0.0.1:{hung_server}/v1")

    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        await client.complete(tip_request(timeout_s=1.5, retries=1))
    elapsed = time.monotonic() - started

    assert info.value.kind == "timeout"
    assert 1.4 <= elapsed <= 2.5  # the deadline covers retries too


# Run in a fresh interpreter: the audit hook must be in place before anything is imported.
AUDIT_SCRIPT = """
import asyncio, sys
from pathlib import Path

attempts = []

def audit(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        attempts.append(("connect", str(args[1][0])))
    elif event == "socket.getaddrinfo":
        attempts.append(("resolve", str(args[0])))

sys.addaudithook(audit)

from ml.serving.llm.litellm_client import LiteLLMClient

from ml.serving.llm.port import LLMError, LLMRequest, Message

from ml.serving.llm.model_list import load_model_list

def client(url):
    return LiteLLMClient(load_model_list(Path(sys.argv[1]), substitutions={"embedded_llm": url}))

async def main():
    req = LLMRequest(alias="tip-generator", messages=[Message("user", "hi")],
                     json_schema=None, max_tokens=5, timeout_s=20)
    await client(sys.argv[2]).complete(req)
    try:
        await client("http://127.0.0.1:9/v1").complete(req)
    except LLMError:
        pass

asyncio.run(main())
stray = sorted({a for a in attempts if a[1] not in {"127.0.0.1", "localhost", "::1"}})
print("STRAY", stray)
print("CONNECTS", sum(1 for kind, _ in attempts if kind == "connect"))
"""


def test_no_outbound_connection_on_import_or_call(embedded_llm_url: str) -> None:
    """Import the port, make a real call, fail one call: only loopback is ever dialled."""
    config = str(REPO / "config" / "litellm.yaml")
    out = subprocess.run(
        [sys.executable, "-c", AUDIT_SCRIPT, config, embedded_llm_url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    assert "STRAY []" in out.stdout, out.stdout
    assert "CONNECTS 0" not in out.stdout  # the hook did see the loopback calls


class _CountingServer:
    """An OpenAI-compatible stub that answers every chat call and counts TCP connections."""

    def __init__(self) -> None:
        import http.server
        import json

        peers: set[tuple[str, int]] = set()
        self.peers = peers

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                peers.add(self.client_address)
                body = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "stub",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": '{"tip": "Drink"}'},
                            }
                        ],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_calls_reuse_one_connection() -> None:
    """A new SDK client per call would open a new connection per tip (and keep the old)."""
    import asyncio

    server = _CountingServer()
    try:
        client = client_for(server.base_url)

        async def five() -> list[str]:
            return [(await client.complete(tip_request(5.0))).content for _ in range(5)]

        answers = asyncio.run(five())
    finally:
        server.close()
    assert answers == ['{"tip": "Drink"}'] * 5
    assert len(server.peers) == 1, f"{len(server.peers)} connections for 5 calls"
