"""A compute unit as a SimPy process: runs its ops in schedule order, tile by tile.

Units with a DMA engine (mac_array, systolic) double-buffer: a loader process fetches tile i+1 while tile i
computes, and each tile's results are written back in the background. A CPU has no DMA: its loads, stores and
arithmetic of one tile interleave, so a tile takes as long as the slowest of them.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from edgesim.mapping.plan import OpPlan, TileGroup
from edgesim.mapping.tiling import DMA_UNIT_KINDS
from edgesim.sim.memory import MemoryPort, now_ps, seconds_to_ps

# Groups longer than this are simulated as EDGE tiles, one aggregated middle step, EDGE tiles.
MAX_PLAIN_TILES = 5
EDGE_TILES = 2

STALL_CAUSE_BY_KIND = {"dram": "dram", "host_link": "dram", "flash": "flash", "sram": "sram", "tcm": "sram",
                       "cache": "sram"}


@dataclass
class OpRecord:
    """Times (integer picoseconds) one op spent; filled in while it runs."""

    node: str
    unit: str
    clock_hz: float
    unit_free_ps: int = 0
    start_ps: int = 0  # dependencies met, the op begins (overhead first)
    exec_start_ps: int = 0
    end_ps: int = 0
    compute_ps: int = 0
    mem_ps: dict[str, int] = field(default_factory=dict)  # memory level -> time its transfers were in flight


def segments(groups: tuple[TileGroup, ...]) -> list[tuple[TileGroup, int]]:
    """(tile group, how many identical tiles this step stands for): short groups tile by tile, long groups
    as first tiles, one aggregated steady-state step, last tiles."""
    out: list[tuple[TileGroup, int]] = []
    for g in groups:
        if g.count <= MAX_PLAIN_TILES:
            out.extend((g, 1) for _ in range(g.count))
        else:
            out.extend((g, 1) for _ in range(EDGE_TILES))
            out.append((g, g.count - 2 * EDGE_TILES))
            out.extend((g, 1) for _ in range(EDGE_TILES))
    return out


class UnitProcess:
    def __init__(self, env: simpy.Environment, unit: Any, clock_hz: float, plans: list[OpPlan],
                 ports: dict[str, MemoryPort], done: dict[str, simpy.Event], records: dict[str, OpRecord]) -> None:
        self.env = env
        self.name: str = unit.name
        self.double_buffer = unit.kind.value in DMA_UNIT_KINDS
        self.clock_hz = clock_hz
        self.plans = plans
        self.ports = ports
        self.done = done
        self.records = records

    def _cycles_ps(self, cycles: float) -> int:
        return seconds_to_ps(cycles / self.clock_hz)

    def _move(self, rec: OpRecord, memory: str, read_bytes: int, write_bytes: int,
              requests: int = 1, wait_latency: bool = True) -> Generator[Any, Any, None]:
        port = self.ports[memory]
        t0 = now_ps(self.env)
        yield from port.transfer(read_bytes, write_bytes, rec.node, requests, wait_latency)
        rec.mem_ps[memory] = rec.mem_ps.get(memory, 0) + (now_ps(self.env) - t0)

    def run(self) -> Generator[Any, Any, None]:
        env = self.env
        for plan in self.plans:
            rec = OpRecord(plan.node, self.name, self.clock_hz, unit_free_ps=now_ps(env))
            self.records[plan.node] = rec
            deps = [self.done[d] for d in plan.depends_on if d in self.done]
            if deps:
                yield simpy.AllOf(env, deps)
            rec.start_ps = now_ps(env)
            overhead = self._cycles_ps(plan.overhead_cycles)
            if overhead:
                yield env.timeout(overhead)
            rec.exec_start_ps = now_ps(env)
            segs = segments(plan.tiles)
            if self.double_buffer:
                yield from self._pipelined(rec, segs)
            else:
                yield from self._interleaved(rec, segs)
            rec.end_ps = now_ps(env)
            self.done[plan.node].succeed()

    def _interleaved(self, rec: OpRecord, segs: list[tuple[TileGroup, int]]) -> Generator[Any, Any, None]:
        env = self.env
        for g, m in segs:
            c = self._cycles_ps(g.compute_cycles) * m
            rec.compute_ps += c
            parts: list[simpy.Event] = [env.timeout(c)]
            parts += [env.process(self._move(rec, t.memory, t.read_bytes * m, t.write_bytes * m, m))
                      for t in g.traffic if t.read_bytes or t.write_bytes]
            yield simpy.AllOf(env, parts)

    def _arrive(self, event: simpy.Event, delay_ps: int) -> Generator[Any, Any, None]:
        if delay_ps:
            yield self.env.timeout(delay_ps)
        event.succeed()

    def _pipelined(self, rec: OpRecord, segs: list[tuple[TileGroup, int]]) -> Generator[Any, Any, None]:
        env = self.env
        buffers = 2
        loaded = [env.event() for _ in segs]
        computed = [env.event() for _ in segs]

        def loader() -> Generator[Any, Any, None]:
            for i, (g, m) in enumerate(segs):
                if i >= buffers:
                    yield computed[i - buffers]  # the buffer this tile goes into is free again
                # The DMA queues the next tile's requests as soon as the port has streamed this tile's bytes;
                # the access latency delays only when this tile's data is usable.
                moves = [t for t in g.traffic if t.read_bytes]
                reads = [env.process(self._move(rec, t.memory, t.read_bytes * m, 0, m, False)) for t in moves]
                if reads:
                    yield simpy.AllOf(env, reads)
                latency = max((self.ports[t.memory].latency_ps for t in moves), default=0)
                env.process(self._arrive(loaded[i], latency))

        env.process(loader())
        writebacks: list[simpy.Process] = []
        for i, (g, m) in enumerate(segs):
            c = self._cycles_ps(g.compute_cycles)
            rec.compute_ps += c * m
            if m > 1:
                # Aggregated steady state: the first m-1 tiles compute while the step's data streams in and
                # their results stream out; the last one needs all of the data. Exact when the step is compute-
                # or memory-bound throughout.
                writebacks += [env.process(self._move(rec, t.memory, 0, t.write_bytes * (m - 1)))
                               for t in g.traffic if t.write_bytes]
                yield env.timeout(c * (m - 1))
                yield loaded[i]
                yield env.timeout(c)
                m = 1
            else:
                yield loaded[i]
                if c:
                    yield env.timeout(c)
            computed[i].succeed()
            writebacks += [env.process(self._move(rec, t.memory, 0, t.write_bytes * m)) for t in g.traffic
                           if t.write_bytes]
        if writebacks:
            yield simpy.AllOf(env, writebacks)
