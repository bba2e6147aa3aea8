"""The LLM request for a tip, and the reading of its answer: shared by the orchestrator
and replay, so a replayed tip is asked and checked exactly as it was first made.

A small model's first answer is often refused. When the alias allows it, the model is then
asked once more for several answers in one call (best-of-n: the server samples them side by
side), and the first of those that validation accepts is kept (ADR 0023).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from ml.serving.llm.port import LLMClient, LLMError, LLMRequest, LLMResponse
from ml.serving.tip.answer import (
    Answer,
    InvalidAnswer,
    answer_schema,
    composed_rationale,
    parse_answer,
)
from ml.serving.tip.facts import extract_facts
from ml.serving.tip.prompt import AssembledPrompt

# No second call after a first one that left less than this of its timeout: the model is
# too slow right now for two.
_MIN_SECOND_CALL_S = 1.0


@dataclass(frozen=True, slots=True)
class GenerationConfig:
    alias: str = "tip-generator"
    timeout_s: float = 10.0
    retries: int = 1
    max_tokens: int = 280
    temperature: float = 0.2
    retry_failed_after: timedelta = timedelta(minutes=2)
    """How long a fallback caused by the LLM is served again before the LLM is retried.
    Retrying on every poll turned a slow or failing model into a queue of doomed calls."""
    candidates: Mapping[str, int] = field(default_factory=dict)
    """Per alias, how many answers to sample at once after a refused first answer (the
    LiteLLM config's ``model_info.candidates``; 1, the default, asks once)."""
    candidate_temperature: float = 0.7

    def candidates_for(self, alias: str) -> int:
        return max(1, self.candidates.get(alias, 1))


Call = Callable[[LLMRequest], Awaitable[tuple[LLMResponse | None, str | None, str | None]]]
"""Ask the model; return the response, or None with a fallback reason and an error."""


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of asking for a tip: an accepted answer, or why there is none."""

    answer: Answer | None
    response: LLMResponse | None
    reason: str | None
    error: str | None
    asked: int = 0
    """Answers the model gave, over every call."""
    chosen: int | None = None
    """Which of them was kept (0: the first answer)."""
    refused: tuple[str, ...] = ()
    """Why each answer before the kept one was refused."""

    def record(self) -> dict[str, object]:
        return {"asked": self.asked, "chosen": self.chosen, "refused": list(self.refused)}


Vet = Callable[[Answer], Awaitable[str | None]]
"""A second look at an answer that passed validation: a reason to refuse it, or None."""


def tip_request(
    prompt: AssembledPrompt,
    eligible_ids: list[str],
    *,
    alias: str,
    config: GenerationConfig,
    item_refs: Sequence[str] = (),
    snippets: Sequence[str] = (),
) -> LLMRequest:
    """The LLM request for a tip: the answer's JSON schema allows only the agents (and
    items) that are in the prompt; a one-sentence answer names a fact of ``snippets``."""
    facts = [f.label for text in snippets for f in extract_facts(text)]
    return LLMRequest(
        alias=alias,
        messages=prompt.messages,
        json_schema=answer_schema(eligible_ids, item_refs, shape=prompt.answer, facts=facts),
        schema_name="tip",
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        timeout_s=config.timeout_s,
        retries=config.retries,
    )


def read_answer(
    content: str,
    snippets: Mapping[str, str],
    prompt: AssembledPrompt,
    because: Mapping[str, str | None] | None = None,
) -> Answer:
    """Validate the model's answer against the eligible snippets; a tip that repeats the
    prompt's system text, or has a time or number the user message lacks, is refused.
    A ``tip`` answer gets its rationale from the cited agents' ``because``.
    Raises InvalidAnswer."""
    answer = parse_answer(
        content,
        snippets,
        forbidden=[prompt.messages[0].content[:60]],
        shown=prompt.messages[-1].content,
        shape=prompt.answer,
    )
    if prompt.answer == "tip":
        answer = replace(answer, rationale=composed_rationale(answer.agents, because or {}))
    return answer


async def write_tip(
    call: Call,
    request: LLMRequest,
    *,
    candidates: int,
    temperature: float,
    read: Callable[[str], Answer],
    seed: int,
    vet: Vet | None = None,
) -> Written:
    """Ask once; when that answer is refused, ask for ``candidates`` more in one call
    (``seed`` makes them repeatable), unless the first call used up nearly all its time.
    ``vet`` may refuse an answer that ``read`` accepted (a near-repeat), with its reason."""
    started = time.monotonic()
    response, reason, error = await call(request)
    if response is None:
        return Written(None, None, reason, error)
    written = await _first_valid(response, read, vet, asked_before=0, refused=())
    left = request.timeout_s - (time.monotonic() - started)
    if written.answer is not None or candidates < 2 or left < _MIN_SECOND_CALL_S:
        return written
    # The second call keeps the request's timeout: LiteLLM keys its pooled client on it.
    more = replace(request, n=candidates, temperature=temperature, seed=seed, retries=0)
    second, _, _ = await call(more)
    if second is None:  # the first answer's refusal stands; the breaker saw the failure
        return written
    return await _first_valid(
        second, read, vet, asked_before=written.asked, refused=written.refused
    )


async def _first_valid(
    response: LLMResponse,
    read: Callable[[str], Answer],
    vet: Vet | None,
    *,
    asked_before: int,
    refused: tuple[str, ...],
) -> Written:
    reasons = list(refused)
    for i, content in enumerate(response.candidates):
        try:
            answer = read(content)
        except InvalidAnswer as exc:
            reasons.append(str(exc))
            continue
        vetoed = None if vet is None else await vet(answer)
        if vetoed is not None:
            reasons.append(vetoed)
            continue
        return Written(
            answer, response, None, None, asked_before + i + 1, asked_before + i, tuple(reasons)
        )
    asked = asked_before + len(response.candidates)
    return Written(None, response, "invalid_answer", reasons[-1], asked, None, tuple(reasons))


def prompt_seed(prompt: AssembledPrompt) -> int:
    """The candidates' seed: the same prompt samples the same candidates (replay)."""
    return int(prompt.fingerprint[:8] or "0", 16)


def resolved_model(llm: LLMClient, alias: str) -> str:
    """The model behind ``alias``, or "unresolved" when the LLM config does not know it."""
    try:
        return llm.resolve(alias)
    except LLMError:
        return "unresolved"
