"""TFLite importer: the MLPerf Tiny models, quantization, padding, MACs, corrupt files, unsupported ops."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import pytest
import tflite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tflite.BuiltinOperator import BuiltinOperator as BO
from tflite.BuiltinOptions import BuiltinOptions as BOpt

from edgesim.errors import ModelError, ShapeError, UnsupportedOpError
from edgesim.frontends.tflite_import import import_tflite
from edgesim.frontends.tflite_ops import same_padding
from edgesim.ir.attrs import Activation, Layout
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from tests.conftest import DATA

SHARED = DATA
MODELS = SHARED / "models"


def _model(name: str) -> Path:
    p = MODELS / name
    if not p.exists():
        pytest.skip(f"shared model {p} not present")
    return p


# Pinned from the files: node count and op kinds per model (subgraph 0, one IR node per TFLite op here).
EXPECTED_OPS: dict[str, dict[str, int]] = {
    "ad01_int8.tflite": {"FULLY_CONNECTED": 10},
    "kws_ref_model.tflite": {"CONV2D": 5, "DEPTHWISE_CONV2D": 4, "AVG_POOL2D": 1, "RESHAPE": 1,
                             "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "pretrainedResnet_large_int8.tflite": {"CONV2D": 9, "ADD": 3, "AVG_POOL2D": 1, "RESHAPE": 1,
                                           "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "pretrainedResnet_quant.tflite": {"CONV2D": 9, "ADD": 3, "AVG_POOL2D": 1, "RESHAPE": 1,
                                      "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "str_ww_ref_model.tflite": {"DEPTHWISE_CONV2D": 4, "CONV2D": 4, "RESHAPE": 1, "FULLY_CONNECTED": 1,
                                "SOFTMAX": 1},
    "vww_96_int8.tflite": {"CONV2D": 14, "DEPTHWISE_CONV2D": 13, "AVG_POOL2D": 1, "RESHAPE": 1,
                           "FULLY_CONNECTED": 1, "SOFTMAX": 1},
}
EXPECTED_IO: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "ad01_int8.tflite": ((1, 640), (1, 640)),
    "kws_ref_model.tflite": ((1, 49, 10, 1), (1, 12)),
    "pretrainedResnet_large_int8.tflite": ((1, 32, 32, 3), (1, 10)),
    "pretrainedResnet_quant.tflite": ((1, 32, 32, 3), (1, 10)),
    "str_ww_ref_model.tflite": ((1, 30, 1, 40), (1, 3)),
    "vww_96_int8.tflite": ((1, 96, 96, 3), (1, 2)),
}
EXPECTED_MACS = {
    "pretrainedResnet_quant.tflite": 12.5e6,
    "kws_ref_model.tflite": 2.7e6,
    "vww_96_int8.tflite": 7.5e6,
    "ad01_int8.tflite": 0.26e6,
}

_cache: dict[str, Graph] = {}


def _load(name: str) -> Graph:
    if name not in _cache:
        _cache[name] = import_tflite(_model(name))
    return _cache[name]


def macs(g: Graph) -> int:
    total = 0
    for n in g.nodes:
        if n.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D):
            x, o = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
            nb, ho, wo, cout = o.shape
            kh, kw = n.attrs.kernel_hw
            total += nb * ho * wo * cout * (x.shape[3] // n.attrs.groups) * kh * kw
        elif n.op is OpKind.FULLY_CONNECTED:
            w, o = g.tensors[n.inputs[1]], g.tensors[n.outputs[0]]
            total += math.prod(o.shape[:-1]) * w.shape[0] * w.shape[1]
    return total


# ----- the shared models ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
def test_model_imports_with_pinned_ops(name: str) -> None:
    g = _load(name)
    assert g.source_format == "tflite"
    assert g.op_counts() == EXPECTED_OPS[name]
    assert len(g.nodes) == sum(EXPECTED_OPS[name].values())
    in_shape, out_shape = EXPECTED_IO[name]
    assert [g.tensors[i].shape for i in g.inputs] == [in_shape]
    assert [g.tensors[o].shape for o in g.outputs] == [out_shape]
    assert len({n.name for n in g.nodes}) == len(g.nodes)
    assert all(n.fused_from == () for n in g.nodes)
    # all activations are int8 with per-tensor quantization; weights int8, biases int32
    for n in g.nodes:
        for t in g.output_tensors(n):
            assert t.dtype is DType.INT8 and t.quant is not None and t.quant.axis is None
        if n.op.op_class.value == "mac":
            w = g.tensors[n.inputs[1]]
            assert w.dtype is DType.INT8 and w.data is not None and w.data.dtype == np.int8
            assert w.data.shape == w.shape
            if len(n.inputs) > 2 and n.inputs[2]:
                b = g.tensors[n.inputs[2]]
                assert b.dtype is DType.INT32 and b.data is not None and b.data.dtype == np.int32


@pytest.mark.parametrize("name", sorted(EXPECTED_MACS))
def test_macs_match_published(name: str) -> None:
    assert macs(_load(name)) == pytest.approx(EXPECTED_MACS[name], rel=0.05)


def test_per_channel_conv_weights() -> None:
    g = _load("vww_96_int8.tflite")
    conv = next(n for n in g.nodes if n.op is OpKind.CONV2D)
    w = g.tensors[conv.inputs[1]]
    assert w.shape == (8, 3, 3, 3)  # OHWI kept
    assert w.quant is not None and w.quant.axis == 0 and len(w.quant.scales) == w.shape[0]
    assert all(s > 0 for s in w.quant.scales) and set(w.quant.zero_points) == {0}
    dw = next(n for n in g.nodes if n.op is OpKind.DEPTHWISE_CONV2D)
    wd = g.tensors[dw.inputs[1]]
    assert wd.shape == (1, 3, 3, 8)  # 1HWC kept
    assert wd.quant is not None and wd.quant.axis == 3 and len(wd.quant.scales) == 8
    assert dw.attrs.groups == 8
    x = g.tensors[g.inputs[0]]
    assert x.quant is not None and x.quant.axis is None and len(x.quant.scales) == 1
    assert -128 <= x.quant.zero_point <= 127


def test_conv_attrs_and_padding_match_output_shapes() -> None:
    g = _load("vww_96_int8.tflite")
    first = g.nodes[0]
    assert first.op is OpKind.CONV2D
    a = first.attrs
    assert a.layout is Layout.NHWC and a.stride_hw == (2, 2) and a.kernel_hw == (3, 3)
    assert a.activation is Activation.RELU
    # SAME on 96 with stride 2, k=3: total pad 1, TFLite puts the odd pixel at the bottom/right
    assert (a.padding.top, a.padding.bottom, a.padding.left, a.padding.right) == (0, 1, 0, 1)
    for name in EXPECTED_OPS:
        gg = _load(name)
        for n in gg.nodes:
            if n.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.AVG_POOL2D):
                x, o = gg.tensors[n.inputs[0]], gg.tensors[n.outputs[0]]
                p = n.attrs.padding
                for ax, (lo, hi) in ((1, (p.top, p.bottom)), (2, (p.left, p.right))):
                    k = n.attrs.kernel_hw[ax - 1]
                    s = n.attrs.stride_hw[ax - 1]
                    assert (x.shape[ax] + lo + hi - k) // s + 1 == o.shape[ax], n.name


def test_same_padding_formula() -> None:
    assert same_padding(96, 3, 2, 1) == (0, 1)
    assert same_padding(5, 3, 1, 1) == (1, 1)
    assert same_padding(49, 10, 2, 1) == (4, 5)
    assert same_padding(7, 3, 1, 2) == (2, 2)
    assert same_padding(4, 1, 2, 1) == (0, 0)


def test_reshape_fc_softmax_attrs() -> None:
    g = _load("kws_ref_model.tflite")
    sm = next(n for n in g.nodes if n.op is OpKind.SOFTMAX)
    assert sm.attrs.beta == pytest.approx(1.0)
    rs = next(n for n in g.nodes if n.op is OpKind.RESHAPE)
    assert len(rs.inputs) == 1 and g.tensors[rs.outputs[0]].shape == (1, 64)
    fc = next(n for n in g.nodes if n.op is OpKind.FULLY_CONNECTED)
    assert g.tensors[fc.inputs[1]].shape == (12, 64)
    pool = next(n for n in g.nodes if n.op is OpKind.AVG_POOL2D)
    assert pool.attrs.layout is Layout.NHWC and not pool.attrs.count_include_pad


def test_input_shape_override_propagates() -> None:
    g = import_tflite(_model("vww_96_int8.tflite"), input_shape=(1, 128, 128, 3))
    assert g.tensors[g.inputs[0]].shape == (1, 128, 128, 3)
    assert g.tensors[g.nodes[0].outputs[0]].shape == (1, 64, 64, 8)
    # the final pool keeps its file window (3x3, stride 3): the 4x4 map still pools to 1x1, so the classifier
    # head is unchanged while every conv grows by (128/96)^2
    assert g.tensors[g.outputs[0]].shape == (1, 2)
    base = _load("vww_96_int8.tflite")
    conv_macs = macs(g) - 256 * 2
    assert conv_macs == pytest.approx((macs(base) - 256 * 2) * (128 / 96) ** 2, rel=0.02)
    assert macs(g) > macs(base)


def test_input_shape_override_recomputes_same_padding() -> None:
    base = _load("kws_ref_model.tflite")
    p = base.nodes[0].attrs.padding
    assert (p.top, p.bottom, p.left, p.right) == (4, 5, 1, 1)  # 49 rows, k=10, stride 2
    g = import_tflite(_model("kws_ref_model.tflite"), input_shape=(1, 98, 10, 1))
    p = g.nodes[0].attrs.padding
    # SAME is re-derived for the new input exactly as TFLite would, not carried over from the file
    assert (p.top, p.bottom, p.left, p.right) == (4, 4, 1, 1)
    assert g.tensors[g.nodes[0].outputs[0]].shape == (1, 49, 5, 64)
    assert g.tensors[g.outputs[0]].shape == (1, 12)


def test_input_shape_override_batch() -> None:
    g = import_tflite(_model("ad01_int8.tflite"), input_shape=(4, 640))
    assert g.tensors[g.outputs[0]].shape == (4, 640)
    assert macs(g) == 4 * macs(_load("ad01_int8.tflite"))


def test_input_shape_override_bad_rank() -> None:
    with pytest.raises(ShapeError, match="rank"):
        import_tflite(_model("kws_ref_model.tflite"), input_shape=(1, 49, 10))
    with pytest.raises(ShapeError):
        import_tflite(_model("kws_ref_model.tflite"), input_shape=(1, 0, 10, 1))


# ----- corrupt files ----------------------------------------------------------------------------------------
def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        import_tflite(tmp_path / "nope.tflite")
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty") as e:
        import_tflite(empty)
    assert str(empty) in str(e.value)
    with pytest.raises(ModelError, match="directory"):
        import_tflite(tmp_path)


def test_not_a_flatbuffer_and_wrong_identifier(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"this is not a model at all, just text\n" * 10)
    with pytest.raises(ModelError, match="not a TFLite"):
        import_tflite(junk)
    buf = bytearray(_model("kws_ref_model.tflite").read_bytes())
    buf[4:8] = b"TFL2"
    wrong = tmp_path / "wrong.tflite"
    wrong.write_bytes(bytes(buf))
    with pytest.raises(ModelError, match="identifier"):
        import_tflite(wrong)


@pytest.mark.parametrize("keep", [8, 64, 1000, 0.5, 0.9])
def test_truncated(tmp_path: Path, keep: float) -> None:
    buf = _model("kws_ref_model.tflite").read_bytes()
    n = int(len(buf) * keep) if isinstance(keep, float) else keep
    p = tmp_path / "trunc.tflite"
    p.write_bytes(buf[:n])
    with pytest.raises(ModelError) as e:
        import_tflite(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_out_of_range_buffer_index(tmp_path: Path) -> None:
    buf = bytearray(_model("ad01_int8.tflite").read_bytes())
    m = tflite.Model.GetRootAsModel(buf, 0)
    t = m.Subgraphs(0).Tensors(1)
    off = t._tab.Offset(8)  # Tensor.buffer
    assert off
    pos = t._tab.Pos + off
    buf[pos:pos + 4] = (10_000).to_bytes(4, "little")
    p = tmp_path / "badbuf.tflite"
    p.write_bytes(bytes(buf))
    with pytest.raises(ModelError, match="buffer 10000"):
        import_tflite(p)


@pytest.fixture(scope="module")
def kws_bytes() -> bytes:
    return _model("kws_ref_model.tflite").read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_byte_flips_raise_model_error_or_import(tmp_path: Path, kws_bytes: bytes, data: Any) -> None:
    buf = bytearray(kws_bytes)
    # most of the file is weight data; bias flips towards the flatbuffer tables (start and end of the file)
    n_flips = data.draw(st.integers(1, 8))
    for _ in range(n_flips):
        region = data.draw(st.sampled_from(["head", "tail", "any"]))
        if region == "head":
            pos = data.draw(st.integers(0, min(2048, len(buf) - 1)))
        elif region == "tail":
            pos = data.draw(st.integers(max(0, len(buf) - 4096), len(buf) - 1))
        else:
            pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    p = tmp_path / "flip.tflite"
    p.write_bytes(bytes(buf))
    try:
        g = import_tflite(p)
    except ModelError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(g, Graph)


# ----- unsupported ops --------------------------------------------------------------------------------------
def _patch_opcode(buf: bytearray, index: int, code: int) -> None:
    oc = tflite.Model.GetRootAsModel(buf, 0).OperatorCodes(index)
    dep = oc._tab.Offset(4)  # deprecated_builtin_code (int8)
    assert dep, "opcode table without deprecated_builtin_code"
    buf[oc._tab.Pos + dep] = code
    new = oc._tab.Offset(10)  # builtin_code (int32), often omitted when 0
    if new:
        pos = oc._tab.Pos + new
        buf[pos:pos + 4] = code.to_bytes(4, "little")


def test_unsupported_ops_all_listed_in_one_message(tmp_path: Path) -> None:
    buf = bytearray(_model("kws_ref_model.tflite").read_bytes())
    m = tflite.Model.GetRootAsModel(buf, 0)
    codes = [max(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(m.OperatorCodesLength())]
    _patch_opcode(buf, codes.index(BO.SOFTMAX), BO.SVDF)
    _patch_opcode(buf, codes.index(BO.AVERAGE_POOL_2D), BO.CUSTOM)
    p = tmp_path / "unsup.tflite"
    p.write_bytes(bytes(buf))
    with pytest.raises(UnsupportedOpError) as e:
        import_tflite(p)
    msg = str(e.value)
    assert "SVDF" in msg and "CUSTOM" in msg and "\n" not in msg
    assert msg.count("node '") == 2 and str(p) in msg


# ----- synthetic models built with the flatbuffers Builder --------------------------------------------------
TensorSpec = tuple[str, tuple[int, ...], int, np.ndarray | None]  # name, shape, TensorType, constant data
OptBuilder = Callable[[flatbuffers.Builder], tuple[int, int]]  # -> (BuiltinOptions type, offset)


def _ivec(b: flatbuffers.Builder, values: list[int]) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=np.int32))


def build_tflite(tensors: list[TensorSpec], ops: list[tuple[int, list[int], list[int], OptBuilder | None]],
                 inputs: list[int], outputs: list[int]) -> bytes:
    b = flatbuffers.Builder(1024)
    codes = sorted({op[0] for op in ops})
    buf_offs = []
    datas: list[np.ndarray | None] = [None] + [t[3] for t in tensors if t[3] is not None]
    for d in datas:
        vec = b.CreateNumpyVector(np.frombuffer(d.tobytes(), dtype=np.uint8)) if d is not None else None
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        buf_offs.append(tflite.BufferEnd(b))
    t_offs = []
    next_buf = 1
    for name, shape, ttype, data in tensors:
        n_off = b.CreateString(name)
        s_off = _ivec(b, list(shape))
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, s_off)
        tflite.TensorAddType(b, ttype)
        tflite.TensorAddName(b, n_off)
        if data is not None:
            tflite.TensorAddBuffer(b, next_buf)
            next_buf += 1
        t_offs.append(tflite.TensorEnd(b))
    op_offs = []
    for code, ins, outs, opt in ops:
        opt_res = opt(b) if opt is not None else None
        i_off, o_off = _ivec(b, ins), _ivec(b, outs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(code))
        tflite.OperatorAddInputs(b, i_off)
        tflite.OperatorAddOutputs(b, o_off)
        if opt_res is not None:
            tflite.OperatorAddBuiltinOptionsType(b, opt_res[0])
            tflite.OperatorAddBuiltinOptions(b, opt_res[1])
        op_offs.append(tflite.OperatorEnd(b))

    def vec_of(start: Callable[[flatbuffers.Builder, int], None], offs: list[int]) -> int:
        start(b, len(offs))
        for o in reversed(offs):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    tv = vec_of(tflite.SubGraphStartTensorsVector, t_offs)
    ov = vec_of(tflite.SubGraphStartOperatorsVector, op_offs)
    iv, outv = _ivec(b, inputs), _ivec(b, outputs)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tv)
    tflite.SubGraphAddOperators(b, ov)
    tflite.SubGraphAddInputs(b, iv)
    tflite.SubGraphAddOutputs(b, outv)
    sg = tflite.SubGraphEnd(b)
    oc_offs = []
    for c in codes:
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(c, 127))
        tflite.OperatorCodeAddBuiltinCode(b, c)
        oc_offs.append(tflite.OperatorCodeEnd(b))
    ocv = vec_of(tflite.ModelStartOperatorCodesVector, oc_offs)
    sgv = vec_of(tflite.ModelStartSubgraphsVector, [sg])
    bv = vec_of(tflite.ModelStartBuffersVector, buf_offs)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, ocv)
    tflite.ModelAddSubgraphs(b, sgv)
    tflite.ModelAddBuffers(b, bv)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


F32, I32 = tflite.TensorType.FLOAT32, tflite.TensorType.INT32


def _strided_opts(shrink: int = 0, begin_mask: int = 0, end_mask: int = 0, new_axis: int = 0,
                  ellipsis: int = 0) -> OptBuilder:
    def f(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.StridedSliceOptionsStart(b)
        tflite.StridedSliceOptionsAddBeginMask(b, begin_mask)
        tflite.StridedSliceOptionsAddEndMask(b, end_mask)
        tflite.StridedSliceOptionsAddShrinkAxisMask(b, shrink)
        tflite.StridedSliceOptionsAddNewAxisMask(b, new_axis)
        tflite.StridedSliceOptionsAddEllipsisMask(b, ellipsis)
        return BOpt.StridedSliceOptions, tflite.StridedSliceOptionsEnd(b)

    return f


def _reducer_opts(keep: bool) -> OptBuilder:
    def f(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.ReducerOptionsStart(b)
        tflite.ReducerOptionsAddKeepDims(b, keep)
        return BOpt.ReducerOptions, tflite.ReducerOptionsEnd(b)

    return f


def _write(tmp_path: Path, data: bytes, name: str = "syn.tflite") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_synthetic_strided_slice_transpose_mean_pad(tmp_path: Path) -> None:
    a = np.asarray
    tensors: list[TensorSpec] = [
        ("x", (1, 4, 6, 8), F32, None),                       # 0
        ("begin", (4,), I32, a([0, 1, 0, 0], np.int32)),        # 1
        ("end", (4,), I32, a([1, 3, 6, 8], np.int32)),          # 2
        ("strides", (4,), I32, a([1, 1, 2, 1], np.int32)),      # 3
        ("sliced", (2, 3, 8), F32, None),                       # 4: axis 0 shrunk
        ("perm", (3,), I32, a([2, 0, 1], np.int32)),            # 5
        ("transposed", (8, 2, 3), F32, None),                   # 6
        ("axes", (1,), I32, a([-1], np.int32)),                 # 7
        ("mean", (8, 2, 1), F32, None),                         # 8
        ("pads", (3, 2), I32, a([[0, 0], [1, 2], [0, 0]], np.int32)),  # 9
        ("padded", (8, 5, 1), F32, None),                       # 10
    ]
    ops = [
        (BO.STRIDED_SLICE, [0, 1, 2, 3], [4], _strided_opts(shrink=1)),
        (BO.TRANSPOSE, [4, 5], [6], None),
        (BO.MEAN, [6, 7], [8], _reducer_opts(True)),
        (BO.PAD, [8, 9], [10], None),
    ]
    g = import_tflite(_write(tmp_path, build_tflite(tensors, ops, [0], [10])))
    kinds = [n.op for n in g.nodes]
    assert kinds == [OpKind.SLICE, OpKind.RESHAPE, OpKind.TRANSPOSE, OpKind.MEAN, OpKind.PAD]
    sl = g.nodes[0].attrs
    assert sl.begin == (0, 1, 0, 0) and sl.end == (1, 3, 6, 8) and sl.step == (1, 1, 2, 1)
    assert g.tensors["sliced"].shape == (2, 3, 8)
    assert g.nodes[2].attrs.perm == (2, 0, 1) and g.nodes[2].inputs == ("sliced",)
    assert g.nodes[3].attrs.axes == (2,) and g.nodes[3].attrs.keepdims
    assert g.nodes[4].attrs.pads == ((0, 0), (1, 2), (0, 0))
    assert g.tensors["padded"].shape == (8, 5, 1)
    # constant operands folded into attrs are not graph tensors any more
    assert "perm" not in g.tensors and "pads" not in g.tensors


def test_synthetic_strided_slice_masks(tmp_path: Path) -> None:
    a = np.asarray
    tensors: list[TensorSpec] = [
        ("x", (2, 5, 6), F32, None),
        ("begin", (3,), I32, a([0, -1, 4], np.int32)),
        ("end", (3,), I32, a([0, 0, 0], np.int32)),
        ("strides", (3,), I32, a([1, -2, 1], np.int32)),
        ("y", (2, 2, 2), F32, None),
    ]
    # axis 0 fully masked; axis 1 runs backwards from the last index with step 2 down to (excluding) 0;
    # axis 2 has only its end masked
    ops = [(BO.STRIDED_SLICE, [0, 1, 2, 3], [4], _strided_opts(begin_mask=1, end_mask=0b101))]
    data = build_tflite(tensors, ops, [0], [4])
    g = import_tflite(_write(tmp_path, data))
    a_ = g.nodes[0].attrs
    assert a_.begin == (0, 4, 4) and a_.end == (2, 0, 6) and a_.step == (1, -2, 1)
    assert g.tensors["y"].shape == (2, 2, 2)


def test_synthetic_custom_op_is_unsupported(tmp_path: Path) -> None:
    tensors: list[TensorSpec] = [("x", (1, 4), F32, None), ("y", (1, 4), F32, None), ("z", (1, 4), F32, None)]
    ops = [(BO.CUSTOM, [0], [1], None), (BO.RELU, [1], [2], None)]
    with pytest.raises(UnsupportedOpError, match="CUSTOM") as e:
        import_tflite(_write(tmp_path, build_tflite(tensors, ops, [0], [2])))
    assert "node 'y'" in str(e.value)


def test_synthetic_activations_and_split(tmp_path: Path) -> None:
    a = np.asarray
    tensors: list[TensorSpec] = [
        ("x", (1, 6), F32, None),
        ("r6", (1, 6), F32, None),
        ("sig", (1, 6), F32, None),
        ("axis", (), I32, a(1, np.int32)),
        ("s0", (1, 3), F32, None),
        ("s1", (1, 3), F32, None),
    ]

    def split_opts(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.SplitOptionsStart(b)
        tflite.SplitOptionsAddNumSplits(b, 2)
        return BOpt.SplitOptions, tflite.SplitOptionsEnd(b)

    ops = [(BO.RELU6, [0], [1], None), (BO.LOGISTIC, [1], [2], None), (BO.SPLIT, [3, 2], [4, 5], split_opts)]
    g = import_tflite(_write(tmp_path, build_tflite(tensors, ops, [0], [4, 5])))
    assert [n.op for n in g.nodes] == [OpKind.CLIP, OpKind.SIGMOID, OpKind.SPLIT]
    assert g.nodes[0].attrs.min_value == 0.0 and g.nodes[0].attrs.max_value == 6.0
    assert g.nodes[2].attrs.axis == 1 and g.nodes[2].attrs.sizes == (3, 3) and g.nodes[2].inputs == ("sig",)


def test_synthetic_const_buffer_size_mismatch(tmp_path: Path) -> None:
    tensors: list[TensorSpec] = [
        ("x", (1, 4), F32, None),
        ("w", (3, 4), F32, np.zeros((2, 4), np.float32)),  # buffer smaller than the shape says
        ("y", (1, 3), F32, None),
    ]
    with pytest.raises(ModelError, match="needs 48 bytes"):
        import_tflite(_write(tmp_path, build_tflite(tensors, [(BO.FULLY_CONNECTED, [0, 1, -1], [2], None)],
                                                   [0], [2])))


def _opts(table: str, **fields: int | float) -> OptBuilder:
    """Build ``<table>`` options with the generated ``<table>Add<Field>`` functions."""

    def f(b: flatbuffers.Builder) -> tuple[int, int]:
        getattr(tflite, f"{table}Start")(b)
        for k, v in fields.items():
            getattr(tflite, f"{table}Add{k}")(b, v)
        return getattr(BOpt, table), getattr(tflite, f"{table}End")(b)

    return f


_I8 = tflite.TensorType.INT8
_C = np.asarray
# builtin, [(shape, type, const data)] inputs, [(shape, type)] outputs, options, expected IR op kind
_CASES: list[tuple[int, list[tuple[tuple[int, ...], int, Any]], list[tuple[tuple[int, ...], int]],
                   OptBuilder | None, OpKind]] = [
    (BO.CONV_2D, [((1, 5, 5, 2), F32, None), ((4, 3, 3, 2), F32, np.ones((4, 3, 3, 2), np.float32)),
                  ((4,), F32, np.zeros(4, np.float32))], [((1, 3, 3, 4), F32)],
     _opts("Conv2DOptions", Padding=0, StrideH=2, StrideW=2, DilationHFactor=1, DilationWFactor=1), OpKind.CONV2D),
    (BO.DEPTHWISE_CONV_2D, [((1, 5, 5, 2), F32, None), ((1, 3, 3, 4), F32, np.ones((1, 3, 3, 4), np.float32))],
     [((1, 5, 5, 4), F32)], _opts("DepthwiseConv2DOptions", Padding=0, StrideH=1, StrideW=1, DepthMultiplier=2,
                                  DilationHFactor=1, DilationWFactor=1), OpKind.DEPTHWISE_CONV2D),
    (BO.TRANSPOSE_CONV, [((4,), I32, _C([1, 10, 10, 4], np.int32)),
                         ((4, 3, 3, 2), F32, np.ones((4, 3, 3, 2), np.float32)), ((1, 5, 5, 2), F32, None)],
     [((1, 10, 10, 4), F32)], _opts("TransposeConvOptions", Padding=0, StrideH=2, StrideW=2),
     OpKind.CONV_TRANSPOSE2D),
    (BO.FULLY_CONNECTED, [((2, 8), F32, None), ((3, 8), F32, np.ones((3, 8), np.float32))], [((2, 3), F32)],
     None, OpKind.FULLY_CONNECTED),
    (BO.BATCH_MATMUL, [((2, 3, 4), F32, None), ((2, 5, 4), F32, None)], [((2, 3, 5), F32)],
     _opts("BatchMatMulOptions", AdjY=True), OpKind.MATMUL),
    (BO.ADD, [((1, 4), F32, None), ((1, 4), F32, None)], [((1, 4), F32)], _opts("AddOptions"), OpKind.ADD),
    (BO.SUB, [((1, 4), F32, None), ((1, 1), F32, None)], [((1, 4), F32)], None, OpKind.SUB),
    (BO.MUL, [((1, 4), F32, None), ((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.MUL),
    (BO.DIV, [((1, 4), F32, None), ((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.DIV),
    (BO.MAXIMUM, [((1, 4), F32, None), ((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.MAXIMUM),
    (BO.MINIMUM, [((1, 4), F32, None), ((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.MINIMUM),
    (BO.SQUARED_DIFFERENCE, [((1, 4), F32, None), ((1, 4), F32, None)], [((1, 4), F32)], None,
     OpKind.SQUARED_DIFFERENCE),
    (BO.PRELU, [((1, 4), F32, None), ((4,), F32, np.ones(4, np.float32))], [((1, 4), F32)], None, OpKind.PRELU),
    (BO.RELU, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.RELU),
    (BO.RELU_N1_TO_1, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.CLIP),
    (BO.LEAKY_RELU, [((1, 4), F32, None)], [((1, 4), F32)], _opts("LeakyReluOptions", Alpha=0.5),
     OpKind.LEAKY_RELU),
    (BO.TANH, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.TANH),
    (BO.HARD_SWISH, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.HARD_SWISH),
    (BO.EXP, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.EXP),
    (BO.LOG, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.LOG),
    (BO.SQRT, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.SQRT),
    (BO.RSQRT, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.RSQRT),
    (BO.ABS, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.ABS),
    (BO.NEG, [((1, 4), F32, None)], [((1, 4), F32)], None, OpKind.NEG),
    (BO.CAST, [((1, 4), F32, None)], [((1, 4), I32)], None, OpKind.CAST),
    (BO.QUANTIZE, [((1, 4), F32, None)], [((1, 4), _I8)], None, OpKind.QUANTIZE),
    (BO.DEQUANTIZE, [((1, 4), _I8, None)], [((1, 4), F32)], None, OpKind.DEQUANTIZE),
    (BO.AVERAGE_POOL_2D, [((1, 4, 4, 2), F32, None)], [((1, 2, 2, 2), F32)],
     _opts("Pool2DOptions", Padding=1, StrideH=2, StrideW=2, FilterHeight=2, FilterWidth=2), OpKind.AVG_POOL2D),
    (BO.MAX_POOL_2D, [((1, 5, 5, 2), F32, None)], [((1, 3, 3, 2), F32)],
     _opts("Pool2DOptions", Padding=0, StrideH=2, StrideW=2, FilterHeight=3, FilterWidth=3), OpKind.MAX_POOL2D),
    (BO.MEAN, [((1, 4, 4, 2), F32, None), ((2,), I32, _C([1, 2], np.int32))], [((1, 2), F32)], None, OpKind.MEAN),
    (BO.SUM, [((1, 4, 4, 2), F32, None), ((1,), I32, _C([3], np.int32))], [((1, 4, 4, 1), F32)],
     _opts("ReducerOptions", KeepDims=True), OpKind.REDUCE_SUM),
    (BO.REDUCE_MAX, [((1, 4, 4, 2), F32, None), ((2,), I32, _C([1, 2], np.int32))], [((1, 2), F32)], None,
     OpKind.REDUCE_MAX),
    (BO.SOFTMAX, [((1, 4), F32, None)], [((1, 4), F32)], _opts("SoftmaxOptions", Beta=0.5), OpKind.SOFTMAX),
    (BO.RESHAPE, [((1, 2, 3), F32, None), ((1,), I32, _C([6], np.int32))], [((6,), F32)], None, OpKind.RESHAPE),
    (BO.SQUEEZE, [((1, 3, 1), F32, None)], [((3,), F32)], None, OpKind.RESHAPE),
    (BO.EXPAND_DIMS, [((3,), F32, None), ((), I32, _C(0, np.int32))], [((1, 3), F32)], None, OpKind.RESHAPE),
    (BO.CONCATENATION, [((1, 2), F32, None), ((1, 3), F32, None)], [((1, 5), F32)],
     _opts("ConcatenationOptions", Axis=-1), OpKind.CONCAT),
    (BO.PAD, [((1, 2), F32, None), ((2, 2), I32, _C([[0, 0], [1, 1]], np.int32))], [((1, 4), F32)], None,
     OpKind.PAD),
    (BO.PADV2, [((1, 2), F32, None), ((2, 2), I32, _C([[0, 0], [1, 1]], np.int32)),
                ((), F32, _C(3.0, np.float32))], [((1, 4), F32)], None, OpKind.PAD),
    (BO.MIRROR_PAD, [((1, 3), F32, None), ((2, 2), I32, _C([[0, 0], [1, 1]], np.int32))], [((1, 5), F32)], None,
     OpKind.PAD),
    (BO.SLICE, [((3, 4), F32, None), ((2,), I32, _C([1, 0], np.int32)), ((2,), I32, _C([2, -1], np.int32))],
     [((2, 4), F32)], None, OpKind.SLICE),
    (BO.RESIZE_BILINEAR, [((1, 2, 2, 3), F32, None), ((2,), I32, _C([4, 6], np.int32))], [((1, 4, 6, 3), F32)],
     _opts("ResizeBilinearOptions", HalfPixelCenters=True), OpKind.RESIZE),
    (BO.RESIZE_NEAREST_NEIGHBOR, [((1, 2, 2, 3), F32, None), ((2,), I32, _C([4, 4], np.int32))],
     [((1, 4, 4, 3), F32)], None, OpKind.RESIZE),
    (BO.GATHER, [((5, 3), F32, np.ones((5, 3), np.float32)), ((2,), I32, None)], [((2, 3), F32)], None,
     OpKind.GATHER),
]


@pytest.mark.parametrize("case", _CASES, ids=[tflite.opcode2name(c[0]) if hasattr(tflite, "opcode2name")
                                              else str(c[0]) for c in _CASES])
def test_synthetic_single_op(tmp_path: Path, case: Any) -> None:
    code, ins, outs, opt, kind = case
    tensors: list[TensorSpec] = [(f"in{i}", s, t, d) for i, (s, t, d) in enumerate(ins)]
    tensors += [(f"out{i}", s, t, None) for i, (s, t) in enumerate(outs)]
    n_in = len(ins)
    graph_in = [i for i, (_, _, d) in enumerate(ins) if d is None]
    out_idx = list(range(n_in, n_in + len(outs)))
    g = import_tflite(_write(tmp_path, build_tflite(tensors, [(code, list(range(n_in)), out_idx, opt)],
                                                    graph_in, out_idx)))
    assert [n.op for n in g.nodes] == [kind]
    for i, (s, _) in enumerate(outs):
        assert g.tensors[f"out{i}"].shape == s
    a = g.nodes[0].attrs
    if code == BO.TRANSPOSE_CONV:
        assert g.nodes[0].inputs == ("in2", "in1") and a.output_padding_hw == (0, 0)
    if code == BO.BATCH_MATMUL:
        assert a.transpose_b and not a.transpose_a
    if code == BO.SOFTMAX:
        assert a.beta == pytest.approx(0.5)
    if code == BO.PADV2:
        assert a.constant_value == pytest.approx(3.0)
    if code == BO.RESIZE_BILINEAR:
        assert a.out_hw == (4, 6) and a.mode == "linear" and a.half_pixel_centers and a.layout is Layout.NHWC
    if code == BO.CONCATENATION:
        assert a.axis == 1
    if code == BO.DEPTHWISE_CONV_2D:
        assert a.groups == 2 and (a.padding.top, a.padding.bottom) == (1, 1)


def test_synthetic_split_v(tmp_path: Path) -> None:
    tensors: list[TensorSpec] = [
        ("x", (1, 6), F32, None), ("sizes", (2,), I32, np.asarray([2, -1], np.int32)),
        ("axis", (), I32, np.asarray(1, np.int32)), ("a", (1, 2), F32, None), ("b", (1, 4), F32, None),
    ]
    ops = [(BO.SPLIT_V, [0, 1, 2], [3, 4], _opts("SplitVOptions", NumSplits=2))]
    g = import_tflite(_write(tmp_path, build_tflite(tensors, ops, [0], [3, 4])))
    assert g.nodes[0].op is OpKind.SPLIT and g.nodes[0].attrs.sizes == (2, 4)


@pytest.mark.parametrize("name", ["ad01_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite",
                                  "str_ww_ref_model.tflite", "vww_96_int8.tflite"])
def test_imported_graph_executes_bit_exact_with_litert(name: str) -> None:
    """End to end: the imported attrs (padding, groups, quantization) reproduce the TFLite reference interpreter.

    Every tensor must match LiteRT's reference kernels exactly.
    """
    interp_mod = pytest.importorskip("ai_edge_litert.interpreter")
    from edgesim.kernels.executor import execute_all

    path = _model(name)
    # reference kernels: XNNPACK rounds requantization differently (off by one LSB on a few elements)
    it = interp_mod.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                                experimental_op_resolver_type=interp_mod.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    d_in = it.get_input_details()[0]
    g = _load(name)
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, size=tuple(d_in["shape"])).astype(np.int8)
    it.set_tensor(d_in["index"], x)
    it.invoke()
    ref = {d["name"]: d["index"] for d in it.get_tensor_details()}
    values = execute_all(g, {g.inputs[0]: x})
    for n in g.nodes:
        out = n.outputs[0]
        np.testing.assert_array_equal(np.asarray(values[out]), it.get_tensor(ref[out]), err_msg=n.name)
