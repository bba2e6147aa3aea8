"""Rebuild a stored tip's prompt from its provenance, and ask a model again."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ml.serving.llm.port import LLMClient
from ml.serving.tip.answer import Answer
from ml.serving.tip.guarded_call import GuardedCall
from ml.serving.tip.llm_request import (
    GenerationConfig,
    prompt_seed,
    read_answer,
    resolved_model,
    tip_request,
    write_tip,
)
from ml.serving.tip.prompt import AssembledPrompt, Frame, PromptSnippet, PromptTemplate, assemble
from ml.serving.tip.tip_store import StoredTip


class ReplayError(ValueError):
    """The stored record cannot be replayed; the message says why."""


@dataclass(frozen=True, slots=True)
class Rebuilt:
    prompt: AssembledPrompt
    snippets: dict[str, str]
    identical: bool
    """True when the text matches the recorded prompt's SHA-256 exactly."""
    item_refs: list[str] = field(default_factory=list)
    """The refs the answer schema offered the model."""
    because: dict[str, str | None] = field(default_factory=dict)
    """The shown agents' reasons, from which a ``tip`` answer's rationale is composed."""


@dataclass(frozen=True, slots=True)
class Rerun:
    prompt_version: str
    alias: str
    resolved_model: str
    answer: Answer | None
    error: str | None
    llm_ms: float
    prompt_tokens: int
    completion_tokens: int


def rebuild(tip: StoredTip, template: PromptTemplate) -> Rebuilt:
    """Assemble ``template`` over exactly what the tip's prompt was assembled from."""
    p = tip.provenance
    inputs = p.get("inputs")
    eligible = p.get("eligible", [])
    if inputs is None or any("snippet" not in e for e in eligible):
        raise ReplayError(
            f"tip {tip.tip_id} was recorded before prompts could be rebuilt (no inputs stored)"
        )
    try:
        now = datetime.fromisoformat(inputs["now"])
        timezone = ZoneInfo(inputs["timezone"])
    except (KeyError, ValueError, ZoneInfoNotFoundError) as exc:
        raise ReplayError(f"tip {tip.tip_id}: unreadable inputs ({exc})") from None
    # Only what went into the prompt (all eligible snippets, for tips made before the
    # policy chose among them), in the order it was given.
    shown = [e for e in eligible if e.get("in_prompt", True)]
    snippets = {e["agent_id"]: e["snippet"] for e in shown}
    frame = Frame(template, now, timezone, inputs.get("preferences", {}), p.get("context"))
    prompt = assemble(frame, [PromptSnippet(agent_id, text) for agent_id, text in snippets.items()])
    recorded = p.get("prompt", {}).get("sha256")
    identical = prompt.sha256 == recorded
    items = [ref for e in shown for ref in e.get("items", [])]
    because = {c["agent_id"]: c.get("because") for c in p.get("cited", []) if "agent_id" in c}
    return Rebuilt(prompt, snippets, identical, items, because)


async def rerun(
    rebuilt: Rebuilt,
    *,
    llm: LLMClient,
    alias: str,
    config: GenerationConfig,
    prompt_version: str,
) -> Rerun:
    """Ask ``alias`` for the tip again, at temperature 0, and validate the answer as served."""
    request = tip_request(
        rebuilt.prompt,
        list(rebuilt.snippets),
        alias=alias,
        config=replace(config, temperature=0.0, retries=0),
        item_refs=rebuilt.item_refs,
        snippets=list(rebuilt.snippets.values()),
    )
    started = time.perf_counter()
    written = await write_tip(
        GuardedCall(llm, None, config.timeout_s),
        request,
        candidates=config.candidates_for(alias),
        temperature=config.candidate_temperature,
        read=lambda content: read_answer(
            content, rebuilt.snippets, rebuilt.prompt, rebuilt.because
        ),
        seed=prompt_seed(rebuilt.prompt),
    )
    llm_ms = (time.perf_counter() - started) * 1000
    response = written.response
    if response is None:
        return Rerun(
            prompt_version, alias, resolved_model(llm, alias), None, written.error, llm_ms, 0, 0
        )
    error = None if written.answer is not None else f"invalid answer: {written.error}"
    return Rerun(
        prompt_version,
        alias,
        response.resolved_model,
        written.answer,
        error,
        llm_ms,
        response.prompt_tokens,
        response.completion_tokens,
    )
