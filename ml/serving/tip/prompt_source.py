"""A prompt file of the repository, read and checked: what `nudge prompts push` registers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ml.serving.tip.prompt import ANSWER_SHAPES, Example, PromptError, source_digest

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FIELDS = frozenset({"name", "description", "system", "user", "answer", "examples"})
_ANSWER_KEYS = {"full": {"tip", "agents", "rationale"}, "tip": {"tip"}}
MAX_EXAMPLES = 6


@dataclass(frozen=True, slots=True)
class PromptSource:
    name: str
    description: str
    system: str
    user: str
    answer: str = "full"
    examples: tuple[Example, ...] = ()

    @classmethod
    def read(cls, path: Path) -> PromptSource:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PromptError(f"{path}: cannot be read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise PromptError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(raw, dict):
            raise PromptError(f"{path}: expected a mapping with name, system and user")
        unknown = sorted(set(raw) - _FIELDS)
        if unknown:
            raise PromptError(f"{path}: unknown field(s) {', '.join(unknown)}")
        for key in ("name", "system", "user"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise PromptError(f"{path}: {key}: required text")
        if not _NAME.fullmatch(raw["name"]):
            raise PromptError(f"{path}: name: use letters, digits, '.', '_' or '-' (≤ 64)")
        answer = raw.get("answer", "full")
        if answer not in ANSWER_SHAPES:
            raise PromptError(f"{path}: answer: one of {', '.join(ANSWER_SHAPES)}, not {answer!r}")
        examples = _examples(path, raw.get("examples"), answer)
        return cls(
            raw["name"], str(raw.get("description") or ""), raw["system"], raw["user"],
            answer, examples,
        )  # fmt: skip

    @property
    def file_version(self) -> str:
        digest = source_digest(self.system.strip(), self.user, self.examples, self.answer)
        return "file-" + digest[:8]


def _examples(path: Path, raw: Any, answer: str) -> tuple[Example, ...]:
    """Each example is a user message and the answer of the prompt's shape, as a mapping."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_EXAMPLES:
        raise PromptError(f"{path}: examples: a list of at most {MAX_EXAMPLES} examples")
    examples = []
    for i, item in enumerate(raw):
        where = f"{path}: examples[{i}]"
        if not isinstance(item, dict) or set(item) != {"user", "answer"}:
            raise PromptError(f"{where}: needs exactly `user` (text) and `answer` (a mapping)")
        user, reply = item["user"], item["answer"]
        if not isinstance(user, str) or not user.strip():
            raise PromptError(f"{where}.user: required text")
        if not isinstance(reply, dict) or set(reply) != _ANSWER_KEYS[answer]:
            keys = ", ".join(sorted(_ANSWER_KEYS[answer]))
            raise PromptError(f"{where}.answer: a `{answer}` answer has exactly: {keys}")
        if not isinstance(reply.get("tip"), str) or not reply["tip"].strip():
            raise PromptError(f"{where}.answer.tip: required text")
        examples.append(Example(user.strip(), json.dumps(reply, ensure_ascii=False)))
    return tuple(examples)
