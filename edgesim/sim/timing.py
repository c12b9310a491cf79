"""The event engine's three timing disciplines of an op's tiles, one class each, chosen by ``OpPlan.timing``.

- ``Interleaved``: a unit without DMA (a CPU): a tile's loads, stores and arithmetic interleave, so it takes as long
  as the slowest of them.
- ``DoubleBuffered``: a DMA unit: a loader fetches tile i+1 while tile i computes; results write back in the
  background; near the end the loader may prefetch the next op's first weights.
- ``ScaleSimTiming``: SCALE-Sim v3's memory semantics on its systolic configs (golden-tested against it).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from edgesim.mapping.plan import OpPlan, TileGroup, TimingDiscipline
from edgesim.sim.memory import now_ps

if TYPE_CHECKING:
    from edgesim.sim.unit import OpRecord, UnitProcess


class TileTiming:
    """Declared hook: ``run`` the op's tile segments on ``up`` (a unit process), timing them into ``rec``."""

    def run(self, up: UnitProcess, plan: OpPlan, rec: OpRecord, segs: list[tuple[TileGroup, int]]
            ) -> Generator[Any, Any, None]:
        raise NotImplementedError


class Interleaved(TileTiming):
    """No DMA: loads, stores and arithmetic of a tile overlap; the slowest sets its time."""

    def run(self, up: UnitProcess, plan: OpPlan, rec: OpRecord, segs: list[tuple[TileGroup, int]]
                     ) -> Generator[Any, Any, None]:
        env = up.env
        tiles = 0
        for g, m in segs:
            rows = up.rows_ready(plan, tiles + m - 1)
            if rows is not None:
                t0 = now_ps(env)
                yield rows
                rec.stream_wait_ps += now_ps(env) - t0
            c = up.cycles_ps(g.compute_cycles * rec.core_scale) * m
            rec.compute_ps += c
            parts: list[simpy.Event] = [env.timeout(c)]
            parts += [env.process(up.move(rec, t.memory, t.read_bytes * m, t.write_bytes * m, m))
                      for t in g.traffic if t.read_bytes or t.write_bytes]
            yield simpy.AllOf(env, parts)
            tiles += m
            up.advance(plan, tiles)


class DoubleBuffered(TileTiming):
    """Two tile buffers: the loader fills one while the other computes."""

    BUFFERS = 2

    def run(self, up: UnitProcess, plan: OpPlan, rec: OpRecord, segs: list[tuple[TileGroup, int]]
                   ) -> Generator[Any, Any, None]:
        env = up.env
        loaded = [env.event() for _ in segs]
        computed = [env.event() for _ in segs]
        rows_at = [0] * len(segs)  # when the producer rows segment i reads were there
        prefetch = up.prefetched.pop(plan.node, None)
        env.process(self._loader(up, plan, rec, segs, _Buffers(loaded, computed, rows_at), prefetch))
        writebacks: list[simpy.Process] = []
        tiles = 0
        for i, (g, m) in enumerate(segs):
            c = up.cycles_ps(g.compute_cycles * rec.core_scale)
            rec.compute_ps += c * m
            if m > 1:
                # Aggregated steady state: the first m-1 tiles compute while the step's data streams in and
                # their results stream out; the last one needs all of the data. Exact when the step is compute-
                # or memory-bound throughout.
                writebacks += [env.process(up.move(rec, t.memory, 0, t.write_bytes * (m - 1)))
                               for t in g.traffic if t.write_bytes]
                yield env.timeout(c * (m - 1))
                yield from up.wait_loaded(rec, loaded[i], rows_at, i)
                yield env.timeout(c)
            else:
                yield from up.wait_loaded(rec, loaded[i], rows_at, i)
                if c:
                    yield env.timeout(c)
            computed[i].succeed()
            writebacks += [env.process(up.move(rec, t.memory, 0, t.write_bytes)) for t in g.traffic
                           if t.write_bytes]
            tiles += m
            up.advance(plan, tiles)
        if writebacks:
            yield simpy.AllOf(env, writebacks)

    def _loader(self, up: UnitProcess, plan: OpPlan, rec: OpRecord, segs: list[tuple[TileGroup, int]],
                bufs: _Buffers, prefetch: tuple[str, int, simpy.Process] | None) -> Generator[Any, Any, None]:
        """The DMA process: loads each segment's reads into a free buffer, then prefetches the next op's."""
        env = up.env
        tiles = 0
        for i, (g, m) in enumerate(segs):
            if i >= self.BUFFERS:
                yield bufs.computed[i - self.BUFFERS]  # the buffer this tile goes into is free again
            rows = up.rows_ready(plan, tiles + m - 1)
            if rows is not None:
                yield rows
            bufs.rows_at[i] = now_ps(env)
            tiles += m
            # The DMA queues the next tile's requests as soon as the port has streamed this tile's bytes;
            # the access latency delays only when this tile's data is usable.
            after = None
            reads = []
            latency = 0
            for t in g.traffic:
                nbytes = t.read_bytes * m
                if i == 0 and prefetch is not None and t.memory == prefetch[0]:
                    nbytes = max(0, nbytes - prefetch[1])
                    after = prefetch[2]  # it paid its own access latency
                if nbytes:
                    reads.append(env.process(up.move(rec, t.memory, nbytes, 0, m, False)))
                    latency = max(latency, up.ports[t.memory].latency_ps)
            if reads:
                yield simpy.AllOf(env, reads)
            env.process(up.arrive(bufs.loaded[i], latency, after))
        up.prefetch_next(plan)


@dataclass(frozen=True)
class _Buffers:
    """Per segment: the event its data arrived, the event its compute ended, when its producer rows were there."""

    loaded: list[simpy.Event]
    computed: list[simpy.Event]
    rows_at: list[int]


class ScaleSimTiming(TileTiming):
    """SCALE-Sim v3's read-port streaming and stall counting."""

    def run(self, up: UnitProcess, plan: OpPlan, rec: OpRecord, segs: list[tuple[TileGroup, int]]
                  ) -> Generator[Any, Any, None]:
        """SCALE-Sim v3's memory semantics (the tiles of mapping.systolic_seam.scalesim_tiling): each DRAM read
        port streams its operand's prefetches back to back, prefetch k+1 as soon as prefetch k landed, whether or
        not the array has caught up (read_buffer.new_prefetch); the ports' initial fills are timed to land
        together, when the array starts. A tile whose prefetch is still in flight stalls the array twice the
        shortfall, as SCALE-Sim counts it (read_buffer.service_reads adds the shortfall to its line offset twice,
        so "stall cycles" carry it twice). Ofmap write-backs leave in the background on the write port. The
        fill before the first tile and the drain after the last go to ``rec.prefetch_ps``."""
        env = up.env
        memories = sorted({t.memory for g, _ in segs for t in g.traffic if t.read_bytes})
        ready = {m: [env.event() for _ in segs] for m in memories}
        lead = max(max((_fill_ps(up, segs, m) for m in memories), default=0), up.cycles_ps(plan.fill_lead_cycles))
        for memory in memories:
            env.process(_stream(up, rec, segs, memory, lead, ready[memory]))

        def loaded(i: int) -> simpy.Event:
            events = [ready[m][i] for m in memories]
            return events[0] if len(events) == 1 else simpy.AllOf(env, events)

        writebacks: list[simpy.Process] = []
        tiles = 0
        for i, (g, m) in enumerate(segs):
            c = up.cycles_ps(g.compute_cycles * rec.core_scale)
            rec.compute_ps += c * m
            if m > 1:
                # Aggregated identical tiles: they compute while their prefetches stream; the last one waits.
                yield env.timeout(c * (m - 1))
            t0 = now_ps(env)
            if memories:
                yield loaded(i)
            waited = now_ps(env) - t0
            if i == 0:
                rec.prefetch_ps += now_ps(env) - rec.exec_start_ps
            elif waited:
                yield env.timeout(waited)  # SCALE-Sim's second count of the shortfall
            yield env.timeout(c)
            writebacks += [env.process(up.move(rec, t.memory, 0, t.write_bytes * m)) for t in g.traffic
                           if t.write_bytes]
            tiles += m
            up.advance(plan, tiles)
        computed = now_ps(env)
        if writebacks:
            yield simpy.AllOf(env, writebacks)
        rec.prefetch_ps += now_ps(env) - computed


def _fill_ps(up: UnitProcess, segs: list[tuple[TileGroup, int]], memory: str) -> int:
    """Picoseconds the read port ``memory`` takes to deliver the first segment's words (the initial fill)."""
    port = up.ports[memory]
    nbytes = sum(t.read_bytes for t in segs[0][0].traffic if t.memory == memory) * segs[0][1]
    return port.service_ps(nbytes, 0) + (port.latency_ps if nbytes else 0)


def _stream(up: UnitProcess, rec: OpRecord, segs: list[tuple[TileGroup, int]], memory: str, lead: int,
            ready: list[simpy.Event]) -> Generator[Any, Any, None]:
    """One read port streaming its operand's words segment after segment, its fill timed to land at ``lead``."""
    env = up.env
    if lead > _fill_ps(up, segs, memory):
        yield env.timeout(lead - _fill_ps(up, segs, memory))
    for i, (g, m) in enumerate(segs):
        nbytes = sum(t.read_bytes for t in g.traffic if t.memory == memory) * m
        if nbytes:
            yield from up.move(rec, memory, nbytes, 0, m)
        ready[i].succeed()


TIMINGS: dict[TimingDiscipline, TileTiming] = {
    TimingDiscipline.INTERLEAVED: Interleaved(),
    TimingDiscipline.DOUBLE_BUFFERED: DoubleBuffered(),
    TimingDiscipline.SCALESIM: ScaleSimTiming(),
}
