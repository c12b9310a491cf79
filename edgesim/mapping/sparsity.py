"""What pruning and weight encoding buy on a given unit.

Sparsity becomes speed only where the hardware can exploit it (the unit's ``sparsity`` list); fewer bytes only
where weights are stored encoded (int4 packing, Huffman), whose decoder throughput is modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from edgesim.hw.schema import ComputeUnit
from edgesim.ir.work import NodeWork

_NM_INDEX_BITS = 2  # 2:4 metadata: a 2-bit position per kept weight (Ampere-style sparse tensor format)


@dataclass(frozen=True)
class SparsityEffect:
    mac_scale: float  # fraction of the dense MAC cycles the unit still spends
    weight_bytes: int  # weight bytes actually fetched
    decode_cycles: float  # weight decoder busy cycles (overlaps compute; the slower of the two wins)
    note: str = ""


def sparsity_effect(work: NodeWork, unit: ComputeUnit, activation_zero_fraction: float = 0.0) -> SparsityEffect:
    support = {getattr(s, "value", s) for s in getattr(unit, "sparsity", ())}
    mac_scale = 1.0
    weight_bytes = work.stored_weight_bytes if work.stored_weight_bytes is not None else work.weight_bytes
    notes = []
    if work.macs:
        if work.nm_pattern is not None and "nm_2_4" in support and work.nm_pattern == (2, 4):
            n, m = work.nm_pattern
            mac_scale = n / m
            kept = work.weight_elements * n / m
            weight_bytes = int(round(weight_bytes * n / m + kept * _NM_INDEX_BITS / 8))
            notes.append("2:4 structured sparsity")
        elif "weight_zero_skip" in support and work.weight_zero_fraction > 0:
            mac_scale = 1.0 - work.weight_zero_fraction
            notes.append("weight zero-skipping")
        if "activation_zero_skip" in support and activation_zero_fraction > 0:
            mac_scale *= 1.0 - activation_zero_fraction
            notes.append("activation zero-skipping")
    decode = 0.0
    if work.weight_decode_bits_per_cycle > 0 and work.stored_weight_bytes is not None:
        decode = 8.0 * work.stored_weight_bytes / work.weight_decode_bits_per_cycle
    return SparsityEffect(mac_scale, weight_bytes, decode, ", ".join(notes))


def apply_to_work(work: NodeWork, effect: SparsityEffect) -> NodeWork:
    """The work the tiler moves: fetched weight bytes replace the dense ones."""
    return replace(work, weight_bytes=effect.weight_bytes)
