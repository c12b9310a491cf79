"""TFLite importer: a ``.tflite`` flatbuffer (read with the PyPI ``tflite`` bindings) -> edgesim IR ``Graph`` (NHWC).

Subgraph 0 is imported. Tensors keep their TFLite dtype and quantization (per-tensor or per-channel with
``quantized_dimension`` as the axis); constant buffers become numpy arrays, weights stay in TFLite layout (OHWI,
depthwise 1HWC). Each builtin maps through one handler in ``tflite_ops``. Everything read from the file is
validated (indices, buffer sizes against shapes), and any failure of the flatbuffer reader on a damaged file is
turned into a ModelError naming the file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator as BO

from edgesim.errors import EdgesimError, ModelError, ShapeError, UnsupportedOpError
from edgesim.frontends.tflite_ops import HANDLERS as _CORE_HANDLERS
from edgesim.frontends.tflite_ops import Emit, OpCtx
from edgesim.frontends.tflite_ops_ext import EXT_HANDLERS
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.shape_infer import infer_node
from edgesim.ir.tensor import QuantParams, Tensor
from edgesim.ir.verify import verify_graph

HANDLERS = {**_CORE_HANDLERS, **EXT_HANDLERS}
_TT = tflite.TensorType
_DTYPES: dict[int, DType] = {
    _TT.FLOAT32: DType.FP32,
    _TT.FLOAT16: DType.FP16,
    _TT.INT32: DType.INT32,
    _TT.UINT8: DType.UINT8,
    _TT.INT64: DType.INT64,
    _TT.BOOL: DType.BOOL,
    _TT.INT16: DType.INT16,
    _TT.INT8: DType.INT8,
    _TT.FLOAT64: DType.FP64,
    _TT.INT4: DType.INT4,
    _TT.BFLOAT16: DType.BF16,
}
_OP_NAMES: dict[int, str] = {v: k for k, v in vars(BO).items() if not k.startswith("_") and isinstance(v, int)}
_TYPE_NAMES: dict[int, str] = {v: k for k, v in vars(_TT).items() if not k.startswith("_") and isinstance(v, int)}
_FILE_IDENTIFIER = b"TFL3"


def import_tflite(path: str | Path, input_shape: tuple[int, ...] | None = None) -> Graph:
    """Import subgraph 0 of a TFLite model as an NHWC graph.

    ``input_shape`` replaces the shape of the (first) graph input, and every downstream shape is re-inferred.
    Raises ModelError (file missing or corrupt), UnsupportedOpError (listing every unsupported op type), or
    ShapeError (the override does not fit the model).
    """
    p = Path(path)
    buf = _read(p)
    shape = _check_override(input_shape, p)
    try:
        return _Importer(buf, p, shape).run()
    except EdgesimError as e:
        if e.file is None:
            e.file = str(p)
            e.args = (e.one_line(),)
        if isinstance(e, ShapeError) and shape is None:
            # The file's own shapes contradict its ops: the model is broken, not the user's request.
            raise ModelError(f"inconsistent shapes: {e.message}", file=str(p), node=e.node) from None
        raise
    except RecursionError:
        raise ModelError("corrupt TFLite flatbuffer (nesting too deep)", file=str(p)) from None
    except Exception as e:  # noqa: BLE001 - the flatbuffer reader fails in many ways on damaged bytes
        raise ModelError(f"corrupt TFLite flatbuffer ({type(e).__name__}: {e})", file=str(p)) from None


def _read(p: Path) -> bytes:
    if not p.exists():
        raise ModelError("model file not found", file=str(p))
    if p.is_dir():
        raise ModelError("expected a TFLite file, got a directory", file=str(p))
    try:
        buf = p.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model file: {e.strerror}", file=str(p)) from None
    if len(buf) == 0:
        raise ModelError("model file is empty", file=str(p))
    if len(buf) < 8:
        raise ModelError(f"file is too short ({len(buf)} bytes) to be a TFLite model", file=str(p))
    if buf[4:8] != _FILE_IDENTIFIER:
        raise ModelError(f"not a TFLite flatbuffer (identifier {buf[4:8]!r}, expected b'TFL3')", file=str(p))
    return buf


def _check_override(shape: tuple[int, ...] | None, p: Path) -> tuple[int, ...] | None:
    if shape is None:
        return None
    shape = tuple(shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in shape):
        raise ShapeError(f"input shape {shape} must be positive integers", file=str(p), field="input_shape")
    return tuple(int(d) for d in shape)


class _Importer:
    def __init__(self, buf: bytes, path: Path, input_shape: tuple[int, ...] | None = None) -> None:
        self.buf = buf
        self.path = path
        # With an override, shapes are re-inferred op by op during import, so that handlers deriving attrs from
        # shapes (SAME padding, split sizes, squeeze) see the new shapes exactly as TFLite would at runtime.
        self.input_shape = input_shape
        self.model: Any = tflite.Model.GetRootAsModel(buf, 0)
        self.tensors: dict[str, Tensor] = {}
        self.names: list[str] = []  # TFLite tensor index -> unique IR name
        self.used_names: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------------------------
    def _count(self, n: int, what: str) -> int:
        # Every vector element takes at least 4 bytes, so a longer vector means a damaged length field.
        if n < 0 or n * 4 > len(self.buf):
            raise ModelError(f"{what} count {n} is impossible for a {len(self.buf)}-byte file")
        return n

    def _unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.used_names:
            name = f"{base}_{k}"
            k += 1
        self.used_names.add(name)
        return name

    def _tensor_ref(self, idx: int, what: str) -> str:
        if idx == -1:
            return ""
        if not 0 <= idx < len(self.names):
            raise ModelError(f"{what} refers to tensor index {idx}, but the subgraph has {len(self.names)}")
        return self.names[idx]

    # -- tensors ---------------------------------------------------------------------------------------------
    def _quant(self, t: Any, name: str, shape: tuple[int, ...]) -> QuantParams | None:
        q = t.Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        scales = tuple(float(s) for s in q.ScaleAsNumpy())
        zps = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scales)
        if len(zps) == 1 and len(scales) > 1:
            zps = zps * len(scales)
        if len(zps) != len(scales):
            raise ModelError(f"tensor '{name}' has {len(scales)} scales but {len(zps)} zero points")
        if not all(math.isfinite(s) for s in scales):
            raise ModelError(f"tensor '{name}' has a non-finite quantization scale")
        if len(scales) == 1:
            return QuantParams(scales, zps, None)
        axis = int(q.QuantizedDimension())
        if not 0 <= axis < len(shape) or shape[axis] != len(scales):
            raise ModelError(f"tensor '{name}' has {len(scales)} scales for axis {axis} of shape {shape}")
        return QuantParams(scales, zps, axis)

    def _data(self, t: Any, name: str, dtype: DType, shape: tuple[int, ...]) -> np.ndarray | None:
        bidx = int(t.Buffer())
        nbuf = self.model.BuffersLength()
        if not 0 <= bidx < nbuf:
            raise ModelError(f"tensor '{name}' refers to buffer {bidx}, but the model has {nbuf}")
        if bidx == 0:
            return None  # buffer 0 is the empty sentinel
        b = self.model.Buffers(bidx)
        offset, size = int(b.Offset()), int(b.Size())
        if offset > 1:  # large models keep buffers after the flatbuffer, addressed from the file start
            if offset + size > len(self.buf):
                raise ModelError(f"buffer {bidx} of tensor '{name}' runs past the end of the file")
            raw = self.buf[offset:offset + size]
        elif b.DataLength() == 0:
            return None
        else:
            raw = b.DataAsNumpy().tobytes()
        numel = math.prod(shape) if shape else 1
        expected = dtype.nbytes(numel)
        if len(raw) != expected:
            raise ModelError(
                f"tensor '{name}' of shape {shape} ({dtype.label}) needs {expected} bytes, buffer {bidx} has {len(raw)}"
            )
        if dtype is DType.INT4:
            packed = np.frombuffer(raw, dtype=np.uint8)
            nib = np.stack([packed & 0x0F, packed >> 4], axis=1).reshape(-1)[:numel].astype(np.int8)
            return np.where(nib > 7, nib - 16, nib).astype(np.int8).reshape(shape)
        arr = np.frombuffer(raw, dtype=dtype.numpy().newbyteorder("<")).astype(dtype.numpy())
        return arr.reshape(shape)

    def _read_tensors(self, sg: Any) -> None:
        n = self._count(sg.TensorsLength(), "tensor")
        for i in range(n):
            t = sg.Tensors(i)
            raw_name = t.Name()
            base = raw_name.decode("utf-8", errors="replace") if raw_name else f"tensor_{i}"
            self.names.append(self._unique(base or f"tensor_{i}"))
        for i in range(n):
            t = sg.Tensors(i)
            name = self.names[i]
            code = int(t.Type())
            if code not in _DTYPES:
                raise UnsupportedOpError(f"tensor '{name}' has unsupported type {_TYPE_NAMES.get(code, code)}")
            dtype = _DTYPES[code]
            shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            if any(d < 0 for d in shape):
                raise ModelError(f"tensor '{name}' has a negative dimension in shape {shape}")
            data = self._data(t, name, dtype, shape)
            self.tensors[name] = Tensor(name, shape, dtype, self._quant(t, name, shape), data)

    # -- operators -------------------------------------------------------------------------------------------
    def _opcode(self, op: Any, i: int) -> tuple[int, str]:
        n = self.model.OperatorCodesLength()
        idx = int(op.OpcodeIndex())
        if not 0 <= idx < n:
            raise ModelError(f"operator {i} uses opcode index {idx}, but the model has {n} opcodes")
        oc = self.model.OperatorCodes(idx)
        # Schema >= 2.4 moved codes > 127 to builtin_code; old files only fill deprecated_builtin_code.
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        if code == BO.CUSTOM:
            custom = oc.CustomCode()
            return code, "CUSTOM:" + (custom.decode("utf-8", errors="replace") if custom else "?")
        return code, _OP_NAMES.get(code, f"BUILTIN_{code}")

    def _new_tensor(self, base: str, like: Tensor) -> str:
        name = self._unique(base)
        self.tensors[name] = Tensor(name, like.shape, like.dtype, like.quant, None)
        return name

    def run(self) -> Graph:
        m = self.model
        nsg = self._count(m.SubgraphsLength(), "subgraph")
        if nsg == 0:
            raise ModelError("model has no subgraphs")
        self._count(m.BuffersLength(), "buffer")
        self._count(m.OperatorCodesLength(), "opcode")
        sg = m.Subgraphs(0)
        self._read_tensors(sg)
        if self.input_shape is not None:
            self._apply_override(sg)
        n_ops = self._count(sg.OperatorsLength(), "operator")
        ops: list[tuple[Any, int, str, list[str], list[str]]] = []
        unsupported: dict[str, str] = {}
        for i in range(n_ops):
            op = sg.Operators(i)
            code, op_name = self._opcode(op, i)
            ins = [self._tensor_ref(int(x), f"operator {i} ({op_name}) input")
                   for x in (op.InputsAsNumpy() if op.InputsLength() else [])]
            outs = [self._tensor_ref(int(x), f"operator {i} ({op_name}) output")
                    for x in (op.OutputsAsNumpy() if op.OutputsLength() else [])]
            if not outs or any(not o for o in outs):
                raise ModelError(f"operator {i} ({op_name}) has a missing output")
            if code not in HANDLERS:
                unsupported.setdefault(op_name, outs[0])
            ops.append((op, code, op_name, ins, outs))
        if unsupported:
            listed = ", ".join(f"{k} (e.g. node '{v}')" for k, v in unsupported.items())
            raise UnsupportedOpError(f"unsupported TFLite ops: {listed}")
        nodes: list[Node] = []
        node_names: set[str] = set()
        for op, code, op_name, ins, outs in ops:
            ctx = OpCtx(op, op_name, ins, outs, self.tensors, self._new_tensor)
            for e in HANDLERS[code](ctx):
                node = self._node(e, node_names)
                nodes.append(node)
                if self.input_shape is not None:
                    self._infer(node)
        g_in = [self._tensor_ref(int(x), "subgraph input") for x in (sg.InputsAsNumpy() if sg.InputsLength() else [])]
        g_out = [self._tensor_ref(int(x), "subgraph output")
                 for x in (sg.OutputsAsNumpy() if sg.OutputsLength() else [])]
        if any(not x for x in g_in + g_out):
            raise ModelError("subgraph lists tensor index -1 as an input or output")
        g_in = [x for x in g_in if not self.tensors[x].is_const]
        referenced = set(g_in) | set(g_out) | {t for n in nodes for t in n.inputs + n.outputs if t}
        tensors = {k: v for k, v in self.tensors.items() if k in referenced}
        graph = Graph.build(self.path.stem, nodes, tensors, g_in, g_out, source_format="tflite")
        return verify_graph(graph)

    def _apply_override(self, sg: Any) -> None:
        assert self.input_shape is not None
        if not sg.InputsLength():
            raise ModelError("model has no graph input to reshape")
        name = self._tensor_ref(int(sg.Inputs(0)), "subgraph input")
        old = self.tensors[name]
        if len(self.input_shape) != len(old.shape):
            raise ShapeError(f"input shape {self.input_shape} has rank {len(self.input_shape)} but input '{name}' "
                             f"is {old.shape} (NHWC)", field="input_shape")
        self.tensors[name] = old.with_shape(self.input_shape)

    def _infer(self, node: Node) -> None:
        ins = [self.tensors[i] if i else None for i in node.inputs]
        for o, shape in zip(node.outputs, infer_node(node, ins), strict=True):
            if any(d < 0 for d in shape):
                raise ShapeError(f"output '{o}' would have negative shape {shape}", node=node.name)
            if not self.tensors[o].is_const:
                self.tensors[o] = self.tensors[o].with_shape(shape)

    def _node(self, e: Emit, used: set[str]) -> Node:
        base = e.outputs[0]
        name, k = base, 1
        while name in used:
            name = f"{base}_{k}"
            k += 1
        used.add(name)
        return Node(name=name, op=e.op, inputs=e.inputs, outputs=e.outputs, attrs=e.attrs)
