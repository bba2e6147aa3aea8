"""Fixtures that run the real embedded LLM as a separate process.

Register with ``pytest_plugins = ["tests.llm_fixtures"]``. Tests that use them are
marked ``@pytest.mark.llm``. A process of its own (rather than the in-process server)
lets a test kill it to simulate "LLM down".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bench.llm_process import EmbeddedLLMProcess


@pytest.fixture(scope="session")
def embedded_llm() -> Iterator[EmbeddedLLMProcess]:
    """One embedded LLM server for the whole session. Do not kill it: use
    ``spawn_embedded_llm`` for a server a test may take down."""
    server = EmbeddedLLMProcess.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def embedded_llm_url(embedded_llm: EmbeddedLLMProcess) -> str:
    """Base URL (``http://127.0.0.1:PORT/v1``) of the session's embedded LLM."""
    return embedded_llm.base_url


@pytest.fixture
def spawn_embedded_llm() -> Iterator[Callable[..., EmbeddedLLMProcess]]:
    """A factory of private servers (about 1 s each), all stopped after the test."""
    started: list[EmbeddedLLMProcess] = []

    def spawn(port: int = 0) -> EmbeddedLLMProcess:
        server = EmbeddedLLMProcess.start(port=port)
        started.append(server)
        return server

    yield spawn
    for server in started:
        server.stop()
