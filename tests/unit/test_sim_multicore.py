"""Multi-core units in the event engine: cores as processes, independent ops on different cores, shared memory
ports, per-core trace rows, and the report staying consistent."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from edgesim.cost.analytic import estimate_schedule
from edgesim.errors import EdgesimError
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.sim import TraceRecorder, simulate_schedule, to_estimate, utilisation, write_chrome_trace
from edgesim.sim.engine import SimResult
from edgesim.zoo.builder import GraphBuilder
from tests.unit.test_sim_profiles import npu_profile


def multicore_npu(cores: int, macs_per_core: float = 16.0, **kw: Any) -> Any:
    """npu_profile with an N-core NPU; every core has ``macs_per_core`` MACs/cycle (the rate is per core)."""
    p = npu_profile(macs=macs_per_core, **kw)
    units = [u.model_copy(update={"count": cores}) if u.name == "npu" else u for u in p.units]
    return p.model_copy(update={"units": units})


def two_branch(channels: int = 16, hw: int = 32) -> Graph:
    """x -> conv and x -> conv (independent, equal work), joined by an add."""
    b = GraphBuilder("two_branch")
    x = b.input("x", (1, channels, hw, hw))
    return b.build([b.add(b.conv(x, channels, 3), b.conv(x, channels, 3))])


def conv_chain(n: int = 4) -> Graph:
    b = GraphBuilder("chain")
    x = b.input("x", (1, 16, 32, 32))
    for _ in range(n):
        x = b.conv(x, 16, 3)
    return b.build([x])


def _sim(graph: Graph, profile: Any, inter_op: bool, tracer: Any = None) -> tuple[Schedule, SimResult]:
    schedule = replace(build_schedule(graph, profile), inter_op_parallel=inter_op)
    return schedule, simulate_schedule(schedule, profile, tracer)


def _overlap(a: Any, b: Any) -> float:
    return min(a.end_s, b.end_s) - max(a.start_s, b.start_s)


def test_two_branches_on_two_cores_take_about_half_the_one_core_time() -> None:
    _, one = _sim(two_branch(), multicore_npu(1), inter_op=False)
    schedule, two = _sim(two_branch(), multicore_npu(2), inter_op=True)
    assert 0.45 < two.makespan_s / one.makespan_s < 0.6
    convs = [two.op(p.node) for p in schedule.plans if p.op == "CONV2D"]
    assert len(convs) == 2
    a, b = convs
    # Each branch has a core of its own and they run side by side.
    assert len(a.cores) == len(b.cores) == 1 and a.cores != b.cores
    assert _overlap(a, b) > 0.9 * (a.end_s - a.start_s)
    # On one core of two, a conv computes twice as long as the plan (which assumes every core).
    plan = next(p for p in schedule.plans if p.node == a.node)
    assert a.compute_cycles == pytest.approx(2 * plan.compute_cycles)


def test_a_lone_ready_op_is_split_over_all_cores_so_chains_keep_todays_results() -> None:
    profile = multicore_npu(4)
    schedule, parallel = _sim(conv_chain(), profile, inter_op=True)
    _, serial = _sim(conv_chain(), profile, inter_op=False)
    assert parallel.makespan_s == serial.makespan_s
    assert all(op.cores == (0, 1, 2, 3) for op in parallel.ops)
    # Splitting over 4 cores is 4x one core's rate: compute equals the plan's.
    for op, plan in zip(parallel.ops, (p for p in schedule.plans if p.unit != "-"), strict=True):
        assert op.compute_cycles == pytest.approx(plan.compute_cycles)


def test_report_cycles_are_consistent_per_op() -> None:
    profile = multicore_npu(2)
    schedule, result = _sim(two_branch(), profile, inter_op=True)
    est = to_estimate(schedule, profile, result)
    clock_hz = {p.node: p.unit_clock_hz for p in schedule.plans}
    for op in result.ops:
        assert op.total_stall_cycles >= 0
        # cycles = compute + overhead + stalls, and they span exactly the op's time on its cores.
        assert op.cycles == pytest.approx((op.end_s - op.start_s) * clock_hz[op.node], rel=1e-6, abs=1)
    for layer in est.layers:
        if layer.unit != "-":
            t = result.op(layer.name)
            assert layer.compute_cycles == t.compute_cycles
            assert layer.stall_cycles == pytest.approx(t.total_stall_cycles)


def test_cores_share_the_memory_ports() -> None:
    # Memory-bound branches: two cores cannot move bytes faster than the one SRAM port.
    profile = multicore_npu(2, macs_per_core=512.0)
    schedule, result = _sim(two_branch(), profile, inter_op=True)
    sram_bytes = sum(t.read_bytes + t.write_bytes for p in schedule.plans for t in p.traffic if t.memory == "sram")
    busy = dict(result.memory_busy_s)["sram"]
    assert busy == pytest.approx(sram_bytes / (8.0 * profile.clock_mhz * 1e6), rel=1e-6)
    assert result.makespan_s >= busy
    convs = [result.op(p.node) for p in schedule.plans if p.op == "CONV2D"]
    assert all(c.stall("sram") > 0 for c in convs)


def test_trace_has_one_row_per_core_and_is_valid_chrome_json(tmp_path: Path) -> None:
    profile = multicore_npu(2)
    rec = TraceRecorder()
    _, result = _sim(two_branch(), profile, inter_op=True, tracer=rec)
    out = tmp_path / "trace.json"
    write_chrome_trace(rec.events, out)
    doc = json.loads(out.read_text())
    rows = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M"}
    assert {"npu.core0", "npu.core1"} <= rows and "npu" not in rows
    xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in xs)
    util = utilisation(rec.events, result.makespan_s)
    assert 0.5 < util["npu.core0"] <= 1.0 + 1e-9 and 0.5 < util["npu.core1"] <= 1.0 + 1e-9


def test_multicore_runs_are_bit_identical(tmp_path: Path) -> None:
    def report() -> str:
        profile = multicore_npu(3)
        rec = TraceRecorder()
        schedule, result = _sim(two_branch(), profile, inter_op=True, tracer=rec)
        write_chrome_trace(rec.events, tmp_path / "t.json")
        est = to_estimate(schedule, profile, result)
        return json.dumps({"e": asdict(est), "r": asdict(result)}, sort_keys=True) + (tmp_path / "t.json").read_text()

    assert report() == report()


def test_analytic_path_ignores_inter_op_parallelism() -> None:
    # The analytic path sums ops one after the other over all cores; overlapping ops is the event engine's job.
    profile = multicore_npu(2)
    schedule = build_schedule(two_branch(), profile)
    a = estimate_schedule(schedule, profile)
    b = estimate_schedule(replace(schedule, inter_op_parallel=True), profile)
    assert a.latency_s == b.latency_s


def test_runtime_declares_inter_op_parallelism() -> None:
    from edgesim.hw.schema import RuntimeProfile

    fields = RuntimeProfile.model_fields
    assert fields["inter_op_parallel"].default is False and fields["layer_pipelining"].default is False
    assert build_schedule(two_branch(), multicore_npu(2)).inter_op_parallel is False


def test_frames_must_be_positive() -> None:
    profile = multicore_npu(2)
    schedule = build_schedule(two_branch(), profile)
    with pytest.raises(EdgesimError, match="frames"):
        simulate_schedule(schedule, profile, frames=0)


def test_unequal_branches_share_cores_only_when_that_ends_them_sooner() -> None:
    # A 1x1 and a 3x3 branch (1:9 work) on 4 cores: two cores each would leave the 3x3 branch slower than
    # running both over all 4 cores in turn, so the engine gives the 3x3 branch more cores or runs them in turn.
    b = GraphBuilder("fire")
    x = b.input("x", (1, 16, 32, 32))
    g = b.build([b.concat([b.conv(x, 16, 1), b.conv(x, 16, 3)], axis=1)])
    profile = multicore_npu(4)
    schedule, parallel = _sim(g, profile, inter_op=True)
    _, serial = _sim(g, profile, inter_op=False)
    assert parallel.makespan_s <= serial.makespan_s * 1.001
    small, big = (parallel.op(p.node) for p in schedule.plans if p.op == "CONV2D")
    assert len(big.cores) >= len(small.cores)
