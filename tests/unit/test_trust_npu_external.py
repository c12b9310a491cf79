"""The external vendor numbers (devices the NPU model was never built with) ship as package data and calibrate the
NPU intervals (issue #18); the check of those intervals holds each device's own residuals out."""

from __future__ import annotations

import fnmatch
import json
import math
import tomllib

import pytest

from edgesim.files import data_path
from edgesim.hw.loader import load_profile, load_runtime
from edgesim.pipeline.interval_calibration import (
    NPU_CALIBRATION_FILE,
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
