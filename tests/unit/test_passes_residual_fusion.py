"""Residual ADD fusion: conv/FC + ADD merged at mapping time, only on units whose runtime fuses it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgesim import zoo
from edgesim.api import load_profile, resolve_runtime
from edgesim.cli import main
from edgesim.cost.analytic import estimate_schedule
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.fusion import residual_adds, scheduled_fusions
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.passes.pipeline import run_pipeline
from edgesim.sim import simulate_schedule
from edgesim.zoo.builder import GraphBuilder
from tests.conftest import DATA

SHARED = DATA
RESNET8_TFLITE = SHARED / "models" / "pretrainedResnet_quant.tflite"


@pytest.fixture(scope="module")
def resnet8() -> Graph:
    return run_pipeline(zoo.build("resnet8"), [fuse_operators])


@pytest.fixture(scope="module")
def resnet8_int8(resnet8: Graph) -> Graph:
    return optimize(resnet8, options_from_cli(quant="int8", compress="none", graph=resnet8))


def _traffic(s: Schedule) -> int:
    return sum(t.read_bytes + t.write_bytes for p in s.plans for t in p.traffic)


def _schedules(graph: Graph, profile, runtime=None):  # type: ignore[no-untyped-def]
    rt, ver = resolve_runtime(profile, None)
    rt = runtime or rt
    return (build_schedule(graph, profile, rt, ver, fuse_residual_add=False),
            build_schedule(graph, profile, rt, ver))


def test_residual_pairs_found_once_per_add(resnet8: Graph) -> None:
    pairs = residual_adds(resnet8)
    adds = [n for n in resnet8.nodes if n.op is OpKind.ADD]
    assert len(pairs) == len(adds) == 3
    assert len({p.add for p in pairs}) == len(pairs)
    order = {n.name: i for i, n in enumerate(resnet8.nodes)}
    for p in pairs:
        add = resnet8.node(p.add)
        assert set(add.inputs) == {p.intermediate, p.residual}
        assert resnet8.consumers(p.intermediate) == (add,)
        # With a projection shortcut both operands are conv outputs: the later conv takes the ADD.
        res_producer = resnet8.producer(p.residual)
        if res_producer is not None and res_producer.op is OpKind.CONV2D:
            assert order[res_producer.name] < order[p.producer]


def test_no_pair_for_broadcast_constant_or_shared_operands() -> None:
    b = GraphBuilder("t")
    x = b.input("x", (1, 8))
    fc = b.fc(x, 8)
    y1 = b.add(fc, b.const("c", np.ones((1, 8), np.float32)))  # constant operand: a bias, not a residual
    fc2 = b.fc(y1, 8)
    y2 = b.add(fc2, b.one(OpKind.RELU, [x], A.NoAttrs()))  # a real residual
    fc3 = b.fc(y2, 8)
    y3 = b.add(fc3, b.one(OpKind.MEAN, [y2], A.ReduceAttrs(axes=(1,), keepdims=True)))  # broadcasts (1, 1)
    fc4 = b.fc(y3, 8)
    y4 = b.add(fc4, fc4)  # x + x: nothing else to read
    g = b.build([y4])
    assert [(p.producer, p.add) for p in residual_adds(g)] == [(g.producer(fc2).name, g.producer(y2).name)]


def test_fused_on_a_fusing_runtime_saves_exactly_the_intermediate(resnet8: Graph) -> None:
    prof = load_profile("jetson-orin-nano")
    plain, fused = _schedules(resnet8, prof)
    pairs = residual_adds(resnet8)
    assert len(fused.plans) == len(plain.plans) - len(pairs)
    by_name = {p.node: p for p in fused.plans}
    inter = 0
    for r in pairs:
        p = by_name[r.producer]
        assert r.add not in by_name
        assert p.fused_from[0] == r.producer and r.add in p.fused_from
        old_conv = next(q for q in plain.plans if q.node == r.producer)
        old_add = next(q for q in plain.plans if q.node == r.add)
        res_bytes = resnet8.tensors[r.residual].nbytes
        assert p.activation_bytes == old_conv.activation_bytes + res_bytes  # the residual read is counted
        assert p.output_bytes == old_add.output_bytes
        assert p.macs == old_conv.macs and p.overhead_cycles == old_conv.overhead_cycles
        inter += resnet8.tensors[r.intermediate].nbytes
        # Plans that read the ADD's result now wait for the fused plan.
        assert all(r.add not in q.depends_on for q in fused.plans)
    # The conv output is neither written nor read back: exactly 2x its bytes less traffic.
    assert _traffic(plain) - _traffic(fused) == 2 * inter
    groups = scheduled_fusions(plain.plans, fused.plans)
    assert len(groups) == len(pairs) and sum(g.saved_bytes for g in groups) == 2 * inter
    assert estimate_schedule(fused, prof).latency_s < estimate_schedule(plain, prof).latency_s
    assert simulate_schedule(fused, prof).makespan_s < simulate_schedule(plain, prof).makespan_s


@pytest.mark.parametrize("hw", ["ethos-u55-128", "stm32l4r5"])
def test_not_fused_where_the_runtime_cannot(resnet8: Graph, hw: str) -> None:
    prof = load_profile(hw)
    rt, _ = resolve_runtime(prof, None)
    assert not rt.fused_residual_add
    plain, fused = _schedules(resnet8, prof)
    assert fused.plans == plain.plans


def test_fusion_follows_the_unit_the_runtime_drives(resnet8_int8: Graph) -> None:
    """The same NPU with a runtime that fuses: fused; with that runtime not driving the NPU's unit kind: not."""
    resnet8 = resnet8_int8
    prof = load_profile("ethos-u55-128")
    rt, _ = resolve_runtime(prof, None)
    fusing = rt.model_copy(update={"fused_residual_add": True})
    plain, fused = _schedules(resnet8, prof, fusing)
    npu = {p.node for p in plain.plans if p.unit != prof.host_unit and p.unit != "-"}
    expect = [r for r in residual_adds(resnet8) if r.producer in npu and r.add in npu]
    assert expect and len(plain.plans) - len(fused.plans) == len(expect)
    # DMA-tiled NPU plans: the saving is the same 2x intermediate, and the re-spread tiles simulate.
    assert _traffic(plain) - _traffic(fused) == 2 * sum(resnet8.tensors[r.intermediate].nbytes for r in expect)
    for p in fused.plans:
        for t in p.traffic:
            assert t.read_bytes == sum(g.count * x.read_bytes for g in p.tiles for x in g.traffic
                                       if x.memory == t.memory)
    assert simulate_schedule(fused, prof).makespan_s < simulate_schedule(plain, prof).makespan_s
    elsewhere = fusing.model_copy(update={"applies_to": ["cpu"]})
    _, not_fused = _schedules(resnet8, prof, elsewhere)
    assert len(not_fused.plans) == len(plain.plans)


@pytest.mark.skipif(not RESNET8_TFLITE.exists(), reason="shared models absent")
def test_cli_report_shows_residual_fusion_and_no_fuse_turns_it_off(tmp_path: Path) -> None:
    on, off = tmp_path / "on.json", tmp_path / "off.json"
    assert main(["run", str(RESNET8_TFLITE), "--hw", "jetson-orin-nano", "--fast", "--json", str(on)]) == 0
    assert main(["run", str(RESNET8_TFLITE), "--hw", "jetson-orin-nano", "--fast", "--no-fuse",
                 "--json", str(off)]) == 0
    a, b = json.loads(on.read_text()), json.loads(off.read_text())
    groups = [g for g in a["fusion"]["groups"] if g.get("residual_add")]
    assert len(groups) == 3 and a["fusion"]["saved_activation_bytes"] >= sum(g["saved_bytes"] for g in groups)
    layers = {layer["name"]: layer for layer in a["layers"]}
    for g in groups:
        assert g["saved_bytes"] == sum(g["saved_bytes_by_memory"].values()) > 0
        layer = layers[g["node"]]
        assert layer["fused_from"] == g["fused_from"] and layer["fusion_saved_bytes"] == g["saved_bytes_by_memory"]
    assert "fusion" not in b and len(b["layers"]) == len(a["layers"]) + 3
    assert a["latency_s"] < b["latency_s"]
