"""Graph IR: tensors, op registry, topological order, shape inference and verification."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim.errors import ModelError, ShapeError
from edgesim.ir import DType, Graph, Node, OpKind, QuantParams, Tensor, infer_shapes, verify_graph
from edgesim.ir import attrs as A
from edgesim.ir.ops import OP_INFO, OpClass
from edgesim.ir.work import graph_macs, node_work


def _conv_graph(h: int = 8, w: int = 8, layout: A.Layout = A.Layout.NHWC) -> Graph:
    wdata = np.ones((4, 3, 3, 2), dtype=np.int8)  # OHWI
    x_shape = (1, h, w, 2)
    tensors = {
        "x": Tensor("x", x_shape, DType.INT8, QuantParams((0.5,), (0,))),
        "w": Tensor("w", wdata.shape, DType.INT8, QuantParams((0.1,) * 4, (0,) * 4, axis=0), wdata),
        "b": Tensor("b", (4,), DType.INT32, None, np.zeros(4, np.int32)),
        "y": Tensor("y", (1, h, w, 4), DType.INT8, QuantParams((0.25,), (-3,))),
        "p": Tensor("p", (1, 4), DType.INT8),
        "m": Tensor("m", (1, 1, 1, 4), DType.INT8),
    }
    conv = Node("conv", OpKind.CONV2D, ("x", "w", "b"), ("y",),
                A.ConvAttrs(kernel_hw=(3, 3), padding=A.Padding(1, 1, 1, 1), layout=layout))
    mean = Node("mean", OpKind.MEAN, ("y",), ("m",), A.ReduceAttrs(axes=(1, 2), keepdims=True))
    flat = Node("flat", OpKind.RESHAPE, ("m",), ("p",), A.ReshapeAttrs((1, -1)))
    # Deliberately out of order: build() must sort.
    return Graph.build("g", [flat, mean, conv], tensors, ["x"], ["p"])


def test_every_op_has_info_and_attrs_type() -> None:
    assert set(OP_INFO) == set(OpKind)
    for k in OpKind:
        assert isinstance(k.op_class, OpClass)


def test_build_sorts_topologically_and_indexes() -> None:
    g = _conv_graph()
    assert [n.name for n in g.nodes] == ["conv", "mean", "flat"]
    assert g.producer("y").name == "conv"
    assert [n.name for n in g.consumers("y")] == ["mean"]
    verify_graph(g)


def test_cycle_and_dangling_inputs_are_errors() -> None:
    t = {n: Tensor(n, (1,), DType.FP32) for n in "abc"}
    n1 = Node("n1", OpKind.RELU, ("b",), ("a",), A.NoAttrs())
    n2 = Node("n2", OpKind.RELU, ("a",), ("b",), A.NoAttrs())
    with pytest.raises(ModelError, match="cycle"):
        Graph.build("g", [n1, n2], t, ["c"], ["a"])
    with pytest.raises(ModelError, match="nothing produces"):
        Graph.build("g", [Node("n", OpKind.RELU, ("zz",), ("a",), A.NoAttrs())], t, ["c"], ["a"])


def test_attrs_are_typed() -> None:
    with pytest.raises(TypeError, match="ConvAttrs"):
        Node("bad", OpKind.CONV2D, ("x", "w"), ("y",), A.PoolAttrs(kernel_hw=(2, 2)))


def test_shape_inference_follows_new_input_shape() -> None:
    g = _conv_graph()
    tensors = dict(g.tensors)
    tensors["x"] = tensors["x"].with_shape((1, 16, 12, 2))
    g2 = infer_shapes(g.rebuild(tensors=tensors))
    assert g2.tensors["y"].shape == (1, 16, 12, 4)
    assert g2.tensors["p"].shape == (1, 4)
    verify_graph(g2)


def test_verify_catches_wrong_declared_shape_and_bad_quant() -> None:
    g = _conv_graph()
    tensors = dict(g.tensors)
    tensors["y"] = tensors["y"].with_shape((1, 7, 7, 4))
    with pytest.raises(ShapeError, match="conv"):
        verify_graph(g.rebuild(tensors=tensors))
    tensors = dict(g.tensors)
    w = tensors["w"]
    tensors["w"] = Tensor("w", w.shape, DType.INT8, QuantParams((0.1,) * 3, (0,) * 3, axis=0), w.data)
    with pytest.raises(ShapeError, match="3 scales for 4 channels"):
        verify_graph(g.rebuild(tensors=tensors))


def test_quant_params_validation() -> None:
    with pytest.raises(ValueError):
        QuantParams((0.1, 0.2), (0,))
    with pytest.raises(ValueError):
        QuantParams((0.1, 0.2), (0, 0), axis=None)


def test_work_counts() -> None:
    g = _conv_graph()
    conv = g.node("conv")
    work = node_work(g, conv)
    assert work.macs == 8 * 8 * 4 * 3 * 3 * 2
    assert work.weight_bytes == 4 * 3 * 3 * 2 + 4 * 4
    assert work.input_bytes == 8 * 8 * 2
    assert work.output_bytes == 8 * 8 * 4
    assert work.precision == "int8"
    assert graph_macs(g) == work.macs
    assert node_work(g, g.node("flat")).elementwise_ops == 0


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "pad", "expected"),
    [((1, 3, 224, 224), 7, 2, 3, (1, 64, 112, 112)), ((1, 3, 32, 32), 3, 1, 0, (1, 64, 30, 30))],
)
def test_nchw_conv_shapes(shape: tuple[int, ...], kernel: int, stride: int, pad: int,
                          expected: tuple[int, ...]) -> None:
    w = np.zeros((64, 3, kernel, kernel), np.float32)
    tensors = {
        "x": Tensor("x", shape, DType.FP32),
        "w": Tensor("w", w.shape, DType.FP32, None, w),
        "y": Tensor("y", (0, 0, 0, 0), DType.FP32),
    }
    node = Node("c", OpKind.CONV2D, ("x", "w"), ("y",),
                A.ConvAttrs((kernel, kernel), (stride, stride), padding=A.Padding(pad, pad, pad, pad),
                            layout=A.Layout.NCHW))
    g = infer_shapes(Graph.build("g", [node], tensors, ["x"], ["y"]))
    assert g.tensors["y"].shape == expected


def test_int4_packs_two_per_byte() -> None:
    assert DType.INT4.nbytes(7) == 4
    assert DType.INT8.nbytes(7) == 7
    assert DType.FP16.nbytes(3) == 6
