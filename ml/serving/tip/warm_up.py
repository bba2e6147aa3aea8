"""Warm the model at start: it reads the prompt's fixed start before the first tip."""

from __future__ import annotations

import asyncio
import logging

from ml.serving.llm.port import LLMClient, LLMRequest, Message
from ml.serving.tip.llm_request import GenerationConfig
from ml.serving.tip.prompt import PromptTemplate

log = logging.getLogger(__name__)


async def warm_up(
    llm: LLMClient, template: PromptTemplate, config: GenerationConfig, *, slots: int = 2
) -> bool:
    """Send the system text and the worked examples once per server slot, at once.

    llama.cpp keeps each slot's prompt prefix, so the first tips do not pay for it, and it
    gives a request the idle slot whose prefix matches best. Two slots, not all four: each
    warmed slot costs the whole prefix on two cores, and four outlasted the timeout.
    """
    request = LLMRequest(
        alias=config.alias,
        messages=(Message("system", template.system), *template.turns(), Message("user", "Ready?")),
        json_schema=None,
        max_tokens=1,
        temperature=0,
        timeout_s=config.timeout_s,
        retries=0,
    )
    results = await asyncio.gather(
        *(llm.complete(request) for _ in range(slots)), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        log.warning("LLM warm-up failed (%s); the first tip will be slower", failed[0])
    return not failed
