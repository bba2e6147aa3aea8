"""An ``LLMClient`` for unit tests: answers from a queue, remembers every request.

A request for ``n`` answers takes up to ``n`` from the queue."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from ml.serving.llm.port import LLMError, LLMRequest, LLMResponse


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
        more = [self._answers.popleft() for _ in range(min(req.n, len(self._answers) + 1) - 1)]
        choices = (answer, *(a for a in more if isinstance(a, str))) if req.n > 1 else ()
        return LLMResponse(
            content=answer,
            alias=req.alias,
            resolved_model=resolved,
            prompt_tokens=sum(len(m.content.split()) for m in req.messages),
            completion_tokens=len(answer.split()),
            latency_ms=0.0,
            attempts=1,
            choices=choices,
        )

    def prepare(self) -> None:
        return None

    async def health(self, alias: str) -> bool:
        self.resolve(alias)
        return self.healthy
