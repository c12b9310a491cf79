"""Pareto fronts over minimised objectives (latency, energy, ...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_mask(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` (n, m), all objectives minimised. A row is
    dominated when another is <= in every objective and < in one; exact duplicates both stay on the front."""
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"points must be 2-D (n, objectives), got shape {arr.shape}")
    n = arr.shape[0]
    mask = np.ones(n, dtype=bool)
    # Sorting by the first objective means only earlier rows can dominate a later one.
    order = np.lexsort(arr.T[::-1])
    front: list[int] = []
    for i in order:
        row = arr[i]
        dominated = False
        for j in front:
            other = arr[j]
            if np.all(other <= row) and np.any(other < row):
                dominated = True
                break
        if dominated:
            mask[i] = False
        else:
            front.append(int(i))
    return mask


def pareto_front(points: Sequence[Sequence[float]] | np.ndarray) -> list[int]:
    """Indices of the non-dominated rows, ordered by the first objective."""
    arr = np.asarray(points, dtype=float)
    idx = np.flatnonzero(pareto_mask(arr))
    return [int(i) for i in idx[np.argsort(arr[idx, 0], kind="stable")]] if len(idx) else []


__all__ = ["pareto_front", "pareto_mask"]
