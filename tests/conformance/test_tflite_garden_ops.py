"""TFLite builtins of the model garden's vision/audio/text models, one float single-operator flatbuffer each:
edgesim's import + float executor must reproduce the TFLite interpreter (ai_edge_litert) and the cost must run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tflite
from tflite.BuiltinOperator import BuiltinOperator as BO

from edgesim.api import estimate, load_profile
from edgesim.frontends.tflite_import import import_tflite
from edgesim.passes.float_exec import run_float
from tests.golden._tflite_build import OpSpec, TensorSpec, build_model

litert = pytest.importorskip("ai_edge_litert.interpreter")

F32, I32, I64, BOOL = 0, 2, 4, 6
OPT = tflite.BuiltinOptions


@dataclass
class Case:
    name: str
    builtin: int
    ins: list[TensorSpec]  # runtime inputs have data None (random values are fed)
    outs: list[TensorSpec]
    options_type: int = 0
    options: list[tuple[int, str, float]] = field(default_factory=list)
    version: int = 1


def _t(shape: tuple[int, ...], dtype: int = F32, data: np.ndarray | None = None) -> TensorSpec:
    return TensorSpec(shape, dtype=dtype, data=data)


def _i32(*v: int) -> np.ndarray:
    return np.array(v, np.int32)


CASES = [
    Case("pack", BO.PACK, [_t((2, 3)), _t((2, 3))], [_t((2, 2, 3))], OPT.PackOptions, [(0, "i", 2), (1, "i", 1)]),
    Case("unpack", BO.UNPACK, [_t((3, 4))], [_t((4,)), _t((4,)), _t((4,))], OPT.UnpackOptions,
         [(0, "i", 3), (1, "i", 0)]),
    Case("arg_max", BO.ARG_MAX, [_t((2, 5)), _t((1,), I32, _i32(1))], [_t((2,), I64)], OPT.ArgMaxOptions,
         [(0, "b", I64)]),
    Case("arg_min", BO.ARG_MIN, [_t((2, 5)), _t((1,), I32, _i32(0))], [_t((5,), I64)], OPT.ArgMinOptions,
         [(0, "b", I64)]),
    Case("reduce_min", BO.REDUCE_MIN, [_t((2, 3, 4)), _t((1,), I32, _i32(1))], [_t((2, 4))]),
    Case("reduce_prod", BO.REDUCE_PROD, [_t((2, 3, 4)), _t((1,), I32, _i32(2))], [_t((2, 3, 1))],
         OPT.ReducerOptions, [(0, "B", 1)]),
    Case("sin", BO.SIN, [_t((2, 7))], [_t((2, 7))]),
    Case("cos", BO.COS, [_t((2, 7))], [_t((2, 7))]),
    Case("floor", BO.FLOOR, [_t((2, 7))], [_t((2, 7))]),
    Case("round", BO.ROUND, [_t((2, 7))], [_t((2, 7))]),
    Case("elu", BO.ELU, [_t((2, 7))], [_t((2, 7))]),
    Case("square", BO.SQUARE, [_t((2, 7))], [_t((2, 7))]),
    Case("pow", BO.POW, [_t((2, 7)), _t((2, 7))], [_t((2, 7))]),
    Case("floor_div", BO.FLOOR_DIV, [_t((2, 7)), _t((2, 7))], [_t((2, 7))]),
    Case("floor_mod", BO.FLOOR_MOD, [_t((2, 7)), _t((2, 7))], [_t((2, 7))]),
    Case("not_equal", BO.NOT_EQUAL, [_t((2, 7)), _t((2, 7))], [_t((2, 7), BOOL)]),
    Case("greater_equal", BO.GREATER_EQUAL, [_t((2, 7)), _t((1, 7))], [_t((2, 7), BOOL)]),
    Case("less", BO.LESS, [_t((2, 7)), _t((2, 7))], [_t((2, 7), BOOL)]),
    Case("logical_and", BO.LOGICAL_AND, [_t((2, 7), BOOL), _t((2, 7), BOOL)], [_t((2, 7), BOOL)]),
    Case("select_v2", BO.SELECT_V2, [_t((2, 7), BOOL), _t((2, 7)), _t((2, 7))], [_t((2, 7))]),
    Case("tile", BO.TILE, [_t((2, 3)), _t((2,), I32, _i32(2, 3))], [_t((4, 9))]),
    Case("broadcast_to", BO.BROADCAST_TO, [_t((1, 3)), _t((2,), I32, _i32(4, 3))], [_t((4, 3))], version=2),
    Case("cumsum", BO.CUMSUM, [_t((2, 5)), _t((), I32, np.array(1, np.int32))], [_t((2, 5))],
         OPT.CumsumOptions, [(0, "B", 1), (1, "B", 1)]),
    Case("gelu", BO.GELU, [_t((2, 7))], [_t((2, 7))]),
    Case("gelu_tanh", BO.GELU, [_t((2, 7))], [_t((2, 7))], OPT.GeluOptions, [(0, "B", 1)]),
    Case("depth_to_space", BO.DEPTH_TO_SPACE, [_t((1, 2, 3, 8))], [_t((1, 4, 6, 2))], OPT.DepthToSpaceOptions,
         [(0, "i", 2)]),
    Case("space_to_depth", BO.SPACE_TO_DEPTH, [_t((1, 4, 6, 2))], [_t((1, 2, 3, 8))], OPT.SpaceToDepthOptions,
         [(0, "i", 2)]),
    Case("l2_normalization", BO.L2_NORMALIZATION, [_t((2, 5))], [_t((2, 5))]),
    Case("lrn", BO.LOCAL_RESPONSE_NORMALIZATION, [_t((1, 2, 2, 9))], [_t((1, 2, 2, 9))],
         OPT.LocalResponseNormalizationOptions, [(0, "i", 2), (1, "f", 1.5), (2, "f", 0.3), (3, "f", 0.75)]),
    Case("log_softmax", BO.LOG_SOFTMAX, [_t((2, 5))], [_t((2, 5))]),
    Case("transpose_conv_same", BO.TRANSPOSE_CONV,
         [_t((4,), I32, _i32(1, 8, 10, 4)), _t((4, 3, 3, 3), F32, np.random.default_rng(2).standard_normal(
             (4, 3, 3, 3)).astype(np.float32)), _t((1, 4, 5, 3))], [_t((1, 8, 10, 4))], OPT.TransposeConvOptions,
         [(0, "b", 0), (1, "i", 2), (2, "i", 2)]),
]


def _feed(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.dtype == BOOL:
        return rng.random(spec.shape) > 0.5
    return (rng.standard_normal(spec.shape) * 2 + 0.5).astype(np.float32)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_tflite_builtin_matches_interpreter(case: Case, tmp_path: Path) -> None:
    n_in = len(case.ins)
    tensors = case.ins + case.outs
    runtime = [k for k, t in enumerate(case.ins) if t.data is None]
    outs = list(range(n_in, len(tensors)))
    op = OpSpec(case.builtin, list(range(n_in)), outs, case.options_type, case.options, case.version)
    blob = build_model(tensors, op, runtime, outs)
    path = tmp_path / f"{case.name}.tflite"
    path.write_bytes(blob)

    rng = np.random.default_rng(7)
    feeds = {k: _feed(case.ins[k], rng) for k in runtime}
    if case.name in ("pow", "floor_mod", "floor_div"):
        feeds[0] = np.abs(feeds[0]) + 0.1  # a real power of a positive base; divisors away from zero
        feeds[1] = np.where(np.abs(feeds[1]) < 0.3, 0.7, feeds[1]).astype(np.float32)
    interp = litert.Interpreter(model_content=blob)
    interp.allocate_tensors()
    details = interp.get_input_details()
    for k, d in zip(runtime, details, strict=True):
        interp.set_tensor(d["index"], feeds[k])
    interp.invoke()
    want = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]

    g = import_tflite(path)
    got = run_float(g, {name: feeds[k] for name, k in zip(g.inputs, runtime, strict=True)})
    for o, w in zip(g.outputs, want, strict=True):
        np.testing.assert_allclose(got[o], np.asarray(w, np.float64), rtol=2e-5, atol=2e-5, err_msg=case.name)
    assert estimate(g, load_profile("rpi5")).latency_s > 0
