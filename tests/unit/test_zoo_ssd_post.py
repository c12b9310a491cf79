"""SSD post-processing in the zoo graphs (box decode, sigmoid scores, per-class NMS): graph, numerics, cost, placement."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim.errors import EdgesimError
from edgesim.ir.ops import OpKind
from edgesim.ir.work import graph_macs, node_elementwise_ops
from edgesim.passes.float_exec import run_float
from edgesim.zoo import build
from edgesim.zoo.builder import GraphBuilder
from edgesim.zoo.ssd_post import (
    SSD_MOBILENET_V1_POST,
    SSD_MOBILENET_V2_POST,
    SSDLITE_MOBILENET_V2_POST,
    decode_boxes,
    ssd_anchors,
)


def _nms(g):  # type: ignore[no-untyped-def]
    return next(n for n in g.nodes if n.op is OpKind.NON_MAX_SUPPRESSION)


@pytest.mark.parametrize("name, cfg", [("ssd_mobilenet_v1", SSD_MOBILENET_V1_POST),
                                       ("ssd_mobilenet_v2", SSDLITE_MOBILENET_V2_POST),
                                       ("ssd_mobilenet_v2_coco", SSD_MOBILENET_V2_POST)])
def test_graph_ends_in_nms_over_the_foreground_classes(name: str, cfg: object) -> None:
    g = build(name)
    node = _nms(g)
    boxes, scores = (g.tensors[i] for i in node.inputs)
    assert boxes.shape == (1, 1917, 4) and scores.shape == (1, 90, 1917)  # background class dropped
    assert node.attrs.max_boxes_per_class == 100 and node.attrs.iou_threshold == 0.6
    assert node.attrs.score_threshold == cfg.score_threshold  # type: ignore[attr-defined]
    assert list(g.outputs) == [node.outputs[0]]
    assert any(n.op is OpKind.SIGMOID for n in g.nodes) and any(n.op is OpKind.EXP for n in g.nodes)
    bare = build(name, postprocess=0)
    assert graph_macs(bare) == graph_macs(g)  # decode and NMS are elementwise/compare work, no MACs
    assert [bare.tensors[o].shape for o in bare.outputs] == [(1, 1917, 4), (1, 1917, 91)]


def test_postprocess_option_is_checked() -> None:
    with pytest.raises(EdgesimError, match="0 or 1"):
        build("ssd_mobilenet_v1", postprocess=2)


def test_anchors_follow_create_ssd_anchors() -> None:
    a = ssd_anchors([(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)])
    assert a.shape == (1917, 4)
    np.testing.assert_allclose(a[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1], rtol=1e-6)
    # second box of the first cell: scale 0.2 at aspect 2 -> h = 0.2 / sqrt(2), w = 0.2 * sqrt(2)
    np.testing.assert_allclose(a[1, 2:], [0.2 / np.sqrt(2), 0.2 * np.sqrt(2)], rtol=1e-6)
    # the last anchor: 1x1 map, interpolated scale sqrt(0.95 * 1.0) at 1:1, centred
    np.testing.assert_allclose(a[-1], [0.5, 0.5, np.sqrt(0.95), np.sqrt(0.95)], rtol=1e-6)


def test_decode_matches_the_faster_rcnn_box_coder() -> None:
    rng = np.random.default_rng(1)
    anchors = np.abs(rng.standard_normal((7, 4))).astype(np.float32)
    b = GraphBuilder("decode")
    enc = b.input("enc", (1, 7, 4))
    g = b.build([decode_boxes(b, enc, anchors, SSD_MOBILENET_V1_POST)])
    t = rng.standard_normal((1, 7, 4)).astype(np.float32)
    got = run_float(g, {"enc": t})[g.outputs[0]][0]
    yc = t[0, :, 0] / 10 * anchors[:, 2] + anchors[:, 0]
    xc = t[0, :, 1] / 10 * anchors[:, 3] + anchors[:, 1]
    h, w = np.exp(t[0, :, 2] / 5) * anchors[:, 2], np.exp(t[0, :, 3] / 5) * anchors[:, 3]
    want = np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, shape", [("ssd_mobilenet_v2", (1, 3, 96, 96)), ("efficientdet_d0", (1, 3, 128, 128))])
def test_exported_graph_selects_the_same_boxes_as_onnxruntime(name: str, shape: tuple[int, ...]) -> None:
    import onnxruntime as ort

    from edgesim.frontends.onnx_export import to_onnx_model

    g = build(name, input_shape=shape)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    sess = ort.InferenceSession(to_onnx_model(g).SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {g.inputs[0]: x})[0]
    ref = run_float(g, {g.inputs[0]: x})[g.outputs[0]]
    assert 0 < len(got) <= g.tensors[g.outputs[0]].shape[0]
    assert {tuple(r) for r in got.tolist()} == {tuple(r) for r in np.asarray(ref).tolist()}


def test_nms_cost_is_a_score_filter_plus_kept_boxes_squared() -> None:
    g = build("ssd_mobilenet_v1")
    ops = node_elementwise_ops(g, _nms(g))
    n, c, k = 1917, 90, 100
    assert ops == c * (n + n * 7 + 12 * k * (k - 1) // 2)  # log2(100) -> 7 compares per heap insertion
    # fewer kept boxes: the quadratic suppression term shrinks, the per-box filter stays
    small = build("ssd_mobilenet_v1", num_classes=11)
    assert node_elementwise_ops(small, _nms(small)) * 9 == ops
    # a detection threshold (ssdlite's 0.3, EfficientDet's 0.2): at most K boxes per class reach the heap
    lite = build("ssd_mobilenet_v2")
    assert node_elementwise_ops(lite, _nms(lite)) == c * (n + k * 7 + 12 * k * (k - 1) // 2)
    eff = build("efficientdet_d0")
    assert node_elementwise_ops(eff, _nms(eff)) == 90 * (49104 + k * 7 + 12 * k * (k - 1) // 2)


def test_nms_placement_follows_the_runtime_op_support() -> None:
    from edgesim.api import estimate

    def nms_layer(hw: str, runtime: str, quant: str):  # type: ignore[no-untyped-def]
        est = estimate(build("ssd_mobilenet_v1", input_shape=(1, 3, 96, 96)), hw, runtime, quant=quant)
        return next(layer for layer in est.layers if layer.op == "NON_MAX_SUPPRESSION"), est.latency_s

    # OpenVINO NPU: the DetectionOutput runs as a SHAVE software kernel (the NCE MAC arrays do not list it)
    shave, _ = nms_layer("core-ultra-7-165h", "openvino-npu", "int8")
    assert shave.unit == "shave" and not shave.fallback
    # The Myriad X plugin's op list has no NMS: the host runs it, marked as a fallback
    host, _ = nms_layer("ncs2", "openvino-myriad", "fp16")
    assert host.fallback and host.compute_cycles > 0
    bare = estimate(build("ssd_mobilenet_v1", input_shape=(1, 3, 96, 96), postprocess=0), "core-ultra-7-165h",
                    "openvino-npu", quant="int8")
    assert nms_layer("core-ultra-7-165h", "openvino-npu", "int8")[1] > bare.latency_s


def test_decode_ops_fuse_into_the_nms_layer() -> None:
    from edgesim.api import estimate
    from edgesim.mapping.detect_fusion import postprocess_cone

    g = build("ssd_mobilenet_v1", input_shape=(1, 3, 96, 96))
    cone = postprocess_cone(g, _nms(g))
    ops = {next(n for n in g.nodes if n.name == c).op for c in cone}
    assert {OpKind.MUL, OpKind.ADD, OpKind.SUB, OpKind.EXP, OpKind.SPLIT, OpKind.CONCAT} <= ops
    assert not ops & {OpKind.CONV2D, OpKind.RESHAPE}  # the heads and their flattening stay separate layers
    est = estimate(g, "core-ultra-7-165h", "openvino-gpu", quant="int8")
    nms = next(layer for layer in est.layers if layer.op == "NON_MAX_SUPPRESSION")
    decode = {c for c in cone if next(n for n in g.nodes if n.name == c).op in (OpKind.MUL, OpKind.SUB, OpKind.EXP)}
    assert len(decode) == 5 and decode <= set(nms.fused_from)
    assert not any(layer.op in ("EXP", "SUB") for layer in est.layers)  # one dispatch, not one per decode op
    # the decode's arithmetic stays in the fused layer's work
    bare = next(layer for layer in estimate(build("ssd_mobilenet_v1", input_shape=(1, 3, 96, 96), num_classes=2),
                                            "core-ultra-7-165h", "openvino-gpu", quant="int8").layers
                if layer.op == "NON_MAX_SUPPRESSION")
    assert bare.compute_cycles < nms.compute_cycles


def test_efficientdet_ends_in_the_omz_detection_output() -> None:
    # OMZ efficientdet-d0-tf (the model of OpenVINO's benchmark tables): Sigmoid + DetectionOutput over every
    # prior and all 90 classes (no background class), top_k 100, nms 0.6, confidence 0.2 (automl_efficientdet.json)
    g = build("efficientdet_d0", input_shape=(1, 3, 128, 128))
    node = _nms(g)
    boxes, scores = (g.tensors[i] for i in node.inputs)
    n = 9 * (16 * 16 + 8 * 8 + 4 * 4 + 2 * 2 + 1)
    assert boxes.shape == (1, n, 4) and scores.shape == (1, 90, n)
    assert (node.attrs.max_boxes_per_class, node.attrs.iou_threshold, node.attrs.score_threshold) == (100, 0.6, 0.2)
    assert not any(x.op is OpKind.SLICE for x in g.nodes)  # no background class to drop
    bare = build("efficientdet_d0", input_shape=(1, 3, 128, 128), postprocess=0)
    assert graph_macs(bare) == graph_macs(g)
    assert [bare.tensors[o].shape for o in bare.outputs] == [(1, n, 4), (1, n, 90)]
    with pytest.raises(EdgesimError, match="0 or 1"):
        build("efficientdet_d0", postprocess=2)


def test_efficientdet_anchors_follow_the_priorbox_clustered_generator() -> None:
    from edgesim.zoo.ssd_post import effdet_anchors

    a = effdet_anchors([(64, 64), (32, 32), (16, 16), (8, 8), (4, 4)], (512, 512))
    assert a.shape == (49104, 4)
    # level 3: base 4 * 2^3 = 32 px; first box scale 1, aspect (1, 1), in the first cell's centre
    np.testing.assert_allclose(a[0], [0.5 / 64, 0.5 / 64, 32 / 512, 32 / 512], rtol=1e-6)
    # second box: aspect (w 1.4, h 0.7); ninth: scale 2^(2/3), aspect (0.7, 1.4)
    np.testing.assert_allclose(a[1, 2:], [32 * 0.7 / 512, 32 * 1.4 / 512], rtol=1e-6)
    np.testing.assert_allclose(a[8, 2:], [32 * 2 ** (2 / 3) * 1.4 / 512, 32 * 2 ** (2 / 3) * 0.7 / 512], rtol=1e-6)
    # the last anchor: level 7 (base 512 px) in the centre cell of the 4x4 map's last cell
    np.testing.assert_allclose(a[-1, :2], [3.5 / 4, 3.5 / 4], rtol=1e-6)
