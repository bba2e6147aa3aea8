"""The versioned orchestrator prompt and its assembly from profile and snippets."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined, Template, TemplateSyntaxError

from ml.serving.llm.port import Message

# The shipped source, beside the registry code that publishes it (ADR 0014).
DEFAULT_PROMPT = Path(__file__).resolve().parents[1] / "prompts" / "tip-orchestrator.yaml"
_TAG = re.compile(r"</?\s*snippet", re.IGNORECASE)

AnswerShape = Literal["full", "tip"]
"""What the model is asked to answer. ``full``: the tip, the agents it cites and a rationale.
``tip``: the tip alone; its citations are the snippets it shares words with, and its
rationale is composed from their ``because`` clauses (ADR 0023)."""
ANSWER_SHAPES: tuple[str, ...] = get_args(AnswerShape)


class PromptError(ValueError):
    """A prompt source that cannot be used, with the reason a person can act on."""


@dataclass(frozen=True, slots=True)
class Example:
    """A worked example shown to the model before the real request: a user message in the
    template's format and the answer a good tip would be (JSON text)."""

    user: str
    answer: str


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """One version of the orchestrator prompt: a fixed system text and a Jinja user template.

    ``version`` is the registry's version number, or ``file-<digest>`` for a template read
    straight from the repository (the registry was not reachable or not used).
    """

    name: str
    version: str
    system: str
    user: Template = field(compare=False)  # compiled from ``source``, which is compared
    source: str
    examples: tuple[Example, ...] = ()
    answer: AnswerShape = "full"

    @classmethod
    def parse(
        cls,
        *,
        name: str,
        version: str,
        system: str,
        user: str,
        examples: Sequence[Example] = (),
        answer: str = "full",
    ) -> PromptTemplate:
        """Compile and check a template; raise PromptError saying what is wrong."""
        if not system.strip():
            raise PromptError("system: must not be empty")
        if answer not in ANSWER_SHAPES:
            raise PromptError(f"answer: {answer!r} is not one of {', '.join(ANSWER_SHAPES)}")
        env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        try:
            compiled = env.from_string(user)
        except TemplateSyntaxError as exc:
            raise PromptError(f"user: line {exc.lineno}: {exc.message}") from None
        shape: AnswerShape = "tip" if answer == "tip" else "full"
        template = cls(name, version, system.strip(), compiled, user, tuple(examples), shape)
        template._check_renders()
        return template

    @classmethod
    def load(cls, path: Path = DEFAULT_PROMPT) -> PromptTemplate:
        """Read a prompt source file of the repository (see prompts/tip-orchestrator.yaml)."""
        from ml.serving.tip.prompt_source import PromptSource  # it reads the file; this compiles

        source = PromptSource.read(path)
        return cls.parse(
            name=source.name,
            version=source.file_version,
            system=source.system,
            user=source.user,
            examples=source.examples,
            answer=source.answer,
        )

    def turns(self) -> tuple[Message, ...]:
        """The worked examples as the conversation's earlier user and assistant turns."""
        return tuple(
            m
            for e in self.examples
            for m in (Message("user", e.user), Message("assistant", e.answer))
        )

    @property
    def digest(self) -> str:
        """What identifies the text of this version, whatever registry holds it."""
        return source_digest(self.system, self.source, self.examples, self.answer)

    def _check_renders(self) -> None:
        probe = "probe-snippet-9f2c"
        try:
            text = self.user.render(
                now_local="Monday 01 January 2029, 09:00",
                timezone="UTC",
                part_of_day="morning",
                context=None,
                preferences=[("tone", "plain")],
                snippets=[PromptSnippet("probe", probe)],
            )
        except Exception as exc:  # any failure of an operator's template is reported the same
            raise PromptError(f"user: does not render: {exc}") from None
        if probe not in text:
            raise PromptError("user: never writes the snippets (loop over `snippets`)")


def source_digest(
    system: str, user: str, examples: Sequence[Example] = (), answer: str = "full"
) -> str:
    """The text's identity. A version without examples that asks for the full answer keeps
    the digest it had before prompts could carry either."""
    text = f"{system}\x1f{user}"
    if examples or answer != "full":
        extra = {"answer": answer, "examples": [[e.user, e.answer] for e in examples]}
        text += "\x1f" + json.dumps(extra, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PromptSnippet:
    agent_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AssembledPrompt:
    messages: tuple[Message, ...]
    fingerprint: str
    answer: AnswerShape = "full"

    @property
    def text(self) -> str:
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)

    @property
    def sha256(self) -> str:
        """What provenance records and replay checks a rebuilt prompt against."""
        return hashlib.sha256(self.text.encode()).hexdigest()


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


@dataclass(frozen=True, slots=True)
class Frame:
    """Everything a prompt holds besides the snippets."""

    template: PromptTemplate
    now: datetime
    timezone: ZoneInfo
    preferences: Mapping[str, Any]
    context: str | None

    def key(self) -> str:
        """The frame as a key: when it changes, so does every prompt made in it, and a tip
        made in the old one is not served again."""
        local = self.now.astimezone(self.timezone).strftime("%Y-%m-%d %H")
        prefs = json.dumps(self.preferences, sort_keys=True, default=str)
        t = self.template
        return "\x1f".join(
            (t.name, t.version, local, str(self.timezone), self.context or "", prefs)
        )


def assemble(frame: Frame, snippets: Sequence[PromptSnippet]) -> AssembledPrompt:
    """Fill the template. The clock is rounded to the hour so that a tip can be reused
    while nothing it depends on changes."""
    local = frame.now.astimezone(frame.timezone)
    template = frame.template
    user = template.user.render(
        now_local=local.strftime("%A %d %B %Y, %H:00"),
        timezone=str(frame.timezone),
        part_of_day=part_of_day(local),
        context=frame.context,
        preferences=[(k, _short(v)) for k, v in sorted(frame.preferences.items())],
        snippets=[PromptSnippet(s.agent_id, as_data(s.text)) for s in snippets],
    ).strip()
    messages = (Message("system", template.system), *template.turns(), Message("user", user))
    digest = hashlib.sha256(f"{template.name}\x1f{template.version}\x1f{user}".encode())
    return AssembledPrompt(messages, digest.hexdigest()[:32], template.answer)


def _short(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif type(value) is int or (type(value) is float and math.isfinite(value)):
        text = repr(value)  # what json.dumps writes for these, without its machinery
    else:
        text = json.dumps(value, sort_keys=True)
    return as_data(text[:80])


@dataclass(frozen=True, slots=True)
class Arm:
    """What one request uses: the prompt, the model alias, and the variant that chose them."""

    prompt: PromptTemplate
    alias: str
    experiment: str | None = None
    variant: str | None = None
