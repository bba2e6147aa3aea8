"""Per-caller rate limit of the tip endpoint (each tip may cost an LLM call)."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse, storage, strategies
from limits.errors import StorageError

from ml.serving.http.auth import Caller
from nudge_infra.errors import TooManyRequests

log = logging.getLogger(__name__)

_OUTAGE_LOG_EVERY_S = 60.0


class TipRateLimit:
    """A moving window per (caller, user): the gateway gets a budget for each user it
    acts for, a user token one for itself.

    With ``shared`` (a Redis URL) every API process counts in the same windows; without
    it, or while Redis cannot be reached, each process counts alone: an outage of the
    limiter's store never turns a tip request into an error."""

    def __init__(self, rate: str, *, shared: str | None = None) -> None:
        self._item: RateLimitItem = parse(rate)
        self._local = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._shared = (
            None
            if shared is None
            else strategies.MovingWindowRateLimiter(
                storage.storage_from_string(
                    shared, wrap_exceptions=True, socket_timeout=0.2, socket_connect_timeout=0.2
                )
            )
        )
        self._outage_logged_at = -math.inf

    @property
    def shared(self) -> bool:
        return self._shared is not None

    def check(self, caller: Caller, user_id: str) -> None:
        key = (caller.kind, caller.subject, user_id)
        limiter = self._limiter()
        try:
            if limiter.hit(self._item, *key):
                return
            stats = limiter.get_window_stats(self._item, *key)
        except StorageError as e:
            self._outage(e)
            limiter = self._local
            if limiter.hit(self._item, *key):
                return
            stats = limiter.get_window_stats(self._item, *key)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"more than {self._item.amount} tip requests per "
            f"{self._item.get_expiry()} s for this user; retry in {retry} s",
            retry_after_s=retry,
        )

    def _limiter(self) -> strategies.MovingWindowRateLimiter:
        return self._local if self._shared is None else self._shared

    def _outage(self, error: StorageError) -> None:
        now = time.monotonic()
        if now - self._outage_logged_at >= _OUTAGE_LOG_EVERY_S:
            self._outage_logged_at = now
            # The URL may carry a password: name the error's type, not its text.
            log.warning(
                "the shared rate-limit store is unreachable (%s); counting in this process",
                type(error.storage_error).__name__,
            )
