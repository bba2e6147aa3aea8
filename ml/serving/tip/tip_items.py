"""Which items a tip is about: those the model named and the tip shows, else derived.

A small model can be made to pick refs from an enum but not to pick the right ones, so a
named item counts only when the tip's words show it. Without one, the items are those
whose label the tip repeats, else the first item of the first cited snippet: the one its
suggestion, and so the fallback tip, is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ml.serving.tip.answer import content_words
from ml.serving.tip.tip_context import StoredOutput

MAX_TIP_ITEMS = 3


@dataclass(frozen=True, slots=True)
class TipItem:
    agent_id: str
    ref: str
    label: str

    def to_dict(self) -> dict[str, str]:
        return {"agent_id": self.agent_id, "ref": self.ref, "label": self.label}

    @classmethod
    def from_dict(cls, data: Any) -> TipItem:
        return cls(str(data["agent_id"]), str(data["ref"]), str(data["label"]))


def tip_items(
    text: str,
    cited: Sequence[str],
    outputs: Sequence[StoredOutput],
    named: Sequence[str] = (),
) -> list[TipItem]:
    """The items of the cited agents' snippets that the tip ``text`` is about."""
    by_id = {o.agent_id: o for o in outputs}
    candidates = [
        TipItem(agent_id, item.ref, item.label)
        for agent_id in cited
        if agent_id in by_id
        for item in by_id[agent_id].items
    ]
    if not candidates:
        return []
    words = content_words(text)
    shown = [c for c in candidates if _shows(words, c.label)]
    picked = [c for c in shown if c.ref in set(named)] or shown
    if not picked:
        picked = [candidates[0]]
    return list({c.ref: c for c in picked}.values())[:MAX_TIP_ITEMS]


def _shows(words: set[str], label: str) -> bool:
    """The tip repeats most of the label's content words ("Send the Q3 invoice")."""
    wanted = content_words(label)
    if not wanted:
        return False
    return len(wanted & words) * 2 > len(wanted) or wanted <= words
