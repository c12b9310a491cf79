"""RuntimeProfile.widened_ops: op kinds a runtime's kernels compute in a wider type than an integer model's
tensors (OpenVINO CPU: Sigmoid/Multiply in fp32 between dequantize and requantize, int8 depthwise on widened
lanes), and the OpenVINO release picked for a vendor row by its runtime_version text."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edgesim.api import load_profile
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import RuntimeProfile
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.compute import compute_precision
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.passes.pipeline import run_pipeline
from edgesim.validate.npu_vendor import _runtime_spec
from edgesim.zoo.builder import GraphBuilder


def _net(quant: str | None) -> Graph:
    b = GraphBuilder("widen_net")
    x = b.input("x", (1, 16, 32, 32))
    y = b.conv_bn_act(x, 32, 3, act="silu")
    y = b.dwconv(y, 3)
    y = b.one(OpKind.SOFTMAX, [b.flatten(b.gap(y))], A.SoftmaxAttrs(axis=-1))
    g = run_pipeline(b.build([y]), [fuse_operators])
    return optimize(g, options_from_cli(quant=quant, compress="none", graph=g)) if quant else g


@pytest.fixture(scope="module")
def cpu_runtime() -> RuntimeProfile:
    rt, _ = load_runtime("openvino-cpu", note_missing_version=False)
    return rt


def _cycles(graph: Graph, rt: RuntimeProfile) -> dict[str, float]:
    prof = load_profile("celeron-6305e")
    ver = rt.version(rt.default_version)
    return {p.op: p.compute_cycles for p in build_schedule(graph, prof, rt, ver).plans if p.unit != "-"}


def test_openvino_cpu_widens_sigmoid_mul_and_depthwise(cpu_runtime: RuntimeProfile) -> None:
    assert cpu_runtime.widened_ops == {"DEPTHWISE_CONV2D": "int16", "SIGMOID": "fp32", "MUL": "fp32",
                                       "GELU": "fp32", "SOFTMAX": "fp32", "LAYER_NORM": "fp32"}


def test_integer_ops_get_the_wider_rate_float_ops_keep_theirs(cpu_runtime: RuntimeProfile) -> None:
    g = _net("int8")
    dw = next(n for n in g.nodes if n.op is OpKind.DEPTHWISE_CONV2D)
    conv = next(n for n in g.nodes if n.op is OpKind.CONV2D)
    assert compute_precision(cpu_runtime, dw, "int8") == "int16"
    assert compute_precision(cpu_runtime, conv, "int8") == "int8"
    assert compute_precision(cpu_runtime, dw, "fp32") == "fp32"  # never narrowed
    assert compute_precision(None, dw, "int8") == "int8"

    plain = cpu_runtime.model_copy(update={"widened_ops": {}})
    wide, narrow = _cycles(g, cpu_runtime), _cycles(g, plain)
    cpu = load_profile("celeron-6305e").unit("cpu")
    # Depthwise at the int16 rate instead of the int8 one (Willow Cove: 32 vs 64 per cycle).
    ratio = cpu.macs_per_cycle["int8"] / cpu.macs_per_cycle["int16"]
    assert wide["DEPTHWISE_CONV2D"] == pytest.approx(narrow["DEPTHWISE_CONV2D"] * ratio)
    # The fused SiLU epilogue (sigmoid + product) costs the fp32 rate: the conv plan grows, its MACs do not.
    assert wide["CONV2D"] > narrow["CONV2D"]
    # A float model is untouched.
    f = _net(None)
    assert _cycles(f, cpu_runtime) == _cycles(f, plain)


def test_widened_ops_must_name_op_kinds(cpu_runtime: RuntimeProfile) -> None:
    data = cpu_runtime.model_dump()
    data["widened_ops"] = {"SWISH_ISH": "fp32"}
    with pytest.raises(ValidationError, match="unknown op kinds"):
        RuntimeProfile.model_validate(data)


def test_later_openvino_benchmark_page_rows_use_the_2024_6_cpu_release() -> None:
    assert _runtime_spec("openvino-cpu", "OpenVINO release not stated in file (graph-data-ov.json @003f03dd)") \
        == "openvino-cpu@2024.6"
    assert _runtime_spec("openvino-cpu", "OpenVINO 2024.3.0") == "openvino-cpu"
    _, ver = load_runtime("openvino-cpu@2024.6", note_missing_version=False)
    assert ver.version == "2024.6" and (ver.note or "").startswith("fitted")
