"""NonMaxSuppression: import, float execution against ONNX's reference on random boxes, cost, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper


def _model(path: Path, n_boxes: int, classes: int, center: int = 0, consumer: bool = False) -> None:
    inits = [numpy_helper.from_array(np.array([5], np.int64), "max_out"),
             numpy_helper.from_array(np.array([0.4], np.float32), "iou"),
             numpy_helper.from_array(np.array([0.2], np.float32), "score")]
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "score"], ["sel"],
                              center_point_box=center)]
    out = "sel"
    if consumer:
        nodes.append(helper.make_node("Identity", ["sel"], ["sel2"]))
        out = "sel2"
    g = helper.make_graph(nodes, "nms", [helper.make_tensor_value_info("boxes", T.FLOAT, [2, n_boxes, 4]),
                                         helper.make_tensor_value_info("scores", T.FLOAT, [2, classes, n_boxes])],
                          [helper.make_tensor_value_info(out, T.INT64, [None, 3])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    corner = rng.uniform(0, 10, (2, n, 2)).astype(np.float32)
    size = rng.uniform(0.5, 4, (2, n, 2)).astype(np.float32)
    return np.concatenate([corner, corner + size], axis=2)  # (y1, x1, y2, x2) and (x, y, w, h) alike


@pytest.mark.parametrize("center", [0, 1])
def test_nms_matches_onnx_reference_on_random_boxes(tmp_path: Path, center: int) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    path = tmp_path / "nms.onnx"
    _model(path, 60, 3, center)
    graph = import_onnx(path)
    out = graph.tensors[graph.outputs[0]]
    assert out.shape == (2 * 3 * 5, 3)  # the static upper bound: batches * classes * max boxes per class
    rng = np.random.default_rng(7)
    for _ in range(3):
        feeds = {"boxes": _boxes(rng, 60), "scores": rng.uniform(0, 1, (2, 3, 60)).astype(np.float32)}
        want = ReferenceEvaluator(str(path)).run(None, feeds)[0]
        got = run_float(graph, feeds)[graph.outputs[0]]
        assert 0 < len(want) <= out.shape[0]
        np.testing.assert_array_equal(got, want)


def test_nms_cost_grows_with_the_box_count(tmp_path: Path) -> None:
    from edgesim.api import estimate, load_profile
    from edgesim.frontends.onnx_import import import_onnx

    prof = load_profile("rpi5")
    lat = []
    for n in (100, 2000):
        path = tmp_path / f"nms{n}.onnx"
        _model(path, n, 4)
        lat.append(estimate(import_onnx(path), prof).latency_s)
    assert 0 < lat[0] < lat[1]


def test_nms_with_a_consumer_is_refused(tmp_path: Path) -> None:
    from edgesim.errors import ModelError
    from edgesim.frontends.onnx_import import import_onnx

    path = tmp_path / "nms_used.onnx"
    _model(path, 10, 1, consumer=True)
    with pytest.raises(ModelError, match="row count is known only at run time"):
        import_onnx(path)


def test_nms_exports_and_reimports(tmp_path: Path) -> None:
    from edgesim.frontends.onnx_export import export_onnx
    from edgesim.frontends.onnx_import import import_onnx

    path = tmp_path / "nms.onnx"
    _model(path, 20, 2, center=1)
    graph = import_onnx(path)
    back = tmp_path / "back.onnx"
    export_onnx(graph, back)
    again = import_onnx(back)
    node = next(n for n in again.nodes if n.op.value == "NON_MAX_SUPPRESSION")
    assert node.attrs == next(n for n in graph.nodes if n.op.value == "NON_MAX_SUPPRESSION").attrs


def test_quantized_detector_with_nms_reports_accuracy_without_comparing_indices(tmp_path: Path) -> None:
    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.accuracy import accuracy_report
    from edgesim.passes.float_exec import synthetic_inputs
    from edgesim.passes.quantize import QuantSpec, quantize_graph

    path = tmp_path / "nms.onnx"
    _model(path, 40, 3)
    graph = import_onnx(path)
    q = quantize_graph(graph, QuantSpec())
    rep = accuracy_report(graph, q, synthetic_inputs(graph, 3))
    assert rep.output_sqnr_db == {} and "n/a" in rep.summary()
