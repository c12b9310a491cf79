"""3-D and dilated MaxPool / AveragePool against ONNX's reference evaluator on random inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper

CASES = [  # op, in shape, kernel, strides, pads, dilations, ceil_mode, count_include_pad
    ("MaxPool", (1, 2, 7, 9, 8), (3, 2, 3), (2, 1, 2), (1, 0, 1, 1, 1, 0), (1, 2, 1), 0, 0),
    ("MaxPool", (2, 1, 6, 6, 7), (2, 3, 2), (2, 2, 3), (0, 1, 0, 0, 1, 1), (2, 1, 1), 1, 0),
    ("AveragePool", (1, 2, 7, 9, 8), (3, 2, 3), (2, 1, 2), (1, 0, 1, 1, 1, 0), (1, 1, 1), 0, 0),
    ("AveragePool", (1, 3, 6, 8, 7), (2, 3, 3), (2, 2, 2), (1, 1, 1, 0, 1, 1), (1, 1, 1), 1, 1),
    ("AveragePool", (1, 2, 8, 7, 9), (2, 2, 3), (1, 2, 2), (0, 1, 1, 1, 0, 1), (2, 2, 1), 0, 1),
    ("MaxPool", (1, 2, 11, 10), (3, 2), (2, 1), (1, 1, 1, 0), (2, 3), 1, 0),
    ("AveragePool", (1, 2, 11, 10), (3, 2), (2, 2), (1, 0, 1, 1), (2, 2), 0, 0),
]


@pytest.mark.parametrize(("op", "shape", "kernel", "strides", "pads", "dil", "ceil", "cip"), CASES)
def test_pool_matches_reference(tmp_path: Path, op: str, shape: tuple[int, ...], kernel: tuple[int, ...],
                                strides: tuple[int, ...], pads: tuple[int, ...], dil: tuple[int, ...], ceil: int,
                                cip: int) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    extra = {"count_include_pad": cip} if op == "AveragePool" else {}
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=list(kernel), strides=list(strides), pads=list(pads),
                            dilations=list(dil), ceil_mode=ceil, **extra)
    g = helper.make_graph([node], "p", [helper.make_tensor_value_info("x", T.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)])
    path = tmp_path / "pool.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})[0]
    graph = import_onnx(path)
    assert graph.tensors[graph.outputs[0]].shape == want.shape
    got = run_float(graph, {"x": x})[graph.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("pads", "dil", "ceil"), [((0, 0, 0, 0), (1, 1), 0), ((1, 0, 1, 1), (2, 1), 1)])
def test_maxpool_indices_match_reference(tmp_path: Path, pads: tuple[int, ...], dil: tuple[int, int],
                                         ceil: int) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 2], strides=[2, 2], pads=list(pads),
                            dilations=list(dil), ceil_mode=ceil)
    g = helper.make_graph([node], "p", [helper.make_tensor_value_info("x", T.FLOAT, [2, 3, 9, 8])],
                          [helper.make_tensor_value_info("y", T.FLOAT, None),
                           helper.make_tensor_value_info("i", T.INT64, None)])
    path = tmp_path / "mp.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)]), str(path))
    x = np.random.default_rng(6).standard_normal((2, 3, 9, 8)).astype(np.float32)
    x[0, 0, :2, :2] = 1.5  # a tie: the first maximum in row-major window order wins
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})
    graph = import_onnx(path)
    got = run_float(graph, {"x": x})
    for name, w in zip(graph.outputs, want, strict=True):
        np.testing.assert_array_equal(got[name], w)
