"""Shape inference: recompute every non-constant tensor's shape from the graph inputs and the op attributes.

Used after importing with an overridden input shape (``--input-shape``) and after passes that change tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgesim.errors import ShapeError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor

Shape = tuple[int, ...]


def conv_out(size: int, kernel: int, stride: int, dilation: int, pad_before: int, pad_after: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return (size + pad_before + pad_after - effective) // stride + 1


def conv_transpose_out(size: int, kernel: int, stride: int, dilation: int, pad_before: int, pad_after: int,
                       output_padding: int) -> int:
    return (size - 1) * stride - pad_before - pad_after + (kernel - 1) * dilation + 1 + output_padding


def broadcast(*shapes: Shape) -> Shape:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"shapes {list(shapes)} do not broadcast") from None


def _nchw_dims(shape: Shape, layout: A.Layout) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise ShapeError(f"expected a 4-D activation, got shape {shape}")
    if layout is A.Layout.NHWC:
        n, h, w, c = shape
    else:
        n, c, h, w = shape
    return n, c, h, w


def _pack(n: int, c: int, h: int, w: int, layout: A.Layout) -> Shape:
    return (n, h, w, c) if layout is A.Layout.NHWC else (n, c, h, w)


def _conv(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.ConvAttrs = node.attrs
    x, w = _req(ins[0], node), _req(ins[1], node)
    n, c, h, wd = _nchw_dims(x.shape, a.layout)
    _check_in_channels(node, c, w.shape)
    kh, kw = a.kernel_hw
    if node.op is OpKind.CONV_TRANSPOSE2D:
        # weights: ONNX (C_in, C_out/groups, kh, kw); TFLite (C_out, kh, kw, C_in)
        cout = w.shape[1] * a.groups if a.layout is A.Layout.NCHW else w.shape[0]
        oh = conv_transpose_out(h, kh, a.stride_hw[0], a.dilation_hw[0], a.padding.top, a.padding.bottom,
                                a.output_padding_hw[0])
        ow = conv_transpose_out(wd, kw, a.stride_hw[1], a.dilation_hw[1], a.padding.left, a.padding.right,
                                a.output_padding_hw[1])
    else:
        if node.op is OpKind.DEPTHWISE_CONV2D and a.layout is A.Layout.NHWC:
            cout = w.shape[3]  # TFLite depthwise weights are 1HW(C*M)
        else:
            cout = w.shape[0]
        oh = conv_out(h, kh, a.stride_hw[0], a.dilation_hw[0], a.padding.top, a.padding.bottom)
        ow = conv_out(wd, kw, a.stride_hw[1], a.dilation_hw[1], a.padding.left, a.padding.right)
    if oh <= 0 or ow <= 0:
        raise ShapeError(f"convolution output would be {oh}x{ow} for input {x.shape}", node=node.name)
    return [_pack(n, cout, oh, ow, a.layout)]


def _check_in_channels(node: Node, c: int, wshape: Shape) -> None:
    """A CONV2D's input channels must be what its weights take: an --input-shape in the wrong layout (1x64x64x3
    for an NCHW model) would otherwise run with 64 channels through weights made for 3, answered silently."""
    a: A.ConvAttrs = node.attrs
    if node.op is not OpKind.CONV2D or len(wshape) != 4:
        return
    per_group = wshape[1] if a.layout is A.Layout.NCHW else wshape[3]  # OIHW / OHWI
    if per_group * a.groups != c:
        raise ShapeError(f"input has {c} channels but the weights {wshape} take {per_group * a.groups}"
                         + (f" ({a.groups} groups)" if a.groups > 1 else "")
                         + "; an --input-shape in the model's own layout keeps its channels", node=node.name)


def _ceil_out(size: int, k: int, s: int, before: int, after: int) -> int:
    """ceil_mode output length; a last window that would start inside the end padding is dropped (ONNX and
    PyTorch rule), which keeps every window overlapping the input."""
    out = -(-(size + before + after - k) // s) + 1
    if (out - 1) * s >= size + before:
        out -= 1
    return out


def _pool(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.PoolAttrs = node.attrs
    n, c, h, w = _nchw_dims(_req(ins[0], node).shape, a.layout)
    kh, kw = ((k - 1) * d + 1 for k, d in zip(a.kernel_hw, a.dilation_hw, strict=True))  # the window's span
    sh, sw = a.stride_hw
    if a.ceil_mode:
        oh = _ceil_out(h, kh, sh, a.padding.top, a.padding.bottom)
        ow = _ceil_out(w, kw, sw, a.padding.left, a.padding.right)
    else:
        oh = conv_out(h, kh, sh, 1, a.padding.top, a.padding.bottom)
        ow = conv_out(w, kw, sw, 1, a.padding.left, a.padding.right)
    if oh <= 0 or ow <= 0:
        raise ShapeError(f"pooling output would be {oh}x{ow} for input {(n, c, h, w)}", node=node.name)
    return [_pack(n, c, oh, ow, a.layout)] * len(node.outputs)  # MaxPool's indices have the values' shape


def _fc(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.FullyConnectedAttrs = node.attrs
    x, w = _req(ins[0], node), _req(ins[1], node)
    out_features, in_features = w.shape[0], w.shape[-1]
    if x.num_elements % in_features:
        raise ShapeError(f"input {x.shape} does not flatten to rows of {in_features}", node=node.name)
    if a.keep_num_dims:
        return [x.shape[:-1] + (out_features,)]
    return [(x.num_elements // in_features, out_features)]


def _matmul(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.MatMulAttrs = node.attrs
    sa, sb = list(_req(ins[0], node).shape), list(_req(ins[1], node).shape)
    if len(sa) == 1:
        sa = [1] + sa
    if len(sb) == 1:
        sb = sb + [1]
    if a.transpose_a:
        sa[-1], sa[-2] = sa[-2], sa[-1]
    if a.transpose_b:
        sb[-1], sb[-2] = sb[-2], sb[-1]
    if sa[-1] != sb[-2]:
        raise ShapeError(f"matmul inner dimensions differ: {tuple(sa)} x {tuple(sb)}", node=node.name)
    batch = broadcast(tuple(sa[:-2]), tuple(sb[:-2]))
    return [batch + (sa[-2], sb[-1])]


def _elementwise(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    return [broadcast(*[_req(t, node).shape for t in ins if t is not None])]


def _same(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    return [_req(ins[0], node).shape]


def _reduce(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.ReduceAttrs = node.attrs
    shape = _req(ins[0], node).shape
    axes = {ax % len(shape) for ax in a.axes} if shape else set()
    if a.keepdims:
        return [tuple(1 if i in axes else d for i, d in enumerate(shape))]
    return [tuple(d for i, d in enumerate(shape) if i not in axes)]


def _gather_elements(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    return [_req(ins[1], node).shape]


def _gather_nd(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.GatherNDAttrs = node.attrs
    data, idx = _req(ins[0], node).shape, _req(ins[1], node).shape
    if not idx or idx[-1] > len(data) - a.batch_dims:
        raise ShapeError(f"GatherND indices {idx} do not fit data {data}", node=node.name)
    return [tuple(idx[:-1]) + tuple(data[a.batch_dims + idx[-1]:])]


def _grid_sample(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    x, grid = _req(ins[0], node).shape, _req(ins[1], node).shape
    if len(grid) != len(x) or grid[-1] != len(x) - 2:
        raise ShapeError(f"GridSample grid {grid} does not fit input {x}", node=node.name)
    return [tuple(x[:2]) + tuple(grid[1:-1])]


def _topk(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.TopKAttrs = node.attrs
    shape = list(_req(ins[0], node).shape)
    if not 0 < a.k <= shape[a.axis]:
        raise ShapeError(f"TopK k={a.k} for an axis of {shape[a.axis]}", node=node.name)
    shape[a.axis] = a.k
    return [tuple(shape), tuple(shape)]


def _nms(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.NmsAttrs = node.attrs
    boxes, scores = _req(ins[0], node).shape, _req(ins[1], node).shape
    if len(boxes) != 3 or boxes[2] != 4 or len(scores) != 3 or scores[0] != boxes[0] or scores[2] != boxes[1]:
        raise ShapeError(f"NonMaxSuppression boxes {boxes} and scores {scores} are not (B, N, 4) and (B, C, N)",
                         node=node.name)
    return [(boxes[0] * scores[1] * min(a.max_boxes_per_class, boxes[1]), 3)]  # the upper bound (see NmsAttrs)


def _roi_align(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.RoiAlignAttrs = node.attrs
    x, rois, idx = (_req(t, node).shape for t in ins[:3])
    if len(x) != 4 or len(rois) != 2 or rois[1] != 4 or idx != (rois[0],):
        raise ShapeError(f"RoiAlign input {x}, rois {rois} and batch_indices {idx} are not (N, C, H, W), (R, 4) "
                         "and (R,)", node=node.name)
    return [(rois[0], x[1], *a.output_hw)]


def _arg_reduce(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.ArgReduceAttrs = node.attrs
    shape = _req(ins[0], node).shape
    ax = a.axis % len(shape) if shape else 0
    if a.keepdims:
        return [tuple(1 if i == ax else d for i, d in enumerate(shape))]
    return [tuple(d for i, d in enumerate(shape) if i != ax)]


def _reshape(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.ReshapeAttrs = node.attrs
    x = _req(ins[0], node)
    new = list(a.new_shape)
    if new.count(-1) > 1:
        raise ShapeError(f"reshape target {a.new_shape} has more than one -1", node=node.name)
    if -1 in new:
        known = int(np.prod([d for d in new if d != -1])) if len(new) > 1 else 1
        if known == 0 or x.num_elements % known:
            raise ShapeError(f"cannot reshape {x.shape} to {a.new_shape}", node=node.name)
        new[new.index(-1)] = x.num_elements // known
    if int(np.prod(new)) != x.num_elements:
        raise ShapeError(f"cannot reshape {x.shape} ({x.num_elements} elements) to {tuple(new)}", node=node.name)
    return [tuple(new)]


def _transpose(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.TransposeAttrs = node.attrs
    shape = _req(ins[0], node).shape
    if sorted(a.perm) != list(range(len(shape))):
        raise ShapeError(f"permutation {a.perm} does not fit rank {len(shape)}", node=node.name)
    return [tuple(shape[p] for p in a.perm)]


def _concat(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.ConcatAttrs = node.attrs
    shapes = [_req(t, node).shape for t in ins if t is not None]
    rank = len(shapes[0])
    axis = a.axis % rank
    for s in shapes[1:]:
        if len(s) != rank or any(s[i] != shapes[0][i] for i in range(rank) if i != axis):
            raise ShapeError(f"cannot concatenate shapes {shapes} on axis {a.axis}", node=node.name)
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


def _split(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.SplitAttrs = node.attrs
    shape = _req(ins[0], node).shape
    axis = a.axis % len(shape)
    if sum(a.sizes) != shape[axis] or len(a.sizes) != len(node.outputs):
        raise ShapeError(f"split sizes {a.sizes} do not cover axis {axis} of {shape}", node=node.name)
    return [shape[:axis] + (s,) + shape[axis + 1:] for s in a.sizes]


def _slice(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.SliceAttrs = node.attrs
    shape = _req(ins[0], node).shape
    out = []
    for i, d in enumerate(shape):
        if i < len(a.begin):
            n = len(range(*slice(a.begin[i], a.end[i], a.step[i]).indices(d)))
            out.append(n)
        else:
            out.append(d)
    return [tuple(out)]


def _pad(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.PadAttrs = node.attrs
    shape = _req(ins[0], node).shape
    if len(a.pads) != len(shape):
        raise ShapeError(f"pads {a.pads} do not fit rank {len(shape)}", node=node.name)
    return [tuple(d + p0 + p1 for d, (p0, p1) in zip(shape, a.pads, strict=True))]


def _resize(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.ResizeAttrs = node.attrs
    n, c, _, _ = _nchw_dims(_req(ins[0], node).shape, a.layout)
    return [_pack(n, c, a.out_hw[0], a.out_hw[1], a.layout)]


def _gather(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.GatherAttrs = node.attrs
    data, idx = _req(ins[0], node).shape, _req(ins[1], node).shape
    axis = a.axis % len(data)
    return [data[:axis] + idx + data[axis + 1:]]


def _expand(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    a: A.ExpandAttrs = node.attrs
    return [broadcast(_req(ins[0], node).shape, a.shape)]


def _req(t: Tensor | None, node: Node) -> Tensor:
    if t is None:
        raise ShapeError("a required input is missing", node=node.name)
    return t


_RULES: dict[OpKind, Callable[[Node, list[Tensor | None]], list[Shape]]] = {
    OpKind.CONV2D: _conv,
    OpKind.DEPTHWISE_CONV2D: _conv,
    OpKind.CONV_TRANSPOSE2D: _conv,
    OpKind.FULLY_CONNECTED: _fc,
    OpKind.MATMUL: _matmul,
    OpKind.MAX_POOL2D: _pool,
    OpKind.AVG_POOL2D: _pool,
    OpKind.MEAN: _reduce,
    OpKind.REDUCE_MAX: _reduce,
    OpKind.REDUCE_SUM: _reduce,
    OpKind.RESHAPE: _reshape,
    OpKind.TRANSPOSE: _transpose,
    OpKind.CONCAT: _concat,
    OpKind.SPLIT: _split,
    OpKind.SLICE: _slice,
    OpKind.PAD: _pad,
    OpKind.RESIZE: _resize,
    OpKind.GATHER: _gather,
    OpKind.EXPAND: _expand,
    OpKind.REDUCE_MATH: _reduce,
    OpKind.ARG_REDUCE: _arg_reduce,
    OpKind.BINARY_MATH: _elementwise,
    OpKind.GATHER_ELEMENTS: _gather_elements,
    OpKind.GATHER_ND: _gather_nd,
    OpKind.TOPK: _topk,
    OpKind.GRID_SAMPLE: _grid_sample,
    OpKind.NON_MAX_SUPPRESSION: _nms,
    OpKind.ROI_ALIGN: _roi_align,
}
for _k in (OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.DIV, OpKind.POW, OpKind.MAXIMUM, OpKind.MINIMUM,
           OpKind.SQUARED_DIFFERENCE, OpKind.WHERE, OpKind.PRELU, OpKind.EQUAL, OpKind.LESS, OpKind.GREATER):
    _RULES[_k] = _elementwise
for _k in OpKind:
    _RULES.setdefault(_k, _same)  # activations, softmax, norms, quantize, cast, identity keep the input shape


def infer_node(node: Node, ins: list[Tensor | None]) -> list[Shape]:
    """Output shapes of one node given its input tensors."""
    try:
        return _RULES[node.op](node, ins)
    except ShapeError as e:
        if e.node is None:
            raise ShapeError(e.message, node=node.name) from None
        raise


def infer_shapes(graph: Graph) -> Graph:
    """A copy of ``graph`` whose non-constant tensors carry the shapes implied by its inputs.

    Reshape targets fixed at import keep their element count only when it still matches; a model whose reshape
    hard-codes a size that no longer fits the new input is a ShapeError naming the node.
    """
    tensors = dict(graph.tensors)
    for node in graph.nodes:
        ins = [tensors[i] if i else None for i in node.inputs]
        shapes = infer_node(node, ins)
        if len(shapes) != len(node.outputs):
            raise ShapeError(f"produces {len(node.outputs)} outputs but {len(shapes)} shapes", node=node.name)
        for name, shape in zip(node.outputs, shapes, strict=True):
            if any(d < 0 for d in shape):
                raise ShapeError(f"output '{name}' would have negative shape {shape}", node=node.name)
            t = tensors[name]
            if not t.is_const:
                tensors[name] = t.with_shape(shape)
    return graph.rebuild(tensors=tensors)
