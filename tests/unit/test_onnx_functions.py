"""Ops defined as ONNX functions import as their function body (plain and context-dependent bodies)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper


def _run(path: Path, feeds: dict[str, np.ndarray]) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    graph = import_onnx(path)
    assert all(n.op.value != "SwiGLU" for n in graph.nodes)
    got = run_float(graph, feeds)[graph.outputs[0]]
    want = ReferenceEvaluator(str(path)).run(None, feeds)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_plain_function_body_swiglu(tmp_path: Path) -> None:
    g = helper.make_graph([helper.make_node("SwiGLU", ["a", "b"], ["y"])], "s",
                          [helper.make_tensor_value_info(k, T.FLOAT, [3, 8]) for k in "ab"],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)])
    path = tmp_path / "swiglu.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 28)]), str(path))
    rng = np.random.default_rng(0)
    _run(path, {k: rng.standard_normal((3, 8)).astype(np.float32) for k in "ab"})


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_context_dependent_body_nll_loss(tmp_path: Path, reduction: str) -> None:
    node = helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], reduction=reduction)
    g = helper.make_graph([node], "n", [helper.make_tensor_value_info("x", T.FLOAT, [4, 5]),
                                        helper.make_tensor_value_info("t", T.INT64, [4])],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)])
    path = tmp_path / "nll.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 22)]), str(path))
    rng = np.random.default_rng(1)
    _run(path, {"x": rng.standard_normal((4, 5)).astype(np.float32), "t": np.array([0, 3, 4, 1], np.int64)})


def test_fold_only_op_with_a_runtime_input_names_it_and_binds(tmp_path: Path) -> None:
    from edgesim.frontends.onnx_ctx import NeedsConstantError
    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    g = helper.make_graph([helper.make_node("Range", ["a", "n", "d"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])],
                          "r", [helper.make_tensor_value_info(k, T.FLOAT, [5] if k == "x" else []) for k in "xand"],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)])
    path = tmp_path / "range.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(NeedsConstantError) as e:
        import_onnx(path)
    assert e.value.input_name == "a" and "Range needs a constant input 'a'" in str(e.value)
    bound = {"a": np.array(1.0, np.float32), "n": np.array(6.0, np.float32), "d": np.array(1.0, np.float32)}
    graph = import_onnx(path, bind=bound)
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(run_float(graph, {"x": x})[graph.outputs[0]], x + np.arange(1, 6))
