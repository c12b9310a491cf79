"""YOLO v3 tiny ends in OpenVINO's RegionYolo layers (OMZ yolo-v3-tiny-tf IR), run on the NPU as a one-SHAVE kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim.api import load_profile
from edgesim.errors import EdgesimError
from edgesim.hw.loader import load_runtime
from edgesim.ir import attrs as A
from edgesim.ir.ops import OpKind
from edgesim.ir.work import node_work
from edgesim.mapping.compute import kernel_efficiency, kernel_key
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.float_exec_math import unary_math
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.zoo import build
from edgesim.zoo.builder import GraphBuilder

SMALL = (1, 3, 160, 160)


def test_yolov3_tiny_ends_in_region_yolo_by_default_and_region_0_stops_at_the_heads() -> None:
    g = build("yolov3_tiny", input_shape=SMALL)
    regions = [n for n in g.nodes if n.op is OpKind.UNARY_MATH and n.attrs.fn == "region_yolo"]
    assert len(regions) == 2 and {o for n in regions for o in n.outputs} == set(g.outputs)
    assert all(n.attrs.alpha == 85 and n.attrs.beta == 4 for n in regions)
    bare = build("yolov3_tiny", input_shape=SMALL, region=0)
    assert not any(n.op is OpKind.UNARY_MATH for n in bare.nodes)
    assert [g.tensors[o].shape for o in g.outputs] == [bare.tensors[o].shape for o in bare.outputs]
    with pytest.raises(EdgesimError):
        build("yolov3_tiny", region=2)


def test_region_yolo_math_is_the_logistic_except_w_and_h() -> None:
    b = GraphBuilder("r")
    x = b.input("x", (1, 2 * 7, 2, 2))  # two boxes of 4 coords + objectness + 2 classes
    y = b.one(OpKind.UNARY_MATH, [x], A.MathAttrs("region_yolo", alpha=7, beta=4))
    g = b.build([y])
    node = g.nodes[-1]
    v = np.linspace(-3, 3, 56, dtype=np.float32).reshape(1, 14, 2, 2)
    out = unary_math(node, [v], g)
    sig = 1 / (1 + np.exp(-v))
    for c in range(14):
        expect = v[:, c] if c % 7 in (2, 3) else sig[:, c]
        np.testing.assert_allclose(out[:, c], expect, rtol=1e-6)
    assert node_work(g, node).elementwise_ops == 4 * 56


def test_npu_runs_region_yolo_on_one_shave_of_four() -> None:
    """single_shave_region_yolo (npu_plugin sw_runtime_kernels) uses one SHAVE: a quarter of the rate of the
    NPU's other software kernels, whichever unit it lands on; the CPU plugin has no such penalty."""
    g = build("yolov3_tiny", input_shape=SMALL)
    g = optimize(g, options_from_cli(quant="int8", compress="none", graph=g))
    prof = load_profile("core-ultra-7-165h")
    rt, ver = load_runtime("openvino-npu", note_missing_version=False)
    region = next(n for n in g.nodes if n.op is OpKind.UNARY_MATH)
    assert kernel_key(region) == "REGION_YOLO"
    shave = prof.unit("shave")
    assert kernel_efficiency(rt, ver, "REGION_YOLO", shave) == pytest.approx(
        kernel_efficiency(rt, ver, "SIGMOID", shave) / 4)
    plans = {p.node: p for p in build_schedule(g, prof, rt, ver).plans}
    assert plans[region.name].unit == "shave"
    cpu_rt, cpu_ver = load_runtime("openvino-cpu", note_missing_version=False)
    cpu = prof.unit("cpu") if any(u.name == "cpu" for u in prof.units) else prof.units[0]
    assert kernel_efficiency(cpu_rt, cpu_ver, "REGION_YOLO", cpu) == kernel_efficiency(
        cpu_rt, cpu_ver, "UNARY_MATH", cpu)
