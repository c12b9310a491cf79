"""Float executor and operator fusion (BN folding, activation fusion)."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim import zoo
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor
from edgesim.passes.float_exec import run_float, synthetic_inputs
from edgesim.passes.fusion import fuse_operators, fusion_report
from edgesim.passes.pipeline import run_pipeline
from tests.conftest import DATA

SHARED = DATA


def _naive_conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int, groups: int) -> np.ndarray:
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[0, g * cg:(g + 1) * cg, i * stride:i * stride + kh, j * stride:j * stride + kw]
                out[0, oc, i, j] = np.sum(patch * w[oc])
    return out


@pytest.mark.parametrize("groups,stride,layout", [(1, 1, A.Layout.NCHW), (2, 2, A.Layout.NCHW),
                                                  (4, 1, A.Layout.NCHW), (1, 2, A.Layout.NHWC)])
def test_conv_matches_naive(groups: int, stride: int, layout: A.Layout) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, 7, 6)).astype(np.float32)
    cout = 4 if groups == 4 else 6
    w = rng.standard_normal((cout, 4 // groups, 3, 3)).astype(np.float32)
    op = OpKind.DEPTHWISE_CONV2D if groups == 4 else OpKind.CONV2D
    attrs = A.ConvAttrs((3, 3), (stride, stride), padding=A.Padding(1, 1, 1, 1), groups=groups, layout=layout)
    xin, win = x, w
    if layout is A.Layout.NHWC:
        xin, win = x.transpose(0, 2, 3, 1), w.transpose(0, 2, 3, 1)
    ref = _naive_conv(x, w, stride, 1, groups)
    out_shape = ref.shape if layout is A.Layout.NCHW else ref.transpose(0, 2, 3, 1).shape
    tensors = {"x": Tensor("x", xin.shape, DType.FP32), "w": Tensor("w", win.shape, DType.FP32, data=win),
               "y": Tensor("y", out_shape, DType.FP32)}
    g = Graph.build("t", [Node("c", op, ("x", "w"), ("y",), attrs)], tensors, ["x"], ["y"])
    y = run_float(g, {"x": xin})["y"]
    if layout is A.Layout.NHWC:
        y = y.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def _randomize_bn(g: Graph, seed: int = 0) -> Graph:
    """Zoo BNs are identities; give them real statistics so folding is actually exercised."""
    rng = np.random.default_rng(seed)
    tensors = dict(g.tensors)
    for n in g.nodes:
        if n.op is OpKind.BATCH_NORM:
            c = g.tensors[n.inputs[1]].shape[0]
            vals = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), rng.normal(0, 0.2, c), rng.uniform(0.5, 2, c)]
            for name, v in zip(n.inputs[1:5], vals, strict=True):
                tensors[name] = tensors[name].with_data(v.astype(np.float32))
    return g.rebuild(tensors=tensors)


@pytest.mark.parametrize("model,res", [("resnet8", 32), ("mobilenet_v2", 48), ("ds_cnn", None),
                                       ("mobilenet_v3_small", 48)])
def test_fusion_removes_bn_and_activations_and_preserves_outputs(model: str, res: int | None) -> None:
    g = _randomize_bn(zoo.build(model, resolution=res) if res else zoo.build(model))
    f = run_pipeline(g, [fuse_operators])
    counts = f.op_counts()
    assert "BATCH_NORM" not in counts
    assert counts.get("RELU", 0) == 0 and counts.get("CLIP", 0) == 0
    assert len(f.nodes) < len(g.nodes)
    x = synthetic_inputs(g, 1, seed=3)[0]
    a, b = run_float(g, x), run_float(f, x)
    for k in g.outputs:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-3, atol=1e-4 * float(np.abs(a[k]).max()))
    rep = fusion_report(g, f)
    assert rep.nodes_before - rep.nodes_after == sum(len(gr.fused_from) - 1 for gr in rep.groups)
    assert rep.saved_bytes > 0
    conv = next(n for n in f.nodes if n.op is OpKind.CONV2D and len(n.fused_from) == 3)
    assert conv.attrs.activation is not A.Activation.NONE


def test_fusion_keeps_shared_intermediates() -> None:
    """A conv output read by two nodes (or a graph output) must not be fused away."""
    g = zoo.build("resnet8")
    conv = next(n for n in g.nodes if n.op is OpKind.CONV2D)
    bn = g.consumers(conv.outputs[0])[0]
    g2 = g.rebuild(outputs=(*g.outputs, conv.outputs[0]))
    f = fuse_operators(g2)
    assert bn.name in {n.name for n in f.nodes}


def test_float_exec_runs_int8_tflite() -> None:
    path = SHARED / "models" / "vww_96_int8.tflite"
    if not path.exists():
        pytest.skip("shared models absent")
    from edgesim.frontends.tflite_import import import_tflite

    g = import_tflite(path)
    x = {n: np.random.default_rng(0).uniform(-1, 1, g.tensors[n].shape).astype(np.float32) for n in g.inputs}
    out = run_float(g, x)[g.outputs[0]]
    assert np.isfinite(out).all()
    assert abs(float(out.sum()) - 1.0) < 0.05  # softmax output, on the int8 grid

