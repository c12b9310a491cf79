"""Write tiny single-operator int8 TFLite flatbuffers (raw flatbuffers builder, field slots from schema.fbs).

Used to check kernels that the MLPerf Tiny models do not exercise against the interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np

INT8, INT32 = 9, 2  # tflite.TensorType


@dataclass
class TensorSpec:
    shape: tuple[int, ...]
    scale: float | tuple[float, ...] | None = None
    zero_point: int = 0
    dtype: int = INT8
    data: np.ndarray | None = None
    quantized_dimension: int = 0


@dataclass
class OpSpec:
    builtin: int
    inputs: list[int]
    outputs: list[int]
    options_type: int = 0
    # (slot, kind, value) scalars of the options table; kind "b" byte, "i" int32, "B" bool, "f" float32
    options: list[tuple[int, str, float]] = field(default_factory=list)
    version: int = 1  # operator-code version (some builtins register from version 2 only)


def _vec(b: flatbuffers.Builder, kind: str, values: list) -> int:
    width = {"i": 4, "f": 4, "q": 8, "B": 1, "u": 4}[kind]
    b.StartVector(width, len(values), width)
    for v in reversed(values):
        {"i": b.PrependInt32, "f": b.PrependFloat32, "q": b.PrependInt64, "B": b.PrependUint8,
         "u": b.PrependUint32}[kind](v)
    return b.EndVector()


def build_model(tensors: list[TensorSpec], op: OpSpec, inputs: list[int], outputs: list[int]) -> bytes:
    b = flatbuffers.Builder(1024)
    # buffers: 0 is the empty sentinel, then one per constant tensor
    buf_data: list[bytes | None] = [None]
    buf_index: list[int] = []
    for t in tensors:
        if t.data is None:
            buf_index.append(0)
        else:
            buf_index.append(len(buf_data))
            buf_data.append(np.ascontiguousarray(t.data).tobytes())
    buf_offsets = []
    for data in buf_data:
        vec = _vec(b, "B", list(data)) if data else None
        b.StartObject(3)
        if vec is not None:
            b.PrependUOffsetTRelativeSlot(0, vec, 0)
        buf_offsets.append(b.EndObject())
    t_offsets = []
    for i, t in enumerate(tensors):
        name = b.CreateString(f"t{i}")
        shape = _vec(b, "i", list(t.shape))
        quant = None
        if t.scale is not None:
            scales = list(t.scale) if isinstance(t.scale, tuple) else [t.scale]
            sc = _vec(b, "f", scales)
            zp = _vec(b, "q", [t.zero_point] * len(scales))
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(2, sc, 0)
            b.PrependUOffsetTRelativeSlot(3, zp, 0)
            b.PrependInt32Slot(6, t.quantized_dimension, 0)
            quant = b.EndObject()
        b.StartObject(8)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, t.dtype, 0)
        b.PrependUint32Slot(2, buf_index[i], 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(4, quant, 0)
        t_offsets.append(b.EndObject())
    opts = None
    if op.options_type:
        b.StartObject(max([s for s, _, _ in op.options] + [0]) + 1)
        for slot, kind, value in op.options:
            {"b": b.PrependInt8Slot, "i": b.PrependInt32Slot, "B": b.PrependBoolSlot,
             "f": b.PrependFloat32Slot}[kind](slot, value, 0)
        opts = b.EndObject()
    op_in, op_out = _vec(b, "i", op.inputs), _vec(b, "i", op.outputs)
    b.StartObject(5)
    b.PrependUint32Slot(0, 0, 0)
    b.PrependUOffsetTRelativeSlot(1, op_in, 0)
    b.PrependUOffsetTRelativeSlot(2, op_out, 0)
    if opts is not None:
        b.PrependUint8Slot(3, op.options_type, 0)
        b.PrependUOffsetTRelativeSlot(4, opts, 0)
    op_off = b.EndObject()
    b.StartObject(4)
    b.PrependInt8Slot(0, min(op.builtin, 127), 0)
    b.PrependInt32Slot(2, op.version, 1)
    b.PrependInt32Slot(3, op.builtin, 0)
    code_off = b.EndObject()

    def table_vec(offs: list[int]) -> int:
        b.StartVector(4, len(offs), 4)
        for o in reversed(offs):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    tensors_vec = table_vec(t_offsets)
    ops_vec = table_vec([op_off])
    sg_in, sg_out = _vec(b, "i", inputs), _vec(b, "i", outputs)
    sg_name = b.CreateString("main")
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, tensors_vec, 0)
    b.PrependUOffsetTRelativeSlot(1, sg_in, 0)
    b.PrependUOffsetTRelativeSlot(2, sg_out, 0)
    b.PrependUOffsetTRelativeSlot(3, ops_vec, 0)
    b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    sg_off = b.EndObject()
    codes_vec = table_vec([code_off])
    sgs_vec = table_vec([sg_off])
    bufs_vec = table_vec(buf_offsets)
    desc = b.CreateString("edgesim test")
    b.StartObject(5)
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(1, codes_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, sgs_vec, 0)
    b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, bufs_vec, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=b"TFL3")
    return bytes(b.Output())
