"""The graph executor on small hand-built IR graphs: op dispatch, int4 weights, data ops, errors."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim.errors import ShapeError, UnsupportedOpError
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams, Tensor
from edgesim.kernels import execute, zero_fractions
from edgesim.kernels.executor import execute_all, supported_ops
from edgesim.kernels.gemm import gemm_s8


def q(scale: float, zp: int = 0) -> QuantParams:
    return QuantParams((scale,), (zp,))


def t(name: str, shape: tuple[int, ...], quant: QuantParams | None, dtype: DType = DType.INT8,
      data: np.ndarray | None = None) -> Tensor:
    return Tensor(name, shape, dtype, quant, data)


def _conv_graph(w: np.ndarray, wdtype: DType) -> Graph:
    tensors = {
        "x": t("x", (1, 5, 5, 3), q(0.05, -3)),
        "w": t("w", w.shape, QuantParams((0.02, 0.03, 0.04, 0.05), (0, 0, 0, 0), 0), wdtype, w),
        "b": t("b", (4,), q(0.001), DType.INT32, np.array([10, -20, 30, 0], dtype=np.int32)),
        "y": t("y", (1, 3, 3, 4), q(0.1, 2)),
    }
    node = Node("conv", OpKind.CONV2D, ("x", "w", "b"), ("y",),
                A.ConvAttrs((3, 3), (2, 2), padding=A.Padding(1, 1, 1, 1), activation=A.Activation.RELU))
    return Graph.build("conv", [node], tensors, ["x"], ["y"])


def test_int4_weights_run_through_packed_kernel_and_match_int8() -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-8, 8, size=(4, 3, 3, 3), dtype=np.int8)
    x = rng.integers(-128, 128, size=(1, 5, 5, 3), dtype=np.int8)
    y8 = execute(_conv_graph(w, DType.INT8), {"x": x})["y"]
    y4 = execute(_conv_graph(w, DType.INT4), {"x": x})["y"]
    np.testing.assert_array_equal(y4, y8)
    assert y8.min() >= 2  # fused ReLU clamps at the output zero point
    fr = zero_fractions(_conv_graph(w, DType.INT8), {"x": x})
    assert fr["conv"] == pytest.approx(np.count_nonzero(y8 == 2) / y8.size)


def test_data_ops_pad_transpose_concat_quantize_dequantize() -> None:
    tensors = {
        "x": t("x", (1, 2, 2, 1), q(0.5, 1)),
        "p": t("p", (1, 3, 3, 1), q(0.5, 1)),
        "tr": t("tr", (1, 1, 3, 3), q(0.5, 1)),
        "c": t("c", (1, 2, 3, 3), q(1.0, 0)),
        "f": t("f", (1, 2, 3, 3), None, DType.FP32),
        "r": t("r", (1, 2, 3, 3), q(0.25, 0)),
    }
    nodes = [
        Node("pad", OpKind.PAD, ("x",), ("p",), A.PadAttrs(((0, 0), (1, 0), (0, 1), (0, 0)))),
        Node("tr", OpKind.TRANSPOSE, ("p",), ("tr",), A.TransposeAttrs((0, 3, 1, 2))),
        Node("cat", OpKind.CONCAT, ("tr", "tr"), ("c",), A.ConcatAttrs(1)),
        Node("deq", OpKind.DEQUANTIZE, ("c",), ("f",), A.QuantizeAttrs()),
        Node("qz", OpKind.QUANTIZE, ("f",), ("r",), A.QuantizeAttrs()),
    ]
    g = Graph.build("data", nodes, tensors, ["x"], ["r"])
    x = np.array([3, 5, 7, 9], dtype=np.int8).reshape(1, 2, 2, 1)
    v = execute_all(g, {"x": x})
    assert v["p"][0, :, :, 0].tolist() == [[1, 1, 1], [3, 5, 1], [7, 9, 1]]  # padded with the zero point
    assert v["tr"].shape == (1, 1, 3, 3)
    # rescale 0.5 -> 1.0 with zero point 1 -> 0: (q - 1) * 0.5, rounded half away from zero
    assert v["c"][0, 0].tolist() == [[0, 0, 0], [1, 2, 0], [3, 4, 0]]
    np.testing.assert_array_equal(v["f"], v["c"].astype(np.float32))
    np.testing.assert_array_equal(v["r"], (v["c"] * 4).astype(np.int8))


def test_matmul_and_mul_and_mean() -> None:
    rng = np.random.default_rng(3)
    tensors = {
        "a": t("a", (2, 3, 8), q(0.05, 4)),
        "b": t("b", (2, 8, 5), q(0.04, -2)),
        "m": t("m", (2, 3, 5), q(0.3, 1)),
        "sq": t("sq", (2, 3, 5), q(0.5, -1)),
        "mean": t("mean", (1, 1, 1, 30), q(0.2, 0)),
    }
    nodes = [
        Node("mm", OpKind.MATMUL, ("a", "b"), ("m",), A.MatMulAttrs()),
        Node("mul", OpKind.MUL, ("m", "m"), ("sq",), A.ElementwiseAttrs()),
        Node("rs", OpKind.RESHAPE, ("sq",), ("r4",), A.ReshapeAttrs((1, 1, 1, 30))),
        Node("mean", OpKind.MEAN, ("r4",), ("mean",), A.ReduceAttrs((1, 2))),
    ]
    tensors["r4"] = t("r4", (1, 1, 1, 30), q(0.5, -1))
    g = Graph.build("mm", nodes, tensors, ["a", "b"], ["mean"])
    a = rng.integers(-128, 128, size=(2, 3, 8), dtype=np.int8)
    b = rng.integers(-128, 128, size=(2, 8, 5), dtype=np.int8)
    v = execute_all(g, {"a": a, "b": b})
    real = (0.05 * (a.astype(float) - 4)) @ (0.04 * (b.astype(float) + 2))
    expect = np.clip(np.round(real / 0.3) + 1, -128, 127)
    assert np.abs(v["m"].astype(int) - expect).max() <= 1
    sq_real = (0.3 * (v["m"].astype(float) - 1)) ** 2
    assert np.abs(v["sq"].astype(int) - np.clip(np.round(sq_real / 0.5) - 1, -128, 127)).max() <= 1
    # mean over a 1x1 window, scale 0.5 -> 0.2: (q + 1) * 2.5 (exact multiplier), ties rounded upward
    expect_mean = np.floor((v["sq"].ravel().astype(np.int64) + 1) * 2.5 + 0.5)
    np.testing.assert_array_equal(v["mean"].ravel(), np.clip(expect_mean, -128, 127))


def test_errors_name_the_problem() -> None:
    w = np.zeros((4, 3, 3, 3), dtype=np.int8)
    g = _conv_graph(w, DType.INT8)
    with pytest.raises(ShapeError, match="input 'x'"):
        execute(g, {"x": np.zeros((1, 4, 4, 3), dtype=np.int8)})
    tensors = {"x": t("x", (4,), q(0.1)), "y": t("y", (4,), None, DType.FP32)}
    g2 = Graph.build("g", [Node("e", OpKind.EXP, ("x",), ("y",), A.NoAttrs())], tensors, ["x"], ["y"])
    assert OpKind.EXP not in supported_ops()
    with pytest.raises(UnsupportedOpError, match="EXP"):
        execute(g2, {"x": np.zeros(4, dtype=np.int8)})


def test_gemm_is_exact() -> None:
    rng = np.random.default_rng(5)
    for m, k, n in [(1, 1, 1), (7, 33, 65), (64, 100, 130)]:
        a = rng.integers(-128, 128, size=(m, k), dtype=np.int8)
        b = rng.integers(-128, 128, size=(k, n), dtype=np.int8)
        np.testing.assert_array_equal(gemm_s8(a, b), a.astype(np.int64) @ b.astype(np.int64))
