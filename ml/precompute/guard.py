"""Run untrusted agent code: isolate failures, enforce the timeout, check what comes back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ml.agents.base import STATE_MAX_BYTES, Agent, AgentInput, Snippet
from ml.precompute.checked import check_run

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One user's run: a checked snippet (or None) and state, or the reason it failed."""

    user_id: str
    snippet: Snippet | None = None
    error: str | None = None
    truncated: bool = False
    state: dict[str, Any] | None = None
    """The state to keep for the next run; None keeps the previous one."""


@dataclass(slots=True)
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    timed_out_user: str | None = None


class _Progress:
    """Shared between the batch thread and its watchdog, always under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.user_id: str | None = None
        self.started = time.monotonic()
        self.abandoned = False
        self.outcomes: list[Outcome] = []


def run_batch(
    agent_id: str,
    impl: Agent,
    inputs: Sequence[AgentInput],
    *,
    timeout_s: float,
    state_max_bytes: int = STATE_MAX_BYTES,
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
                out = check_run(
                    impl.compute(inp), hidden=inp.hidden, state_max_bytes=state_max_bytes
                )
                outcome = Outcome(inp.user.user_id, out.snippet, None, out.truncated, out.state)
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
