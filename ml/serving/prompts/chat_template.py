"""A prompt version as the chat template the registry stores, and back.

System text first, then each worked example as a user turn and an assistant turn, then the
user template. The answer's shape travels beside it (a tag of the version).
"""

from __future__ import annotations

from typing import Any

from ml.serving.tip.prompt import Example, PromptError, PromptTemplate


def to_chat(template: PromptTemplate) -> list[dict[str, str]]:
    """The chat template MLflow stores: system, the examples' turns, then the user template."""
    turns = [{"role": m.role, "content": m.content} for m in template.turns()]
    return [
        {"role": "system", "content": template.system},
        *turns,
        {"role": "user", "content": template.source},
    ]


def from_chat(name: str, version: str, stored: Any, answer: str = "full") -> PromptTemplate:
    where = f"prompt {name!r} version {version}"
    if not isinstance(stored, list) or not all(isinstance(m, dict) for m in stored):
        raise PromptError(f"{where} is not a chat template")
    roles = [m.get("role") for m in stored]
    contents = [m.get("content") for m in stored]
    middle = roles[1:-1]
    if (
        len(stored) < 2
        or roles[0] != "system"
        or roles[-1] != "user"
        or middle != ["user", "assistant"] * (len(middle) // 2)
        or not all(isinstance(c, str) for c in contents)
    ):
        raise PromptError(f"{where} lacks a system or user message")
    pairs = zip(contents[1:-1:2], contents[2:-1:2], strict=True)
    examples = [Example(str(u), str(a)) for u, a in pairs]
    return PromptTemplate.parse(
        name=name,
        version=version,
        system=str(contents[0]),
        user=str(contents[-1]),
        examples=examples,
        answer=answer,
    )
