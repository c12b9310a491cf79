"""Known unmodelled costs (RuntimeProfile.unmodelled): the schema refuses a bad declaration, the driver attaches the
ones that apply, every door names them the same way, and the interval does not claim the side they leave open."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import RuntimeProfile
from edgesim.hw.schema_runtime import GapDirection, GapScope, UnmodelledCost
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunResult, RunSpec, TransformOptions, run
from edgesim.pipeline.gaps import KnownGap, applies
from edgesim.pipeline.intervals import Interval, format_range, interval, open_sides
from tests.conftest import REPO, run_cli

SSD_GAP = "openvino-npu:detection-output-sort-npu40xx"
_INT8 = TransformOptions(quant=QuantPreset.INT8, calibration="fixed", accuracy=False)


def _cost(**kw: object) -> UnmodelledCost:
    base: dict[str, object] = {"id": "x", "what": "a cost", "trigger": "always", "direction": "optimistic",
                               "source": "a document"}
    return UnmodelledCost.model_validate(base | kw)


def _runtime_with(**cost: object) -> RuntimeProfile:
    rt = load_runtime("openvino-npu", quiet=True)[0]
    data = rt.model_dump(mode="json") | {"unmodelled": [{"id": "x", "what": "w", "trigger": "always",
                                                         "direction": "optimistic", "source": "s"} | cost]}
    return RuntimeProfile.model_validate(data)


@pytest.mark.parametrize("bad, words", [
    ({"trigger": {"ops": ["NOT_AN_OP"]}}, "unknown op kinds"),
    ({"versions": ["1999.1"]}, "releases"),
    ({"direction": "sideways"}, "direction"),
    ({"id": "Has Spaces"}, "id"),
    ({"magnitude": 1.4}, "magnitude"),  # a number with no unit and no source sentence is refused
])
def test_a_bad_declaration_is_refused(bad: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        _runtime_with(**bad)


def test_declaration_ids_are_unique() -> None:
    rt = load_runtime("openvino-npu", quiet=True)[0]
    one = {"id": "x", "what": "w", "trigger": "always", "direction": "optimistic", "source": "s"}
    with pytest.raises(ValidationError, match="unique"):
        RuntimeProfile.model_validate(rt.model_dump(mode="json") | {"unmodelled": [one, one]})


def test_applies_reads_chip_globs_releases_and_the_trigger() -> None:
    cost = _cost(chips=["hailo-8*"], versions=["4.17"], trigger={"ops": ["REGION_YOLO"]})
    keys = frozenset({"CONV2D", "UNARY_MATH", "REGION_YOLO"})
    assert applies(cost, "hailo-8l", "4.17", keys)
    assert applies(cost, "hailo-8l", None, keys)  # release unknown (a residual): not filtered by it
    assert not applies(cost, "hailo-10h", "4.17", keys)
    assert not applies(cost, "hailo-8", "5.2", keys)
    assert not applies(cost, "hailo-8", "4.17", frozenset({"CONV2D"}))
    assert not applies(cost, "hailo-8", "4.17", None)  # no graph: an op trigger does not hold
    assert applies(_cost(), "anything", None, None)


def test_every_bundled_declaration_names_a_source_and_loads() -> None:
    from edgesim.hw.loader import list_runtimes

    declared = {f"{rid}:{c.id}" for rid, _ in list_runtimes() for c in load_runtime(rid, quiet=True)[0].unmodelled}
    assert {SSD_GAP, "hailort:nms-on-nn-core", "nncase:k230-yolo-bodies"} <= declared


@pytest.fixture(scope="module")
def ssd_288v() -> RunResult:
    return run(RunSpec("ssd_mobilenet_v1", "core-ultra-9-288v", "openvino-npu", transform=_INT8))


def test_the_driver_attaches_only_the_gaps_that_apply(ssd_288v: RunResult) -> None:
    assert [f"{g.runtime}:{g.cost.id}" for g in ssd_288v.gaps] == [SSD_GAP]
    # the same network on NPU37XX (its Sort is split over the SHAVEs), a network without the SSD tail on NPU40XX
    assert run(RunSpec("ssd_mobilenet_v1", "core-ultra-7-165h", "openvino-npu", transform=_INT8)).gaps == ()
    assert run(RunSpec("mobilenet_v2", "core-ultra-9-288v", "openvino-npu", transform=_INT8)).gaps == ()
    line = next(w for w in ssd_288v.warnings() if w.startswith("not modelled:"))
    assert "detection_output_sort_top_k_legacy" in line and "this latency is likely optimistic" in line
    assert line.endswith(f"[{SSD_GAP}]")


def test_the_interval_leaves_the_upper_end_open(ssd_288v: RunResult) -> None:
    iv = interval(ssd_288v, 0.8)
    assert not iv.latency_s.upper_bounded and iv.latency_s.lower_bounded and not iv.energy_j.upper_bounded
    assert iv.latency_s.lo <= ssd_288v.latency_s  # the point and the lower end as calibrated
    assert iv.latency_s.as_list() == [iv.latency_s.lo, None]
    d = iv.as_dict()
    assert d["upper_bounded"] is False and d["unmodelled"] == [SSD_GAP]
    assert format_range(iv.latency_s, 0.8, "s").startswith(">= ")
    plain = interval(run(RunSpec("mobilenet_v2", "core-ultra-9-288v", "openvino-npu", transform=_INT8)), 0.8)
    assert plain.latency_s.upper_bounded and plain.as_dict()["upper_bounded"] is True and plain.unmodelled == ()


def test_open_sides_by_direction_scope_and_rate() -> None:
    iv = Interval(1.0, 2.0)
    opt = KnownGap("rt", _cost())
    pes = KnownGap("rt", _cost(direction="pessimistic"))
    stream = KnownGap("rt", _cost(scope="stream"))
    assert open_sides(iv, []) == iv
    assert open_sides(iv, [opt]) == Interval(1.0, 2.0, upper_bounded=False)
    assert open_sides(iv, [pes]) == Interval(1.0, 2.0, lower_bounded=False)
    assert open_sides(iv, [opt], rate=True) == Interval(1.0, 2.0, lower_bounded=False)  # per second: swapped
    assert open_sides(iv, [stream]) == iv  # one inference's latency already pays a per-frame floor
    assert open_sides(iv, [stream], stream=True) == Interval(1.0, 2.0, upper_bounded=False)
    assert Interval(1.0, 2.0, upper_bounded=False).contains(50.0)
    assert not Interval(1.0, 2.0, upper_bounded=False).contains(0.5)
    assert stream.cost.scope is GapScope.STREAM and pes.cost.direction is GapDirection.PESSIMISTIC


def test_a_stream_gap_opens_the_throughput_only() -> None:
    # No bundled runtime declares a stream-scoped gap since the Hailo-10H's per-frame RPC became a modelled floor
    # (RuntimeProfile.frame_round_trips): one is attached to a stream's result here.
    res = run(RunSpec("mobilenet_v2", "hailo-8", "hailort@5.2", transform=_INT8, engine="event", frames=4))
    assert res.gaps == ()
    res = replace(res, gaps=(KnownGap("hailort", _cost(id="rpc", scope="stream")),))
    iv = interval(res, 0.8)
    assert iv.latency_s.upper_bounded and iv.throughput_inf_per_s is not None
    assert not iv.throughput_inf_per_s.lower_bounded and iv.throughput_inf_per_s.upper_bounded
    assert "a stream's throughput is likely optimistic" in res.gaps[0].line()


def test_every_door_names_the_same_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       ssd_288v: RunResult) -> None:
    from edgesim import api
    from edgesim.explore.compare import compare, format_compare
    from edgesim.validate.npu_vendor import VendorRow, predict_all

    line = ssd_288v.gaps[0].line()
    out_json = tmp_path / "run.json"
    argv = ["ssd_mobilenet_v1", "--hw", "core-ultra-9-288v", "--runtime", "openvino-npu", "--quant", "int8"]
    code, out, _ = run_cli(["run", *argv, "--fast", "--json", str(out_json)], capsys)
    assert code == 0 and f"warning: {line}" in out and "interval: latency >= " in out
    doc = json.loads(out_json.read_text())
    assert [f"{g['runtime']}:{g['id']}" for g in doc["unmodelled"]] == [SSD_GAP] and line in doc["warnings"]
    assert doc["latency_interval_s"][1] is None and doc["interval"]["upper_bounded"] is False
    code, out, _ = run_cli(["report", *argv, "--fast", "-o", str(tmp_path / "r.html")], capsys)
    assert code == 0 and f"warning: {line}" in out
    assert "detection_output_sort_top_k_legacy" in (tmp_path / "r.html").read_text()
    rows = compare(["ssd_mobilenet_v1"], ["core-ultra-9-288v"], ["openvino-npu"], quant="int8")
    assert line in rows[0].warnings and rows[0].latency_hi_s is None and rows[0].latency_lo_s is not None
    assert ">= " in format_compare(rows)
    assert api.interval(ssd_288v).unmodelled == (SSD_GAP,)
    row = VendorRow(1, "core-ultra-9-288v", "openvino-npu", "ssd_mobilenet_v1", "1x3x300x300", None, "int8",
                    "latency", 7.55)
    assert predict_all([row])[0].unmodelled == (line,)


def test_validate_rows_carry_the_gap_only_where_it_applies(tmp_path: Path) -> None:
    from edgesim.validate.core import ValidationResult, validate

    ref = tmp_path / "ref.csv"
    ref.write_text("device,runtime,clock_mhz,benchmark,model_file,latency_ms\n"
                   "core-ultra-9-288v,openvino-npu,,ssd,ssd_mobilenet_v1,7.55\n"
                   "core-ultra-9-288v,openvino-npu,,cls,mobilenet_v2,0.39\n")
    result: ValidationResult = validate(ref)
    rows = result.as_dict()["rows"]
    assert SSD_GAP.split(":")[1] in rows[0]["unmodelled"][0]
    assert "unmodelled" not in rows[1]  # rows of runtimes with no gap read as before (the MLPerf JSON unchanged)


def test_held_out_external_rows_count_the_bounded_end_only(ssd_288v: RunResult) -> None:
    from edgesim.pipeline.intervals import NoveltyClass
    from edgesim.validate.intervals import shipped_residuals
    from edgesim.validate.npu_external import ExternalPrediction, held_out_intervals

    p = ExternalPrediction("ext7-b.csv", 2, "core-ultra-9-288v", "openvino-npu", "ssd_mobilenet_v1", "int8",
                           "latency", 7.55, 0.742, NoveltyClass.NPU_NEW_DEVICE, gaps=ssd_288v.gaps)
    h = held_out_intervals([p], shipped_residuals(), 0.8)[0]
    assert not h.upper_bounded and h.covered and not h.covered_two_sided
    bare = held_out_intervals([ExternalPrediction(*(getattr(p, f) for f in ("file", "line", "device", "runtime",
                                                                           "network", "precision", "metric",
                                                                           "measured_ms", "predicted_ms", "cls")))],
                              shipped_residuals(), 0.8)[0]
    assert bare.upper_bounded and not bare.covered


def test_coverage_report_shows_the_flagged_rows_apart() -> None:
    from edgesim.pipeline.intervals import NoveltyClass
    from edgesim.validate.coverage_tables import flagged_table, residual_gaps
    from edgesim.validate.intervals import Residual, shipped_residuals

    ssd = Residual(2, "core-ultra-9-288v", "openvino-npu", "ssd_mobilenet_v1", NoveltyClass.NPU_NEW_DEVICE, 2.3,
                   None, external="ext7-b.csv")
    assert [g.cost.id for g in residual_gaps(ssd)] == ["detection-output-sort-npu40xx"]
    mcu = Residual(2, "stm32l4r5", "tflm", "ic", NoveltyClass.MEASURED_DEVICE, 0.1, None)
    assert residual_gaps(mcu) == ()
    table = flagged_table(shipped_residuals(), 0.8)
    assert "npu_new_device" in table and SSD_GAP in table


def test_docs_list_the_declarations_from_the_yaml() -> None:
    from edgesim.report.gaps_doc import bundled_gaps_markdown

    text = (REPO / "docs" / "intervals.md").read_text(encoding="utf-8")
    block = text.split("<!-- intervals-unmodelled:begin -->\n", 1)[1].split("\n<!-- intervals-unmodelled:end -->")[0]
    assert block == bundled_gaps_markdown()


def test_a_thread_trigger_holds_on_more_than_one_host_thread() -> None:
    one = run(RunSpec("resnet8", "esp32-s3", "esp-dl", threads=1))
    two = run(RunSpec("resnet8", "esp32-s3", "esp-dl", threads=2))
    assert one.gaps == () and [g.cost.id for g in two.gaps] == ["dual-core-split"]
    assert one.latency_s > two.latency_s  # the point is the modelled split; only what is claimed changes
    assert not applies(_cost(trigger="multi_thread"), "esp32-s3", None, None)  # threads unknown: does not hold


def test_a_point_scaled_by_the_networks_own_rows_absorbs_the_gap() -> None:
    spec = RunSpec("yolov3_tiny", "core-ultra-7-165h", "openvino-npu", transform=_INT8)
    own = run(spec)  # the 165H's vendor rows of yolov3_tiny scale the point: they were measured with the cost
    assert own.device_scale is not None and [g.cost.id for g in own.gaps] == ["region-yolo-npu37xx"]
    assert own.gaps[0].absorbed_by is not None and "measured with it" in own.gaps[0].line()
    iv = interval(own, 0.8)
    assert iv.latency_s.upper_bounded and iv.unmodelled == ()
    from dataclasses import replace

    model_only = run(replace(spec, device_calibration=False))
    assert model_only.gaps[0].absorbed_by is None and "likely optimistic" in model_only.gaps[0].line()
    assert not interval(model_only, 0.8).latency_s.upper_bounded


def test_the_npu40xx_sort_flag_reaches_efficientdet() -> None:
    # OMZ efficientdet-d0-tf ends in a DetectionOutput as the SSDs do: the Lunar Lake NPU's legacy sort applies
    eff = run(RunSpec("efficientdet_d0", "core-ultra-9-288v", "openvino-npu", input_shape=(1, 3, 128, 128),
                      transform=_INT8))
    assert [f"{g.runtime}:{g.cost.id}" for g in eff.gaps] == [SSD_GAP]
    bare = run(RunSpec("efficientdet_d0", "core-ultra-7-155h", "openvino-npu", input_shape=(1, 3, 128, 128),
                       transform=_INT8))
    assert not bare.gaps  # NPU37XX splits the sort over its SHAVEs: modelled
