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
