"""A QDQ ONNX model (DQ -> Conv -> Clip -> Q, as onnxruntime's quantizer and edgesim's exporter write it) costs the
same as the int8 graph it came from: the float intermediate between a conv and its clamp is not a real tensor."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesim.api import estimate, load_model, load_profile
from edgesim.frontends.onnx_export import export_onnx as write_onnx
from edgesim.ir.attrs import Activation
from edgesim.ir.ops import OpKind
from edgesim.passes.optimize import optimize, options_from_cli


@pytest.fixture(scope="module")
def int8_and_qdq(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    graph = optimize(load_model("mobilenet_v2", input_shape=(1, 3, 96, 96)), options_from_cli(quant="int8"))
    path = Path(tmp_path_factory.mktemp("qdq")) / "mnv2_int8.onnx"
    write_onnx(graph, path)
    return graph, path


def test_conv_clip_quantize_fuses_into_an_int8_conv(int8_and_qdq) -> None:  # type: ignore[no-untyped-def]
    _, path = int8_and_qdq
    raw = load_model(str(path))
    assert any(n.op is OpKind.CLIP for n in raw.nodes)  # the importer keeps the QDQ structure as written
    fused = optimize(raw, options_from_cli())
    assert not any(n.op is OpKind.CLIP for n in fused.nodes)
    convs = [n for n in fused.nodes if n.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D)]
    assert sum(n.attrs.activation is Activation.RELU6 for n in convs) == 35
    for n in convs:  # every conv now writes a quantized tensor: no float intermediate left on the NPU's path
        out = fused.tensors[n.outputs[0]]
        assert out.quant is not None and out.dtype.bits == 8, n.name


def test_qdq_round_trip_costs_the_same_on_an_npu(int8_and_qdq) -> None:  # type: ignore[no-untyped-def]
    graph, path = int8_and_qdq
    profile = load_profile("ethos-u55-128")
    direct = estimate(graph, profile)
    via_onnx = estimate(optimize(load_model(str(path)), options_from_cli()), profile)
    assert via_onnx.latency_s == pytest.approx(direct.latency_s, rel=1e-6)
    assert not any(layer.unit == "cpu" for layer in via_onnx.layers)


def test_float_graph_activation_fusion_unchanged() -> None:
    fused = optimize(load_model("mobilenet_v2", input_shape=(1, 3, 96, 96)), options_from_cli())
    assert not any(n.op is OpKind.CLIP for n in fused.nodes)
    assert all(fused.tensors[n.outputs[0]].quant is None for n in fused.nodes)
