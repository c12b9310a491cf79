"""Layer pipelining (cascading): a consumer starts on its first row band once the producer has written the rows
that band reads, instead of waiting for the whole producer.

Rows are output rows of a 4-D feature map (batch 1). A conv/pool output row r reads input rows
[r * stride, r * stride + kernel_rows), so a band of consumer rows needs the producer's rows up to the band's end
plus a halo of kernel_rows - stride rows. Producers publish how many of their output rows are complete (all
channels written) after every simulated tile step; consumers wait for the rows their next step reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import simpy

from edgesim.mapping.plan import MemTraffic, OpPlan, TileGroup

# Row bands an untiled streaming op is simulated as (it computes its output rows in order).
WHOLE_OP_BANDS = 8
@dataclass(frozen=True)
class RowModel:
    """Which output rows an op has finished after t tiles, and which input rows tile t reads."""

    out_rows: int
    kernel_rows: int
    stride_rows: int
    in_rows: int
    tiles: int
    row_bands: int
    channels_outer: bool  # every channel tile sweeps all row bands before the next channel tile starts

    @property
    def _inner(self) -> int:
        return max(1, self.tiles // self.row_bands)

    def rows_done(self, tiles_done: int) -> int:
        """Output rows with every channel written once ``tiles_done`` tiles have finished."""
        if tiles_done >= self.tiles:
            return self.out_rows
        if self.channels_outer:
            bands = max(0, tiles_done - (self.tiles - self.row_bands))  # only the last channel sweep completes rows
        else:
            bands = tiles_done // self._inner
        return min(self.out_rows, bands * math.ceil(self.out_rows / self.row_bands))

    def in_rows_needed(self, tile: int) -> int:
        """Input rows tiles 0..tile read (the halo of kernel_rows - stride rows included)."""
        band = tile % self.row_bands if self.channels_outer and tile < self.row_bands else (
            self.row_bands - 1 if self.channels_outer else tile // self._inner)
        last_row = min(self.out_rows, (band + 1) * math.ceil(self.out_rows / self.row_bands))
        return min(self.in_rows, (last_row - 1) * self.stride_rows + self.kernel_rows)


def _whole(plan: OpPlan) -> bool:
    return len(plan.tiles) == 1 and plan.tiles[0].count == 1 and plan.tile_shape[0] == 0


def stream_tiles(plan: OpPlan) -> tuple[TileGroup, ...]:
    """The tiles to simulate when the op streams rows: an untiled op (a CPU computing straight from SRAM)
    still walks its output top to bottom, so it becomes ``WHOLE_OP_BANDS`` row bands of equal work."""
    if not _whole(plan) or plan.row_window[0] <= 1:
        return plan.tiles
    (g,) = plan.tiles
    bands = min(WHOLE_OP_BANDS, plan.row_window[0])
    per = tuple(MemTraffic(t.memory, t.read_bytes // bands, t.write_bytes // bands) for t in g.traffic)
    last = tuple(MemTraffic(t.memory, t.read_bytes - p.read_bytes * (bands - 1),
                            t.write_bytes - p.write_bytes * (bands - 1)) for t, p in zip(g.traffic, per, strict=True))
    c = g.compute_cycles / bands
    if per == last:
        return (TileGroup(bands, c, per, g.working_set_bytes),)
    return (TileGroup(bands - 1, c, per, g.working_set_bytes), TileGroup(1, c, last, g.working_set_bytes))


def row_model(plan: OpPlan) -> RowModel | None:
    out_rows, kernel_rows, stride_rows, in_rows = plan.row_window
    tiles = sum(g.count for g in stream_tiles(plan))
    if out_rows <= 0 or tiles <= 0:
        return None
    if _whole(plan):
        return RowModel(out_rows, kernel_rows, stride_rows, in_rows, tiles, tiles, False)
    band_rows = plan.tile_shape[0] if plan.tile_shape[0] > 0 else out_rows
    bands = max(1, min(tiles, math.ceil(out_rows / band_rows)))
    return RowModel(out_rows, kernel_rows, stride_rows, in_rows, tiles, bands,
                    plan.loop_order == "channels_outer")


def streams_from(producer: OpPlan, consumer: OpPlan) -> bool:
    """The consumer may start on a row band before the producer has finished: both are row-streamed and the
    consumer reads nothing else."""
    return (producer.row_window[0] > 0 and consumer.row_window[0] > 0
            and consumer.row_window[3] == producer.row_window[0] and len(consumer.depends_on) == 1)


class RowProgress:
    """Output rows an op has completed; processes wait for a row count."""

    def __init__(self, env: simpy.Environment, model: RowModel) -> None:
        self.env = env
        self.model = model
        self.rows = 0
        self._waiters: list[tuple[int, simpy.Event]] = []

    def advance(self, tiles_done: int) -> None:
        rows = self.model.rows_done(tiles_done)
        if rows <= self.rows:
            return
        self.rows = rows
        still: list[tuple[int, simpy.Event]] = []
        for need, event in self._waiters:
            if need <= rows:
                event.succeed()
            else:
                still.append((need, event))
        self._waiters = still

    def wait(self, rows: int) -> simpy.Event | None:
        """An event that fires once ``rows`` rows are complete; None when they already are."""
        if rows <= self.rows:
            return None
        event = self.env.event()
        self._waiters.append((rows, event))
        return event
