"""A compute unit as SimPy processes: a dispatcher hands ops to the unit's cores, each op runs tile by tile.

Units with a DMA engine (mac_array, systolic) double-buffer: a loader process fetches tile i+1 while tile i
computes, and each tile's results are written back in the background; near the end of an op the loader may
prefetch the next op's first weights when the local memory has room for them. A CPU has no DMA: its loads,
stores and arithmetic of one tile interleave, so a tile takes as long as the slowest of them.

A unit with ``count: N`` has N cores. By default it runs one op at a time split over all of them (today's
runtimes parallelise inside an op). When the schedule allows inter-op parallelism, ready ops share the idle
cores: an op that is the only one ready takes all idle cores; independent ones get core sets sized to their work
when running them side by side ends sooner than one after the other; an op on k of N cores computes N/k times
longer.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from edgesim.hw.schema import ComputeUnit
from edgesim.mapping.plan import OpPlan, TileGroup
from edgesim.sim.memory import MemoryPort, now_ps, seconds_to_ps
from edgesim.sim.pipeline import RowModel, RowProgress, row_model, stream_tiles, streams_from
from edgesim.sim.timing import TIMINGS

# Groups longer than this are simulated as EDGE tiles, one aggregated middle step, EDGE tiles.
MAX_PLAIN_TILES = 5
EDGE_TILES = 2
# An op that streams rows to or from another op splits its aggregated middle step into this many steps, so the
# consumer sees row bands arrive during the producer rather than all at its end.
STREAM_STEPS = 8

STALL_CAUSE_BY_KIND = {"dram": "dram", "host_link": "dram", "flash": "flash", "sram": "sram", "tcm": "sram",
                       "cache": "sram"}


@dataclass
class OpRecord:
    """Times (integer picoseconds) one op spent; filled in while it runs."""

    node: str
    unit: str
    clock_hz: float
    unit_free_ps: int = 0  # the cores it got were free from here (a dependency wait counts from here)
    start_ps: int = 0  # dependencies met and cores assigned, the op begins (overhead first)
    exec_start_ps: int = 0
    end_ps: int = 0
    compute_ps: int = 0
    mem_ps: dict[str, int] = field(default_factory=dict)  # memory level -> time its transfers were in flight
    cores: tuple[int, ...] = (0,)
    core_scale: float = 1.0  # unit cores / cores this op got: its compute stretches by this
    stream_wait_ps: int = 0  # compute waited for a producer's rows (layer pipelining)
    # SCALE-Sim-semantics ops only: the scratchpad fill before the first fold and the ofmap drain after the last,
    # which SCALE-Sim reports outside "total cycles" (in "total cycles incl. prefetch").
    prefetch_ps: int = 0


def segments(groups: tuple[TileGroup, ...], middle_steps: int = 1) -> list[tuple[TileGroup, int]]:
    """(tile group, how many identical tiles this step stands for): short groups tile by tile, long groups
    as first tiles, ``middle_steps`` aggregated steady-state steps, last tiles."""
    out: list[tuple[TileGroup, int]] = []
    for g in groups:
        if g.count <= MAX_PLAIN_TILES:
            out.extend((g, 1) for _ in range(g.count))
            continue
        out.extend((g, 1) for _ in range(EDGE_TILES))
        middle = g.count - 2 * EDGE_TILES
        steps = max(1, min(middle_steps, middle))
        base, extra = divmod(middle, steps)
        out.extend((g, base + (1 if i < extra else 0)) for i in range(steps))
        out.extend((g, 1) for _ in range(EDGE_TILES))
    return out


class Shared:
    """What every unit's processes see: memory ports, completion events, records, row progress, and one
    wake-up signal that fires whenever an op starts or ends (dispatchers re-check what is ready then)."""

    def __init__(self, env: simpy.Environment, ports: dict[str, MemoryPort], plans: list[OpPlan],
                 capacity_bytes: dict[str, int], inter_op_parallel: bool, layer_pipelining: bool,
                 unit_cores: dict[str, int], latency_first: bool = True) -> None:
        self.env = env
        # One frame: dispatch for the frame's latency (an op may wait for all cores). Several frames: for
        # throughput (idle cores always take ready work, usually another frame's).
        self.latency_first = latency_first
        self.ports = ports
        self.capacity_bytes = capacity_bytes
        self.inter_op_parallel = inter_op_parallel
        self.plans = {p.node: p for p in plans}
        self.done = {p.node: env.event() for p in plans}
        self.started: set[str] = set()
        self.records: dict[str, OpRecord] = {}
        self.changed = env.event()
        self.models: dict[str, RowModel] = {}
        self.streamed: dict[str, tuple[str, ...]] = {}  # consumer -> producers it streams rows from
        self.progress: dict[str, RowProgress] = {}
        self.feeds_same_unit: set[str] = set()  # producers with a streaming consumer on their own unit
        if layer_pipelining:
            for p in plans:
                model = row_model(p)
                # A single row band completes no rows before the op's end: nothing to stream.
                if model is not None and model.row_bands > 1:
                    self.models[p.node] = model
            def concurrent(producer: OpPlan, consumer: OpPlan) -> bool:
                # Streaming needs the two on different processes: other units, or other cores of one unit.
                return producer.unit != consumer.unit or (inter_op_parallel and unit_cores[consumer.unit] > 1)

            for p in plans:
                srcs = tuple(d for d in p.depends_on if d in self.plans and p.node in self.models
                             and d in self.models and concurrent(self.plans[d], p)
                             and streams_from(self.plans[d], p))
                if srcs:
                    self.streamed[p.node] = srcs
                    for d in srcs:
                        self.progress.setdefault(d, RowProgress(env, self.models[d]))
                        if self.plans[d].unit == p.unit:
                            self.feeds_same_unit.add(d)

    def notify(self) -> None:
        event, self.changed = self.changed, self.env.event()
        event.succeed()

    def ready(self, plan: OpPlan) -> bool:
        """Its inputs exist: producers finished, or (streamed producers) started on other cores/units."""
        streamed = self.streamed.get(plan.node, ())
        for d in plan.depends_on:
            if d not in self.done:
                continue
            if not (self.done[d].triggered or (d in streamed and d in self.started)):
                return False
        return True


class UnitProcess:
    def __init__(self, env: simpy.Environment, unit: ComputeUnit, clock_hz: float, plans: list[OpPlan],
                 shared: Shared) -> None:
        self.env = env
        self.name: str = unit.name
        self.count: int = unit.count
        self.clock_hz = clock_hz
        self.pending = list(plans)  # schedule order; frames one after the other
        self.shared = shared
        self.ports = shared.ports
        self.idle = list(range(self.count))
        self.core_free_ps = [0] * self.count
        self.prefetched: dict[str, tuple[str, int, simpy.Process]] = {}  # node -> (memory, bytes, transfer)
        # ops on the cores now, in start order -> when their compute and overhead alone end
        self.running: dict[str, int] = {}

    def core_label(self, core: int) -> str:
        """Trace row of one core: the unit's name when it has a single core."""
        return self.name if self.count == 1 else f"{self.name}.core{core}"

    def cycles_ps(self, cycles: float) -> int:
        return seconds_to_ps(cycles / self.clock_hz)

    def move(self, rec: OpRecord, memory: str, read_bytes: int, write_bytes: int,
              requests: int = 1, wait_latency: bool = True) -> Generator[Any, Any, None]:
        port = self.ports[memory]
        t0 = now_ps(self.env)
        yield from port.transfer(read_bytes, write_bytes, rec.node, requests, wait_latency)
        rec.mem_ps[memory] = rec.mem_ps.get(memory, 0) + (now_ps(self.env) - t0)

    # --- dispatch -------------------------------------------------------------------------------------------

    def run(self) -> Generator[Any, Any, None]:
        while self.pending:
            if not self._dispatch():
                yield self.shared.changed

    def _dispatch(self) -> bool:
        """Start what can start now; True when something started."""
        shared = self.shared
        if not shared.inter_op_parallel:
            # One op at a time, in schedule order, over all cores.
            if len(self.idle) < self.count or not shared.ready(self.pending[0]):
                return False
            self._start(self.pending.pop(0), list(self.idle))
            shared.notify()
            return True
        if not self.idle:
            return False
        ready = [p for p in self.pending if shared.ready(p)][:len(self.idle)]
        if not ready:
            return False
        shares = list(zip(ready, self._share_cores(ready), strict=False))
        if (shared.latency_first and len(shares) > 1
                and any(self._better_to_wait(plan, k) for plan, k in shares)):
            shares = [(ready[0], len(self.idle))]  # no split that leaves an op stuck on too few cores
        started = False
        for plan, k in shares:
            if plan.node in shared.feeds_same_unit and k > 1:
                k //= 2  # leave cores for the consumer that will stream from it (a layer per core set)
            if shared.latency_first and self._better_to_wait(plan, k):
                continue
            self.pending.remove(plan)
            self._start(plan, self.idle[:k])
            started = True
        if started:
            shared.notify()
        return started

    def _better_to_wait(self, plan: OpPlan, k: int) -> bool:
        """An op cannot grow onto cores that free up after it starts, so starting a long op on the few cores left
        idle can end it later than waiting for the running ops and then taking every core. Wait when that is
        faster (compute and overhead decide, as in _share_cores)."""
        if k >= self.count or not self.running:
            return False
        now = now_ps(self.env)
        overhead = self.cycles_ps(plan.overhead_cycles)
        end_now = now + overhead + self.cycles_ps(plan.compute_cycles * self.count / k)
        all_free = max(self.running.values())
        end_after = max(all_free, now) + overhead + self.cycles_ps(plan.compute_cycles)
        return end_after < end_now

    def _share_cores(self, ready: list[OpPlan]) -> list[int]:
        """Cores for each ready op (in order): side by side, each core going to the op that would otherwise
        finish last, when that ends them no later than running them one after the other on all idle cores;
        else all idle cores to the first. Compute and overhead decide; memory is shared either way."""
        n = len(self.idle)
        work = [p.compute_cycles * self.count for p in ready]  # core-cycles
        cores = [1] * len(ready)
        for _ in range(n - len(ready)):
            i = max(range(len(ready)), key=lambda j: (work[j] / cores[j], -j))
            cores[i] += 1
        side_by_side = max(w / k + p.overhead_cycles for w, k, p in zip(work, cores, ready, strict=True))
        one_after_another = sum(w / n + p.overhead_cycles for w, p in zip(work, ready, strict=True))
        return cores if side_by_side <= one_after_another else [n]

    def _start(self, plan: OpPlan, cores: list[int]) -> None:
        self.idle = [c for c in self.idle if c not in cores]
        now = now_ps(self.env)
        rec = OpRecord(plan.node, self.name, self.clock_hz, unit_free_ps=max(self.core_free_ps[c] for c in cores),
                       start_ps=now, cores=tuple(cores), core_scale=self.count / len(cores))
        self.shared.records[plan.node] = rec
        self.shared.started.add(plan.node)
        self.running[plan.node] = (now + self.cycles_ps(plan.overhead_cycles)
                                   + self.cycles_ps(plan.compute_cycles * rec.core_scale))
        self.env.process(self._execute(plan, rec))

    def _execute(self, plan: OpPlan, rec: OpRecord) -> Generator[Any, Any, None]:
        env = self.env
        overhead = self.cycles_ps(plan.overhead_cycles)
        if overhead:
            yield env.timeout(overhead)
        rec.exec_start_ps = now_ps(env)
        streaming = plan.node in self.shared.progress or plan.node in self.shared.streamed
        segs = segments(stream_tiles(plan), STREAM_STEPS) if streaming else segments(plan.tiles)
        yield from TIMINGS[plan.timing].run(self, plan, rec, segs)
        rec.end_ps = now_ps(env)
        for c in rec.cores:
            self.core_free_ps[c] = rec.end_ps
        self.idle = sorted(self.idle + list(rec.cores))
        del self.running[plan.node]
        self.shared.done[plan.node].succeed()
        self.shared.notify()

    # --- layer pipelining -----------------------------------------------------------------------------------

    def rows_ready(self, plan: OpPlan, tile: int) -> simpy.Event | None:
        """An event for when every producer this op streams from has written the rows tile ``tile`` reads."""
        srcs = self.shared.streamed.get(plan.node)
        if not srcs:
            return None
        need = self.shared.models[plan.node].in_rows_needed(tile)
        waits = [e for e in (self.shared.progress[d].wait(need) for d in srcs) if e is not None]
        if not waits:
            return None
        return waits[0] if len(waits) == 1 else simpy.AllOf(self.env, waits)

    def advance(self, plan: OpPlan, tiles_done: int) -> None:
        progress = self.shared.progress.get(plan.node)
        if progress is not None:
            progress.advance(tiles_done)

    # --- execution ------------------------------------------------------------------------------------------

    def arrive(self, event: simpy.Event, delay_ps: int, after: simpy.Process | None = None
                ) -> Generator[Any, Any, None]:
        if after is not None:
            yield after
        if delay_ps:
            yield self.env.timeout(delay_ps)
        event.succeed()

    def prefetch_next(self, plan: OpPlan) -> None:
        """Fetch the next op's first-tile weights now, while this op's last tiles compute, if the local memory
        holds the running ops' buffers and one more tile's worth next to them."""
        if not self.pending:
            return
        # The next op in schedule order; whichever core of the unit runs it reads the same local memory.
        nxt = self.pending[0]
        if (not nxt.tiles or not nxt.weight_memory or not plan.local_memory
                or nxt.local_memory != plan.local_memory or nxt.node in self.prefetched):
            return
        capacity = self.shared.capacity_bytes.get(plan.local_memory, 0)
        # Every op running on the unit's cores holds its buffers in the same local memory.
        current_ws = sum(max((g.working_set_bytes for g in self.shared.plans[n].tiles), default=0)
                         for n in self.running)
        next_ws = nxt.tiles[0].working_set_bytes // 2  # one of its two buffers
        if current_ws + next_ws > capacity:
            return
        memory = nxt.weight_memory
        port = self.ports[memory]
        # Only an op that out-computes its weight memory gains: its first fetch is pure pipeline fill. When the
        # port is its bottleneck the bytes take as long whenever they move, and the op never beats its roofline.
        port_ps = sum(port.service_ps(t.read_bytes, t.write_bytes) for t in nxt.traffic if t.memory == memory)
        if port_ps > self.cycles_ps(nxt.compute_cycles):
            return
        first_reads = sum(t.read_bytes for t in nxt.tiles[0].traffic if t.memory == memory)
        op_reads = sum(t.read_bytes for t in nxt.traffic if t.memory == memory)
        if not first_reads or not op_reads:
            return
        # The weight memory's reads are all weights unless activations live there too.
        only_weights = any(t.memory != memory for t in nxt.traffic)
        share = 1.0 if only_weights else min(1.0, nxt.weight_bytes / op_reads)
        nbytes = int(first_reads * share)
        if nbytes <= 0:
            return
        proc = self.env.process(port.transfer(nbytes, 0, f"{nxt.node}:prefetch", priority=1))
        self.prefetched[nxt.node] = (memory, nbytes, proc)

    def wait_loaded(self, rec: OpRecord, loaded: simpy.Event, rows_at: list[int], i: int
                     ) -> Generator[Any, Any, None]:
        """Wait for a tile's data; the part of the wait before the producer's rows existed is a dependency
        stall, not a memory one."""
        t0 = now_ps(self.env)
        yield loaded
        if self.shared.streamed.get(rec.node):
            rec.stream_wait_ps += max(0, min(now_ps(self.env), rows_at[i]) - t0)
