"""Run-time quantization parameters: DynamicQuantizeLinear outputs and QuantizeLinear with a computed scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper


def _check(path: Path, feeds: dict[str, np.ndarray]) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    graph = import_onnx(path)
    got = run_float(graph, feeds)
    want = ReferenceEvaluator(str(path)).run(None, feeds)
    for name, w in zip(graph.outputs, want, strict=True):
        np.testing.assert_array_equal(np.asarray(got[name], np.float64), np.asarray(w, np.float64))


@pytest.mark.parametrize("kind", ["mixed", "positive", "zeros"])
def test_dynamic_quantize_outputs_are_computed(tmp_path: Path, kind: str) -> None:
    g = helper.make_graph([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])], "d",
                          [helper.make_tensor_value_info("x", T.FLOAT, [3, 7])],
                          [helper.make_tensor_value_info("y", T.UINT8, [3, 7]),
                           helper.make_tensor_value_info("s", T.FLOAT, []),
                           helper.make_tensor_value_info("z", T.UINT8, [])])
    path = tmp_path / "dq.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    x = np.random.default_rng(2).standard_normal((3, 7)).astype(np.float32) * 3
    x = {"mixed": x, "positive": np.abs(x) + 0.5, "zeros": np.zeros_like(x)}[kind]
    _check(path, {"x": x})


def test_quantize_with_a_computed_scale(tmp_path: Path) -> None:
    zp = numpy_helper.from_array(np.array(3, np.int8), "zp")
    k = numpy_helper.from_array(np.array(127.0, np.float32), "k")
    nodes = [helper.make_node("Abs", ["x"], ["a"]), helper.make_node("ReduceMax", ["a"], ["m"], keepdims=0),
             helper.make_node("Div", ["m", "k"], ["s"]), helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"])]
    g = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", T.FLOAT, [4, 5])],
                          [helper.make_tensor_value_info("q", T.INT8, [4, 5])], [zp, k])
    path = tmp_path / "q.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    _check(path, {"x": np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)})


def test_blocked_int4_weight_dequantizes_exactly_and_keeps_its_bytes(tmp_path: Path) -> None:
    import ml_dtypes

    from edgesim.frontends.onnx_import import import_onnx

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.integers(-8, 8, (64, 32)).astype(ml_dtypes.int4), "w")
    s = numpy_helper.from_array(rng.uniform(0.01, 0.1, (4, 32)).astype(np.float32), "s")
    z = numpy_helper.from_array(rng.integers(-2, 3, (4, 32)).astype(ml_dtypes.int4), "z")
    nodes = [helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"], axis=0, block_size=16),
             helper.make_node("MatMul", ["x", "wf"], ["y"])]
    g = helper.make_graph(nodes, "b", [helper.make_tensor_value_info("x", T.FLOAT, [1, 64])],
                          [helper.make_tensor_value_info("y", T.FLOAT, [1, 32])], [w, s, z])
    path = tmp_path / "b.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), str(path))
    _check(path, {"x": rng.standard_normal((1, 64)).astype(np.float32)})
    graph = import_onnx(path)
    weight = graph.tensors["w"]
    assert weight.nbytes == 64 * 32 // 2 and graph.consumers("w")[0].op.value == "CAST"


def test_blocked_quantize_refuses_a_partial_block(tmp_path: Path) -> None:
    from edgesim.errors import ModelError
    from edgesim.frontends.onnx_import import import_onnx

    s = numpy_helper.from_array(np.ones((2, 3), np.float32), "s")
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s"], ["q"], axis=0, block_size=4,
                                            output_dtype=T.INT8)], "q",
                          [helper.make_tensor_value_info("x", T.FLOAT, [6, 3])],
                          [helper.make_tensor_value_info("q", T.INT8, [6, 3])], [s])
    path = tmp_path / "q.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), str(path))
    with pytest.raises(ModelError, match="partial last block"):
        import_onnx(path)
