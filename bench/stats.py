"""Pure helpers: percentiles, ratios against targets, and plain-text tables."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from nudge_infra.percentiles import percentile as shared_percentile

Goal = Literal["at_most", "at_least"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), by the product's one definition: linear
    interpolation between closest ranks, numpy's default. With N=30 the p99 lies between
    the two slowest samples: read it as "about the worst", not as a tail estimate.
    """
    value = shared_percentile(values, q)
    if value is None:
        raise ValueError("percentile of no values")
    return value


@dataclass(frozen=True, slots=True)
class Summary:
    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    return Summary(
        n=len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        mean=sum(values) / len(values),
        min=min(values),
        max=max(values),
    )


def ratio(measured: float, floor: float) -> float:
    """``measured / floor``; ``inf`` when the floor is zero (never a crash)."""
    if floor == 0:
        return math.inf if measured else 1.0
    return measured / floor


def paired_ratio_ci(
    measured: Sequence[float],
    floor: Sequence[float],
    q: float,
    *,
    rounds: int = 400,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap interval of ``percentile(measured, q) / percentile(floor, q)``.

    Pairs are resampled together (sample i of each side ran back to back), so the
    interval shows how much the ratio owes to which samples happened to be slow.
    """
    if len(measured) != len(floor) or not measured:
        raise ValueError("need two non-empty samples of the same length")
    rng = random.Random(seed)
    n = len(measured)
    ratios = []
    for _ in range(rounds):
        picks = [rng.randrange(n) for _ in range(n)]
        ratios.append(
            ratio(
                percentile([measured[i] for i in picks], q),
                percentile([floor[i] for i in picks], q),
            )
        )
    tail = (1 - confidence) / 2 * 100
    return percentile(ratios, tail), percentile(ratios, 100 - tail)


def fmt_ci(ci: tuple[float, float]) -> str:
    return f"95% CI {ci[0]:.2f}-{ci[1]:.2f}x"


def meets(value: float, target: float, goal: Goal) -> bool:
    return value <= target if goal == "at_most" else value >= target


def fmt_ratio(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}x"


def fmt_target(target: float, goal: Goal) -> str:
    return f"{'<=' if goal == 'at_most' else '>='} {target:g}"


def verdict(value: float, target: float, goal: Goal) -> str:
    return "ok" if meets(value, target, goal) else "MISS"


def fmt_ms(seconds: float) -> str:
    """Seconds shown in the most readable unit (µs, ms or s)."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: left-aligned first column, right-aligned numbers."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])
