"""Integrals of Beta densities on a grid of [0, 1]: which of several draws is the largest.

The grid is uniform in the middle and geometric towards 0 and 1, where the density of a
Beta with a tiny alpha or beta piles up; on each cell x^(a-1) is integrated exactly and
(1-x)^(b-1) taken at the cell's middle (the halves above 1/2 mirror the ones below, with
alpha and beta swapped), all in logs, so no parameter over- or underflows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Grid = tuple[Floats, Floats, Floats]
_MIN_LEAD = 1e-12  # a drawn lead always had a chance: its probability is never 0


def make_grid(cells: int) -> Grid:
    """Cells of [0, 1/2]: log of each edge (lo, hi) and log(1 - x) at the middle."""
    h = 1.0 / cells
    depth = 0.05 * 1.1 ** np.arange(180)  # nats below h: reaches e^-1e6, for tiny alphas
    tail_hi = math.log(h) - np.concatenate(([0.0], depth[depth < 1e6]))
    tail_lo = np.append(tail_hi[1:], -np.inf)
    uniform = np.log(np.linspace(h, 0.5, max(cells // 2, 2)))
    lo = np.concatenate((tail_lo[::-1], uniform[:-1]))
    hi = np.concatenate((tail_hi[::-1], uniform[1:]))
    mid = np.where(np.isinf(lo), hi - math.log(2.0), (lo + hi) / 2)
    return lo, hi, np.log1p(-np.exp(mid))


def _half(a: Floats, b: Floats, grid: Grid) -> Floats:
    """Log mass per cell of [0, 1/2]: x^(a-1) integrated exactly, (1-x)^(b-1) at the middle."""
    lo, hi, log1m_mid = grid
    a, b = a[:, None], b[:, None]
    return a * hi + np.log(-np.expm1(a * (lo - hi))) - np.log(a) + (b - 1.0) * log1m_mid


def _masses(alpha: Floats, beta: Floats, grid: Grid) -> Floats:
    """Each Beta's probability per cell of [0, 1], left to right; every row sums to 1."""
    log_mass = np.concatenate((_half(alpha, beta, grid), _half(beta, alpha, grid)[:, ::-1]), 1)
    mass = np.exp(log_mass - log_mass.max(axis=1, keepdims=True))
    return np.asarray(mass / mass.sum(axis=1, keepdims=True), dtype=np.float64)


def first_probabilities(alpha: Floats, beta: Floats, grid: Grid) -> Floats:
    """P(each Beta(alpha_i, beta_i) draw is the largest): the integral of
    f_i(x) * prod_{j != i} F_j(x) dx."""
    mass = _masses(alpha, beta, grid)
    below = np.cumsum(mass, axis=1) - 0.5 * mass  # a tie inside a cell is a coin flip
    # P(every other draw is lower); where below is 0, so is the candidate's own mass.
    others = below.prod(axis=0) / np.where(below > 0, below, 1.0)
    first = np.maximum((mass * others).sum(axis=1), _MIN_LEAD)
    return np.asarray(first / first.sum(), dtype=np.float64)
