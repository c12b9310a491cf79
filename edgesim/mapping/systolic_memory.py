"""SCALE-Sim v3's memory side for a systolic layer: DRAM traffic and stall cycles of its double-buffered
scratchpads, and the mapping seam that hands its prefetch streams to the event engine as tiles.

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

The seam (scalesim_tiling) cuts a layer where this walk says SCALE-Sim's memory acts: the fills, each prefetch
at the line demanding it, each ofmap buffer drain. The event engine then times those tiles as SCALE-Sim does
(edgesim/sim/unit.py UnitProcess._scalesim: per-operand read ports, free-running prefetch streams, the doubled
shortfall), and reports the fill and the final drain apart from the layer's cycles, as SCALE-Sim's "Total
Cycles" leaves them out.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgesim.errors import MappingError
from edgesim.hw.schema import ComputeUnit, HardwareProfile, MemoryKind
from edgesim.hw.systolic import (
    CALC_BW_WORDS_PER_CYCLE,
    SCALESIM_READ_PORTS,
    SCALESIM_SRAMS,
    SystolicLayer,
    ceil_div,
)
from edgesim.ir.graph import Graph, Node
from edgesim.mapping.systolic import compute_cycles
from edgesim.mapping.tiling import Tiling

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


@dataclass(frozen=True)
class _Ring:
    """One read operand as SCALE-Sim's read buffer sees it: blocks of `height` x `width` (used columns `used`)."""

    blocks: int
    height: int
    width: int
    last_used: int  # used columns of the last block (the others are full)

    def used(self, b: int) -> int:
        return self.last_used if b == self.blocks - 1 else self.width

    def start(self, b: int) -> int:
        """Valid elements before block b."""
        return b * self.height * self.width if b < self.blocks else self.valid

    @property
    def valid(self) -> int:
        return (self.blocks - 1) * self.height * self.width + self.height * self.last_used

    @property
    def padded(self) -> int:
        return self.blocks * self.height * self.width


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


def _word_copies(ly: SystolicLayer, t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (window element, pixel) of the im2col ifmap holding the same ifmap word as (t, p): word (y, x, c) is
    element (fh, fw, c) of each window (oy, ox) with oy*s + fh = y, ox*s + fw = x. Shapes (n, copies)."""
    fh, rem = np.divmod(t, ly.filter_w * ly.channels)
    fw, ch = np.divmod(rem, ly.channels)
    oy, ox = np.divmod(p, ly.ofmap_w)
    dy = np.arange(-((ly.filter_h - 1) // ly.stride_h), (ly.filter_h - 1) // ly.stride_h + 1)
    dx = np.arange(-((ly.filter_w - 1) // ly.stride_w), (ly.filter_w - 1) // ly.stride_w + 1)
    ddy, ddx = (g.ravel()[None, :] for g in np.meshgrid(dy, dx, indexing="ij"))
    oy2, ox2 = oy[:, None] + ddy, ox[:, None] + ddx
    fh2, fw2 = fh[:, None] - ddy * ly.stride_h, fw[:, None] - ddx * ly.stride_w
    ok = ((oy2 >= 0) & (oy2 < ly.ofmap_h) & (ox2 >= 0) & (ox2 < ly.ofmap_w)
          & (fh2 >= 0) & (fh2 < ly.filter_h) & (fw2 >= 0) & (fw2 < ly.filter_w))
    t2 = (fh2 * ly.filter_w + fw2) * ly.channels + ch[:, None]
    return t2, oy2 * ly.ofmap_w + ox2, ok


def _partial_windows(ly: SystolicLayer) -> bool:
    """Whether SCALE-Sim's round-up output size leaves windows hanging over the ifmap's bottom/right edge."""
    return ((ly.ofmap_h - 1) * ly.stride_h + ly.filter_h > ly.ifmap_h
            or (ly.ofmap_w - 1) * ly.stride_w + ly.filter_w > ly.ifmap_w)


def _in_range(ly: SystolicLayer, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Window element t of pixel p lies inside the ifmap (SCALE-Sim writes -1, no word, for the others)."""
    fh, rem = np.divmod(t, ly.filter_w * ly.channels)
    oy, ox = np.divmod(p, ly.ofmap_w)
    return (oy * ly.stride_h + fh < ly.ifmap_h) & (ox * ly.stride_w + rem // ly.channels < ly.ifmap_w)


@dataclass(frozen=True)
class _IfmapCopies:
    """Where SCALE-Sim's is-dataflow ifmap prefetch matrix (window rows x pixel-fold blocks, row-major) holds
    copies of each word."""

    layer: SystolicLayer
    cols: int
    copies: bool  # windows overlap, so words repeat
    # Valid words before each padded position, when windows hang over the ifmap edge (None: none do).
    valid_prefix: np.ndarray | None

    @classmethod
    def build(cls, ly: SystolicLayer, cols: int, copies: bool) -> _IfmapCopies:
        prefix = None
        if _partial_windows(ly):
            blocks = ceil_div(ly.ofmap_px, cols)
            b, t, c = np.meshgrid(np.arange(blocks), np.arange(ly.window), np.arange(cols), indexing="ij")
            p = (b * cols + c).ravel()
            valid = (p < ly.ofmap_px) & _in_range(ly, t.ravel(), np.minimum(p, ly.ofmap_px - 1))
            prefix = np.concatenate(([0], np.cumsum(valid)))
        return cls(ly, cols, copies, prefix)

    def pos(self, t: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Valid position of window element t of pixel p in the row-major (window x pixel-fold) order."""
        ly = self.layer
        b = p // self.cols
        if self.valid_prefix is not None:
            return self.valid_prefix[b * ly.window * self.cols + t * self.cols + p % self.cols]
        last_b = (ly.ofmap_px - 1) // self.cols
        u = np.where(b == last_b, ly.ofmap_px - last_b * self.cols, self.cols)
        return b * ly.window * self.cols + t * u + p % self.cols

    def sets(self, t: int, block: int, u: int, set_elems: int, num_sets: int) -> np.ndarray:
        """Sets holding row t of the block (one row per word, one column per copy; -1: none). A word that is
        not there at all (window over the edge) is never demanded: its row is all -2."""
        ly = self.layer
        p = block * self.cols + np.arange(u)
        tt = np.full(u, t)
        if self.copies:
            t2, p2, ok = _word_copies(ly, tt, p)
        else:
            t2, p2, ok = tt[:, None], p[:, None], np.ones((u, 1), dtype=bool)
        pos = self.pos(np.where(ok, t2, 0), np.where(ok, p2, 0))
        out = np.where(ok, np.minimum(pos // set_elems, num_sets - 1), -1)
        if self.valid_prefix is not None:
            out[~_in_range(ly, tt, p)] = -2
        return out


class _DiagOrder:
    """SCALE-Sim's anti-diagonal prefetch order of a streamed operand as valid positions: the ifmap (os: window
    rows x pixel-fold blocks; ws: pixel rows x window-fold blocks), with the positions of every copy of a word,
    or the filter (``ifmap=False``; os, is), whose words are all distinct."""

    def __init__(self, layer: SystolicLayer, ring: _Ring, pixel_rows: bool, copies: bool,
                 ifmap: bool = True) -> None:
        self.layer, self.ring, self.pixel_rows, self.copies = layer, ring, pixel_rows, copies and ifmap
        self.rows_total = ring.blocks * ring.height
        m, w, u = self.rows_total, ring.width, ring.last_used
        self.last_block_row = (ring.blocks - 1) * ring.height
        d = np.arange(m + w - 1)
        top, bot = np.minimum(d, m - 1), np.maximum(0, d - w + 1)
        self.padded_before = np.concatenate(([0], np.cumsum(top - bot + 1)))
        self.valid_prefix: np.ndarray | None = None
        if ifmap and _partial_windows(layer):
            # Windows over the ifmap edge hold no words: count valid words along the whole padded order.
            r, c = self._all_elements(d, top, bot)
            used = np.where(r // ring.height == ring.blocks - 1, u, w)
            ok = (c < used) & self.present(r, np.where(c < used, c, 0))
            self.valid_prefix = np.concatenate(([0], np.cumsum(ok)))
            self.valid_before = self.valid_prefix[self.padded_before]
            self.valid = int(self.valid_prefix[-1])
            return
        inv = np.maximum(0, np.minimum(top, d - u) - np.maximum(self.last_block_row, bot) + 1) if u < w else 0
        self.valid_before = np.concatenate(([0], np.cumsum(top - bot + 1 - inv)))
        self.valid = ring.valid

    @staticmethod
    def _all_elements(d: np.ndarray, top: np.ndarray, bot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = top - bot + 1
        offs = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        r = np.repeat(top, n) - offs
        return r, np.repeat(d, n) - r

    def _tp(self, r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(window element, pixel) of tall-matrix elements."""
        h, w = self.ring.height, self.ring.width
        blk, row = np.divmod(r, h)
        if self.pixel_rows:  # ws: row = pixel, column = window element within the block's window slice
            return blk * w + c, row
        return row, blk * w + c  # os: row = window element, column = pixel within the block's pixel fold

    def present(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Elements holding an ifmap word (not a window position over the ifmap edge)."""
        t, p = self._tp(r, c)
        ly = self.layer
        return _in_range(ly, np.minimum(t, ly.window - 1), np.minimum(p, ly.ofmap_px - 1))

    def positions(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Valid position (padding and words over the edge skipped) of tall-matrix elements (r, c)."""
        m, u = self.rows_total, self.ring.last_used
        d = r + c
        top = np.minimum(d, m - 1)
        if self.valid_prefix is not None:
            return self.valid_prefix[self.padded_before[d] + top - r]
        pos = self.valid_before[d] + top - r
        if u < self.ring.width:
            pos = pos - np.maximum(0, np.minimum(top, d - u) - np.maximum(r + 1, self.last_block_row) + 1)
        return pos

    def elements(self, block: int, d0: int, d1: int) -> tuple[np.ndarray, np.ndarray]:
        """Block `block`'s elements on anti-diagonals d0..d1 (of the tall matrix) in SCALE-Sim's order."""
        h, u = self.ring.height, self.ring.used(block)
        base = block * h
        d = np.arange(d0, d1 + 1)
        hi = np.minimum(d, base + h - 1)
        lo = np.maximum(base, d - u + 1)
        n = np.maximum(0, hi - lo + 1)
        dd = np.repeat(d, n)
        first = np.repeat(hi, n)
        offs = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        r = first - offs
        return r, dd - r

    def copy_sets(self, r: np.ndarray, c: np.ndarray, set_elems: int, num_sets: int) -> np.ndarray:
        if not self.copies:
            return np.minimum(self.positions(r, c) // set_elems, num_sets - 1)[:, None]
        h, w = self.ring.height, self.ring.width
        t, p = self._tp(r, c)
        t2, p2, ok = _word_copies(self.layer, t, p)
        if self.pixel_rows:
            r2, c2 = (t2 // w) * h + p2, t2 % w
        else:
            r2, c2 = (p2 // w) * h + t2, p2 % w
        pos = self.positions(np.where(ok, r2, 0), np.where(ok, c2, 0))
        return np.where(ok, np.minimum(pos // set_elems, num_sets - 1), -1)


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
    d_first, d_last = block * h, block * h + h - 1 + u - 1
    lo = int(diag.positions(np.array([block * h]), np.array([0]))[0])
    hi = int(diag.positions(np.array([block * h + h - 1]), np.array([u - 1]))[0])
    if buf.resident(lo, hi):
        return
    n, a_sets, e = buf.num_sets, buf.active_sets, buf.set_elems
    step = max(1, 4096 // max(1, u))  # anti-diagonals enumerated at a time where the window edge is near
    d = d_first
    while d <= d_last:
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
        d1 = min(d_last, d + step - 1)
        rr, cc = diag.elements(block, d, d1)
        if diag.valid_prefix is not None:
            keep = diag.present(rr, cc)
            rr, cc = rr[keep], cc[keep]
        own = np.minimum(diag.positions(rr, cc) // e, n - 1)
        k = 0
        while k < own.size:
            out = np.flatnonzero((own[k:] - buf.start) % n >= a_sets)
            if out.size == 0:
                break
            k += int(out[0])
            # The first word outside the window with no resident copy moves it; copies are looked up in growing
            # slices since that word is usually close.
            width, miss_at = 256, -1
            while k < own.size:
                if buf.copy_lookups > COPY_LOOKUP_BUDGET:  # out of budget: this word moves the window
                    miss_at, mine = k, own[k:k + 1]
                    break
                sets = diag.copy_sets(rr[k:k + width], cc[k:k + width], e, n)
                buf.copy_lookups += sets.size
                miss = np.flatnonzero(~(((sets - buf.start) % n < a_sets) & (sets >= 0)).any(axis=1))
                if miss.size:
                    miss_at, mine = k + int(miss[0]), sets[int(miss[0])]
                    break
                k += width
                width = min(4 * width, 1 << 14)
            if miss_at < 0:
                break
            k = miss_at
            line = line0 + lines * (rr[k] + cc[k] - d_first) / max(1, d_last - d_first)
            while not (((mine - buf.start) % n < a_sets) & (mine >= 0)).any():
                buf.start = (buf.start + buf.step_sets) % n
                buf.advances.append(line)
            k += 1
        d = d1 + 1


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
    if word_bytes < 1 or dram_bw_words_per_cycle <= 0:
        raise MappingError("word_bytes and dram_bw_words_per_cycle must be positive", field="bandwidth")
    if bw_mode not in ("CALC", "USER"):
        raise MappingError(f"bw_mode must be CALC or USER, got {bw_mode!r}", field="bw_mode")
    for name, size in (("ifmap_sram_bytes", ifmap_sram_bytes), ("filter_sram_bytes", filter_sram_bytes),
                       ("ofmap_sram_bytes", ofmap_sram_bytes)):
        if size < word_bytes:
            raise MappingError(f"{name} must hold at least one word, got {size}", field=name)
    sr, sc = layer.ofmap_px, layer.num_filters
    ofmap_dram = comp.sram_ofmap_writes if dataflow != "os" else layer.ofmap_elems
    folds, cpf = comp.folds, comp.cycles_per_fold
    ofmap_per_fold = _fold_ofmap_words(layer, rows, cols, dataflow, comp.folds_row, comp.folds_col)
    if bw_mode == "CALC":
        # Each operand word crosses DRAM once; the reads are spread evenly over the folds.
        base, extra = divmod(layer.ifmap_elems + layer.filter_elems, folds)
        reads = tuple(base + (1 if i < extra else 0) for i in range(folds))
        lead = max(_calc_fill_lead(layer.ifmap_elems, ifmap_sram_bytes // word_bytes),
                   _calc_fill_lead(layer.filter_elems, filter_sram_bytes // word_bytes))
        return SystolicMemory(0, comp.compute_cycles, layer.ifmap_elems, layer.filter_elems, ofmap_dram,
                              reads, _with_flush(ofmap_per_fold, ofmap_dram),
                              ifmap_fill_words=layer.ifmap_elems, filter_fill_words=layer.filter_elems,
                              calc_fill_lead_cycles=lead)

    bw_line = max(1, math.ceil(dram_bw_words_per_cycle))
    ring_if, ring_fl = _rings(layer, rows, cols, dataflow)
    overlap = layer.filter_h > layer.stride_h or layer.filter_w > layer.stride_w
    if dataflow == "is":  # stationary ifmap (row-major), streamed filter (anti-diagonal)
        copies = _IfmapCopies.build(layer, cols, overlap) if overlap or _partial_windows(layer) else None
        valid_if = ring_if.valid if copies is None or copies.valid_prefix is None else int(copies.valid_prefix[-1])
        order = _DiagOrder(layer, ring_fl, False, False, ifmap=False)
    else:  # streamed ifmap (anti-diagonal); os filter anti-diagonal, ws filter stationary (row-major)
        copies = None
        order = _DiagOrder(layer, ring_if, dataflow == "ws", overlap)
        valid_if = order.valid
    ifm = _ReadBuffer(ring_if, ifmap_sram_bytes // word_bytes, bw_line, valid_if)
    fil = _ReadBuffer(ring_fl, filter_sram_bytes // word_bytes, bw_line)
    filter_order = _DiagOrder(layer, ring_fl, False, False, ifmap=False) if dataflow == "os" else None
    streamed, stationary = (fil, ifm) if dataflow == "is" else (ifm, fil)
    sweep_from, settled = 0, False
    for fc in range(comp.folds_col):
        # An ifmap sweep that moved no window (every word had a resident copy) repeats for every later sweep.
        settled = settled or (dataflow != "is" and fc >= 1 and len(streamed.advances) == sweep_from)
        sweep_from = len(streamed.advances)
        for fr in range(comp.folds_row):
            line0 = (fc * comp.folds_row + fr) * cpf
            if dataflow == "os":
                if not settled:
                    _walk_streamed_copies(ifm, order, fr, line0, layer.window + rows - 1)
                assert filter_order is not None
                _walk_streamed_copies(fil, filter_order, fc, line0, layer.window + cols - 1)
                continue
            _walk_stationary(stationary, fc, fr, rows, line0, copies)
            if not settled:
                _walk_streamed_copies(streamed, order, fr, line0 + rows, (sr if dataflow == "ws" else sc) + rows - 1)

    stall = _stall_cycles(_read_stalls(ifm, fil), ofmap_dram, ofmap_sram_bytes // word_bytes, bw_line,
                          comp.compute_cycles)
    if ofmap_dram > max(1, ofmap_sram_bytes // word_bytes) // 2:
        # SCALE-Sim's write buffer, once it has drained more than its active half, counts one extra write on
        # the final flush (matches every USER-mode reference row).
        ofmap_dram += 1
    dram_if = ifm.first_fill + len(ifm.advances) * ifm.prefetch_words
    dram_fl = fil.first_fill + len(fil.advances) * fil.prefetch_words
    per_fold = [0] * folds
    per_fold[0] += ifm.first_fill + fil.first_fill
    for buf in (ifm, fil):
        for k, line in enumerate(buf.advances):
            # SCALE-Sim streams prefetch k+1 right after prefetch k lands, ahead of the fold that needs it; the
            # engine loads a fold's words while the previous fold computes, so book it one fold after the issue.
            issued = 1 + k * buf.prefetch_cycles
            per_fold[min(folds - 1, int(line) // cpf, issued // cpf + 1)] += buf.prefetch_words
    return SystolicMemory(stall, comp.compute_cycles + stall, dram_if, dram_fl, ofmap_dram, tuple(per_fold),
                          _with_flush(ofmap_per_fold, ofmap_dram), ifm.first_fill, fil.first_fill,
                          ifm.prefetch_words, fil.prefetch_words, tuple(ifm.advances), tuple(fil.advances))


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


# --------------------------------------------------------------------------------------------------------------
# Mapping seam: SCALE-Sim's per-fold DRAM traffic as the event engine's tiles.
# --------------------------------------------------------------------------------------------------------------

# Scratchpads of a systolic unit that has SCALE-Sim's memory system (edgesim.frontends.scalesim builds them).
# Plans whose tiles follow SCALE-Sim's memory semantics carry this loop-order prefix (the engine checks it).
# Past this many tiles per layer run, prefetch demands and drains are snapped to a coarser line grid.
MAX_SCALESIM_TILES = 1 << 14


def systolic_layer(graph: Any, node: Any) -> tuple[SystolicLayer, int]:
    """(SCALE-Sim layer, how many times the array runs it) for a conv, depthwise conv, FC or matmul node."""
    from edgesim.ir import attrs as A
    from edgesim.ir.ops import OpKind

    x = graph.tensors[node.inputs[0]]
    out = graph.tensors[node.outputs[0]]
    if node.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D):
        a: A.ConvAttrs = node.attrs
        n = x.shape[0]
        hx, wx = (x.shape[1], x.shape[2]) if a.layout is A.Layout.NHWC else (x.shape[2], x.shape[3])
        c_in = x.shape[a.layout.channel_axis()]
        c_out = out.shape[a.layout.channel_axis()]
        kh = (a.kernel_hw[0] - 1) * a.dilation_hw[0] + 1
        kw = (a.kernel_hw[1] - 1) * a.dilation_hw[1] + 1
        ph, pw = hx + a.padding.top + a.padding.bottom, wx + a.padding.left + a.padding.right
        sh, sw = a.stride_hw
        if (a.padding.top == a.padding.left == 0 and hx >= kh and wx >= kw
                and ceil_div(hx - kh, sh) == (ph - kh) // sh and ceil_div(wx - kw, sw) == (pw - kw) // sw):
            # Only bottom/right padding that SCALE-Sim's round-up output size already implies (partial windows,
            # as SCALE-Sim topologies describe them): the padding holds no words to fetch.
            ph, pw = hx, wx
        if node.op is OpKind.DEPTHWISE_CONV2D:
            # Each channel is an independent 1-channel convolution: the array maps channels onto columns.
            return SystolicLayer(ph, pw, kh, kw, 1, c_out, a.stride_hw[0], a.stride_hw[1]), n
        groups = max(a.groups, 1)
        return (SystolicLayer(ph, pw, kh, kw, c_in // groups, c_out // groups, a.stride_hw[0], a.stride_hw[1]),
                n * groups)
    if node.op is OpKind.FULLY_CONNECTED:
        w = graph.tensors[node.inputs[1]]
        k, n_out = w.shape[-1], w.shape[0]
        return SystolicLayer(1, out.num_elements // n_out, 1, 1, k, n_out, 1, 1), 1
    if node.op is OpKind.MATMUL:
        ma: A.MatMulAttrs = node.attrs
        k = x.shape[-2] if ma.transpose_a else x.shape[-1]
        m, n_out = out.shape[-2], out.shape[-1]
        return SystolicLayer(1, m, 1, 1, k, n_out, 1, 1), out.num_elements // (m * n_out)
    raise MappingError(f"{node.op.value} has no systolic mapping", node=node.name)


def _drain_lines(fold_writes: list[int], cpf: int, sram_words: int) -> tuple[list[float], int]:
    """(compute line of every drain of SCALE-Sim's ofmap write buffer during the layer, words per drain).

    The buffer (memory/write_buffer.py) drains its drain half to DRAM once it holds more than that; each fold's
    ofmap words are taken as produced evenly over the fold. What is left is flushed after the last fold."""
    drain = max(1, sram_words - ceil_div(sram_words, 2))
    lines: list[float] = []
    done = 0
    for f, words in enumerate(fold_writes):
        if words <= 0:
            continue
        # Drain j starts when word j * drain + 1 arrives.
        while (len(lines) + 1) * drain + 1 <= done + words:
            need = (len(lines) + 1) * drain + 1 - done
            lines.append(f * cpf + cpf * need / words)
        done += words
    return lines, drain


def scalesim_tiling(graph: Graph, node: Node, unit: ComputeUnit, profile: HardwareProfile,
                    compute_cycles_total: float) -> Tiling | None:
    """Tiles for an op on a systolic unit with SCALE-Sim's three scratchpads, cut where SCALE-Sim's memory system
    acts: the first tile loads both operands' initial fills, a tile starts at each compute line that demands a
    prefetch (its words, on that operand's DRAM read port) and ends at each drain of the ofmap write buffer (its
    words written back); the last tile writes back the final flush. Runs of identical tiles become one TileGroup.
    The engine times these tiles as SCALE-Sim does (edgesim/sim/timing.py, ScaleSimTiming). None when the unit
    lacks SCALE-Sim's memory system (the generic tiling pass applies) or the op has no systolic mapping.
    """
    from edgesim.mapping.plan import MemTraffic, TileGroup

    names = set(unit.memories)
    drams = [m for m in unit.memories if profile.memory(m).kind is MemoryKind.DRAM]
    if not set(SCALESIM_SRAMS) <= names or not drams or unit.systolic is None:
        return None
    try:
        layer, repeats = systolic_layer(graph, node)
    except MappingError:
        return None
    spec = unit.systolic
    rows, cols, flow = spec.rows, spec.cols, getattr(spec.dataflow, "value", spec.dataflow)
    word = max(1, graph.tensors[node.inputs[0]].dtype.nbytes(1))
    write_port = "dram" if "dram" in drams else drams[0]
    if_port, fl_port = (SCALESIM_READ_PORTS if set(SCALESIM_READ_PORTS) <= set(drams) else (write_port,) * 2)
    # The read ports have the configured bandwidth (CALC mode: wide enough never to be the limit).
    bw_words = profile.memory(if_port).read_bw_bytes_per_cycle / word
    mode = "CALC" if bw_words >= CALC_BW_WORDS_PER_CYCLE else "USER"
    sizes = [profile.memory(m).size_bytes for m in SCALESIM_SRAMS]
    comp = compute_cycles(layer, rows, cols, flow)
    mem = memory_stalls(layer, rows, cols, flow, sizes[0], sizes[1], sizes[2], word, bw_words, mode)
    lines_total = comp.compute_cycles
    grid = max(1, ceil_div(lines_total, MAX_SCALESIM_TILES))
    reads: dict[int, list[int]] = {0: [mem.ifmap_fill_words, mem.filter_fill_words]}
    for k, (lines, words) in enumerate(((mem.ifmap_prefetch_lines, mem.ifmap_prefetch_words),
                                        (mem.filter_prefetch_lines, mem.filter_prefetch_words))):
        for line in lines:
            # A demand snapped to the grid moves earlier: the array waits no later than SCALE-Sim's.
            at = min(lines_total - 1, int(line) // grid * grid)
            reads.setdefault(at, [0, 0])[k] += words
    fold_writes = _fold_ofmap_words(layer, rows, cols, flow, comp.folds_row, comp.folds_col)
    drains, drain_words = _drain_lines(fold_writes, comp.cycles_per_fold, sizes[2] // word)
    writes: dict[int, int] = {}
    for line in drains:
        at = min(lines_total, max(1, ceil_div(math.ceil(line), grid) * grid))
        writes[at] = writes.get(at, 0) + drain_words
    writes[lines_total] = writes.get(lines_total, 0) + mem.dram_ofmap_writes - drain_words * len(drains)
    cuts = sorted({0, lines_total, *reads, *writes})
    cycles_per_line = compute_cycles_total / (repeats * lines_total) if lines_total else 0.0
    ws = sum(sizes)
    groups: list[TileGroup] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        r_if, r_fl = reads.get(a, (0, 0))
        moves = {if_port: [r_if * word, 0]}
        moves.setdefault(fl_port, [0, 0])[0] += r_fl * word
        moves.setdefault(write_port, [0, 0])[1] += writes.get(b, 0) * word
        traffic = tuple(MemTraffic(m, rd, wr) for m, (rd, wr) in moves.items() if rd or wr)
        tile = TileGroup(1, (b - a) * cycles_per_line, traffic, ws)
        if groups and groups[-1].traffic == traffic and groups[-1].compute_cycles == tile.compute_cycles:
            groups[-1] = TileGroup(groups[-1].count + 1, tile.compute_cycles, traffic, ws)
        else:
            groups.append(tile)
    all_groups = tuple(groups) * repeats
    # The array reads its operands from the scratchpads as it computes (SCALE-Sim's SRAM reads/writes): counted
    # in the op's traffic, not as tile loads, since the scratchpads feed the array at the demand rate.
    dram_moves: dict[str, list[int]] = {}
    for g in all_groups:
        for t in g.traffic:
            acc = dram_moves.setdefault(t.memory, [0, 0])
            acc[0] += t.read_bytes * g.count
            acc[1] += t.write_bytes * g.count
    totals = (*(MemTraffic(m, rd, wr) for m, (rd, wr) in dram_moves.items()),
              MemTraffic(SCALESIM_SRAMS[0], comp.sram_ifmap_reads * word * repeats,
                         mem.dram_ifmap_reads * word * repeats),
              MemTraffic(SCALESIM_SRAMS[1], comp.sram_filter_reads * word * repeats,
                         mem.dram_filter_reads * word * repeats),
              MemTraffic(SCALESIM_SRAMS[2], mem.dram_ofmap_writes * word * repeats,
                         comp.sram_ofmap_writes * word * repeats))
    # SCALE-Sim's trace counts the first fill cycle and the last drain cycle as one: the lead is one short.
    lead = max(0, mem.calc_fill_lead_cycles - 1) * cycles_per_line
    return Tiling(all_groups, totals, SCALESIM_SRAMS[0], (rows, cols, comp.cycles_per_fold),
                  flow, ws, fill_lead_cycles=lead, follows_scalesim=True)
