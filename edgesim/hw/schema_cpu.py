"""x86 vector ISAs and the kernels a CPU runtime has for each (issue #17, OpenVINO CPU per microarchitecture).

oneDNN, under OpenVINO's CPU plugin, JIT-compiles one kernel family per instruction set and picks the best the
core has (the plugin's convolution priority list: brgconv_avx512, jit_avx512, jit_avx2, jit_sse42, ...;
src/plugins/intel_cpu/src/nodes/conv.cpp). The families reach different fractions of the same nominal peak:
  - AVX-512 (Ice/Tiger Lake, Xeon): 32 vector registers hold a wide accumulator block and broadcasts fold into
    the FMA's memory operand, so dense convolutions and GEMMs run close to the FMA/VPDPBUSD port;
  - AVX2 / AVX-VNNI (Alder, Meteor, Lunar Lake): 16 registers, separate broadcast loads;
  - SSE4.1/4.2 (Tremont, Goldmont): 16 two-operand xmm registers, no FMA: every ``uni_vfmadd213ps`` of a kernel
    or of the eltwise injector's exp/logistic polynomial is emitted as MULPS + ADDPS, register copies precede
    the destructive forms and BLENDVPS needs its mask in xmm0 (oneDNN src/cpu/x64/injectors/
    jit_uni_eltwise_injector.cpp), so a SiLU epilogue costs far more instructions per vector than on AVX-512.
A CPU unit names its ISA (``ComputeUnit.vector_isa``); a runtime lists, per ISA whose kernels differ from its own
table, the op kinds whose efficiency differs (``RuntimeProfile.isa_kernels``). Keys and ranges are validated with
the runtime's other tables in edgesim.hw.schema.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from edgesim.hw.schema_base import Frozen


class VectorIsa(StrEnum):
    """The widest vector instruction set an x86 core gives a JIT kernel library (Intel ARK "Instruction Set
    Extensions"; the software developer's manual for what each adds)."""

    SSE4_2 = "sse4_2"            # 128-bit, no FMA, int8 via PMADDUBSW + PMADDWD (Atom: Goldmont, Tremont)
    AVX2 = "avx2"                # 256-bit FMA, int8 via VPMADDUBSW (Haswell .. Comet Lake)
    AVX2_VNNI = "avx2_vnni"      # AVX2 + AVX-VNNI VPDPBUSD ymm (Alder/Raptor, Meteor, Lunar Lake; Gracemont+)
    AVX512_VNNI = "avx512_vnni"  # AVX-512 + VNNI VPDPBUSD zmm (Ice Lake, Tiger Lake, Cascade Lake+)


_INT_PRECISIONS = frozenset({"int4", "int8"})


class CpuKernels(Frozen):
    """A CPU runtime's kernels on one vector ISA: efficiencies (fractions of the unit's peak) for the op kinds
    whose kernels on this ISA differ from the runtime's ``kernel_efficiency``; unlisted kinds keep those."""

    # any precision (CONV2D_1X1 falls back to CONV2D here too)
    kernel_efficiency: dict[str, float] = Field(default_factory=dict)
    # kernels that compute in int8 (oneDNN's x8s8s32x families), looked up before kernel_efficiency
    int8_kernel_efficiency: dict[str, float] = Field(default_factory=dict)
    source: str = Field(min_length=1)

    def efficiency(self, key: str, base: str | None, precision: str | None) -> float | None:
        """This ISA's efficiency for kernel ``key`` (or its base kind ``base``) at ``precision``; None = the
        runtime's own table applies."""
        tables = ([self.int8_kernel_efficiency] if precision in _INT_PRECISIONS else []) + [self.kernel_efficiency]
        for table in tables:
            for k in (key, base):
                if k is not None and k in table:
                    return table[k]
        return None
