"""A board's own vendor-table rows in its prediction (edgesim.pipeline.device_calibration): applied by the driver
to the shipped board with the runtime and zoo network of its rows only, carried to reruns of the same board,
never to the validation's own predictions; fitted and scored held out (edgesim.validate.device_offsets)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from edgesim.hw.loader import load_profile
from edgesim.hw.uncertain import with_field
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunSpec, TransformOptions, run, run_on
from edgesim.pipeline.device_calibration import device_scale_table, is_shipped_device, table_from_dict
from edgesim.validate.device_offsets import device_calibration_dict, held_out_calibrated
from edgesim.validate.npu_vendor import VendorResult, VendorRow, row_spec, validate_vendor

DEVICE, RUNTIME, NETWORK = "imx8mp", "tflite-xnnpack", "mobilenet_v2"
INT8 = TransformOptions(quant=QuantPreset("int8"), calibration="fixed", accuracy=False)


def _scale() -> float:
    found = device_scale_table().find(DEVICE, RUNTIME, {"network": NETWORK, "precision": "int8"})
    assert found is not None and found.of_network and found.rows >= 2  # the board's MobileNet v2 rows
    return found.multiplier


def test_the_shipped_board_with_its_network_is_scaled_and_says_so() -> None:
    k = _scale()
    plain = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8, device_calibration=False))
    cal = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8))
    assert cal.device_scale is not None and cal.device_scale.multiplier == k
    assert cal.latency_s == pytest.approx(plain.latency_s * k, rel=1e-12)
    assert sum(x.latency_s for x in cal.estimate.layers) == pytest.approx(
        k * sum(x.latency_s for x in plain.estimate.layers), rel=1e-12)
    assert cal.estimate.energy.static_j == pytest.approx(plain.estimate.energy.static_j * k, rel=1e-12)
    assert cal.estimate.energy.compute_j == plain.estimate.energy.compute_j
    assert any(n.startswith("calibrated on") and "vendor rows of this device" in n for n in cal.estimate.notes)
    assert plain.device_scale is None and not any("vendor rows" in n for n in plain.estimate.notes)
    # the event engine agrees on the latency and scales the stream's throughput alike
    from edgesim.pipeline import Engine

    ev = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8, engine=Engine.EVENT))
    ev_plain = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8, engine=Engine.EVENT, device_calibration=False))
    assert ev.sim is not None and ev_plain.sim is not None
    assert ev.latency_s == pytest.approx(ev_plain.latency_s * k, rel=1e-12)
    assert ev.sim.makespan_s == pytest.approx(ev_plain.sim.makespan_s * k, rel=1e-12)


def test_another_chip_network_or_runtime_is_not_scaled() -> None:
    _scale()
    prof = load_profile(DEVICE)
    assert is_shipped_device(DEVICE, None) and is_shipped_device(prof, None)
    edited = with_field(prof, "memories.0.read_bw_bytes_per_cycle", prof.memories[0].read_bw_bytes_per_cycle * 0.9)
    assert not is_shipped_device(edited, None)
    assert not is_shipped_device(DEVICE, prof.clock_mhz * 0.9)
    # its own clock asked for explicitly is the same board: --clock-mhz at the shipped value (or a sweep's clock
    # axis through it) dropped the calibration, answering 8% slower than the same question without the flag
    assert is_shipped_device(DEVICE, prof.clock_mhz)
    same = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8, clock_mhz=prof.clock_mhz))
    assert same.device_scale is not None
    assert same.latency_s == run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8)).latency_s
    assert run(RunSpec(NETWORK, prof, RUNTIME, transform=INT8)).device_scale is not None  # the same numbers
    assert run(RunSpec(NETWORK, edited, RUNTIME, transform=INT8)).device_scale is None
    # a network without rows on the board: its other networks' int8 rows scale it, not as its own
    other = run(RunSpec("squeezenet", DEVICE, RUNTIME, transform=INT8)).device_scale
    assert other is not None and not other.of_network and "other networks" in other.note()
    assert other == device_scale_table().find(DEVICE, RUNTIME, {"network": "squeezenet", "precision": "int8"})


def test_asking_whether_a_board_is_shipped_parses_no_profile_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run of a board with vendor rows asks is_shipped_device; it listed the bundled profiles by parsing all
    ~60 YAML files for their descriptions (2-7 s a run, a compare or sweep over these boards crawled)."""
    import edgesim.hw.loader as loader

    load_profile(DEVICE)  # cached: the question needs no file read again

    def no_parse(path: Path) -> None:
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(loader, "_read_yaml", no_parse)
    assert is_shipped_device(DEVICE, None)
    assert not is_shipped_device(load_profile(DEVICE).model_copy(update={"id": "not-bundled"}), None)


def test_reruns_of_a_scaled_board_keep_its_multiplier() -> None:
    k = _scale()
    cal = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8))
    slower = cal.profile.with_clock(cal.profile.clock_mhz / 2)
    again = run_on(cal, slower)
    plain = run_on(run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8, device_calibration=False)), slower)
    assert again.latency_s == pytest.approx(plain.latency_s * k, rel=1e-12)


def test_validation_predicts_the_model_alone() -> None:
    row = VendorRow(2, DEVICE, RUNTIME, NETWORK, "1x3x224x224", None, "int8", "latency", 1.0)
    assert row_spec(row).device_calibration is False


def _res(line: int, device: str, net: str, meas: float, pred: float = 1.0) -> VendorResult:
    return VendorResult(line, device, "rknn", net, "int8", "latency", meas, pred)


def _rows() -> list[VendorResult]:
    out = []
    for i, (device, off) in enumerate((("a", 0.6), ("b", -0.5), ("c", 0.1), ("d", -0.2))):
        for j in range(4):
            net = f"n{j // 2}"
            out.append(_res(2 + 8 * i + j, device, net, math.exp(off + 0.02 * (-1) ** j)))
    return out


def test_held_out_lines_use_even_line_multipliers_only() -> None:
    rows = _rows()
    held = {r.line: r for r in held_out_calibrated(rows)}
    assert set(held) == {r.line for r in rows if r.line % 2}
    moved = [replace(r, measured_ms=r.measured_ms * 5) if r.line % 2 else r for r in rows]
    assert {r.line: r.predicted_ms for r in held_out_calibrated(moved)} == {k: r.predicted_ms for k, r in held.items()}


def test_validate_vendor_scores_the_calibrated_odd_lines(tmp_path: Path) -> None:
    import csv

    header = ["device", "hw_profile", "runtime_id", "zoo_model", "input_shape", "precision", "metric", "value"]
    lines = [["a", "rk3566", "rknn", "net", "", "INT8", "latency_ms", "4"],
             ["b", "rk3562", "rknn", "net", "", "INT8", "latency_ms", "1"],
             ["a", "rk3566", "rknn", "net", "", "INT8", "latency_ms", "3"]]
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *lines])
    v = validate_vendor(path, predictor=lambda r: 1.0)
    assert list(v.held_out) == held_out_calibrated(v.raw)
    # line 3 (rk3562) has no even line of its own: the runtime's multiplier only (fitted on lines 2 and 4)
    assert {r.line: r.predicted_ms for r in v.held_out}[3] == pytest.approx(math.sqrt(4 * 3))


def test_the_table_is_fitted_on_every_row_and_read_back() -> None:
    rows = _rows()
    doc = device_calibration_dict(rows)
    table = table_from_dict(doc)
    assert [t.level for t in table.tiers] == [("precision",), ("network",)]
    a0 = table.find("a", "rknn", {"network": "n0", "precision": "int8"})
    assert a0 is not None and a0.rows == 2 and a0.of_network
    # runtime multiplier over all 16 rows, then a's n0 offset shrunk toward it: between the two
    runtime = math.exp(sum(math.log(r.measured_ms) for r in rows) / len(rows))
    own = math.exp(sum(math.log(r.measured_ms) for r in rows if r.device == "a" and r.network == "n0") / 2)
    assert runtime < a0.multiplier <= own
    assert table.find("a", "qnn", {"network": "n0"}) is None
    # a network new to board a: the runtime's multiplier and a's int8 offset (its rows all run slow), not n0's own
    new = table.find("a", "rknn", {"network": "n9", "precision": "int8"})
    assert new is not None and not new.of_network and new.rows == 4
    assert runtime < new.multiplier <= own
    bare = table.find("a", "rknn", {"network": "n9", "precision": "fp16"})  # no rows at fp16 either
    assert bare is not None and bare.rows == 0 and bare.multiplier == pytest.approx(runtime, rel=1e-5)


def test_interval_names_the_calibration_and_an_edited_board_is_new() -> None:
    from edgesim.pipeline.intervals import NoveltyClass, interval

    _scale()
    cal = interval(run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8)))
    assert cal.novelty is NoveltyClass.NPU_MEASURED_DEVICE
    assert cal.device_calibration is not None and "vendor rows of this device" in cal.device_calibration
    assert cal.as_dict()["device_calibration"] == cal.device_calibration
    prof = load_profile(DEVICE)
    edited = with_field(prof, "memories.0.read_bw_bytes_per_cycle", prof.memories[0].read_bw_bytes_per_cycle * 0.9)
    new = interval(run(RunSpec(NETWORK, edited, RUNTIME, transform=INT8)))
    assert new.novelty is NoveltyClass.NPU_NEW_DEVICE and new.device_calibration is None


def test_cycle_counts_stay_the_models() -> None:
    k = _scale()
    plain = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8, device_calibration=False))
    cal = run(RunSpec(NETWORK, DEVICE, RUNTIME, transform=INT8))
    assert cal.estimate.cycles == plain.estimate.cycles
    assert [x.compute_cycles for x in cal.estimate.layers] == [x.compute_cycles for x in plain.estimate.layers]
    assert [x.latency_s for x in cal.estimate.layers] == pytest.approx([x.latency_s * k for x in plain.estimate.layers])
