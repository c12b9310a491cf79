"""TensorRT kernels per GPU architecture (issue #17, mapping/gpu.py): on the Jetson Nano's Maxwell GPU (sm_53, no
tensor cores) dense convs run as SIMT implicit GEMMs closer to the CUDA cores' peak than the tensor-core table
the Orins use, and a depthwise conv, with no depthwise tactic there, runs as per-group GEMMs padded to a
32-channel tile. The Orins (Ampere) keep the tensor-core table."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edgesim.api import bind, load_profile
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema_gpu import GpuArch
from edgesim.ir.graph import Graph
from edgesim.mapping.gpu import grouped_conv_factor
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import TransformOptions, transform_graph
from edgesim.zoo.builder import GraphBuilder


@pytest.fixture(scope="module")
def small() -> Graph:
    """A dense 3x3 conv (16 -> 64), a depthwise 3x3 on 64 channels, a dense 1x1 conv (64 -> 64), all 16x16 maps:
    the depthwise has 1/64 of the 1x1's MACs x 9."""
    b = GraphBuilder("maxwell")
    x = b.input("x", (1, 16, 16, 16))
    g = b.build([b.conv(b.dwconv(b.conv(x, 64, 3), 3), 64, 1)])
    return transform_graph(g, TransformOptions(quant=QuantPreset("fp16"), calibration="fixed", accuracy=False))[0]


def _cycles_per_mac(g: Graph, hw: str) -> dict[str, float]:
    prof, rt, ver = bind(load_profile(hw), "tensorrt")
    sched = build_schedule(g, prof, rt, ver)
    return {g.node(p.node).op.value: p.compute_cycles / p.macs for p in sched.plans if p.macs}


def test_profiles_name_their_gpu_architecture() -> None:
    assert load_profile("jetson-nano").unit("gpu").gpu_arch is GpuArch.MAXWELL
    for hw in ("jetson-orin-nano", "jetson-agx-orin", "jetson-orin-nx-16gb"):
        assert load_profile(hw).unit("gpu").gpu_arch is GpuArch.AMPERE
    rt, _ = load_runtime("tensorrt", note_missing_version=False)
    assert GpuArch.MAXWELL in rt.gpu_kernels and GpuArch.AMPERE not in rt.gpu_kernels


def test_depthwise_pads_to_the_group_tile_only_on_maxwell(small: Graph) -> None:
    rt, _ = load_runtime("tensorrt", note_missing_version=False)
    nano, orin = load_profile("jetson-nano").unit("gpu"), load_profile("jetson-orin-nano").unit("gpu")
    factors = {n.op.value: grouped_conv_factor(rt, nano, small, n) for n in small.nodes if n.op.op_class.value == "mac"}
    assert factors == {"CONV2D": 1.0, "DEPTHWISE_CONV2D": 32.0}
    assert {grouped_conv_factor(rt, orin, small, n) for n in small.nodes} == {1.0}
    assert {grouped_conv_factor(None, nano, small, n) for n in small.nodes} == {1.0}


def test_maxwell_costs_depthwise_32x_a_dense_mac_and_orin_does_not(small: Graph) -> None:
    nano = _cycles_per_mac(small, "jetson-nano")
    # Same kernel efficiency for both op kinds on Maxwell: the 32x is the tile padding.
    assert nano["DEPTHWISE_CONV2D"] / nano["CONV2D"] == pytest.approx(32.0)
    orin = _cycles_per_mac(small, "jetson-orin-nano")
    # Ampere keeps the tensor-core table: depthwise at half the conv efficiency, no padding.
    assert orin["DEPTHWISE_CONV2D"] / orin["CONV2D"] == pytest.approx(2.0)


def test_maxwell_dense_convs_use_the_simt_table() -> None:
    rt, _ = load_runtime("tensorrt", note_missing_version=False)
    nano = load_profile("jetson-nano").unit("gpu")
    maxwell = rt.gpu_kernels[GpuArch.MAXWELL].kernel_efficiency["CONV2D"]
    assert rt.efficiency_for("CONV2D", nano.kind, nano.gpu_arch) == maxwell
    assert rt.efficiency_for("CONV2D_1X1", nano.kind, nano.gpu_arch) == maxwell  # 1x1 falls back to CONV2D
    assert rt.efficiency_for("CONV2D", nano.kind, GpuArch.AMPERE) == rt.kernel_efficiency["CONV2D"]
    assert maxwell > rt.kernel_efficiency["CONV2D"]


def test_gpu_kernel_tables_are_validated() -> None:
    rt, _ = load_runtime("tensorrt", note_missing_version=False)
    data = rt.model_dump()
    with pytest.raises(ValidationError):  # an unknown op kind
        type(rt).model_validate({**data, "gpu_kernels": {"maxwell": {"kernel_efficiency": {"default": 0.3,
                                                                                           "CONV": 0.5}}}})
    with pytest.raises(ValidationError):  # an efficiency above 1
        type(rt).model_validate({**data, "gpu_kernels": {"maxwell": {"kernel_efficiency": {"default": 1.5}}}})
    with pytest.raises(ValidationError):  # an unknown architecture
        type(rt).model_validate({**data, "gpu_kernels": {"kepler": {"kernel_efficiency": {"default": 0.3}}}})
