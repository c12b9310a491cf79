"""QNN HTP mechanisms: 32-channel activation blocks, per-kind op overheads, weight prefetch across ops."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edgesim.api import bind, load_profile
from edgesim.cost.analytic import estimate_schedule
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import HardwareProfile
from edgesim.ir.graph import Graph
from edgesim.mapping.granule import padded_mac_factor
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.zoo.builder import GraphBuilder


@pytest.fixture(scope="module")
def small() -> Graph:
    """An image conv (3 -> 32, 7x7), a low-depth conv (32 -> 16 -> 16), a depthwise on 24 channels, an FC."""
    b = GraphBuilder("granules")
    x = b.input("x", (1, 3, 32, 32))
    a = b.conv(x, 32, 7, stride=2)
    c = b.conv(b.conv(a, 16, 1), 16, 3)
    d = b.dwconv(b.conv(c, 24, 1), 3)
    return b.build([b.fc(b.flatten(b.gap(d)), 100)])


def _factors(g: Graph, granule: int | None) -> dict[str, float]:
    return {n.name: padded_mac_factor(g, n, granule) for n in g.nodes if n.op.op_class.value == "mac"}


def test_channels_round_up_to_the_htp_block(small: Graph) -> None:
    f = list(_factors(small, 32).values())
    # 3-channel image conv: its 7 kernel columns packed into one 32-deep block (21 -> 32), not 7 blocks of 32
    assert f[0] == pytest.approx(32 / 21)
    assert f[1] == pytest.approx(2.0)  # 32 in, 16 out
    assert f[2] == pytest.approx(64 / 48 * 2)  # 16 in x 3 columns packed (48 -> 64, not 3 x 32), 16 out
    assert f[3] == pytest.approx(2 * 32 / 24)  # 1x1, 16 -> 24: 32/16 x 32/24
    assert f[3 + 1] == pytest.approx(32 / 24)  # depthwise pads its 24 channels once
    assert f[-1] == pytest.approx(32 / 24 * 128 / 100)  # FC: 24 -> 100 features
    assert set(_factors(small, None).values()) == {1.0}


def test_padding_slows_only_low_depth_layers_on_the_npu(small: Graph) -> None:
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import TransformOptions, transform_graph

    small = transform_graph(small, TransformOptions(quant=QuantPreset("int8"), calibration="fixed",
                                                    accuracy=False))[0]
    prof, rt, ver = bind(load_profile("snapdragon-x-elite"), "qnn")
    assert rt is not None and rt.channel_granule == 32
    padded = build_schedule(small, prof, rt, ver)
    flat = build_schedule(small, prof, rt.model_copy(update={"channel_granule": None}), ver)
    assert {p.unit for p in padded.plans if p.macs} == {"npu"}
    ratio = [p.compute_cycles / q.compute_cycles for p, q in zip(padded.plans, flat.plans, strict=True) if q.macs]
    assert ratio[:3] == pytest.approx([32 / 21, 2.0, 64 / 48 * 2])


def test_op_overhead_scale_by_kind_then_class() -> None:
    rt, _ = load_runtime("qnn", note_missing_version=False)
    rt = rt.model_copy(update={"op_overhead_scale": {"mac": 0.0, "DEPTHWISE_CONV2D": 2.0, "elementwise": 3.0}})
    base = rt.per_op_overhead_cycles
    assert rt.op_overhead_cycles("CONV2D", "mac") == 0.0
    assert rt.op_overhead_cycles("CONV2D_1X1", "mac") == 0.0
    assert rt.op_overhead_cycles("DEPTHWISE_CONV2D", "mac") == 2.0 * base
    assert rt.op_overhead_cycles("ADD", "elementwise") == 3.0 * base
    assert rt.op_overhead_cycles("CONCAT", "data") == base  # neither listed
    with pytest.raises(ValidationError):
        type(rt).model_validate({**rt.model_dump(), "op_overhead_scale": {"CONVOLUTION": 1.0}})
    with pytest.raises(ValidationError):
        type(rt).model_validate({**rt.model_dump(), "op_overhead_scale": {"mac": -1.0}})


def _dram_read(s: Schedule) -> list[int]:
    return [sum(t.read_bytes for t in p.traffic if t.memory == "dram") for p in s.plans]


def _pair(model: str, hw: str) -> tuple[Schedule, Schedule, HardwareProfile]:
    from tests._helpers import reference_graph

    g = reference_graph(model, "int8")
    prof, rt, ver = bind(load_profile(hw), "qnn")
    assert rt is not None and rt.weight_prefetch
    on = build_schedule(g, prof, rt, ver)
    off = build_schedule(g, prof, rt.model_copy(update={"weight_prefetch": False}), ver)
    return on, off, prof


def test_weight_prefetch_moves_bytes_earlier_and_hides_the_weight_stall() -> None:
    on, off, prof = _pair("resnet50", "snapdragon-8-gen3")
    assert sum(_dram_read(on)) == sum(_dram_read(off))  # moved, never dropped
    assert _dram_read(on) != _dram_read(off)
    # the bytes went earlier: at every op, at least as much was read by then
    cum_on = cum_off = 0
    for a, b in zip(_dram_read(on), _dram_read(off), strict=True):
        cum_on, cum_off = cum_on + a, cum_off + b
        assert cum_on >= cum_off
    # tiles carry the same totals as their plan
    for p in on.plans:
        for mem in {t.memory for t in p.traffic}:
            tiles = sum(g.count * sum(t.read_bytes for t in g.traffic if t.memory == mem) for g in p.tiles)
            if p.tiles:
                assert tiles == sum(t.read_bytes for t in p.traffic if t.memory == mem)
    t_on, t_off = estimate_schedule(on, prof).latency_s, estimate_schedule(off, prof).latency_s
    assert t_on < t_off
    # the event engine sees the same overlap (prefetched bytes ride on every tile of the op that issues them)
    from edgesim.sim import simulate_schedule

    ev_on, ev_off = simulate_schedule(on, prof).makespan_s, simulate_schedule(off, prof).makespan_s
    per_inference_s = on.per_inference_overhead_cycles / on.host_clock_hz
    assert ev_on < ev_off and ev_on + per_inference_s == pytest.approx(t_on, rel=0.1)


def test_weight_prefetch_stays_within_half_the_vtcm() -> None:
    on, off, prof = _pair("resnet50", "snapdragon-8-gen3")
    window = prof.memory("vtcm").size_bytes // 2
    # no op pulls in more weight bytes ahead of use than the staging window
    extra = [a - b for a, b in zip(_dram_read(on), _dram_read(off), strict=True)]
    assert max(extra) <= window


def test_a_quantized_batchnorm_dispatches_twice() -> None:
    """DenseNet's pre-activation BatchNorm (after a concat, not foldable into a conv): on the int8 graph the QNN
    converter makes it a multiply and an add, so it pays the elementwise per-op overhead twice; at fp16 once."""
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import TransformOptions, transform_graph

    b = GraphBuilder("dense")
    x = b.input("x", (1, 32, 16, 16))
    cat = b.concat([x, b.conv(x, 32, 3)], axis=1)
    g = b.build([b.conv(b.act(b.bn(cat), "relu"), 32, 1)])
    prof, rt, ver = bind(load_profile("snapdragon-x-elite"), "qnn")
    assert rt is not None and ver is not None and rt.quantizes_params
    clock = prof.unit("npu").clock_mhz or 0.0
    overhead = {}
    for quant in ("int8", "fp16"):
        q = transform_graph(g, TransformOptions(quant=QuantPreset(quant), calibration="fixed", accuracy=False))[0]
        bn = [p for p in build_schedule(q, prof, rt, ver).plans if p.op == "BATCH_NORM"]
        assert len(bn) == 1 and bn[0].unit == "npu"
        overhead[quant] = bn[0].overhead_cycles
    one = rt.op_overhead_cycles("BATCH_NORM", "elementwise") * ver.overhead_scale
    assert overhead["fp16"] == pytest.approx(one) and overhead["int8"] == pytest.approx(2 * one) and clock > 0



@pytest.mark.parametrize("hw, runtime", [("core-ultra-9-288v", "openvino-npu"), ("rk3588", "rknn")])
def test_a_float_island_of_a_quantized_graph_runs_at_fp16_where_the_compiler_computes_floats_so(
        hw: str, runtime: str) -> None:
    # MobileBERT's NoNorm (a multiply and an add by float vectors on int8 activations) and BERT's embedding
    # lookup were sent to the host CPU, a fallback the OpenVINO NPU plugin and RKNN never make: their compilers
    # run float ops at fp16 on the accelerator (float_models_as fp16)
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, run

    opts = TransformOptions(quant=QuantPreset.INT8, calibration="fixed", accuracy=False)
    result = run(RunSpec("mobilebert", hw, runtime, input_shape=(1, 16), transform=opts))
    nonorm = [layer for layer in result.estimate.layers if layer.op in ("MUL", "ADD")]
    assert nonorm and not any(layer.fallback for layer in nonorm)
    if runtime == "openvino-npu":  # the NPU plugin has no CPU fallback at all (RKNN's CPU runs its GATHERs)
        assert not any(layer.fallback for layer in result.estimate.layers)
