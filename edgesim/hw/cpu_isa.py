"""The int8 instruction path and issue style of an Arm application core, for CPU runtimes whose int8 GEMM kernels
depend on them (XNNPACK picks its QS8 GEMM microkernel by the core: src/configs/gemm-config.c).

A profile names its cores in the unit description ("4x Cortex-A76 ..."); what the MAC rate does not say is which
kernel runs:
  - neon (Armv8.0: A35, A53, A57, A72, A73): no dot product; XNNPACK widens int8 to int16 and multiplies with
    SMLAL (4x16 mlal-lane on in-order cores, 2x8c8 SMULL/SMLAL2/SADALP on A72/A73);
  - dotprod (FEAT_DotProd, Armv8.2: A55, A65, A75-A78, X1, Neoverse N1, Carmel): SDOT, 16 int8 MACs per 128-bit
    instruction (4x16c4 neondot);
  - i8mm (FEAT_I8MM, Armv8.6 / Armv9: A510, A520, A710-A725, X2-X925, Neoverse V1/N2/V2, Oryon): SMMLA, 32 int8 MACs
    per instruction (a 2x8 by 8x2 tile; 4x16c8 neoni8mm).
In-order cores (A7, A35, A53, A55, A510, A520) issue the kernels' widening, lane-insert and load instructions in the
same slots as the multiplies; out-of-order cores hide them. Features from Arm's Technical Reference Manuals ("The
Cortex-A76 core implements ... the Dot Product instructions", "Cortex-A710 ... Int8 matrix multiply"); Carmel from
NVIDIA's Xavier TRM, Oryon from Qualcomm's Snapdragon X Elite brief (Armv8.7 with I8MM).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class CpuIsa(StrEnum):
    """The instruction set a CPU unit executes (ComputeUnit.isa): a CPU runtime's kernels are built for some of
    these only (RuntimeProfile.cpu_isas; edgesim.hw.targeting refuses the others). Arm's M-profile levels differ
    in the DSP/SIMD instructions CMSIS-NN selects (v6-M none, v7E-M and v8-M Mainline SMLAD, v8.1-M Helium);
    AArch32 is an Armv7-A core (NEON on 32-bit Linux), AArch64 every Armv8-A/Armv9-A core edgesim profiles."""

    ARMV6_M = "armv6-m"  # Cortex-M0/M0+
    ARMV7E_M = "armv7e-m"  # Cortex-M4/M7 with the DSP extension
    ARMV8_M = "armv8-m"  # Cortex-M33/M23 (Mainline with DSP on the M33)
    ARMV8_1_M = "armv8.1-m"  # Cortex-M55/M85 with Helium (MVE)
    AARCH32 = "aarch32"  # Armv7-A (Cortex-A7), NEON
    AARCH64 = "aarch64"  # Armv8-A and later (Cortex-A35 ... X925, Neoverse, Carmel, Oryon)
    X86_64 = "x86-64"
    XTENSA = "xtensa"  # Cadence Xtensa LX (ESP32-S3's LX7 with PIE)
    RISCV32 = "riscv32"  # RV32 (ESP32-P4's HP cores, GAP9's cluster)
    RISCV64 = "riscv64"  # RV64 (K230's C908 with RVV 1.0)
    SHAVE = "shave"  # Movidius SHAVE VLIW vector cores (Myriad X): no general-purpose CPU runtime targets them


class Int8Path(StrEnum):
    NEON = "neon"
    DOTPROD = "dotprod"
    I8MM = "i8mm"


@dataclass(frozen=True)
class CoreInt8:
    core: str  # the table key, e.g. "a76"
    path: Int8Path
    in_order: bool


_N, _D, _M = Int8Path.NEON, Int8Path.DOTPROD, Int8Path.I8MM
# core: (int8 path, in-order issue)
_CORES: dict[str, tuple[Int8Path, bool]] = {
    "a7": (_N, True), "a35": (_N, True), "a53": (_N, True), "a57": (_N, False), "a72": (_N, False),
    "a73": (_N, False), "a55": (_D, True), "a65": (_D, False), "a75": (_D, False), "a76": (_D, False),
    "a77": (_D, False), "a78": (_D, False), "a78ae": (_D, False), "a78c": (_D, False), "x1": (_D, False),
    "neoverse-n1": (_D, False), "carmel": (_D, False), "a510": (_M, True), "a520": (_M, True),
    "a710": (_M, False), "a715": (_M, False), "a720": (_M, False), "a725": (_M, False), "x2": (_M, False),
    "x3": (_M, False), "x4": (_M, False), "x925": (_M, False), "neoverse-v1": (_M, False),
    "neoverse-n2": (_M, False), "neoverse-v2": (_M, False), "oryon": (_M, False),
}
_CORE_RE = re.compile(r"neoverse[- ]?([nv]\d)|cortex[- ]?(a\d{1,3}(?:ae|c)?|x\d{1,3})|\b(a\d{2,3}(?:ae|c)?|x\d)\b"
                      r"|\b(carmel|oryon)\b", re.IGNORECASE)


def named_cores(description: str) -> list[str]:
    """The table keys of the Arm cores a unit description names, in the order named (unknown names left out)."""
    keys = []
    for m in _CORE_RE.finditer(description):
        key = f"neoverse-{m.group(1).lower()}" if m.group(1) else (m.group(2) or m.group(3) or m.group(4)).lower()
        if key in _CORES:
            keys.append(key)
    return keys


def core_int8_of(key: str) -> CoreInt8:
    """The int8 path and issue style of a core named by its table key (one of ``named_cores``)."""
    path, in_order = _CORES[key]
    return CoreInt8(key, path, in_order)


def core_int8(description: str) -> CoreInt8 | None:
    """The int8 path of the first Arm core the description names; None when it names none edgesim knows (x86
    cores, accelerators, an unnamed core): runtimes then apply no path-specific scale."""
    keys = named_cores(description)
    return core_int8_of(keys[0]) if keys else None
