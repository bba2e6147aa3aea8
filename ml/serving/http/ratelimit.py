"""Per-caller rate limit of the tip endpoint (each tip may cost an LLM call)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies

from ml.serving.http.auth import Caller
from nudge_infra.errors import TooManyRequests


class TipRateLimit:
    """A moving window per (caller, user): the gateway gets a budget for each user it
    acts for, a user token one for itself. In memory, per process."""

    def __init__(self, rate: str) -> None:
        self._item: RateLimitItem = parse(rate)
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def check(self, caller: Caller, user_id: str) -> None:
        key = (caller.kind, caller.subject, user_id)
        if self._limiter.hit(self._item, *key):
            return
        stats = self._limiter.get_window_stats(self._item, *key)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"more than {self._item.amount} tip requests per "
            f"{self._item.get_expiry()} s for this user; retry in {retry} s",
            retry_after_s=retry,
        )
