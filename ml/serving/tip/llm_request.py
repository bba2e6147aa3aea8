"""The LLM request for a tip, and the reading of its answer: shared by the orchestrator
and replay, so a replayed tip is asked and checked exactly as it was first made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from ml.serving.llm.port import LLMClient, LLMError, LLMRequest
from ml.serving.tip.answer import Answer, answer_schema, parse_answer
from ml.serving.tip.prompt import AssembledPrompt


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


def tip_request(
    prompt: AssembledPrompt,
    eligible_ids: list[str],
    *,
    alias: str,
    config: GenerationConfig,
    item_refs: Sequence[str] = (),
) -> LLMRequest:
    """The LLM request for a tip: the answer's JSON schema allows only the agents (and
    items) that are in the prompt."""
    return LLMRequest(
        alias=alias,
        messages=prompt.messages,
        json_schema=answer_schema(eligible_ids, item_refs),
        schema_name="tip",
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        timeout_s=config.timeout_s,
        retries=config.retries,
    )


def read_answer(content: str, snippets: Mapping[str, str], prompt: AssembledPrompt) -> Answer:
    """Validate the model's answer against the eligible snippets; a tip that repeats the
    prompt's system text, or has a time or number the user message lacks, is refused.
    Raises InvalidAnswer."""
    return parse_answer(
        content,
        snippets,
        forbidden=[prompt.messages[0].content[:60]],
        shown=prompt.messages[-1].content,
    )


def resolved_model(llm: LLMClient, alias: str) -> str:
    """The model behind ``alias``, or "unresolved" when the LLM config does not know it."""
    try:
        return llm.resolve(alias)
    except LLMError:
        return "unresolved"
