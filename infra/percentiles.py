"""One percentile definition for every figure Nudge reports: linear interpolation between
the two closest ranks (numpy's default), so an evaluation run and an experiment report
of the same latencies agree."""

from __future__ import annotations

import math
from collections.abc import Sequence


def neighbours(count: int, q: float) -> tuple[int, int, float]:
    """Where the ``q``-th percentile (0-100) of ``count`` ordered values lies: the 0-based
    ranks of its lower and upper neighbour, and the weight of the upper one."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    if count < 1:
        raise ValueError("percentile of no values")
    position = (count - 1) * q / 100
    low = math.floor(position)
    return low, math.ceil(position), position - low


def between(low: float, high: float, weight: float) -> float:
    return low + (high - low) * weight


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    if not values:
        return None
    ordered = sorted(values)
    low, high, weight = neighbours(len(ordered), q)
    return between(ordered[low], ordered[high], weight)
