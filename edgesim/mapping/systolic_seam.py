"""The mapping seam of SCALE-Sim's memory side: a systolic layer cut where SCALE-Sim's memory acts (the fills,
each prefetch at the line demanding it, each ofmap buffer drain), as the event engine's tiles. The window walk
and stall accounting that decides those points is edgesim/mapping/systolic_memory.py."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
from edgesim.mapping.plan import MemTraffic, TileGroup
from edgesim.mapping.systolic import compute_cycles
from edgesim.mapping.systolic_memory import SystolicMemory, _fold_ofmap_words, memory_stalls
from edgesim.mapping.tiling import Tiling

# Scratchpads of a systolic unit that has SCALE-Sim's memory system (edgesim.frontends.scalesim builds them).
# Plans whose tiles follow SCALE-Sim's memory semantics carry this loop-order prefix (the engine checks it).
# Past this many tiles per layer run, prefetch demands and drains are snapped to a coarser line grid.
MAX_SCALESIM_TILES = 1 << 14


def systolic_layer(graph: Any, node: Any) -> tuple[SystolicLayer, int]:
    """(SCALE-Sim layer, how many times the array runs it) for a conv, depthwise or transposed conv, FC or matmul
    node."""
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
    if node.op is OpKind.CONV_TRANSPOSE2D:
        # Lowered as the compilers lower it (the Edge TPU's TransposeConv): one GEMM of every input pixel by the
        # C_in x (C_out * kh * kw) filter matrix, each product scattered to its output pixel (col2im; where windows
        # overlap, kernel > stride, the adds of that scatter are not counted).
        t: A.ConvAttrs = node.attrs
        hx, wx = (x.shape[1], x.shape[2]) if t.layout is A.Layout.NHWC else (x.shape[2], x.shape[3])
        groups = max(t.groups, 1)
        c_in, c_out = x.shape[t.layout.channel_axis()] // groups, out.shape[t.layout.channel_axis()] // groups
        return SystolicLayer(1, hx * wx, 1, 1, c_in, c_out * t.kernel_hw[0] * t.kernel_hw[1], 1, 1), x.shape[0] * groups
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


@dataclass(frozen=True)
class _ScaleSimPorts:
    """The DRAM ports a SCALE-Sim unit's tiles move words on: one read port per operand, one write port."""

    ifmap: str
    filter: str
    write: str

    @classmethod
    def of(cls, unit: ComputeUnit, profile: HardwareProfile) -> _ScaleSimPorts | None:
        """The unit's ports, or None when it lacks SCALE-Sim's scratchpads, a DRAM or a systolic array."""
        names = set(unit.memories)
        drams = [m for m in unit.memories if profile.memory(m).kind is MemoryKind.DRAM]
        if not set(SCALESIM_SRAMS) <= names or not drams or unit.systolic is None:
            return None
        write_port = "dram" if "dram" in drams else drams[0]
        if_port, fl_port = (SCALESIM_READ_PORTS if set(SCALESIM_READ_PORTS) <= set(drams) else (write_port,) * 2)
        return cls(if_port, fl_port, write_port)


def scalesim_tiling(graph: Graph, node: Node, unit: ComputeUnit, profile: HardwareProfile,
                    compute_cycles_total: float) -> Tiling | None:
    """Tiles for an op on a systolic unit with SCALE-Sim's three scratchpads, cut where SCALE-Sim's memory system
    acts: the first tile loads both operands' initial fills, a tile starts at each compute line that demands a
    prefetch (its words, on that operand's DRAM read port) and ends at each drain of the ofmap write buffer (its
    words written back); the last tile writes back the final flush. Runs of identical tiles become one TileGroup.
    The engine times these tiles as SCALE-Sim does (edgesim/sim/timing.py, ScaleSimTiming). None when the unit
    lacks SCALE-Sim's memory system (the generic tiling pass applies) or the op has no systolic mapping.
    """
    ports = _ScaleSimPorts.of(unit, profile)
    if ports is None or unit.systolic is None:
        return None
    try:
        layer, repeats = systolic_layer(graph, node)
    except MappingError:
        return None
    spec = unit.systolic
    rows, cols, flow = spec.rows, spec.cols, getattr(spec.dataflow, "value", spec.dataflow)
    word = max(1, graph.tensors[node.inputs[0]].dtype.nbytes(1))
    # The read ports have the configured bandwidth (CALC mode: wide enough never to be the limit).
    bw_words = profile.memory(ports.ifmap).read_bw_bytes_per_cycle / word
    mode = "CALC" if bw_words >= CALC_BW_WORDS_PER_CYCLE else "USER"
    sizes = [profile.memory(m).size_bytes for m in SCALESIM_SRAMS]
    comp = compute_cycles(layer, rows, cols, flow)
    mem = memory_stalls(layer, rows, cols, flow, sizes[0], sizes[1], sizes[2], word, bw_words, mode)
    lines_total = comp.compute_cycles
    grid = max(1, ceil_div(lines_total, MAX_SCALESIM_TILES))
    reads = _prefetch_reads(mem, lines_total, grid)
    fold_writes = _fold_ofmap_words(layer, rows, cols, flow, comp.folds_row, comp.folds_col)
    writes = _drain_writes(fold_writes, comp.cycles_per_fold, sizes[2] // word, mem.dram_ofmap_writes,
                           lines_total, grid)
    cycles_per_line = compute_cycles_total / (repeats * lines_total) if lines_total else 0.0
    ws = sum(sizes)
    groups = _tile_groups(sorted({0, lines_total, *reads, *writes}), reads, writes, ports, word, cycles_per_line,
                          ws)
    all_groups = tuple(groups) * repeats
    # The array reads its operands from the scratchpads as it computes (SCALE-Sim's SRAM reads/writes): counted
    # in the op's traffic, not as tile loads, since the scratchpads feed the array at the demand rate.
    totals = (*_summed_traffic(all_groups),
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


def _prefetch_reads(mem: SystolicMemory, lines_total: int, grid: int) -> dict[int, list[int]]:
    """Words (ifmap, filter) read at each compute line: the initial fills at 0, each prefetch at its demand."""
    reads: dict[int, list[int]] = {0: [mem.ifmap_fill_words, mem.filter_fill_words]}
    for k, (lines, words) in enumerate(((mem.ifmap_prefetch_lines, mem.ifmap_prefetch_words),
                                        (mem.filter_prefetch_lines, mem.filter_prefetch_words))):
        for line in lines:
            # A demand snapped to the grid moves earlier: the array waits no later than SCALE-Sim's.
            at = min(lines_total - 1, int(line) // grid * grid)
            reads.setdefault(at, [0, 0])[k] += words
    return reads


def _drain_writes(fold_writes: list[int], cpf: int, ofmap_sram_words: int, dram_ofmap_writes: int,
                  lines_total: int, grid: int) -> dict[int, int]:
    """Ofmap words written back by the compute line each drain ends at; the final flush at the last line."""
    drains, drain_words = _drain_lines(fold_writes, cpf, ofmap_sram_words)
    writes: dict[int, int] = {}
    for line in drains:
        at = min(lines_total, max(1, ceil_div(math.ceil(line), grid) * grid))
        writes[at] = writes.get(at, 0) + drain_words
    writes[lines_total] = writes.get(lines_total, 0) + dram_ofmap_writes - drain_words * len(drains)
    return writes


def _tile_groups(cuts: list[int], reads: dict[int, list[int]], writes: dict[int, int], ports: _ScaleSimPorts,
                 word_bytes: int, cycles_per_line: float, working_set_bytes: int) -> list[TileGroup]:
    """One tile per span between cuts (reads at its start, writes at its end), identical neighbours merged."""
    groups: list[TileGroup] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        r_if, r_fl = reads.get(a, (0, 0))
        moves = {ports.ifmap: [r_if * word_bytes, 0]}
        moves.setdefault(ports.filter, [0, 0])[0] += r_fl * word_bytes
        moves.setdefault(ports.write, [0, 0])[1] += writes.get(b, 0) * word_bytes
        traffic = tuple(MemTraffic(m, rd, wr) for m, (rd, wr) in moves.items() if rd or wr)
        tile = TileGroup(1, (b - a) * cycles_per_line, traffic, working_set_bytes)
        if groups and groups[-1].traffic == traffic and groups[-1].compute_cycles == tile.compute_cycles:
            groups[-1] = TileGroup(groups[-1].count + 1, tile.compute_cycles, traffic, working_set_bytes)
        else:
            groups.append(tile)
    return groups


def _summed_traffic(groups: tuple[TileGroup, ...]) -> tuple[MemTraffic, ...]:
    """Bytes each DRAM port reads and writes over all tiles, in the order the ports first appear."""
    dram_moves: dict[str, list[int]] = {}
    for g in groups:
        for t in g.traffic:
            acc = dram_moves.setdefault(t.memory, [0, 0])
            acc[0] += t.read_bytes * g.count
            acc[1] += t.write_bytes * g.count
    return tuple(MemTraffic(m, rd, wr) for m, (rd, wr) in dram_moves.items())
