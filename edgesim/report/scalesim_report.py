"""SCALE-Sim-compatible per-layer report, for users moving over from SCALE-Sim (same terms, same columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgesim.cost.estimate import Estimate
from edgesim.frontends.scalesim import ScaleSimConfig, read_config, read_topology, safe_name
from edgesim.mapping.systolic import compute_cycles
from edgesim.mapping.systolic_memory import memory_stalls


def scalesim_rows(topology: str | Path, config: str | Path | ScaleSimConfig,
                  engine: Estimate | None = None) -> list[dict[str, Any]]:
    """One row per layer: compute, stall and total cycles, utilisation, SRAM and DRAM access counts (words).

    ``cycles`` is SCALE-Sim's "Total Cycles" (compute + stalls). Stalls come from the closed-form memory model,
    or, given the event engine's estimate of the same run, from the engine (the JSON ``layers`` then say the
    same), which also gives ``prefetch_cycles`` (the fill before the first fold and the drain after the last)
    and ``cycles_incl_prefetch``, SCALE-Sim's "Total Cycles (incl. prefetch)". ``closed_form_stall_cycles``
    always holds the closed form.
    """
    cfg = config if isinstance(config, ScaleSimConfig) else read_config(config)
    timed = {layer.name: layer for layer in engine.layers} if engine is not None else {}
    rows = []
    for name, layer in read_topology(topology):
        comp = compute_cycles(layer, cfg.array_rows, cfg.array_cols, cfg.dataflow)
        mem = memory_stalls(layer, cfg.array_rows, cfg.array_cols, cfg.dataflow, cfg.ifmap_sram_kb * 1024,
                            cfg.filter_sram_kb * 1024, cfg.ofmap_sram_kb * 1024, cfg.word_bytes,
                            cfg.bandwidth_words_per_cycle, cfg.bw_mode)
        t = timed.get(safe_name(name))
        stall = mem.stall_cycles if t is None else round(t.stall_cycles)
        extra = {} if t is None else {"prefetch_cycles": round(t.prefetch_cycles),
                                      "cycles_incl_prefetch": comp.compute_cycles + stall + round(t.prefetch_cycles)}
        rows.append({
            "name": name,
            "op": "CONV2D",
            "unit": "systolic",
            "macs": layer.macs,
            "compute_cycles": comp.compute_cycles,
            "stall_cycles": stall,
            "cycles": comp.compute_cycles + stall,
            **extra,
            "closed_form_stall_cycles": mem.stall_cycles,
            "folds": comp.folds,
            # SCALE-Sim's "Overall Util %": MACs over PE-cycles, stalls included.
            "overall_utilization_pct": 100.0 * layer.macs / (cfg.array_rows * cfg.array_cols
                                                             * (comp.compute_cycles + stall)),
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
    timed = all("cycles_incl_prefetch" in r for r in rows)
    pf_head = f" {'incl_pf':>10}" if timed else ""
    head = (f"{'layer':<10} {'compute':>10} {'stall':>8} {'total':>10}{pf_head} {'all%':>6} {'map%':>6} "
            f"{'util%':>6} {'sram_if':>9} {'sram_fl':>9} {'sram_of':>9} {'dram_if':>8} {'dram_fl':>8} {'dram_of':>8}")
    source = "event engine" if timed else "closed-form memory model"
    lines = [f"SCALE-Sim compatible report ({cfg_name}; stalls from the {source}; total = SCALE-Sim's Total Cycles"
             + (", incl_pf = Total Cycles (incl. prefetch))" if timed else ")"), head, "-" * len(head)]
    for r in rows:
        pf = f" {r['cycles_incl_prefetch']:>10}" if timed else ""
        lines.append(
            f"{r['name']:<10} {r['compute_cycles']:>10} {r['stall_cycles']:>8} {r['cycles']:>10}{pf} "
            f"{r['overall_utilization_pct']:>6.1f} {r['mapping_efficiency_pct']:>6.1f} "
            f"{r['compute_utilization_pct']:>6.1f} {r['sram_ifmap_reads']:>9} "
            f"{r['sram_filter_reads']:>9} {r['sram_ofmap_writes']:>9} {r['dram_ifmap_reads']:>8} "
            f"{r['dram_filter_reads']:>8} {r['dram_ofmap_writes']:>8}"
        )
    total_c = sum(r["compute_cycles"] for r in rows)
    total_s = sum(r["stall_cycles"] for r in rows)
    lines.append(f"total: compute {total_c} cycles, stalls {total_s}, total {total_c + total_s}")
    return "\n".join(lines)
