"""Channel granules: a matrix engine that stores activations in fixed channel blocks computes padded channels too.

Qualcomm's HTP keeps activations in blocks of 32 channels ("the channels are typically rounded to the next
multiple of 32"; QAIRT HTP docs, "Avoid low depth activations"), and its HMX matrix unit works on whole blocks:
a conv with 16 input channels costs as much as one with 32. ``padded_mac_factor`` is the ratio of the MACs the
engine executes with every channel count rounded up to the granule to the op's own MACs.
"""

from __future__ import annotations

from edgesim.hw.systolic import ceil_div
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind


def _round_up(n: int, granule: int) -> int:
    return ceil_div(n, granule) * granule


def _pad(n: int, granule: int) -> float:
    """Padded / real count of one channel dimension (1.0 for a dimension of 0, which does no work anyway)."""
    return _round_up(n, granule) / n if n > 0 else 1.0


def _reduction_pad(c_in: int, kernel_w: int, granule: int) -> float:
    """Padded / real reduction length of a conv. A low-depth input (the image's 3 channels) is not padded to a
    whole block per kernel column: its kernel columns are packed into the channel block (the space-to-depth
    rearrangement the QAIRT guidelines recommend for low-depth layers), so the padding is that of c_in x kernel_w."""
    per_column = _round_up(c_in, granule) * kernel_w
    packed = _round_up(c_in * kernel_w, granule)
    return min(per_column, packed) / (c_in * kernel_w) if c_in > 0 and kernel_w > 0 else 1.0


def padded_mac_factor(graph: Graph, node: Node, granule: int | None) -> float:
    """Executed / nominal MACs of a MAC op on an engine with ``granule``-channel blocks (1.0 without one).

    Convs pad their reduction channels (per group) and output channels; a depthwise conv pads its channels once
    (each channel is its own lane); a fully connected layer or matmul pads its reduction and output features.
    Ops of other kinds, or of unknown layout, are not padded."""
    if not granule or granule <= 1 or len(node.inputs) < 2 or not node.outputs:
        return 1.0
    x = graph.tensors[node.inputs[0]] if node.inputs[0] else None
    w = graph.tensors[node.inputs[1]] if node.inputs[1] else None
    out = graph.tensors[node.outputs[0]]
    if x is None or w is None or not out.shape:
        return 1.0
    if node.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D) and len(x.shape) == 4 and len(out.shape) == 4:
        cax = node.attrs.layout.channel_axis()
        groups = max(node.attrs.groups, 1)
        c_in, c_out = int(x.shape[cax]), int(out.shape[cax])
        if node.op is OpKind.DEPTHWISE_CONV2D or (groups > 1 and groups == c_in):
            return _pad(c_out, granule)
        return _reduction_pad(c_in // groups, int(node.attrs.kernel_hw[1]), granule) * _pad(c_out // groups, granule)
    if node.op in (OpKind.FULLY_CONNECTED, OpKind.MATMUL) and len(x.shape) >= 1:
        return _pad(int(x.shape[-1]), granule) * _pad(int(out.shape[-1]), granule)
    return 1.0
