"""A measured NPU board asked about a network it has no vendor rows of (issue #18): its own class,
``npu_measured_device_new_network``, chosen from the facts the device calibration stage uses, and calibrated on
the held-out odd lines whose (device, runtime, network) has no even line."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from edgesim.hw.loader import load_profile
from edgesim.hw.uncertain import with_field
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunSpec, TransformOptions, run
from edgesim.pipeline.intervals import (
    BY_RUNTIME,
    NPU_CLASSES,
    NoveltyClass,
    calibration_table,
    interval,
    npu_board_class,
)
from edgesim.validate.intervals import (
    Residual,
    _held_out_hits,
    collect_npu_residuals,
    coverage,
    npu_calibration_dict,
    shipped_residuals,
)
from edgesim.validate.npu_vendor import validate_vendor

CAL = NoveltyClass.NPU_MEASURED_DEVICE
NEWNET = NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK
NEWDEV = NoveltyClass.NPU_NEW_DEVICE
DEVICE, RUNTIME = "imx8mp", "tflite-xnnpack"
INT8 = TransformOptions(quant=QuantPreset("int8"), calibration="fixed", accuracy=False)


def test_the_class_follows_the_device_calibration() -> None:
    assert npu_board_class(shipped=True, calibrated=True) is CAL
    assert npu_board_class(shipped=True, calibrated=False) is NEWNET
    assert npu_board_class(shipped=False, calibrated=False) is NEWDEV
    assert NEWNET in BY_RUNTIME and NEWNET in NPU_CLASSES


def test_a_network_new_to_a_measured_board_gets_its_own_class() -> None:
    cal = run(RunSpec("mobilenet_v2", DEVICE, RUNTIME, transform=INT8))
    new = run(RunSpec("squeezenet", DEVICE, RUNTIME, transform=INT8))  # the table has no squeezenet on it
    # the board's other networks at this precision scale the new one's point, not its own rows
    assert cal.device_scale is not None and cal.device_scale.of_network
    assert new.device_scale is not None and not new.device_scale.of_network
    iv_cal, iv_new = interval(cal), interval(new)
    assert iv_cal.novelty is CAL and iv_new.novelty is NEWNET
    assert iv_new.as_dict()["novelty_class"] == "npu_measured_device_new_network"
    assert iv_new.device_calibration is not None and "other networks" in iv_new.device_calibration
    from edgesim.cli.trust import interval_lines

    assert "npu_measured_device_new_network (this board and runtime have vendor benchmark-table rows, this " \
           "network has none" in interval_lines(iv_new)[1]
    assert "point calibrated on" in interval_lines(iv_cal)[1]
    assert len(calibration_table().residuals(NEWNET)) >= 30
    # an edited copy, another clock or a sweep point is a new board, whatever the network
    prof = load_profile(DEVICE)
    edited = with_field(prof, "memories.0.read_bw_bytes_per_cycle", prof.memories[0].read_bw_bytes_per_cycle * 0.9)
    assert interval(run(RunSpec("squeezenet", edited, RUNTIME, transform=INT8))).novelty is NEWDEV
    assert interval(run(RunSpec("squeezenet", DEVICE, RUNTIME, transform=INT8,
                                clock_mhz=prof.clock_mhz * 0.9, overclock=True))).novelty is NEWDEV
    assert interval(new, at_least=NoveltyClass.KNOWN_FAMILY).novelty is NEWDEV


def test_odd_lines_without_an_even_line_of_their_network_are_the_new_network_class(tmp_path: Path) -> None:
    header = ["device", "hw_profile", "runtime_id", "zoo_model", "input_shape", "precision", "metric", "value"]
    lines = [["a", "rk3566", "rknn", "net", "", "INT8", "latency_ms", "4"],      # line 2: even
             ["a", "rk3566", "rknn", "net", "", "INT8", "latency_ms", "3"],      # line 3: its network has line 2
             ["b", "rk3562", "rknn", "net", "", "INT8", "latency_ms", "1"],      # line 4: even
             ["a", "rk3566", "rknn", "other", "", "INT8", "latency_ms", "2"],    # line 5: no even line of 'other'
             ["b", "rk3562", "rknn", "other", "", "INT8", "latency_ms", "2"]]    # line 6: even, another board
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *lines])
    v = validate_vendor(path, predictor=lambda r: 1.0)
    res = collect_npu_residuals(v)
    measured = {x.line: x.cls for x in res if x.cls is not NEWDEV}
    assert measured == {3: CAL, 5: NEWNET}
    doc = npu_calibration_dict(res)
    assert set(doc["latency"]) == {c.value for c in NPU_CLASSES}  # type: ignore[arg-type]
    assert len(doc["latency"]["npu_measured_device_new_network"]) == 1  # type: ignore[index]


def _normal(n: int, sd: float, shift: int) -> list[float]:
    """n equally spaced normal quantiles of sd, rotated so that consecutive groups get mixed values."""
    q = [sd * statistics.NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)]
    return [q[(i * 7 + shift) % n] for i in range(n)]


def _synthetic(split: bool) -> list[Residual]:
    """Calibrated points off by a log sd of 0.1, points of networks new to the board by 0.4, one runtime on 6
    boards with 10 networks each (a group: a board's network; lines from 100: the new networks')."""
    out = []
    for cls, sd, first in ((CAL, 0.1, 0), (NEWNET, 0.4, 100)):
        for i, v in enumerate(_normal(60, sd, 3 if cls is CAL else 5)):
            out.append(Residual(first + i, f"d{i % 6}", "rknn", f"n{first + i // 6}", cls if split else CAL, v,
                                None))
    return out


def test_the_split_covers_new_networks_as_asked_and_the_pooled_class_does_not() -> None:
    pooled = coverage(_synthetic(split=False), 0.8)
    split = {c.cls: c for c in coverage(_synthetic(split=True), 0.8)}
    assert set(split) == {CAL, NEWNET}
    assert 0.7 <= split[NEWNET].covered <= 0.9 and 0.7 <= split[CAL].covered <= 0.9
    assert split[NEWNET].median_half_width > 2 * split[CAL].median_half_width
    # pooled: one class's bounds for both, held out as ``coverage`` holds them out: 80% over all rows, but the
    # new networks' rows under-covered and the calibrated ones over-covered
    (one,) = pooled
    assert one.cls is CAL and one.rows == 120
    hits, _ = _held_out_hits(CAL, "latency", _synthetic(split=False), [], [], 0.8)

    def share(rows: list[bool]) -> float:
        return sum(rows) / len(rows)

    assert share([h.covered for h in hits if h.row.line >= 100]) < 0.7
    assert share([h.covered for h in hits if h.row.line < 100]) > 0.9


@pytest.mark.parametrize("confidence", [0.8, 0.9])
def test_the_shipped_new_network_class_is_covered_held_out(confidence: float) -> None:
    (row,) = [c for c in coverage([x for x in shipped_residuals() if x.cls in BY_RUNTIME], confidence)
              if c.cls is NEWNET]
    assert row.rows >= 30 and confidence - 0.1 <= row.covered <= min(confidence + 0.1, 0.97)
