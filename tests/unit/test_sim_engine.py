"""The SimPy event engine: stall attribution, concurrency, determinism, trace format, agreement with analytic."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from edgesim.api import load_model
from edgesim.cost.analytic import estimate_schedule
from edgesim.errors import EdgesimError
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.mapper import build_schedule
from edgesim.sim import (
    TraceRecorder,
    simulate_schedule,
    to_estimate,
    utilisation,
    write_chrome_trace,
)
from edgesim.zoo.builder import GraphBuilder
from tests._helpers import simulate
from tests.conftest import MODELS
from tests.unit.test_sim_profiles import npu_profile, systolic_profile

SHARED_MODELS = MODELS

# Stated bound: the event engine's latency is within this fraction of the analytic path's on the same schedule.
# They differ only by pipeline fill/drain per op, per-tile access latency and contention; both see the same bytes.
EVENT_VS_ANALYTIC_BOUND = 0.10


def fc_graph(n_in: int, n_out: int) -> Graph:
    b = GraphBuilder("fc")
    x = b.input("x", (1, n_in))
    return b.build([b.fc(x, n_out)])


def conv_graph(cin: int, cout: int, hw: int) -> Graph:
    b = GraphBuilder("conv")
    x = b.input("x", (1, cin, hw, hw))
    return b.build([b.conv(x, cout, 3)])


def branch_graph() -> Graph:
    """x -> conv (NPU) and x -> tanh (CPU only), joined by an add."""
    b = GraphBuilder("branches")
    x = b.input("x", (1, 32, 32, 32))
    c = b.conv(x, 32, 3)
    t = b.one(OpKind.TANH, [x], __import__("edgesim.ir.attrs", fromlist=["NoAttrs"]).NoAttrs())
    return b.build([b.add(c, t)])


def _run(graph: Graph, profile: Any) -> tuple[Any, Any, Any]:
    schedule = build_schedule(graph, profile)
    result = simulate_schedule(schedule, profile)
    return schedule, result, to_estimate(schedule, profile, result)


def test_memory_bound_layer_stalls_on_flash() -> None:
    # A 1024x1024 FC moves 4 MiB of weights for 1 M MACs: on a 128-MAC NPU with slow flash it waits for flash.
    _, result, est = _run(fc_graph(1024, 1024), npu_profile(flash_bw=0.5))
    (t,) = result.ops
    assert t.unit == "npu"
    assert t.stall("flash") > 0.8 * t.cycles
    assert t.stall("dram") == 0 and t.stall("dependency") == 0
    assert t.cycles == pytest.approx(t.compute_cycles + t.overhead_cycles + t.total_stall_cycles)
    assert est.layers[-1].bound == "memory:flash"


def test_memory_bound_elementwise_stalls_on_dram() -> None:
    # A ReLU over 2 MiB in DRAM does 1 op per 8 bytes moved: the array waits for DRAM, not for its ALUs.
    b = GraphBuilder("relu")
    x = b.input("x", (1, 64, 64, 128))
    g = b.build([b.act(x, "relu")])
    _, result, est = _run(g, systolic_profile(dram_bw=4.0))
    (t,) = result.ops
    assert t.unit == "tpu"
    assert t.stall("dram") > 0.9 * t.total_stall_cycles > 0
    assert t.stall("dram") > 10 * t.compute_cycles
    assert est.layers[0].bound == "memory:dram"


def test_compute_bound_conv_has_almost_no_stalls() -> None:
    _, result, est = _run(conv_graph(64, 64, 16), npu_profile(macs=2.0, flash_bw=8.0))
    (t,) = result.ops
    assert t.total_stall_cycles < 0.02 * t.compute_cycles
    assert est.layers[0].bound == "compute"


def test_independent_branches_run_concurrently_on_two_units() -> None:
    profile = npu_profile(macs=64.0)
    schedule, result, est = _run(branch_graph(), profile)
    by_op = {p.op: result.op(p.node) for p in schedule.plans if p.unit != "-"}
    conv, tanh, add = by_op["CONV2D"], by_op["TANH"], by_op["ADD"]
    assert (conv.unit, tanh.unit) == ("npu", "cpu")
    overlap = min(conv.end_s, tanh.end_s) - max(conv.start_s, tanh.start_s)
    assert overlap > 0.5 * min(conv.end_s - conv.start_s, tanh.end_s - tanh.start_s)
    # The join waits for the slower branch, and the whole run is shorter than running them back to back.
    assert add.end_s >= max(conv.end_s, tanh.end_s)
    serial_s = sum(layer.latency_s for layer in est.layers)
    assert result.makespan_s < 0.9 * serial_s
    assert est.latency_s == pytest.approx(result.makespan_s)


def test_contention_on_a_shared_memory_slows_concurrent_units() -> None:
    # Both branches stream from the same SRAM port: together they cannot beat the port's total bytes / bw.
    profile = npu_profile(macs=4.0)
    schedule, result, _ = _run(branch_graph(), profile)
    sram_busy = dict(result.memory_busy_s)["sram"]
    assert sram_busy <= result.makespan_s + 1e-12
    sram_bytes = sum(t.read_bytes + t.write_bytes for p in schedule.plans for t in p.traffic if t.memory == "sram")
    assert sram_busy == pytest.approx(sram_bytes / (8.0 * profile.clock_mhz * 1e6), rel=1e-6)


def _report(graph: Graph, profile: Any, trace: Path) -> str:
    schedule = build_schedule(graph, profile)
    rec = TraceRecorder()
    result = simulate_schedule(schedule, profile, rec)
    write_chrome_trace(rec.events, trace)
    est = to_estimate(schedule, profile, result)
    return json.dumps({"estimate": asdict(est), "result": asdict(result)}, sort_keys=True) + trace.read_text()


def test_determinism_bit_identical(tmp_path: Path) -> None:
    g = load_model("mobilenet_v2")
    a = _report(g, npu_profile(), tmp_path / "a.json")
    b = _report(g, npu_profile(), tmp_path / "b.json")
    assert a == b


def test_chrome_trace_is_valid_and_atomic(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "trace.json"
    out.parent.mkdir()  # one atomic-write helper for every output: a missing directory is an error, not created
    est, result, events = simulate(branch_graph(), npu_profile(macs=4.0), trace_path=out)
    assert sorted(os.listdir(out.parent)) == ["trace.json"]  # no temp file left behind
    doc = json.loads(out.read_text())
    evs = doc["traceEvents"]
    xs = [e for e in evs if e["ph"] == "X"]
    assert len(xs) == len(events) > 3
    for e in xs:
        assert set(e) >= {"name", "ph", "ts", "dur", "pid", "tid"}
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0 and e["dur"] >= 0
    names = {e["args"]["name"] for e in evs if e["ph"] == "M"}
    assert {"npu", "cpu", "mem:sram"} <= names
    end_us = max(e["ts"] + e["dur"] for e in xs)
    assert end_us == pytest.approx(result.makespan_s * 1e6, rel=1e-6)
    util = utilisation(events, result.makespan_s)
    assert all(0.0 <= u <= 1.0 + 1e-9 for u in util.values())
    assert util["npu"] > 0 and util["cpu"] > 0


class _CountingTracer:
    def __init__(self) -> None:
        self.units: set[str] = set()

    def interval(self, unit: str, start_s: float, end_s: float, what: str) -> None:
        assert end_s >= start_s
        self.units.add(unit)


def test_any_object_with_interval_is_a_tracer() -> None:
    profile = npu_profile()
    tracer = _CountingTracer()
    simulate_schedule(build_schedule(conv_graph(8, 8, 8), profile), profile, tracer)
    assert "npu" in tracer.units and "mem:sram" in tracer.units


def _compare(graph: Graph, profile: Any) -> None:
    schedule, result, est = _run(graph, profile)
    ana = estimate_schedule(schedule, profile)
    assert abs(est.latency_s - ana.latency_s) <= EVENT_VS_ANALYTIC_BOUND * ana.latency_s, (
        est.latency_s, ana.latency_s)
    # Same bytes and ops: dynamic energy agrees exactly; static differs only with latency. Cores charged per
    # busy cycle (active_energy_pj_per_cycle) burn energy over each op's wall time, which the two paths time apart.
    dyn = est.energy.total_j - est.energy.static_j
    per_cycle = any(u.active_energy_pj_per_cycle is not None for u in profile.units)
    rel = EVENT_VS_ANALYTIC_BOUND if per_cycle else 1e-9
    assert dyn == pytest.approx(ana.energy.total_j - ana.energy.static_j, rel=rel)
    assert [layer.name for layer in est.layers] == [layer.name for layer in ana.layers]
    for op in result.ops:
        assert op.total_stall_cycles >= 0


@pytest.mark.parametrize("model,kind", [("resnet8", "npu"), ("mobilenet_v2", "npu"), ("resnet18", "systolic"),
                                        ("ds_cnn", "npu")])
def test_event_engine_agrees_with_analytic_on_zoo(model: str, kind: str) -> None:
    _compare(load_model(model), npu_profile() if kind == "npu" else systolic_profile())


@pytest.mark.parametrize("name", ["pretrainedResnet_quant.tflite", "pretrainedResnet_large_int8.tflite",
                                  "kws_ref_model.tflite", "vww_96_int8.tflite", "ad01_int8.tflite",
                                  "str_ww_ref_model.tflite"])
def test_event_engine_agrees_with_analytic_on_shared_models(name: str) -> None:
    path = SHARED_MODELS / name
    if not path.exists():
        pytest.skip(f"{path} is not present")
    try:
        graph = load_model(path)
    except (ImportError, EdgesimError) as exc:  # the TFLite importer is written in parallel
        pytest.skip(f"cannot import {name} yet: {exc}")
    _compare(graph, npu_profile())


@pytest.mark.parametrize("profile_id", ["stm32l4r5", "ethos-u55-128", "coral-edgetpu", "rpi5"])
def test_bundled_profiles_if_available(profile_id: str) -> None:
    from edgesim.hw.loader import load_profile

    try:
        profile = load_profile(profile_id)
    except EdgesimError as exc:
        pytest.skip(str(exc))
    _compare(load_model("resnet8"), profile)
    path = SHARED_MODELS / "vww_96_int8.tflite"
    if path.exists():
        try:
            graph = load_model(path)
        except (ImportError, EdgesimError) as exc:
            pytest.skip(f"cannot import {path.name} yet: {exc}")
        _compare(graph, profile)


@pytest.mark.parametrize("model,kind", [("mobilenet_v2", "npu"), ("resnet18", "systolic")])
def test_aggregated_tiles_match_tile_by_tile(model: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesim.sim.unit as unit_mod

    profile = npu_profile(sram_bytes=128 * 1024) if kind == "npu" else systolic_profile(spad_bytes=256 * 1024)
    schedule = build_schedule(load_model(model), profile)
    assert max(g.count for p in schedule.plans for g in p.tiles) > unit_mod.MAX_PLAIN_TILES
    fast = simulate_schedule(schedule, profile)
    monkeypatch.setattr(unit_mod, "MAX_PLAIN_TILES", 10**9)
    slow = simulate_schedule(schedule, profile)
    assert fast.makespan_s == pytest.approx(slow.makespan_s, rel=0.01)
    for a, b in zip(fast.ops, slow.ops, strict=True):
        assert a.compute_cycles == b.compute_cycles
        assert a.cycles == pytest.approx(b.cycles, rel=0.05, abs=50)


@pytest.mark.parametrize("hw", ["efr32mg24", "gap9"])
def test_a_unit_waiting_for_another_is_not_charged_energy_twice(hw: str) -> None:
    # Two units, one after the other: the CPU op waits idle (a "dependency" stall) while the accelerator works.
    # MCU energy is board power x the time an op keeps its unit busy, so the wait must not be charged again:
    # the event engine then agrees with the analytic path, which runs the ops one after the other.
    from edgesim.api import estimate, load_profile, simulate

    shared = MODELS / "kws_ref_model.tflite"
    if not shared.is_file():
        pytest.skip("bundled models (edgesim/data/models) not present")
    prof = load_profile(hw)
    graph = load_model(shared)
    event, fast = simulate(graph, prof), estimate(graph, prof)
    assert any(layer.bound == "dependency" for layer in event.layers)  # the situation this test is about
    assert event.energy_j == pytest.approx(fast.energy_j, rel=0.05)
    assert event.energy_j <= 1.05 * fast.energy_j * event.latency_s / fast.latency_s
    # The power trace spreads the same energy over the inference (not the wait as well).
    from edgesim.api import resolve_runtime
    from edgesim.sim.power import power_summary

    rt, version = resolve_runtime(prof, None)
    schedule = build_schedule(graph, prof, rt, version)
    result = simulate_schedule(schedule, prof)
    summary = power_summary(schedule, prof, result)
    assert summary.energy_j == pytest.approx(to_estimate(schedule, prof, result).energy_j, rel=1e-6)
