"""SCALE-Sim topology (.csv) and configuration (.cfg) readers.

Lets ``edgesim run TOPOLOGY.csv --hw CONFIG.cfg`` take SCALE-Sim's own inputs: the topology becomes an IR graph of
CONV2D nodes, the config a hardware profile with one systolic unit. Every malformed input raises EdgesimError
naming the file, the line or field, and the rule broken.
"""

from __future__ import annotations

import configparser
import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.hw.systolic import (
    CALC_BW_WORDS_PER_CYCLE,
    DATAFLOWS,
    SCALESIM_READ_PORTS,
    SCALESIM_SRAMS,
    SystolicLayer,
)
from edgesim.ir.attrs import ConvAttrs, Layout, Padding
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams, Tensor

if TYPE_CHECKING:
    from edgesim.hw.schema import HardwareProfile

_CONV_FIELDS = ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride")
_SPARSITY_RE = re.compile(r"^\s*\d+\s*:\s*\d+\s*$")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EdgesimError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgesimError(f"cannot read file ({exc.__class__.__name__})", file=str(path)) from None


def _positive_int(text: str, path: Path, line_no: int, column: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise EdgesimError(f"line {line_no}: {column} must be an integer, got {text.strip()!r}",
                           file=str(path), field=column) from None
    if value < 1:
        raise EdgesimError(f"line {line_no}: {column} must be >= 1, got {value}", file=str(path), field=column)
    return value


def read_topology(path: str | Path) -> list[tuple[str, SystolicLayer]]:
    """Layers of a SCALE-Sim topology CSV, conv format or GEMM format (header ``Layer, M, N, K``).

    Conv rows: name, ifmap H, ifmap W, filter H, filter W, channels, num filters, stride[, stride W]; trailing
    commas and extra columns (e.g. a sparsity ratio ``N:M``) are accepted. GEMM rows (M x K times K x N) map to
    SCALE-Sim's conv view: ifmap M x K, filter 1 x K, one channel, N filters, stride 1.
    """
    p = Path(path)
    rows = _topology_rows(p)
    header = _TopologyHeader.parse(p, *rows[0])
    layers: list[tuple[str, SystolicLayer]] = []
    seen: set[str] = set()
    for line_no, cells in rows[1:]:
        if len(cells) < header.need:
            raise EdgesimError(f"line {line_no}: expected {header.need} columns, got {len(cells)}", file=str(p),
                               field="columns")
        name = cells[0]
        if not name:
            raise EdgesimError(f"line {line_no}: layer name is empty", file=str(p), field="Layer name")
        if name in seen:
            raise EdgesimError(f"line {line_no}: duplicate layer name {name!r}", file=str(p), field="Layer name")
        seen.add(name)
        layers.append((name, _topology_layer(p, line_no, cells, header)))
    if not layers:
        raise EdgesimError("topology has a header but no layers", file=str(p))
    return layers


def _topology_rows(p: Path) -> list[tuple[int, list[str]]]:
    """(line number, stripped cells) of every non-blank line, trailing empty cells dropped."""
    rows = [
        (i + 1, [c.strip() for c in row])
        for i, row in enumerate(csv.reader(_read_text(p).splitlines()))
    ]
    # Trailing commas give empty trailing cells; blank lines give no cells.
    rows = [(n, cells[: max((j + 1 for j, c in enumerate(cells) if c), default=0)]) for n, cells in rows]
    rows = [(n, cells) for n, cells in rows if cells]
    if not rows:
        raise EdgesimError("topology is empty (expected a header line and at least one layer)", file=str(p))
    return rows


@dataclass(frozen=True)
class _TopologyHeader:
    """A topology's header line: its column names, the format it announces and the columns a layer needs."""

    names: tuple[str, ...]
    is_gemm: bool
    split_stride: bool  # conv format with separate stride H and stride W columns
    need: int

    @classmethod
    def parse(cls, p: Path, line_no: int, header: list[str]) -> _TopologyHeader:
        norm = [h.lower().replace(" ", "") for h in header]
        is_gemm = len(norm) >= 4 and norm[1:4] == ["m", "n", "k"]
        if not is_gemm and (len(norm) < 8 or not any("ifmap" in h for h in norm)):
            raise EdgesimError(
                f"line {line_no}: header must be 'Layer name, IFMAP Height, IFMAP Width, Filter Height, "
                "Filter Width, Channels, Num Filter, Strides' or 'Layer, M, N, K'", file=str(p), field="header")
        # Some topologies split the stride into height and width columns.
        split_stride = not is_gemm and len(norm) >= 9 and "stride" in norm[7] and "stride" in norm[8]
        return cls(tuple(header), is_gemm, split_stride, 4 if is_gemm else (9 if split_stride else 8))


def _topology_layer(p: Path, line_no: int, cells: list[str], hdr: _TopologyHeader) -> SystolicLayer:
    """The layer one topology row describes, its extra columns (a sparsity ratio) checked."""
    header = hdr.names
    for j, extra in enumerate(cells[hdr.need:], start=hdr.need):
        col = header[j] if j < len(header) else f"column {j + 1}"
        if "sparsity" in col.lower() and extra and not _SPARSITY_RE.match(extra):
            raise EdgesimError(f"line {line_no}: sparsity must look like 'N:M', got {extra!r}", file=str(p),
                               field=col)
    if hdr.is_gemm:
        m, n, k = (_positive_int(cells[j], p, line_no, "MNK"[j - 1]) for j in (1, 2, 3))
        layer_args: dict[str, int] = dict(ifmap_h=m, ifmap_w=k, filter_h=1, filter_w=k, channels=1,
                                          num_filters=n, stride_h=1, stride_w=1)
    else:
        vals = [_positive_int(cells[j + 1], p, line_no, header[j + 1] if j + 1 < len(header)
                              else _CONV_FIELDS[j]) for j in range(7)]
        stride_w = _positive_int(cells[8], p, line_no, header[8]) if hdr.split_stride else vals[6]
        layer_args = dict(ifmap_h=vals[0], ifmap_w=vals[1], filter_h=vals[2], filter_w=vals[3],
                          channels=vals[4], num_filters=vals[5], stride_h=vals[6], stride_w=stride_w)
        if vals[2] > vals[0] or vals[3] > vals[1]:
            raise EdgesimError(f"line {line_no}: filter {vals[2]}x{vals[3]} is larger than ifmap "
                               f"{vals[0]}x{vals[1]}", file=str(p), field="Filter Height")
    try:
        return SystolicLayer(**layer_args)
    except EdgesimError as exc:
        raise EdgesimError(f"line {line_no}: {exc.message}", file=str(p), field=exc.field) from None


@dataclass(frozen=True)
class ScaleSimConfig:
    run_name: str
    array_rows: int
    array_cols: int
    dataflow: str  # os | ws | is
    ifmap_sram_kb: int
    filter_sram_kb: int
    ofmap_sram_kb: int
    bandwidth_words_per_cycle: float  # per operand port, used when bw_mode is USER
    bw_mode: str  # CALC (SCALE-Sim sizes the bandwidth) | USER
    word_bytes: int = 1
    ifmap_offset: int = 0
    filter_offset: int = 10_000_000
    ofmap_offset: int = 20_000_000

    @property
    def ifmap_sram_bytes(self) -> int:
        return self.ifmap_sram_kb * 1024

    @property
    def filter_sram_bytes(self) -> int:
        return self.filter_sram_kb * 1024

    @property
    def ofmap_sram_bytes(self) -> int:
        return self.ofmap_sram_kb * 1024


def read_config(path: str | Path) -> ScaleSimConfig:
    """A SCALE-Sim .cfg file ([general], [architecture_presets], [run_presets] sections)."""
    p = Path(path)
    text = _read_text(p)
    parser = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    try:
        parser.read_string(text, source=str(p))
    except configparser.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise EdgesimError(f"not a valid SCALE-Sim config: {first}", file=str(p)) from None
    cfg = _ConfigKeys(parser, p)
    arch = "architecture_presets"
    if not parser.has_section(arch):
        raise EdgesimError("missing section [architecture_presets]", file=str(p), field=arch)
    dataflow = cfg.get(arch, "Dataflow").lower()
    if dataflow not in DATAFLOWS:
        raise EdgesimError(f"must be one of {', '.join(DATAFLOWS)}, got {dataflow!r}", file=str(p),
                           field="Dataflow")
    bw_mode = cfg.get("run_presets", "InterfaceBandwidth", "USER").upper() if parser.has_section("run_presets") \
        else "USER"
    if bw_mode not in ("CALC", "USER"):
        raise EdgesimError(f"must be CALC or USER, got {bw_mode!r}", file=str(p), field="InterfaceBandwidth")
    bandwidth = cfg.get_positive_float(arch, "Bandwidth", "10")
    run_name = cfg.get("general", "run_name", p.stem) if parser.has_section("general") else p.stem
    return ScaleSimConfig(
        run_name=run_name or p.stem,
        array_rows=cfg.get_int(arch, "ArrayHeight"),
        array_cols=cfg.get_int(arch, "ArrayWidth"),
        dataflow=dataflow,
        ifmap_sram_kb=cfg.get_int(arch, "IfmapSramSzkB"),
        filter_sram_kb=cfg.get_int(arch, "FilterSramSzkB"),
        ofmap_sram_kb=cfg.get_int(arch, "OfmapSramSzkB"),
        bandwidth_words_per_cycle=bandwidth,
        bw_mode=bw_mode,
        word_bytes=cfg.get_int(arch, "WordSize", "1"),
        ifmap_offset=cfg.get_int(arch, "IfmapOffset", "0", minimum=0),
        filter_offset=cfg.get_int(arch, "FilterOffset", "10000000", minimum=0),
        ofmap_offset=cfg.get_int(arch, "OfmapOffset", "20000000", minimum=0),
    )


@dataclass(frozen=True)
class _ConfigKeys:
    """Typed key lookups in a parsed .cfg; a missing or malformed value names the file and the key."""

    parser: configparser.ConfigParser
    path: Path

    def get(self, section: str, key: str, default: str | None = None) -> str:
        if self.parser.has_option(section, key):
            return self.parser.get(section, key).strip()
        if default is not None:
            return default
        raise EdgesimError(f"missing required key in [{section}]", file=str(self.path), field=key)

    def get_int(self, section: str, key: str, default: str | None = None, minimum: int = 1) -> int:
        raw = self.get(section, key, default)
        try:
            value = int(raw)
        except ValueError:
            raise EdgesimError(f"must be an integer, got {raw!r}", file=str(self.path), field=key) from None
        if value < minimum:
            raise EdgesimError(f"must be >= {minimum}, got {value}", file=str(self.path), field=key)
        return value

    def get_positive_float(self, section: str, key: str, default: str) -> float:
        raw = self.get(section, key, default)
        try:
            value = float(raw)
        except ValueError:
            raise EdgesimError(f"must be a number, got {raw!r}", file=str(self.path), field=key) from None
        if not value > 0:
            raise EdgesimError(f"must be > 0, got {raw}", file=str(self.path), field=key)
        return value


def safe_name(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]", "_", name)


def topology_to_graph(layers: list[tuple[str, SystolicLayer]], name: str) -> Graph:
    """An int8 NHWC graph of CONV2D nodes, one per layer.

    SCALE-Sim topologies carry no weights; the graph needs constant weights (Graph.build rejects data-less
    ones), so they are zero-filled read-only broadcast views: the right shape, no memory.

    A layer whose input shape equals the previous layer's output reads that output; otherwise it gets its own
    graph input (SCALE-Sim topologies list layers, not a connected network). SCALE-Sim rounds the output size up
    (see SystolicLayer), so the bottom/right padding is set to make the framework's floor formula agree.
    """
    if not layers:
        raise EdgesimError("topology has no layers", field="layers")
    q = QuantParams(scales=(1.0,), zero_points=(0,))
    tensors: dict[str, Tensor] = {}
    nodes: list[Node] = []
    inputs: list[str] = []
    consumed: set[str] = set()
    prev_out: str | None = None
    prev_shape: tuple[int, ...] | None = None
    for layer_name, layer in layers:
        base = safe_name(layer_name)
        in_shape = (1, layer.ifmap_h, layer.ifmap_w, layer.channels)
        if prev_out is not None and prev_shape == in_shape:
            x = prev_out
            consumed.add(prev_out)
        else:
            x = f"{base}_in"
            tensors[x] = Tensor(x, in_shape, DType.INT8, q)
            inputs.append(x)
        w, b, y = f"{base}_weights", f"{base}_bias", f"{base}_out"
        w_shape = (layer.num_filters, layer.filter_h, layer.filter_w, layer.channels)
        tensors[w] = Tensor(w, w_shape, DType.INT8,
                            QuantParams(scales=(1.0,) * layer.num_filters, zero_points=(0,) * layer.num_filters,
                                        axis=0),
                            data=np.broadcast_to(np.int8(0), w_shape))
        tensors[b] = Tensor(b, (layer.num_filters,), DType.INT32,
                            data=np.broadcast_to(np.int32(0), (layer.num_filters,)))
        out_shape = (1, layer.ofmap_h, layer.ofmap_w, layer.num_filters)
        tensors[y] = Tensor(y, out_shape, DType.INT8, q)
        pad_h = (layer.ofmap_h - 1) * layer.stride_h + layer.filter_h - layer.ifmap_h
        pad_w = (layer.ofmap_w - 1) * layer.stride_w + layer.filter_w - layer.ifmap_w
        attrs = ConvAttrs(
            kernel_hw=(layer.filter_h, layer.filter_w),
            stride_hw=(layer.stride_h, layer.stride_w),
            padding=Padding(bottom=max(0, pad_h), right=max(0, pad_w)),
            layout=Layout.NHWC,
        )
        nodes.append(Node(base, OpKind.CONV2D, (x, w, b), (y,), attrs))
        prev_out, prev_shape = y, out_shape
    outputs = [n.outputs[0] for n in nodes if n.outputs[0] not in consumed]
    return Graph.build(name, nodes, tensors, inputs, outputs, source_format="scalesim")


def config_to_profile_dict(cfg: ScaleSimConfig) -> dict[str, Any]:
    """HardwareProfile data (edgesim/hw/schema.py) for a SCALE-Sim config: one systolic unit, its three SRAMs
    and DRAM. Energies, power and thermal are generic placeholders: SCALE-Sim models cycles only."""
    clock_mhz = 1000.0  # SCALE-Sim counts cycles; 1 GHz makes microseconds = kilocycles.
    wb = cfg.word_bytes
    # In CALC mode SCALE-Sim sizes the interface to the demand; a wide port stands in for "never the limit".
    dram_bw_bytes = (cfg.bandwidth_words_per_cycle if cfg.bw_mode == "USER" else CALC_BW_WORDS_PER_CYCLE) * wb
    # CALC mode drains the ofmap at one word per array column and cycle (single_layer_sim: ofmap_backing_bw).
    write_bw_bytes = dram_bw_bytes if cfg.bw_mode == "USER" else float(cfg.array_cols * wb)
    sram_bw_bytes = float(max(cfg.array_rows, cfg.array_cols) * wb)
    sram = {"kind": "sram", "latency_cycles": 1, "read_energy_pj_per_byte": 1.0, "write_energy_pj_per_byte": 1.0}
    dram = {"read_energy_pj_per_byte": 100.0, "write_energy_pj_per_byte": 100.0}
    return {
        "id": f"scalesim-{safe_name(cfg.run_name)}",
        "description": f"SCALE-Sim config {cfg.run_name}: {cfg.array_rows}x{cfg.array_cols} {cfg.dataflow} "
                       f"systolic array, bandwidth {cfg.bw_mode}",
        "kind": "npu",
        "clock_mhz": clock_mhz,
        "units": [{
            "name": "systolic",
            "kind": "systolic",
            "description": f"{cfg.array_rows}x{cfg.array_cols} systolic array, {cfg.dataflow} dataflow",
            "count": 1,
            "macs_per_cycle": {"int8": float(cfg.array_rows * cfg.array_cols)},
            "elementwise_ops_per_cycle": {"int8": float(cfg.array_cols)},
            "supported_ops": "all",
            "memories": [*SCALESIM_SRAMS, "dram", *SCALESIM_READ_PORTS],
            "systolic": {"rows": cfg.array_rows, "cols": cfg.array_cols, "dataflow": cfg.dataflow},
        }],
        "memories": [
            {"name": SCALESIM_SRAMS[0], "size_bytes": cfg.ifmap_sram_bytes, "read_bw_bytes_per_cycle": sram_bw_bytes,
             "write_bw_bytes_per_cycle": sram_bw_bytes, **sram},
            {"name": SCALESIM_SRAMS[1], "size_bytes": cfg.filter_sram_bytes,
             "read_bw_bytes_per_cycle": sram_bw_bytes, "write_bw_bytes_per_cycle": sram_bw_bytes, **sram},
            {"name": SCALESIM_SRAMS[2], "size_bytes": cfg.ofmap_sram_bytes, "read_bw_bytes_per_cycle": sram_bw_bytes,
             "write_bw_bytes_per_cycle": sram_bw_bytes, **sram},
            # The ofmap write port (and where the graph's tensors live). SCALE-Sim's read port answers a request
            # line one cycle after it is issued (read_port latency 1), so back-to-back prefetches land every
            # lines + 1 cycles; the ports pay that cycle per transfer.
            {"name": "dram", "kind": "dram", "size_bytes": 1 << 32, "read_bw_bytes_per_cycle": dram_bw_bytes,
             "write_bw_bytes_per_cycle": write_bw_bytes, "latency_cycles": 1, **dram},
            # SCALE-Sim gives each read operand its own DRAM interface of that bandwidth (double_buffered_scratchpad:
            # ifmap_port, filter_port): two more ports of the same DRAM, read-only.
            *({"name": port, "kind": "dram", "size_bytes": 1 << 32, "read_bw_bytes_per_cycle": dram_bw_bytes,
               "write_bw_bytes_per_cycle": 0.0, "latency_cycles": 1, **dram} for port in SCALESIM_READ_PORTS),
        ],
        "placement": {"weights": "dram", "activations": "dram"},
        "host_unit": "systolic",
        "energy": {"mac_energy_pj": {"int8": 0.2}, "elementwise_energy_pj_per_op": {"int8": 0.1},
                   "dma_energy_pj_per_byte": 1.0},
        "power": {"static_power_mw": 0.0, "idle_power_mw": 0.0, "sleep_power_mw": 0.0},
        "dvfs": {"nominal_voltage_v": 1.0, "operating_points": [{"freq_mhz": clock_mhz, "voltage_v": 1.0}],
                 "default_freq_mhz": clock_mhz},
        "thermal": {"ambient_c": 25.0, "nodes": [{"name": "die", "capacitance_j_per_k": 1.0}],
                    "links": [{"a": "die", "b": "ambient", "resistance_k_per_w": 10.0}],
                    "power_node": "die", "sensor_node": "die"},
        "sources": ["SCALE-Sim config file (cycles only; energy, power and thermal are placeholders)"],
    }


def config_to_profile(cfg: ScaleSimConfig) -> HardwareProfile:
    """A validated HardwareProfile for a SCALE-Sim config (see config_to_profile_dict)."""
    from pydantic import ValidationError

    from edgesim.errors import ProfileError
    from edgesim.hw.schema import HardwareProfile

    try:
        return HardwareProfile.model_validate(config_to_profile_dict(cfg))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or None
        raise ProfileError(f"SCALE-Sim config does not make a valid profile: {first['msg']}",
                           file=cfg.run_name, field=field) from None
