"""Weight prefetch across ops: a DMA engine loads the next ops' weights while the current op computes.

An accelerator whose runtime streams weights from DRAM ahead of use (QNN's HTP: the context binary schedules the
weight DMA into VTCM ahead of the ops that read them) stalls on a weight-heavy layer only when the earlier layers
left no DRAM time to hide its load in. ``prefetch_weights`` moves each op's DRAM weight reads back into the idle
DRAM time of earlier ops on the same unit, as far back as a window of weight bytes the on-chip memory can stage.
Bytes are only moved, never dropped, so traffic energy is unchanged; both cost paths read the moved traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from edgesim.hw.schema import HardwareProfile, MemoryKind
from edgesim.mapping.plan import MemTraffic, OpPlan, TileGroup


def _read_on(plan: OpPlan, memory: str) -> int:
    return sum(t.read_bytes for t in plan.traffic if t.memory == memory)


def _idle_s(plan: OpPlan, profile: HardwareProfile, memory: str) -> float:
    """Seconds ``memory`` is idle while the op computes (its fixed overhead does not overlap transfers), after the
    access latency a first transfer on that memory would add."""
    mem = profile.memory(memory)
    busy = 0.0
    for t in plan.traffic:
        if t.memory == memory:
            r, w = mem.transfer_s(t.read_bytes, t.write_bytes, profile.clock_mhz)
            busy += r + w
    if not busy:
        busy = mem.latency_cycles / plan.unit_clock_hz
    return plan.compute_cycles / plan.unit_clock_hz - busy


def _plus_read(traffic: tuple[MemTraffic, ...], memory: str, extra: int) -> tuple[MemTraffic, ...]:
    if any(t.memory == memory for t in traffic):
        return tuple(replace(t, read_bytes=t.read_bytes + extra) if t.memory == memory else t for t in traffic)
    return traffic + (MemTraffic(memory, extra, 0),)


def _with_head_read(tiles: tuple[TileGroup, ...], memory: str, extra: int) -> tuple[TileGroup, ...]:
    """The first tile (the one that issues the prefetch) split off with ``extra`` more bytes read on ``memory``."""
    first = tiles[0]
    head = TileGroup(1, first.compute_cycles, _plus_read(first.traffic, memory, extra), first.working_set_bytes)
    rest = (replace(first, count=first.count - 1),) if first.count > 1 else ()
    return (head,) + rest + tiles[1:]


def _scaled_tiles(tiles: tuple[TileGroup, ...], memory: str, old: int, new: int) -> tuple[TileGroup, ...]:
    """Tiles with their reads on ``memory`` rescaled from ``old`` to ``new`` bytes in total (spread evenly when the
    tiles read none yet); rounding is settled on the first tile."""
    if not tiles:
        return tiles
    if old <= 0:
        # spread over every tile, so the event engine overlaps the prefetch with the op's compute tile by tile
        per = new // sum(g.count for g in tiles)
        spread = tuple(replace(g, traffic=_plus_read(g.traffic, memory, per)) for g in tiles) if per else tiles
        got = per * sum(g.count for g in tiles)
        return _with_head_read(spread, memory, new - got) if new != got else spread
    f = new / old
    out = tuple(replace(g, traffic=tuple(replace(t, read_bytes=int(t.read_bytes * f)) if t.memory == memory else t
                                         for t in g.traffic)) for g in tiles)
    got = sum(g.count * sum(t.read_bytes for t in g.traffic if t.memory == memory) for g in out)
    return _with_head_read(out, memory, new - got) if new != got else out


def _with_read(plan: OpPlan, memory: str, new_read: int) -> OpPlan:
    old = _read_on(plan, memory)  # a plan's traffic has one entry per memory
    return replace(plan, traffic=_plus_read(plan.traffic, memory, new_read - old),
                   tiles=_scaled_tiles(plan.tiles, memory, old, new_read))


def prefetch_weights(plans: Sequence[OpPlan], profile: HardwareProfile, units: frozenset[str],
                     window_bytes: int) -> list[OpPlan]:
    """Plans with each DRAM weight read on ``units`` moved, as far as it fits, into the idle DRAM time of the
    earlier ops (nearest first) whose weights are within ``window_bytes`` of it."""
    out = list(plans)
    for j, p in enumerate(out):
        mem = p.weight_memory
        if p.unit not in units or not mem or profile.memory(mem).kind is not MemoryKind.DRAM:
            continue
        bw = profile.memory(mem).read_bw_bytes_per_s(profile.clock_mhz)
        # The op's own weight reads (re-reads included): at most its read traffic on that memory.
        left = min(p.weight_bytes, _read_on(p, mem))
        staged = p.weight_bytes
        i = j - 1
        while left > 0 and i >= 0 and staged <= window_bytes:
            q = out[i]
            if q.unit == p.unit:
                room = int(max(0.0, _idle_s(q, profile, mem)) * bw)
                moved = min(room, left)
                if moved > 0:
                    out[i] = _with_read(q, mem, _read_on(q, mem) + moved)
                    left -= moved
                staged += q.weight_bytes
            i -= 1
        moved_total = min(p.weight_bytes, _read_on(p, mem)) - left
        if moved_total > 0:
            out[j] = _with_read(out[j], mem, _read_on(out[j], mem) - moved_total)
    return out
