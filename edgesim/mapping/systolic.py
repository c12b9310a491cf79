"""Closed-form systolic-array cycle counts, compatible with SCALE-Sim v3.

SCALE-Sim lowers a conv layer to a GEMM: the ifmap operand matrix is (Sr x T) with Sr = ofmap pixels and
T = R*S*C (conv window), the filter operand matrix is (T x Sc) with Sc = num_filters. Each dataflow pins two of
the three GEMM dimensions onto the array and streams the third:

- os: Sr on rows, Sc on cols, T streamed.   cycles/fold = T  + R + C - 2
- ws: T  on rows, Sc on cols, Sr streamed.  cycles/fold = Sr + 2R + C - 2
- is: T  on rows, Sr on cols, Sc streamed.  cycles/fold = Sc + 2R + C - 2

SCALE-Sim pads partial folds to full array size in its demand matrices, so every fold takes the same number of
cycles and the layer takes folds * cycles_per_fold - 1 (its last ofmap line is serviced one cycle before the
matrix ends). Everything here is O(1) per layer; no demand matrices are built. The memory side (SRAM/DRAM
traffic, stalls) is edgesim/mapping/systolic_memory.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgesim.errors import MappingError

DATAFLOWS = ("os", "ws", "is")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class SystolicLayer:
    """One conv layer in SCALE-Sim's terms (no padding: SCALE-Sim topologies give the padded ifmap).

    SCALE-Sim rounds the output size up, ceil((H - R) / stride) + 1, so a stride that does not divide H - R
    gets one extra (partial-window) output row; the shared v3 reference rows confirm this (12x12, 5x5, stride 3
    -> 4x4 ofmap), so we follow it rather than the framework floor.
    """

    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride_h: int = 1
    stride_w: int = 1

    def __post_init__(self) -> None:
        for name in ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride_h",
                     "stride_w"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise MappingError(f"systolic layer {name} must be a positive integer, got {value!r}",
                                   field=name)
        if self.filter_h > self.ifmap_h or self.filter_w > self.ifmap_w:
            raise MappingError(
                f"filter {self.filter_h}x{self.filter_w} larger than ifmap {self.ifmap_h}x{self.ifmap_w}",
                field="filter_h")

    @property
    def ofmap_h(self) -> int:
        return _ceil_div(self.ifmap_h - self.filter_h, self.stride_h) + 1

    @property
    def ofmap_w(self) -> int:
        return _ceil_div(self.ifmap_w - self.filter_w, self.stride_w) + 1

    @property
    def ofmap_px(self) -> int:
        return self.ofmap_h * self.ofmap_w

    @property
    def window(self) -> int:
        return self.filter_h * self.filter_w * self.channels

    @property
    def macs(self) -> int:
        return self.ofmap_px * self.window * self.num_filters

    @property
    def ifmap_elems(self) -> int:
        return self.ifmap_h * self.ifmap_w * self.channels

    @property
    def filter_elems(self) -> int:
        return self.window * self.num_filters

    @property
    def ofmap_elems(self) -> int:
        return self.ofmap_px * self.num_filters

    @classmethod
    def from_conv(
        cls,
        input_hw: tuple[int, int],
        kernel_hw: tuple[int, int],
        in_channels: int,
        out_channels: int,
        stride_hw: tuple[int, int] = (1, 1),
        padding_hw: tuple[int, int] = (0, 0),
    ) -> SystolicLayer:
        """From a framework conv; ``padding_hw`` is the total (both sides) padding, folded into the ifmap size.

        Frameworks floor the output size; the ifmap is trimmed to the rows/cols the windows actually touch so
        that SCALE-Sim's ceil rule gives the same output size.
        """
        out_h = (input_hw[0] + padding_hw[0] - kernel_hw[0]) // stride_hw[0] + 1
        out_w = (input_hw[1] + padding_hw[1] - kernel_hw[1]) // stride_hw[1] + 1
        return cls(
            ifmap_h=(out_h - 1) * stride_hw[0] + kernel_hw[0],
            ifmap_w=(out_w - 1) * stride_hw[1] + kernel_hw[1],
            filter_h=kernel_hw[0],
            filter_w=kernel_hw[1],
            channels=in_channels,
            num_filters=out_channels,
            stride_h=stride_hw[0],
            stride_w=stride_hw[1],
        )


@dataclass(frozen=True)
class SystolicCompute:
    folds_row: int
    folds_col: int
    cycles_per_fold: int
    compute_cycles: int
    mapping_efficiency: float  # mean over folds of used PEs / all PEs
    compute_utilization: float  # mean over folds of MACs / (PEs * fold cycles incl. drain)
    sram_ifmap_reads: int
    sram_filter_reads: int
    sram_ofmap_writes: int

    @property
    def folds(self) -> int:
        return self.folds_row * self.folds_col


def _check_array(rows: int, cols: int, dataflow: str) -> None:
    if rows < 1 or cols < 1:
        raise MappingError(f"systolic array must be at least 1x1, got {rows}x{cols}", field="array")
    if dataflow not in DATAFLOWS:
        raise MappingError(f"dataflow must be one of {', '.join(DATAFLOWS)}, got {dataflow!r}",
                           field="dataflow")


def compute_cycles(layer: SystolicLayer, rows: int, cols: int, dataflow: str) -> SystolicCompute:
    """SCALE-Sim v3 compute cycles, utilisations and SRAM access counts for one layer (exact, O(1))."""
    _check_array(rows, cols, dataflow)
    sr, sc, t = layer.ofmap_px, layer.num_filters, layer.window
    pes = rows * cols
    if dataflow == "os":
        row_dim, col_dim, streamed = sr, sc, t
        cpf = t + rows + cols - 2
        # Utilisation window of a fold equals the fold itself: outputs drain during the next fold's fill.
        util_window = cpf
    elif dataflow == "ws":
        row_dim, col_dim, streamed = t, sc, sr
        cpf = sr + 2 * rows + cols - 2
        util_window = cpf + cols - 1
    else:
        row_dim, col_dim, streamed = t, sr, sc
        cpf = sc + 2 * rows + cols - 2
        util_window = cpf + cols - 1
    folds_row = math.ceil(row_dim / rows)
    folds_col = math.ceil(col_dim / cols)
    folds = folds_row * folds_col
    # Sum over all folds of used PEs: each row fold pairs with each col fold, and used rows (cols) over the
    # row (col) folds add up to the full extent.
    used_pe_sum = row_dim * col_dim
    mapping_eff = used_pe_sum / (folds * pes)
    compute_util = used_pe_sum * streamed / (folds * pes * util_window)

    if dataflow == "os":
        ifmap_reads = sr * t * folds_col
        filter_reads = t * sc * folds_row
        # SCALE-Sim v3 counts rows + cols extra ofmap requests per fold (its drain bookkeeping); kept for parity.
        ofmap_writes = sr * sc + folds * (rows + cols)
    elif dataflow == "ws":
        ifmap_reads = sr * t * folds_col
        filter_reads = t * sc
        ofmap_writes = sr * sc * folds_row  # partial sums leave once per row (T) fold
    else:
        ifmap_reads = sr * t
        filter_reads = t * sc * folds_col
        ofmap_writes = sr * sc * folds_row

    return SystolicCompute(
        folds_row=folds_row,
        folds_col=folds_col,
        cycles_per_fold=cpf,
        compute_cycles=folds * cpf - 1,
        mapping_efficiency=mapping_eff,
        compute_utilization=compute_util,
        sram_ifmap_reads=ifmap_reads,
        sram_filter_reads=filter_reads,
        sram_ofmap_writes=ofmap_writes,
    )
