"""Tiling: split an op into tiles whose working set fits the on-chip memory its unit computes from.

Conv/FC/matmul tile output rows x output channels x input channels; other ops tile output rows. Two loop orders
are weighed by off-chip bytes: "rows_outer" re-fetches weights once per row tile unless the whole weight tensor
stays resident, "channels_outer" keeps each weight slice resident and re-reads the input once per channel tile.
Units with a DMA engine (mac_array, systolic) double-buffer, so their working set counts twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgesim.errors import MappingError
from edgesim.hw.schema import ComputeUnit, HardwareProfile, MemoryKind, MemoryLevel, UnitKind
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpClass, OpKind
from edgesim.ir.work import NodeWork
from edgesim.mapping.plan import MemTraffic, TileGroup
from edgesim.mapping.reduction_split import ReductionSplit, reduction_split

ON_CHIP_KINDS = frozenset({MemoryKind.SRAM, MemoryKind.TCM, MemoryKind.CACHE})
DMA_UNIT_KINDS = frozenset({UnitKind.MAC_ARRAY, UnitKind.SYSTOLIC})
_ACC_BYTES = 4
# A DMA unit overlaps the load of tile i+1 with the compute of tile i, so ops are cut into at least this many
# tiles when that costs at most BYTES_SLACK more traffic (halo re-reads): Vela and the Edge TPU compiler also
# stream in blocks much smaller than the buffer.
MIN_PIPELINE_TILES = 8
BYTES_SLACK = 0.02  # partial sums are int32/fp32 while the input-channel loop is split


@dataclass(frozen=True)
class Tiling:
    groups: tuple[TileGroup, ...]
    traffic: tuple[MemTraffic, ...]  # summed over all tiles, re-reads included
    local_memory: str  # the on-chip memory tiles are staged in ("" when the op is not tiled)
    tile_shape: tuple[int, int, int]  # (rows, output channels, input channels) of a full tile
    loop_order: str
    working_set_bytes: int  # of one full tile, double-buffering included
    # Cycles the op's first fill starts before its first tile at the least (SCALE-Sim CALC mode), unit clock
    fill_lead_cycles: float = 0.0
    follows_scalesim: bool = False  # tiles are SCALE-Sim's prefetch streams, timed with its semantics


def _halve_series(n: int) -> list[int]:
    """n, ceil(n/2), ceil(n/4), ..., 1 without repeats."""
    out = [n]
    while out[-1] > 1:
        out.append(math.ceil(out[-1] / 2))
    return out


def local_memory(profile: HardwareProfile, unit: ComputeUnit) -> Any | None:
    """The on-chip memory the unit stages tiles in: the smallest SRAM/TCM/cache it reaches."""
    mems = [profile.memory(m) for m in unit.memories]
    on_chip = [m for m in mems if m.kind in ON_CHIP_KINDS and m.write_bw_bytes_per_cycle > 0]
    if not on_chip:
        return None
    return min(on_chip, key=lambda m: (m.size_bytes, m.name))


@dataclass(frozen=True)
class _MacShape:
    batch: int
    out_rows: int  # per batch element
    out_width: int
    in_width: int
    c_out: int
    c_in: int  # per group, the reduction channels
    kernel_rows: int  # effective (dilated) kernel height
    kernel_cols: int
    stride_rows: int
    depthwise: bool
    in_bytes: int  # bytes per input element
    w_bytes: int
    out_bytes: int
    weight_total: int
    input_total: int
    output_total: int


def _mac_shape(graph: Graph, node: Node, work: NodeWork) -> _MacShape:
    x = graph.tensors[node.inputs[0]]
    out = graph.tensors[node.outputs[0]]
    w = graph.tensors[node.inputs[1]]
    in_b = max(1, work.input_bytes // max(x.num_elements, 1))
    out_b = max(1, work.output_bytes // max(out.num_elements, 1))
    w_b = max(1, w.nbytes // max(w.num_elements, 1))
    if node.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D) and len(x.shape) == 4:
        a: A.ConvAttrs = node.attrs
        hax, wax = a.layout.spatial_axes()
        cax = a.layout.channel_axis()
        kh = (a.kernel_hw[0] - 1) * a.dilation_hw[0] + 1
        kw = (a.kernel_hw[1] - 1) * a.dilation_hw[1] + 1
        depthwise = node.op is OpKind.DEPTHWISE_CONV2D
        c_in = 1 if depthwise else x.shape[cax] // max(a.groups, 1)
        return _MacShape(x.shape[0], out.shape[hax], out.shape[wax], x.shape[wax], out.shape[cax], c_in, kh, kw,
                         a.stride_hw[0], depthwise, in_b, w_b, out_b, work.weight_bytes, work.input_bytes,
                         work.output_bytes)
    # FC / matmul (and any other MAC op): rows = all output positions, a 1x1 "convolution".
    c_out = out.shape[-1] if out.shape else 1
    k = max(1, work.macs // max(out.num_elements, 1))
    rows = max(1, out.num_elements // max(c_out, 1))
    return _MacShape(1, rows, 1, 1, c_out, k, 1, 1, 1, False, in_b, w_b, out_b, work.weight_bytes,
                     work.input_bytes, work.output_bytes)


def _working_set(s: _MacShape, th: int, tc: int, tk: int) -> int:
    in_rows = (th - 1) * s.stride_rows + s.kernel_rows
    ch_in = tc if s.depthwise else tk
    inp = in_rows * s.in_width * ch_in * s.in_bytes
    wt = s.kernel_rows * s.kernel_cols * tk * tc * s.w_bytes if not s.depthwise else (
        s.kernel_rows * s.kernel_cols * tc * s.w_bytes)
    acc = s.out_bytes if tk >= s.c_in else _ACC_BYTES
    return inp + wt + th * s.out_width * tc * acc


def _input_read_factor(s: _MacShape, th: int) -> float:
    """Input rows fetched over all row tiles / input rows: the halo overlap between row tiles."""
    n_rt = math.ceil(s.out_rows / th)
    if n_rt == 1:
        return 1.0
    in_rows_total = (s.out_rows - 1) * s.stride_rows + s.kernel_rows
    fetched = n_rt * ((th - 1) * s.stride_rows + s.kernel_rows)
    return max(1.0, fetched / max(in_rows_total, 1))


def _mac_traffic(s: _MacShape, th: int, tc: int, tk: int) -> tuple[str, int, int]:
    """(loop order, input bytes read, weight bytes read) with re-reads, the cheaper of the two loop orders."""
    n_rt = math.ceil(s.out_rows / th)
    n_ct = math.ceil(s.c_out / tc)
    n_kt = math.ceil(s.c_in / tk) if not s.depthwise else 1
    inp_once = s.input_total * _input_read_factor(s, th)
    # rows_outer: the input patch of a row tile is reused over channel tiles only if all of it stays resident
    # (n_kt == 1); weights stay resident only when one slice is all of them.
    w_rows_outer = s.weight_total * (1 if (n_ct == 1 and n_kt == 1) else n_rt * s.batch)
    in_rows_outer = inp_once * (1 if n_kt == 1 else n_ct) if not s.depthwise else inp_once
    # channels_outer: a weight slice stays resident over all rows; the input is re-read per channel tile.
    w_ch_outer = s.weight_total
    in_ch_outer = inp_once * (n_ct if not s.depthwise else 1)
    a = ("rows_outer", int(round(in_rows_outer)), int(w_rows_outer))
    b = ("channels_outer", int(round(in_ch_outer)), int(w_ch_outer))
    return a if a[1] + a[2] <= b[1] + b[2] else b


def _split(total: int, count: int) -> tuple[int, int]:
    """(bytes per tile for the first count-1 tiles, bytes of the last tile) so the sum is exact."""
    per = total // count
    return per, total - per * (count - 1)


def _groups(count: int, compute_cycles: float, traffic: dict[str, list[int]], ws: int) -> tuple[TileGroup, ...]:
    """Spread an op's totals over ``count`` tiles: count-1 identical tiles plus a last one taking remainders."""
    if count <= 1:
        return (TileGroup(1, compute_cycles, tuple(MemTraffic(m, r, w) for m, (r, w) in traffic.items()), ws),)
    per_c = compute_cycles / count
    first: list[MemTraffic] = []
    last: list[MemTraffic] = []
    for m, (r, w) in traffic.items():
        r0, r1 = _split(r, count)
        w0, w1 = _split(w, count)
        first.append(MemTraffic(m, r0, w0))
        last.append(MemTraffic(m, r1, w1))
    if first == last:
        return (TileGroup(count, per_c, tuple(first), ws),)
    return (TileGroup(count - 1, per_c, tuple(first), ws), TileGroup(1, per_c, tuple(last), ws))


def _add(traffic: dict[str, list[int]], mem: str, read: int, write: int) -> None:
    t = traffic.setdefault(mem, [0, 0])
    t[0] += read
    t[1] += write


def tile_op(graph: Graph, node: Node, unit: ComputeUnit, profile: HardwareProfile, work: NodeWork, compute_cycles: float,
            act_mem: str, w_mem: str) -> Tiling:
    """Choose tile sizes and loop order for ``node`` on ``unit`` and count the bytes each tile moves."""
    local = local_memory(profile, unit)
    dma = unit.kind in DMA_UNIT_KINDS
    act_on_chip = profile.memory(act_mem).kind in ON_CHIP_KINDS
    whole: dict[str, list[int]] = {}
    _add(whole, act_mem, work.input_bytes, work.output_bytes)
    if work.weight_bytes:
        _add(whole, w_mem, work.weight_bytes, 0)
    whole_ws = work.input_bytes + work.output_bytes + work.weight_bytes
    if local is None or (not dma and act_on_chip):
        # A CPU computes straight from SRAM/TCM (no DMA): one tile, weights streamed from where they live.
        return Tiling(_groups(1, compute_cycles, whole, whole_ws), _traffic(whole), "", (0, 0, 0), "whole", whole_ws)
    capacity = local.size_bytes
    buffers = 2 if dma else 1
    if node.op.op_class is OpClass.MAC and len(node.inputs) > 1 and node.inputs[1]:
        in_mem = _network_input_memory(graph, node, unit, profile, act_mem)
        return _tile_mac(graph, node, work, compute_cycles, act_mem, w_mem, local.name, capacity, buffers,
                         _input_burst_scale(graph, node, unit, profile.memory(in_mem)), in_mem)
    return _tile_rows(graph, node, work, compute_cycles, act_mem, w_mem, local.name, capacity, buffers)


def is_network_input(graph: Graph, name: str) -> bool:
    """The tensor is a graph input, possibly seen through views (reshape, squeeze) that share its storage."""
    for _ in range(len(graph.nodes) + 1):
        if name in graph.inputs:
            return True
        producer = graph.producer(name)
        if producer is None or producer.op.op_class is not OpClass.VIEW or not producer.inputs:
            return False
        name = producer.inputs[0]
    return False


def _network_input_memory(graph: Graph, node: Node, unit: ComputeUnit, profile: HardwareProfile, act_mem: str) -> str:
    """Where a block-stepping NPU (mac_block) reads the network input from: ``placement.inputs`` when the unit
    reaches it (Vela's Dedicated_Sram mode leaves the input tensor in DRAM and caches only intermediate feature
    maps in SRAM), else the activation memory."""
    wanted = profile.placement.inputs
    if (unit.mac_block is None or not wanted or wanted not in unit.memories
            or not node.inputs or not is_network_input(graph, node.inputs[0])):
        return act_mem
    return str(wanted)


def _input_burst_scale(graph: Graph, node: Node, unit: ComputeUnit, memory: MemoryLevel) -> float:
    """Bytes a block-stepping NPU (mac_block) moves per input byte when it reads the network input. The input
    stays in plain NHWC, so each DMA run is one pixel's channel block (Vela: min(32, C rounded up to 8) bytes for
    8-bit) and a memory with longer bursts wastes the rest of each burst; intermediate tensors use the NPU's
    brick format and read whole bursts."""
    spec = unit.mac_block
    burst = getattr(memory, "burst_bytes", None)
    if spec is None or not burst or not is_network_input(graph, node.inputs[0]):
        return 1.0
    if node.op not in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D):
        return 1.0
    x = graph.tensors[node.inputs[0]]
    if len(x.shape) != 4:
        return 1.0
    c_in = x.shape[node.attrs.layout.channel_axis()]
    elem = max(1, x.nbytes // max(x.num_elements, 1))
    run = min(spec.ifm_block_depth, math.ceil(c_in / spec.ifm_ublock_depth) * spec.ifm_ublock_depth) * elem
    return burst / min(burst, run)


def _traffic(t: dict[str, list[int]]) -> tuple[MemTraffic, ...]:
    return tuple(MemTraffic(m, r, w) for m, (r, w) in t.items())


def _tile_mac(graph: Graph, node: Node, work: NodeWork, compute_cycles: float, act_mem: str, w_mem: str,
              local: str, capacity: int, buffers: int, input_read_scale: float = 1.0,
              input_mem: str | None = None) -> Tiling:
    s = _mac_shape(graph, node, work)
    best: tuple[int, int, int, int, str, int, int] | None = None  # (bytes, tiles, th, tc, order, in, w)
    tk_fit = 0
    k_series = [s.c_in] if s.depthwise else _halve_series(s.c_in)
    min_tiles = MIN_PIPELINE_TILES if buffers > 1 else 1
    for tk in k_series:
        feasible: list[tuple[int, int, int, int, str, int, int]] = []
        for th in _halve_series(s.out_rows):
            for tc in _halve_series(s.c_out):
                if _working_set(s, th, tc, tk) * buffers > capacity:
                    continue
                order, rd_in, rd_w = _mac_traffic(s, th, tc, tk)
                tiles = s.batch * math.ceil(s.out_rows / th) * math.ceil(s.c_out / tc) * (
                    1 if s.depthwise else math.ceil(s.c_in / tk))
                feasible.append((rd_in + rd_w, tiles, th, tc, order, rd_in, rd_w))
        if feasible:
            # Fewest bytes first; among tilings within BYTES_SLACK of that, enough tiles to keep the DMA
            # pipeline busy (one tile cannot overlap its own load, compute and write-back), then fewest tiles.
            least = min(f[0] for f in feasible)
            near = [f for f in feasible if f[0] <= least * (1 + BYTES_SLACK)]
            best = min(near, key=lambda f: (max(0, min_tiles - f[1]), f[1], f[0], -f[2], -f[3]))
            tk_fit = tk
            break  # splitting the reduction further only adds partial-sum traffic
    if best is None:
        need = _working_set(s, 1, 1, 1) * buffers
        raise MappingError(
            f"cannot tile {node.op.value}: the smallest tile needs {need} bytes but '{local}' holds {capacity}",
            node=node.name,
        )
    _, tiles, th, tc, order, rd_in, rd_w = best
    rd_in = int(round(rd_in * input_read_scale))
    traffic: dict[str, list[int]] = {}
    _add(traffic, input_mem or act_mem, rd_in, 0)
    _add(traffic, act_mem, 0, s.output_total)
    if s.weight_total:
        _add(traffic, w_mem, rd_w, 0)
    ws = _working_set(s, th, tc, tk_fit) * buffers
    return Tiling(_groups(tiles, compute_cycles, traffic, ws), _traffic(traffic), local, (th, tc, tk_fit), order, ws)


# Ops whose output channels depend only on the same input channels: a row too wide for the local memory can be
# split across channels (a global average pool over a 25x5 map with 64 channels on a 1 KiB scratchpad).
_CHANNEL_SPLITTABLE = frozenset({OpClass.POOL, OpClass.ELEMENTWISE, OpClass.ACTIVATION, OpClass.QUANT})


def _tile_row_channels(node: Node, work: NodeWork, compute_cycles: float, act_mem: str, w_mem: str, local: str,
                       capacity: int, buffers: int, rows: int, out: Any) -> Tiling:
    channels = max(1, int(out.shape[-1]) if out.shape else 1)
    if node.op.info.op_class is OpClass.POOL and len(out.shape) == 4:
        channels = int(out.shape[node.attrs.layout.channel_axis()])
    streamed = work.input_bytes + work.output_bytes
    resident = work.weight_bytes
    if resident and math.ceil(streamed / (rows * channels)) > capacity // buffers - resident:
        # A constant operand too big to stay resident (a ViT's positional embedding, as large as the tokens it is
        # added to, on a 256 KiB CPU L2): each output row of an elementwise op needs only its own slice of it, so
        # the constant streams in with the rows instead (read once in all, as before).
        streamed, resident = streamed + resident, 0
    per_row_channel = math.ceil(streamed / (rows * channels))
    room = capacity // buffers - resident
    if per_row_channel > room:
        raise MappingError(
            f"cannot tile {node.op.value}: one row of one channel needs {(per_row_channel + resident) * buffers} "
            f"bytes but '{local}' holds {capacity}",
            node=node.name,
        )
    tc = max(1, min(channels, room // per_row_channel))
    tiles = rows * math.ceil(channels / tc)
    traffic: dict[str, list[int]] = {}
    _add(traffic, act_mem, work.input_bytes, work.output_bytes)
    if work.weight_bytes:
        _add(traffic, w_mem, work.weight_bytes, 0)
    ws = (tc * per_row_channel + resident) * buffers
    if work.weight_bytes and not resident:  # the streamed constant arrives spread over the tiles
        return Tiling(_groups(tiles, compute_cycles, traffic, ws), _traffic(traffic), local, (1, tc, 0),
                      "rows-channels", ws)
    groups = _groups(tiles, compute_cycles, {act_mem: [work.input_bytes, work.output_bytes]}, ws)
    if work.weight_bytes:
        groups = _resident_first(groups, w_mem, work.weight_bytes, ws)
    return Tiling(groups, _traffic(traffic), local, (1, tc, 0), "rows-channels", ws)


def _resident_first(groups: tuple[TileGroup, ...], w_mem: str, weight_bytes: int, ws: int) -> tuple[TileGroup, ...]:
    """Resident operands (tables, biases) arrive with the first tile."""
    g0 = groups[0]
    first = TileGroup(1, g0.compute_cycles, g0.traffic + (MemTraffic(w_mem, weight_bytes, 0),), ws)
    rest = ((TileGroup(g0.count - 1, g0.compute_cycles, g0.traffic, ws),) if g0.count > 1 else ())
    return (first,) + rest + groups[1:]


def _tile_rows(graph: Graph, node: Node, work: NodeWork, compute_cycles: float, act_mem: str, w_mem: str,
               local: str, capacity: int, buffers: int) -> Tiling:
    out = graph.tensors[node.outputs[0]]
    rows = max(1, out.num_elements // max(out.shape[-1], 1)) if out.shape else 1
    if node.op.info.op_class is OpClass.POOL and len(out.shape) == 4:
        a = node.attrs
        rows = out.shape[0] * out.shape[a.layout.spatial_axes()[0]]
    streamed = work.input_bytes + work.output_bytes
    resident = work.weight_bytes  # tables/biases stay resident over all row tiles
    if node.op is OpKind.GATHER:
        # An embedding lookup reads one table row per output row (node_work counts only the rows it gathers):
        # they stream with the output rows; nothing of the table stays resident.
        streamed, resident = streamed + resident, 0
    per_row = math.ceil(streamed / rows)
    if (per_row + resident) * buffers > capacity:
        reduction = reduction_split(graph, node)
        if reduction is not None:
            return _tile_reduction(node, work, compute_cycles, act_mem, w_mem, local, capacity, buffers, reduction)
        # a copy's row is cut along its last axis: EfficientDet's (1, 49104, 90) -> (1, 90, 49104) score transpose
        # on a 256 KiB NPU SRAM
        if node.op.info.op_class in _CHANNEL_SPLITTABLE or node.op.info.is_element_copy:
            return _tile_row_channels(node, work, compute_cycles, act_mem, w_mem, local, capacity, buffers, rows,
                                      out)
        raise MappingError(
            f"cannot tile {node.op.value}: one row needs {(per_row + resident) * buffers} bytes but '{local}' "
            f"holds {capacity}",
            node=node.name,
        )
    return _row_bands(work, compute_cycles, act_mem, w_mem, local, capacity, buffers, rows, per_row, resident)


def _row_bands(work: NodeWork, compute_cycles: float, act_mem: str, w_mem: str, local: str, capacity: int,
               buffers: int, rows: int, per_row: int, resident: int, loop_order: str = "rows") -> Tiling:
    """Tiles of whole rows (of a reduction: whole groups), as many as fit beside the resident operands."""
    streamed = work.input_bytes + work.output_bytes + (work.weight_bytes if not resident else 0)
    th = max(1, min(rows, (capacity // buffers - resident) // max(per_row, 1)))
    if buffers > 1:
        th = min(th, max(1, math.ceil(rows / MIN_PIPELINE_TILES)))
    tiles = math.ceil(rows / th)
    traffic: dict[str, list[int]] = {}
    _add(traffic, act_mem, work.input_bytes, work.output_bytes)
    if work.weight_bytes:
        _add(traffic, w_mem, work.weight_bytes, 0)
    ws = (min(th * per_row, streamed) + resident) * buffers
    per_tile: dict[str, list[int]] = {act_mem: [work.input_bytes, work.output_bytes]}
    if work.weight_bytes and not resident:
        _add(per_tile, w_mem, work.weight_bytes, 0)  # gathered rows, spread over the tiles
    groups = _groups(tiles, compute_cycles, per_tile, ws)
    if work.weight_bytes and resident:
        groups = _resident_first(groups, w_mem, work.weight_bytes, ws)
    return Tiling(groups, _traffic(traffic), local, (th, 0, 0), loop_order, ws)


def _tile_reduction(node: Node, work: NodeWork, compute_cycles: float, act_mem: str, w_mem: str, local: str,
                    capacity: int, buffers: int, r: ReductionSplit) -> Tiling:
    """A reduction whose row (the tiler's last-axis row) does not fit: tiles of whole groups when one group fits
    beside the resident operands (the kept axes, the channel axis among them, split freely), else every group's
    reduced extent cut into chunks at the cost reduction_split states."""
    per_group = math.ceil((work.input_bytes + work.output_bytes) / r.groups)
    if (per_group + work.weight_bytes) * buffers <= capacity:
        return _row_bands(work, compute_cycles, act_mem, w_mem, local, capacity, buffers, r.groups, per_group,
                          work.weight_bytes, "groups")
    return _tile_extent(node, work, compute_cycles, act_mem, w_mem, local, capacity, buffers, r)


def _tile_extent(node: Node, work: NodeWork, compute_cycles: float, act_mem: str, w_mem: str, local: str,
                 capacity: int, buffers: int, r: ReductionSplit) -> Tiling:
    """Each group's reduced extent in chunks: the input is read ``r.extent_split.input_reads`` times, the output
    written once, a partial state per group stays on chip. Constants as long as the extent (a LayerNorm's scale
    and bias) stay resident when a chunk still fits beside them, else they stream with the chunks, once per
    group. Compute is not scaled: the chunked passes do the resident version's arithmetic (Welford, online
    softmax; the exponentials the second softmax pass recomputes are left out)."""
    reads = r.extent_split.input_reads
    per_group = (work.input_bytes + work.output_bytes) / r.groups
    for resident in dict.fromkeys((work.weight_bytes, 0)):
        bytes_per_element = (per_group + (0 if resident else work.weight_bytes)) / r.extent_elements
        room = capacity // buffers - resident - r.carry_bytes_per_group
        if room >= math.ceil(bytes_per_element):
            break
    else:
        need = (math.ceil(bytes_per_element) + r.carry_bytes_per_group) * buffers
        raise MappingError(f"cannot tile {node.op.value}: one element of its reduced extent needs {need} bytes but "
                           f"'{local}' holds {capacity}", node=node.name)
    chunks = math.ceil(r.extent_elements / max(1, int(room // bytes_per_element)))
    chunk_elements = math.ceil(r.extent_elements / chunks)
    ws = (math.ceil(chunk_elements * bytes_per_element) + r.carry_bytes_per_group + resident) * buffers
    weight_reads = work.weight_bytes if resident else work.weight_bytes * r.groups
    traffic: dict[str, list[int]] = {}
    _add(traffic, act_mem, work.input_bytes * reads, work.output_bytes)
    if work.weight_bytes:
        _add(traffic, w_mem, weight_reads, 0)
    per_tile = {act_mem: [work.input_bytes * reads, work.output_bytes]}
    if work.weight_bytes and not resident:
        _add(per_tile, w_mem, weight_reads, 0)
    groups = _groups(r.groups * chunks * reads, compute_cycles, per_tile, ws)
    if work.weight_bytes and resident:
        groups = _resident_first(groups, w_mem, work.weight_bytes, ws)
    return Tiling(groups, _traffic(traffic), local, (1, 0, chunk_elements), "extent-chunks", ws)
