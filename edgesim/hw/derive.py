"""A complete profile for a chip that is announced but not sold: a family template plus the numbers known.

``new_profile`` starts from the bundled profile of the family (``edgesim.hw.family``), sets what the user gives
(clock, SRAM, flash, NPU MACs per cycle, DRAM bandwidth), rescales what follows from those by a stated rule, and
marks every number it did not get from the user as derived, with the range it is uncertain by. The result is
validated before it is returned, so ``edgesim profile new`` never writes a profile that does not load.

The ranges (``ASSUMED``) say how far a sister part of the same family may differ from the template: e.g. two
Cortex-M4 parts' effective flash bandwidth per cycle differ by wait states and prefetch (+/-30%), their energy per
cycle by process and regulator (+/-35%).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from edgesim.errors import ProfileError
from edgesim.hw.family import family
from edgesim.hw.loader import _locate, _resolve_extends, _validate, profiles_dir
from edgesim.hw.schema import HardwareProfile, MemoryKind, UnitKind
from edgesim.hw.uncertain import attach, split_uncertain

# Relative uncertainty of a template number carried over to a sister part, by what it is. Each is the spread of
# that number across the bundled profiles of one family (hw_profiles/: e.g. flash bytes/cycle 1.0-2.0 across the
# Cortex-M4/M33 parts, static power 2-20% of run power), rounded.
ASSUMED: dict[str, tuple[float, str]] = {
    "sram_bw": (0.15, "on-chip SRAM bytes/cycle of the family template (bus width and wait states vary)"),
    "flash_bw": (0.30, "flash bytes/cycle of the family template (wait states and prefetch vary by part)"),
    "dram_bw": (0.30, "DRAM bandwidth of the family template (memory type and controller vary by board)"),
    "active_energy": (0.35, "energy per busy cycle of the family template (process and regulator differ)"),
    "mac_energy": (0.35, "energy per MAC of the family template (process differs)"),
    "static_power": (0.50, "static power of the family template (leakage depends on process and temperature)"),
    "core_scale": (0.15, "kernel efficiency of the family's core (same core, different memory system)"),
    # power.board_power_factor fitted on the template's own MLPerf energy rows: another board of the family has its
    # own regulator and datasheet conventions (fitted factors 1.27-1.85 around 1.48 across the five Cortex-M parts
    # with rows; python -m edgesim.validate.board_power prints them)
    "board_power": (0.30, "board power over datasheet figures of the family template (regulator, datasheet basis)"),
    "npu_step": (0.20, "NPU cycles per step scaled inversely with the MAC count (block shape assumed)"),
}


# How far a given number may sit from the family template before it is no sister part: a clock 5x above the
# template's top operating point (Cortex-M4 parts span 48-240 MHz around the 120 MHz template; Cortex-M0+ 32-200
# MHz, RP2040's 133 MHz rated part run at 300, around the 64 MHz template), an NPU scaled
# beyond 8x either way (Ethos-U55 spans 32-256 MACs around the 128-MAC template; the block-shape rule assumes a
# same-shaped engine).
MAX_CLOCK_RATIO = 5.0
MAX_NPU_RATIO = 8.0
# A memory size or DRAM bandwidth 100x from the template's either way is no sister part either (Cortex-M4 parts
# carry 32 KB-3 MB of SRAM around the 640 KB template, 64 KB-2 MB of flash; a 1 TB MCU SRAM was written as given).
MAX_MEMORY_RATIO = 100.0


@dataclass(frozen=True)
class NewChip:
    """What is known of the new chip; None = take the family template's number (marked derived)."""

    family: str
    id: str
    description: str = ""
    clock_mhz: float | None = None
    sram_kb: float | None = None
    flash_kb: float | None = None
    npu_macs: float | None = None
    dram_gbps: float | None = None
    source: str = "user-supplied (announcement)"


def _given(value: float, source: str) -> dict[str, Any]:
    return {"value": value, "source": source}


def _derived(value: float, key: str) -> dict[str, Any]:
    rel, why = ASSUMED[key]
    return {"value": value, "rel": rel, "derived": True, "reason": why}


def _exactly_derived(value: float, why: str) -> dict[str, Any]:
    # Follows from a given number by a rule with no freedom (an operating point rescaled with the clock).
    return {"value": value, "rel": 0.0, "derived": True, "reason": why}


def _positive(name: str, v: float | None) -> None:
    if v is not None and not 0 < v < float("inf"):
        raise ProfileError(f"{name} must be a positive number, got {v:g}", field=name.lstrip("-").replace("-", "_"))


def template_data(family_id: str) -> tuple[str, dict[str, Any]]:
    """(template id, its YAML with every ``extends`` merged) of a family."""
    fam = family(family_id)
    folder = profiles_dir()
    data = _resolve_extends(_locate(fam.template, folder, "hardware profile"), folder, "hardware profile")
    data, _ = split_uncertain(data, fam.template)
    return fam.template, data


def _set_clock(d: dict[str, Any], chip: NewChip) -> None:
    old = float(d["clock_mhz"])
    if chip.clock_mhz is None:
        return
    new = chip.clock_mhz
    d["clock_mhz"] = _given(new, chip.source)
    dv = d["dvfs"]
    ratio = new / old
    dv["operating_points"] = [{"freq_mhz": _exactly_derived(round(p["freq_mhz"] * ratio, 3),
                                                            f"template point x {ratio:.4g} (clock ratio)"),
                               "voltage_v": _exactly_derived(p["voltage_v"], "template voltage kept")}
                              for p in dv["operating_points"]]
    dv["default_freq_mhz"] = new


def _memories(d: dict[str, Any], chip: NewChip) -> None:
    first_sram = id(_first(d, MemoryKind.SRAM) or _first(d, MemoryKind.TCM))  # --sram-kb sizes the main SRAM
    for m in d["memories"]:
        kind = MemoryKind(m["kind"])
        if chip.sram_kb is not None and id(m) == first_sram:
            m["size_bytes"] = _given(int(chip.sram_kb * 1024), chip.source)
        if kind is MemoryKind.FLASH and chip.flash_kb is not None:
            m["size_bytes"] = _given(int(chip.flash_kb * 1024), chip.source)
        if kind is MemoryKind.DRAM and chip.dram_gbps is not None:
            clock = m.get("clock_mhz") or (chip.clock_mhz or d["clock_mhz"])
            clock = clock["value"] if isinstance(clock, dict) else clock
            m["read_bw_bytes_per_cycle"] = _given(chip.dram_gbps * 1e3 / float(clock), chip.source)
            m["write_bw_bytes_per_cycle"] = _given(chip.dram_gbps * 1e3 / float(clock), chip.source)
            continue
        key = {MemoryKind.FLASH: "flash_bw", MemoryKind.DRAM: "dram_bw"}.get(kind, "sram_bw")
        if m["read_bw_bytes_per_cycle"] > 0:
            m["read_bw_bytes_per_cycle"] = _derived(m["read_bw_bytes_per_cycle"], key)


def _first(d: dict[str, Any], kind: MemoryKind) -> dict[str, Any] | None:
    return next((m for m in d["memories"] if MemoryKind(m["kind"]) is kind), None)


def _units(d: dict[str, Any], chip: NewChip) -> None:
    host = d["host_unit"]
    npus = [u for u in d["units"] if u["name"] != host and UnitKind(u["kind"]) in (UnitKind.MAC_ARRAY,
                                                                                   UnitKind.SYSTOLIC)]
    if chip.npu_macs is not None and not npus:
        raise ProfileError(f"family '{chip.family}' has no NPU unit; --npu-macs applies to a family with one",
                           field="npu_macs")
    for u in d["units"]:
        if u.get("active_energy_pj_per_cycle"):
            u["active_energy_pj_per_cycle"] = _derived(u["active_energy_pj_per_cycle"], "active_energy")
        if u["name"] == host:
            u["kernel_efficiency_scale"] = _derived(u.get("kernel_efficiency_scale", 1.0), "core_scale")
    if chip.npu_macs is not None:
        for u in npus:
            _scale_npu(u, chip.npu_macs, chip.source)


def _scale_npu(u: dict[str, Any], macs: float, source: str) -> None:
    """Set an NPU unit to ``macs`` int8 MACs/cycle and scale what the MAC engine sizes with it."""
    old = float(u["macs_per_cycle"].get("int8") or max(u["macs_per_cycle"].values()))
    ratio = macs / old
    if not 1 / MAX_NPU_RATIO <= ratio <= MAX_NPU_RATIO:
        raise ProfileError(f"--npu-macs {macs:g} is {ratio:.3g}x the template's {old:g} MACs/cycle; the scaling rules "
                           f"(block shape, stage widths) hold within {1 / MAX_NPU_RATIO:g}x..{MAX_NPU_RATIO:g}x",
                           field="npu_macs")
    u["description"] = f"{macs:g} int8 MACs/cycle, scaled from: {u['description']}"
    u["macs_per_cycle"] = {p: (_given(macs, source) if p == "int8"
                               else _exactly_derived(v * ratio, f"template rate x {ratio:.4g} (int8 MAC ratio)"))
                           for p, v in u["macs_per_cycle"].items()}
    # The elementwise and output stages are sized with the MAC engine (Vela architecture_features.py:
    # elem_units 4 / 8 and output cycles per element 0.5 / 0.25 for Ethos-U55-128 / -256).
    u["elementwise_ops_per_cycle"] = {p: _exactly_derived(v * ratio, f"template rate x {ratio:.4g} (MAC ratio)")
                                      for p, v in u["elementwise_ops_per_cycle"].items()}
    if u.get("mac_block"):
        # A wider MAC engine covers a block in proportionally fewer cycles (Vela grows the micro-block of
        # Ethos-U55-256 instead: same work per cycle); the block shape itself is assumed unchanged.
        blk = u["mac_block"]
        blk["cycles_per_step"] = _derived(blk["cycles_per_step"] / ratio, "npu_step")
        blk["output_elements_per_cycle"] = _exactly_derived(blk["output_elements_per_cycle"] * ratio,
                                                            f"template rate x {ratio:.4g} (MAC ratio)")
    if u.get("systolic"):
        side = max(1, round((u["systolic"]["rows"] * u["systolic"]["cols"] * ratio) ** 0.5))
        u["systolic"]["rows"] = u["systolic"]["cols"] = side


def _check_given(chip: NewChip, template: str, d: dict[str, Any]) -> None:
    """Refuse a given number the template has nothing to put it on (a DRAM bandwidth for an MCU family: written
    nowhere, reported as '0 given'), or one too far from the family to be a sister part (a 1 GHz Cortex-M4)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", chip.id):
        raise ProfileError(f"profile id '{chip.id}' must be letters, digits and . _ + - (it names files and --hw "
                           "arguments)", field="id")
    if not chip.source.strip():
        raise ProfileError("--source must say where the given numbers come from", field="source")
    if chip.id in _bundled_ids():
        # A bundled id would give the new chip that board's measured calibration (keyed by profile id).
        raise ProfileError(f"profile id '{chip.id}' is a bundled profile's; give the new chip its own --id", field="id")
    kinds = {MemoryKind(m["kind"]) for m in d["memories"]}
    for flag, value, kind in (("--dram-gbps", chip.dram_gbps, MemoryKind.DRAM),
                              ("--flash-kb", chip.flash_kb, MemoryKind.FLASH)):
        if value is not None and kind not in kinds:
            raise ProfileError(f"family '{chip.family}' (template {template}) has no {kind.value} memory; {flag} "
                               "applies to a family with one", field=flag[2:].replace("-", "_"))
    clocks = [float(d["clock_mhz"]), *(float(p["freq_mhz"]) for p in d["dvfs"]["operating_points"])]
    top, low = max(clocks), min(clocks)
    if chip.clock_mhz is not None and chip.clock_mhz > MAX_CLOCK_RATIO * top:
        raise ProfileError(f"--clock-mhz {chip.clock_mhz:g} is more than {MAX_CLOCK_RATIO:g}x the {top:g} MHz of "
                           f"family '{chip.family}' (template {template}): not a sister part", field="clock_mhz")
    # Downwards 5x under the lowest operating point, or 25x under the top where the table is one point (a 300 MHz
    # Cortex-A7 from the 1.5 GHz RV1126): 0.001 MHz failed later on a derived DVFS point rounded to 0, naming a
    # field the user never gave.
    floor = min(low / MAX_CLOCK_RATIO, top / MAX_CLOCK_RATIO**2)
    if chip.clock_mhz is not None and chip.clock_mhz < floor:
        raise ProfileError(f"--clock-mhz {chip.clock_mhz:g} is below the {floor:.3g} MHz a sister part of family "
                           f"'{chip.family}' (template {template}, {low:g}-{top:g} MHz) runs at", field="clock_mhz")
    _check_memory_span(chip, template, d)


def _check_memory_span(chip: NewChip, template: str, d: dict[str, Any]) -> None:
    """--sram-kb, --flash-kb and --dram-gbps within MAX_MEMORY_RATIO of the template's numbers they replace."""
    def number(v: Any) -> float:
        return float(v["value"] if isinstance(v, dict) else v)

    sram = _first(d, MemoryKind.SRAM) or _first(d, MemoryKind.TCM)
    flash, dram = _first(d, MemoryKind.FLASH), _first(d, MemoryKind.DRAM)
    dram_gbps = None
    if dram is not None:
        clock = dram.get("clock_mhz") or d["clock_mhz"]
        dram_gbps = number(dram["read_bw_bytes_per_cycle"]) * number(clock) / 1e3
    for flag, given, old, unit in (
            ("--sram-kb", chip.sram_kb, number(sram["size_bytes"]) / 1024 if sram else None, "KB"),
            ("--flash-kb", chip.flash_kb, number(flash["size_bytes"]) / 1024 if flash else None, "KB"),
            ("--dram-gbps", chip.dram_gbps, dram_gbps, "GB/s")):
        if given is None or not old:
            continue
        if not old / MAX_MEMORY_RATIO <= given <= old * MAX_MEMORY_RATIO:
            raise ProfileError(f"{flag} {given:g} is {given / old:.3g}x the {old:g} {unit} of family "
                               f"'{chip.family}' (template {template}); a sister part stays within "
                               f"{1 / MAX_MEMORY_RATIO:g}x..{MAX_MEMORY_RATIO:g}x", field=flag[2:].replace("-", "_"))


def _bundled_ids() -> set[str]:
    return {p.stem for p in profiles_dir().glob("*.yaml") if not p.name.startswith("_")}


def new_profile_data(chip: NewChip) -> dict[str, Any]:
    """The YAML mapping of the new chip (uncertain numbers as {value, rel|range, source|reason, derived})."""
    for name in ("clock_mhz", "sram_kb", "flash_kb", "npu_macs", "dram_gbps"):
        _positive(f"--{name.replace('_', '-')}", getattr(chip, name))
    template, base = template_data(chip.family)
    _check_given(chip, template, base)
    d = copy.deepcopy(base)
    d["id"] = chip.id
    d["description"] = chip.description or f"{chip.id}: new {chip.family} chip derived from {template}"
    _set_clock(d, chip)
    _memories(d, chip)
    _units(d, chip)
    d["energy"]["mac_energy_pj"] = {p: _derived(v, "mac_energy") for p, v in d["energy"]["mac_energy_pj"].items()}
    d["power"]["static_power_mw"] = _derived(d["power"]["static_power_mw"], "static_power")
    factor = d["power"].get("board_power_factor", 1.0)
    if not isinstance(factor, dict) and factor != 1.0:  # a sister part's fitted factor (an uncertain one is kept)
        d["power"]["board_power_factor"] = _derived(factor, "board_power")
    d["sources"] = [f"derived by 'edgesim profile new --like {chip.family}' from bundled profile {template}",
                    chip.source, *d.get("sources", [])]
    return d


def new_profile(chip: NewChip) -> tuple[dict[str, Any], HardwareProfile]:
    """The new chip's YAML mapping and its validated profile (a ProfileError if the numbers do not make one)."""
    from pathlib import Path

    data = new_profile_data(chip)
    plain, fields = split_uncertain(data, f"{chip.id}.yaml")
    profile = _validate(HardwareProfile, plain, Path(f"{chip.id}.yaml"))
    runtime = _default_runtime(profile)
    if runtime != profile.default_runtime:
        data["default_runtime"] = plain["default_runtime"] = runtime
        profile = _validate(HardwareProfile, plain, Path(f"{chip.id}.yaml"))
    return data, attach(profile, fields)


# Engines a new chip falls back to when its template's default runtime is tied to the vendor's own parts
# (X-CUBE-AI runs on STM32 only): the portable ones, in order.
_PORTABLE_RUNTIMES = ("tflm", "tflite-xnnpack")


def _default_runtime(profile: HardwareProfile) -> str | None:
    """The template's default runtime if it can drive the new chip, else the first portable one that can."""
    from edgesim.hw.loader import load_runtime
    from edgesim.hw.targeting import runtime_fit_problem

    for spec in (profile.default_runtime, *_PORTABLE_RUNTIMES):
        if spec is None:
            continue
        try:
            rt, _ = load_runtime(spec, note_missing_version=False)
        except ProfileError:
            continue
        if runtime_fit_problem(profile, rt) is None:
            return spec
    return profile.default_runtime
