"""How much work a node is: MACs, simple ops and bytes per operand class. One place for these formulas."""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpClass, OpKind


@dataclass(frozen=True)
class NodeWork:
    macs: int  # multiply-accumulates (MAC-class ops only)
    elementwise_ops: int  # simple arithmetic ops of non-MAC ops
    weight_bytes: int  # constant operands (weights, biases, tables)
    input_bytes: int  # non-constant operands read
    output_bytes: int  # results written
    precision: str  # compute precision label: int4, int8, int16, fp16, fp32 (edgesim.hw Precision values)
    weight_elements: int = 0
    output_elements: int = 0
    # Set by the pruning/compression passes (edgesim.passes); defaults describe a dense, uncompressed layer.
    weight_zero_fraction: float = 0.0  # fraction of zero weights in the main weight operand
    nm_pattern: tuple[int, int] | None = None  # (n, m): at most n non-zeros per m weights along the input dim
    stored_weight_bytes: int | None = None  # weight bytes fetched from memory after encoding (None = weight_bytes)
    weight_decode_bits_per_cycle: float = 0.0  # decoder throughput for encoded weights (0 = none needed)


_PRECISION_BY_DTYPE = {
    DType.INT4: "int4", DType.UINT4: "int4", DType.INT8: "int8", DType.UINT8: "int8", DType.BOOL: "int8",
    DType.INT16: "int16", DType.INT32: "int32", DType.INT64: "int32",
    DType.FP16: "fp16", DType.BF16: "fp16", DType.FP32: "fp32", DType.FP64: "fp32",
    # 2-bit integers run on the narrowest integer datapath; float8/float4 are storage formats that edge
    # hardware without native units widens to fp16 before computing
    DType.INT2: "int4", DType.UINT2: "int4",
    DType.FP8_E4M3FN: "fp16", DType.FP8_E4M3FNUZ: "fp16", DType.FP8_E5M2: "fp16", DType.FP8_E5M2FNUZ: "fp16",
    DType.FP8_E8M0: "fp16", DType.FP4_E2M1: "fp16",
}


def node_macs(graph: Graph, node: Node) -> int:
    if node.op.op_class is not OpClass.MAC:
        return 0
    ins = graph.input_tensors(node)
    out = graph.tensors[node.outputs[0]]
    x, w = ins[0], ins[1]
    assert x is not None and w is not None
    if node.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D):
        a: A.ConvAttrs = node.attrs
        kh, kw = a.kernel_hw
        c_in = x.shape[a.layout.channel_axis(len(x.shape))]
        if node.op is OpKind.DEPTHWISE_CONV2D:
            per_output = kh * kw  # one input channel per output channel
        else:
            per_output = kh * kw * (c_in // max(a.groups, 1))
        return out.num_elements * per_output
    if node.op is OpKind.CONV_TRANSPOSE2D:
        a = node.attrs
        kh, kw = a.kernel_hw
        c_out = out.shape[a.layout.channel_axis(len(out.shape))]
        return x.num_elements * kh * kw * (c_out // max(a.groups, 1))
    if node.op is OpKind.FULLY_CONNECTED:
        return out.num_elements * w.shape[-1]
    # MATMUL: every output element needs K MACs.
    ma: A.MatMulAttrs = node.attrs
    k = x.shape[-2] if ma.transpose_a and len(x.shape) > 1 else x.shape[-1]
    return out.num_elements * k


def _pool_window(node: Node) -> int:
    a: A.PoolAttrs = node.attrs
    return a.kernel_hw[0] * a.kernel_hw[1]


def node_elementwise_ops(graph: Graph, node: Node) -> int:
    if node.op.op_class is OpClass.MAC:
        return 0
    out_elems = sum(graph.tensors[o].num_elements for o in node.outputs)
    info = node.op.info
    if info.op_class is OpClass.VIEW:
        return 0
    if node.op is OpKind.ROI_ALIGN:
        # 4 weighted taps per bilinear sample; an adaptive grid (0) is taken as 2x2 samples per bin, detectors'
        # usual roi size on its pyramid level (about two feature pixels per output bin)
        grid = node.attrs.sampling_ratio or 2
        return out_elems * grid * grid * info.elementwise_ops_per_output
    if info.op_class is OpClass.DATA:
        # interpolating data ops do arithmetic per output; pure copies do none
        return out_elems * (info.elementwise_ops_per_output if node.op in (OpKind.RESIZE, OpKind.GRID_SAMPLE) else 0)
    if info.op_class is OpClass.POOL:
        return out_elems * _pool_window(node)
    if node.op is OpKind.UNARY_MATH:
        return out_elems * MATH_OPS_PER_ELEMENT.get(node.attrs.fn, info.elementwise_ops_per_output)
    if node.op in (OpKind.MEAN, OpKind.REDUCE_MAX, OpKind.REDUCE_SUM, OpKind.REDUCE_MATH, OpKind.ARG_REDUCE,
                   OpKind.TOPK):
        x = graph.input_tensors(node)[0]
        return x.num_elements if x is not None else out_elems
    if node.op is OpKind.NON_MAX_SUPPRESSION:
        return _nms_ops(graph, node)
    if node.op in (OpKind.ADD, OpKind.MAXIMUM, OpKind.MINIMUM):
        return out_elems * max(len(node.inputs) - 1, 1)
    return out_elems * info.elementwise_ops_per_output


# A score threshold at or above this is a detection threshold (deployed detectors use 0.2-0.3): a trained
# detector's sigmoid/softmax scores pass it on a few anchors per object, fewer than the kept boxes per class. Below
# it (TF OD API SSDs ship 1e-8) every box is a candidate.
DETECTION_SCORE_THRESHOLD = 0.1


def _nms_ops(graph: Graph, node: Node) -> int:
    """Greedy per-class NMS as the runtimes implement it (TF NonMaxSuppressionV3, OpenVINO DetectionOutput /
    NMS, ONNX Runtime): per (batch, class) a score-threshold compare of every one of the N boxes, a heap
    selection of the best K = min(max_boxes, N) of the boxes that pass it (log2 K compares each), then each kept
    box tested against the ones kept before it (K (K - 1) / 2 IoUs of ~12 ops: 4 min/max, 2 widths, 3 areas, a
    division, a compare). How many boxes pass depends on the data: all N below ``DETECTION_SCORE_THRESHOLD``, at
    most K per class above it (the runtimes filter before they sort: OpenVINO's DetectionOutput spec,
    "confidence_threshold"). All K slots are taken as filled; the search stops once K boxes are kept, so the
    boxes^2 term is over the kept boxes, not all N."""
    scores = graph.input_tensors(node)[1]
    assert scores is not None
    b, c, n = scores.shape
    kept = min(node.attrs.max_boxes_per_class, n)
    candidates = kept if node.attrs.score_threshold >= DETECTION_SCORE_THRESHOLD else n
    select = candidates * max(math.ceil(math.log2(max(kept, 2))), 1)
    return b * c * (n + select + 12 * kept * (kept - 1) // 2)


# Arithmetic ops per element of UNARY_MATH functions: 1 for compare/select/round-type functions, ~4 for one
# transcendental (the same weight as EXP/TANH in ir.ops), more for compositions (mish = x * tanh(softplus(x))).
MATH_OPS_PER_ELEMENT: dict[str, int] = {
    "floor": 1, "ceil": 1, "round": 1, "sign": 1, "not": 1, "isnan": 1, "isinf": 1, "thresholded_relu": 2,
    "shrink": 3, "softsign": 3, "elu": 5, "selu": 6, "celu": 6, "softplus": 8, "mish": 14, "swish": 5,
    "sin": 4, "cos": 4, "tan": 8, "asin": 8, "acos": 8, "atan": 8, "sinh": 8, "cosh": 8, "asinh": 10,
    "acosh": 10, "atanh": 10, "reciprocal": 4, "hardmax": 2,
    "region_yolo": 4,  # the logistic (= SIGMOID's weight) on 83 of every 85 values, a copy for w, h
}


def node_precision(graph: Graph, node: Node) -> str:
    ins = [t for t in graph.input_tensors(node) if t is not None]
    if node.op is OpKind.GATHER and ins and ins[0].dtype not in (DType.INT32, DType.INT64, DType.BOOL):
        # A lookup moves rows of its table: the table's type is the op's precision, not the int32 indices'.
        p = _PRECISION_BY_DTYPE[ins[0].dtype]
        return "int8" if p == "int4" else p
    acts = [t for t in ins if not t.is_const] or ins
    weights = [t for t in ins if t.is_const and t.dtype not in (DType.INT32, DType.INT64)]
    act_p = _PRECISION_BY_DTYPE[acts[0].dtype] if acts else "fp32"
    if act_p == "int32":
        act_p = "int8"
    if weights and _PRECISION_BY_DTYPE[weights[0].dtype] == "int4" and act_p == "int8":
        return "int4"
    if weights and act_p in ("int8", "int16") and weights[0].dtype.is_float:
        return "fp32"
    return act_p


def node_work(graph: Graph, node: Node) -> NodeWork:
    ins = graph.input_tensors(node)
    weight_bytes = sum(t.nbytes for t in ins if t is not None and t.is_const)
    weight_elems = sum(t.num_elements for t in ins if t is not None and t.is_const)
    # A tensor read twice by one op (x*x) is fetched once.
    seen: set[str] = set()
    input_bytes = 0
    for name, t in zip(node.inputs, ins, strict=True):
        if t is None or t.is_const or name in seen:
            continue
        seen.add(name)
        input_bytes += t.nbytes
    outs = graph.output_tensors(node)
    if node.op is OpKind.SLICE and ins and ins[0] is not None and not ins[0].is_const:
        # A slice is a strided copy: it reads only the elements it keeps (a ViT's class token is 1 of 197 rows). The
        # whole input was counted, and the tiler then wanted all of it staged for the one output row (vit_base was
        # refused on every 256-512 KiB NPU SRAM).
        input_bytes = min(input_bytes, ins[0].dtype.nbytes(sum(t.num_elements for t in outs)))
    if node.op is OpKind.GATHER and ins[0] is not None and ins[0].is_const:
        # An embedding lookup fetches only the indexed rows of its table, not the whole table (BERT's 94 MB
        # vocabulary is read 128 rows at a time).
        weight_bytes = min(weight_bytes, sum(t.nbytes for t in outs))
    consts = [t for t in ins if t is not None and t.is_const]
    main_w = max(consts, key=lambda t: t.num_elements) if consts else None
    encoded = [t for t in consts if t.encoding is not None]
    decode_rates = [t.encoding.decode_bits_per_cycle for t in encoded if t.encoding is not None]
    return NodeWork(
        macs=node_macs(graph, node),
        elementwise_ops=node_elementwise_ops(graph, node),
        weight_bytes=weight_bytes,
        input_bytes=input_bytes,
        output_bytes=sum(t.nbytes for t in outs),
        precision=node_precision(graph, node),
        weight_elements=weight_elems,
        output_elements=sum(t.num_elements for t in outs),
        weight_zero_fraction=main_w.sparsity.zero_fraction if main_w is not None and main_w.sparsity else 0.0,
        nm_pattern=main_w.sparsity.nm if main_w is not None and main_w.sparsity else None,
        stored_weight_bytes=sum(t.stored_nbytes for t in consts) if encoded else None,
        weight_decode_bits_per_cycle=min((r for r in decode_rates if r > 0), default=0.0),
    )


def graph_macs(graph: Graph) -> int:
    return sum(node_macs(graph, n) for n in graph.nodes)


def graph_params(graph: Graph) -> int:
    """Number of constant parameters read by compute ops (weights and biases)."""
    total = 0
    counted: set[str] = set()
    for n in graph.nodes:
        for name, t in zip(n.inputs, graph.input_tensors(n), strict=True):
            if t is not None and t.is_const and name not in counted and n.op.op_class is not OpClass.VIEW:
                counted.add(name)
                total += math.prod(t.shape) if t.shape else 1
    return total
