"""Declarative agents: a manifest's ``template:`` rendered over the user's signals.

Templates come from third parties, so they run in ``ml.agents._sandbox``: no Python
internals, no mutation, bounded values and a bounded amount of work per render. Blocks
are trimmed (``trim_blocks``/``lstrip_blocks``) and a missing variable is an error.

The template sees:

- ``signals``: list of {kind, external_id, payload, occurred_at (ISO, user's local time)},
  oldest first, at most the most recent ``MAX_SIGNALS``; payloads are plain JSON values;
- ``now`` (ISO local datetime), ``today`` (ISO local date);
- ``user``: {user_id, timezone, preferences}; ``params``: the resolved manifest params;
- helpers, as functions or filters: ``days_until(iso)`` (days from today to a date, None
  if unreadable), ``local_time(iso)`` ("14:00") and ``local_date(iso)`` ("2026-05-10"),
  both "" if unreadable.

The text before a line ``---suggestion---`` is the snippet, the text after it the
suggestion; text after a line ``---because---`` is the clause explanations quote after
"Because" ("3 unread articles wait in your reading list"). An empty snippet means the
agent has nothing to say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import TemplateSyntaxError, pass_context
from jinja2.runtime import Context

from ml.agents._format import clip, clock
from ml.agents._payload import aware, in_zone, local_date_or_datetime
from ml.agents._sandbox import SandboxEnvironment, compile_template, render
from ml.agents.base import (
    BECAUSE_MAX_CHARS,
    SNIPPET_MAX_CHARS,
    SUGGESTION_MAX_CHARS,
    AgentInput,
    Item,
    Snippet,
)

MAX_SIGNALS = 200
SUGGESTION_MARKER = "---suggestion---"
BECAUSE_MARKER = "---because---"
ITEMS_MARKER = "---items---"
_TEMPLATE_FILE = "<template>"
# Payloads are user data; these bounds keep what a template can walk over small.
_MAX_VALUE_CHARS = 5_000
_MAX_STRING_CHARS = 2_000
_MAX_KEY_CHARS = 100
_MAX_DEPTH = 6

_LOCAL: ContextVar[tuple[ZoneInfo, date]] = ContextVar("template_local")


class TemplateError(Exception):
    """A template that does not compile or fails to render; ``lineno`` is 1-based."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno


class TemplateAgent:
    def __init__(self, source: str, *, agent_id: str) -> None:
        self.agent_id = agent_id
        env = SandboxEnvironment()
        env.add_helper("days_until", _days_until)
        env.add_helper("local_time", _local_time)
        env.add_helper("local_date", _local_date)
        try:
            self._template = compile_template(env, source)
        except TemplateSyntaxError as error:
            raise TemplateError(error.message or str(error), error.lineno) from error
        except JinjaTemplateError as error:
            raise TemplateError(str(error)) from error

    def compute(self, inp: AgentInput) -> Snippet | None:
        token = _LOCAL.set((inp.user.timezone, inp.today))
        try:
            rendered = render(self._template, _context(inp))
        except Exception as error:  # any failure of third-party code is this agent's error
            raise TemplateError(_describe(error), _template_line(error)) from error
        finally:
            _LOCAL.reset(token)
        text, suggestion, because, items = _split(rendered)
        if not text:
            return None
        return Snippet(
            text=clip(text, SNIPPET_MAX_CHARS),
            suggestion=clip(suggestion, SUGGESTION_MAX_CHARS) if suggestion else None,
            facts={"signals_read": min(len(inp.signals), MAX_SIGNALS)},
            because=clip(because, BECAUSE_MAX_CHARS) if because else None,
            items=items,
        )


def _split(rendered: str) -> tuple[str, str, str, tuple[Item, ...]]:
    """Separate the snippet text from the optional suggestion, because and items sections.

    Each line of the items section is ``<ref> <label>``.
    """
    markers = (SUGGESTION_MARKER, BECAUSE_MARKER, ITEMS_MARKER)
    sections: dict[str, list[str]] = {"": [], **{marker: [] for marker in markers}}
    current = ""
    for line in rendered.splitlines():
        if line.strip() in sections:
            current = line.strip()
            continue
        sections[current].append(line)

    def joined(marker: str) -> str:
        return " ".join(" ".join(sections[marker]).split())

    items = tuple(
        Item(ref, label.strip())
        for ref, _, label in (line.strip().partition(" ") for line in sections[ITEMS_MARKER])
        if ref
    )
    text = "\n".join(sections[""]).strip()
    return text, joined(SUGGESTION_MARKER), joined(BECAUSE_MARKER), items


def _context(inp: AgentInput) -> dict[str, Any]:
    tz = inp.user.timezone
    ordered = sorted(inp.signals, key=lambda s: (aware(s.occurred_at), s.kind, s.external_id))[
        -MAX_SIGNALS:
    ]
    return {
        "signals": [
            {
                "kind": signal.kind,
                "external_id": signal.external_id,
                "payload": _plain(signal.payload) if isinstance(signal.payload, Mapping) else {},
                "occurred_at": (
                    in_zone(signal.occurred_at, tz) or aware(signal.occurred_at)
                ).isoformat(),
            }
            for signal in ordered
        ],
        "now": inp.local_now.isoformat(timespec="seconds"),
        "today": inp.today.isoformat(),
        "user": {
            "user_id": inp.user.user_id,
            "timezone": tz.key,
            "preferences": _plain(inp.user.preferences),
        },
        "params": _plain(inp.params),
        "state": _plain(inp.state),
        "closed": sorted(inp.closed)[:MAX_SIGNALS],
        "hidden": sorted(inp.hidden)[:MAX_SIGNALS],
    }


def _plain(value: Any) -> Any:
    """A bounded copy made of JSON values only, so templates never reach Python objects."""
    return _PlainCopy(_MAX_VALUE_CHARS).copy(value, 0)


class _PlainCopy:
    """Copies one value, dropping whatever comes after its character allowance runs out."""

    def __init__(self, allowance: int) -> None:
        self.left = allowance

    def copy(self, value: Any, depth: int) -> Any:
        if self.left <= 0 or value is None:
            return None
        if isinstance(value, bool | int):
            self.left -= value.bit_length() // 3 + 4
            return value
        if isinstance(value, float):
            self.left -= 24
            return value if math.isfinite(value) else None
        if isinstance(value, str):
            kept = value[: min(self.left, _MAX_STRING_CHARS)]
            self.left -= len(kept) + 2
            return kept
        if depth >= _MAX_DEPTH:
            return None
        if isinstance(value, Mapping):
            copied: dict[str, Any] = {}
            for key, item in value.items():
                if self.left <= 0:
                    break
                if isinstance(key, str):
                    name = key[:_MAX_KEY_CHARS]
                    self.left -= len(name) + 2
                    copied[name] = self.copy(item, depth + 1)
            return copied
        if isinstance(value, list | tuple):
            items: list[Any] = []
            for item in value:
                if self.left <= 0:
                    break
                items.append(self.copy(item, depth + 1))
            return items
        return None


def _describe(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "template recursion is too deep"
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return f"{type(error).__name__}: {message}"


def _template_line(error: BaseException) -> int | None:
    """The template line a render error came from, as Jinja maps it in the traceback."""
    lineno: int | None = getattr(error, "lineno", None)
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            lineno = traceback.tb_lineno
        traceback = traceback.tb_next
    return lineno


# pass_context keeps Jinja from calling the helpers at compile time, before _LOCAL is set.
@pass_context
def _days_until(context: Context, value: object) -> int | None:
    tz, today = _LOCAL.get()
    parsed = local_date_or_datetime(value, tz)
    return None if parsed is None else (parsed[0] - today).days


@pass_context
def _local_time(context: Context, value: object) -> str:
    tz, _ = _LOCAL.get()
    parsed = local_date_or_datetime(value, tz)
    return "" if parsed is None or parsed[1] is None else clock(parsed[1])


@pass_context
def _local_date(context: Context, value: object) -> str:
    tz, _ = _LOCAL.get()
    parsed = local_date_or_datetime(value, tz)
    return "" if parsed is None else parsed[0].isoformat()
