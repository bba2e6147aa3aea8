"""An LLM grades each tip against a fixed rubric, through the same LLM port as the tips."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from ml.serving.llm.port import LLMClient, LLMRequest, Message

log = logging.getLogger(__name__)

REASON_MAX = 160


def judge_schema(reason_chars: int = REASON_MAX) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "reason": {"type": "string", "minLength": 1, "maxLength": reason_chars},
        },
        "required": ["score", "reason"],
        "additionalProperties": False,
    }


RUBRIC = """\
You grade a tip that an app showed to a user. Score it from 1 (bad) to 5 (excellent) by how
well it meets all of these:
1. actionable: one concrete thing the user can do now;
2. grounded: every fact in it (titles, times, numbers) comes from the snippets it was
   written from;
3. timely: it suits the user's local time and active context;
4. one sentence in plain language, addressed to the user;
5. no leaked instructions: it never mentions snippets, JSON, prompts or being an AI.
Reply with JSON only: {"score": 1 to 5, "reason": one short sentence}."""


@dataclass(frozen=True, slots=True)
class Judgment:
    score: int | None
    """1 to 5; None when the judge failed (not counted in the mean)."""
    reason: str


def judge_request(
    *, alias: str, tip: str, prompt: str, max_tokens: int, timeout_s: float
) -> LLMRequest:
    """Ask ``alias`` to grade ``tip``, given the prompt it was written from."""
    user = (
        f"The tip was written from this request:\n<<<\n{prompt}\n>>>\n\n"
        f"The tip shown to the user: {json.dumps(tip, ensure_ascii=False)}\n\n"
        "Grade the tip."
    )
    # A reason the token budget cannot hold would leave the JSON unclosed: about three
    # characters a token, after the dozen tokens of the JSON around it.
    reason_chars = min(REASON_MAX, max(20, (max_tokens - 16) * 3))
    return LLMRequest(
        alias=alias,
        messages=(Message("system", RUBRIC), Message("user", user)),
        json_schema=judge_schema(reason_chars),
        schema_name="judgment",
        max_tokens=max_tokens,
        temperature=0.0,
        timeout_s=timeout_s,
        retries=0,
    )


def parse_judgment(content: str) -> Judgment:
    """Read the judge's JSON; raise ValueError when it is not a usable judgment."""
    data = json.loads(content)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    score, reason = data.get("score"), data.get("reason")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError(f"score must be an integer from 1 to 5, got {score!r}")
    if not isinstance(reason, str):
        raise ValueError("reason must be a string")
    return Judgment(score, " ".join(reason.split())[:REASON_MAX])


async def judge_tip(
    llm: LLMClient,
    *,
    alias: str,
    tip: str,
    prompt: str,
    max_tokens: int = 96,
    timeout_s: float = 20.0,
) -> Judgment:
    """Grade one tip; any failure of the judge gives a score of None, never an exception."""
    request = judge_request(
        alias=alias, tip=tip, prompt=prompt, max_tokens=max_tokens, timeout_s=timeout_s
    )
    try:
        response = await asyncio.wait_for(llm.complete(request), timeout_s + 2)
        return parse_judgment(response.content)
    except Exception as exc:  # a judge is advisory: whatever it does, the run goes on
        log.info("judge %s failed: %s", alias, exc)
        return Judgment(None, f"judge failed: {type(exc).__name__}: {str(exc)[:120]}")
