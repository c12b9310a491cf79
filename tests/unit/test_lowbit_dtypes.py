"""Low-bit element types (float8, e8m0, float4, int4, int2): exact values, storage bytes, import and execution."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from edgesim.ir import lowbit
from edgesim.ir.dtypes import DType

NAN, INF = float("nan"), float("inf")


def test_float8_cast_saturates_only_when_asked() -> None:
    x = np.array([1e6, -1e6, INF, NAN, 0.3], np.float32)
    sat = lowbit.cast(x, DType.FP8_E4M3FN, saturate=True, round_mode="up")
    raw = lowbit.cast(x, DType.FP8_E4M3FN, saturate=False, round_mode="up")
    np.testing.assert_array_equal(sat[:3], [448, -448, 448])
    assert np.isnan(sat[3]) and np.isnan(raw[:4]).all()  # e4m3fn has no infinity: overflow is NaN
    assert sat[4] == raw[4] == np.float32(0.3).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) == 0.3125
    e5 = lowbit.cast(x, DType.FP8_E5M2, saturate=False, round_mode="up")
    np.testing.assert_array_equal(e5[:3], [INF, -INF, INF])
    np.testing.assert_array_equal(lowbit.cast(x, DType.FP8_E5M2, True, "up")[:3], [57344, -57344, 57344])


def test_e8m0_rounding_modes_and_values_stay_put() -> None:
    x = np.array([3.0, 4.0, 0.0, 2.0 ** -127, 1.5 * 2.0 ** 127, NAN], np.float32)
    up = lowbit.to_e8m0(x, saturate=True, round_mode="up")
    np.testing.assert_array_equal(up[:5], [4, 4, 2.0 ** -127, 2.0 ** -126, 2.0 ** 127])  # saturates at 2^127
    assert np.isnan(up[5])
    np.testing.assert_array_equal(lowbit.to_e8m0(x[:2], True, "down"), [2, 4])
    assert np.isnan(lowbit.to_e8m0(x[4:5], saturate=False, round_mode="up"))[0]
    # the grid rounding the executor applies to every e8m0 tensor keeps e8m0 values, 2^-127 included
    np.testing.assert_array_equal(lowbit.on_grid(DType.FP8_E8M0, up[:5]), up[:5])


def test_small_integers_wrap_like_onnx_reference() -> None:
    x = np.arange(-9, 16, dtype=np.float32)
    np.testing.assert_array_equal(lowbit.on_grid(DType.INT4, x), x.astype(ml_dtypes.int4).astype(np.float32))
    assert lowbit.on_grid(DType.INT4, np.array([9.0], np.float32))[0] == -7
    assert lowbit.on_grid(DType.UINT2, np.array([5.0], np.float32))[0] == 1


def test_storage_bytes_and_numpy_identity() -> None:
    assert DType.FP8_E5M2.nbytes(10) == 10 and DType.FP4_E2M1.nbytes(10) == 5 and DType.INT2.nbytes(10) == 3
    assert DType.FP8_E4M3FN.is_float and DType.FP8_E4M3FN.is_low_bit_float and not DType.INT2.is_float
    assert not DType.FP16.is_low_bit_float and DType.INT2.is_integer
    assert DType.from_numpy(np.zeros(1, ml_dtypes.float8_e4m3fnuz).dtype) is DType.FP8_E4M3FNUZ
    assert DType.from_numpy(np.zeros(1, ml_dtypes.int4).dtype) is DType.INT4
    assert DType.from_numpy(np.dtype(np.float32)) is DType.FP32  # float32 holds float8 values but stays fp32


def _fp8_model(path: Path) -> None:
    w = numpy_helper.from_array(np.linspace(-3, 3, 128).reshape(16, 8).astype(ml_dtypes.float8_e4m3fn), "w")
    s = numpy_helper.from_array(np.array(0.05, np.float32), "s")
    z = helper.make_tensor("z", T.FLOAT8E4M3FN, [], [0])
    nodes = [helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"]),
             helper.make_node("MatMul", ["x", "wf"], ["y"]),
             helper.make_node("Cast", ["y"], ["y8"], to=T.FLOAT8E5M2, saturate=0),
             helper.make_node("Cast", ["y8"], ["o"], to=T.FLOAT)]
    g = helper.make_graph(nodes, "fp8", [helper.make_tensor_value_info("x", T.FLOAT, [1, 16])],
                          [helper.make_tensor_value_info("o", T.FLOAT, [1, 8])], [w, s, z])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), str(path))


def test_float8_model_imports_executes_exactly_and_costs_one_byte_per_weight(tmp_path: Path) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.api import estimate, load_profile
    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    path = tmp_path / "fp8.onnx"
    _fp8_model(path)
    graph = import_onnx(path)
    weight = next(t for t in graph.tensors.values() if t.is_const and t.num_elements == 128)
    assert weight.dtype is DType.FP8_E4M3FN and weight.nbytes == 128
    cast = next(n for n in graph.nodes if n.attrs.__class__.__name__ == "CastAttrs" and n.attrs.to == "fp8e5m2")
    assert cast.attrs.saturate is False and graph.tensors[cast.outputs[0]].nbytes == 8
    x = np.random.default_rng(1).standard_normal((1, 16)).astype(np.float32) * 40
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})[0]
    got = run_float(graph, {"x": x})[graph.outputs[0]]
    # exact but for the float32 MatMul's summation order, which may put y across one e5m2 step (2 mantissa bits)
    np.testing.assert_allclose(got, want, rtol=0.26)
    assert np.mean(got == want) > 0.7
    assert np.array_equal(got, lowbit.on_grid(DType.FP8_E5M2, got))
    assert estimate(graph, load_profile("rpi5")).latency_s > 0


def test_float8_zero_point_must_be_zero(tmp_path: Path) -> None:
    from edgesim.errors import ModelError
    from edgesim.frontends.onnx_import import import_onnx

    z = helper.make_tensor("z", T.FLOAT8E4M3FN, [], [1.0])
    s = numpy_helper.from_array(np.array(0.5, np.float32), "s")
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                           helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], "q",
                          [helper.make_tensor_value_info("x", T.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", T.FLOAT, [4])], [s, z])
    path = tmp_path / "q.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), str(path))
    with pytest.raises(ModelError, match="zero point 'z' of type fp8e4m3fn is not 0"):
        import_onnx(path)


def test_storage_bytes_are_the_codes_packed_like_onnx(tmp_path: Path) -> None:
    from onnx.numpy_helper import _pack_4bitx2

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.compress import huffman_compress

    x = np.array([0.5, 1, -2, 6, 3], np.float32)
    assert lowbit.storage_bytes(DType.FP4_E2M1, x) == _pack_4bitx2(x.astype(ml_dtypes.float4_e2m1fn)).tobytes()
    assert lowbit.storage_bytes(DType.FP8_E4M3FN, x) == x.astype(ml_dtypes.float8_e4m3fn).tobytes()
    assert len(lowbit.storage_bytes(DType.INT2, np.array([1, -1, 0, 1, -2], np.float32))) == 2
    path = tmp_path / "fp8.onnx"
    _fp8_model(path)
    packed = huffman_compress(import_onnx(path))
    w = next(t for t in packed.tensors.values() if t.is_const and t.dtype is DType.FP8_E4M3FN)
    assert w.stored_nbytes <= w.nbytes == 128  # entropy coding of the 1-byte codes, not of float32 copies


@pytest.mark.parametrize(("elem", "dtype", "want"), [(T.BFLOAT16, DType.BF16, [-np.inf, 1.0, 3.140625]),
                                                     (T.FLOAT8E4M3FN, DType.FP8_E4M3FN, [-448.0, 1.0, 3.25])])
def test_castlike_of_a_constant_folds_on_the_target_grid(tmp_path: Path, elem: int, dtype: DType,
                                                         want: list[float]) -> None:
    from edgesim.frontends.onnx_import import import_onnx

    c = numpy_helper.from_array(np.array([-np.inf, 1.0039, 3.1416], np.float32), "c")
    nodes = [helper.make_node("CastLike", ["c", "x"], ["k"]), helper.make_node("Add", ["x", "k"], ["y"])]
    g = helper.make_graph(nodes, "cl", [helper.make_tensor_value_info("x", elem, [3])],
                          [helper.make_tensor_value_info("y", elem, [3])], [c])
    path = tmp_path / "cl.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), str(path))
    graph = import_onnx(path)
    k = next(t for t in graph.tensors.values() if t.is_const)
    assert k.dtype is dtype
    np.testing.assert_array_equal(np.asarray(k.data, np.float32), want)


def test_float8_model_on_an_int8_npu_is_not_told_to_use_quant(tmp_path: Path) -> None:
    # --quant leaves an already float8-quantized graph as it is, so the fallback warning must not suggest it
    from edgesim.pipeline import RunSpec, run

    path = tmp_path / "fp8.onnx"
    _fp8_model(path)
    result = run(RunSpec(str(path), "coral-edgetpu"))
    assert result.fallback is not None
    line = result.fallback.line()
    assert "--quant int8" not in line and "re-export the model quantized to int8" in line
