"""Normalised conformal fallback of the edge-NPU classes (a runtime without a bin of its own gets the class's residuals
rescaled to its own scale), and the new-board energy bounds as the mixture of the boards' power residuals."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from edgesim.pipeline import RunSpec, run
from edgesim.pipeline.interval_calibration import MIN_SCALE_ROWS
from edgesim.pipeline.intervals import (
    CalibrationTable,
    NoveltyClass,
    calibration_table,
    conformal_bounds,
    interval,
    latency_sample,
    model_bounds,
    new_board_energy_bounds,
    runtime_scales,
    scaled_sample,
    weighted_bounds,
)
from edgesim.validate.intervals import Residual, _calibration_rows, coverage
from tests._helpers import runtime_residuals as _rows

NEW = NoveltyClass.NPU_NEW_DEVICE
MEASURED = NoveltyClass.NPU_MEASURED_DEVICE


def test_runtime_scales_are_root_mean_squares_of_runtimes_with_enough_rows() -> None:
    rows = [("a", "x", 0.3), ("a", "y", -0.4)] * 5 + [("b", "x", 1.0)] * (MIN_SCALE_ROWS - 1)
    scales = runtime_scales(rows)
    assert set(scales) == {"a"}  # b: fewer than MIN_SCALE_ROWS residuals, no scale
    assert scales["a"] == pytest.approx(math.sqrt((0.09 + 0.16) / 2))


def test_scaled_sample_rescales_every_runtimes_residuals_to_the_asked_ones() -> None:
    rows = _rows("tight", 3, 30, 0.05, 0) + _rows("loose", 1, 30, 0.5, 1)
    scales = runtime_scales(rows)
    loose = scaled_sample(rows, scales, "loose")
    tight = scaled_sample(rows, scales, "tight")
    assert loose is not None and tight is not None and len(loose) == len(rows) == len(tight)
    assert list(loose) == sorted(loose)
    # the same normalised scores, at each runtime's scale: the bands' widths are in the scales' ratio
    lo_l, hi_l, _ = conformal_bounds(loose, 0.8)
    lo_t, hi_t, _ = conformal_bounds(tight, 0.8)
    assert (hi_l - lo_l) / (hi_t - lo_t) == pytest.approx(scales["loose"] / scales["tight"])
    assert scaled_sample(rows, scales, "unknown") is None


def _table(cls_rows: dict[NoveltyClass, list[tuple[str, str, float]]]) -> CalibrationTable:
    base = calibration_table()
    return replace(base, latency=tuple((c, tuple(sorted(v for _, _, v in r))) for c, r in cls_rows.items()),
                   weights=(), runtime_rows=tuple((c, tuple(sorted(r))) for c, r in cls_rows.items()))


def test_a_runtime_on_one_board_gets_its_own_scale_not_the_pooled_width() -> None:
    new_rows = _rows("tight", 4, 30, 0.05, 2) + _rows("wide", 1, 12, 0.6, 3) + _rows("rare", 1, 3, 0.6, 4)
    # the other NPU class's rows count for the scale too (a runtime's residuals on any board)
    table = _table({NEW: new_rows, MEASURED: _rows("wide", 1, 8, 0.6, 5)})
    pooled = conformal_bounds([v for _, _, v in new_rows], 0.8)
    wide = model_bounds(table, NEW, 0.8, "wide")
    assert table.runtime_bin(NEW, "wide", 0.8) is None  # one board: no bin of its own
    sample, _, rid = latency_sample(table, NEW, "wide", 0.8)
    assert rid == "wide" and len(sample) == len(new_rows) - 3  # "rare" has no scale: left out
    assert wide[1] - wide[0] > 3 * (pooled[1] - pooled[0])
    # a runtime with too few rows anywhere: the pooled residuals
    assert model_bounds(table, NEW, 0.8, "rare") == pooled
    assert latency_sample(table, NEW, "rare", 0.8)[2] is None


def test_held_out_check_rescales_as_run_time_does_and_covers_a_wide_runtime() -> None:
    rows = _rows("tight", 5, 30, 0.05, 6) + _rows("wide", 2, 30, 0.5, 7)
    res = [Residual(i, d, r, f"net{i % 7}", NEW, v, None) for i, (r, d, v) in enumerate(rows)]
    cov = {c.runtime: c.covered for c in coverage(res, 0.8, by_runtime=True) if c.metric == "latency"}
    # with one of its two boards held out, "wide" has no bin; its scale from the other board covers it
    assert 0.7 <= cov["wide"] <= 0.9, cov
    # the check's bounds with every group kept are the run-time ones
    table = _table({NEW: rows})
    one_board = [x for x in res if x.device != "wide-board1"]
    kept = _calibration_rows(NEW, one_board, "wide", 0.8)
    run_time = _table({NEW: [(x.runtime, x.device, x.latency_log) for x in one_board]})
    assert conformal_bounds([x.latency_log for x in kept], 0.8) == pytest.approx(
        model_bounds(run_time, NEW, 0.8, "wide"))
    assert model_bounds(table, NEW, 0.8, "wide") == conformal_bounds(table.runtime_bin(NEW, "wide", 0.8) or (), 0.8)


def test_a_new_boards_energy_is_the_mixture_of_the_boards_power_residuals() -> None:
    boards = [[-0.3, -0.25], [0.0, 0.02, 0.01, 0.03], [0.1, 0.12], [0.25, 0.3]]
    lo, hi, capped = new_board_energy_bounds([0.0], boards, 0.8)
    pairs = sorted((v, 1.0 / len(b)) for b in boards for v in b)
    assert (lo, hi) == pytest.approx(weighted_bounds([v for v, _ in pairs], [w for _, w in pairs], 0.8)[:2])
    assert not capped
    # the mixture's levels, not a Student t over 4 board means (whose 3 degrees of freedom reach far past them)
    assert -0.31 <= lo and hi <= 0.31
    # a board with energy rows keeps its own offset +- its standard error
    own = new_board_energy_bounds([0.0], boards, 0.8, own=[0.4, 0.42, 0.41])
    assert 0.3 < own[0] < 0.41 < own[1]


def test_an_npu_run_of_a_runtime_without_a_bin_says_it_is_scaled() -> None:
    table = calibration_table()
    # a model file: no vendor row names it, so a measured board's class is the new-network one
    cls = NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK
    pick = next(((d, r) for d, r in sorted(table.npu_devices)
                 if table.runtime_bin(cls, r, 0.8) is None and table.scaled_bin(cls, r) is not None),
                None)
    assert pick is not None, "a shipped NPU runtime calibrated by its scale"
    iv = interval(run(RunSpec("kws_ref_model.tflite", pick[0], pick[1])), 0.8)
    assert iv.novelty is cls and iv.calibration_runtime == pick[1] and iv.calibration_scaled
    assert iv.as_dict()["calibration_scaled"] is True
    assert iv.model_latency_log == model_bounds(table, cls, 0.8, pick[1])[:2]
