"""New-board energy bounds: the joint construction (``board_offsets_energy_bounds``) shipped in ONE place for the
run path and the held-out check, and edgesim.validate.energy_bound_check's alternatives, held out exactly as
``edgesim validate --coverage`` holds them out."""

from __future__ import annotations

import pytest

from edgesim.pipeline import RunSpec, run
from edgesim.pipeline.interval_calibration import _energy_bounds_for, _energy_model_bounds
from edgesim.pipeline.intervals import (
    NEW_BOARD_POWER_CLASSES,
    NoveltyClass,
    board_offsets_energy_bounds,
    calibration_table,
    combine,
    interval,
    new_board_energy_bounds,
)
from edgesim.validate.energy_bound_check import CLASSES, independent_bounds, normal_bounds, report
from edgesim.validate.intervals import (
    Residual,
    coverage,
    energy_coverage,
    held_out_energy_bounds,
    shipped_residuals,
)

K, N = NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY


def test_the_shipped_construction_is_the_coverage_checks() -> None:
    rows = shipped_residuals(npu=False)
    for confidence in (0.8, 0.9):
        shipped = {c.cls: c for c in coverage(rows, confidence) if c.metric == "energy"}
        for cls in CLASSES:
            mine = energy_coverage(rows, cls, confidence)
            assert mine is not None and mine == shipped[cls]
    assert "independent" in report(rows, (0.8,))


def _rows() -> list[Residual]:
    """Four boards of one new-device class: power offsets -0.2, 0, 0.2, 0.4; within a board a row's latency error
    and its power error cancel (latency +-0.1, power -+0.1), so its energy error is the board's offset."""
    out = []
    for i, (device, p) in enumerate((("a", -0.2), ("b", 0.0), ("c", 0.2), ("d", 0.4))):
        for j, d in enumerate((-0.1, 0.1)):
            out.append(Residual(10 * i + j, device, "rt", f"b{j}", K, d, p - d))
    return out


def test_the_joint_construction_keeps_a_rows_latency_and_power_errors_together() -> None:
    rows = _rows()
    held = [x for x in rows if x.device == "a"]
    train = [x for x in rows if x.device != "a"]
    lo, hi, capped = held_out_energy_bounds(K, held, "a", train, [], rows, 0.8)
    # the offsets of the boards left (0, 0.2, 0.4, a third of the weight each), no deviation: energy is the offset
    assert not capped
    assert (lo, hi) == (pytest.approx(0.0), pytest.approx(0.4))
    # at 90% too; the old construction adds the latency's +-0.1 and the power's rows as independent: wider
    assert held_out_energy_bounds(K, held, "a", train, [], rows, 0.9)[:2] == (pytest.approx(0.0), pytest.approx(0.4))
    lo_i, hi_i, _ = independent_bounds(K, held, "a", train, [], rows, 0.9)
    assert (lo_i, hi_i) == (pytest.approx(-0.2), pytest.approx(0.6))
    lo_n, hi_n, _ = normal_bounds(K, held, "a", train, [], rows, 0.8)
    assert lo_n < 0.2 < hi_n
    # fewer than 3 boards left: the row-pooled bounds, marked capped
    assert board_offsets_energy_bounds([("b", 0.0)], [("b", 0.1), ("c", 0.2)], [], 0.8)[2]


def test_other_classes_keep_the_shipped_bounds() -> None:
    rows = [Residual(i, "a", "rt", f"b{i}", NoveltyClass.MEASURED_DEVICE, 0.01 * i, 0.02 * i) for i in range(6)]
    args = (NoveltyClass.MEASURED_DEVICE, rows[:1], "a", rows[1:], rows[1:], [], 0.8)
    assert independent_bounds(*args) == held_out_energy_bounds(*args)
    assert normal_bounds(*args) == held_out_energy_bounds(*args)


@pytest.mark.parametrize("cls", CLASSES)
def test_the_run_path_gives_a_board_without_rows_what_the_check_gives(cls: NoveltyClass) -> None:
    table = calibration_table()
    rows = shipped_residuals(npu=False)
    mine = [x for x in rows if x.cls is cls]
    power = [x for x in rows if x.cls is NoveltyClass.MEASURED_DEVICE and x.power_log is not None]
    new_power = [x for x in rows if x.cls in NEW_BOARD_POWER_CLASSES and x.power_log is not None]
    for confidence in (0.8, 0.9):
        # nothing held out: every row the calibration has, as at run time on a board the table has never seen
        check = held_out_energy_bounds(cls, [], "no-such-board", mine, power, new_power, confidence)
        run_time = _energy_bounds_for(table, cls, "", confidence)
        assert run_time == pytest.approx(check) and not run_time[2]
        # not the independent sum the run path used before
        old = new_board_energy_bounds(table.residuals(cls), table.spread_boards(), confidence,
                                      table.residual_weights(cls))
        assert not old[:2] == pytest.approx(run_time[:2])


def test_a_run_on_a_board_without_energy_rows_uses_the_joint_bounds() -> None:
    result = run(RunSpec(model="pretrainedResnet_quant.tflite", hw="m467"))
    iv = interval(result, 0.8)
    assert iv.novelty is K
    table = calibration_table()
    assert not dict(table.board_power).get("m467")
    lo, hi, _ = _energy_model_bounds(table, K, "m467", 0.8, result.runtime.id if result.runtime else None)
    assert (lo, hi) == pytest.approx(_energy_bounds_for(table, K, "", 0.8)[:2])
    assert iv.uncertain_fields == 0  # no ranged profile field: the model's part alone
    expected = combine(result.energy_j, (0.0, 0.0), (lo, hi))
    assert (iv.energy_j.lo, iv.energy_j.hi) == pytest.approx((expected.lo, expected.hi))
