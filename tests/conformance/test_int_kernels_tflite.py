"""Integer kernels added for the conformance work, bit-exact against the TFLite interpreter on single-operator
int8 flatbuffers: TRANSPOSE_CONV (per-channel, SAME/VALID), SUB (broadcast, fused ReLU), LEAKY_RELU, MAXIMUM, MINIMUM, STRIDED_SLICE, GATHER, nearest RESIZE, REDUCE_MAX,
ARG_MAX and SPLIT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tflite
from tflite.BuiltinOperator import BuiltinOperator as BO

from edgesim.frontends.tflite_import import import_tflite
from edgesim.kernels.executor import execute
from tests.golden._tflite_build import INT32, OpSpec, TensorSpec, build_model

litert = pytest.importorskip("ai_edge_litert.interpreter")
OPT = tflite.BuiltinOptions
I64 = 4


def _q(shape: tuple[int, ...], scale: float = 0.1, zp: int = 3) -> TensorSpec:
    return TensorSpec(shape, scale, zp)


def _c32(*v: int) -> TensorSpec:
    return TensorSpec((len(v),), None, 0, INT32, np.array(v, np.int32))


def _transpose_conv(padding: int) -> tuple[list[TensorSpec], OpSpec, list[int]]:
    rng = np.random.default_rng(9)
    scales = tuple(float(v) for v in rng.uniform(0.002, 0.02, size=6))
    w = rng.integers(-127, 128, size=(6, 3, 3, 3), dtype=np.int8)
    bias = rng.integers(-2000, 2000, size=6).astype(np.int32)
    out_hw = (8, 10) if padding == 0 else (9, 11)
    tensors = [_c32(1, *out_hw, 6), TensorSpec((6, 3, 3, 3), scales, 0, 9, w, 0), _q((1, 4, 5, 3), 0.05, -9),
               TensorSpec((6,), tuple(0.05 * s for s in scales), 0, INT32, bias, 0), _q((1, *out_hw, 6), 0.08, 6)]
    op = OpSpec(BO.TRANSPOSE_CONV, [0, 1, 2, 3], [4], OPT.TransposeConvOptions,
                [(0, "b", padding), (1, "i", 2), (2, "i", 2)], version=3)
    return tensors, op, [2]


CASES: dict[str, tuple[list[TensorSpec], OpSpec, list[int]]] = {
    "transpose_conv_same": _transpose_conv(0),
    "transpose_conv_valid": _transpose_conv(1),
    "sub_broadcast_relu": ([_q((1, 4, 4, 3), 0.1, 2), _q((1, 1, 1, 3), 0.07, -3), _q((1, 4, 4, 3), 0.12, -7)],
                           OpSpec(BO.SUB, [0, 1], [2], OPT.SubOptions, [(0, "b", 1)], version=2), [0, 1]),
    "sub": ([_q((1, 256), 0.05, 0), _q((1, 256), 0.2, 10), _q((1, 256), 0.3, -5)],
            OpSpec(BO.SUB, [0, 1], [2], version=2), [0, 1]),
    "maximum": ([_q((2, 9)), _q((2, 9)), _q((2, 9))], OpSpec(BO.MAXIMUM, [0, 1], [2], version=2), [0, 1]),
    "minimum": ([_q((2, 9)), _q((1, 9)), _q((2, 9))], OpSpec(BO.MINIMUM, [0, 1], [2], version=2), [0, 1]),
    "strided_slice": ([_q((1, 6, 7, 4)), _c32(0, 1, 0, 1), _c32(1, 6, 7, 4), _c32(1, 2, 3, 1), _q((1, 3, 3, 3))],
                      OpSpec(BO.STRIDED_SLICE, [0, 1, 2, 3], [4], OPT.StridedSliceOptions, [(0, "i", 0)],
                             version=2), [0]),
    "gather": ([_q((5, 6)), _c32(4, 0, 2, 2), _q((4, 6))],
               OpSpec(BO.GATHER, [0, 1], [2], OPT.GatherOptions, [(0, "i", 0)], version=2), [0]),
    "resize_nearest_half_pixel": ([_q((1, 3, 5, 2)), _c32(7, 4), _q((1, 7, 4, 2))],
                                  OpSpec(BO.RESIZE_NEAREST_NEIGHBOR, [0, 1], [2], OPT.ResizeNearestNeighborOptions,
                                         [(1, "B", 1)], version=3), [0]),
    "resize_nearest_align": ([_q((1, 3, 5, 2)), _c32(6, 9), _q((1, 6, 9, 2))],
                             OpSpec(BO.RESIZE_NEAREST_NEIGHBOR, [0, 1], [2], OPT.ResizeNearestNeighborOptions,
                                    [(0, "B", 1)], version=2), [0]),
    "reduce_max": ([_q((2, 5, 6)), _c32(1), _q((2, 6))],
                   OpSpec(BO.REDUCE_MAX, [0, 1], [2], OPT.ReducerOptions, [(0, "B", 0)], version=2), [0]),
    "arg_max": ([_q((3, 7)), _c32(1), TensorSpec((3,), None, 0, I64)],
                OpSpec(BO.ARG_MAX, [0, 1], [2], OPT.ArgMaxOptions, [(0, "b", I64)], version=2), [0]),
    "leaky_relu": ([_q((1, 256), 0.05, -10), _q((1, 256), 0.04, 20)],
                   OpSpec(BO.LEAKY_RELU, [0], [1], OPT.LeakyReluOptions, [(0, "f", 0.2)], version=2), [0]),
    "split": ([_c32(1), _q((2, 6)), _q((2, 2)), _q((2, 2)), _q((2, 2))],
              OpSpec(BO.SPLIT, [0, 1], [2, 3, 4], OPT.SplitOptions, [(0, "i", 3)], version=2), [1]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_integer_kernel_bit_exact_with_interpreter(case: str, tmp_path: Path) -> None:
    tensors, op, inputs = CASES[case]
    path = tmp_path / f"{case}.tflite"
    blob = build_model(tensors, op, inputs, op.outputs)
    path.write_bytes(blob)
    # the reference kernels (as tests/golden do): the default resolver may hand ops to XNNPACK, which rounds
    # differently from TFLite's reference semantics
    interp = litert.Interpreter(model_content=blob, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    graph = import_tflite(path)
    rng = np.random.default_rng(5)
    feeds = {}
    for name, d in zip(graph.inputs, interp.get_input_details(), strict=True):
        x = rng.integers(-128, 128, size=tuple(d["shape"]), dtype=np.int8)
        interp.set_tensor(d["index"], x)
        feeds[name] = x
    interp.invoke()
    got = execute(graph, feeds)
    for name, d in zip(graph.outputs, interp.get_output_details(), strict=True):
        np.testing.assert_array_equal(got[name], interp.get_tensor(d["index"]), err_msg=f"{case}: {name}")
