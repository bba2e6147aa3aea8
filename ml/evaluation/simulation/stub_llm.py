"""A stand-in for the model in simulations: it phrases the first snippet it is shown.

It follows the order the policy gave, as a capable model asked for one tip mostly would,
so a simulation measures the policy and not a small model's whims. It reads the last user
message (the request, not the prompt's worked examples), answers with the first agent the
schema allows and that agent's first sentence, in the shape the schema asks for, and names
no items (the orchestrator derives them).
"""

from __future__ import annotations

import json
import re

from ml.serving.llm.port import LLMError, LLMRequest, LLMResponse

_SNIPPET = re.compile(r'<snippet agent="([^"]+)">\s*(.*?)\s*</snippet>', re.S)
_SENTENCE = re.compile(r"(?<=[.!?])\s")


class StubLLM:
    def resolve(self, alias: str) -> str:
        return f"stub/{alias}"

    async def complete(self, req: LLMRequest) -> LLMResponse:
        properties = (req.json_schema or {}).get("properties") or {}
        if "tip" not in properties:
            raise LLMError("bad_response", "the stub answers tip requests only")
        snippets = dict(_SNIPPET.findall(req.messages[-1].content))
        allowed = (properties.get("agents") or {}).get("items", {}).get("enum") or list(snippets)
        agent = next((a for a in allowed if a in snippets), allowed[0] if allowed else "")
        first = _SENTENCE.split(snippets.get(agent, ""), maxsplit=1)[0][:140]
        answer: dict[str, object] = {"tip": first}
        if "agents" in properties:
            answer |= {"agents": [agent], "rationale": f"From {agent}."}
        content = json.dumps(answer)
        return LLMResponse(content, req.alias, self.resolve(req.alias), 0, 0, 0.0, 1)

    async def health(self, alias: str) -> bool:
        return True

    def prepare(self) -> None:
        return None
