"""Import state shared by the ONNX importer and its per-op handlers.

Shapes are computed while importing (node by node, with edgesim's own ``infer_node``), because several ONNX
semantics need them at import time: Reshape 0/-1, Flatten, Softmax before opset 13, Shape folding, depthwise
detection and auto_pad.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Node
from edgesim.ir.ops import OpKind
from edgesim.ir.shape_infer import infer_node
from edgesim.ir.tensor import QuantParams, Tensor

ONNX_DTYPES: dict[int, DType] = {
    TensorProto.FLOAT: DType.FP32,
    TensorProto.UINT8: DType.UINT8,
    TensorProto.INT8: DType.INT8,
    TensorProto.UINT16: DType.INT32,  # no unsigned 16-bit IR type; int32 holds every value
    TensorProto.INT16: DType.INT16,
    TensorProto.INT32: DType.INT32,
    TensorProto.INT64: DType.INT64,
    TensorProto.BOOL: DType.BOOL,
    TensorProto.FLOAT16: DType.FP16,
    TensorProto.DOUBLE: DType.FP64,
    TensorProto.UINT32: DType.INT64,
    TensorProto.UINT64: DType.INT64,
    TensorProto.BFLOAT16: DType.BF16,
}
# Newer element types exist only in newer onnx releases. Float8/float4/int2/int4 values are held on their
# type's grid (the executors round with ml_dtypes, ONNX's own reference); strings and complex stay refused.
for _name, _dt in (("INT4", DType.INT4), ("UINT4", DType.UINT4), ("INT2", DType.INT2), ("UINT2", DType.UINT2),
                   ("FLOAT8E4M3FN", DType.FP8_E4M3FN), ("FLOAT8E4M3FNUZ", DType.FP8_E4M3FNUZ),
                   ("FLOAT8E5M2", DType.FP8_E5M2), ("FLOAT8E5M2FNUZ", DType.FP8_E5M2FNUZ),
                   ("FLOAT8E8M0", DType.FP8_E8M0), ("FLOAT4E2M1", DType.FP4_E2M1)):
    if hasattr(TensorProto, _name):
        ONNX_DTYPES[getattr(TensorProto, _name)] = _dt


def elem_type_name(code: int) -> str:
    try:
        return str(TensorProto.DataType.Name(code))
    except ValueError:
        return f"type {code}"


class NeedsConstantError(UnsupportedOpError):
    """An op needs an input's value at import time (a shape, axes, pads, a quantization parameter) but it is
    computed at run time; ``input_name`` names it so a caller that knows the value can bind it
    (``import_onnx(..., bind={name: value})``), as an ahead-of-time compiler takes static shapes."""

    def __init__(self, message: str, *, input_name: str, file: str | None = None, node: str | None = None
                 ) -> None:
        super().__init__(message, file=file, node=node)
        self.input_name = input_name


def dtype_of_array(arr: np.ndarray) -> DType:
    try:
        return DType.from_numpy(arr.dtype)
    except ValueError:
        return DType.FP32


@dataclass
class OnnxNode:
    """A decoded ONNX node: attributes as python values, a guaranteed non-empty name."""

    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]
    proto: NodeProto | None = None  # the original node, for evaluating it when its inputs are constant

    @staticmethod
    def from_proto(proto: NodeProto, index: int) -> OnnxNode:
        attrs: dict[str, Any] = {}
        for a in proto.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", errors="replace")
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [x.decode("utf-8", errors="replace") for x in v]
            attrs[a.name] = v
        domain = proto.domain if proto.domain != "ai.onnx" else ""
        return OnnxNode(
            name=proto.name or f"{proto.op_type}_{index}",
            op_type=proto.op_type,
            domain=domain,
            inputs=tuple(proto.input),
            outputs=tuple(proto.output),
            attrs=attrs,
            proto=proto,
        )

    def input(self, i: int) -> str:
        """Name of input ``i``, or "" when it is absent (omitted optional)."""
        return self.inputs[i] if i < len(self.inputs) else ""

    def i(self, key: str, default: int) -> int:
        return int(self.attrs.get(key, default))

    def f(self, key: str, default: float) -> float:
        return float(self.attrs.get(key, default))

    def s(self, key: str, default: str) -> str:
        return str(self.attrs.get(key, default))

    def ints(self, key: str, default: Sequence[int] | None = None) -> list[int] | None:
        v = self.attrs.get(key)
        if v is None:
            return None if default is None else list(default)
        return [int(x) for x in v]


@dataclass
class Ctx:
    path: str
    opset: int
    graph_inputs: list[str]
    graph_outputs: set[str]
    onnx_dtypes: dict[str, DType]
    onnx_consumers: dict[str, list[OnnxNode]]
    tensors: dict[str, Tensor] = field(default_factory=dict)
    alias: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    produced: set[str] = field(default_factory=set)
    node_names: set[str] = field(default_factory=set)
    _fresh: int = 0

    # ----- tensor lookup -------------------------------------------------------------------------------------
    def name(self, raw: str) -> str:
        seen = 0
        while raw in self.alias and seen < 10_000:
            raw = self.alias[raw]
            seen += 1
        return raw

    def has(self, raw: str) -> bool:
        return bool(raw) and self.name(raw) in self.tensors

    def t(self, raw: str, node: OnnxNode | None = None) -> Tensor:
        name = self.name(raw)
        if name not in self.tensors:
            raise ModelError(f"reads tensor '{raw}', which nothing produces", file=self.path,
                             node=node.name if node else None)
        return self.tensors[name]

    def shape(self, raw: str) -> tuple[int, ...]:
        return self.t(raw).shape

    def rank(self, raw: str) -> int:
        return len(self.shape(raw))

    def const(self, raw: str) -> np.ndarray | None:
        """Constant contents of an input ("" -> None). Quantized constants return their integer data."""
        if not raw:
            return None
        name = self.name(raw)
        t = self.tensors.get(name)
        return None if t is None else t.data

    def need_const(self, raw: str, node: OnnxNode, what: str) -> np.ndarray:
        v = self.const(raw)
        if v is None:
            raise NeedsConstantError(
                f"{node.op_type} needs a constant {what} (input '{raw}' is computed at run time)",
                input_name=self.name(raw), file=self.path, node=node.name)
        return v

    def fresh(self, base: str) -> str:
        while True:
            self._fresh += 1
            cand = f"{base}__{self._fresh}"
            if cand not in self.tensors and cand not in self.alias:
                return cand

    # ----- building ------------------------------------------------------------------------------------------
    def add_const(self, name: str, data: np.ndarray, quant: QuantParams | None = None,
                  dtype: DType | None = None) -> str:
        data = np.asarray(data)
        self.tensors[name] = Tensor(name, tuple(int(s) for s in data.shape), dtype or dtype_of_array(data),
                                    quant, data)
        self.alias.pop(name, None)
        return name

    def set_alias(self, out_raw: str, src_raw: str) -> None:
        src = self.name(src_raw)
        if out_raw != src:
            self.alias[out_raw] = src

    def emit(self, op: OpKind, inputs: Sequence[str], outputs: Sequence[str], attrs: Any, name: str,
             dtypes: Sequence[DType | None] | None = None, quants: Sequence[QuantParams | None] | None = None,
             fused_from: tuple[str, ...] = ()) -> Node:
        """Add an IR node; inputs are resolved through aliases, output tensors get inferred shapes."""
        ins = tuple(self.name(i) if i else "" for i in inputs)
        for i in ins:
            if i and i not in self.tensors:
                raise ModelError(f"reads tensor '{i}', which nothing produces", file=self.path, node=name)
        node = Node(name=self._unique_node_name(name), op=op, inputs=ins, outputs=tuple(outputs), attrs=attrs,
                    fused_from=fused_from)
        in_tensors = [self.tensors[i] if i else None for i in ins]
        shapes = infer_node(node, in_tensors)
        first = next((t for t in in_tensors if t is not None and not t.is_const), None) or next(
            (t for t in in_tensors if t is not None), None)
        for k, (out, shape) in enumerate(zip(outputs, shapes, strict=True)):
            dt = dtypes[k] if dtypes and k < len(dtypes) else None
            if dt is None:
                dt = self.onnx_dtypes.get(out) or (first.dtype if first is not None else DType.FP32)
            q = quants[k] if quants and k < len(quants) else None
            if q is None and first is not None and first.quant is not None and dt == first.dtype \
                    and op.op_class.value in ("view", "data", "pool") and not first.quant.per_channel:
                q = first.quant  # data movement keeps the input's quantization (as TFLite requires)
            self.tensors[out] = Tensor(out, tuple(int(d) for d in shape), dt, q)
            self.alias.pop(out, None)
            self.produced.add(out)
        self.nodes.append(node)
        return node

    def _unique_node_name(self, name: str) -> str:
        cand, k = name, 0
        while cand in self.node_names:
            k += 1
            cand = f"{name}_{k}"
        self.node_names.add(cand)
        return cand

    def retag(self, raw: str, dtype: DType, quant: QuantParams | None) -> str:
        """Give an existing tensor a (new) quantization; constants keep their data."""
        name = self.name(raw)
        t = self.tensors[name]
        self.tensors[name] = Tensor(name, t.shape, dtype, quant, t.data)
        return name


def quant_params(scale: np.ndarray, zero_point: np.ndarray | None, axis: int | None, rank: int) -> QuantParams:
    """QuantParams from ONNX scale/zero-point arrays: 1-D arrays of length > 1 are per-axis."""
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    if zero_point is None:
        z = np.zeros(s.shape, dtype=np.int64)
    else:
        z = np.asarray(zero_point).astype(np.int64).reshape(-1)
        if z.size == 1 and s.size > 1:
            z = np.repeat(z, s.size)
    if s.size == 1:
        return QuantParams((float(s[0]),), (int(z[0]),), None)
    ax = 1 if axis is None else axis
    if rank:
        ax %= rank
    return QuantParams(tuple(float(v) for v in s), tuple(int(v) for v in z), ax)


def transpose_quant(q: QuantParams | None, perm: Sequence[int]) -> QuantParams | None:
    """Quantization of a constant after its axes are permuted by ``perm``."""
    if q is None or q.axis is None:
        return q
    return QuantParams(q.scales, q.zero_points, list(perm).index(q.axis))


def array_from_tensor_proto(proto: TensorProto, path: str) -> np.ndarray:
    try:
        return numpy_helper.to_array(proto)
    except Exception as e:  # noqa: BLE001 - any decoding failure is a corrupt initializer
        raise ModelError(f"cannot decode initializer '{proto.name}': {e}", file=path) from None
