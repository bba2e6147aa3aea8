"""An LLM client that remembers what it was asked: the evidence of what reached a prompt."""

from __future__ import annotations

from ml.serving.llm.port import LLMClient, LLMRequest, LLMResponse


class RecordingLLM:
    """An ``LLMClient`` that keeps every request, then passes it to the real client."""

    def __init__(self, inner: LLMClient) -> None:
        self.inner = inner
        self.requests: list[LLMRequest] = []

    def take(self) -> list[LLMRequest]:
        """The requests recorded since the last call, forgetting them."""
        taken, self.requests = self.requests, []
        return taken

    async def complete(self, req: LLMRequest) -> LLMResponse:
        self.requests.append(req)
        return await self.inner.complete(req)

    def resolve(self, alias: str) -> str:
        return self.inner.resolve(alias)

    async def health(self, alias: str) -> bool:
        return await self.inner.health(alias)

    def prepare(self) -> None:
        self.inner.prepare()
