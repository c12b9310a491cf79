"""Mapping a perturbed chip without mapping it again, for a compute rate of one unit (``compute_only``).

Placement asks only whether a unit can run an op (a positive rate stays positive) and tiling only sizes and memories,
so a unit's MAC or element-wise rate, its NPU block-step cycles or its kernel-efficiency scale change nothing of a
schedule but the compute cycles of the ops on that unit, and the tiles share those out in proportion. So the
perturbed chip's per-op plan memo (``edgesim.mapping.memo``) is seeded from the nominal chip's: the works and the
other units' placements as they are, the unit's ops with their cycles recomputed (``compute_cycles``, the sparsity
scale and decode floor kept) and their tiles' cycles rescaled. The mapper then assembles the schedule from the memo
(memory choices, residual fusion and the rest as always). tests/unit/test_trust_intervals_iv.py checks the seeded
schedules against full maps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from edgesim.hw.schema import HardwareProfile
from edgesim.mapping.compute import compute_cycles
from edgesim.mapping.memo import graph_signatures, plan_memo

if TYPE_CHECKING:
    from edgesim.pipeline.spec import RunResult

_UNIT_RATES = ("macs_per_cycle", "elementwise_ops_per_cycle")
_BLOCK_CYCLES = ("cycles_per_step", "min_cycles_per_step", "output_elements_per_cycle")


def compute_only(profile: HardwareProfile, path: str, lo: float) -> int | None:
    """The unit index when ``path`` is a number only the unit's compute cycles read (and its range stays
    positive), else None. Systolic units are left out (their SCALE-Sim tiles follow the compute timing)."""
    parts = path.split(".")
    if parts[0] != "units" or len(parts) < 3 or not parts[1].isdigit() or lo <= 0:
        return None
    unit = profile.units[int(parts[1])]
    if unit.systolic is not None:
        return None
    if (parts[2] in _UNIT_RATES and len(parts) == 4) or (parts[2:] == ["kernel_efficiency_scale"]) or (
            parts[2] == "mac_block" and len(parts) == 4 and parts[3] in _BLOCK_CYCLES):
        return int(parts[1])
    return None


def seed_plan_memo(base: RunResult, new: HardwareProfile, unit_index: int) -> None:
    """Fill ``new``'s plan memo (for ``base``'s runtime and release) with ``base``'s graph's ops as mapped on
    ``base.profile``, the ops on unit ``unit_index`` with their compute cycles on ``new``. An op the nominal memo
    no longer holds is left for the mapper."""
    old_memo = plan_memo(base.profile, base.runtime, base.version)
    memo = plan_memo(new, base.runtime, base.version)
    name = base.profile.units[unit_index].name
    graph, runtime, version = base.graph, base.runtime, base.version
    with_data = runtime is not None and runtime.weight_compression_ratio is not None
    tilings: dict[object, list[object]] = {}
    for key in old_memo.tilings:
        if isinstance(key, tuple) and len(key) == 4 and key[1] == 0.0:
            tilings.setdefault(key[0], []).append(key)
    sigs = graph_signatures(graph, with_data)
    for node in graph.nodes:
        sig = sigs[node.name]
        work = old_memo.works.get(sig) if sig is not None else None
        placed = old_memo.placed.get((sig, 0.0))
        if work is None or placed is None or (sig, 0.0) in memo.placed:
            continue  # not mapped on the nominal chip (the mapper maps it), or known on this one already
        unit, fallback, cycles, effect, after = placed
        new_unit = new.unit(unit.name)
        k = 1.0
        if unit.name == name:
            # at the precision the mapper costed it at (``after``'s: a converter that quantizes an op's params, QNN's,
            # runs an fp32 LAYER_NORM at its activations' int16, a rate the HTP has where fp32 it has not)
            converted = work if work.precision == after.precision else replace(work, precision=after.precision)
            new_cycles = max(compute_cycles(new_unit, graph, node, converted, runtime, version) * effect.mac_scale,
                             effect.decode_cycles)
            if cycles <= 0:
                if new_cycles != cycles:
                    continue  # nothing to scale the tiles by: the mapper maps this op
            else:
                k = new_cycles / cycles
            cycles = new_cycles
        memo.works[sig] = work
        memo.placed[(sig, 0.0)] = (new_unit, fallback, cycles, effect, after)
        for key in tilings.get(sig, ()):
            tiling = old_memo.tilings[key]
            memo.tilings[key] = tiling if k == 1.0 else replace(tiling, groups=tuple(g.scaled(k) for g in tiling.groups))
