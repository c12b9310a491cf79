"""Resize with antialias and tf_crop_and_resize against ONNX's reference evaluator on random inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper


def _run_both(path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    graph = import_onnx(path)
    got = run_float(graph, {"x": x})[graph.outputs[0]]
    return got, ReferenceEvaluator(str(path)).run(None, {"x": x})[0]


def _save(path: Path, node: onnx.NodeProto, inits: list[onnx.TensorProto], in_shape: list[int]) -> None:
    g = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", T.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)]), str(path))


@pytest.mark.parametrize(("mode", "scales", "exclude"), [("linear", (0.6, 0.35), 0), ("cubic", (0.45, 0.8), 1),
                                                         ("cubic", (0.7, 1.5), 0)])
def test_antialias_downscale(tmp_path: Path, mode: str, scales: tuple[float, float], exclude: int) -> None:
    path = tmp_path / "aa.onnx"
    sc = numpy_helper.from_array(np.array([1, 1, *scales], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode, antialias=1, exclude_outside=exclude)
    _save(path, node, [sc], [1, 2, 13, 11])
    x = np.random.default_rng(3).standard_normal((1, 2, 13, 11)).astype(np.float32)
    got, want = _run_both(path, x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    plain = tmp_path / "plain.onnx"
    _save(plain, helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode, exclude_outside=exclude), [sc],
          [1, 2, 13, 11])
    assert not np.allclose(got, _run_both(plain, x)[0])  # antialias changes the answer: it is not ignored


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_tf_crop_and_resize_with_extrapolation(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "crop.onnx"
    roi = numpy_helper.from_array(np.array([-0.2, 0.3, 0.9, 1.3], np.float32), "roi")  # partly outside
    sizes = numpy_helper.from_array(np.array([7, 5], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "roi", "", "sizes"], ["y"], mode=mode, axes=[2, 3],
                            coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-7.0)
    _save(path, node, [roi, sizes], [1, 3, 9, 8])
    x = np.random.default_rng(4).standard_normal((1, 3, 9, 8)).astype(np.float32)
    got, want = _run_both(path, x)
    assert (want == -7.0).any() and got.shape == (1, 3, 7, 5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
