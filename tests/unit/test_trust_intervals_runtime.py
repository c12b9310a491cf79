"""Per-runtime (Mondrian) calibration of the edge-NPU classes: which runtimes get a bin of their own, the run-time
bounds, and the held-out check computing them the same way."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edgesim.pipeline import RunSpec, run
from edgesim.pipeline.intervals import (
    BY_RUNTIME,
    MIN_BIN_ROWS,
    CalibrationTable,
    NoveltyClass,
    calibration_table,
    conformal_bounds,
    interval,
    latency_sample,
    model_bounds,
    runtime_bin,
)
from edgesim.validate.coverage_tables import runtime_coverage_table
from edgesim.validate.intervals import (
    REPORT_MIN_ROWS,
    Residual,
    _calibration_rows,
    _latency_bounds,
    coverage,
    shipped_residuals,
)
from tests._helpers import runtime_residuals as _rows

NEW = NoveltyClass.NPU_NEW_DEVICE


def test_a_runtime_needs_enough_rows_on_enough_devices_for_a_bin() -> None:
    rows = _rows("a", 2, 15, 0.1, 0) + _rows("b", 1, 40, 0.1, 1) + _rows("c", 3, 4, 0.1, 2)
    a = runtime_bin(rows, "a", 0.8)
    assert a is not None and len(a) == 30 and list(a) == sorted(a)
    assert runtime_bin(rows, "b", 0.8) is None  # one board: says nothing of the runtime on another
    assert runtime_bin(rows, "c", 0.8) is None  # 12 < MIN_BIN_ROWS
    assert runtime_bin(rows, "unknown", 0.8) is None
    assert MIN_BIN_ROWS == 20
    # 30 residuals have no finite-sample rank at 99%: the pooled residuals, not the bin's extreme
    assert runtime_bin(rows, "a", 0.99) is None


def _table(rows: list[tuple[str, str, float]]) -> CalibrationTable:
    base = calibration_table()
    lat = tuple(sorted(v for _, _, v in rows))
    return replace(base, latency=((NEW, lat),), weights=(), runtime_rows=((NEW, tuple(sorted(rows))),))


def test_run_time_bounds_are_the_runtimes_own_or_the_pooled_ones() -> None:
    rows = _rows("tight", 4, 30, 0.05, 3) + _rows("loose", 4, 30, 0.6, 4) + _rows("rare", 1, 5, 0.3, 5)
    table = _table(rows)
    pooled = conformal_bounds([v for _, _, v in rows], 0.8)
    tight = model_bounds(table, NEW, 0.8, "tight")
    loose = model_bounds(table, NEW, 0.8, "loose")
    assert tight == conformal_bounds([v for r, _, v in rows if r == "tight"], 0.8)
    assert tight[1] - tight[0] < pooled[1] - pooled[0] < loose[1] - loose[0]
    assert model_bounds(table, NEW, 0.8, "rare") == pooled == model_bounds(table, NEW, 0.8)
    assert latency_sample(table, NEW, "tight", 0.8)[2] == "tight"
    assert latency_sample(table, NEW, "rare", 0.8)[2] is None
    # the MCU classes are not split
    assert NoveltyClass.MEASURED_DEVICE not in BY_RUNTIME
    assert table.runtime_bin(NoveltyClass.MEASURED_DEVICE, "tight", 0.8) is None


def _residuals(rows: list[tuple[str, str, float]]) -> list[Residual]:
    return [Residual(i, d, r, f"net{i % 7}", NEW, v, None) for i, (r, d, v) in enumerate(rows)]


def test_held_out_check_uses_the_bins_and_each_runtime_is_covered() -> None:
    """Two runtimes whose errors differ six-fold: one pooled quantile over-covers one and under-covers the other;
    per runtime, both are covered near the confidence on devices held out."""
    res = _residuals(_rows("tight", 5, 30, 0.05, 6) + _rows("loose", 5, 30, 0.6, 7))
    by_rt = {c.runtime: c.covered for c in coverage(res, 0.8, by_runtime=True) if c.metric == "latency"}
    assert set(by_rt) == {"tight", "loose"}
    assert all(0.7 <= v <= 0.9 for v in by_rt.values()), by_rt
    pooled_hit = {rt: np.mean([abs(x.latency_log) <= 0.5 for x in res if x.runtime == rt])
                  for rt in ("tight", "loose")}
    assert pooled_hit["tight"] == 1.0 and pooled_hit["loose"] < 0.7  # what one pooled band (about +-0.5) gives
    text = runtime_coverage_table(coverage(res, 0.8, by_runtime=True), 0.8)
    assert "tight" in text and "loose" in text
    # with every group kept, the check's bounds are the run-time ones
    table = _table([(x.runtime, x.device, x.latency_log) for x in res])
    assert _latency_bounds(NEW, _calibration_rows(NEW, res, "loose", 0.8), 0.8) == pytest.approx(
        model_bounds(table, NEW, 0.8, "loose"))


def test_shipped_npu_calibration_has_bins_and_reports_per_runtime_coverage() -> None:
    table = calibration_table()
    res = [x for x in shipped_residuals() if x.cls in BY_RUNTIME]
    assert res, "the shipped calibration has vendor-table rows"
    counts: dict[str, set[str]] = {}
    for x in res:
        if x.cls is NEW:
            counts.setdefault(x.runtime, set()).add(x.device)
    binned = [rt for rt in counts if table.runtime_bin(NEW, rt, 0.8) is not None]
    assert binned, counts
    cov = coverage(res, 0.8, by_runtime=True)
    assert {c.runtime for c in cov if c.cls is NEW} >= set(binned)
    assert all(c.rows >= REPORT_MIN_ROWS for c in cov)


def test_an_npu_run_reports_its_runtime_bin() -> None:
    table = calibration_table()
    # a model file: no vendor row names it, so a measured board's class is the new-network one
    cls = NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK
    board, rid = next((d, r) for d, r in sorted(table.npu_devices) if table.runtime_bin(cls, r, 0.8) is not None)
    result = run(RunSpec("kws_ref_model.tflite", board, rid))
    iv = interval(result, 0.8)
    assert iv.novelty is cls and iv.calibration_runtime == rid
    assert iv.model_latency_log == model_bounds(table, iv.novelty, 0.8, rid)[:2]
    assert iv.calibration_rows == len(table.runtime_bin(iv.novelty, rid, 0.8) or ())
    assert iv.as_dict()["calibration_runtime"] == rid


def test_new_runtime_check_leaves_out_residuals_predicted_with_the_held_out_runtime() -> None:
    """A runtime nobody measured has no fitted profile, so no residual of another runtime's rows predicted with
    it: the held-out check leaves those out too (they mirror the held-out runtime's own error)."""
    from edgesim.validate.intervals import _held_out_hits

    rng = np.random.default_rng(8)
    cls = NoveltyClass.NEW_RUNTIME
    res: list[Residual] = []
    for rt in ("a", "b", "c"):
        for sub in sorted({"a", "b", "c"} - {rt}):
            res += [Residual(len(res), "board", rt, "net", cls, float(v), None, substitute=sub)
                    for v in rng.normal(0.0, 0.05, 10)]
        res += [Residual(len(res), "board", rt, "net", cls, 2.0, None, substitute="x") for _ in range(10)]
    res += [Residual(len(res), "board", "x", "net", cls, 2.0, None, substitute="a") for _ in range(30)]
    hits, groups = _held_out_hits(cls, "latency", res, [], [], 0.8)
    assert groups == 4 and len(hits) == len(res)
    # with the mirror rows in, x's rows would sit inside the band (a third of the others' residuals are 2.0)
    assert not any(h.covered for h in hits if h.row.runtime == "x")
