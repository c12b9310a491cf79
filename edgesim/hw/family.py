"""Core and unit families: what a profile's compute units are built from (Cortex-M4, Ethos-U55, an Edge TPU...).

Two uses: the novelty class of a prediction (a new chip whose cores are a family the validation data covers is
less novel than a new core family), and the templates ``edgesim profile new --like FAMILY`` starts from. A family is
read off the units' descriptions, which every bundled profile writes with the core's marketing name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgesim.errors import ProfileError
from edgesim.hw.cpu_isa import CpuIsa
from edgesim.hw.schema import ComputeUnit, HardwareProfile


@dataclass(frozen=True)
class Family:
    id: str
    pattern: str  # regex on a unit description (case-insensitive)
    template: str  # bundled profile id new profiles of this family start from
    note: str
    isa: CpuIsa | None = None  # the instruction set of a CPU core family (None: an accelerator)


# Most specific first: "Cortex-M4F" must not match "Cortex-M4" of "Cortex-M40" and so on.
FAMILIES: tuple[Family, ...] = (
    Family("cortex-m0plus", r"cortex-m0\+|cortex-m0plus", "stm32g0b1", "Armv6-M, no DSP extension", CpuIsa.ARMV6_M),
    Family("cortex-m33", r"cortex-m33", "stm32u575", "Armv8-M Mainline with DSP extension", CpuIsa.ARMV8_M),
    Family("cortex-m4", r"cortex-m4f?\b", "stm32l4r5", "Armv7E-M with DSP extension (SMLAD)", CpuIsa.ARMV7E_M),
    Family("cortex-m55", r"cortex-m55", "ethos-u55-128", "Armv8.1-M with Helium (MVE)", CpuIsa.ARMV8_1_M),
    Family("cortex-m7", r"cortex-m7\b", "stm32h7a3", "Armv7E-M dual-issue with DSP extension", CpuIsa.ARMV7E_M),
    Family("cortex-m85", r"cortex-m85", "ra8d1", "Armv8.1-M with Helium (MVE), dual-issue", CpuIsa.ARMV8_1_M),
    Family("cortex-a7", r"cortex-a7\b", "rv1126", "Armv7-A in-order, NEON with a 64-bit datapath", CpuIsa.AARCH32),
    Family("cortex-a35", r"cortex-a35\b", "rk1808", "Armv8-A in-order, NEON with a 64-bit datapath", CpuIsa.AARCH64),
    Family("cortex-a53", r"cortex-a53\b", "coral-edgetpu", "Armv8-A in-order, NEON", CpuIsa.AARCH64),
    Family("cortex-a55", r"cortex-a55\b", "rk3566", "Armv8.2-A in-order, NEON with SDOT", CpuIsa.AARCH64),
    Family("cortex-a72", r"cortex-a72\b", "rpi4", "Armv8-A out-of-order, NEON without dot product", CpuIsa.AARCH64),
    Family("cortex-a73", r"cortex-a73\b", "vs680", "Armv8-A out-of-order, NEON without dot product", CpuIsa.AARCH64),
    Family("cortex-a76", r"cortex-a76\b", "rpi5", "Armv8.2-A out-of-order, NEON with SDOT", CpuIsa.AARCH64),
    Family("cortex-a78", r"cortex-a78", "jetson-orin-nano", "Armv8.2-A out-of-order, NEON with SDOT", CpuIsa.AARCH64),
    Family("cortex-x", r"cortex-x\d|cortex-a7[12]0\b|oryon", "snapdragon-8-gen3",
           "Armv9-A big cores (Cortex-X, A720) and Oryon, NEON with SDOT/I8MM", CpuIsa.AARCH64),
    Family("ethos-u55", r"ethos-u55", "ethos-u55-128", "Arm microNPU, block-based MAC engine"),
    Family("ethos-u65", r"ethos-u65", "ethos-u65-256", "Arm microNPU with AXI DRAM interface"),
    Family("edge-tpu", r"edge tpu", "coral-edgetpu", "Google 64x64 int8 systolic array"),
    Family("hailo", r"hailo", "hailo-8", "Hailo dataflow NPU"),
    Family("nvidia-ampere", r"ampere", "jetson-orin-nano", "NVIDIA Ampere GPU with tensor cores"),
    Family("gap-riscv", r"gap9|\bne16\b|xpulp|greenwaves", "gap9", "GreenWaves RISC-V cluster and NE16", CpuIsa.RISCV32),
    Family("silabs-mvp", r"\bmvp\b|matrix-vector", "efr32mg24", "Silicon Labs matrix-vector processor"),
    Family("xtensa-lx7", r"xtensa", "esp32-s3", "Espressif Xtensa LX7 with the PIE SIMD extension", CpuIsa.XTENSA),
    Family("rknpu", r"rknpu", "rk3566", "Rockchip NPU"),
    Family("hexagon", r"hexagon", "qcs6490", "Qualcomm Hexagon tensor processor"),
    Family("verisilicon-vip", r"verisilicon|vivante|vipnano", "vs640", "VeriSilicon (Vivante) VIP NPU"),
    Family("intel-npu", r"intel npu", "core-ultra-7-155h", "Intel NPU (neural compute engines)"),
    Family("intel-core", r"willow cove|redwood cove|lion cove|tremont|crestmont|skymont", "core-i7-1185gre",
           "Intel x86 cores with AVX2/AVX-512/AVX-VNNI", CpuIsa.X86_64),
    Family("maxim-cnn", r"cnn accelerator", "max78000", "Analog Devices MAX78000 CNN accelerator"),
    Family("kendryte-kpu", r"\bkpu\b", "k230", "Kendryte KPU"),
    Family("myriad", r"shave|neural compute engine", "ncs2", "Intel Movidius Myriad X", CpuIsa.SHAVE),
)


def _named_family(text: str, cpu_only: bool = False) -> Family | None:
    """The first family (most specific first) ``text`` names; ``cpu_only``: CPU core families (an ``isa``) only."""
    return next((f for f in FAMILIES if (f.isa is not None or not cpu_only)
                 and re.search(f.pattern, text, re.IGNORECASE)), None)


def family_of(description: str) -> str | None:
    """The family id a unit description names, or None when it names none edgesim knows."""
    fam = _named_family(description)
    return fam.id if fam is not None else None


def unit_family(profile: HardwareProfile, unit: ComputeUnit, cpu_only: bool = False) -> Family | None:
    """The family a unit's description (and name) names; for the host unit, else the chip's description, which
    often names the host core the unit description leaves out. ``cpu_only``: CPU core families only."""
    fam = _named_family(f"{unit.description} {unit.name}", cpu_only)
    if fam is None and unit.name == profile.host_unit:
        fam = _named_family(profile.description, cpu_only)
    return fam


def profile_families(profile: HardwareProfile) -> frozenset[str]:
    """Families of every compute unit (unknown units as 'unknown:<profile>.<unit>', so they count as new)."""
    return frozenset(fam.id if (fam := unit_family(profile, u)) is not None else f"unknown:{profile.id}.{u.name}"
                     for u in profile.units)


def unit_isa(profile: HardwareProfile, unit: ComputeUnit) -> CpuIsa | None:
    """The instruction set of a CPU unit: its declared ``isa``, else that of the CPU core family its description
    names (or the chip's description, for the host unit), else None (a core edgesim has no family for)."""
    if unit.isa is not None:
        return unit.isa
    fam = unit_family(profile, unit, cpu_only=True)
    return fam.isa if fam is not None else None


def family(family_id: str) -> Family:
    """A family by id; an unknown one is a one-line error listing the known ones."""
    for fam in FAMILIES:
        if fam.id == family_id.lower():
            return fam
    known = ", ".join(f.id for f in FAMILIES)
    raise ProfileError(f"unknown family '{family_id}'; known: {known}", field="like")
