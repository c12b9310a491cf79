"""Instruction-set features of CPU cores, for choosing the int8 GEMM kernel llama.cpp runs on them.

A board profile states a CPU unit's MAC rates and names its cores in the description ("4x Cortex-A76 ..."); what
the rates do not say is which dot-product instructions exist, and that decides the kernel path (ggml's
``ggml_cpu_has_dotprod()`` / ``ggml_cpu_has_matmul_int8()`` checks in ggml-cpu/repack.cpp and arch/arm/quants.c):
  - no dotprod (Armv8.0: A53, A72, A73): int8 dot products emulated with SMULL/SADALP;
  - dotprod (Armv8.2 SDOT/UDOT: A55, A75-A78, X1, Neoverse N1, Carmel): 16 int8 MACs per 128-bit instruction;
  - i8mm (Armv8.6 SMMLA: A510/A710 and later, X2 and later, Neoverse V1/N2/V2, Oryon): 32 int8 MACs per instruction
    (a 2x8 by 8x2 tile), used by ggml's nrc=2 vec_dot and its 4x8/8x8 repacked GEMMs.
A core the table does not know is classified from the profile's rates: an int8 MAC rate of at least 4x the fp32
FMA rate means a dot-product instruction (SDOT, AVX-VNNI / VPMADDUBSW on x86).

The table also gives each core's 128-bit vector issue slots per cycle, the width llama.cpp's kernels scale with, so
the LLM CPU model does not move when a board profile's MAC rates are retuned for other workloads (CNN fidelity
work on the A55/A53 rates). A unit whose description names several core types (a prime core plus mid cores
"modelled as 5 equal cores") keeps the profile's averaged rate; so does a core the table does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgesim.hw.cpu_isa import Int8Path, core_int8_of, named_cores


@dataclass(frozen=True)
class CoreIsa:
    name: str
    dotprod: bool  # SDOT/UDOT (Arm FEAT_DotProd) or an x86 int8 dot (AVX2 VPMADDUBSW / AVX-VNNI)
    i8mm: bool  # SMMLA (Arm FEAT_I8MM)
    fp16_arith: bool  # FP16 vector FMA (Arm FEAT_FP16): ggml's F16 kernels run at the fp16 rate
    x86: bool = False
    # 128-bit vector ops issued per cycle (None: not in the table, or a mixed unit: the profile's rate decides)
    vector_slots_per_cycle: float | None = None
    # ASIMD widening multiplies (SMULL/SMULL2) issued per cycle: what ggml's emulated dot product (no SDOT) is
    # bound by where fewer vector pipes multiply than issue (None: not in the table: no separate limit)
    widening_muls_per_cycle: float | None = None


# Which dot-product instructions a core has is the one table of edgesim.hw.cpu_isa (sources there); every
# dot-product core in it also has Armv8.2's FP16 vector arithmetic, and none of the Armv8.0 cores does.
# 128-bit ASIMD ops per cycle, from Arm's Software Optimization Guides (pipes x width): A53/A55/A35 two 64-bit
# pipes and a 64-bit load path (a Q-form op every other cycle on the load-bound dot kernels: 0.5), A57/A72/A73 two
# 64-bit-issue FP/ASIMD pipes (1 Q-form op per cycle), A75-A78, A510 pairs, A710-A725, Neoverse N1/N2 two 128-bit
# pipes (2; A520/A510 share one 128-bit pipe per core pair: 0.5), X1-X4/X925, Neoverse V1/V2 four (V1: 2x 256-bit
# SVE = 4x 128-bit NEON), Oryon four (Qualcomm, Hot Chips 2024); Carmel two.
_SLOTS: dict[str, float] = {
    "a35": 0.5, "a53": 0.5, "a55": 0.5, "a57": 1.0, "a72": 1.0, "a73": 1.0,
    "a75": 2.0, "a76": 2.0, "a77": 2.0, "a78": 2.0, "a78ae": 2.0, "a78c": 2.0, "a510": 0.5, "a520": 0.5,
    "a710": 2.0, "a715": 2.0, "a720": 2.0, "a725": 2.0, "neoverse-n1": 2.0, "neoverse-n2": 2.0, "carmel": 2.0,
    "x1": 4.0, "x2": 4.0, "x3": 4.0, "x4": 4.0, "x925": 4.0, "neoverse-v1": 4.0, "neoverse-v2": 4.0, "oryon": 4.0,
}

# ASIMD multiply long (SMULL, SMULL2) per cycle, from the Software Optimization Guides' instruction tables (via LLVM's
# scheduling models where Arm's PDF is not in reach): Cortex-A57/A72 on F0 only, 1 per cycle (A72 SOG UAN 0016A;
# llvm AArch64SchedA57.td, the model LLVM uses for the A72: [SU]MULL -> A57Write_5cyc_1W); Cortex-A76 = Neoverse N1
# on V0 only, 1 per cycle (N1 SOG; llvm AArch64SchedNeoverseN1.td: ([SU]|SQD)MULLv -> N1Write_4c_1V0, while
# [SU]ADALPv -> N1Write_4c_1V1 and SDOT issues on both V pipes); A720 V0, 1 per cycle (A720 SOG 109720: 'ASIMD
# multiply long SMULL(2) ... 4, 1, V0', SADALP V1); the A77/A78 between them in that family (same two V pipes, SDOT
# throughput 2) taken as the same split (their SOGs, swog011050 and 102160, were not read here); Cortex-X4 V0 and
# V2, 2 per cycle of its four V pipes (X4 SOG: 'SMULL(2) ... 3, 2, V02'), the X1-X3 taken as the same pair; A55 both 64-bit pipes as one Q-form op per cycle
# (llvm AArch64SchedA55.td: [SU]MULLv -> CortexA55WriteAluVq_4), above its 0.5 load-bound slots. Cores not listed
# (A53, A73, A75, A710/A715/A725, A510/A520, Carmel, Oryon) have no separate limit.
_WIDENING_MULS: dict[str, float] = {
    "a57": 1.0, "a72": 1.0, "a55": 1.0, "a76": 1.0, "neoverse-n1": 1.0, "a77": 1.0, "a78": 1.0, "a78ae": 1.0,
    "a78c": 1.0, "a720": 1.0, "x1": 2.0, "x2": 2.0, "x3": 2.0, "x4": 2.0,
}

_X86_RE = re.compile(r"x86|intel|amd|ryzen|core i\d|atom|celeron|pentium|avx|redwood|crestmont|gracemont|lion cove"
                     r"|skymont|golden cove|zen", re.IGNORECASE)


def core_isa(description: str, int8_macs_per_cycle: float, fp32_macs_per_cycle: float) -> CoreIsa:
    """The ISA of the first core the description names (with its vector width where it is the only core type
    named); an unnamed core from its int8:fp32 MAC ratio."""
    keys = named_cores(description)
    if keys:
        key = keys[0]
        path = core_int8_of(key).path
        dot = path is not Int8Path.NEON
        single = len(set(keys)) == 1  # a mixed unit keeps the profile's averaged rate and no per-core limit
        return CoreIsa(key, dot, path is Int8Path.I8MM, dot,
                       vector_slots_per_cycle=_SLOTS.get(key) if single else None,
                       widening_muls_per_cycle=_WIDENING_MULS.get(key) if single else None)
    dot = fp32_macs_per_cycle > 0 and int8_macs_per_cycle >= 4 * fp32_macs_per_cycle
    if _X86_RE.search(description):
        return CoreIsa("x86", True, False, False, x86=True)
    return CoreIsa("unknown", dot, False, dot)
