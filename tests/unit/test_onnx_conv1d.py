"""1-D Conv / ConvTranspose (run as 2-D with H=1): constant and run-time weights against ONNX's reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper


@pytest.mark.parametrize(("op", "const_w"), [("ConvTranspose", True), ("ConvTranspose", False), ("Conv", False)])
def test_conv1d_matches_reference(tmp_path: Path, op: str, const_w: bool) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    rng = np.random.default_rng(1)
    w_shape = (3, 2, 4) if op == "ConvTranspose" else (2, 3, 4)
    w = rng.standard_normal(w_shape).astype(np.float32)
    extra = {"output_padding": [1]} if op == "ConvTranspose" else {}
    node = helper.make_node(op, ["x", "w"], ["y"], strides=[2], pads=[1, 2], **extra)
    inputs = [helper.make_tensor_value_info("x", T.FLOAT, [1, 3, 9])]
    inits = [numpy_helper.from_array(w, "w")] if const_w else []
    if not const_w:
        inputs.append(helper.make_tensor_value_info("w", T.FLOAT, list(w_shape)))
    g = helper.make_graph([node], "c", inputs, [helper.make_tensor_value_info("y", T.FLOAT, None)], inits)
    path = tmp_path / "c.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    feeds = {"x": rng.standard_normal((1, 3, 9)).astype(np.float32)}
    if not const_w:
        feeds["w"] = w
    want = ReferenceEvaluator(str(path)).run(None, feeds)[0]
    graph = import_onnx(path)
    got = run_float(graph, feeds)[graph.outputs[0]]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
