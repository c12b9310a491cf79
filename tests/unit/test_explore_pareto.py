from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.explore.pareto import pareto_front, pareto_mask


def test_simple_front() -> None:
    pts = [(1.0, 5.0), (2.0, 2.0), (3.0, 3.0), (4.0, 1.0), (2.0, 2.0)]
    assert pareto_mask(pts).tolist() == [True, True, False, True, True]
    assert pareto_front(pts) == [0, 1, 4, 3]


def test_equal_first_objective_keeps_only_best_second() -> None:
    assert pareto_mask([(1.0, 3.0), (1.0, 2.0)]).tolist() == [False, True]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=25))
def test_front_matches_brute_force(points: list[tuple[int, int]]) -> None:
    arr = np.array(points, dtype=float)
    mask = pareto_mask(arr)
    for i, p in enumerate(arr):
        dominated = any(np.all(q <= p) and np.any(q < p) for q in arr)
        assert mask[i] == (not dominated)
