"""Plausibility checks of one run, in the driver so every door (CLI, API, compare, sweep, thermal) gets them.

- the clock: inside the profile's DVFS table, or refused unless the spec says ``overclock`` (a what-if, marked);
- the fit verdict: weights vs the memory that stores them, peak activations (plus the runtime's arena overhead)
  vs the activation memory, both when they share one memory;
- the fallback warning: more than a tenth of the MACs on the host because the accelerator cannot run them;
- the runtime-vs-chip targeting check lives with the runtime profiles' declarations (``edgesim.hw.targeting``),
  run by the runtime stage: refused unless the spec says ``force`` (a what-if, marked).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from edgesim.errors import ProfileError
from edgesim.hw.schema import HardwareProfile, MemoryKind, RuntimeProfile
from edgesim.mapping.plan import OpPlan, Schedule
from edgesim.report.units import si_bytes

# More than this share of the MACs on a fallback unit earns a summary warning: below it the fallback ops are the
# odd softmax or reshape a runtime leaves on the CPU by design; above it the accelerator is mostly idle.
FALLBACK_WARN_SHARE = 0.10

# Memories that can take the spill of an activation memory too small for the peak: a cache or scratchpad
# overflowing into DRAM (or host memory over the link) is slower, not impossible.
_SPILL_KINDS = (MemoryKind.DRAM, MemoryKind.HOST_LINK)


@dataclass(frozen=True)
class FitVerdict:
    """Does the model fit the chip's memories? ``problems`` are one-line reasons when it does not."""

    fits: bool
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        return "fits in memory" if self.fits else "does NOT fit: " + "; ".join(self.problems)


@dataclass(frozen=True)
class FallbackWarning:
    """A large share of the MACs runs on a fallback unit: which unit, why, and what to do."""

    unit: str
    share: float  # of all MACs
    cause: str
    fix: str

    def line(self) -> str:
        return (f"warning: {self.share:.0%} of the MACs fall back to unit '{self.unit}': {self.cause}; "
                f"fix: {self.fix}")


def clock_range_mhz(profile: HardwareProfile) -> tuple[float, float]:
    """[lowest, highest] clock the profile declares: its DVFS operating points and its default frequency."""
    freqs = [p.freq_mhz for p in profile.dvfs.operating_points] + [profile.dvfs.default_freq_mhz]
    return min(freqs), max(freqs)


def check_clock(base: HardwareProfile, clock_mhz: float, overclock: bool, *, include_own_clock: bool = True) -> bool:
    """True when ``clock_mhz`` is outside ``base``'s range and ``overclock`` allows it (an overclocked what-if);
    False when inside; a ProfileError naming the profile and the range otherwise. The range is the DVFS table,
    widened to the profile's own clock unless ``include_own_clock`` is off (a profile object whose clock was
    already changed)."""
    low, high = clock_range_mhz(base)
    if include_own_clock:
        low, high = min(low, base.clock_mhz), max(high, base.clock_mhz)
    # A relative tolerance: sweep axes written as 0.5e3 or computed from ratios land a rounding error away.
    if low * (1 - 1e-9) <= clock_mhz <= high * (1 + 1e-9):
        return False
    if overclock:
        return True
    raise ProfileError(f"clock {clock_mhz:g} MHz is outside profile {base.id}'s range {low:g}-{high:g} MHz "
                       f"(its DVFS table); --overclock runs it as a what-if", field="clock_mhz")


def fit_verdict(schedule: Schedule, profile: HardwareProfile, runtime: RuntimeProfile | None) -> FitVerdict:
    """Weights against the memory that stores them, and peak activations plus the runtime's arena overhead (plus
    the weights, when one memory holds both) against the activation memory.

    Weights are stored in ``placement.weights`` (an MCU's flash); a model too big for it fits only if a larger
    memory can hold them all and stream them (the Edge TPU compiler's host-memory streaming, coral.ai "parameter
    data caching"). Where a unit reads weights through a staging memory is mapping, not storage."""
    problems: list[str] = []
    weights = schedule.total_weight_bytes
    w_mem = profile.memory(profile.placement.weights)
    act_mem = schedule.activation_memory
    shared = weights if w_mem.name == act_mem else 0
    if not shared and weights > w_mem.size_bytes and not any(
            m.name != w_mem.name and m.size_bytes >= weights for m in profile.memories):
        problems.append(f"weights need {si_bytes(weights)} but '{w_mem.name}' holds {si_bytes(w_mem.size_bytes)}")
    if act_mem:
        arena = runtime.arena_overhead_bytes if runtime is not None and runtime.arena_overhead_bytes else 0
        need = schedule.peak_activation_bytes + arena + shared
        size = profile.memory(act_mem).size_bytes
        if need > size and not _can_spill(profile, need):
            what = "peak activations"
            if arena or shared:
                parts = [f"peak activations {si_bytes(schedule.peak_activation_bytes)}"]
                parts += [f"runtime arena {si_bytes(arena)}"] if arena else []
                parts += [f"weights {si_bytes(shared)}"] if shared else []
                what = " + ".join(parts)
            problems.append(f"{what} need {si_bytes(need)} but '{act_mem}' holds {si_bytes(size)}")
    return FitVerdict(not problems, tuple(problems))


def _can_spill(profile: HardwareProfile, need: int) -> bool:
    return any(m.kind in _SPILL_KINDS and m.write_bw_bytes_per_cycle > 0 and m.size_bytes >= need
               for m in profile.memories)


def fallback_warning(schedule: Schedule, profile: HardwareProfile, runtime: RuntimeProfile | None,
                     low_bit_float_graph: bool = False) -> FallbackWarning | None:
    """A warning when more than ``FALLBACK_WARN_SHARE`` of the MACs run on a fallback unit, naming the cause:
    precisions the accelerator does not run (a float model on an int8 NPU, or ops quantization left in float) or
    op kinds it does not support, the kinds with the most fallen-back MACs first. ``low_bit_float_graph``: the
    graph is already quantized to float8/float4, which ``--quant`` leaves as it is, so it is not the fix."""
    total = sum(p.macs for p in schedule.plans)
    fell = [p for p in schedule.plans if p.fallback]
    fell_macs = sum(p.macs for p in fell)
    if not total or fell_macs <= FALLBACK_WARN_SHARE * total:
        return None
    accels = [u for u in profile.units if u.name != profile.host_unit
              and (runtime is None or not runtime.applies_to or u.kind in runtime.applies_to)]
    runs = sorted({k.value for u in accels for k, v in u.macs_per_cycle.items() if v > 0})
    supported = [any(u.supports(p.op) for u in accels) for p in fell]
    by_precision = [p for p, ok in zip(fell, supported, strict=True) if ok]
    unsupported = [p for p, ok in zip(fell, supported, strict=True) if not ok]
    # A model with no quantized MAC op is a float model: quantizing it is the fix. Otherwise these ops stayed in
    # float (or another precision) through quantization, and --quant would change nothing.
    float_model = not any(p.precision in _QUANTIZED for p in schedule.plans if p.macs)
    causes, fixes = [], []
    if by_precision:
        precs = "/".join(sorted({p.precision for p in by_precision}))
        causes.append(f"{precs} ops ({_top_kinds(by_precision)}) on an accelerator that runs "
                      f"{'/'.join(runs) or 'other precisions'}")
        if float_model and "int8" in runs and low_bit_float_graph:
            fixes.append("re-export the model quantized to int8 (--quant leaves a float8/float4-quantized graph as "
                         f"it is) or pick hardware that runs {precs}")
        elif float_model and "int8" in runs:
            fixes.append("--quant int8")
        else:
            fixes.append(f"quantize those ops to {'/'.join(runs)} (--quant-spec) or pick hardware that runs {precs}")
    if unsupported:
        causes.append(f"op kinds the accelerator does not support ({_top_kinds(unsupported)})")
        fixes.append("replace those ops or pick hardware that runs them")
    return FallbackWarning(fell[0].unit, fell_macs / total, " and ".join(causes), "; ".join(fixes))


_QUANTIZED = ("int8", "int4", "int16")


def _top_kinds(plans: list[OpPlan]) -> str:
    """The three op kinds with the most MACs among ``plans`` (then the most ops), with their op counts."""
    macs: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for p in plans:
        macs[p.op] += p.macs
        count[p.op] += 1
    top = sorted(count, key=lambda k: (-macs[k], -count[k], k))[:3]
    return ", ".join(f"{k} x{count[k]}" for k in top)


__all__ = ["FALLBACK_WARN_SHARE", "FallbackWarning", "FitVerdict", "check_clock", "clock_range_mhz", "fallback_warning", "fit_verdict"]
