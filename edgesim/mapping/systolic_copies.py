"""The geometry of SCALE-Sim's read-operand prefetch matrices for edgesim/mapping/systolic_memory.py: the ring
of fold blocks an operand is laid out in, where the im2col ifmap holds copies of one word, and the
anti-diagonal order in which the streamed operand's words are demanded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgesim.hw.systolic import SystolicLayer, ceil_div


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
