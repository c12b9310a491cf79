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


@dataclass(frozen=True)
class CoreIsa:
    name: str
    dotprod: bool  # SDOT/UDOT (Arm FEAT_DotProd) or an x86 int8 dot (AVX2 VPMADDUBSW / AVX-VNNI)
    i8mm: bool  # SMMLA (Arm FEAT_I8MM)
    fp16_arith: bool  # FP16 vector FMA (Arm FEAT_FP16): ggml's F16 kernels run at the fp16 rate
    x86: bool = False
    # 128-bit vector ops issued per cycle (None: not in the table, or a mixed unit: the profile's rate decides)
    vector_slots_per_cycle: float | None = None


# Architecture versions from Arm's Technical Reference Manuals (feature lists, "Cortex-A76 ... implements the
# Armv8.2-A extension, Dot Product ...", "Cortex-A710 ... Armv9.0-A ... Int8 matrix multiply"); Carmel (Xavier)
# from NVIDIA's Xavier TRM (Armv8.2); Oryon from Qualcomm's Snapdragon X Elite brief (Armv8.7 with I8MM).
_ARM: dict[str, tuple[bool, bool, bool]] = {
    # name: (dotprod, i8mm, fp16 arithmetic)
    "a53": (False, False, False), "a57": (False, False, False), "a72": (False, False, False),
    "a73": (False, False, False), "a35": (False, False, False),
    "a55": (True, False, True), "a65": (True, False, True), "a75": (True, False, True), "a76": (True, False, True),
    "a77": (True, False, True), "a78": (True, False, True), "a78ae": (True, False, True), "a78c": (True, False, True),
    "x1": (True, False, True), "neoverse-n1": (True, False, True), "carmel": (True, False, True),
    "a510": (True, True, True), "a520": (True, True, True), "a710": (True, True, True), "a715": (True, True, True),
    "a720": (True, True, True), "a725": (True, True, True), "x2": (True, True, True), "x3": (True, True, True),
    "x4": (True, True, True), "x925": (True, True, True), "neoverse-v1": (True, True, True),
    "neoverse-n2": (True, True, True), "neoverse-v2": (True, True, True), "oryon": (True, True, True),
}

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

_CORE_RE = re.compile(r"neoverse[- ]?([nv]\d)|cortex[- ]?(a\d{2,3}(?:ae|c)?|x\d{1,3})|\b(a\d{2,3}(?:ae|c)?|x\d)\b"
                      r"|\b(carmel|oryon)\b", re.IGNORECASE)
_X86_RE = re.compile(r"x86|intel|amd|ryzen|core i\d|atom|celeron|pentium|avx|redwood|crestmont|gracemont|lion cove"
                     r"|skymont|golden cove|zen", re.IGNORECASE)


def _named_cores(description: str) -> list[str]:
    keys = []
    for m in _CORE_RE.finditer(description):
        key = f"neoverse-{m.group(1).lower()}" if m.group(1) else (m.group(2) or m.group(3) or m.group(4)).lower()
        if key in _ARM:
            keys.append(key)
    return keys


def core_isa(description: str, int8_macs_per_cycle: float, fp32_macs_per_cycle: float) -> CoreIsa:
    """The ISA of the first core the description names (with its vector width where it is the only core type
    named); an unnamed core from its int8:fp32 MAC ratio."""
    keys = _named_cores(description)
    if keys:
        key = keys[0]
        dot, mm, f16 = _ARM[key]
        return CoreIsa(key, dot, mm, f16, vector_slots_per_cycle=_SLOTS.get(key) if len(set(keys)) == 1 else None)
    dot = fp32_macs_per_cycle > 0 and int8_macs_per_cycle >= 4 * fp32_macs_per_cycle
    if _X86_RE.search(description):
        return CoreIsa("x86", True, False, False, x86=True)
    return CoreIsa("unknown", dot, False, dot)
