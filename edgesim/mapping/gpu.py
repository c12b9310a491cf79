"""GPU kernels per architecture (issue #17): which of a GPU runtime's kernel tables a unit gets, and the MACs a
grouped convolution computes when the runtime has no depthwise kernel for the architecture.

TensorRT on a Maxwell GPU (Jetson Nano, sm_53, TensorRT <= 8.2 of JetPack 4) has no depthwise tactic for a
MobileNet-v2 depthwise layer: its builder log lists "LegacySASSConvolution has no valid tactics for this config"
and "FusedConvActConvolution has no valid tactics" and times the generic cuDNN implicit-GEMM kernels
maxwell_scudnn_128x32 / 128x64 / 128x128 (github.com/dusty-nv/jetson-inference/issues/475, JetPack 4.3). Such a
kernel computes one implicit GEMM per group with the group's output channels as one GEMM dimension, padded to
the kernel's tile (32 at the smallest): a depthwise conv (one output channel per group) does 32x its MACs.
"""

from __future__ import annotations

from edgesim.hw.schema import ComputeUnit, RuntimeProfile
from edgesim.hw.schema_gpu import GpuKernels
from edgesim.hw.systolic import ceil_div
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind


def gpu_kernels(runtime: RuntimeProfile | None, unit: ComputeUnit) -> GpuKernels | None:
    """The runtime's kernels for the unit's GPU architecture, or None (not a GPU, or no table for it)."""
    if runtime is None or unit.gpu_arch is None:
        return None
    return runtime.gpu_kernels.get(unit.gpu_arch)


def _channels_per_group(graph: Graph, node: Node) -> int | None:
    """Output channels of one group of a grouped / depthwise conv; None for a dense conv or another op."""
    if node.op not in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D) or len(node.inputs) < 1 or not node.outputs:
        return None
    x = graph.tensors[node.inputs[0]] if node.inputs[0] else None
    out = graph.tensors[node.outputs[0]]
    if x is None or len(x.shape) != 4 or len(out.shape) != 4:
        return None
    cax = node.attrs.layout.channel_axis()
    c_in, c_out = int(x.shape[cax]), int(out.shape[cax])
    groups = c_in if node.op is OpKind.DEPTHWISE_CONV2D else max(node.attrs.groups, 1)
    if groups <= 1 or c_out <= 0:
        return None
    return max(1, c_out // groups)


def grouped_conv_factor(runtime: RuntimeProfile | None, unit: ComputeUnit, graph: Graph, node: Node) -> float:
    """Executed / nominal MACs of a grouped or depthwise conv on a GPU whose runtime runs it as per-group GEMMs
    padded to ``group_channel_tile`` output channels; 1.0 for dense convs, other ops and other units."""
    kernels = gpu_kernels(runtime, unit)
    if kernels is None or kernels.group_channel_tile is None:
        return 1.0
    per_group = _channels_per_group(graph, node)
    if per_group is None:
        return 1.0
    tile = kernels.group_channel_tile
    return ceil_div(per_group, tile) * tile / per_group
