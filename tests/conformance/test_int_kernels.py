"""The integer kernels on int8-quantized ONNX (NCHW) graphs agree with the float executor's fake-quantized
simulation of the same graph: convolutions, transposed convolutions and matmuls requantize like onnxruntime, and
pooling, resize, slice, gather, split, expand, elementwise max and the max/arg reductions move integer codes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgesim.frontends.onnx_import import import_onnx
from edgesim.kernels.executor import execute
from edgesim.passes.float_exec import run_float
from edgesim.passes.optimize import Options, optimize
from edgesim.passes.quantize import QuantSpec

RNG = np.random.default_rng(3)


def _w(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    return numpy_helper.from_array((RNG.standard_normal(shape) * 0.3).astype(np.float32), name)


def _i64(name: str, *v: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(v, np.int64), name)


def _f32(name: str, *v: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(v, np.float32), name)


def _cnn() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("ConvTranspose", ["p1", "w2", "b2"], ["t1"], strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1]),
        helper.make_node("Resize", ["t1", "", "sc"], ["u1"], mode="nearest"),
        helper.make_node("Slice", ["u1", "st", "en", "ax"], ["s1"]),
        helper.make_node("AveragePool", ["s1"], ["a1"], kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Conv", ["a1", "w3"], ["c3"], group=4),
        helper.make_node("Max", ["c3", "a1"], ["m1"]),
        helper.make_node("GlobalAveragePool", ["m1"], ["y"]),
    ]
    inits = [_w("w1", (8, 3, 3, 3)), _w("b1", (8,)), _w("w2", (8, 4, 3, 3)), _w("b2", (4,)),
             _f32("sc", 1, 1, 2, 2), _i64("st", 1, 2), _i64("en", 20, 22), _i64("ax", 2, 3),
             _w("w3", (4, 1, 1, 1))]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _seq() -> onnx.ModelProto:
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Split", ["h"], ["h1", "h2"], axis=2, num_outputs=2),
        helper.make_node("Max", ["h1", "h2"], ["m"]),
        helper.make_node("Gather", ["m", "idx"], ["g"], axis=1),
        helper.make_node("Expand", ["g", "shape"], ["e"]),
        helper.make_node("ReduceMax", ["e", "rax"], ["y"], keepdims=0),
        helper.make_node("ArgMax", ["m"], ["am"], axis=2, keepdims=0),
    ]
    inits = [_w("w1", (16, 12)), _i64("idx", 4, 0, 2), _i64("shape", 2, 3, 6), _i64("rax", 2)]
    g = helper.make_graph(nodes, "seq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("am", TensorProto.INT64, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("build", [_cnn, _seq], ids=["cnn", "seq"])
def test_integer_kernels_match_the_fake_quantized_float_graph(build: object, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(build(), str(path))  # type: ignore[operator]
    g = import_onnx(path)
    shape = g.tensors[g.inputs[0]].shape
    samples = tuple(RNG.standard_normal(shape).astype(np.float32) for _ in range(4))
    q = optimize(g, Options(quant=QuantSpec(preset="int8", calibration_data=samples)))
    x = RNG.standard_normal(shape).astype(np.float32)
    sim = run_float(q, {q.inputs[0]: x})
    qin = q.tensors[q.inputs[0]].quant
    assert qin is not None
    codes = np.clip(np.round(x / qin.scale) + qin.zero_point, -128, 127).astype(np.int8)
    got = execute(q, {q.inputs[0]: codes})
    for name in q.outputs:
        t = q.tensors[name]
        if t.quant is None:  # integer indices (ArgMax): exact
            np.testing.assert_array_equal(got[name], sim[name])
            continue
        real = (got[name].astype(np.float64) - t.quant.zero_point) * t.quant.scale
        # the integer path requantizes every layer; the simulation rounds the same grids from exact values
        assert np.max(np.abs(real - sim[name])) <= 2.5 * t.quant.scale, name
        assert np.std(sim[name]) > 10 * t.quant.scale  # a non-trivial output, not a constant


def _ort_quantized(tmp_path: Path, fmt: str, per_channel: bool) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p", "w2"], ["q"]),
             helper.make_node("GlobalAveragePool", ["q"], ["y"])]
    inits = [_w("w", (8, 3, 3, 3)), _w("b", (8,)), _w("w2", (4, 8, 1, 1))]
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])], inits)
    fp = tmp_path / "f.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(fp))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.data = iter([{"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)} for _ in range(8)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.data, None)

    out = tmp_path / f"{fmt}.onnx"
    # reduce_range (7-bit weights): onnxruntime's u8s8 kernels on AVX2 without VNNI add pairs of products in
    # saturating int16 (vpmaddubsw), so with full-range weights its own output is off by the saturation on those
    # machines and exact on AVX-512 VNNI ones; 7-bit weights cannot saturate, so it is exact everywhere (its
    # quantization docs recommend reduce_range there for that reason)
    quantize_static(str(fp), str(out), Reader(), quant_format=getattr(QuantFormat, fmt), per_channel=per_channel,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)
    return out


@pytest.mark.parametrize("fmt,per_channel", [("QOperator", False), ("QDQ", True)])
def test_onnxruntime_quantized_models_run_exactly_on_the_integer_kernels(tmp_path: Path, fmt: str,
                                                                          per_channel: bool) -> None:
    # onnxruntime's own static quantization: uint8 activations, int8 weights, NCHW QLinearConv or QDQ Conv
    ort = pytest.importorskip("onnxruntime")
    path = _ort_quantized(tmp_path, fmt, per_channel)
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    g = import_onnx(path)
    got = execute(g, {g.inputs[0]: x})[g.outputs[0]]
    np.testing.assert_array_equal(got, want)
