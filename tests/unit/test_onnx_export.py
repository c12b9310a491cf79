"""ONNX export: every zoo model validates, QDQ form for quantized graphs, atomic writes, import round trip."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator

from edgesim.errors import EdgesimError, ModelError
from edgesim.frontends.onnx_export import export_onnx, exportable_ops, to_onnx_model
from edgesim.ir import DType, Graph, Node, OpKind, QuantParams, Tensor, verify_graph
from edgesim.ir import attrs as A
from edgesim.ir.work import graph_macs, graph_params
from edgesim.zoo import build, names
from edgesim.zoo.published import PUBLISHED
from tests.conftest import DATA

SHARED = DATA


def _import_onnx():  # type: ignore[no-untyped-def]
    try:
        from edgesim.frontends.onnx_import import import_onnx
    except ImportError as err:
        pytest.skip(f"edgesim.frontends.onnx_import is not importable yet ({err})")
    return import_onnx


def quantized_graph(quantized_output: bool = False) -> Graph:
    """QUANTIZE -> int8 conv (per-channel weights, int32 bias) -> relu -> mean -> reshape -> FC -> DEQUANTIZE."""
    rng = np.random.default_rng(0)
    sx, sw = 0.05, np.linspace(0.01, 0.04, 4)
    q = QuantParams((0.1,), (3,))
    t = {
        "x": Tensor("x", (1, 3, 8, 8), DType.FP32),
        "xq": Tensor("xq", (1, 3, 8, 8), DType.INT8, QuantParams((sx,), (-2,))),
        "w": Tensor("w", (4, 3, 3, 3), DType.INT8, QuantParams(tuple(sw), (0,) * 4, 0),
                    rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)),
        "b": Tensor("b", (4,), DType.INT32, QuantParams(tuple(sx * sw), (0,) * 4, 0),
                    rng.integers(-500, 500, 4).astype(np.int32)),
        "y": Tensor("y", (1, 4, 8, 8), DType.INT8, q),
        "r": Tensor("r", (1, 4, 8, 8), DType.INT8, q),
        "m": Tensor("m", (1, 4, 1, 1), DType.INT8, q),
        "p": Tensor("p", (1, 4), DType.INT8, q),
        "fw": Tensor("fw", (5, 4), DType.INT8, QuantParams((0.02,), (0,)),
                     rng.integers(-127, 128, (5, 4)).astype(np.int8)),
        "fb": Tensor("fb", (5,), DType.INT32, QuantParams((0.002,), (0,)), rng.integers(-50, 50, 5).astype(np.int32)),
        "o": Tensor("o", (1, 5), DType.INT8, QuantParams((0.2,), (-1,))),
    }
    nodes = [
        Node("quant", OpKind.QUANTIZE, ("x",), ("xq",), A.QuantizeAttrs()),
        Node("conv", OpKind.CONV2D, ("xq", "w", "b"), ("y",),
             A.ConvAttrs((3, 3), padding=A.Padding(1, 1, 1, 1), layout=A.Layout.NCHW)),
        Node("relu", OpKind.RELU, ("y",), ("r",), A.NoAttrs()),
        Node("gap", OpKind.MEAN, ("r",), ("m",), A.ReduceAttrs((2, 3), True)),
        Node("flat", OpKind.RESHAPE, ("m",), ("p",), A.ReshapeAttrs((1, -1))),
        Node("fc", OpKind.FULLY_CONNECTED, ("p", "fw", "fb"), ("o",), A.FullyConnectedAttrs()),
    ]
    outputs = ["o"]
    if not quantized_output:
        t["out"] = Tensor("out", (1, 5), DType.FP32)
        nodes.append(Node("deq", OpKind.DEQUANTIZE, ("o",), ("out",), A.QuantizeAttrs()))
        outputs = ["out"]
    return verify_graph(Graph.build("qnet", nodes, t, ["x"], outputs))


def _norm_attrs(g: Graph, node: Node) -> object:
    """Attrs compared by meaning: floats at float32 (ONNX attribute precision), axes made non-negative, reshape
    targets resolved (their result shape is compared separately)."""
    attrs = node.attrs
    if not dataclasses.is_dataclass(attrs) or node.op is OpKind.RESHAPE:
        return None
    rank = len(g.tensors[node.inputs[0]].shape) if node.inputs and node.inputs[0] else 0
    values = {}
    for f in dataclasses.fields(attrs):
        v = getattr(attrs, f.name)
        if isinstance(v, float):
            v = float(np.float32(v))
        elif f.name == "axis" and isinstance(v, int) and rank:
            v %= rank
        values[f.name] = v
    return values


def assert_same_graph(a: Graph, b: Graph) -> None:
    assert [n.op for n in a.nodes] == [n.op for n in b.nodes]
    for na, nb in zip(a.nodes, b.nodes, strict=True):
        assert _norm_attrs(a, na) == _norm_attrs(b, nb), na.name
        assert len([i for i in na.inputs if i]) == len([i for i in nb.inputs if i]), na.name
        for ia, ib in zip(na.inputs, nb.inputs, strict=False):
            ta, tb = a.tensors[ia], b.tensors[ib]
            assert ta.shape == tb.shape and ta.dtype == tb.dtype, (na.name, ia, ib)
            assert (ta.quant is None) == (tb.quant is None), (na.name, ia)
            if ta.quant is not None and tb.quant is not None:
                np.testing.assert_allclose(ta.quant.scales, tb.quant.scales, rtol=1e-6)
                assert ta.quant.zero_points == tb.quant.zero_points
            if ta.is_const:
                assert tb.is_const and np.array_equal(ta.data, tb.data), (na.name, ia)
        for oa, ob in zip(na.outputs, nb.outputs, strict=True):
            assert a.tensors[oa].shape == b.tensors[ob].shape, (na.name, oa)
            assert a.tensors[oa].dtype == b.tensors[ob].dtype, (na.name, oa)


# The issue-17 vendor networks (YOLO, SSD, DeepLab, EfficientDet, BERT, ... up to 110 M parameters) are exported
# and run through onnxruntime at small inputs in tests/unit/test_zoo_networks.py.
CLASSIC = [n for n in names() if n not in PUBLISHED]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Graph, Path]]:
    d = tmp_path_factory.mktemp("zoo_onnx")
    out = {}
    for name in CLASSIC:
        g = build(name)
        path = d / f"{name}.onnx"
        export_onnx(g, path)
        out[name] = (g, path)
    return out


@pytest.mark.parametrize("name", CLASSIC)
def test_every_zoo_model_exports_and_validates(name: str, exported: dict) -> None:
    g, path = exported[name]
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)  # includes strict shape/type inference
    assert model.opset_import[0].version == 17
    graph_out = model.graph.output[0].type.tensor_type.shape.dim
    assert tuple(d.dim_value for d in graph_out) == g.tensors[g.outputs[0]].shape
    n_weights = sum(1 for t in g.tensors.values() if t.is_const)
    assert len(model.graph.initializer) >= n_weights


def test_op_mapping_of_key_ops(exported: dict) -> None:
    ops = lambda p: [n.op_type for n in onnx.load(str(p)).graph.node]  # noqa: E731
    mbv3 = onnx.load(str(exported["mobilenet_v3_large"][1]))
    types = [n.op_type for n in mbv3.graph.node]
    assert {"Conv", "BatchNormalization", "HardSwish", "HardSigmoid", "Mul", "ReduceMean", "Gemm"} <= set(types)
    dw = [n for n in mbv3.graph.node if n.op_type == "Conv" and n.name.startswith("dwconv")]
    assert dw and all(next(a.i for a in n.attribute if a.name == "group") > 1 for n in dw)
    gemm = next(n for n in mbv3.graph.node if n.op_type == "Gemm")
    assert next(a.i for a in gemm.attribute if a.name == "transB") == 1
    # ReduceMean takes axes as an attribute at opset 17 ...
    rm = next(n for n in mbv3.graph.node if n.op_type == "ReduceMean")
    assert len(rm.input) == 1 and any(a.name == "axes" for a in rm.attribute)
    # ... and as an input from opset 18.
    m18 = to_onnx_model(build("resnet8"), opset=18)
    rm18 = next(n for n in m18.graph.node if n.op_type == "ReduceMean")
    assert len(rm18.input) == 2 and not any(a.name == "axes" for a in rm18.attribute)
    clip = next(n for n in onnx.load(str(exported["mobilenet_v2"][1])).graph.node if n.op_type == "Clip")
    assert len(clip.input) == 3
    vit = ops(exported["vit_tiny"][1])
    assert {"LayerNormalization", "MatMul", "Softmax", "Split", "Slice", "Erf"} <= set(vit)


SMALL_RES = {"ds_cnn": None, "resnet8": None, "vit_tiny": 64}


@pytest.mark.parametrize("name", CLASSIC)
def test_zoo_weights_keep_activations_finite(name: str) -> None:
    """Seeded weights must give finite outputs (run through ONNX's reference evaluator at a small size)."""
    res = SMALL_RES.get(name, 96)
    g = build(name) if res is None else build(name, resolution=res)
    x = np.random.default_rng(0).standard_normal(g.tensors[g.inputs[0]].shape).astype(np.float32)
    (y,) = ReferenceEvaluator(to_onnx_model(g)).run(None, {g.inputs[0]: x})
    assert y.shape == g.tensors[g.outputs[0]].shape
    assert np.isfinite(y).all() and np.abs(y).max() < 1e6 and np.abs(y).max() > 0


def test_float_model_runs_in_onnx_reference(exported: dict) -> None:
    g, path = exported["resnet8"]
    sess = ReferenceEvaluator(str(path))
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    (y,) = sess.run(None, {g.inputs[0]: x})
    assert y.shape == (1, 10) and np.isfinite(y).all()


def _gelu_graph() -> Graph:
    t = {"x": Tensor("x", (2, 5), DType.FP32), "y": Tensor("y", (2, 5), DType.FP32),
         "z": Tensor("z", (2, 5), DType.FP32)}
    nodes = [Node("gelu", OpKind.GELU, ("x",), ("y",), A.GeluAttrs()),
             Node("gelu_t", OpKind.GELU, ("y",), ("z",), A.GeluAttrs("tanh"))]
    return Graph.build("gelu", nodes, t, ["x"], ["y", "z"])


@pytest.mark.parametrize("opset", [17, 20])
def test_gelu_decomposition_is_numerically_gelu(opset: int) -> None:
    if opset > onnx.defs.onnx_opset_version():
        pytest.skip(f"onnx {onnx.__version__} has no opset {opset}")
    model = to_onnx_model(_gelu_graph(), opset=opset)
    assert ("Gelu" in [n.op_type for n in model.graph.node]) == (opset >= 20)
    x = np.linspace(-4, 4, 10, dtype=np.float32).reshape(2, 5)
    y, z = ReferenceEvaluator(model).run(None, {"x": x})
    erf = np.vectorize(math.erf)
    ref_y = 0.5 * x * (1 + erf(x / math.sqrt(2)))
    ref_z = 0.5 * ref_y * (1 + np.tanh(math.sqrt(2 / math.pi) * (ref_y + 0.044715 * ref_y**3)))
    np.testing.assert_allclose(y, ref_y, atol=1e-5)
    np.testing.assert_allclose(z, ref_z, atol=1e-3)


@pytest.mark.parametrize("quantized_output", [False, True])
def test_quantized_graph_is_written_in_qdq_form(quantized_output: bool, tmp_path: Path) -> None:
    g = quantized_graph(quantized_output)
    path = tmp_path / "q.onnx"
    export_onnx(g, path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    inits = {i.name: i for i in model.graph.initializer}
    assert inits["w__q"].data_type == onnx.TensorProto.INT8
    assert inits["b__q"].data_type == onnx.TensorProto.INT32
    dq_w = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "w__q")
    assert next(a.i for a in dq_w.attribute if a.name == "axis") == 0
    assert list(onnx.numpy_helper.to_array(inits[dq_w.input[1]])) == pytest.approx(g.tensors["w"].quant.scales)
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    assert conv.input[1] == "w"  # the dequantized weight keeps its IR name
    types = [n.op_type for n in model.graph.node]
    # Every quantized activation between compute ops is a QuantizeLinear -> DequantizeLinear pair.
    assert types.count("QuantizeLinear") == 6
    out_type = model.graph.output[0].type.tensor_type.elem_type
    assert out_type == (onnx.TensorProto.INT8 if quantized_output else onnx.TensorProto.FLOAT)
    # The QDQ model runs (the reference evaluator implements QDQ from opset 19).
    x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
    (y,) = ReferenceEvaluator(to_onnx_model(g, opset=19)).run(None, {"x": x})
    assert y.shape == (1, 5) and np.isfinite(y.astype(np.float32)).all()


@pytest.mark.parametrize("quantized_output", [False, True])
def test_quantized_round_trip(quantized_output: bool, tmp_path: Path) -> None:
    import_onnx = _import_onnx()
    g = quantized_graph(quantized_output)
    export_onnx(g, tmp_path / "q.onnx")
    assert_same_graph(g, import_onnx(tmp_path / "q.onnx"))


@pytest.mark.parametrize("name", ["resnet8", "mobilenet_v3_small", "squeezenet", "ds_cnn", "mobilenet_v2"])
def test_zoo_round_trip(name: str, exported: dict) -> None:
    import_onnx = _import_onnx()
    g, path = exported[name]
    back = import_onnx(path)
    assert_same_graph(g, back)
    assert [n.name for n in back.nodes] == [n.name for n in g.nodes]


def test_vit_round_trip_at_opset_20(tmp_path: Path) -> None:
    import_onnx = _import_onnx()
    if onnx.defs.onnx_opset_version() < 20:
        pytest.skip("Gelu needs opset 20")
    g = build("vit_tiny", resolution=64)
    export_onnx(g, tmp_path / "vit.onnx", opset=20)
    assert_same_graph(g, import_onnx(tmp_path / "vit.onnx"))


def _misc_graph() -> Graph:
    """One graph touching the less common op mappings."""
    f = DType.FP32
    rng = np.random.default_rng(3)
    t = {n: Tensor(n, (), f) for n in "abcdefghijklmnopqrs"}
    t["x"] = Tensor("x", (1, 4, 6, 6), f)
    t["emb"] = Tensor("emb", (10, 6), f, data=rng.standard_normal((10, 6)).astype(np.float32))
    t["idx"] = Tensor("idx", (3,), DType.INT64, data=np.array([1, 4, 9], np.int64))
    t["w3"] = Tensor("w3", (8, 6), f, data=rng.standard_normal((8, 6)).astype(np.float32))
    t["slope"] = Tensor("slope", (1, 4, 1, 1), f, data=np.full((1, 4, 1, 1), 0.1, np.float32))
    nodes = [
        Node("pad", OpKind.PAD, ("x",), ("a",), A.PadAttrs(((0, 0), (0, 0), (1, 1), (1, 1)))),
        Node("avg", OpKind.AVG_POOL2D, ("a",), ("b",),
             A.PoolAttrs((2, 2), (2, 2), layout=A.Layout.NCHW, activation=A.Activation.RELU6)),
        Node("rsz", OpKind.RESIZE, ("b",), ("c",), A.ResizeAttrs((8, 8), "nearest", A.Layout.NCHW)),
        Node("lrelu", OpKind.LEAKY_RELU, ("c",), ("d",), A.LeakyReluAttrs(0.2)),
        Node("prelu", OpKind.PRELU, ("d", "slope"), ("e",), A.NoAttrs()),
        Node("sqd", OpKind.SQUARED_DIFFERENCE, ("e", "c"), ("f",), A.NoAttrs()),
        Node("max", OpKind.MAXIMUM, ("f", "e", "d"), ("g",), A.NoAttrs()),
        Node("rsq", OpKind.RSQRT, ("g",), ("h",), A.NoAttrs()),
        Node("sl", OpKind.SLICE, ("h",), ("i",), A.SliceAttrs((0, 0, 1, 0), (1, 4, 7, 6), (1, 1, 2, 1))),
        Node("sp", OpKind.SPLIT, ("i",), ("j", "k"), A.SplitAttrs(1, (1, 3))),
        Node("cat", OpKind.CONCAT, ("k", "j"), ("l",), A.ConcatAttrs(1)),
        Node("tr", OpKind.TRANSPOSE, ("l",), ("m",), A.TransposeAttrs((0, 2, 3, 1))),
        Node("rs", OpKind.RESHAPE, ("m",), ("n",), A.ReshapeAttrs((1, -1, 4))),
        Node("mm", OpKind.MATMUL, ("n", "n"), ("o",), A.MatMulAttrs(transpose_b=True)),
        Node("sm", OpKind.SOFTMAX, ("o",), ("p",), A.SoftmaxAttrs(-1, beta=2.0)),
        Node("gat", OpKind.GATHER, ("emb", "idx"), ("q",), A.GatherAttrs(0)),
        Node("fc3", OpKind.FULLY_CONNECTED, ("q", "w3"), ("r",), A.FullyConnectedAttrs(keep_num_dims=True)),
        Node("rmax", OpKind.REDUCE_SUM, ("p",), ("s",), A.ReduceAttrs((2,), keepdims=False)),
    ]
    g = Graph.build("misc", nodes, t, ["x"], ["s", "r"])
    from edgesim.ir import infer_shapes

    return verify_graph(infer_shapes(g))


def test_less_common_ops_export_and_run() -> None:
    g = _misc_graph()
    model = to_onnx_model(g)
    onnx.checker.check_model(model, full_check=True)
    x = np.random.default_rng(4).random((1, 4, 6, 6)).astype(np.float32) + 0.5
    s, r = ReferenceEvaluator(model).run(None, {"x": x})
    assert s.shape == g.tensors["s"].shape and r.shape == g.tensors["r"].shape
    assert np.isfinite(s).all()
    emb, w3 = g.tensors["emb"].data, g.tensors["w3"].data
    np.testing.assert_allclose(r, emb[[1, 4, 9]] @ w3.T, rtol=1e-5)
    np.testing.assert_allclose(s, np.ones(s.shape), rtol=1e-5)  # softmax rows sum to 1


def test_every_op_kind_has_an_export() -> None:
    assert exportable_ops() == frozenset(OpKind)


def _spatial_graph(layout: A.Layout) -> Graph:
    """conv(+bias) -> BN -> depthwise -> max pool -> avg pool, in either layout with the same weights."""
    rng = np.random.default_rng(5)
    w_oihw = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    dw_oihw = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    nhwc = layout is A.Layout.NHWC
    w = w_oihw.transpose(0, 2, 3, 1) if nhwc else w_oihw  # OHWI
    dw = dw_oihw.transpose(1, 2, 3, 0) if nhwc else dw_oihw  # 1HW(C*M)
    bn = [rng.random(6).astype(np.float32) + 0.5 for _ in range(4)]
    f = DType.FP32
    t = {"w": Tensor("w", w.shape, f, data=w), "dw": Tensor("dw", dw.shape, f, data=dw),
         "b": Tensor("b", (6,), f, data=np.arange(6, dtype=np.float32))}
    for i, arr in enumerate(bn):
        t[f"bn{i}"] = Tensor(f"bn{i}", (6,), f, data=arr)
    for name in ("x", "y", "z", "u", "v", "o"):
        t[name] = Tensor(name, (), f)
    pad = A.Padding(1, 1, 1, 1)
    nodes = [
        Node("conv", OpKind.CONV2D, ("x", "w", "b"), ("y",), A.ConvAttrs((3, 3), (2, 2), padding=pad, layout=layout)),
        Node("bn", OpKind.BATCH_NORM, ("y", "bn0", "bn1", "bn2", "bn3"), ("z",), A.BatchNormAttrs(1e-3, layout)),
        Node("dw", OpKind.DEPTHWISE_CONV2D, ("z", "dw"), ("u",),
             A.ConvAttrs((3, 3), padding=pad, groups=6, layout=layout, activation=A.Activation.RELU6)),
        Node("mp", OpKind.MAX_POOL2D, ("u",), ("v",), A.PoolAttrs((2, 2), (2, 2), layout=layout)),
        Node("ap", OpKind.AVG_POOL2D, ("v",), ("o",), A.PoolAttrs((2, 2), (1, 1), layout=layout)),
    ]
    t["x"] = Tensor("x", (1, 9, 9, 2) if nhwc else (1, 2, 9, 9), f)
    from edgesim.ir import infer_shapes

    return verify_graph(infer_shapes(Graph.build("spatial", nodes, t, ["x"], ["o"])))


def test_nhwc_graph_exports_with_transposes_and_same_values() -> None:
    nhwc, nchw = _spatial_graph(A.Layout.NHWC), _spatial_graph(A.Layout.NCHW)
    m_nhwc = to_onnx_model(nhwc)
    onnx.checker.check_model(m_nhwc, full_check=True)
    assert [n.op_type for n in m_nhwc.graph.node].count("Transpose") == 10  # in and out of 5 spatial ops
    x = np.random.default_rng(6).standard_normal((1, 2, 9, 9)).astype(np.float32)
    (ref,) = ReferenceEvaluator(to_onnx_model(nchw)).run(None, {"x": x})
    (got,) = ReferenceEvaluator(m_nhwc).run(None, {"x": x.transpose(0, 2, 3, 1)})
    assert got.shape == nhwc.tensors["o"].shape
    np.testing.assert_allclose(got.transpose(0, 3, 1, 2), ref, rtol=1e-5, atol=1e-5)


def test_nhwc_quantized_depthwise_keeps_per_channel_axis() -> None:
    scales = tuple(float(s) for s in np.linspace(0.01, 0.05, 4))
    wq = np.arange(36, dtype=np.int8).reshape(1, 3, 3, 4)
    q = QuantParams((0.1,), (0,))
    t = {"x": Tensor("x", (1, 5, 5, 4), DType.INT8, q),
         "w": Tensor("w", wq.shape, DType.INT8, QuantParams(scales, (0,) * 4, axis=3), wq),
         "y": Tensor("y", (1, 3, 3, 4), DType.INT8, q)}
    g = verify_graph(Graph.build("dwq", [Node("dw", OpKind.DEPTHWISE_CONV2D, ("x", "w"), ("y",),
                                              A.ConvAttrs((3, 3), groups=4))], t, ["x"], ["y"]))
    model = to_onnx_model(g)
    onnx.checker.check_model(model, full_check=True)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    (wname,) = [k for k, v in inits.items() if v.dtype == np.int8 and v.ndim == 4]
    np.testing.assert_array_equal(inits[wname], wq.transpose(3, 0, 1, 2))
    dq = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == wname)
    assert next(a.i for a in dq.attribute if a.name == "axis") == 0
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT8


def _import_tflite():  # type: ignore[no-untyped-def]
    try:
        from edgesim.frontends.tflite_import import import_tflite
    except ImportError as err:
        pytest.skip(f"edgesim.frontends.tflite_import is not importable yet ({err})")
    return import_tflite


SHARED_MODELS = ["pretrainedResnet_quant.tflite", "pretrainedResnet_large_int8.tflite", "kws_ref_model.tflite",
                 "vww_96_int8.tflite", "ad01_int8.tflite", "str_ww_ref_model.tflite"]


@pytest.mark.parametrize("model", SHARED_MODELS)
def test_shared_tflite_models_export(model: str, tmp_path: Path) -> None:
    """The MLPerf Tiny int8 NHWC models export as valid QDQ ONNX, run, and re-import with the same work."""
    path = SHARED / "models" / model
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    import_tflite = _import_tflite()
    g = import_tflite(path)
    export_onnx(g, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    x = g.tensors[g.inputs[0]]
    (y,) = ReferenceEvaluator(to_onnx_model(g, opset=19)).run(
        None, {g.inputs[0]: np.zeros(x.shape, dtype=x.dtype.numpy())})
    out = g.tensors[g.outputs[0]]
    assert y.shape == out.shape and y.dtype == out.dtype.numpy()
    import_onnx = _import_onnx()
    back = import_onnx(tmp_path / "m.onnx")
    assert graph_macs(back) == graph_macs(g) and graph_params(back) == graph_params(g)
    # Only layout Transposes and unfused activations are added; no op kind of the original is lost.
    added = {n.op for n in back.nodes} - {n.op for n in g.nodes}
    assert added <= {OpKind.TRANSPOSE, OpKind.RELU, OpKind.CLIP}


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(EdgesimError) as err:
        export_onnx(build("resnet8"), target)
    assert "No space left" in str(err.value)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary left behind
    monkeypatch.undo()
    export_onnx(build("resnet8"), target)
    onnx.checker.check_model(onnx.load(str(target)))


def test_bad_opset_and_missing_directory(tmp_path: Path) -> None:
    g = build("resnet8")
    with pytest.raises(EdgesimError) as err:
        export_onnx(g, tmp_path / "m.onnx", opset=9)
    assert err.value.field == "opset"
    with pytest.raises(EdgesimError):
        export_onnx(g, tmp_path / "missing" / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_unexportable_quantization_is_clean_error(tmp_path: Path) -> None:
    t = {"x": Tensor("x", (1, 4), DType.FP32),
         "q": Tensor("q", (1, 4), DType.INT32, QuantParams((0.1,), (0,)))}
    g = Graph.build("q32", [Node("quant", OpKind.QUANTIZE, ("x",), ("q",), A.QuantizeAttrs())], t, ["x"], ["q"])
    with pytest.raises(ModelError, match="int32"):
        export_onnx(g, tmp_path / "q32.onnx")
    assert list(tmp_path.iterdir()) == []  # nothing written when the graph cannot be expressed
