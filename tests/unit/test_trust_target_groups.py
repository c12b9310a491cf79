"""Issue #18's targets are stated for two device groups ("devices with shared rows" and "devices without"):
``validate.intervals.target_group_coverage`` pools the novelty classes into them. Every row of the group's classes is
counted once with its own class's bounds, so the pooled figures are the row-weighted class figures."""

from __future__ import annotations

import pytest

from edgesim.pipeline.interval_calibration import NoveltyClass
from edgesim.validate.intervals import TARGET_GROUPS, coverage, shipped_residuals, target_group_coverage


@pytest.fixture(scope="module")
def residuals():  # type: ignore[no-untyped-def]
    return shipped_residuals()


def test_every_class_but_new_runtime_is_in_exactly_one_group() -> None:
    grouped = [cls for _, classes, _ in TARGET_GROUPS for cls in classes]
    assert len(grouped) == len(set(grouped))
    assert set(NoveltyClass) - set(grouped) == {NoveltyClass.NEW_RUNTIME}


def test_pooled_rows_and_coverage_are_the_row_weighted_class_figures(residuals) -> None:  # type: ignore[no-untyped-def]
    per_class = coverage(residuals, 0.8)
    pooled = target_group_coverage(residuals, 0.8)
    assert {(g.group, g.metric) for g in pooled} >= {("devices with shared rows", "latency"),
                                                     ("devices without rows", "latency")}
    for g in pooled:
        classes = next(c for name, c, _ in TARGET_GROUPS if name == g.group)
        mine = [c for c in per_class if c.cls in classes and c.metric == g.metric]
        assert g.rows == sum(c.rows for c in mine)
        assert g.covered == pytest.approx(sum(c.covered * c.rows for c in mine) / g.rows)
        assert min(c.median_half_width for c in mine) <= g.median_half_width <= max(c.median_half_width for c in mine)


def test_bad_confidence_is_refused(residuals) -> None:  # type: ignore[no-untyped-def]
    from edgesim.errors import EdgesimError

    with pytest.raises(EdgesimError):
        target_group_coverage(residuals, 1.5)
