"""The near-repeat rule: refuse a tip that says again what one of the user's recent tips said.

Pure: the candidate's vector and the recent tips' vectors in (from the ``embedder``
alias), a verdict out. Cosine similarity, so vectors need not be unit length. The
threshold belongs to the embedding model (cosines of different models are not
comparable): all-MiniLM-L6-v2 puts paraphrased tips at about 0.74-0.96 and different
tips on the same subject at up to about 0.74 (ADR 0026).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Vector = Sequence[float] | NDArray[np.floating[Any]]

MINILM_THRESHOLD = 0.85
"""Refuse at this cosine or above with all-MiniLM-L6-v2: no false refusal among the tips
of ADR 0026, and most paraphrases caught."""


@dataclass(frozen=True, slots=True)
class RepeatCheck:
    """The recent tip closest in meaning to the candidate, and whether that refuses it."""

    closest_tip: str | None
    """Id of the most similar recent tip; None when there was none to compare with."""
    cosine: float
    """Its cosine similarity with the candidate (0.0 when there was none)."""
    threshold: float

    @property
    def refused(self) -> bool:
        return self.closest_tip is not None and self.cosine >= self.threshold


def check_repeat(
    candidate: Vector, recent: Mapping[str, Vector], *, threshold: float
) -> RepeatCheck:
    """Compare ``candidate`` with every recent tip (by id); refuse at ``threshold`` or above.

    Raises ``ValueError`` on a threshold outside (0, 1], an empty or non-finite vector,
    or vectors of different sizes (stored vectors of another embedding model).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    unit = _unit(candidate, "candidate")
    if not recent:
        return RepeatCheck(closest_tip=None, cosine=0.0, threshold=threshold)
    ids = list(recent)
    rows = [_unit(recent[tip_id], f"recent tip {tip_id!r}") for tip_id in ids]
    if mismatched := [i for i, row in zip(ids, rows, strict=True) if row.shape != unit.shape]:
        raise ValueError(
            f"recent tips {mismatched} do not have the candidate's {unit.shape[0]} "
            "dimensions: re-embed them with the current embedding model"
        )
    cosines = np.stack(rows) @ unit
    best = int(np.argmax(cosines))
    # Rounding can put a vector's cosine with itself a hair above 1.
    cosine = float(np.clip(cosines[best], -1.0, 1.0))
    return RepeatCheck(closest_tip=ids[best], cosine=cosine, threshold=threshold)


def _unit(vector: Vector, what: str) -> NDArray[np.float64]:
    array = np.asarray(vector, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{what}: expected a non-empty 1-D vector, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: the vector has NaN or infinite values")
    norm = float(np.linalg.norm(array))
    # A zero vector is similar to nothing: it stays zero and every cosine with it is 0.
    return array / norm if norm > 0.0 else array
