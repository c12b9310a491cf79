"""ONNX importer: float, QDQ and QLinear/Integer quantized models (opset 7 up to the installed onnx's newest) -> edgesim IR ``Graph`` (NCHW).

Pipeline: load and validate the protobuf -> collect constants (initializers, Constant nodes) -> walk nodes in
topological order, folding every node whose inputs are all constant (and Shape/Size of known shapes) with the onnx
reference evaluator, mapping the rest with per-op handlers (``onnx_ops``, ``onnx_ops_ext``, ...) or the quantization handlers
(``onnx_quant``) ->
``infer_shapes`` + ``verify_graph``.

Quantization follows the TFLite picture: DequantizeLinear of a constant integer weight becomes that weight with
QuantParams (data stays integer); an activation QuantizeLinear -> DequantizeLinear pair becomes a quantized
activation tensor (the producer's output is re-typed int8/uint8), so a QDQ conv is one CONV2D over int8 tensors.
QuantizeLinear of a graph input and DequantizeLinear into a graph output stay as QUANTIZE / DEQUANTIZE nodes.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto

from edgesim.errors import EdgesimError, ModelError, UnsupportedOpError
from edgesim.frontends.onnx_attention import attention, rotary_embedding
from edgesim.frontends.onnx_ctx import (
    ONNX_DTYPES,
    Ctx,
    NeedsConstantError,
    OnnxNode,
    array_from_tensor_proto,
    elem_type_name,
    transpose_quant,
)
from edgesim.frontends.onnx_detect import non_max_suppression, roi_align
from edgesim.frontends.onnx_einsum import einsum
from edgesim.frontends.onnx_functions import expand_functions, without_large_initializers
from edgesim.frontends.onnx_ops import FLOAT_HANDLERS, Handler
from edgesim.frontends.onnx_ops_ext import EXT_HANDLERS
from edgesim.frontends.onnx_quant import QUANT_HANDLERS
from edgesim.frontends.onnx_rnn import gru, lstm, rnn
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, stable_toposort
from edgesim.ir.ops import OpKind
from edgesim.ir.shape_infer import infer_shapes
from edgesim.ir.verify import verify_graph

# Ops that only ever compute constants here: they must fold, there is no IR op for them.
_FOLD_ONLY = {"Constant", "ConstantOfShape", "Shape", "Size", "Range", "NonZero", "EyeLike"}
_NEVER_FOLD = {"QuantizeLinear", "DequantizeLinear", "RandomNormal", "RandomUniform", "RandomNormalLike",
               "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"}


# ----- loading ----------------------------------------------------------------------------------------------
def _load(path: Path) -> ModelProto:
    p = str(path)
    if not path.exists():
        raise ModelError("model file not found", file=p)
    if path.is_dir():
        raise ModelError("expected an ONNX file, got a directory", file=p)
    if path.stat().st_size == 0:
        raise ModelError("model file is empty", file=p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = onnx.load(p)
    except Exception as e:  # noqa: BLE001 - protobuf raises several unrelated types on garbage input
        raise ModelError(f"not a readable ONNX model ({type(e).__name__}: {e})", file=p) from None
    if not isinstance(model, ModelProto) or not model.HasField("graph"):
        raise ModelError("not an ONNX model (no graph)", file=p)
    if len(model.graph.node) == 0 or len(model.graph.output) == 0:
        raise ModelError("ONNX graph has no nodes or no outputs", file=p)
    return model


def _opset(model: ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1 if not model.opset_import else 13


# The oldest default-domain opset the op mappings read: before 7, Upsample, BatchNormalization and others carry
# attributes (spatial, is_test, consumed_inputs) the mappings do not read. Newer opsets go up to what the installed
# onnx defines (its function bodies expand the ops edgesim has no mapping of).
OLDEST_OPSET = 7
_OPSET_NOTED: set[str] = set()


def _checked_opset(model: ModelProto, path: str) -> int:
    """The model's opset; one stderr notice per file when it is older than ``OLDEST_OPSET`` or newer than the
    installed onnx knows, so such an answer is flagged, not silent."""
    opset = _opset(model)
    lo, hi = OLDEST_OPSET, onnx.defs.onnx_opset_version()
    if not lo <= opset <= hi and path not in _OPSET_NOTED:
        _OPSET_NOTED.add(path)
        print(f"edgesim: {path}: ONNX opset {opset} is outside the opsets {lo}-{hi} the importer supports; ops are "
              f"read as their opset-{opset} definitions where they exist (check the result)", file=sys.stderr)
    return opset


# Initializers above this many elements are declared to shape inference by type and shape only: it needs the
# values of small ones (Reshape targets, Resize scales), never of weights, and serializing megabytes of weights
# into it cost more than the rest of an import (60 of 250 ms for a MobileNetV3).
def _value_dtypes(model: ModelProto, path: str) -> dict[str, DType]:
    """Element types of every named value ONNX shape inference can type (used for output tensor dtypes).

    A value of a type the IR cannot hold (strings, complex, float8, float4, int2) is refused here, naming it:
    computing it as some other type would give wrong numbers."""
    try:
        inferred = onnx.shape_inference.infer_shapes(without_large_initializers(model), strict_mode=False)
        infos = list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)
    except Exception:  # noqa: BLE001 - inference is only a hint; our own inference follows
        infos = list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)
    out: dict[str, DType] = {}
    for vi in infos:
        if not vi.type.HasField("tensor_type"):
            raise UnsupportedOpError(f"value '{vi.name}' is not a tensor (sequence, map or optional)", file=path)
        code = vi.type.tensor_type.elem_type
        if code:
            dt = ONNX_DTYPES.get(code)
            if dt is None:
                raise UnsupportedOpError(f"value '{vi.name}' has element type {elem_type_name(code)}, which "
                                         f"edgesim does not model", file=path)
            out[vi.name] = dt
    for t in model.graph.initializer:
        if t.data_type not in ONNX_DTYPES:
            raise UnsupportedOpError(f"initializer '{t.name}' has element type {elem_type_name(t.data_type)}, "
                                     f"which edgesim does not model", file=path)
    return out


def _toposort(nodes: list[OnnxNode], available: set[str], path: str) -> list[OnnxNode]:
    """Stable Kahn sort (ONNX requires sorted nodes, but some exporters do not comply); names dangling inputs."""
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            if o:
                producer[o] = i
    deps: list[set[int]] = []
    for n in nodes:
        d: set[int] = set()
        for inp in n.inputs:
            if not inp:
                continue
            if inp in producer:
                d.add(producer[inp])
            elif inp not in available:
                raise ModelError(f"reads tensor '{inp}', which nothing produces", file=path, node=n.name)
        deps.append(d)
    order = stable_toposort(deps)
    if len(order) != len(nodes):
        raise ModelError("graph has a cycle", file=path)
    return [nodes[i] for i in order]


def _input_shape(ctx: Ctx, vi: onnx.ValueInfoProto, override: tuple[int, ...] | None) -> tuple[int, ...]:
    tt = vi.type.tensor_type
    dims = list(tt.shape.dim) if tt.HasField("shape") else []
    if override is not None:
        if dims and len(dims) != len(override):
            raise ModelError(f"input_shape {override} has rank {len(override)} but input '{vi.name}' has rank "
                             f"{len(dims)}", file=ctx.path, field="input_shape")
        if any(int(d) <= 0 for d in override):
            raise ModelError(f"input_shape {override} must be positive", file=ctx.path, field="input_shape")
        return tuple(int(d) for d in override)
    if not tt.HasField("shape"):
        raise ModelError(f"input '{vi.name}' has no shape; pass input_shape", file=ctx.path, field="input_shape")
    shape = []
    for k, d in enumerate(dims):
        # a 0 batch is how some exporters spell "dynamic"; elsewhere 0 is an empty tensor (refused if read)
        if d.HasField("dim_value") and (d.dim_value > 0 or (d.dim_value == 0 and k > 0)):
            shape.append(int(d.dim_value))
        elif k == 0:
            shape.append(1)  # dynamic batch
        else:
            raise ModelError(f"input '{vi.name}' has dynamic dimension {k} ('{d.dim_param or '?'}'); pass "
                             f"input_shape", file=ctx.path, field="input_shape")
    return tuple(shape)


# ----- constant folding -------------------------------------------------------------------------------------
def _try_fold(ctx: Ctx, n: OnnxNode) -> bool:
    """Evaluate ``n`` now if its result is known at import time; True when folded."""
    if n.domain != "" or n.op_type in _NEVER_FOLD:
        return False
    if n.op_type in ("Shape", "Size") and ctx.has(n.input(0)):
        shape = ctx.shape(n.input(0))
        if n.op_type == "Size":
            ctx.add_const(n.outputs[0], np.array(math.prod(shape), dtype=np.int64))
            return True
        rank = len(shape)
        start, end = n.i("start", 0), n.attrs.get("end", rank)
        ctx.add_const(n.outputs[0], np.array(shape[slice(start, int(end))], dtype=np.int64))
        return True
    ins = [i for i in n.inputs if i]
    if any(ctx.const(i) is None for i in ins):
        return False
    if any(ctx.t(i).quant is not None for i in ins):
        return _fold_quantized_view(ctx, n)
    big = 0
    for i in ins:
        arr = ctx.const(i)
        big += 0 if arr is None else int(arr.size)
    if n.op_type not in _FOLD_ONLY and n.op_type != "Constant" and big > 4_000_000:
        return False  # huge weight transforms stay ops rather than doubling memory at import
    from onnx.reference import ReferenceEvaluator

    feeds = {i: ctx.const(i) for i in ins}
    proto = _proto(n)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            results: list[Any] = list(ReferenceEvaluator(_wrap(proto, ctx.opset)).run(None, feeds))
    except Exception as e:  # noqa: BLE001 - folding failure on corrupt constants is a model error
        raise ModelError(f"cannot evaluate constant {n.op_type}: {type(e).__name__}: {e}", file=ctx.path,
                         node=n.name) from None
    for out, val in zip(n.outputs, results, strict=False):
        if out:
            ctx.add_const(out, np.asarray(val))
    return True


def _proto(n: OnnxNode) -> onnx.NodeProto:
    proto = onnx.NodeProto()
    if n.proto is not None:
        proto.CopyFrom(n.proto)
    else:
        proto.op_type, proto.domain = n.op_type, n.domain
        proto.input.extend(n.inputs)
        proto.output.extend(n.outputs)
    return proto


def _wrap(proto: onnx.NodeProto, opset: int) -> ModelProto:
    """A one-node model, so the evaluator picks the operator version of the model's opset (a bare node gets the
    newest one, whose inputs/attributes may differ)."""
    vi = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph([proto], "fold", [vi(i, 0, None) for i in proto.input if i],
                                   [vi(o, 0, None) for o in proto.output if o])
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])


def _fold_quantized_view(ctx: Ctx, n: OnnxNode) -> bool:
    """Transpose/Reshape/Squeeze/Unsqueeze/Identity of a quantized constant keeps the integer data and params."""
    t = ctx.t(n.inputs[0])
    assert t.data is not None
    q = t.quant
    if n.op_type == "Transpose":
        perm = n.ints("perm") or list(range(t.data.ndim - 1, -1, -1))
        data, q = np.transpose(t.data, perm), transpose_quant(q, perm)
    elif n.op_type in ("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten") and (q is None or not q.per_channel):
        if n.op_type == "Identity":
            data = t.data
        else:
            ctx_tmp = _shape_only_target(ctx, n, t.data)
            if ctx_tmp is None:
                return False
            data = t.data.reshape(ctx_tmp)
    else:
        return False
    ctx.add_const(n.outputs[0], np.ascontiguousarray(data), q, t.dtype)
    return True


def _shape_only_target(ctx: Ctx, n: OnnxNode, data: np.ndarray) -> tuple[int, ...] | None:
    from onnx.reference import ReferenceEvaluator

    proto = _proto(n)
    feeds: dict[str, np.ndarray | None] = {}
    for k, name in enumerate(n.inputs):
        if name:
            feeds[name] = np.zeros(data.shape, np.float32) if k == 0 else ctx.const(name)
    try:
        results: list[Any] = list(ReferenceEvaluator(_wrap(proto, ctx.opset)).run(None, feeds))
        out = results[0]
    except Exception:  # noqa: BLE001
        return None
    return tuple(int(d) for d in np.asarray(out).shape)


_MORE: dict[str, Handler] = {"Attention": attention, "RotaryEmbedding": rotary_embedding, "Einsum": einsum,
                             "LSTM": lstm, "GRU": gru, "RNN": rnn, "NonMaxSuppression": non_max_suppression,
                             "RoiAlign": roi_align}


def _handler(n: OnnxNode) -> Handler | None:
    h = QUANT_HANDLERS.get((n.domain, n.op_type))
    if h is None and n.domain == "":
        h = FLOAT_HANDLERS.get(n.op_type) or EXT_HANDLERS.get(n.op_type) or _MORE.get(n.op_type)
    return h


# ----- entry point ------------------------------------------------------------------------------------------
def import_onnx(path: str | Path, input_shape: tuple[int, ...] | None = None,
                bind: Mapping[str, np.ndarray] | None = None) -> Graph:
    """Import an ONNX model as an NCHW edgesim graph (weights OIHW as stored, source_format "onnx").

    ``input_shape`` overrides the first graph input's shape (in the model's own layout, e.g. (1, 3, 299, 299));
    without it a dynamic first dimension becomes 1 and any other dynamic dimension is an error naming the input.
    ``bind`` gives fixed values for named graph inputs, which then import as constants (shape, axes or
    quantization-parameter inputs that an op needs at import time; ``NeedsConstantError.input_name`` names them).
    Raises ModelError (corrupt or inconsistent file) or UnsupportedOpError (listing every unsupported op type).
    """
    p = Path(path)
    model = _load(p)
    try:
        return _import(model, str(p), input_shape, dict(bind or {}))
    except ModelError:
        raise
    except EdgesimError as e:
        raise ModelError(e.message, file=e.file or str(p), field=e.field, node=e.node) from None
    except RecursionError:
        raise ModelError("model is too deeply nested", file=str(p)) from None
    except Exception as e:  # noqa: BLE001 - a corrupt model must never surface as a bare traceback
        raise ModelError(f"cannot import ({type(e).__name__}: {e})", file=str(p)) from None


def _import(model: ModelProto, path: str, input_shape: tuple[int, ...] | None, bind: dict[str, np.ndarray]
            ) -> Graph:
    model = expand_functions(model, lambda pr: _handler(OnnxNode.from_proto(pr, 0)) is not None or (
        pr.domain == "" and pr.op_type in _FOLD_ONLY), _opset(model))
    g = model.graph
    nodes = [OnnxNode.from_proto(pr, i) for i, pr in enumerate(g.node)]
    _check_supported(nodes, path)
    init_names = {t.name for t in g.initializer}
    unknown = sorted(set(bind) - {vi.name for vi in g.input})
    if unknown:
        raise ModelError(f"bind names {unknown}, which are not graph inputs", file=path, field="bind")
    real_inputs = [vi for vi in g.input if vi.name not in init_names and vi.name not in bind]
    if not real_inputs:
        raise ModelError("graph has no (non-constant) inputs", file=path)
    consumers: dict[str, list[OnnxNode]] = {}
    for n in nodes:
        for i in n.inputs:
            if i:
                consumers.setdefault(i, []).append(n)
    ctx = Ctx(path=path, opset=_checked_opset(model, path), graph_inputs=[vi.name for vi in real_inputs],
              graph_outputs={o.name for o in g.output}, onnx_dtypes=_value_dtypes(model, path),
              onnx_consumers=consumers)
    for t in g.initializer:
        ctx.add_const(t.name, array_from_tensor_proto(t, path))
    for name, value in bind.items():
        ctx.add_const(name, np.asarray(value))
    for k, vi in enumerate(real_inputs):
        shape = _input_shape(ctx, vi, input_shape if k == 0 else None)
        dt = ONNX_DTYPES.get(vi.type.tensor_type.elem_type, DType.FP32)
        from edgesim.ir.tensor import Tensor

        ctx.tensors[vi.name] = Tensor(vi.name, shape, dt)
    order = _toposort(nodes, set(ctx.tensors), path)
    for n in order:
        if _try_fold(ctx, n):
            continue
        h = _handler(n)
        if h is None:  # a fold-only op (Range, ConstantOfShape, NonZero...): its output shape is its inputs' values
            runtime = next(i for i in n.inputs if i and ctx.const(i) is None)
            raise NeedsConstantError(f"{n.op_type} needs a constant input '{runtime}' (it sets the output shape, and "
                                     "it is computed at run time)", input_name=ctx.name(runtime), file=path,
                                     node=n.name)
        h(ctx, n)
    _refuse_empty_operands(ctx)
    outputs = [_graph_output(ctx, o.name) for o in g.output]
    live = _live_tensors(ctx, outputs)
    graph = Graph.build(g.name or Path(path).stem, ctx.nodes, {k: v for k, v in ctx.tensors.items() if k in live},
                        ctx.graph_inputs, outputs, source_format="onnx")
    return verify_graph(infer_shapes(graph))


# Ops whose result on an empty (zero-element) input is defined and computed: per-element ops give empty results,
# reductions over nothing give their identity (0 for sums, -inf/+inf for max/min, 1 for products).
_EMPTY_OK = frozenset({OpKind.CONCAT, OpKind.REDUCE_SUM, OpKind.REDUCE_MAX, OpKind.REDUCE_MATH, OpKind.ABS,
                       OpKind.MUL, OpKind.EXP, OpKind.SQRT, OpKind.LOG, OpKind.CAST})


def _refuse_empty_operands(ctx: Ctx) -> None:
    """Empty (zero-element) run-time tensors are refused unless the op's result on them is defined (``_EMPTY_OK``);
    other ops have edge cases the executors do not define. An input that only carries a type (CastLike's) is
    fine."""
    for nd in ctx.nodes:
        if nd.op in _EMPTY_OK:
            continue
        for name in nd.inputs:
            t = ctx.tensors.get(name) if name else None
            if t is not None and not t.is_const and 0 in t.shape:
                raise UnsupportedOpError(f"reads the empty tensor '{name}' (shape {t.shape})", file=ctx.path,
                                         node=nd.name)


def _graph_output(ctx: Ctx, raw: str) -> str:
    name = ctx.name(raw)
    if name not in ctx.tensors:
        raise ModelError(f"graph output '{raw}' is produced by no node", file=ctx.path)
    return name


def _live_tensors(ctx: Ctx, outputs: list[str]) -> set[str]:
    live = set(ctx.graph_inputs) | set(outputs)
    for nd in ctx.nodes:
        live.update(i for i in nd.inputs if i)
        live.update(nd.outputs)
    return live


def _check_supported(nodes: list[OnnxNode], path: str) -> None:
    """Collect every unsupported op type first, so the user sees the whole list at once."""
    missing: dict[str, str] = {}
    for n in nodes:
        key = n.op_type if n.domain == "" else f"{n.domain}.{n.op_type}"
        if _handler(n) is not None or (n.domain == "" and n.op_type in _FOLD_ONLY):
            continue
        missing.setdefault(key, n.name)
    if missing:
        listed = ", ".join(f"{op} (node '{name}')" for op, name in sorted(missing.items()))
        raise UnsupportedOpError(f"unsupported ONNX ops: {listed}", file=path)
