"""The context a tip is made from: the user's stored outputs with the policy's counts, and
the suppressions and item marks that hide some of them. Read on the driver's cursor, in
the tip path's one round trip (see nudge_infra.storage.driver)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ml.registry.eligibility import OutputRef, Suppression
from ml.serving.tip.policy import Credit
from nudge_infra.storage.driver import Reader, Statement


@dataclass(frozen=True, slots=True)
class OutputItem:
    ref: str
    label: str


@dataclass(frozen=True, slots=True)
class StoredOutput:
    agent_id: str
    agent_version: int
    snippet: str
    suggestion: str | None
    because: str | None
    snippet_hash: str
    computed_at: datetime
    expires_at: datetime
    items: tuple[OutputItem, ...] = ()
    params_stored: Any = None
    """The ``params`` column as read: decoded only for the tips' provenance."""
    credit: Credit = field(default_factory=Credit)
    """The user's reactions to this agent's tips."""
    population: Credit = field(default_factory=Credit)
    """Everyone's reactions to this agent's tips."""

    @property
    def params(self) -> dict[str, Any]:
        """Each param the run used: its value and where it came from."""
        value = self.params_stored
        if isinstance(value, str | bytes):  # SQLite hands JSON back as text
            value = json.loads(value)
        return dict(value) if isinstance(value, dict) else {}

    def ref(self) -> OutputRef:
        return OutputRef(
            self.agent_id,
            self.agent_version,
            self.snippet_hash,
            self.computed_at,
            self.expires_at,
            tuple(i.ref for i in self.items),
        )


# The policy's counts come with the outputs, in the same statement.
_OUTPUTS = Statement(
    """
    SELECT o.agent_id, o.agent_version, o.snippet, o.suggestion, o.because, o.snippet_hash,
           o.computed_at, o.expires_at, o.items, o.params,
           c.served, c.done, c.dismissed, c.snoozed, c.ignored,
           p.served, p.done, p.dismissed, p.snoozed, p.ignored
    FROM agent_outputs o
    LEFT JOIN agent_credit c ON c.user_id = o.user_id AND c.agent_id = o.agent_id
    LEFT JOIN agent_population p ON p.agent_id = o.agent_id
    WHERE o.user_id = ?
    """
)
# Snippet-level suppressions and item marks, in one statement: a mark has a ref and no
# snippet hash.
_SUPPRESSIONS = Statement(
    """
    SELECT agent_id, kind, snippet_hash, until, NULL FROM suppressions
    WHERE user_id = ? AND (until IS NULL OR until > ?)
    UNION ALL
    SELECT agent_id, kind, NULL, until, ref FROM item_marks
    WHERE user_id = ? AND (until IS NULL OR until > ?)
    """
)


def read_outputs(reader: Reader, user_id: str, agent_ids: Sequence[str]) -> dict[str, StoredOutput]:
    """The stored outputs of the candidate agents."""
    if not agent_ids:
        return {}
    wanted = set(agent_ids)
    c = reader.codec
    found: dict[str, StoredOutput] = {}
    for row in reader.all(_OUTPUTS, (user_id,)):
        agent_id, version, snippet, suggestion, because, digest, computed, expires = row[:8]
        if agent_id not in wanted:
            continue
        items = c.json_out(row[8]) if row[8] not in (None, "[]") else ()
        found[agent_id] = StoredOutput(
            agent_id,
            version,
            snippet,
            suggestion,
            because,
            digest,
            c.time_out(computed),
            c.time_out(expires),
            tuple(OutputItem(i["ref"], i["label"]) for i in items),
            row[9],
            _credit(row[10:15]),
            _credit(row[15:20]),
        )
    return found


_NO_CREDIT = Credit()


def _credit(counts: Sequence[Any]) -> Credit:
    if counts[0] is None:  # no row: nobody reacted to this agent yet
        return _NO_CREDIT
    served, done, dismissed, snoozed, ignored = (int(n) if n and n > 0 else 0 for n in counts)
    return Credit(served, done, dismissed, snoozed, ignored)


def read_suppressions(
    reader: Reader, user_id: str, now: datetime
) -> tuple[list[Suppression], frozenset[str]]:
    """The user's active snippet suppressions, and the refs of the items they hid."""
    c = reader.codec
    at = c.time_in(now)
    suppressions, hidden = [], set()
    for agent_id, kind, digest, until, ref in reader.all(_SUPPRESSIONS, (user_id, at, user_id, at)):
        if ref is not None:
            hidden.add(ref)
        else:
            suppressions.append(Suppression(agent_id, kind, digest, c.time_or_none(until)))
    return suppressions, frozenset(hidden)
