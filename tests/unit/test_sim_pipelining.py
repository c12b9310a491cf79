"""Layer pipelining (row-band streaming between units/cores), throughput mode, and cross-op weight prefetch."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

import pytest

from edgesim.hw.loader import load_runtime
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.sim import simulate_schedule, to_estimate
from edgesim.sim.engine import SimResult
from edgesim.sim.pipeline import RowModel, row_model
from edgesim.zoo.builder import GraphBuilder
from tests.unit.test_sim_multicore import multicore_npu
from tests.unit.test_sim_profiles import npu_profile


def npu_cpu_profile() -> Any:
    """Convs on the NPU, depthwise convs fall back to a 4-MAC CPU: a chain alternates between the two units."""
    p = npu_profile(macs=16.0, sram_bytes=64 * 1024, npu_ops=["CONV2D"])
    units = [u.model_copy(update={"macs_per_cycle": {"int8": 4.0, "fp32": 4.0}}) if u.name == "cpu" else u
             for u in p.units]
    return p.model_copy(update={"units": units})


def mixed_chain(blocks: int = 2) -> Graph:
    b = GraphBuilder("mixed_chain")
    x = b.input("x", (1, 16, 32, 32))
    for _ in range(blocks):
        x = b.dwconv(b.conv(x, 16, 3), 3)
    return b.build([x])


def _sim(graph: Graph, profile: Any, pipelining: bool, frames: int = 1, inter_op: bool = False
         ) -> tuple[Schedule, SimResult]:
    schedule = replace(build_schedule(graph, profile), layer_pipelining=pipelining, inter_op_parallel=inter_op)
    return schedule, simulate_schedule(schedule, profile, frames=frames)


def _unit_compute_s(schedule: Schedule, result: SimResult) -> dict[str, float]:
    """Per unit: the time its ops compute, the least it can be busy (the slowest stage is the largest)."""
    out: dict[str, float] = {}
    clock = {p.node: p.unit_clock_hz for p in schedule.plans}
    for op in result.ops:
        out[op.unit] = out.get(op.unit, 0.0) + op.compute_cycles / clock[op.node]
    return out


def test_pipelining_a_chain_on_two_units_finishes_earlier_but_not_before_the_slowest_stage() -> None:
    profile = npu_cpu_profile()
    schedule, plain = _sim(mixed_chain(), profile, pipelining=False)
    _, piped = _sim(mixed_chain(), profile, pipelining=True)
    assert {p.unit for p in schedule.plans if p.unit != "-"} == {"npu", "cpu"}
    assert piped.makespan_s < 0.95 * plain.makespan_s
    slowest_stage_s = max(_unit_compute_s(schedule, piped).values())
    assert piped.makespan_s >= slowest_stage_s
    for op in piped.ops:
        # A consumer starts before its producer ends, yet never ends before it.
        plan = next(p for p in schedule.plans if p.node == op.node)
        for dep in plan.depends_on:
            assert op.end_s >= piped.op(dep).end_s


def test_a_streaming_consumer_waits_on_its_producer_as_a_dependency_stall() -> None:
    profile = npu_cpu_profile()
    schedule, piped = _sim(mixed_chain(), profile, pipelining=True)
    dw = [piped.op(p.node) for p in schedule.plans if p.op == "DEPTHWISE_CONV2D"]
    conv0 = piped.op(next(p.node for p in schedule.plans if p.op == "CONV2D"))
    # The CPU op overlaps its NPU producer, and its waiting for rows is a dependency stall, not a memory one.
    assert dw[0].end_s > conv0.end_s and _overlap_s(dw[0], conv0) > 0
    assert dw[0].stall("dependency") > 0.5 * dw[0].total_stall_cycles
    for op in piped.ops:
        assert op.cycles == pytest.approx(op.compute_cycles + op.overhead_cycles + op.total_stall_cycles)


def _overlap_s(a: Any, b: Any) -> float:
    return min(a.end_s, b.end_s) - max(a.start_s, b.start_s)


def test_pipelining_off_by_default_and_a_declared_runtime_turns_it_on() -> None:
    profile = npu_cpu_profile()
    assert build_schedule(mixed_chain(), profile).layer_pipelining is False
    rt, version = load_runtime("vela")
    on = rt.model_copy(update={"layer_pipelining": True, "inter_op_parallel": True})
    schedule = build_schedule(mixed_chain(), profile, on, version)
    assert schedule.layer_pipelining and schedule.inter_op_parallel


def test_rows_needed_include_the_halo_and_producers_publish_whole_bands() -> None:
    # 3x3 stride-1 conv, 32 output rows in 8 bands of 4, one channel tile per band.
    m = RowModel(out_rows=32, kernel_rows=3, stride_rows=1, in_rows=32, tiles=8, row_bands=8, channels_outer=False)
    assert m.in_rows_needed(0) == 6  # rows 0..3 read input rows 0..5: the halo is kernel - stride = 2 rows
    assert m.in_rows_needed(7) == 32
    assert [m.rows_done(t) for t in (0, 1, 4, 8)] == [0, 4, 16, 32]
    # Stride 2: 4 output rows read 2 * 3 + 3 = 9 input rows.
    s2 = RowModel(16, 3, 2, 32, 4, 4, False)
    assert s2.in_rows_needed(0) == 9
    # Channels outer: rows are complete only in the last channel sweep; the first sweep already needs them all.
    co = RowModel(out_rows=32, kernel_rows=1, stride_rows=1, in_rows=32, tiles=16, row_bands=8, channels_outer=True)
    assert co.rows_done(8) == 0 and co.rows_done(12) == 16 and co.rows_done(16) == 32
    assert co.in_rows_needed(0) == 4 and co.in_rows_needed(9) == 32


def test_ops_that_need_their_whole_input_do_not_stream() -> None:
    b = GraphBuilder("head")
    x = b.input("x", (1, 16, 32, 32))
    g = b.build([b.fc(b.flatten(b.conv(x, 16, 3)), 10)])
    schedule = build_schedule(g, npu_cpu_profile())
    fc = next(p for p in schedule.plans if p.op == "FULLY_CONNECTED")
    conv = next(p for p in schedule.plans if p.op == "CONV2D")
    assert row_model(fc) is None and row_model(conv) is not None


def test_throughput_mode_is_bounded_by_the_slowest_stage() -> None:
    profile = npu_cpu_profile()
    schedule, one = _sim(mixed_chain(), profile, pipelining=True)
    _, many = _sim(mixed_chain(), profile, pipelining=True, frames=8)
    assert one.throughput_inf_per_s == pytest.approx(1.0 / to_estimate(schedule, profile, one).latency_s)
    slowest_stage_s = max(_unit_compute_s(schedule, one).values())
    assert one.throughput_inf_per_s <= many.throughput_inf_per_s <= 1.0 / slowest_stage_s
    # The per-op report is the first frame's.
    assert [o.node for o in many.ops] == [o.node for o in one.ops]


def test_pipelining_between_cores_of_one_unit() -> None:
    # With inter-op parallelism, a producer with a streaming consumer on its own unit keeps cores free for it.
    b = GraphBuilder("chain")
    x = b.input("x", (1, 16, 32, 32))
    for _ in range(3):
        x = b.conv(x, 16, 3)
    g = b.build([x])
    profile = multicore_npu(2, sram_bytes=64 * 1024)
    schedule, piped = _sim(g, profile, pipelining=True, inter_op=True)
    ops = list(piped.ops)
    assert ops[0].cores != ops[1].cores and _overlap_s(ops[0], ops[1]) > 0
    total_compute_s = sum(_unit_compute_s(schedule, piped).values())
    assert piped.makespan_s >= total_compute_s / 2  # two cores cannot do better than share the work


def test_pipelined_throughput_runs_are_bit_identical() -> None:
    def report() -> str:
        profile = npu_cpu_profile()
        schedule, result = _sim(mixed_chain(), profile, pipelining=True, frames=3)
        return json.dumps({"e": asdict(to_estimate(schedule, profile, result)), "r": asdict(result)},
                          sort_keys=True)

    assert report() == report()


def _weights_chain() -> Graph:
    b = GraphBuilder("weights_chain")
    x = b.input("x", (1, 64, 16, 16))
    for _ in range(4):
        x = b.conv(x, 64, 3)
    return b.build([x])


def _no_prefetch(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesim.sim.unit as unit_mod

    monkeypatch.setattr(unit_mod.UnitProcess, "prefetch_next", lambda self, plan: None)


def test_prefetching_the_next_ops_weights_hides_their_first_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = npu_profile(macs=64.0, flash_bw=2.0, sram_bytes=512 * 1024)
    schedule = build_schedule(_weights_chain(), profile)
    with_prefetch = simulate_schedule(schedule, profile)
    _no_prefetch(monkeypatch)
    without = simulate_schedule(schedule, profile)
    assert with_prefetch.makespan_s < without.makespan_s
    # The first op has nothing before it to hide behind; the later ones stall less on flash.
    assert with_prefetch.ops[0].cycles == without.ops[0].cycles
    for a, b in zip(with_prefetch.ops[1:], without.ops[1:], strict=True):
        assert a.stall("flash") < b.stall("flash")


def test_no_prefetch_when_the_local_memory_has_no_room(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = npu_profile(macs=64.0, flash_bw=2.0, sram_bytes=96 * 1024)
    schedule = build_schedule(_weights_chain(), profile)
    ws = max(g.working_set_bytes for p in schedule.plans for g in p.tiles)
    assert ws + ws // 2 > 96 * 1024  # this op's buffers plus one more tile do not fit
    with_prefetch = simulate_schedule(schedule, profile)
    _no_prefetch(monkeypatch)
    assert simulate_schedule(schedule, profile).makespan_s == with_prefetch.makespan_s


def test_pipelining_changes_nothing_when_producer_and_consumer_share_one_core() -> None:
    b = GraphBuilder("chain")
    x = b.input("x", (1, 16, 32, 32))
    for _ in range(3):
        x = b.conv(x, 16, 3)
    profile = npu_profile(macs=16.0, sram_bytes=64 * 1024)
    _, off = _sim(b.build([x]), profile, pipelining=False)
    _, on = _sim(b.build([x]), profile, pipelining=True)
    assert asdict(on) == asdict(off)


def test_cli_reports_throughput_with_frames(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.cli import main

    one, four = tmp_path / "one.json", tmp_path / "four.json"
    assert main(["run", "resnet8", "--hw", "ethos-u55-128", "--json", str(one)]) == 0
    assert main(["run", "resnet8", "--hw", "ethos-u55-128", "--frames", "4", "--json", str(four)]) == 0
    a, b = json.loads(one.read_text()), json.loads(four.read_text())
    assert a["throughput_inf_per_s"] == pytest.approx(1.0 / a["latency_s"], rel=1e-6)
    assert b["throughput_inf_per_s"] >= a["throughput_inf_per_s"]
    assert main(["run", "resnet8", "--hw", "ethos-u55-128", "--frames", "0"]) == 2
    assert "frames" in capsys.readouterr().err
