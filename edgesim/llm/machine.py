"""What an LLM runtime sees of a board: DRAM bandwidth and size, the MAC rate of the unit it runs on.

Read from the shared HardwareProfile schema (DRAM = the MemoryLevel of kind dram; compute = the unit's
macs_per_cycle x count x clock), so a new board profile needs no LLM-specific fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesim.errors import ProfileError
from edgesim.hw.schema import ChipKind, ComputeUnit, HardwareProfile, MemoryKind, Precision, UnitKind
from edgesim.llm.cpu_cores import CoreIsa, core_isa


@dataclass(frozen=True)
class CoreGroup:
    """Threads that run on one kind of CPU core: its ISA, clock and 128-bit vector issue slots per cycle (the core
    table's, edgesim.llm.cpu_cores: A55 0.5, A72 1, A76 2, X-class 4; else the profile's fp32 FMA rate / 4 lanes)."""

    isa: CoreIsa
    count: int
    clock_hz: float
    vector_slots_per_cycle: float


def _core_group(u: ComputeUnit, n: int, clock_hz: float) -> CoreGroup:
    i8 = u.macs_per_cycle.get(Precision.INT8, 0.0)
    f32 = u.macs_per_cycle.get(Precision.FP32, 0.0) or u.macs_per_cycle.get(Precision.FP16, 0.0) / 2
    isa = core_isa(u.description, i8, f32)
    slots = isa.vector_slots_per_cycle if isa.vector_slots_per_cycle is not None else max(f32, 1.0) / 4.0
    return CoreGroup(isa, n, clock_hz, slots)


@dataclass(frozen=True)
class Machine:
    hw: str
    unit: str  # cpu | gpu | npu
    unit_name: str
    cores: int  # cores used (threads on a CPU, the unit's count for a GPU/NPU)
    clock_hz: float
    host_clock_hz: float  # the host CPU's clock: what launching kernels from the host runs at
    # the host core's 128-bit vector issue slots per cycle (edgesim.llm.cpu_cores; A72 1, A76 2): what the host-side
    # work between an accelerator's kernels (norms, RoPE, activation conversions) runs at
    host_vector_slots_per_cycle: float
    macs_per_s: dict[str, float]  # peak MAC rate per precision with the cores used
    # SIMD issue rate (elementwise ops/s) per precision: what instruction-bound kernels scale with
    simd_ops_per_s: dict[str, float]
    dram_bw_bytes_per_s: float  # what the unit can stream: the CPU's sustained share, else the interface peak
    dram_bytes: int
    dram_pj_per_byte: float
    mac_energy_pj: dict[str, float]
    active_pj_per_cycle: float | None  # application cores: energy per busy core cycle
    static_power_w: float
    idle_power_w: float
    # CPU placements: the threads' cores, big cluster first (llama.cpp's GEMM kernels are chosen per core ISA)
    core_groups: tuple[CoreGroup, ...] = ()

    def simd_rate(self, precision: str) -> float:
        """Elementwise vector ops/s in ``precision`` (falls back to the MAC rate where the unit lists none)."""
        r = self.simd_ops_per_s.get(precision, 0.0)
        return r if r > 0 else self.rate(precision)

    def rate(self, precision: str) -> float:
        """Peak MACs/s in ``precision``; a precision the unit lacks runs in the next wider one."""
        for p in {"int4": ("int4", "int8", "fp16", "fp32"), "int8": ("int8", "int16", "fp16", "fp32"),
                  "fp16": ("fp16", "fp32"), "fp32": ("fp32", "fp16")}.get(precision, (precision, "fp32")):
            if self.macs_per_s.get(p, 0.0) > 0:
                return self.macs_per_s[p]
        return max(self.macs_per_s.values())


# CPU cores sustain only part of an LPDDR interface's bandwidth when streaming (a core's outstanding misses and the
# cluster's port cap it; GPU and NPU DMA engines get closer to the peak). Profiles state it per DRAM level
# (MemoryLevel.cpu_stream_fraction, of read_bw). The rule: llama.cpp decode streams 84-91% (0.87) of an all-thread
# STREAM read figure (Raspberry Pi 5, ggml-org/llama.cpp#26484), so where an all-core STREAM figure is published the
# share is 0.87 x it (rpi5 0.59 of 17 GB/s, cix-p1 0.62 of 61.4). A one-thread memcpy (tinymembench, the figure most
# boards have) undercounts many-core chips (one A720 moves 16.6 GB/s of Cix P1's ~44 GB/s all-core STREAM), so it is
# the fallback: memcpy x 1.56 (the Pi 4's decode-stream / memcpy ratio; qcs6490 0.42 of a read_bw that is 0.6 of its
# 51.2 GB/s peak = 0.25 of the peak). Where a profile states the interface (bus width x MT/s) but no CPU share, the
# CPU streams 0.40 of the peak; where it states neither, half of read_bw (estimate).
DEFAULT_CPU_PEAK_FRACTION = 0.40
DEFAULT_CPU_STREAM_FRACTION = 0.5


def _dram(profile: HardwareProfile, unit: str) -> tuple[float, int, float]:
    drams = [m for m in profile.memories if m.kind is MemoryKind.DRAM]
    if not drams:
        raise ProfileError(f"profile '{profile.id}' has no DRAM memory level; an LLM needs one", field="memories")
    m = max(drams, key=lambda m: m.size_bytes)
    if unit == "cpu":
        if m.cpu_stream_fraction is not None:
            bw = m.read_bw_bytes_per_s(profile.clock_mhz) * m.cpu_stream_fraction
        elif m.bus_width_bits is not None and m.transfer_rate_mts is not None:
            bw = m.peak_read_bw_bytes_per_s(profile.clock_mhz) * DEFAULT_CPU_PEAK_FRACTION
        else:
            bw = m.read_bw_bytes_per_s(profile.clock_mhz) * DEFAULT_CPU_STREAM_FRACTION
    else:
        # GPU and NPU DMA engines stream from the interface peak (bus width x transfer rate); the runtime's fitted
        # bw_efficiency is the fraction of it they sustain. Profiles whose read_bw is a CPU-sustained estimate
        # (RK3588: 20 of 33.8 GB/s) state the interface so an NPU is not capped at the CPU's share.
        bw = m.peak_read_bw_bytes_per_s(profile.clock_mhz)
    return bw, m.size_bytes, m.read_energy_pj_per_byte


def find_unit(profile: HardwareProfile, unit: str) -> ComputeUnit:
    if unit == "cpu":
        if profile.host.kind is UnitKind.CPU:
            return profile.host
        cpus = [u for u in profile.units if u.kind is UnitKind.CPU]
    elif unit == "gpu":
        cpus = [u for u in profile.units if "gpu" in u.name.lower() or "gpu" in u.description.lower()]
    else:
        cpus = [u for u in profile.units if u.kind in (UnitKind.MAC_ARRAY, UnitKind.SYSTOLIC)
                and "gpu" not in u.name.lower()]
    # profiles that declare what a unit is (device_class) are taken at their word
    declared = [u for u in profile.units if str(getattr(u, "device_class", None) or "").lower() == unit]
    cpus = declared or cpus
    if not cpus:
        raise ProfileError(f"profile '{profile.id}' has no {unit} unit; units: "
                           f"{', '.join(u.name for u in profile.units)}", field="unit")
    return cpus[0]


def machine(profile: HardwareProfile, unit: str, threads: int | None) -> Machine:
    """The board as seen by a runtime on ``unit`` with ``threads`` CPU threads (None = all big cores)."""
    if unit == "cpu" and profile.kind is ChipKind.NPU:
        # An accelerator profile (Hailo, Coral, NCS2 on a host link) holds the accelerator's power; its cpu is a
        # stand-in host for the ops the compiler leaves out. A language model on it would be answered with the
        # host's cores at the card's 0.3-0.5 W (llama.cpp decode at a third of the same cores' energy on a board).
        raise ProfileError(f"profile '{profile.id}' describes an accelerator; its cpu is a stand-in host for fallback "
                           "ops, whose power the profile does not hold: give the host board's profile (e.g. "
                           "--hw rpi5) for a CPU runtime, or a runtime for the accelerator", field="unit")
    u = find_unit(profile, unit)
    bw, size, pj = _dram(profile, unit)
    clock_hz = u.effective_clock_mhz(profile.clock_mhz) * 1e6
    rates: dict[str, float] = {}
    simd: dict[str, float] = {}
    groups: list[CoreGroup] = []
    if u.kind is UnitKind.CPU:
        n = u.count if threads is None else threads
        if n < 1:
            raise ProfileError(f"threads must be >= 1, got {n}", field="threads")
        total = u.count + (profile.little_cluster.count if profile.little_cluster is not None else 0)
        if n > total:
            raise ProfileError(f"{n} threads on '{profile.id}', which has {total} CPU cores", field="threads")
        big = min(n, u.count)
        groups.append(_core_group(u, big, clock_hz))
        for p, r in u.macs_per_cycle.items():
            rates[p.value] = big * r * clock_hz
        for p, r in u.elementwise_ops_per_cycle.items():
            simd[p.value] = big * r * clock_hz
        lc = profile.little_cluster
        # Threads beyond the big cores land on the LITTLE cluster (big.LITTLE SoCs), if there is one.
        if n > u.count and lc is not None and lc.clock_mhz is not None:
            extra = min(n - u.count, lc.count)
            groups.append(_core_group(lc, extra, lc.clock_mhz * 1e6))
            for p, r in lc.macs_per_cycle.items():
                rates[p.value] = rates.get(p.value, 0.0) + extra * r * lc.clock_mhz * 1e6
            for p, r in lc.elementwise_ops_per_cycle.items():
                simd[p.value] = simd.get(p.value, 0.0) + extra * r * lc.clock_mhz * 1e6
        cores = n
    else:
        if threads is not None:  # was silently unused (and written to the JSON as if it had counted)
            raise ProfileError(f"{threads} threads: the model runs on the {unit} ('{u.name}'), where CPU threads do "
                               "not apply (drop --threads, or --unit cpu)", field="threads")
        cores = u.count  # NPU cores / GPU units: the per-core bandwidth limit counts them
        rates = {p.value: r * u.count * clock_hz for p, r in u.macs_per_cycle.items()}
        simd = {p.value: r * u.count * clock_hz for p, r in u.elementwise_ops_per_cycle.items()}
    k = profile.power.board_power_factor
    host_hz = profile.host.effective_clock_mhz(profile.clock_mhz) * 1e6
    host = _core_group(profile.host, 1, host_hz) if profile.host.kind is UnitKind.CPU else None
    return Machine(
        hw=profile.id, unit=unit, unit_name=u.name, cores=cores, clock_hz=clock_hz,
        host_clock_hz=host_hz, host_vector_slots_per_cycle=host.vector_slots_per_cycle if host else 1.0,
        macs_per_s=rates,
        simd_ops_per_s=simd, dram_bw_bytes_per_s=bw, dram_bytes=size, dram_pj_per_byte=pj,
        # Compute energy and static power carry the board-power factor (measured board / datasheet figures), as in
        # cost/analytic.py; DRAM energy is per byte and not scaled.
        mac_energy_pj={p.value: e * k for p, e in profile.energy.mac_energy_pj.items()},
        active_pj_per_cycle=None if u.active_energy_pj_per_cycle is None else u.active_energy_pj_per_cycle * k,
        static_power_w=profile.power.static_power_w,
        idle_power_w=profile.power.idle_power_mw * 1e-3, core_groups=tuple(groups),
    )
