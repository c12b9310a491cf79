"""Which ops stream their output rows in order, and over what input window (the event engine pipelines them)."""

from __future__ import annotations

from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind

_ROW_STREAMED_OPS = (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.MAX_POOL2D, OpKind.AVG_POOL2D)


def row_window(graph: Graph, node: Node) -> tuple[int, int, int, int]:
    """(output rows, effective kernel rows, stride rows, input rows) of a row-streamable op, zeros otherwise.

    Only ops whose tiles are row bands of one 4-D feature map qualify (conv, depthwise conv, pooling at batch 1);
    everything else (FC, softmax, global pooling, multi-input joins) needs its whole input first."""
    if node.op not in _ROW_STREAMED_OPS or not node.inputs or not node.inputs[0]:
        return (0, 0, 0, 0)
    attrs = node.attrs
    kernel = getattr(attrs, "kernel_hw", None)
    stride = getattr(attrs, "stride_hw", None)
    layout = getattr(attrs, "layout", None)
    x = graph.tensors[node.inputs[0]]
    out = graph.tensors[node.outputs[0]]
    if kernel is None or stride is None or not isinstance(layout, A.Layout):
        return (0, 0, 0, 0)
    if len(x.shape) != 4 or len(out.shape) != 4 or x.shape[0] != 1:
        return (0, 0, 0, 0)
    h_axis = layout.spatial_axes()[0]
    dilation = getattr(attrs, "dilation_hw", (1, 1))
    kernel_rows = (kernel[0] - 1) * dilation[0] + 1
    return (int(out.shape[h_axis]), int(kernel_rows), int(stride[0]), int(x.shape[h_axis]))
