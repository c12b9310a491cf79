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
