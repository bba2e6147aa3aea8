"""The random draws of a policy: a numpy Generator in tests and offline, or the standard
library's generator, seeded per tip, on the tip path."""

from __future__ import annotations

import random
from typing import Any, Protocol


class Draws(Protocol):
    """Random draws a policy makes: a numpy Generator, or SeededDraws on the tip path."""

    def random(self) -> float: ...
    def beta(self, a: float, b: float) -> Any: ...
    def permutation(self, n: int) -> Any: ...


class SeededDraws:
    """Draws from the standard library's generator: for a few candidates, several times
    cheaper than creating a numpy Generator on every tip."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def random(self) -> float:
        return self._random.random()

    def beta(self, a: float, b: float) -> float:
        return self._random.betavariate(a, b)

    def permutation(self, n: int) -> list[int]:
        order = list(range(n))
        self._random.shuffle(order)
        return order
