"""The external vendor numbers (devices the NPU model was never built with) ship as package data and calibrate the
NPU intervals (issue #18); the check of those intervals holds each device's own residuals out."""

from __future__ import annotations

import fnmatch
import json
import math
import tomllib
from dataclasses import replace

import pytest

from edgesim.files import data_path
from edgesim.hw.loader import load_profile, load_runtime
from edgesim.pipeline.interval_calibration import (
    NPU_CALIBRATION_FILE,
    NPU_CLASSES,
    NoveltyClass,
    calibration_table,
    novelty,
)
from edgesim.validate.intervals import Residual, _latency_bounds, coverage, held_out_latency_bounds
from edgesim.validate.npu_external import ExternalPrediction, external_files, held_out_intervals
from tests.conftest import REPO

NEWDEV = NoveltyClass.NPU_NEW_DEVICE


def test_external_tables_are_package_data_and_out_of_benchmarks() -> None:
    files = external_files()
    assert [f.name for f in files] == ["ext7-a.csv", "ext7-b.csv"]
    assert all(f.is_relative_to(data_path()) for f in files)
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["edgesim"]
    rel = [str(f.relative_to(data_path().parent)) for f in files]
    assert all(any(fnmatch.fnmatch(r, g) for g in globs) for r in rel)
    assert not list((REPO / "benchmarks").glob("external/*.csv"))


def test_shipped_npu_calibration_has_the_external_rows_but_not_as_measured_boards() -> None:
    raw = json.loads(data_path(*NPU_CALIBRATION_FILE).read_text())
    ext = [r for r in raw["rows"] if r.get("external")]
    assert {r["external"] for r in ext} == {f.name for f in external_files()}
    assert len(ext) > 150
    assert {"rk3576", "hailo-10h", "qcs8550", "core-ultra-9-288v"} <= {r["device"] for r in ext}
    assert {r["class"] for r in ext} >= {NEWDEV.value, NoveltyClass.NEW_RUNTIME.value}
    # the external boards decide no run's class: rk3576 with rknn is still a new board (no device calibration)
    assert ["rk3576", "rknn"] not in raw["devices"]
    assert novelty(load_profile("rk3576"), load_runtime("rknn", quiet=True)[0]) is NEWDEV
    # a class in both calibration files pools both (new_runtime: the MCU substitutions and the external runtimes)
    mcu = json.loads(data_path("calibration", "intervals.json").read_text())["latency"]["new_runtime"]
    ext_nr = raw["latency"]["new_runtime"]
    assert len(calibration_table().residuals(NoveltyClass.NEW_RUNTIME)) == len(mcu) + len(ext_nr) > len(mcu)


def _res(device: str, values: list[float], external: str | None = None) -> list[Residual]:
    return [Residual(i, device, "rknn", f"net{i}", NEWDEV, v, None, external=external) for i, v in enumerate(values)]


def test_held_out_bounds_leave_the_devices_own_residuals_out() -> None:
    others = [x for k in range(6) for x in _res(f"b{k}", [0.02 * (i - 5) * (k + 1) / 3 for i in range(11)])]
    far = _res("ext", [1.5, 1.6, 1.7], external="x.csv")  # a device whose own rows are far off
    lo, hi, _ = held_out_latency_bounds(far[0], others + far, 0.8)
    assert (lo, hi) == _latency_bounds(NEWDEV, others, 0.8)[:2]
    assert hi < 1.5  # with its own rows in, the bound would reach them
    (cov,) = [c for c in coverage(others + far, 0.8) if c.cls is NEWDEV and c.metric == "latency"]
    assert cov.rows == len(others) + 3 and cov.devices == 7
    pred = ExternalPrediction("x.csv", 0, "ext", "rknn", "net0", "int8", "latency", math.exp(1.5), 1.0, NEWDEV)
    (h,) = held_out_intervals([pred], others + far, 0.8)
    assert not h.covered and h.hi_ms == pytest.approx(math.exp(hi))


def test_an_external_row_is_predicted_as_shipped_in_the_class_the_driver_gives_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from edgesim.validate.npu_external import predict_external

    lines = (data_path("reference", "npu_external", "ext7-a.csv").read_text(encoding="utf-8").splitlines())
    row = next(i for i, line in enumerate(lines) if ",rk3576," in line and ",mobilenet_v2," in line)
    path = tmp_path / "one.csv"
    path.write_text("\n".join([lines[0], lines[row]]) + "\n", encoding="utf-8")
    (p,), refused = predict_external([path])
    assert refused == 0 and p.cls is NEWDEV and (p.device, p.runtime, p.network) == ("rk3576", "rknn", "mobilenet_v2")
    assert p.residual().external == "one.csv"
    assert p.residual().latency_log == pytest.approx(math.log(p.measured_ms / p.predicted_ms))
    shipped = [r for r in json.loads(data_path(*NPU_CALIBRATION_FILE).read_text())["rows"]
               if r.get("external") == "ext7-a.csv" and r["device"] == "rk3576" and r["benchmark"] == "mobilenet_v2"]
    assert [r["class"] for r in shipped] == [NEWDEV.value]
    assert shipped[0]["latency_log"] == pytest.approx(p.residual().latency_log, abs=1e-5)


def test_an_external_row_of_a_measured_board_gets_the_device_calibration_a_run_gets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The 8 Gen 3's Inception-v1: the board has QNN rows of other networks, so a run scales the model by their
    int8 offset; the external row (in no fit) is checked as that run predicts it."""
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, run
    from edgesim.validate.npu_external import predict_external

    lines = (data_path("reference", "npu_external", "ext7-b.csv").read_text(encoding="utf-8").splitlines())
    row = next(i for i, line in enumerate(lines)
               if ",snapdragon-8-gen3," in line and ",inception_v1," in line and "INT8" in line.upper())
    path = tmp_path / "one.csv"
    path.write_text("\n".join([lines[0], lines[row]]) + "\n", encoding="utf-8")
    (p,), refused = predict_external([path])
    assert refused == 0 and p.cls is NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK
    int8 = TransformOptions(quant=QuantPreset("int8"), calibration="fixed", accuracy=False)
    spec = RunSpec("inception_v1", "snapdragon-8-gen3", "qnn", transform=int8)
    scaled, plain = run(spec), run(replace(spec, device_calibration=False))
    assert scaled.device_scale is not None and not scaled.device_scale.of_network
    assert scaled.device_scale.multiplier != 1.0
    assert p.predicted_ms == pytest.approx(plain.latency_s * 1e3 * scaled.device_scale.multiplier, rel=1e-9)


def test_a_class_uses_its_own_runtime_scales_where_it_has_them() -> None:
    from edgesim.pipeline.interval_calibration import class_scales

    own = [("a", "d1", 0.1)] * 12 + [("b", "d2", 0.2)] * 5
    pooled = own + [("a", "d3", 2.0)] * 12 + [("b", "d4", 0.4)] * 12
    assert class_scales(own, pooled, "a") == {"a": pytest.approx(0.1)}  # own: a's far-off rows elsewhere ignored
    assert class_scales(own, pooled, "b")["b"] == pytest.approx(math.sqrt((5 * 0.04 + 12 * 0.16) / 17))


def test_the_target_groups_count_the_external_new_boards() -> None:
    from edgesim.validate.intervals import shipped_residuals, target_group_coverage

    res = shipped_residuals()
    table = [x for x in res if x.external is None]
    ext_new = sum(x.cls is NEWDEV for x in res if x.external is not None)

    def without(rows: list[Residual]) -> int:
        return next(g.rows for g in target_group_coverage(rows, 0.8)
                    if g.group == "devices without rows" and g.metric == "latency")

    assert without(res) == without(table) + ext_new


def test_a_flagged_row_calibrates_no_bound_but_is_still_checked() -> None:
    """A row a declared unmodelled cost applies to (Residual.flagged: the Lunar Lake NPU's legacy DetectionOutput
    sort, 6-15x the model) made every openvino-npu new-device bound ~5x wide while in the calibration."""
    others = [x for k in range(6) for x in _res(f"b{k}", [0.02 * (i - 5) * (k + 1) / 3 for i in range(11)])]
    wild = [replace(x, flagged=True) for x in _res("lnl", [2.0, 2.3, 2.6])]
    plain = _res("new", [0.0])[0]
    assert held_out_latency_bounds(plain, others + wild + [plain], 0.8) == \
        held_out_latency_bounds(plain, others + [plain], 0.8)
    assert held_out_latency_bounds(plain, others + [replace(x, flagged=False) for x in wild] + [plain], 0.8)[1] > \
        held_out_latency_bounds(plain, others + [plain], 0.8)[1]
    # the flagged rows are still held out and checked against the others' bounds
    (cov,) = [c for c in coverage(others + wild, 0.8) if c.cls is NEWDEV and c.metric == "latency"]
    assert cov.rows == len(others) + len(wild)


def test_the_shipped_npu_calibration_keeps_flagged_rows_apart() -> None:
    from edgesim.validate.coverage_tables import residual_gaps
    from edgesim.validate.intervals import shipped_residuals

    raw = json.loads(data_path(*NPU_CALIBRATION_FILE).read_text())
    assert raw["flagged_rows"] and all(r["class"] for r in raw["flagged_rows"])
    residuals = [x for x in shipped_residuals() if x.cls in NPU_CLASSES or x.external]
    flagged = [x for x in residuals if x.flagged]
    assert len(flagged) == len(raw["flagged_rows"])
    assert all(residual_gaps(x) for x in flagged)
    assert not any(residual_gaps(x) for x in residuals if not x.flagged)
    # the run-time bounds never see them
    lnl_sort = {round(x.latency_log, 6) for x in flagged if x.device == "core-ultra-9-288v"}
    assert lnl_sort and not lnl_sort & set(raw["latency"][NEWDEV.value])


def test_residuals_are_flagged_where_they_are_collected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The calibration command prints its coverage from the residuals it collects: they carry the flag the file
    keeps, so it is the same check `validate --coverage` makes from the file (before, the fresh residuals were
    unflagged and the printed coverage trained on the Lunar Lake sort rows)."""
    import csv

    from edgesim.validate.intervals import collect_npu_residuals, npu_calibration_dict
    from edgesim.validate.npu_vendor import validate_vendor

    header = ["device", "hw_profile", "runtime_id", "zoo_model", "input_shape", "precision", "metric", "value"]
    rows = [["lnl", "core-ultra-9-288v", "openvino-npu", net, "", "INT8", "latency_ms", "2"]
            for net in ("ssd_mobilenet_v1", "mobilenet_v2", "ssd_mobilenet_v1", "mobilenet_v2")]
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    res = collect_npu_residuals(validate_vendor(path, predictor=lambda r: 1.0))
    assert res and {x.benchmark for x in res if x.flagged} == {"ssd_mobilenet_v1"}
    assert {x.benchmark for x in res if not x.flagged} == {"mobilenet_v2"}
    doc = npu_calibration_dict(res)
    assert {r["benchmark"] for r in doc["flagged_rows"]} == {"ssd_mobilenet_v1"}  # type: ignore[index, union-attr]
    assert {r["benchmark"] for r in doc["rows"]} == {"mobilenet_v2"}  # type: ignore[index, union-attr]
