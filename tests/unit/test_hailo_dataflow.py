"""Hailo-8 as a dataflow NPU: its 8 clusters are cores of the event engine, HailoRT declares inter-op parallelism
and layer pipelining, and the model zoo's FPS rows are predicted as the steady-state period of a stream."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from edgesim.api import estimate, load_profile, resolve_runtime
from edgesim.errors import EdgesimError
from edgesim.hw.schema import Precision
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.sim import TraceRecorder, simulate_schedule
from edgesim.sim.stream import schedule_period_s as stream_period_s
from edgesim.sim.stream import stream_frames
from edgesim.sim.trace import TraceEvent
from edgesim.validate import read_reference, validate
from edgesim.validate.edge import convert_edge_latency, row_metric
from tests._helpers import reference_graph

# SqueezeNet at 96x96, int8: fire modules give independent branches, and it maps and simulates in well under 1 s.
MODEL = "squeezenet@96"


@pytest.fixture(scope="module")
def hailo() -> tuple[Any, Any, Any]:
    prof = load_profile("hailo-8")
    rt, version = resolve_runtime(prof, None)
    return prof, rt, version


@pytest.fixture(scope="module")
def schedule(hailo: tuple[Any, Any, Any]) -> Schedule:
    prof, rt, version = hailo
    return build_schedule(reference_graph(MODEL), prof, rt, version)


def _max_concurrent_ops(events: list[TraceEvent]) -> int:
    """Most distinct ops (frames count apart) running on the NPU's cores at one instant."""
    edges = sorted((t, d, e.what) for e in events if e.unit.startswith("npu.") and e.end_s > e.start_s
                   for t, d in ((e.start_s, 1), (e.end_s, -1)))
    live: dict[str, int] = {}
    best = 0
    for _, d, what in sorted(edges, key=lambda x: (x[0], x[1])):
        live[what] = live.get(what, 0) + d
        best = max(best, sum(1 for n in live.values() if n > 0))
    return best


def test_profile_is_eight_clusters_at_26_tops_and_hailort_pipelines(hailo: tuple[Any, Any, Any]) -> None:
    prof, rt, _ = hailo
    npu = prof.unit("npu")
    assert npu.count == 8
    peak_ops_per_s = 2 * npu.macs_per_cycle[Precision.INT8] * npu.count * prof.clock_mhz * 1e6
    assert peak_ops_per_s == pytest.approx(26e12)
    assert rt.inter_op_parallel and rt.layer_pipelining


def test_every_cluster_has_a_trace_row_and_independent_layers_share_the_chip(
        hailo: tuple[Any, Any, Any], schedule: Schedule) -> None:
    prof = hailo[0]
    rec = TraceRecorder()
    result = simulate_schedule(schedule, prof, rec)
    assert {e.unit for e in rec.events if e.unit.startswith("npu")} == {f"npu.core{i}" for i in range(8)}
    # One frame: the fire modules' expand branches run side by side on disjoint clusters.
    npu_ops = [o for o in result.ops if o.unit == "npu"]
    side_by_side = [(a.node, b.node) for a, b in combinations(npu_ops, 2)
                    if set(a.cores).isdisjoint(b.cores) and min(a.end_s, b.end_s) > max(a.start_s, b.start_s)]
    assert side_by_side
    # A stream of frames: layers of different frames occupy the clusters at once.
    rec8 = TraceRecorder()
    simulate_schedule(schedule, prof, rec8, frames=8)
    assert _max_concurrent_ops(rec8.events) >= 4


def test_a_stream_raises_throughput_over_one_frame(hailo: tuple[Any, Any, Any], schedule: Schedule) -> None:
    prof, rt, version = hailo
    one = simulate_schedule(schedule, prof)
    eight = simulate_schedule(schedule, prof, frames=8)
    assert eight.throughput_inf_per_s > 1.2 * one.throughput_inf_per_s
    period = stream_period_s(schedule, prof)
    assert period < 1.0 / one.throughput_inf_per_s  # the steady state beats one frame's latency
    # Inter-op parallelism and pipelining are what the runtime declares; without them the stream is no faster.
    serial_rt = rt.model_copy(update={"inter_op_parallel": False, "layer_pipelining": False})
    serial = build_schedule(reference_graph(MODEL), prof, serial_rt, version)
    assert period <= stream_period_s(serial, prof) * 1.001


@pytest.mark.parametrize("model", [MODEL, "resnet50@96"])
def test_one_frame_with_inter_op_parallelism_is_never_slower_than_one_op_at_a_time(
        hailo: tuple[Any, Any, Any], model: str) -> None:
    # A running op cannot grow onto clusters that free up later, so starting a long op on the few idle clusters
    # can end it after waiting for every cluster would have: the dispatcher waits then (one frame only).
    prof, rt, version = hailo
    graph = reference_graph(model)
    parallel = simulate_schedule(build_schedule(graph, prof, rt, version), prof)
    serial_rt = rt.model_copy(update={"inter_op_parallel": False, "layer_pipelining": False})
    serial = simulate_schedule(build_schedule(graph, prof, serial_rt, version), prof)
    assert parallel.makespan_s <= serial.makespan_s * 1.001


def test_stream_period_is_the_steady_state_bounded_by_the_chip_rate(
        hailo: tuple[Any, Any, Any], schedule: Schedule) -> None:
    prof = hailo[0]
    # An 8 -> 32 frame span: on this 11 us network the driver's 8 -> 16 (stream_frames) is still filling, 5% under
    # 16 -> 48 and 0.4% under the compute bound below; on the Hailo-8 model-zoo rows it agrees within 0.2%.
    period = stream_period_s(schedule, prof, (8, 32))
    assert period == pytest.approx(stream_period_s(schedule, prof, (16, 48)), rel=0.03)
    # No stream beats the clusters' summed compute (a plan's cycles assume every cluster); the per-inference host
    # overhead is paid once per stream, so the period stays close to that bound.
    compute_s = sum(p.compute_cycles for p in schedule.plans if p.unit == "npu") / (prof.clock_mhz * 1e6)
    assert compute_s * 0.999 <= period <= compute_s * 1.25
    one_frame_s = 1.0 / simulate_schedule(schedule, prof).throughput_inf_per_s
    assert one_frame_s - period > 0.8 * schedule.per_inference_overhead_cycles / schedule.host_clock_hz
    with pytest.raises(EdgesimError, match="frames"):
        stream_period_s(schedule, prof, (4, 4))
    assert stream_frames(schedule)[0] >= 8  # a layer-pipelined chip fills over ~8 frames


def test_fps_rows_are_throughput_rows_and_the_metric_column_is_checked(tmp_path: Path) -> None:
    assert row_metric("FPS batch=1 (streaming throughput, NOT single-frame latency)") == "throughput"
    assert row_metric("time per inference") == "latency"
    assert row_metric("MLPerf Inference v3.1 SingleStream: p90 latency (mean 0.636 ms, p50 0.636)") == "latency"
    src = tmp_path / "edge.csv"
    src.write_text(
        "device,accelerator,runtime,model,input_size,precision,batch,metric,latency_ms,source_url\n"
        "Coral Dev Board,Edge TPU,libedgetpu / TFLite,MobileNet v1,224x224,int8,1,time per inference,2.4,u1\n"
        "Hailo-8 (performance mode),Hailo-8 26 TOPS,HailoRT (DFC v3.27.0),resnet_v1_50,224x224,int8 (quantized),1,"
        "\"FPS batch=1 (streaming throughput, NOT single-frame latency)\",0.717,u2\n"
        "Hailo-8 (performance mode),Hailo-8 26 TOPS,HailoRT (DFC v3.27.0),mobilenet_v2_1.4,224x224,int8 (quantized),"
        "1,\"FPS batch=1 (streaming throughput, NOT single-frame latency)\",0.599,u3\n",
        encoding="utf-8",
    )
    out = tmp_path / "ref.csv"
    assert convert_edge_latency(src, out) == 3
    assert [(r.device, r.benchmark, r.model_file, r.metric) for r in read_reference(out)] == [
        ("coral-edgetpu", "mobilenet_v1", "mobilenet_v1", "latency"),
        ("hailo-8", "resnet50", "resnet50", "throughput"),
        ("hailo-8", "mobilenet_v2_1.4", "mobilenet_v2:alpha=1.4", "throughput")]
    bad = tmp_path / "bad.csv"
    bad.write_text("device,runtime,clock_mhz,model_file,latency_ms,metric\nhailo-8,hailort,,m,1.0,fps\n",
                   encoding="utf-8")
    with pytest.raises(EdgesimError, match="metric") as info:
        read_reference(bad)
    assert "\n" not in str(info.value)


def test_validate_predicts_a_throughput_row_as_the_stream_period(
        tmp_path: Path, hailo: tuple[Any, Any, Any], schedule: Schedule) -> None:
    prof, rt, version = hailo
    ref = tmp_path / "ref.csv"
    ref.write_text("device,runtime,clock_mhz,benchmark,model_file,latency_ms,metric\n"
                   f"hailo-8,hailort,,sq,{MODEL},0.05,latency\n"
                   f"hailo-8,hailort,,sq,{MODEL},0.05,throughput\n", encoding="utf-8")
    res = validate(ref, models_dir=tmp_path, strict=True)
    lat_row, thr_row = res.rows
    assert (lat_row.metric, thr_row.metric) == ("latency", "throughput")
    graph = reference_graph(MODEL)
    assert lat_row.predicted_latency_ms == pytest.approx(estimate(graph, prof, "hailort").latency_s * 1e3)
    assert thr_row.predicted_latency_ms == pytest.approx(stream_period_s(schedule, prof) * 1e3, rel=1e-9)
    assert (thr_row.predicted_latency_ms or 0.0) < (lat_row.predicted_latency_ms or 0.0)


def test_cli_run_prints_latency_for_one_frame_and_throughput_for_a_stream(
        capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.cli import main

    args = ["run", "resnet8", "--hw", "hailo-8", "--quant", "int8", "--no-accuracy"]
    assert main(args) == 0
    one = capsys.readouterr().out
    assert "runtime hailort" in one and "throughput:" not in one
    assert main([*args, "--frames", "8"]) == 0
    many = capsys.readouterr().out
    assert "throughput:" in many and "8 frames queued at once" in many


def test_a_zoo_width_option_in_the_model_file_builds_that_width() -> None:
    from edgesim import zoo
    from edgesim.ir.work import graph_macs

    wide = reference_graph("mobilenet_v2:alpha=1.4@96")
    assert wide.name == zoo.build("mobilenet_v2", alpha=1.4, resolution=96).name
    ratio = graph_macs(wide) / graph_macs(reference_graph("mobilenet_v2@96"))
    assert 1.7 < ratio < 2.1  # width 1.4: about 1.4^2 the MACs
    with pytest.raises(EdgesimError, match="model_file"):
        reference_graph("mobilenet_v2:alpha=wide")


def test_w8a16_runs_on_hailo8_as_on_hailo8l() -> None:
    """hailort lists int16 (the DFC's a16_w16 mode) and Hailo-8L, a Hailo-8 with fewer clusters, had its rate; Hailo-8
    had none, so a w8a16 yolov8n ran wholly on the host CPU (135 ms against 1.1 ms int8) and validate refused the
    question the run door answered (found by benchmarks/fuzz_npu_matrix.py)."""
    from edgesim.hw.targeting import check_precision
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, run

    h8, h8l = load_profile("hailo-8"), load_profile("hailo-8l")
    assert h8.unit("npu").macs_per_cycle[Precision.INT16] == h8l.unit("npu").macs_per_cycle[Precision.INT16]
    runtime, _ = resolve_runtime(h8, "hailort")
    assert runtime is not None
    check_precision(h8, runtime, "int16")
    latency = {}
    for precision in ("int8", "int16"):
        opts = TransformOptions(quant=QuantPreset(precision), calibration="fixed", accuracy=False)
        result = run(RunSpec("yolov8n", "hailo-8", "hailort", transform=opts))
        assert result.fallback is None
        latency[precision] = result.latency_s
    assert latency["int8"] < latency["int16"] < 5 * latency["int8"]
