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

_CORE_RE = re.compile(r"neoverse[- ]?([nv]\d)|cortex[- ]?(a\d{2,3}(?:ae|c)?|x\d{1,3})|\b(a\d{2,3}(?:ae|c)?|x\d)\b"
                      r"|\b(carmel|oryon)\b", re.IGNORECASE)
_X86_RE = re.compile(r"x86|intel|amd|ryzen|core i\d|atom|celeron|pentium|avx|redwood|crestmont|gracemont|lion cove"
                     r"|skymont|golden cove|zen", re.IGNORECASE)


def core_isa(description: str, int8_macs_per_cycle: float, fp32_macs_per_cycle: float) -> CoreIsa:
    """The ISA of the first core the description names; an unnamed core from its int8:fp32 MAC ratio."""
    for m in _CORE_RE.finditer(description):
        if m.group(1):
            key = f"neoverse-{m.group(1).lower()}"
        else:
            key = (m.group(2) or m.group(3) or m.group(4)).lower()
        if key in _ARM:
            dot, mm, f16 = _ARM[key]
            return CoreIsa(key, dot, mm, f16)
    dot = fp32_macs_per_cycle > 0 and int8_macs_per_cycle >= 4 * fp32_macs_per_cycle
    if _X86_RE.search(description):
        return CoreIsa("x86", True, False, False, x86=True)
    return CoreIsa("unknown", dot, False, dot)
