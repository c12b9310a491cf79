"""SCALE-Sim v3's memory side for a systolic layer: DRAM traffic and stall cycles of its double-buffered
scratchpads (the operand geometry is edgesim/mapping/systolic_copies.py; the mapping seam that hands the
prefetch streams to the event engine as tiles is edgesim/mapping/systolic_seam.py).

SCALE-Sim (memory/read_buffer.py) lays each read operand out as a "prefetch matrix" (the operand in fold order;
anti-diagonal order for the operand streamed through the array), cuts its valid words into sets of
ceil(SRAM words / 100) and keeps a circular window of A sets (the active half) resident. A demanded word with
no copy in the window advances the window by P sets (the prefetch half) and costs one prefetch of
ceil(half / bw) * bw DRAM words, streamed right after the previous prefetch landed. The window only moves
forward, so re-reading an operand block (the next column fold in os, a sub-block demanded last-row-first whose
start fell behind, a block whose head the previous block's anti-diagonal tail overtook) goes round the whole
ring. We replay that window walk one demanded range per fold, word by word only where the window edge is
(im2col repeats ifmap words, and a resident copy is a hit): no demand matrices, no per-cycle loop.

Stall timing follows SCALE-Sim's accounting: prefetch k of a buffer lands at 1 + k * (lines + 1); a demand
that needs it earlier stalls the array by twice the shortfall (SCALE-Sim adds it to its offset twice); the
ofmap write buffer stalls the array when it cannot drain at the port's bandwidth (a fluid estimate).
Windows hanging over the ifmap edge (SCALE-Sim's round-up output size) hold no words: SCALE-Sim drops them
from its prefetch order, so set boundaries are counted over the words that exist. Measured errors against the
shared SCALE-Sim rows: tests/golden/test_scalesim_golden.py.

The seam (edgesim/mapping/systolic_seam.py, scalesim_tiling) cuts a layer where this walk says SCALE-Sim's memory acts: the fills, each prefetch
at the line demanding it, each ofmap buffer drain. The event engine then times those tiles as SCALE-Sim does
(edgesim/sim/unit.py UnitProcess._scalesim: per-operand read ports, free-running prefetch streams, the doubled
shortfall), and reports the fill and the final drain apart from the layer's cycles, as SCALE-Sim's "Total
Cycles" leaves them out.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from edgesim.errors import MappingError
from edgesim.hw.systolic import (
    SystolicLayer,
    ceil_div,
)
from edgesim.mapping.systolic import SystolicCompute, compute_cycles
from edgesim.mapping.systolic_copies import _DiagOrder, _IfmapCopies, _partial_windows, _Ring

# Word-copy positions looked up per operand and layer before falling back to set-level walking (about 50 ms).
COPY_LOOKUP_BUDGET = 1 << 20


@dataclass(frozen=True)
class SystolicMemory:
    stall_cycles: int
    total_cycles: int  # compute + stalls (SCALE-Sim's "total cycles", excluding the initial prefetch)
    dram_ifmap_reads: int  # words
    dram_filter_reads: int
    dram_ofmap_writes: int
    # Per fold, in SCALE-Sim's fold order: DRAM words read ahead of it (fold 0 holds the initial fill) and ofmap
    # words it writes back (the last one holds the final flush); they sum to the three counts above.
    fold_dram_reads: tuple[int, ...] = ()
    fold_dram_writes: tuple[int, ...] = ()
    # SCALE-Sim's prefetch streams, one per read operand (USER mode; CALC: the fills only): the initial fill of
    # the active half (words), the words of every later prefetch, and the compute line (no stalls) that first
    # demands each of them, in issue order.
    ifmap_fill_words: int = 0
    filter_fill_words: int = 0
    ifmap_prefetch_words: int = 0
    filter_prefetch_words: int = 0
    ifmap_prefetch_lines: tuple[float, ...] = ()
    filter_prefetch_lines: tuple[float, ...] = ()
    # CALC mode only: cycles SCALE-Sim's bandwidth-estimate read buffers (read_buffer_estimate_bw) date their
    # initial fill before the array starts, the longer of the two operands (see _calc_fill_lead).
    calc_fill_lead_cycles: int = 0


class _ReadBuffer:
    """SCALE-Sim's read_buffer window walk over set indices, with the DRAM prefetch stream's timing."""

    def __init__(self, ring: _Ring, sram_words: int, bw_line: int, valid: int | None = None) -> None:
        self.ring = ring
        self.set_elems = max(1, ceil_div(sram_words, 100))
        active = ceil_div(sram_words, 2)
        prefetch = sram_words - active
        valid = ring.valid if valid is None else valid  # words in the ring (-1 entries excluded)
        self.num_sets = valid // self.set_elems + 1  # SCALE-Sim keeps the trailing partial (even empty) set
        self.active_sets = min(ceil_div(active, self.set_elems), self.num_sets)
        self.step_sets = min(ceil_div(prefetch, self.set_elems), self.num_sets - self.active_sets)
        fetch_lines = ceil_div(ring.padded, bw_line)
        self.first_fill = min(ceil_div(active, bw_line), fetch_lines) * bw_line
        self.prefetch_words = ceil_div(prefetch, bw_line) * bw_line
        self.prefetch_cycles = ceil_div(prefetch, bw_line) + 1  # one request line per cycle, +1 latency
        self.start = 0  # window start, set index
        self.advances: list[float] = []  # demand line (compute time) of every window advance
        self.copy_lookups = 0  # word-copy positions looked up so far (bounded by COPY_LOOKUP_BUDGET)

    def resident(self, lo: int, hi: int) -> bool:
        """Whether valid positions lo..hi all lie in the window."""
        a, b = (self._set(lo) - self.start) % self.num_sets, (self._set(hi) - self.start) % self.num_sets
        return a <= b < self.active_sets

    def _set(self, pos: float) -> int:
        return min(self.num_sets - 1, int(pos) // self.set_elems)

    def walk(self, lo: float, hi: float, line0: float, line1: float) -> None:
        """Demand valid positions lo..hi (ascending) between compute lines line0..line1 (linear in between)."""
        if self.step_sets <= 0 or hi < lo:
            return
        n, a_sets, p = self.num_sets, self.active_sets, self.step_sets
        a, b = self._set(lo), self._set(hi)
        span = max(1, b - a)
        while (a - self.start) % n >= a_sets:  # first demand behind or ahead of the window: go round
            self.start = (self.start + p) % n
            self.advances.append(line0)
        # Window end relative to a; advance each time the sweep reaches it.
        end = a - (a - self.start) % n + a_sets
        while end <= b:
            self.start = (self.start + p) % n
            self.advances.append(line0 + (line1 - line0) * (end - a) / span)
            end += p


def _rings(layer: SystolicLayer, rows: int, cols: int, dataflow: str) -> tuple[_Ring, _Ring]:
    """(ifmap ring, filter ring) in SCALE-Sim's prefetch order for this dataflow."""
    sr, sc, t = layer.ofmap_px, layer.num_filters, layer.window

    def ring(extent: int, width: int, height: int) -> _Ring:
        blocks = ceil_div(extent, width)
        return _Ring(blocks, height, width, extent - (blocks - 1) * width)

    if dataflow == "os":  # anti-diagonal: ifmap blocks = pixel (row) folds, filter blocks = filter (col) folds
        return ring(sr, rows, t), ring(sc, cols, t)
    if dataflow == "ws":  # ifmap anti-diagonal, window (row) folds over all pixels; filter T x cols, row-major
        return ring(t, rows, sr), ring(sc, cols, t)
    # is: ifmap window x pixel-fold blocks, row-major; filter anti-diagonal, window (row) folds over all filters
    return ring(sr, cols, t), ring(t, rows, sc)


def _walk_streamed(buf: _ReadBuffer, block: int, line0: float, lines: int) -> None:
    """A diagonal-order block demanded along its anti-diagonals over `lines` compute lines.

    The anti-diagonal flattening interleaves the tail of block b with the head of block b+1, so block b's demand
    starts u(u-1)/2 elements before its nominal start and ends as far past its nominal end (u = used columns).
    """
    r = buf.ring
    tri_prev = r.used(block - 1) * (r.used(block - 1) - 1) // 2 if block > 0 else 0
    tri = r.used(block) * (r.used(block) - 1) // 2 if block < r.blocks - 1 else 0
    lo = max(0, r.start(block) - min(tri_prev, r.height * r.used(block - 1) if block > 0 else 0))
    hi = min(r.valid - 1, r.start(block + 1) - 1 + min(tri, r.height * r.used(block + 1)
                                                       if block + 1 < r.blocks else 0))
    buf.walk(lo, hi, line0, line0 + lines)


def _walk_stationary(buf: _ReadBuffer, block: int, row_fold: int, rows: int, line0: float,
                     copies: _IfmapCopies | None) -> None:
    """Rows [row_fold*rows, +rows) of a row-major block, demanded flipped (last row first), one row per line.

    ``copies`` (the is-dataflow ifmap, when windows overlap or hang over the edge): word by word, as SCALE-Sim's
    address lookup: a word with another resident copy (im2col repeats it) is a hit, one over the edge is not
    demanded, so only words with no resident copy move the window.
    """
    r = buf.ring
    u = r.used(block)
    first = row_fold * rows
    last = min(first + rows, r.height) - 1

    def at(row: int, col: int) -> int:
        if copies is None:
            return r.start(block) + row * u + col
        return int(copies.pos(np.array([row]), np.array([block * r.width + col]))[0])

    if buf.step_sets <= 0 or buf.resident(at(first, 0), at(last, u - 1)):
        return
    for j, row in enumerate(range(last, first - 1, -1)):
        lo, hi = at(row, 0), at(row, u - 1)
        if j and buf.resident(at(first, 0), hi):
            return  # the rest of the sub-block is resident now
        if copies is None or buf.resident(lo, hi):
            buf.walk(lo, hi, line0 + j, line0 + j)
            continue
        sets = copies.sets(row, block, u, buf.set_elems, buf.num_sets)  # (u, copies), -1 = no copy
        absent = (sets == -2).all(axis=1)
        k = 0
        while k < u:
            inside = ((sets[k:] - buf.start) % buf.num_sets < buf.active_sets) & (sets[k:] >= 0)
            missing = np.flatnonzero(~(inside.any(axis=1) | absent[k:]))
            if missing.size == 0:
                break
            k += int(missing[0])
            while not (((sets[k] - buf.start) % buf.num_sets < buf.active_sets) & (sets[k] >= 0)).any():
                buf.start = (buf.start + buf.step_sets) % buf.num_sets
                buf.advances.append(line0 + j)
            k += 1


def _walk_streamed_copies(buf: _ReadBuffer, diag: _DiagOrder, block: int, line0: float, lines: int) -> None:
    """Like _walk_streamed, word by word where the window would move: a word with a resident copy is a hit.

    Word-level lookups cost time in proportion to the words scanned; past COPY_LOOKUP_BUDGET per layer the
    remaining folds use the set-level walk (which may over-count re-fetches of overlapping windows)."""
    if buf.step_sets <= 0:
        return
    if buf.copy_lookups > COPY_LOOKUP_BUDGET:
        _walk_streamed(buf, block, line0, lines)
        return
    r = buf.ring
    h, u = r.height, r.used(block)
    sweep = _DiagSweep(line0, lines, block * h, block * h + h - 1 + u - 1)
    lo = int(diag.positions(np.array([block * h]), np.array([0]))[0])
    hi = int(diag.positions(np.array([block * h + h - 1]), np.array([u - 1]))[0])
    if buf.resident(lo, hi):
        return
    n, a_sets, e = buf.num_sets, buf.active_sets, buf.set_elems
    step = max(1, 4096 // max(1, u))  # anti-diagonals enumerated at a time where the window edge is near
    d = sweep.d_first
    while d <= sweep.d_last:
        first = int(diag.valid_before[d])
        rel = (min(first // e, n - 1) - buf.start) % n
        if rel < a_sets:
            # Skip, at set level, the anti-diagonals that lie wholly inside the window.
            edge = (first // e + a_sets - rel) * e
            if edge >= diag.valid:
                return
            d_edge = int(np.searchsorted(diag.valid_before, edge, side="right")) - 1
            if d_edge > d:
                d = d_edge
                continue
        d1 = min(sweep.d_last, d + step - 1)
        rr, cc = diag.elements(block, d, d1)
        if diag.valid_prefix is not None:
            keep = diag.present(rr, cc)
            rr, cc = rr[keep], cc[keep]
        _advance_past_misses(buf, diag, rr, cc, sweep)
        d = d1 + 1


@dataclass(frozen=True)
class _DiagSweep:
    """One block's anti-diagonals d_first..d_last, demanded linearly over compute lines line0..line0 + lines."""

    line0: float
    lines: int
    d_first: int
    d_last: int

    def line_at(self, row: int, col: int) -> float:
        """The compute line that demands element (row, col), which lies on anti-diagonal row + col."""
        return self.line0 + self.lines * (row + col - self.d_first) / max(1, self.d_last - self.d_first)


def _advance_past_misses(buf: _ReadBuffer, diag: _DiagOrder, rr: np.ndarray, cc: np.ndarray,
                         sweep: _DiagSweep) -> None:
    """Demand elements (rr, cc) in order: each word outside the window with no resident copy moves it."""
    n, a_sets = buf.num_sets, buf.active_sets
    own = np.minimum(diag.positions(rr, cc) // buf.set_elems, n - 1)
    k = 0
    while k < own.size:
        out = np.flatnonzero((own[k:] - buf.start) % n >= a_sets)
        if out.size == 0:
            break
        k += int(out[0])
        miss = _first_uncopied(buf, diag, rr, cc, own, k)
        if miss is None:
            break
        k, mine = miss
        line = sweep.line_at(rr[k], cc[k])
        while not (((mine - buf.start) % n < a_sets) & (mine >= 0)).any():
            buf.start = (buf.start + buf.step_sets) % n
            buf.advances.append(line)
        k += 1


def _first_uncopied(buf: _ReadBuffer, diag: _DiagOrder, rr: np.ndarray, cc: np.ndarray, own: np.ndarray,
                    k: int) -> tuple[int, np.ndarray] | None:
    """(index from k on of the first word with no copy in the window, the sets of its copies), or None.

    Copies are looked up in growing slices since that word is usually close; out of budget, word k is taken as
    the miss (its own set only)."""
    n, a_sets, e = buf.num_sets, buf.active_sets, buf.set_elems
    width = 256
    while k < own.size:
        if buf.copy_lookups > COPY_LOOKUP_BUDGET:  # out of budget: this word moves the window
            return k, own[k:k + 1]
        sets = diag.copy_sets(rr[k:k + width], cc[k:k + width], e, n)
        buf.copy_lookups += sets.size
        miss = np.flatnonzero(~(((sets - buf.start) % n < a_sets) & (sets >= 0)).any(axis=1))
        if miss.size:
            return k + int(miss[0]), sets[int(miss[0])]
        k += width
        width = min(4 * width, 1 << 14)
    return None


# Networks repeat layer shapes (ResNet-18: 20 layers, 11 distinct), and the mapper and the SCALE-Sim report both
# ask for each layer: the replay is a pure function of its (frozen, hashable) arguments, so it is computed once per
# distinct key (COPY_LOOKUP_BUDGET is a module constant; whoever changes it must call memory_stalls.cache_clear()).
@functools.lru_cache(maxsize=1024)
def memory_stalls(
    layer: SystolicLayer,
    rows: int,
    cols: int,
    dataflow: str,
    ifmap_sram_bytes: int,
    filter_sram_bytes: int,
    ofmap_sram_bytes: int,
    word_bytes: int,
    dram_bw_words_per_cycle: float,
    bw_mode: str = "USER",
) -> SystolicMemory:
    """SCALE-Sim v3's DRAM traffic and stall cycles for one layer (see the module docstring).

    ``bw_mode="CALC"``: SCALE-Sim sizes the interface bandwidth to the demand, so there are no stalls and each
    operand element crosses DRAM once (ws/is ofmap partial sums once per row fold).
    ``bw_mode="USER"``: every read operand streams through its own port of ``dram_bw_words_per_cycle`` words.
    """
    comp = compute_cycles(layer, rows, cols, dataflow)
    _check_memory_args(ifmap_sram_bytes, filter_sram_bytes, ofmap_sram_bytes, word_bytes, dram_bw_words_per_cycle,
                       bw_mode)
    ofmap_dram = comp.sram_ofmap_writes if dataflow != "os" else layer.ofmap_elems
    ofmap_per_fold = _fold_ofmap_words(layer, rows, cols, dataflow, comp.folds_row, comp.folds_col)
    if bw_mode == "CALC":
        return _calc_memory(layer, comp, ofmap_dram, ofmap_per_fold, ifmap_sram_bytes // word_bytes,
                            filter_sram_bytes // word_bytes)
    bw_line = max(1, math.ceil(dram_bw_words_per_cycle))
    walk = _UserWalk.build(layer, rows, cols, dataflow, ifmap_sram_bytes // word_bytes,
                           filter_sram_bytes // word_bytes, bw_line)
    walk.replay(layer, comp, rows, cols, dataflow)
    ifm, fil = walk.ifmap, walk.filter
    stall = _stall_cycles(_read_stalls(ifm, fil), ofmap_dram, ofmap_sram_bytes // word_bytes, bw_line,
                          comp.compute_cycles)
    if ofmap_dram > max(1, ofmap_sram_bytes // word_bytes) // 2:
        # SCALE-Sim's write buffer, once it has drained more than its active half, counts one extra write on
        # the final flush (matches every USER-mode reference row).
        ofmap_dram += 1
    dram_if = ifm.first_fill + len(ifm.advances) * ifm.prefetch_words
    dram_fl = fil.first_fill + len(fil.advances) * fil.prefetch_words
    return SystolicMemory(stall, comp.compute_cycles + stall, dram_if, dram_fl, ofmap_dram,
                          _fold_dram_reads(ifm, fil, comp.folds, comp.cycles_per_fold),
                          _with_flush(ofmap_per_fold, ofmap_dram), ifm.first_fill, fil.first_fill,
                          ifm.prefetch_words, fil.prefetch_words, tuple(ifm.advances), tuple(fil.advances))


def _check_memory_args(ifmap_sram_bytes: int, filter_sram_bytes: int, ofmap_sram_bytes: int, word_bytes: int,
                       dram_bw_words_per_cycle: float, bw_mode: str) -> None:
    """Refuse a word size, bandwidth, mode or scratchpad that cannot describe SCALE-Sim's memory system."""
    if word_bytes < 1 or dram_bw_words_per_cycle <= 0:
        raise MappingError("word_bytes and dram_bw_words_per_cycle must be positive", field="bandwidth")
    if bw_mode not in ("CALC", "USER"):
        raise MappingError(f"bw_mode must be CALC or USER, got {bw_mode!r}", field="bw_mode")
    for name, size in (("ifmap_sram_bytes", ifmap_sram_bytes), ("filter_sram_bytes", filter_sram_bytes),
                       ("ofmap_sram_bytes", ofmap_sram_bytes)):
        if size < word_bytes:
            raise MappingError(f"{name} must hold at least one word, got {size}", field=name)


def _calc_memory(layer: SystolicLayer, comp: SystolicCompute, ofmap_dram: int, ofmap_per_fold: list[int],
                 ifmap_sram_words: int, filter_sram_words: int) -> SystolicMemory:
    """CALC mode: each operand word crosses DRAM once, no stalls; the reads are spread evenly over the folds."""
    folds = comp.folds
    base, extra = divmod(layer.ifmap_elems + layer.filter_elems, folds)
    reads = tuple(base + (1 if i < extra else 0) for i in range(folds))
    lead = max(_calc_fill_lead(layer.ifmap_elems, ifmap_sram_words),
               _calc_fill_lead(layer.filter_elems, filter_sram_words))
    return SystolicMemory(0, comp.compute_cycles, layer.ifmap_elems, layer.filter_elems, ofmap_dram,
                          reads, _with_flush(ofmap_per_fold, ofmap_dram),
                          ifmap_fill_words=layer.ifmap_elems, filter_fill_words=layer.filter_elems,
                          calc_fill_lead_cycles=lead)


@dataclass(frozen=True)
class _UserWalk:
    """USER mode's two read buffers and the demand orders their window walks follow (the buffers themselves
    are mutable: the walk moves their windows)."""

    ifmap: _ReadBuffer
    filter: _ReadBuffer
    order: _DiagOrder  # the streamed operand's anti-diagonal order (ifmap in os/ws, filter in is)
    filter_order: _DiagOrder | None  # os only: the filter, streamed too
    copies: _IfmapCopies | None  # is only: where the stationary ifmap repeats words or has none

    @classmethod
    def build(cls, layer: SystolicLayer, rows: int, cols: int, dataflow: str, ifmap_sram_words: int,
              filter_sram_words: int, bw_line: int) -> _UserWalk:
        ring_if, ring_fl = _rings(layer, rows, cols, dataflow)
        overlap = layer.filter_h > layer.stride_h or layer.filter_w > layer.stride_w
        if dataflow == "is":  # stationary ifmap (row-major), streamed filter (anti-diagonal)
            copies = _IfmapCopies.build(layer, cols, overlap) if overlap or _partial_windows(layer) else None
            valid_if = (ring_if.valid if copies is None or copies.valid_prefix is None
                        else int(copies.valid_prefix[-1]))
            order = _DiagOrder(layer, ring_fl, False, False, ifmap=False)
        else:  # streamed ifmap (anti-diagonal); os filter anti-diagonal, ws filter stationary (row-major)
            copies = None
            order = _DiagOrder(layer, ring_if, dataflow == "ws", overlap)
            valid_if = order.valid
        ifm = _ReadBuffer(ring_if, ifmap_sram_words, bw_line, valid_if)
        fil = _ReadBuffer(ring_fl, filter_sram_words, bw_line)
        filter_order = _DiagOrder(layer, ring_fl, False, False, ifmap=False) if dataflow == "os" else None
        return cls(ifm, fil, order, filter_order, copies)

    def replay(self, layer: SystolicLayer, comp: SystolicCompute, rows: int, cols: int, dataflow: str) -> None:
        """Walk both windows through every fold in SCALE-Sim's order (for c: for r)."""
        ifm, fil, order = self.ifmap, self.filter, self.order
        streamed, stationary = (fil, ifm) if dataflow == "is" else (ifm, fil)
        sweep_from, settled = 0, False
        for fc in range(comp.folds_col):
            # An ifmap sweep that moved no window (every word had a resident copy) repeats for every later sweep.
            settled = settled or (dataflow != "is" and fc >= 1 and len(streamed.advances) == sweep_from)
            sweep_from = len(streamed.advances)
            for fr in range(comp.folds_row):
                line0 = (fc * comp.folds_row + fr) * comp.cycles_per_fold
                if dataflow == "os":
                    if not settled:
                        _walk_streamed_copies(ifm, order, fr, line0, layer.window + rows - 1)
                    assert self.filter_order is not None
                    _walk_streamed_copies(fil, self.filter_order, fc, line0, layer.window + cols - 1)
                    continue
                _walk_stationary(stationary, fc, fr, rows, line0, self.copies)
                if not settled:
                    lines = (layer.ofmap_px if dataflow == "ws" else layer.num_filters) + rows - 1
                    _walk_streamed_copies(streamed, order, fr, line0 + rows, lines)


def _fold_dram_reads(ifm: _ReadBuffer, fil: _ReadBuffer, folds: int, cpf: int) -> tuple[int, ...]:
    """DRAM words read ahead of each fold: both initial fills on fold 0, each prefetch on the fold it feeds."""
    per_fold = [0] * folds
    per_fold[0] += ifm.first_fill + fil.first_fill
    for buf in (ifm, fil):
        for k, line in enumerate(buf.advances):
            # SCALE-Sim streams prefetch k+1 right after prefetch k lands, ahead of the fold that needs it; the
            # engine loads a fold's words while the previous fold computes, so book it one fold after the issue.
            issued = 1 + k * buf.prefetch_cycles
            per_fold[min(folds - 1, int(line) // cpf, issued // cpf + 1)] += buf.prefetch_words
    return tuple(per_fold)


# SCALE-Sim's CALC mode (single_layer_sim: "the number 10 elems per cycle is arbitrary") fills its estimate
# buffers at this notional rate, in sets of SRAM words / 100, half of the 100 sets active.
CALC_FILL_WORDS_PER_CYCLE = 10
CALC_ACTIVE_SETS = 50


def _calc_fill_lead(operand_words: int, sram_words: int) -> int:
    """Cycles before the first array line at which SCALE-Sim's CALC-mode buffer starts its initial fill: the
    whole sets the operand occupies, at most the active half, at CALC_FILL_WORDS_PER_CYCLE. Its "Total Cycles
    (incl. prefetch)" runs from there to the last ofmap write. Matches all 15 shared CALC rows exactly (operands
    within the active half; for larger ones SCALE-Sim dates the fill from the operand's first demand, which is
    cycle 0 in os and may be later in ws/is, so this can overstate the lead by those few cycles)."""
    if operand_words <= 0:
        return 0
    per_set = max(1, sram_words // 100)
    sets = min(ceil_div(operand_words, per_set), CALC_ACTIVE_SETS)
    return ceil_div(sets * per_set, CALC_FILL_WORDS_PER_CYCLE)


def _read_stalls(*bufs: _ReadBuffer) -> list[tuple[float, int]]:
    """(compute line, stall cycles accumulated once that line is served), replaying SCALE-Sim's prefetch timing:
    prefetch k of a buffer lands at 1 + k * (lines + 1); a demand that needs it earlier stalls the whole array.
    SCALE-Sim adds a positive shortfall to its per-line offset twice (read_buffer.service_reads), so a stall
    costs twice the shortfall; ifmap and filter stalls of one line overlap (the array waits for the later one)."""
    events: list[tuple[float, int, int]] = []
    for i, buf in enumerate(bufs):
        events += [(line, i, k + 1) for k, line in enumerate(buf.advances)]
    events.sort()
    stall = 0
    out = [(0.0, 0)]
    j = 0
    while j < len(events):
        line = events[j][0]
        worst = 0
        while j < len(events) and events[j][0] == line:
            _, i, k = events[j]
            ready = 1 + k * bufs[i].prefetch_cycles
            worst = max(worst, 2 * (ready - (math.floor(line) + stall) - 1))
            j += 1
        stall += worst
        out.append((line, stall))
    return out


def _stall_cycles(reads: list[tuple[float, int]], writes: int, sram_words: int, bw_line: int,
                  compute: int) -> int:
    """Stall cycles from the read stalls and SCALE-Sim's ofmap write buffer (memory/write_buffer.py), which
    drains to DRAM at ``bw_line`` words/cycle and holds the array whenever it is full; what is left at the end is
    flushed after the last cycle (not counted). With writes spread evenly over the compute lines, the array
    cannot finish before any point p it reaches (read stalls included) plus the time to drain the writes still
    to come beyond one bufferful."""
    read_total = compute + reads[-1][1]
    if writes <= sram_words or compute <= 0:
        return read_total - compute
    finish = max(line + stall + (writes * (compute - line) / compute - sram_words) / bw_line
                 for line, stall in reads)
    return max(read_total, math.ceil(finish)) - compute


def _fold_ofmap_words(layer: SystolicLayer, rows: int, cols: int, dataflow: str, folds_row: int,
                      folds_col: int) -> list[int]:
    """Ofmap words each fold writes, in SCALE-Sim's fold order (for c: for r)."""
    sr, sc = layer.ofmap_px, layer.num_filters
    out = []
    for fc in range(folds_col):
        for fr in range(folds_row):
            if dataflow == "os":
                out.append(min(rows, sr - fr * rows) * min(cols, sc - fc * cols))
            elif dataflow == "ws":
                out.append(sr * min(cols, sc - fc * cols))  # partial sums of every pixel, per T fold
            else:
                out.append(sc * min(cols, sr - fc * cols))
    return out


def _with_flush(per_fold: list[int], total: int) -> tuple[int, ...]:
    """Per-fold ofmap writes with what the final flush adds beyond them booked on the last fold."""
    return (*per_fold[:-1], per_fold[-1] + total - sum(per_fold))
