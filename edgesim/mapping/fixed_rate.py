"""MAC kernels whose speed does not grow with an NPU's MAC array.

A runtime's kernel efficiency is a share of the unit's peak (``macs_per_cycle``), so a twice-as-big array runs
every kernel twice as fast. That holds for dense convolutions, which fill the array's reduction lanes with input
channels, but not for a depthwise convolution on a VeriSilicon VIP9000-class NPU: each output channel reads one
input channel, and the Synaptics SyNAP tables (manual/benchmark, test_report_vs680_* / vs640_*) time
MobileNetV2 at 1.98 ms on VS680 and 2.44 ms on VS640, whose measured synthetic-conv peaks are 7.9 and 1.6 TOP/s
(4.9x): the depthwise-heavy network is 1.2x apart while Inception-v3 (dense) is 2.9x apart (10.2 vs 29.8 ms).
Such a unit names the kernels with an architectural rate in ``ComputeUnit.fixed_rate_macs_per_cycle``: int8 MACs
per unit cycle for the whole unit, whatever its array size. Wider types narrow it as they narrow the array (the
unit's macs_per_cycle at that precision over its int8 rate: the same datapath carries fewer lanes). A runtime
release's efficiency scale for the kernel still applies (a newer compiler can schedule the same hardware better)."""

from __future__ import annotations

from edgesim.hw.schema import ComputeUnit, Precision, RuntimeVersion, UnitKind
from edgesim.ir.work import NodeWork


def fixed_rate(unit: ComputeUnit, key: str) -> float | None:
    """The unit's architectural MAC rate for kernel ``key`` (MACs per unit cycle), or None if the kernel runs at
    a runtime's share of the array's peak. CPUs never have one: their kernels are the runtime's code."""
    if unit.kind is UnitKind.CPU:
        return None
    return unit.fixed_rate_macs_per_cycle.get(key)


def _precision_share(unit: ComputeUnit, precision: str) -> float:
    """The unit's MAC rate at ``precision`` over its int8 rate (1.0 when either is not listed)."""
    rates = {p.value: r for p, r in unit.macs_per_cycle.items()}
    base, at = rates.get(Precision.INT8.value, 0.0), rates.get(precision, 0.0)
    return at / base if base > 0 and at > 0 else 1.0


def fixed_rate_cycles(unit: ComputeUnit, key: str, work: NodeWork, version: RuntimeVersion | None,
                      precision: str) -> float | None:
    """Unit cycles of a MAC op whose kernel has an architectural rate on ``unit``, computing in ``precision``
    (None: the kernel runs at a runtime's share of the array's peak)."""
    rate = fixed_rate(unit, key)
    if rate is None:
        return None
    scale = version.scale_for(key) if version is not None else 1.0
    return work.macs / (rate * _precision_share(unit, precision) * scale)
