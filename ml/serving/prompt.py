"""The versioned orchestrator prompt and its assembly from profile and snippets."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, StrictUndefined, Template

from ml.serving.llm import Message

DEFAULT_PROMPT = Path(__file__).resolve().parent / "prompts" / "tip-orchestrator.yaml"
_TAG = re.compile(r"</?\s*snippet", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    name: str
    version: str
    system: str
    user: Template

    @classmethod
    def load(cls, path: Path = DEFAULT_PROMPT) -> PromptTemplate:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        return cls(
            name=str(raw["name"]),
            version=str(raw["version"]),
            system=str(raw["system"]).strip(),
            user=env.from_string(str(raw["user"])),
        )


@dataclass(frozen=True, slots=True)
class PromptSnippet:
    agent_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AssembledPrompt:
    messages: tuple[Message, ...]
    fingerprint: str

    @property
    def text(self) -> str:
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)


def as_data(text: str) -> str:
    """Neutralise anything in a snippet that could close or open a snippet block."""
    return _TAG.sub(lambda m: m.group(0).replace("<", "‹"), text)


def part_of_day(local: datetime) -> str:
    hour = local.hour
    if hour < 5:
        return "night"
    if hour < 12:
        return "morning"
    if hour < 18:
        return "afternoon"
    return "evening" if hour < 22 else "night"


def assemble(
    template: PromptTemplate,
    *,
    now: datetime,
    timezone: ZoneInfo,
    preferences: Mapping[str, Any],
    context: str | None,
    snippets: Sequence[PromptSnippet],
) -> AssembledPrompt:
    """Fill the template. The clock is rounded to the hour so that a tip can be reused
    while nothing it depends on changes."""
    local = now.astimezone(timezone)
    user = template.user.render(
        now_local=local.strftime("%A %d %B %Y, %H:00"),
        timezone=str(timezone),
        part_of_day=part_of_day(local),
        context=context,
        preferences=[(k, _short(v)) for k, v in sorted(preferences.items())],
        snippets=[PromptSnippet(s.agent_id, as_data(s.text)) for s in snippets],
    ).strip()
    messages = (Message("system", template.system), Message("user", user))
    digest = hashlib.sha256(f"{template.name}\x1f{template.version}\x1f{user}".encode())
    return AssembledPrompt(messages, digest.hexdigest()[:32])


def _short(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif type(value) is int or (type(value) is float and math.isfinite(value)):
        text = repr(value)  # what json.dumps writes for these, without its machinery
    else:
        text = json.dumps(value, sort_keys=True)
    return as_data(text[:80])
