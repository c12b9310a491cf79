"""BatchNormalization with training_mode=1 normalises by the batch's statistics (not the running ones)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper


@pytest.mark.parametrize("outputs", [1, 3])
def test_training_batch_norm_matches_reference(tmp_path: Path, outputs: int) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    rng = np.random.default_rng(9)
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in
             (("s", rng.uniform(0.5, 2, 4)), ("b", rng.standard_normal(4)), ("m", rng.standard_normal(4)),
              ("v", rng.uniform(0.5, 2, 4)))]
    names = ["y", "rm", "rv"][:outputs]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], names, training_mode=1,
                            momentum=0.8, epsilon=1e-3)
    g = helper.make_graph([node], "bn", [helper.make_tensor_value_info("x", T.FLOAT, [3, 4, 5, 2])],
                          [helper.make_tensor_value_info(k, T.FLOAT, None) for k in names], inits)
    path = tmp_path / "bn.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)]), str(path))
    x = (rng.standard_normal((3, 4, 5, 2)) * 3 + 1).astype(np.float32)
    graph = import_onnx(path)
    got = run_float(graph, {"x": x})
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})
    for name, w in zip(graph.outputs, want, strict=True):
        np.testing.assert_allclose(got[name], w, rtol=1e-4, atol=1e-5)
