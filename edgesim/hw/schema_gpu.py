"""GPU architectures and the kernels a GPU runtime has for each (issue #17).

A GPU runtime (TensorRT) picks its convolution kernels per CUDA architecture: an Ampere GPU runs batch-1 convs
as tensor-core implicit GEMMs, a Maxwell GPU (sm_53, no tensor cores, no DP4A) as SIMT implicit GEMMs on its
CUDA cores (half2 FMAs), and the two reach different fractions of their peaks. A unit names its architecture
(``ComputeUnit.gpu_arch``); a runtime lists kernels for the architectures whose kernels differ from its default
table (``RuntimeProfile.gpu_kernels``). The efficiency table is validated with the runtime's own tables in
edgesim.hw.schema.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from edgesim.hw.schema_base import Frozen


class GpuArch(StrEnum):
    """NVIDIA GPU architecture families (CUDA compute capability majors), as the CUDA programming guide lists
    them: what decides which kernel families exist (tensor cores from Volta, DP4A int8 from sm_61)."""

    MAXWELL = "maxwell"    # sm_50/52/53: CUDA cores only; sm_53 (Tegra X1) adds fp16x2
    PASCAL = "pascal"      # sm_60/61/62: DP4A int8 dot products on sm_61/62
    VOLTA = "volta"        # sm_70/72: first tensor cores (Xavier)
    TURING = "turing"      # sm_75
    AMPERE = "ampere"      # sm_80/86/87 (Orin)
    ADA = "ada"            # sm_89


class GpuKernels(Frozen):
    """A GPU runtime's kernels on one architecture."""

    # Fraction of the unit's peak per op kind ('default' required), replacing the runtime's kernel_efficiency.
    kernel_efficiency: dict[str, float]
    # Output channels one GEMM tile of the grouped-convolution kernels covers. A runtime with no depthwise kernel
    # for the architecture runs a grouped / depthwise conv as one implicit GEMM per group whose output-channel
    # dimension is padded to this tile: a depthwise conv (one channel per group) computes tile x its MACs.
    # None = the runtime has kernels for grouped convs that waste nothing.
    group_channel_tile: int | None = Field(default=None, ge=1)
