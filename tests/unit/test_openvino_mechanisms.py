"""OpenVINO on Intel client chips (issue #17): the NPU compiler's SHAVE software kernels, the hybrid CPU's
latency (P-cores) vs throughput (P + E streams) modes, SiLU fused by the CPU/GPU plugins but not the NPU's."""

from __future__ import annotations

import pytest

from edgesim.api import load_profile
from edgesim.hw.loader import load_runtime
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.choices import QuantPreset
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.passes.pipeline import run_pipeline
from edgesim.pipeline import RunSpec, TransformOptions, run
from edgesim.pipeline.stream import little_cluster_period_s
from edgesim.validate.npu_vendor import VendorRow, predict_row
from edgesim.zoo.builder import GraphBuilder


@pytest.fixture(scope="module")
def silu_net() -> Graph:
    b = GraphBuilder("silu_net")
    x = b.input("x", (1, 16, 32, 32))
    y = b.conv_bn_act(x, 32, 3, act="silu")
    y = b.conv_bn_act(y, 32, 3, act="relu")
    y = b.one(OpKind.SOFTMAX, [b.flatten(b.gap(y))], A.SoftmaxAttrs(axis=-1))
    g = run_pipeline(b.build([y]), [fuse_operators])
    return optimize(g, options_from_cli(quant="int8", compress="none", graph=g))


@pytest.mark.parametrize("pid", ["core-ultra-7-155h", "core-ultra-7-165h", "core-ultra-9-288v"])
def test_npu_places_macs_on_the_nces_and_software_kernels_on_the_shaves(silu_net: Graph, pid: str) -> None:
    prof = load_profile(pid)
    rt, ver = load_runtime("openvino-npu", note_missing_version=False)
    assert not rt.fused_silu
    units = {p.op: p.unit for p in build_schedule(silu_net, prof, rt, ver).plans if p.unit != "-"}
    assert units["CONV2D"] == units["MUL"] == "npu"
    assert units["SIGMOID"] == units["SOFTMAX"] == "shave"
    # The SHAVEs run their kernels in fp16 whatever the tensor precision: int8 is no faster there.
    shave = prof.unit("shave")
    assert shave.elementwise_ops_per_cycle["int8"] == shave.elementwise_ops_per_cycle["fp16"]


def test_cpu_and_gpu_plugins_fuse_silu(silu_net: Graph) -> None:
    prof = load_profile("core-ultra-7-165h")
    for rid in ("openvino-cpu", "openvino-gpu"):
        rt, ver = load_runtime(rid, note_missing_version=False)
        assert rt.fused_silu
        ops = [p.op for p in build_schedule(silu_net, prof, rt, ver).plans]
        assert "SIGMOID" not in ops and "MUL" not in ops


def _row(device: str, metric: str) -> VendorRow:
    return VendorRow(0, device, "openvino-cpu", "resnet8", "1x3x32x32", None, "int8", metric, 1.0)


def test_hybrid_cpu_throughput_adds_the_e_core_streams() -> None:
    """Latency runs on the P-cores only; the throughput period is that of P- and E-core streams together, so
    shorter than the P-cores' own; a chip of one core type has no such streams."""
    prof = load_profile("core-ultra-7-165h")
    assert prof.host.count == 6 and prof.little_cluster is not None and prof.little_cluster.count == 8
    spec = RunSpec("resnet8", "core-ultra-7-165h", "openvino-cpu", input_shape=(1, 3, 32, 32),
                   transform=TransformOptions(quant=QuantPreset("int8"), calibration="fixed", accuracy=False))
    little = little_cluster_period_s(run(spec))
    assert little is not None and little > 0
    both = predict_row(_row("core-ultra-7-165h", "throughput"))
    assert both == pytest.approx(1e3 / (1e3 / _p_only_ms() + 1.0 / little), rel=1e-6)
    assert both < _p_only_ms()
    single = RunSpec("resnet8", "core-i7-1185gre", "openvino-cpu", input_shape=(1, 3, 32, 32),
                     transform=spec.transform)
    assert little_cluster_period_s(run(single)) is None


def _p_only_ms() -> float:
    from edgesim.pipeline.stream import stream_frames
    from edgesim.sim.stream import schedule_period_s
    from edgesim.validate.npu_vendor import row_spec

    result = run(row_spec(_row("core-ultra-7-165h", "throughput")))
    return schedule_period_s(result.schedule, result.profile, stream_frames(result.schedule)) * 1e3


def test_npu_runtime_is_not_multi_stream_on_the_npu() -> None:
    rt, _ = load_runtime("openvino-npu", note_missing_version=False)
    assert not rt.inter_op_parallel


def test_cpu_threads_scale_by_the_runtimes_thread_scaling() -> None:
    """XNNPACK's extra threads add 0.63 of a core each on the i.MX 8M Plus A53s; accelerators are untouched."""
    from edgesim.api import bind
    from edgesim.mapping.compute import parallel_cores

    rt, _ = load_runtime("tflite-xnnpack", note_missing_version=False)
    assert rt.thread_scaling == pytest.approx(0.63)
    four, _, _ = bind(load_profile("imx8mp"), "tflite-xnnpack", threads=4)
    one, _, _ = bind(load_profile("imx8mp"), "tflite-xnnpack", threads=1)
    assert parallel_cores(four.host, rt) == pytest.approx(1 + 3 * 0.63)
    assert parallel_cores(one.host, rt) == 1.0
    assert parallel_cores(four.host, rt.model_copy(update={"thread_scaling": 1.0})) == 4.0
    assert parallel_cores(four.unit("npu"), rt) == four.unit("npu").count
