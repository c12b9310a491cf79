"""RoiAlign: float execution against ONNX's reference on random rois (some partly off the map), and cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper


def _model(path: Path, mode: str, ctm: str, ratio: int, n_rois: int = 6) -> None:
    node = helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], mode=mode, output_height=3, output_width=4,
                            sampling_ratio=ratio, spatial_scale=0.5, coordinate_transformation_mode=ctm)
    g = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", T.FLOAT, [2, 3, 12, 10]),
                                        helper.make_tensor_value_info("rois", T.FLOAT, [n_rois, 4]),
                                        helper.make_tensor_value_info("idx", T.INT64, [n_rois])],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)]), str(path))


@pytest.mark.parametrize(("mode", "ctm", "ratio"), [("avg", "half_pixel", 0), ("avg", "output_half_pixel", 2),
                                                    ("max", "half_pixel", 2), ("max", "output_half_pixel", 0)])
def test_roi_align_matches_reference(tmp_path: Path, mode: str, ctm: str, ratio: int) -> None:
    from onnx.reference import ReferenceEvaluator

    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float

    path = tmp_path / "roi.onnx"
    _model(path, mode, ctm, ratio)
    rng = np.random.default_rng(11)
    corner = rng.uniform(-4, 20, (6, 2))
    rois = np.concatenate([corner, corner + rng.uniform(0.5, 14, (6, 2))], axis=1).astype(np.float32)
    feeds = {"x": rng.standard_normal((2, 3, 12, 10)).astype(np.float32), "rois": rois,
             "idx": rng.integers(0, 2, 6).astype(np.int64)}
    graph = import_onnx(path)
    got = run_float(graph, feeds)[graph.outputs[0]]
    want = ReferenceEvaluator(str(path)).run(None, feeds)[0]
    assert got.shape == want.shape == (6, 3, 3, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_roi_align_costs_on_cpu_and_npu_profiles(tmp_path: Path) -> None:
    from edgesim.api import estimate, load_profile
    from edgesim.frontends.onnx_import import import_onnx

    path = tmp_path / "roi.onnx"
    _model(path, "avg", "half_pixel", 2, n_rois=100)
    graph = import_onnx(path)
    for hw in ("rpi5", "ethos-u55-128"):
        assert estimate(graph, load_profile(hw)).latency_s > 0


def test_batch_index_out_of_range_is_an_error_and_calibration_uses_zero(tmp_path: Path) -> None:
    from edgesim.errors import EdgesimError
    from edgesim.frontends.onnx_import import import_onnx
    from edgesim.passes.float_exec import run_float, synthetic_inputs

    path = tmp_path / "roi.onnx"
    _model(path, "avg", "half_pixel", 2, n_rois=2)
    graph = import_onnx(path)
    feeds = {"x": np.ones((2, 3, 12, 10), np.float32), "rois": np.array([[0, 0, 4, 4]] * 2, np.float32),
             "idx": np.array([0, 2], np.int64)}
    with pytest.raises(EdgesimError, match="batch index 2 is outside 0..1"):
        run_float(graph, feeds)
    sample = synthetic_inputs(graph, 1)[0]
    assert not sample["idx"].any() and sample["x"].std() > 0.5
    assert run_float(graph, sample)[graph.outputs[0]].shape == (2, 3, 3, 4)
