"""LeakyReLU epilogue fusion: conv/ADD + LEAKY_RELU merged at mapping time on runtimes with fused_leaky_relu
(Intel NPU: the NCE's PPE applies LeakyReLU as a post-op)."""

from __future__ import annotations

import pytest

from edgesim.api import load_profile
from edgesim.cost.analytic import estimate_schedule
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import HardwareProfile, RuntimeProfile
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.fusion import leaky_epilogues, scheduled_fusions
from edgesim.passes.fusion import fuse_operators, sole_consumer
from edgesim.passes.pipeline import run_pipeline
from edgesim.passes.quantize import QuantSpec, quantize_graph
from edgesim.zoo.builder import GraphBuilder
from tests._helpers import schedule_traffic_bytes, schedule_with


@pytest.fixture(scope="module")
def darknet() -> Graph:
    """Darknet shapes: conv+leaky, a max-pool + leaky (not fusable: MaxPool has no LeakyReLU post-op), a
    residual block (conv+leaky, conv+leaky, ADD with the block input) and a conv whose output is also read by
    a second op (its LeakyReLU cannot hide the write)."""
    b = GraphBuilder("darknet_block")
    x = b.input("x", (1, 8, 32, 32))
    a = b.conv_bn_act(x, 16, 3, act="leaky")
    p = b.act(b.maxpool(a, 2, 2), "leaky")
    c = b.conv_bn_act(b.conv_bn_act(p, 8, 1, act="leaky"), 16, 3, act="leaky")
    s = b.add(p, c)
    shared = b.conv(s, 16, 1)
    out = b.add(b.act(shared, "leaky"), shared)
    # fp16, as the NPU compiler builds a float model (fp32 ops would go to the host CPU)
    return quantize_graph(run_pipeline(b.build([out]), [fuse_operators]), QuantSpec(preset="fp16"))


@pytest.fixture(scope="module")
def npu() -> tuple[HardwareProfile, RuntimeProfile]:
    rt, _ = load_runtime("openvino-npu", note_missing_version=False)
    return load_profile("core-ultra-7-165h"), rt


def test_only_conv_producers_with_a_sole_leaky_consumer(darknet: Graph) -> None:
    pairs = leaky_epilogues(darknet)
    leakies = [n for n in darknet.nodes if n.op is OpKind.LEAKY_RELU]
    assert len(leakies) == 5 and len(pairs) == 3  # not after the max-pool, not the shared conv output
    for e in pairs:
        assert darknet.node(e.producer).op is OpKind.CONV2D
        assert [n.name for n in darknet.consumers(darknet.node(e.producer).outputs[0])] == [e.leaky]


def test_the_intel_npu_runtime_fuses_leaky_relu_into_the_nce_op(darknet: Graph, npu: tuple) -> None:
    prof, rt = npu
    assert rt.fused_leaky_relu and RuntimeProfile.model_fields["fused_leaky_relu"].default is False
    plain = schedule_with(darknet, prof, rt, fused_leaky_relu=False, fused_residual_add=False)
    fused = schedule_with(darknet, prof, rt, fused_residual_add=False)
    pairs = leaky_epilogues(darknet)
    assert len(fused.plans) == len(plain.plans) - len(pairs)
    old, new = {p.node: p for p in plain.plans}, {p.node: p for p in fused.plans}
    saved = 0
    for e in pairs:
        assert e.leaky not in new and all(e.leaky not in q.depends_on for q in fused.plans)
        p, conv, act = new[e.producer], old[e.producer], old[e.leaky]
        assert p.fused_from[-1] == e.leaky and p.output_bytes == act.output_bytes
        assert p.overhead_cycles == conv.overhead_cycles  # one NCE task, not two
        # the PPE applies the slope while the MAC array computes the next block
        assert p.compute_cycles == pytest.approx(max(conv.compute_cycles, act.compute_cycles))
        saved += 2 * darknet.tensors[darknet.node(e.producer).outputs[0]].nbytes
    assert schedule_traffic_bytes(plain) - schedule_traffic_bytes(fused) == saved
    assert [p.op for p in fused.plans].count("LEAKY_RELU") == 2
    groups = scheduled_fusions(plain.plans, fused.plans)
    assert len(groups) == 3 and sum(g.saved_bytes for g in groups) == saved
    assert estimate_schedule(fused, prof).latency_s < estimate_schedule(plain, prof).latency_s


def test_a_residual_after_a_fused_leaky_joins_the_same_conv(darknet: Graph, npu: tuple) -> None:
    prof, rt = npu
    both = schedule_with(darknet, prof, rt, fused_residual_add=True)
    last = leaky_epilogues(darknet)[-1]
    add = sole_consumer(darknet, darknet.node(last.leaky).outputs[0])
    assert add is not None and add.op is OpKind.ADD
    merged = next(p for p in both.plans if p.node == last.producer)
    assert merged.fused_from[-2:] == (last.leaky, add.name)
    assert all(p.node != add.name for p in both.plans)


def test_runtimes_without_the_flag_keep_the_leaky_layers(darknet: Graph) -> None:
    prof = load_profile("core-ultra-7-165h")
    cpu, _ = load_runtime("openvino-cpu", note_missing_version=False)
    assert not cpu.fused_leaky_relu
    plans = schedule_with(darknet, prof, cpu).plans
    assert [p.op for p in plans].count("LEAKY_RELU") == 5
