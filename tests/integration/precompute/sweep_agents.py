"""Misbehaving agents for the precompute, outbox and CLI tests; test manifests name this module.

Each agent misbehaves only for users whose id starts with a marker (``fail``, ``hang``,
``odd``...), so one sweep shows both the victim and the users who must not notice.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import yaml

from ml.agents.base import SNIPPET_MAX_CHARS, SUGGESTION_MAX_CHARS, AgentInput, Result, Snippet

MODULE = __name__
PACKAGES = ("ml.agents", MODULE)

SEEN: list[tuple[str, str]] = []
"""(agent class, user id) of every compute call, in order; tests clear it."""

RELEASE = threading.Event()
"""Set it to end a hanging run; until then it hangs for HANG_S."""
HANG_S = 30.0


def echo(inp: AgentInput, agent: str) -> Snippet:
    """A snippet that shows what the agent was given: the clock, the params, the signals."""
    SEEN.append((agent, inp.user.user_id))
    return Snippet(
        text=f"hello {inp.user.user_id}",
        suggestion=f"Say hello to {inp.user.user_id}.",
        facts={"now": inp.now.isoformat(), "params": dict(inp.params), "signals": len(inp.signals)},
    )


class EchoAgent:
    """Says hello; says nothing when its ``mute`` param is true."""

    def compute(self, inp: AgentInput) -> Snippet | None:
        if inp.params.get("mute"):
            SEEN.append(("EchoAgent", inp.user.user_id))
            return None
        return echo(inp, "EchoAgent")


class FailingAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        if inp.user.user_id.startswith("fail"):
            raise RuntimeError(f"boom for {inp.user.user_id}")
        return echo(inp, "FailingAgent")


class HangingAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        if inp.user.user_id.startswith("hang"):
            RELEASE.wait(HANG_S)  # a sleep a test can cut short at teardown
            return Snippet(text="too late")  # SEEN is left alone: a later test reads it
        return echo(inp, "HangingAgent")


class WrongTypeAgent:
    def compute(self, inp: AgentInput) -> Any:
        if inp.user.user_id.startswith("odd"):
            return {"text": "a dict, not a Snippet"}
        return echo(inp, "WrongTypeAgent")


class OversizeAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        return Snippet(
            text="word " * SNIPPET_MAX_CHARS,
            suggestion="tip " * SUGGESTION_MAX_CHARS,
            facts={"blob": "x" * 10_000},
        )


class UnstorableAgent:
    """Returns what no database column can hold: a set, NaN, a NUL character."""

    def compute(self, inp: AgentInput) -> Snippet | None:
        user = inp.user.user_id
        if user.startswith("set"):
            return Snippet(text="tags", facts={"tags": {"a", "b"}})
        if user.startswith("nan"):
            return Snippet(text="score", facts={"score": math.nan})
        if user.startswith("nul"):
            return Snippet(text="null\x00byte")
        if user.startswith("jnul"):
            return Snippet(text="fine", facts={"note": "null\x00byte"})
        return echo(inp, "UnstorableAgent")


def manifest_text(agent_id: str, cls: str = "EchoAgent", **fields: Any) -> str:
    """A valid manifest for ``agent_id`` run by ``cls`` of this module; None drops a field."""
    manifest: dict[str, Any] = {
        "id": agent_id,
        "version": 1,
        "name": agent_id.title(),
        "description": f"Test agent {cls}.",
        "entrypoint": f"{MODULE}:{cls}",
        "schedule": {"every": "15m"},
        "ttl": "1h",
        "timeout": "2s",
    }
    manifest.update(fields)
    return yaml.safe_dump({k: v for k, v in manifest.items() if v is not None}, sort_keys=False)


def write_manifest(directory: Path, agent_id: str, cls: str = "EchoAgent", **fields: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{agent_id}.yaml"
    path.write_text(manifest_text(agent_id, cls, **fields), encoding="utf-8")
    return path


class CountingAgent:
    """Keeps state: how many times it ran for the user, and the param values it was given.
    Users whose id starts with ``big`` return a state over any sane bound."""

    def compute(self, inp: AgentInput) -> Result:
        runs = int(inp.state.get("runs", 0)) + 1
        SEEN.append(("CountingAgent", inp.user.user_id))
        if inp.user.user_id.startswith("big"):
            return Result(Snippet(text=f"run {runs}"), {"blob": "x" * 100_000})
        snippet = Snippet(text=f"run {runs}; params {sorted(inp.params.items())}")
        return Result(snippet, {"runs": runs, "sources": dict(inp.param_sources)})
