"""Core and unit families: what a profile's compute units are built from (Cortex-M4, Ethos-U55, an Edge TPU...).

Two uses: the novelty class of a prediction (a new chip whose cores are a family the validation data covers is
less novel than a new core family), and the templates ``edgesim profile new --like FAMILY`` starts from. A family is
read off the units' descriptions, which every bundled profile writes with the core's marketing name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgesim.errors import ProfileError
from edgesim.hw.schema import HardwareProfile


@dataclass(frozen=True)
class Family:
    id: str
    pattern: str  # regex on a unit description (case-insensitive)
    template: str  # bundled profile id new profiles of this family start from
    note: str


# Most specific first: "Cortex-M4F" must not match "Cortex-M4" of "Cortex-M40" and so on.
FAMILIES: tuple[Family, ...] = (
    Family("cortex-m0plus", r"cortex-m0\+|cortex-m0plus", "stm32g0b1", "Armv6-M, no DSP extension"),
    Family("cortex-m33", r"cortex-m33", "stm32u575", "Armv8-M Mainline with DSP extension"),
    Family("cortex-m4", r"cortex-m4f?\b", "stm32l4r5", "Armv7E-M with DSP extension (SMLAD)"),
    Family("cortex-m55", r"cortex-m55", "ethos-u55-128", "Armv8.1-M with Helium (MVE)"),
    Family("cortex-m7", r"cortex-m7\b", "stm32h7a3", "Armv7E-M dual-issue with DSP extension"),
    Family("cortex-m85", r"cortex-m85", "ra8d1", "Armv8.1-M with Helium (MVE), dual-issue"),
    Family("cortex-a53", r"cortex-a53", "coral-edgetpu", "Armv8-A in-order, NEON"),
    Family("cortex-a72", r"cortex-a72", "rpi4", "Armv8-A out-of-order, NEON without dot product"),
    Family("cortex-a76", r"cortex-a76", "rpi5", "Armv8.2-A out-of-order, NEON with SDOT"),
    Family("ethos-u55", r"ethos-u55", "ethos-u55-128", "Arm microNPU, block-based MAC engine"),
    Family("ethos-u65", r"ethos-u65", "ethos-u65-256", "Arm microNPU with AXI DRAM interface"),
    Family("edge-tpu", r"edge tpu", "coral-edgetpu", "Google 64x64 int8 systolic array"),
    Family("hailo", r"hailo", "hailo-8", "Hailo dataflow NPU"),
    Family("nvidia-ampere", r"ampere", "jetson-orin-nano", "NVIDIA Ampere GPU with tensor cores"),
    Family("gap-riscv", r"risc-v|ne16|gap9", "gap9", "GreenWaves RISC-V cluster and NE16"),
    Family("silabs-mvp", r"\bmvp\b|matrix-vector", "efr32mg24", "Silicon Labs matrix-vector processor"),
)


def family_of(description: str) -> str | None:
    """The family id a unit description names, or None when it names none edgesim knows."""
    for fam in FAMILIES:
        if re.search(fam.pattern, description, re.IGNORECASE):
            return fam.id
    return None


def profile_families(profile: HardwareProfile) -> frozenset[str]:
    """Families of every compute unit (unknown units as 'unknown:<profile>.<unit>', so they count as new)."""
    out: set[str] = set()
    for u in profile.units:
        fam = family_of(f"{u.description} {u.name}")
        if fam is None:
            # The chip's own description often names the host core the unit description leaves out.
            fam = family_of(profile.description) if u.name == profile.host_unit else None
        out.add(fam or f"unknown:{profile.id}.{u.name}")
    return frozenset(out)


def family(family_id: str) -> Family:
    """A family by id; an unknown one is a one-line error listing the known ones."""
    for fam in FAMILIES:
        if fam.id == family_id.lower():
            return fam
    known = ", ".join(f.id for f in FAMILIES)
    raise ProfileError(f"unknown family '{family_id}'; known: {known}", field="like")
