"""Run untrusted agent code: isolate failures, enforce the timeout, check what comes back."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ml.agents.base import (
    BECAUSE_MAX_CHARS,
    FACTS_MAX_BYTES,
    SNIPPET_MAX_CHARS,
    SUGGESTION_MAX_CHARS,
    Agent,
    AgentInput,
    Snippet,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One user's run: a checked snippet (or None), or the reason it failed."""

    user_id: str
    snippet: Snippet | None = None
    error: str | None = None
    truncated: bool = False


@dataclass(slots=True)
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    timed_out_user: str | None = None


def check_output(value: object) -> tuple[Snippet | None, bool]:
    """Validate an agent's return value; oversized text is cut, never stored whole."""
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
    facts = dict(value.facts)
    # Strict JSON: NaN, Infinity and NUL are refused here because Postgres refuses them
    # at insert time, which would fail the whole batch instead of this one user.
    encoded = json.dumps(facts, allow_nan=False)  # TypeError/ValueError on non-JSON values
    if "\\u0000" in encoded:
        raise ValueError("facts must not contain NUL characters")
    truncated = False
    if len(encoded) > FACTS_MAX_BYTES:
        facts, truncated = {"truncated": True}, True
    text = value.text.strip()
    if len(text) > SNIPPET_MAX_CHARS:
        text, truncated = text[: SNIPPET_MAX_CHARS - 1] + "…", True
    suggestion = value.suggestion.strip() if value.suggestion else None
    if suggestion and len(suggestion) > SUGGESTION_MAX_CHARS:
        suggestion, truncated = suggestion[: SUGGESTION_MAX_CHARS - 1] + "…", True
    because = " ".join(value.because.split()).rstrip(".") if value.because else None
    if because and len(because) > BECAUSE_MAX_CHARS:
        because, truncated = because[: BECAUSE_MAX_CHARS - 1] + "…", True
    checked = Snippet(
        text=text, suggestion=suggestion or None, facts=facts, because=because or None
    )
    return checked, truncated


class _Progress:
    """Shared between the batch thread and its watchdog, always under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.user_id: str | None = None
        self.started = time.monotonic()
        self.abandoned = False
        self.outcomes: list[Outcome] = []


def run_batch(
    agent_id: str, impl: Agent, inputs: Sequence[AgentInput], *, timeout_s: float
) -> BatchResult:
    """Run ``impl`` for each input in a worker thread.

    A user's run that raises or returns something invalid is that user's failure. A run
    that exceeds ``timeout_s`` stops the batch: the thread is abandoned (Python cannot
    kill it) and the result names the user whose run hung. A run that overran but
    returned before the watchdog looked is a timeout all the same, never a silent stop.
    """
    progress = _Progress()
    done = threading.Event()

    def work() -> None:
        for inp in inputs:
            with progress.lock:
                if progress.abandoned:
                    return
                progress.user_id, progress.started = inp.user.user_id, time.monotonic()
            try:
                snippet, truncated = check_output(impl.compute(inp))
                outcome = Outcome(inp.user.user_id, snippet, truncated=truncated)
            except BaseException as exc:  # an agent's bug is a value, never a crash
                # BaseException too: sys.exit() in agent code must not end the batch
                # silently; KeyboardInterrupt only ever reaches the main thread.
                outcome = Outcome(inp.user.user_id, error=_describe(exc))
            with progress.lock:
                elapsed = time.monotonic() - progress.started
                if progress.abandoned or elapsed > timeout_s:
                    progress.abandoned = True  # the run overran: a timeout for this user
                    return
                progress.outcomes.append(outcome)
            if elapsed > timeout_s / 2:
                log.warning("agent %s is slow: %.2fs for one user", agent_id, elapsed)
        with progress.lock:  # under the lock: the watchdog tells "finished" from "gave up"
            done.set()

    thread = threading.Thread(target=work, name=f"agent-{agent_id}", daemon=True)
    thread.start()
    while not done.wait(0.05):
        with progress.lock:
            if done.is_set():
                break
            overran = progress.user_id is not None and (
                time.monotonic() - progress.started > timeout_s
            )
            # A thread that ended without finishing gave up on a run that overran.
            if progress.abandoned or overran or not thread.is_alive():
                progress.abandoned = True
                log.warning("agent %s timed out after %.1fs", agent_id, timeout_s)
                return BatchResult(list(progress.outcomes), timed_out_user=progress.user_id)
    with progress.lock:
        return BatchResult(list(progress.outcomes))


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # an exception whose __str__ fails is still this user's failure
        text = type(exc).__name__
    return text[:500]
