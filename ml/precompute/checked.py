"""What an agent run may return: a snippet with its items, and its state, checked and bounded.

Agent code is untrusted. A value of the wrong type, an item the user has hidden, or a
state over its bound is that user's failure (raised here, recorded by the guard); text
that is merely too long is cut, never stored whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml.agents.base import (
    BECAUSE_MAX_CHARS,
    FACTS_MAX_BYTES,
    ITEM_LABEL_MAX_CHARS,
    ITEM_REF_MAX_CHARS,
    ITEMS_MAX,
    SNIPPET_MAX_CHARS,
    STATE_MAX_BYTES,
    SUGGESTION_MAX_CHARS,
    Item,
    Result,
    Snippet,
)

# "<kind or namespace>:<key>": the key is an external id, any printable text.
ITEM_REF = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}:[^\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class Checked:
    snippet: Snippet | None
    state: dict[str, Any] | None
    """The state to store, or None to keep the previous one."""
    truncated: bool


def check_run(
    value: object,
    *,
    hidden: frozenset[str] = frozenset(),
    state_max_bytes: int = STATE_MAX_BYTES,
) -> Checked:
    """Check one run's return value: a Snippet, None, or a Result carrying state."""
    state: dict[str, Any] | None = None
    if isinstance(value, Result):
        if value.state is not None:
            state = check_state(value.state, state_max_bytes)
        value = value.snippet
    snippet, truncated = check_output(value, hidden=hidden)
    return Checked(snippet, state, truncated)


def check_state(value: object, max_bytes: int) -> dict[str, Any]:
    """Return the state as a JSON object within ``max_bytes``, or raise saying why not."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError("state must be a mapping with string keys")
    state = dict(value)
    encoded = json.dumps(state, allow_nan=False, separators=(",", ":"))
    if "\\u0000" in encoded:
        raise ValueError("state must not contain NUL characters")
    size = len(encoded.encode())
    if size > max_bytes:
        raise ValueError(f"state is {size} bytes; this agent's bound is {max_bytes}")
    return state


def check_output(
    value: object, *, hidden: frozenset[str] = frozenset()
) -> tuple[Snippet | None, bool]:
    """Validate an agent's snippet; oversized text is cut, never stored whole."""
    if value is None:
        return None, False
    if not isinstance(value, Snippet):
        raise TypeError(f"agent returned {type(value).__name__}, expected Snippet or None")
    if not isinstance(value.text, str) or not value.text.strip():
        raise TypeError("snippet text must be a non-empty string")
    if value.suggestion is not None and not isinstance(value.suggestion, str):
        raise TypeError("suggestion must be a string or None")
    if value.because is not None and not isinstance(value.because, str):
        raise TypeError("because must be a string or None")
    if any("\x00" in t for t in (value.text, value.suggestion, value.because) if t):
        raise ValueError("snippet text, suggestion and because must not contain NUL characters")
    facts, truncated = _facts(value.facts)
    items, cut = check_items(value.items, hidden)
    text, t1 = _cut(value.text.strip(), SNIPPET_MAX_CHARS)
    suggestion, t2 = _cut(
        value.suggestion.strip() if value.suggestion else "", SUGGESTION_MAX_CHARS
    )
    because = " ".join(value.because.split()).rstrip(".") if value.because else ""
    because, t3 = _cut(because, BECAUSE_MAX_CHARS)
    checked = Snippet(
        text=text,
        suggestion=suggestion or None,
        facts=facts,
        because=because or None,
        items=items,
    )
    return checked, truncated or cut or t1 or t2 or t3


def check_items(value: object, hidden: frozenset[str]) -> tuple[tuple[Item, ...], bool]:
    """Return the snippet's items, first of each ref kept; more than ITEMS_MAX are cut."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError("items must be a list of Item")
    items: dict[str, Item] = {}
    truncated = False
    for item in value:
        if not isinstance(item, Item):
            raise TypeError(f"items must be Item values, got {type(item).__name__}")
        ref, label = item.ref, item.label
        if not isinstance(ref, str) or len(ref) > ITEM_REF_MAX_CHARS or not ITEM_REF.fullmatch(ref):
            raise ValueError(f"item ref {str(ref)[:40]!r} is not <kind>:<key> of at most "
                             f"{ITEM_REF_MAX_CHARS} printable characters")  # fmt: skip
        if ref != ref.strip():
            raise ValueError(f"item ref {ref[:40]!r} starts or ends with a space")
        if ref in hidden:
            raise ValueError(f"mentions item {ref}, which the user finished or hid")
        if not isinstance(label, str) or not " ".join(label.split()):
            raise TypeError(f"item {ref} needs a non-empty label")
        if ref in items:
            continue
        if len(items) == ITEMS_MAX:
            truncated = True
            break
        label, cut = _cut(" ".join(label.split()), ITEM_LABEL_MAX_CHARS)
        truncated |= cut
        items[ref] = Item(ref, label)
    return tuple(items.values()), truncated


def _facts(value: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    facts = dict(value)
    # Strict JSON: NaN, Infinity and NUL are refused here because Postgres refuses them
    # at insert time, which would fail the whole batch instead of this one user.
    encoded = json.dumps(facts, allow_nan=False)  # TypeError/ValueError on non-JSON values
    if "\\u0000" in encoded:
        raise ValueError("facts must not contain NUL characters")
    if len(encoded) > FACTS_MAX_BYTES:
        return {"truncated": True}, True
    return facts, False


def _cut(text: str, limit: int) -> tuple[str, bool]:
    if len(text) > limit:
        return text[: limit - 1] + "…", True
    return text, False
