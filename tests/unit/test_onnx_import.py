"""ONNX importer: op families across opsets, constant folding, QDQ/QLinear quantization, corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_import import import_onnx
from edgesim.ir.attrs import Layout, Padding
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind

F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr), name)


def _save(tmp_path: Path, nodes: list, inputs: list, outputs: list, inits: list | None = None, opset: int = 13,
          extra_opsets: list | None = None, name: str = "m.onnx", value_info: list | None = None) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits or [], value_info=value_info or [])
    opsets = [helper.make_opsetid("", opset)] + (extra_opsets or [])
    ir = 3 if opset <= 8 else 7 if opset <= 13 else 8 if opset <= 18 else 10
    model = helper.make_model(graph, opset_imports=opsets, ir_version=ir)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _vi(name: str, shape: list, dtype: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _ops(g: Graph) -> list[OpKind]:
    return [n.op for n in g.nodes]


def _w(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


# ----- convolution / pooling --------------------------------------------------------------------------------
@pytest.mark.parametrize("opset", [7, 11, 13, 17, 21])
def test_conv_depthwise_pool_gap(tmp_path: Path, opset: int) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], group=8, kernel_shape=[3, 3], auto_pad="SAME_UPPER",
                         name="dw"),
        helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p", "w3"], ["c3"], group=2, name="grouped"),
        helper.make_node("GlobalAveragePool", ["c3"], ["gap"]),
    ]
    inits = [_init("w1", _w(8, 3, 3, 3)), _init("b1", _w(8)), _init("w2", _w(16, 1, 3, 3)),
             _init("w3", _w(4, 8, 1, 1))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 3, 32, 32])], [_vi("gap", [1, 4, 1, 1])], inits, opset))
    assert g.source_format == "onnx"
    assert _ops(g) == [OpKind.CONV2D, OpKind.RELU, OpKind.DEPTHWISE_CONV2D, OpKind.MAX_POOL2D, OpKind.CONV2D,
                       OpKind.MEAN]
    c1 = g.node("conv1")
    assert c1.attrs.layout is Layout.NCHW and c1.attrs.stride_hw == (2, 2)
    assert c1.attrs.padding == Padding(1, 1, 1, 1)
    assert g.tensors["c1"].shape == (1, 8, 16, 16)
    dw = g.node("dw")
    assert dw.attrs.groups == 8 and dw.attrs.padding == Padding(1, 1, 1, 1)
    assert g.tensors["c2"].shape == (1, 16, 16, 16)
    assert g.node("grouped").attrs.groups == 2
    assert g.nodes[-1].attrs.axes == (2, 3) and g.nodes[-1].attrs.keepdims
    assert g.tensors["gap"].shape == (1, 4, 1, 1)
    assert g.tensors["w1"].shape == (8, 3, 3, 3)  # OIHW kept


def test_conv_auto_pad_same_lower_and_avgpool_ceil(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[2, 2], auto_pad="SAME_LOWER", name="c"),
        helper.make_node("AveragePool", ["c"], ["p"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1,
                         count_include_pad=1, name="p"),
    ]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 1, 8, 8])], [_vi("p", None)], [_init("w", _w(2, 1, 2, 2))],
                          opset=11))
    assert g.node("c").attrs.padding == Padding(1, 1, 0, 0)
    assert g.node("p").attrs.ceil_mode and g.node("p").attrs.count_include_pad
    assert g.tensors["p"].shape == (1, 2, 4, 4)


def test_conv1d_and_conv_transpose(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3], pads=[1, 1], name="c1d"),
        helper.make_node("Unsqueeze", ["c", "ax"], ["u"]),
        helper.make_node("ConvTranspose", ["u", "wt"], ["y"], kernel_shape=[2, 2], strides=[2, 2], name="ct"),
    ]
    inits = [_init("w", _w(4, 2, 3)), _init("wt", _w(4, 6, 2, 2)), _init("ax", np.array([2]))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 2, 10])], [_vi("y", None)], inits, opset=13))
    conv = g.node("c1d")
    assert conv.op is OpKind.CONV2D and conv.attrs.kernel_hw == (1, 3) and conv.attrs.padding == Padding(0, 1, 0, 1)
    assert g.tensors["c"].shape == (1, 4, 10)
    assert g.node("ct").op is OpKind.CONV_TRANSPOSE2D
    assert g.tensors["y"].shape == (1, 6, 2, 20)


# ----- dense ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("opset", [7, 9, 13])
def test_gemm_flatten_and_softmax_old(tmp_path: Path, opset: int) -> None:
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "W", "B"], ["g"], transB=1, alpha=2.0, name="fc"),
        helper.make_node("Gemm", ["g", "W2", "B2"], ["h"], name="fc2"),
        helper.make_node("Softmax", ["h"], ["y"]),
    ]
    w = _w(10, 48)
    inits = [_init("W", w), _init("B", _w(10)), _init("W2", _w(10, 5)), _init("B2", _w(1, 5))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 3, 4, 4])], [_vi("y", [1, 5])], inits, opset))
    assert _ops(g) == [OpKind.RESHAPE, OpKind.FULLY_CONNECTED, OpKind.FULLY_CONNECTED, OpKind.SOFTMAX]
    fc = g.node("fc")
    assert np.allclose(g.tensors[fc.inputs[1]].data, 2.0 * w)  # alpha folded, already (out, in)
    fc2 = g.node("fc2")
    assert g.tensors[fc2.inputs[1]].shape == (5, 10)  # transB=0 -> transposed to (out, in)
    assert g.tensors[fc2.inputs[2]].shape == (5,)
    assert g.tensors["y"].shape == (1, 5)


def test_softmax_axis_semantics_by_opset(tmp_path: Path) -> None:
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="sm")]
    old = import_onnx(_save(tmp_path, nodes, [_vi("x", [2, 3, 4])], [_vi("y", None)], opset=11, name="a.onnx"))
    # opset 11, axis 1 default: flatten to (2, 12), softmax over 12, reshape back
    assert _ops(old) == [OpKind.RESHAPE, OpKind.SOFTMAX, OpKind.RESHAPE]
    assert old.tensors["y"].shape == (2, 3, 4)
    new = import_onnx(_save(tmp_path, nodes, [_vi("x", [2, 3, 4])], [_vi("y", None)], opset=13, name="b.onnx"))
    assert _ops(new) == [OpKind.SOFTMAX] and new.nodes[0].attrs.axis == 2


def test_matmul_const_becomes_fc_and_runtime_stays_matmul(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="proj"),
        helper.make_node("Transpose", ["h"], ["ht"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["h", "ht"], ["y"], name="qk"),
    ]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 6, 8])], [_vi("y", None)], [_init("W", _w(8, 16))]))
    proj = g.node("proj")
    assert proj.op is OpKind.FULLY_CONNECTED and proj.attrs.keep_num_dims
    assert g.tensors[proj.inputs[1]].shape == (16, 8)
    assert g.node("qk").op is OpKind.MATMUL
    assert g.tensors["y"].shape == (1, 6, 6)


# ----- activations / elementwise / misc ---------------------------------------------------------------------
@pytest.mark.parametrize("opset", [9, 11, 13])
def test_clip_min_max_attr_vs_input(tmp_path: Path, opset: int) -> None:
    if opset < 11:
        node = helper.make_node("Clip", ["x"], ["y"], min=0.0, max=6.0)
        inits = []
    else:
        node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
        inits = [_init("lo", np.array(0.0, np.float32)), _init("hi", np.array(6.0, np.float32))]
    g = import_onnx(_save(tmp_path, [node], [_vi("x", [1, 4])], [_vi("y", [1, 4])], inits, opset))
    assert g.nodes[0].op is OpKind.CLIP
    assert (g.nodes[0].attrs.min_value, g.nodes[0].attrs.max_value) == (0.0, 6.0)


def test_activation_family(tmp_path: Path) -> None:
    ops = [("Sigmoid", OpKind.SIGMOID, {}), ("HardSigmoid", OpKind.HARD_SIGMOID, {"alpha": 0.1}),
           ("HardSwish", OpKind.HARD_SWISH, {}), ("Tanh", OpKind.TANH, {}),
           ("LeakyRelu", OpKind.LEAKY_RELU, {"alpha": 0.3}), ("Exp", OpKind.EXP, {}), ("Log", OpKind.LOG, {}),
           ("Neg", OpKind.NEG, {}), ("Abs", OpKind.ABS, {}), ("Sqrt", OpKind.SQRT, {}), ("Erf", OpKind.ERF, {})]
    nodes, prev = [], "x"
    for k, (op, _, kw) in enumerate(ops):
        nodes.append(helper.make_node(op, [prev], [f"t{k}"], name=op, **kw))
        prev = f"t{k}"
    nodes.append(helper.make_node("Dropout", [prev], ["d"]))
    nodes.append(helper.make_node("PRelu", ["d", "slope"], ["y"], name="prelu"))
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 4, 2, 2])], [_vi("y", None)],
                          [_init("slope", _w(4, 1, 1))], opset=14))
    assert _ops(g) == [k for _, k, _ in ops] + [OpKind.PRELU]  # Dropout removed
    assert g.node("LeakyRelu").attrs.alpha == pytest.approx(0.3)
    assert g.node("HardSigmoid").attrs.alpha == pytest.approx(0.1)
    assert g.node("prelu").inputs[0] == prev  # reads through the dropped Dropout
    assert g.tensors["y"].shape == (1, 4, 2, 2)


def test_elementwise_batchnorm_lrn_concat_split(tmp_path: Path) -> None:
    c = 4
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["bn"], epsilon=1e-3, name="bn"),
        helper.make_node("LRN", ["bn"], ["l"], size=3, name="lrn"),
        helper.make_node("Add", ["l", "x"], ["a"]),
        helper.make_node("Sum", ["a", "x", "l"], ["s3"], name="sum"),
        helper.make_node("Mul", ["s3", "k"], ["mu"]),
        helper.make_node("Sub", ["mu", "k"], ["su"]),
        helper.make_node("Div", ["su", "k"], ["di"]),
        helper.make_node("Pow", ["di", "two"], ["po"]),
        helper.make_node("Max", ["po", "x"], ["mx"]),
        helper.make_node("Min", ["mx", "x"], ["mn"]),
        helper.make_node("Concat", ["mn", "x"], ["cat"], axis=-3, name="cat"),
        helper.make_node("Split", ["cat"], ["s1", "s2"], axis=1, split=[3, 5], name="split"),
    ]
    inits = [_init(n, _w(c)) for n in ("s", "b", "m")] + [_init("v", np.abs(_w(c))),
                                                           _init("k", np.float32(2.0)),
                                                           _init("two", np.float32(2.0))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, c, 3, 3])], [_vi("s1", None), _vi("s2", None)], inits,
                          opset=11))
    assert _ops(g) == [OpKind.BATCH_NORM, OpKind.LRN, OpKind.ADD, OpKind.ADD, OpKind.MUL, OpKind.SUB, OpKind.DIV,
                       OpKind.POW, OpKind.MAXIMUM, OpKind.MINIMUM, OpKind.CONCAT, OpKind.SPLIT]
    assert g.node("bn").attrs.epsilon == pytest.approx(1e-3) and len(g.node("bn").inputs) == 5
    assert g.node("lrn").attrs.size == 3
    assert len(g.node("sum").inputs) == 3
    assert g.node("cat").attrs.axis == 1
    assert g.node("split").attrs.sizes == (3, 5)
    assert g.tensors["s2"].shape == (1, 5, 3, 3)


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_squeeze_unsqueeze_reduce_split_axes_attr_vs_input(tmp_path: Path, opset: int) -> None:
    as_input_13 = opset >= 13
    as_input_18 = opset >= 18
    inits = []

    def axes_node(op: str, x: str, y: str, axes: list[int], input_form: bool, **kw: object) -> onnx.NodeProto:
        if input_form:
            inits.append(_init(f"{y}_axes", np.array(axes, np.int64)))
            return helper.make_node(op, [x, f"{y}_axes"], [y], name=y, **kw)
        return helper.make_node(op, [x], [y], axes=axes, name=y, **kw)

    nodes = [
        axes_node("Unsqueeze", "x", "u", [0, -1], as_input_13),
        axes_node("Squeeze", "u", "s", [0], as_input_13),
        axes_node("ReduceMean", "s", "rm", [-1], as_input_18, keepdims=0),
        axes_node("ReduceMax", "s", "rx", [1], as_input_18),
        axes_node("ReduceSum", "s", "rs", [1, 2], as_input_13),
    ]
    if opset >= 18:
        nodes.append(helper.make_node("Split", ["x"], ["p1", "p2"], axis=1, num_outputs=2, name="sp"))
    else:
        nodes.append(helper.make_node("Split", ["x"], ["p1", "p2"], axis=1, name="sp"))
    outs = [_vi(n, None) for n in ("rm", "rx", "rs", "p1", "p2")]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [2, 6, 5])], outs, inits, opset))
    assert g.tensors["u"].shape == (1, 2, 6, 5, 1)
    assert g.tensors["s"].shape == (2, 6, 5, 1)
    assert g.node("rm").op is OpKind.MEAN and g.node("rm").attrs.axes == (3,)
    assert g.tensors["rm"].shape == (2, 6, 5)
    assert g.tensors["rx"].shape == (2, 1, 5, 1)
    assert g.node("rs").op is OpKind.REDUCE_SUM and g.tensors["rs"].shape == (2, 1, 1, 1)
    assert g.node("sp").attrs.sizes == (3, 3)


@pytest.mark.parametrize("opset", [7, 9, 11, 13])
def test_slice_pad_resize_transpose(tmp_path: Path, opset: int) -> None:
    inits = []
    if opset < 10:
        sl = helper.make_node("Slice", ["x"], ["sl"], starts=[1], ends=[-1], axes=[2], name="slice")
        pd = helper.make_node("Pad", ["sl"], ["pd"], pads=[0, 0, 1, 2, 0, 0, 1, 2], mode="reflect", name="pad")
        if opset < 9:  # Upsample-7 takes scales as an attribute
            rs = helper.make_node("Upsample", ["pd"], ["rs"], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0],
                                  name="rs")
        else:
            rs = helper.make_node("Upsample", ["pd", "sc"], ["rs"], mode="nearest", name="rs")
            inits.append(_init("sc", np.array([1, 1, 2, 2], np.float32)))
    else:
        sl = helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["sl"], name="slice")
        inits += [_init("st", np.array([1])), _init("en", np.array([-1])), _init("ax", np.array([2])),
                  _init("sp", np.array([1]))]
        pd = helper.make_node("Pad", ["sl", "pads"], ["pd"], mode="reflect", name="pad")
        inits.append(_init("pads", np.array([0, 0, 1, 2, 0, 0, 1, 2])))
        rs = helper.make_node("Resize", ["pd", "", "", "sizes"], ["rs"], mode="linear", name="rs",
                              coordinate_transformation_mode="align_corners")
        if opset < 13:
            rs = helper.make_node("Resize", ["pd", "roi", "", "sizes"], ["rs"], mode="linear", name="rs",
                                  coordinate_transformation_mode="align_corners")
            inits.append(_init("roi", np.array([], np.float32)))
        inits.append(_init("sizes", np.array([1, 2, 16, 16])))
    tr = helper.make_node("Transpose", ["rs"], ["y"], perm=[0, 2, 3, 1], name="tr")
    g = import_onnx(_save(tmp_path, [sl, pd, rs, tr], [_vi("x", [1, 2, 8, 4])], [_vi("y", None)], inits, opset))
    assert g.node("slice").attrs.begin == (0, 0, 1, 0) and g.node("slice").attrs.end == (1, 2, 7, 4)
    assert g.tensors["sl"].shape == (1, 2, 6, 4)
    assert g.node("pad").attrs.pads == ((0, 0), (0, 0), (1, 1), (2, 2)) and g.node("pad").attrs.mode == "reflect"
    assert g.tensors["pd"].shape == (1, 2, 8, 8)
    assert g.node("rs").op is OpKind.RESIZE and g.node("rs").attrs.out_hw == (16, 16)
    if opset >= 10:
        assert g.node("rs").attrs.align_corners and g.node("rs").attrs.mode == "linear"
    assert g.tensors["y"].shape == (1, 16, 16, 2)


# ----- folding ----------------------------------------------------------------------------------------------
def test_initializers_listed_as_inputs_old_style(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])]
    path = _save(tmp_path, nodes, [_vi("x", [1, 3, 4, 4]), _vi("w", [2, 3, 1, 1])], [_vi("y", [1, 2, 4, 4])],
                 [_init("w", _w(2, 3, 1, 1))], opset=7)
    g = import_onnx(path)
    assert g.inputs == ("x",)
    assert g.tensors["w"].is_const


def test_reshape_shape_from_shape_gather_unsqueeze_concat_is_folded(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "ax0"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
    ]
    inits = [_init("zero", np.array(0, np.int64)), _init("ax0", np.array([0])), _init("minus1", np.array([-1]))]
    path = _save(tmp_path, nodes, [_vi("x", ["N", 3, 4, 4])], [_vi("y", None)], inits, opset=13)
    g = import_onnx(path)
    assert _ops(g) == [OpKind.RESHAPE]
    assert g.nodes[0].attrs.new_shape == (1, 48)
    g2 = import_onnx(path, input_shape=(5, 3, 4, 4))
    assert g2.nodes[0].attrs.new_shape == (5, 48) and g2.tensors["y"].shape == (5, 48)


def test_reshape_zero_copies_dim_and_constant_subgraph(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("ConstantOfShape", ["cs_shape"], ["ones"],
                         value=helper.make_tensor("v", F, [1], [1.0])),
        helper.make_node("Range", ["r0", "r1", "r2"], ["rng"]),
        helper.make_node("Cast", ["rng"], ["rngf"], to=F),
        helper.make_node("Add", ["ones", "rngf"], ["bias"]),
        helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
        helper.make_node("Add", ["r", "bias"], ["y"], name="add"),
    ]
    inits = [_init("cs_shape", np.array([4])), _init("r0", np.array(0)), _init("r1", np.array(4)),
             _init("r2", np.array(1)), _init("shape", np.array([0, -1, 4]))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [2, 2, 2, 4])], [_vi("y", None)], inits, opset=13))
    assert _ops(g) == [OpKind.RESHAPE, OpKind.ADD]
    assert g.nodes[0].attrs.new_shape == (2, 4, 4)
    assert np.allclose(g.tensors["bias"].data, [1, 2, 3, 4])


# ----- quantization -----------------------------------------------------------------------------------------
def test_qdq_conv_is_one_int8_conv(tmp_path: Path) -> None:
    wq = RNG.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    wscale = np.array([0.01, 0.02, 0.03, 0.04], np.float32)
    bq = np.array([10, -5, 3, 0], np.int32)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("DequantizeLinear", ["bq", "bs"], ["bd"], axis=0),
        helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "ys", "yz"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "ys", "yz"], ["rd"]),
        helper.make_node("MaxPool", ["rd"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("QuantizeLinear", ["p", "ys", "yz"], ["pq"]),
        helper.make_node("DequantizeLinear", ["pq", "ys", "yz"], ["y"]),
    ]
    inits = [_init("xs", np.float32(0.05)), _init("xz", np.int8(0)), _init("wq", wq), _init("ws", wscale),
             _init("wz", np.zeros(4, np.int8)), _init("bq", bq), _init("bs", wscale * 0.05),
             _init("ys", np.float32(0.1)), _init("yz", np.int8(-128))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 4, 4, 4])], inits, opset=13))
    assert _ops(g) == [OpKind.QUANTIZE, OpKind.CONV2D, OpKind.RELU, OpKind.MAX_POOL2D, OpKind.DEQUANTIZE]
    conv = g.node("conv")
    x, w, b = (g.tensors[i] for i in conv.inputs)
    assert x.dtype is DType.INT8 and x.quant is not None and x.quant.scale == pytest.approx(0.05)
    assert w.dtype is DType.INT8 and w.data is not None and w.data.dtype == np.int8
    assert np.array_equal(w.data, wq)
    assert w.quant is not None and w.quant.axis == 0 and w.quant.scales == pytest.approx(tuple(wscale))
    assert b.dtype is DType.INT32 and b.quant is not None and b.quant.per_channel
    relu_out = g.tensors[g.nodes[2].outputs[0]]
    assert relu_out.dtype is DType.INT8 and relu_out.quant is not None
    assert relu_out.quant.zero_point == -128 and relu_out.quant.scale == pytest.approx(0.1)
    assert g.tensors[g.node("pool").outputs[0]].dtype is DType.INT8
    assert g.tensors["y"].dtype is DType.FP32


def test_qlinear_conv_and_matmul_integer(tmp_path: Path) -> None:
    wq = RNG.integers(-127, 128, (8, 3, 3, 3)).astype(np.int8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["c"],
                         kernel_shape=[3, 3], strides=[2, 2], name="qconv"),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("MatMulInteger", ["f", "B", "yz", "bz"], ["mm"], name="mmi"),
    ]
    inits = [_init("xs", np.float32(0.02)), _init("xz", np.uint8(128)), _init("w", wq),
             _init("ws", np.full(8, 0.01, np.float32)), _init("wz", np.zeros(8, np.int8)),
             _init("ys", np.float32(0.2)), _init("yz", np.uint8(120)), _init("b", np.zeros(8, np.int32)),
             _init("B", RNG.integers(0, 255, (8 * 3 * 3, 5)).astype(np.uint8)), _init("bz", np.uint8(128))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("mm", None)], inits, opset=13))
    assert _ops(g) == [OpKind.QUANTIZE, OpKind.CONV2D, OpKind.RESHAPE, OpKind.FULLY_CONNECTED]
    qc = g.node("qconv")
    assert g.tensors[qc.inputs[0]].dtype is DType.UINT8
    w = g.tensors[qc.inputs[1]]
    assert w.dtype is DType.INT8 and w.quant is not None and w.quant.axis == 0 and len(w.quant.scales) == 8
    c = g.tensors["c"]
    assert c.dtype is DType.UINT8 and c.quant is not None and c.quant.zero_point == 120
    assert c.shape == (1, 8, 3, 3)
    mm = g.node("mmi")
    assert g.tensors[mm.inputs[1]].shape == (5, 72) and g.tensors[mm.inputs[1]].dtype is DType.UINT8
    assert g.tensors["mm"].dtype is DType.INT32 and g.tensors["mm"].shape == (1, 5)


def test_qlinear_add_microsoft_domain(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("QLinearAdd", ["a", "s", "z", "b", "s", "z", "s2", "z"], ["y"], domain="com.microsoft",
                         name="qadd"),
    ]
    inits = [_init("s", np.float32(0.1)), _init("z", np.uint8(128)), _init("s2", np.float32(0.2))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("a", [1, 4], TensorProto.UINT8), _vi("b", [1, 4], TensorProto.UINT8)],
                          [_vi("y", None)], inits, opset=13, extra_opsets=[helper.make_opsetid("com.microsoft", 1)]))
    assert _ops(g) == [OpKind.ADD]
    y = g.tensors["y"]
    assert y.dtype is DType.UINT8 and y.quant is not None and y.quant.scale == pytest.approx(0.2)


def test_qdq_matmul_per_column_weight_and_qlinear_matmul(tmp_path: Path) -> None:
    bq = RNG.integers(-127, 128, (8, 5)).astype(np.int8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
        helper.make_node("DequantizeLinear", ["bq", "bs"], ["bd"], axis=1),
        helper.make_node("MatMul", ["xd", "bd"], ["h"], name="mm"),
        helper.make_node("QuantizeLinear", ["h", "s", "z"], ["hq"]),
        helper.make_node("QLinearMatMul", ["hq", "s", "z", "c", "s", "z", "s", "z"], ["y"], name="qmm"),
    ]
    inits = [_init("s", np.float32(0.1)), _init("z", np.int8(0)), _init("bq", bq),
             _init("bs", np.linspace(0.01, 0.05, 5).astype(np.float32)),
             _init("c", RNG.integers(-127, 128, (5, 3)).astype(np.int8))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [2, 8])], [_vi("y", None)], inits, opset=13))
    assert _ops(g) == [OpKind.QUANTIZE, OpKind.FULLY_CONNECTED, OpKind.FULLY_CONNECTED]
    w = g.tensors[g.node("mm").inputs[1]]
    assert w.shape == (5, 8) and w.quant is not None and w.quant.axis == 0
    assert np.array_equal(w.data, bq.T)
    assert g.tensors["h"].dtype is DType.INT8 and g.tensors["h"].quant is not None
    y = g.tensors["y"]
    assert y.shape == (2, 3) and y.dtype is DType.INT8 and y.quant is not None


def test_constant_node_comparisons_pad_axes_ms_gelu(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Constant", [], ["thr"], value=helper.make_tensor("t", F, [], [0.5])),
        helper.make_node("Greater", ["x", "thr"], ["gt"], name="gt"),
        helper.make_node("Equal", ["x", "x"], ["eq"], name="eq"),
        helper.make_node("Where", ["gt", "x", "thr"], ["w"]),
        helper.make_node("Pad", ["w", "pads", "", "axes"], ["p"], name="pad"),
        helper.make_node("Gelu", ["p"], ["y"], domain="com.microsoft", name="msgelu"),
    ]
    inits = [_init("pads", np.array([1, 2])), _init("axes", np.array([-1]))]
    g = import_onnx(_save(tmp_path, nodes, [_vi("x", [1, 3, 4])], [_vi("y", None), _vi("eq", None)], inits,
                          opset=18, extra_opsets=[helper.make_opsetid("com.microsoft", 1)]))
    assert g.node("gt").op is OpKind.GREATER and g.tensors["gt"].dtype is DType.BOOL
    assert g.tensors["thr"].is_const
    assert g.node("eq").op is OpKind.EQUAL
    assert g.node("pad").attrs.pads == ((0, 0), (0, 0), (1, 2))
    assert g.node("msgelu").op is OpKind.GELU and g.tensors["y"].shape == (1, 3, 7)


# ----- transformer block ------------------------------------------------------------------------------------
def test_transformer_block(tmp_path: Path) -> None:
    d, s, v = 8, 4, 20
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["e"], axis=0, name="embed"),
        helper.make_node("LayerNormalization", ["e", "ln_s", "ln_b"], ["ln"], axis=-1, epsilon=1e-6, name="ln"),
        helper.make_node("MatMul", ["ln", "Wq"], ["q"]),
        helper.make_node("MatMul", ["ln", "Wk"], ["k"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["att"], name="qk"),
        helper.make_node("Where", ["mask", "att", "neg"], ["att_m"], name="where"),
        helper.make_node("Softmax", ["att_m"], ["p"], axis=-1, name="softmax"),
        helper.make_node("MatMul", ["p", "ln"], ["ctx"], name="pv"),
        helper.make_node("Add", ["ctx", "bias"], ["h"]),
        helper.make_node("Pow", ["h", "two"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[-1], name="rmean"),
        helper.make_node("Expand", ["ms", "bshape"], ["msx"], name="expand"),
        helper.make_node("Sqrt", ["msx"], ["rms"]),
        helper.make_node("Div", ["h", "rms"], ["hn"]),
        helper.make_node("Gelu", ["hn"], ["g1"], name="gelu"),
        helper.make_node("Div", ["g1", "sqrt2"], ["g2"]),
        helper.make_node("Erf", ["g2"], ["y"]),
    ]
    mask = np.tril(np.ones((s, s), bool))[None]
    inits = [_init("emb", _w(v, d)), _init("ln_s", _w(d)), _init("ln_b", _w(d)), _init("Wq", _w(d, d)),
             _init("Wk", _w(d, d)), _init("mask", mask), _init("neg", np.float32(-1e9)), _init("bias", _w(d)),
             _init("bshape", np.array([1, s, d])), _init("two", np.float32(2)), _init("sqrt2", np.float32(1.41))]
    path = _save(tmp_path, nodes, [_vi("ids", [1, s], TensorProto.INT64)], [_vi("y", None)], inits, opset=20)
    g = import_onnx(path)
    ops = _ops(g)
    for k in (OpKind.GATHER, OpKind.LAYER_NORM, OpKind.FULLY_CONNECTED, OpKind.MATMUL, OpKind.WHERE,
              OpKind.SOFTMAX, OpKind.EXPAND, OpKind.POW, OpKind.MEAN, OpKind.SQRT, OpKind.GELU, OpKind.ERF):
        assert k in ops, k
    assert g.node("ln").attrs.axis == 2 and g.node("ln").attrs.epsilon == pytest.approx(1e-6)
    assert g.node("softmax").attrs.axis == 2
    assert g.tensors["att"].shape == (1, s, s)
    assert g.tensors["e"].shape == (1, s, d) and g.tensors["e"].dtype is DType.FP32
    assert g.tensors["msx"].shape == (1, s, d) and g.node("expand").attrs.shape == (1, s, d)
    assert g.tensors["y"].shape == (1, s, d)


# ----- errors -----------------------------------------------------------------------------------------------
def test_unsupported_ops_listed_in_one_line(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Col2Im", ["a", "a", "a"], ["b"], name="c2i1"),
        helper.make_node("DFT", ["b"], ["c"], name="dft"),
        helper.make_node("Col2Im", ["c", "c", "c"], ["y"], name="c2i2"),
    ]
    path = _save(tmp_path, nodes, [_vi("x", [1, 4])], [_vi("y", None)], opset=13)
    with pytest.raises(UnsupportedOpError) as ei:
        import_onnx(path)
    msg = str(ei.value)
    assert "\n" not in msg and "Col2Im" in msg and "DFT" in msg
    assert "c2i1" in msg and "dft" in msg and str(path) in msg


def test_input_shape_override_and_dynamic_dims(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2])]
    inits = [_init("w", _w(4, 3, 3, 3))]
    path = _save(tmp_path, nodes, [_vi("x", ["N", 3, "H", "W"])], [_vi("y", None)], inits, name="dyn.onnx")
    with pytest.raises(ModelError, match="'x'.*dynamic"):
        import_onnx(path)
    g = import_onnx(path, input_shape=(1, 3, 299, 299))
    assert g.tensors["x"].shape == (1, 3, 299, 299) and g.tensors["y"].shape == (1, 4, 149, 149)
    with pytest.raises(ModelError, match="input_shape"):
        import_onnx(path, input_shape=(1, 299, 299))


@pytest.mark.parametrize("content", [None, b"", b"\x00\x01garbage\xff" * 10, b"\x08\x07"])
def test_missing_empty_and_garbage_files(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bad.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError) as ei:
        import_onnx(path)
    assert str(path) in str(ei.value)


def test_truncated_and_dangling(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
             helper.make_node("Add", ["c", "ghost"], ["y"], name="add")]
    path = _save(tmp_path, nodes, [_vi("x", [1, 3, 4, 4])], [_vi("y", None)], [_init("w", _w(2, 3, 1, 1))])
    with pytest.raises(ModelError, match="ghost"):
        import_onnx(path)
    good = _save(tmp_path, nodes[:1], [_vi("x", [1, 3, 4, 4])], [_vi("c", None)], [_init("w", _w(2, 3, 1, 1))],
                 name="good.onnx")
    data = good.read_bytes()
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError):
        import_onnx(trunc)


_FUZZ_NODES = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
               helper.make_node("Relu", ["c"], ["r"]),
               helper.make_node("Reshape", ["r", "shape"], ["f"]),
               helper.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)]
_FUZZ_MODEL = helper.make_model(helper.make_graph(
    _FUZZ_NODES, "fuzz", [_vi("x", [1, 2, 4, 4])], [_vi("y", [1, 3])],
    [_init("w", _w(4, 2, 3, 3)), _init("shape", np.array([1, -1])), _init("W", _w(3, 64)), _init("B", _w(3))]),
    opset_imports=[helper.make_opsetid("", 13)], ir_version=7).SerializeToString()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, len(_FUZZ_MODEL) - 1), st.integers(1, 255)), min_size=1,
                      max_size=4))
def test_byte_flips_raise_model_error_or_import(tmp_path: Path, flips: list[tuple[int, int]]) -> None:
    data = bytearray(_FUZZ_MODEL)
    for pos, mask in flips:
        data[pos] ^= mask
    path = tmp_path / "fuzz.onnx"
    path.write_bytes(bytes(data))
    try:
        g = import_onnx(path)
    except ModelError:
        return
    assert g.nodes  # imported cleanly


# ----- onnxruntime quantize_static / quantize_dynamic --------------------------------------------------------
def _ort_float_model(tmp_path: Path) -> Path:
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Conv", ["r", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Add", ["c2", "r"], ["a"]),
        helper.make_node("MaxPool", ["a"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["mp"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1),
    ]
    inits = [_init("w", _w(8, 3, 3, 3)), _init("b", _w(8)), _init("w2", _w(8, 1, 3, 3)), _init("W", _w(10, 8)),
             _init("B", _w(10))]
    return _save(tmp_path, nodes, [_vi("x", [1, 3, 16, 16])], [_vi("y", [1, 10])], inits, opset=13,
                 name="fp.onnx")


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
def test_onnxruntime_quantize_static(tmp_path: Path, fmt: str) -> None:
    ort_q = pytest.importorskip("onnxruntime.quantization")
    fp = _ort_float_model(tmp_path)

    class Reader(ort_q.CalibrationDataReader):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.data = iter([{"x": _w(1, 3, 16, 16)} for _ in range(4)])

        def get_next(self) -> dict | None:
            return next(self.data, None)

    qp = tmp_path / "q.onnx"
    ort_q.quantize_static(str(fp), str(qp), Reader(), quant_format=getattr(ort_q.QuantFormat, fmt),
                          per_channel=True, activation_type=ort_q.QuantType.QInt8,
                          weight_type=ort_q.QuantType.QInt8)
    g = import_onnx(qp)
    # QDQ and QOperator files describe the same integer network as a TFLite graph would
    assert _ops(g) == [OpKind.QUANTIZE, OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.ADD, OpKind.MAX_POOL2D,
                       OpKind.MEAN, OpKind.RESHAPE, OpKind.FULLY_CONNECTED, OpKind.DEQUANTIZE]
    for node in g.nodes[1:-1]:
        for name in node.inputs[:1] + node.outputs:
            t = g.tensors[name]
            assert t.dtype is DType.INT8 and t.quant is not None, (node.name, name)
    conv = g.nodes[1]
    w, b = g.tensors[conv.inputs[1]], g.tensors[conv.inputs[2]]
    assert w.dtype is DType.INT8 and w.quant is not None and w.quant.per_channel and w.quant.axis == 0
    assert w.data is not None and w.data.dtype == np.int8
    assert b.dtype is DType.INT32 and b.quant is not None
    assert g.tensors[g.nodes[-2].inputs[1]].shape == (10, 8)


def test_onnxruntime_quantize_dynamic(tmp_path: Path) -> None:
    ort_q = pytest.importorskip("onnxruntime.quantization")
    fp = _ort_float_model(tmp_path)
    qp = tmp_path / "dyn.onnx"
    ort_q.quantize_dynamic(str(fp), str(qp))
    g = import_onnx(qp)
    counts = g.op_counts()
    assert counts["QUANTIZE"] >= 2 and counts["CONV2D"] == 1 and counts["FULLY_CONNECTED"] == 1
    conv = next(n for n in g.nodes if n.op is OpKind.CONV2D)
    assert g.tensors[conv.inputs[0]].dtype is DType.UINT8
    assert g.tensors[conv.outputs[0]].dtype is DType.INT32


# ----- real-world CNNs shipped with the onnx wheel (architectures exported by Caffe2/PyTorch, light weights) --
_LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


@pytest.mark.parametrize("name", ["resnet50", "inception_v1", "inception_v2", "densenet121", "shufflenet",
                                  "squeezenet"])
def test_light_real_world_models(name: str) -> None:
    path = _LIGHT / f"light_{name}.onnx"
    if not path.exists():
        pytest.skip(f"{path} not shipped with this onnx build")
    model = onnx.load(str(path), load_external_data=False)
    g = import_onnx(path)
    declared = [tuple(d.dim_value for d in o.type.tensor_type.shape.dim) for o in model.graph.output]
    assert [g.tensors[o].shape for o in g.outputs] == declared
    assert g.inputs == tuple(vi.name for vi in model.graph.input
                             if vi.name not in {t.name for t in model.graph.initializer})
    macs = [n for n in g.nodes if n.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED)]
    assert len(macs) >= 20 and all(g.tensors[n.inputs[1]].is_const for n in macs)


@pytest.mark.parametrize("opset", [6, 13, 23, 99])
def test_an_opset_outside_the_supported_range_is_flagged(opset: int, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / f"relu{opset}.onnx"
    onnx.save(model, str(path))
    flagged = not 7 <= opset <= onnx.defs.onnx_opset_version()  # the installed onnx's newest opset, 28 with 1.23
    g = import_onnx(path)
    assert len(g.nodes) == 1  # still imported: flagged, not refused
    err = capsys.readouterr().err
    assert (f"ONNX opset {opset} is outside the opsets 7-" in err) is flagged, err
    assert err.count("\n") == (1 if flagged else 0)
