"""SCALE-Sim-compatible per-layer report, for users moving over from SCALE-Sim (same terms, same columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgesim.frontends.scalesim import ScaleSimConfig, read_config, read_topology
from edgesim.mapping.systolic import compute_cycles
from edgesim.mapping.systolic_memory import memory_stalls


def scalesim_rows(topology: str | Path, config: str | Path | ScaleSimConfig) -> list[dict[str, Any]]:
    """One row per layer: compute, stall and total cycles, utilisation, SRAM and DRAM access counts (words)."""
    cfg = config if isinstance(config, ScaleSimConfig) else read_config(config)
    rows = []
    for name, layer in read_topology(topology):
        comp = compute_cycles(layer, cfg.array_rows, cfg.array_cols, cfg.dataflow)
        mem = memory_stalls(layer, cfg.array_rows, cfg.array_cols, cfg.dataflow, cfg.ifmap_sram_kb * 1024,
                            cfg.filter_sram_kb * 1024, cfg.ofmap_sram_kb * 1024, cfg.word_bytes,
                            cfg.bandwidth_words_per_cycle, cfg.bw_mode)
        rows.append({
            "name": name,
            "op": "CONV2D",
            "unit": "systolic",
            "macs": layer.macs,
            "compute_cycles": comp.compute_cycles,
            "stall_cycles": mem.stall_cycles,
            "cycles": comp.compute_cycles + mem.stall_cycles,
            "folds": comp.folds,
            # SCALE-Sim's "Overall Util %": MACs over PE-cycles, stalls included.
            "overall_utilization_pct": 100.0 * layer.macs / (cfg.array_rows * cfg.array_cols * mem.total_cycles),
            "mapping_efficiency_pct": 100.0 * comp.mapping_efficiency,
            "compute_utilization_pct": 100.0 * comp.compute_utilization,
            "sram_ifmap_reads": comp.sram_ifmap_reads,
            "sram_filter_reads": comp.sram_filter_reads,
            "sram_ofmap_writes": comp.sram_ofmap_writes,
            "dram_ifmap_reads": mem.dram_ifmap_reads,
            "dram_filter_reads": mem.dram_filter_reads,
            "dram_ofmap_writes": mem.dram_ofmap_writes,
        })
    return rows


def format_scalesim(rows: list[dict[str, Any]], cfg_name: str) -> str:
    head = (f"{'layer':<10} {'compute':>10} {'stall':>8} {'total':>10} {'all%':>6} {'map%':>6} {'util%':>6} "
            f"{'sram_if':>9} {'sram_fl':>9} {'sram_of':>9} {'dram_if':>8} {'dram_fl':>8} {'dram_of':>8}")
    lines = [f"SCALE-Sim compatible report ({cfg_name})", head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['name']:<10} {r['compute_cycles']:>10} {r['stall_cycles']:>8} {r['cycles']:>10} "
            f"{r['overall_utilization_pct']:>6.1f} {r['mapping_efficiency_pct']:>6.1f} "
            f"{r['compute_utilization_pct']:>6.1f} {r['sram_ifmap_reads']:>9} "
            f"{r['sram_filter_reads']:>9} {r['sram_ofmap_writes']:>9} {r['dram_ifmap_reads']:>8} "
            f"{r['dram_filter_reads']:>8} {r['dram_ofmap_writes']:>8}"
        )
    total_c = sum(r["compute_cycles"] for r in rows)
    total_s = sum(r["stall_cycles"] for r in rows)
    lines.append(f"total: compute {total_c} cycles, stalls {total_s}, total {total_c + total_s}")
    return "\n".join(lines)
