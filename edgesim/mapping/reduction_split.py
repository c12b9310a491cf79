"""How an op that reduces along some axes may be cut into tiles when one of its rows does not fit on chip.

A reduction's outputs fall into independent groups: a MEAN over (H, W) has one group per channel, a softmax over
the last axis one per row, a LayerNorm one per token. A tile may take any set of whole groups (the axes the op
keeps split freely, the channel axis included when it is kept), but never part of a group's reduced extent
(a MEAN over the channel axis cannot be split by channel) unless the op can carry a partial result from one chunk
of the extent to the next:

- partial results (MEAN, SUM, MAX, the REDUCE_MATH family, ARG_REDUCE, CUMSUM): one pass over the input, a small
  accumulator per group stays on chip between chunks. Arm Vela does this for a MEAN over more than 4096
  elements: it splits the height into several depthwise convolutions whose partial sums are added
  (ethos-u-vela, tflite_graph_optimiser.convert_mean_to_depthwise_conv).
- statistics then apply (SOFTMAX, LOG_SOFTMAX, LAYER_NORM, RMS_NORM, GROUP_NORM): the statistics come first
  (online max and rescaled sum of exponentials, Milakov & Gimelshein 2018, arXiv:1805.02867; Welford's mean and
  sum of squared deviations), then a second pass reads the input again and writes the normalised output. The
  split costs one more read of the input.

TOPK, NMS and LRN are not split along their reduced axis (a running top-k list, a box set, a channel window):
they keep whole rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind


class ExtentSplit(Enum):
    """What cutting one group's reduced extent into chunks costs; the value is the reads of the input it needs."""

    PARTIALS = 1  # partial results carried on chip between chunks: the input is read once
    STATISTICS_THEN_APPLY = 2  # a statistics pass, then a pass that applies them: the input is read twice

    @property
    def input_reads(self) -> int:
        return self.value


@dataclass(frozen=True)
class ReductionSplit:
    groups: int  # independent reductions: outputs of a MEAN, rows of a softmax, tokens of a LayerNorm
    extent_elements: int  # input elements one group reduces over
    extent_split: ExtentSplit
    carry_bytes_per_group: int  # partial state kept on chip while a group's extent is split


_ONE_PASS = (OpKind.MEAN, OpKind.REDUCE_SUM, OpKind.REDUCE_MAX, OpKind.REDUCE_MATH)
_TWO_PASS = (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.LAYER_NORM, OpKind.RMS_NORM)
_ACC_BYTES = 4  # an int32 (integer) or fp32 (float) accumulator
# Two accumulators: ARG_REDUCE's running value and index, a softmax's running max and sum, Welford's mean and M2
# (REDUCE_MATH's log_sum_exp carries a running max and sum as well).
_TWO_ACC_BYTES = 2 * _ACC_BYTES


def _axis(axis: int, rank: int) -> int:
    return axis % rank if rank else 0


def reduced_axes(node: Node, rank: int) -> tuple[int, ...] | None:
    """The input axes each output of ``node`` depends on in full (non-negative), None for an op that is no
    reduction over whole axes (GROUP_NORM's groups are handled apart)."""
    a = node.attrs
    if node.op in _ONE_PASS:
        return tuple(sorted({_axis(x, rank) for x in a.axes}))
    if node.op in (OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.ARG_REDUCE, OpKind.CUMSUM):
        return (_axis(a.axis, rank),)
    if node.op in (OpKind.LAYER_NORM, OpKind.RMS_NORM):
        return tuple(range(_axis(a.axis, rank), rank))  # ONNX: normalised over axis .. last
    return None


def reduction_split(graph: Graph, node: Node) -> ReductionSplit | None:
    """The groups and the extent split of a reduction, None for any other op."""
    if not node.inputs or not node.inputs[0]:
        return None
    shape = graph.tensors[node.inputs[0]].shape
    rank = len(shape)
    total = math.prod(shape)
    if node.op is OpKind.GROUP_NORM and rank >= 2:
        a: A.GroupNormAttrs = node.attrs
        groups = shape[0] * max(1, a.groups)  # NCHW: each sample's channel groups
        return ReductionSplit(groups, max(1, total // groups), ExtentSplit.STATISTICS_THEN_APPLY, _TWO_ACC_BYTES)
    axes = reduced_axes(node, rank)
    if axes is None:
        return None
    extent = max(1, math.prod(shape[x] for x in axes))
    groups = max(1, total // extent)
    if node.op in _TWO_PASS:
        carry = _ACC_BYTES if node.op is OpKind.RMS_NORM else _TWO_ACC_BYTES
        return ReductionSplit(groups, extent, ExtentSplit.STATISTICS_THEN_APPLY, carry)
    two = node.op is OpKind.ARG_REDUCE or (node.op is OpKind.REDUCE_MATH and node.attrs.fn == "log_sum_exp")
    return ReductionSplit(groups, extent, ExtentSplit.PARTIALS, _TWO_ACC_BYTES if two else _ACC_BYTES)
