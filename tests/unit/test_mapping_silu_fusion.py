"""SiLU epilogue fusion: conv/FC + SIGMOID + MUL(x, sigmoid(x)) merged at mapping time on runtimes with fused_silu."""

from __future__ import annotations

import pytest

from edgesim.api import load_profile
from edgesim.cost.analytic import estimate_schedule
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import HardwareProfile, RuntimeProfile
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.fusion import residual_adds, scheduled_fusions, silu_epilogues
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.pipeline import run_pipeline
from edgesim.sim import simulate_schedule
from edgesim.zoo.builder import GraphBuilder
from tests._helpers import schedule_traffic_bytes, schedule_with


@pytest.fixture(scope="module")
def bottleneck() -> Graph:
    """YOLOv8's C2f bottleneck shape: a = silu(conv(x)); b = silu(conv(a)); a + b; then a conv whose output is
    also read by a third op (not fusable) and a sigmoid gate that is not SiLU (sigmoid of another tensor)."""
    b = GraphBuilder("silu_block")
    x = b.input("x", (1, 8, 16, 16))
    a = b.conv_bn_act(x, 16, 3, act="silu")
    c = b.conv_bn_act(a, 16, 3, act="silu")
    s = b.add(a, c)
    shared = b.bn(b.conv(s, 16, 1))
    gated = b.mul(shared, b.one(OpKind.SIGMOID, [shared], A.NoAttrs()))
    leak = b.add(gated, shared)  # the conv output is read again: SiLU cannot hide it
    other = b.mul(b.conv(leak, 16, 1), b.one(OpKind.SIGMOID, [s], A.NoAttrs()))  # gate, not SiLU
    return run_pipeline(b.build([other]), [fuse_operators])


@pytest.fixture(scope="module")
def cpu() -> tuple[HardwareProfile, RuntimeProfile]:
    rt, _ = load_runtime("openvino-cpu", note_missing_version=False)
    return load_profile("core-ultra-7-165h"), rt


def test_only_true_silu_chains_are_found(bottleneck: Graph) -> None:
    chains = silu_epilogues(bottleneck)
    assert len(chains) == 2  # the two conv_bn_act silu; not the shared-output conv, not the gate
    for e in chains:
        x = bottleneck.node(e.producer).outputs[0]
        assert {n.name for n in bottleneck.consumers(x)} == {e.sigmoid, e.mul}
        assert bottleneck.node(e.producer).op is OpKind.CONV2D


def test_fusion_saves_the_intermediates_and_two_dispatches(bottleneck: Graph, cpu: tuple) -> None:
    prof, rt = cpu
    plain = schedule_with(bottleneck, prof, rt, fused_silu=False, fused_residual_add=False)
    fused = schedule_with(bottleneck, prof, rt, fused_silu=True, fused_residual_add=False)
    chains = silu_epilogues(bottleneck)
    assert len(fused.plans) == len(plain.plans) - 2 * len(chains)
    old = {p.node: p for p in plain.plans}
    new = {p.node: p for p in fused.plans}
    saved = 0
    for e in chains:
        assert e.sigmoid not in new and e.mul not in new
        p, conv, sig, mul = new[e.producer], old[e.producer], old[e.sigmoid], old[e.mul]
        assert p.fused_from[-2:] == (e.sigmoid, e.mul) and p.output_bytes == mul.output_bytes
        assert p.overhead_cycles == conv.overhead_cycles and p.macs == conv.macs
        # A CPU still computes the sigmoid and product, in the conv's store loop.
        assert p.compute_cycles == pytest.approx(conv.compute_cycles + sig.compute_cycles + mul.compute_cycles)
        x = bottleneck.tensors[bottleneck.node(e.producer).outputs[0]].nbytes
        s = bottleneck.tensors[bottleneck.node(e.sigmoid).outputs[0]].nbytes
        saved += 3 * x + 2 * s  # conv output written + read twice; sigmoid output written + read
        assert all(e.mul not in q.depends_on and e.sigmoid not in q.depends_on for q in fused.plans)
    assert schedule_traffic_bytes(plain) - schedule_traffic_bytes(fused) == saved
    groups = scheduled_fusions(plain.plans, fused.plans)
    assert len(groups) == 2 and not any(g.residual_add for g in groups)
    assert sum(g.saved_bytes for g in groups) == saved
    assert estimate_schedule(fused, prof).latency_s < estimate_schedule(plain, prof).latency_s
    assert simulate_schedule(fused, prof).makespan_s < simulate_schedule(plain, prof).makespan_s


def test_off_by_default_and_without_the_flag(bottleneck: Graph, cpu: tuple) -> None:
    prof, rt = cpu
    assert RuntimeProfile.model_fields["fused_silu"].default is False
    plain = schedule_with(bottleneck, prof, rt, fused_silu=False, fused_residual_add=False)
    assert [p.op for p in plain.plans].count("SIGMOID") == 4


def test_residual_after_a_fused_silu_joins_the_same_conv(bottleneck: Graph, cpu: tuple) -> None:
    prof, rt = cpu
    both = schedule_with(bottleneck, prof, rt, fused_silu=True, fused_residual_add=True)
    only_res = schedule_with(bottleneck, prof, rt, fused_silu=False, fused_residual_add=True)
    add = next(n for n in bottleneck.nodes if n.op is OpKind.ADD)
    # Without SiLU fusion the ADD's operands are MUL outputs: no conv + ADD pair.
    assert all(r.add != add.name for r in residual_adds(bottleneck))
    assert any(p.node == add.name for p in only_res.plans)
    second = silu_epilogues(bottleneck)[1]
    merged = next(p for p in both.plans if p.node == second.producer)
    assert merged.fused_from[-3:] == (second.sigmoid, second.mul, add.name)
    assert all(p.node != add.name for p in both.plans)
    groups = scheduled_fusions(schedule_with(bottleneck, prof, rt, fused_silu=False, fused_residual_add=False).plans,
                               both.plans)
    assert [g.residual_add for g in groups] == [False, True]


def test_accelerator_epilogue_overlaps_and_fallback_is_not_fused(bottleneck: Graph) -> None:
    """On an NPU the SiLU runs in the output stage alongside the MACs; an op left on the host CPU breaks it."""
    prof = load_profile("core-ultra-7-165h")
    rt, _ = load_runtime("openvino-npu", note_missing_version=False)
    plain = schedule_with(bottleneck, prof, rt, fused_silu=False, fused_residual_add=False)
    fused = schedule_with(bottleneck, prof, rt, fused_silu=True, fused_residual_add=False)
    old = {p.node: p for p in plain.plans}
    for e in silu_epilogues(bottleneck):
        p = next(q for q in fused.plans if q.node == e.producer)
        act = old[e.sigmoid].compute_cycles + old[e.mul].compute_cycles
        assert p.compute_cycles == pytest.approx(max(old[e.producer].compute_cycles, act))
    no_sigmoid = rt.model_copy(update={"fused_silu": True, "supported_ops": ["CONV2D", "MUL", "ADD"]})
    fb = build_schedule(bottleneck, prof, no_sigmoid, rt.version(rt.default_version))
    assert any(p.op == "SIGMOID" and p.fallback for p in fb.plans)
    assert len(fb.plans) == len(plain.plans)


def test_a_cpu_runtime_on_a_chip_with_accelerators_is_not_a_fallback(bottleneck: Graph, cpu: tuple) -> None:
    """OpenVINO's CPU plugin targets the CPU: its ops are placed, not fallen back (so they fuse, and no warning);
    the GPU plugin's ops that land on the host still are fallbacks."""
    prof, rt = cpu
    assert not any(p.fallback for p in schedule_with(bottleneck, prof, rt).plans if p.unit != "-")
    gpu, _ = load_runtime("openvino-gpu", note_missing_version=False)
    only_conv = gpu.model_copy(update={"supported_ops": ["CONV2D"]})
    plans = build_schedule(bottleneck, prof, only_conv, gpu.version(gpu.default_version)).plans
    assert any(p.fallback and p.unit == prof.host_unit for p in plans)
