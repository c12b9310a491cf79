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
from edgesim.hw.systolic import DATAFLOWS, SystolicLayer


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
