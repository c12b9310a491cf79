"""edgesim.validate.energy_bound_check: new-board energy bounds built other ways, held out exactly as
``edgesim validate --coverage`` holds them out."""

from __future__ import annotations

import pytest

from edgesim.pipeline.intervals import NoveltyClass
from edgesim.validate.energy_bound_check import CLASSES, board_offsets_bounds, normal_bounds, report
from edgesim.validate.intervals import Residual, coverage, energy_coverage, shipped_residuals

K, N = NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY


def test_the_shipped_construction_is_the_coverage_checks() -> None:
    rows = shipped_residuals(npu=False)
    for confidence in (0.8, 0.9):
        shipped = {c.cls: c for c in coverage(rows, confidence) if c.metric == "energy"}
        for cls in CLASSES:
            mine = energy_coverage(rows, cls, confidence)
            assert mine is not None and mine == shipped[cls]
    assert "board_offsets" in report(rows, (0.8,))


def _rows() -> list[Residual]:
    """Three boards of one new-device class: latency offsets 0, power offsets -0.2, 0, 0.2, rows +-0.05."""
    out = []
    for i, (device, p) in enumerate((("a", -0.2), ("b", 0.0), ("c", 0.2))):
        for j, d in enumerate((-0.05, 0.05)):
            out.append(Residual(10 * i + j, device, "rt", f"b{j}", K, 0.0, p + d))
    return out


def test_board_offsets_add_the_offsets_and_the_rows_deviations() -> None:
    rows = _rows()
    held = [x for x in rows if x.device == "a"]
    train = [x for x in rows if x.device != "a"]
    lo, hi, capped = board_offsets_bounds(K, held, "a", train, [], rows, 0.8)
    # offsets of the boards left (0 and 0.2, each half the weight), each with a deviation of -0.05 or +0.05
    assert not capped
    assert (lo, hi) == (pytest.approx(-0.05), pytest.approx(0.25))
    lo_n, hi_n, _ = normal_bounds(K, held, "a", train, [], rows, 0.8)
    assert lo_n < 0.1 < hi_n


def test_other_classes_keep_the_shipped_bounds() -> None:
    rows = [Residual(i, "a", "rt", f"b{i}", NoveltyClass.MEASURED_DEVICE, 0.01 * i, 0.02 * i) for i in range(6)]
    from edgesim.validate.intervals import held_out_energy_bounds

    args = (NoveltyClass.MEASURED_DEVICE, rows[:1], "a", rows[1:], rows[1:], [], 0.8)
    assert board_offsets_bounds(*args) == held_out_energy_bounds(*args)
    assert normal_bounds(*args) == held_out_energy_bounds(*args)
