"""Turn an Estimate into the JSON report and the terminal table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edgesim.cost.estimate import Estimate, LayerCost
from edgesim.report.units import si, si_bytes


def _layer_dict(layer: LayerCost, clock_mhz: float) -> dict[str, Any]:
    return {
        "name": layer.name,
        "op": layer.op,
        "unit": layer.unit,
        "precision": layer.precision,
        "macs": layer.macs,
        "compute_cycles": round(layer.compute_cycles, 3),
        "stall_cycles": round(layer.stall_cycles + layer.overhead_cycles, 3),
        "overhead_cycles": round(layer.overhead_cycles, 3),
        "cycles": round(layer.cycles, 3),
        "prefetch_cycles": round(layer.prefetch_cycles, 3),
        "latency_s": layer.latency_s,
        "energy_j": layer.energy_j,
        "energy_breakdown_j": layer.energy.as_dict(),
        "bound": layer.bound,
        "fallback": layer.fallback,
        "fused_from": list(layer.fused_from),
        "bytes": {m: {"read": r, "write": w} for m, r, w in layer.bytes_by_memory},
    }


def report_dict(est: Estimate, *, mode: str = "analytic", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    bound_counts: dict[str, int] = {}
    for layer in est.layers:
        if layer.unit != "-":
            bound_counts[layer.bound] = bound_counts.get(layer.bound, 0) + 1
    out: dict[str, Any] = {
        "model": est.model,
        "hw": est.hw,
        "runtime": est.runtime,
        "mode": mode,
        "clock_mhz": est.clock_mhz,
        "latency_s": est.latency_s,
        "energy_j": est.energy_j,
        "average_power_w": est.average_power_w,
        "cycles": round(est.cycles, 3),
        "macs": est.macs,
        "energy_breakdown_j": est.energy.as_dict(),
        "peak_activation_bytes": est.peak_activation_bytes,
        "activation_memory": est.activation_memory,
        "activation_memory_bytes": est.activation_memory_bytes,
        # Activations alone; the run's full verdict (weights, arena too) is the top-level "fits" the driver adds.
        "activations_fit": est.fits_on_chip,
        "total_weight_bytes": est.total_weight_bytes,
        "bound_counts": bound_counts,
        "fallback_ops": sorted({f"{layer.op}" for layer in est.layers if layer.fallback}),
        "notes": list(est.notes),
        "layers": [_layer_dict(layer, est.clock_mhz) for layer in est.layers],
    }
    if extra:
        out.update(extra)
        # Residual ADDs fused at mapping time: show on the fused layer the activation bytes it no longer moves.
        saved = {g["node"]: g["saved_bytes_by_memory"] for g in (extra.get("fusion") or {}).get("groups", [])
                 if "saved_bytes_by_memory" in g}
        for layer in out["layers"]:
            if layer["name"] in saved:
                layer["fusion_saved_bytes"] = saved[layer["name"]]
    return out


def report_json(est: Estimate, **kw: Any) -> str:
    return json.dumps(report_dict(est, **kw), indent=2, sort_keys=False) + "\n"


def _si(value: float, unit: str) -> str:
    return si(value, unit)


def display_names(names: Sequence[str], width: int = 36) -> list[str]:
    """Readable layer names, the same in every output: the first ';'-joined tensor name (TFLite joins the names of
    fused ops; the first is the op's output), shortened to its shortest '/'-suffix unique among ``names``, and
    cut on the right (never the left, which holds the layer's own name) past ``width``."""
    firsts = [n.split(";")[0] or n for n in names]
    parts = [f.split("/") for f in firsts]
    out = []
    for segs in parts:
        short = "/".join(segs)
        for k in range(1, len(segs) + 1):
            cand = segs[-k:]
            if sum(1 for other in parts if other[-k:] == cand) == 1:
                short = "/".join(cand)
                break
        out.append(short if len(short) <= width else short[:width - 1] + "~")
    return out


def op_count_line(n_ops: int, est: Estimate) -> str:
    """How the model's op count splits into the table's rows, the hidden zero-cost views and the ops fused away
    at mapping time, so the numbers add up."""
    rows = sum(1 for layer in est.layers if layer.unit != "-")
    view_ops = [layer.op for layer in est.layers if layer.unit == "-"]
    fused = n_ops - len(est.layers)
    parts = [f"{rows} costed rows"]
    if view_ops:
        # a view is a reshape-like op, or a split a runtime release returns as views of its input
        kinds = ", ".join(sorted(set(view_ops)))
        parts.append(f"{len(view_ops)} zero-cost view{'s' if len(view_ops) > 1 else ''} ({kinds}; not shown)")
    if fused > 0:
        parts.append(f"{fused} residual ADDs fused into convs at mapping time")
    return f"{n_ops} ops = " + " + ".join(parts)


def format_table(est: Estimate, max_rows: int | None = None, fit_summary: str | None = None) -> str:
    """The per-layer table and the totals; ``fit_summary`` is the run's fit verdict (else activations only)."""
    head = f"{'#':>4} {'layer':<36} {'op':<18} {'unit':<10} {'MACs':>10} {'cycles':>12} {'latency':>10} " \
           f"{'energy':>10} bound"
    lines = [head, "-" * len(head)]
    layers = [layer for layer in est.layers if layer.unit != "-"]
    names = display_names([layer.name for layer in layers])
    shown = layers if max_rows is None else layers[:max_rows]
    for i, layer in enumerate(shown):
        flag = " (fallback)" if layer.fallback else ""
        lines.append(
            f"{i:>4} {names[i]:<36} {layer.op:<18} {layer.unit:<10} {layer.macs:>10} {layer.cycles:>12.0f} "
            f"{si(layer.latency_s, 's'):>10} {si(layer.energy_j, 'J'):>10} {layer.bound}{flag}"
        )
    if len(shown) < len(layers):
        lines.append(f"     ... {len(layers) - len(shown)} more layers (see --all-layers or --json)")
    lines.append("-" * len(head))
    lines.append(
        f"total: latency {si(est.latency_s, 's')}, energy {si(est.energy_j, 'J')}, "
        f"avg power {si(est.average_power_w, 'W')}, {si(est.macs, '').strip()} MACs, "
        f"{est.cycles:.0f} cycles @ {est.clock_mhz:g} MHz"
    )
    fits = fit_summary or ("activations fit" if est.fits_on_chip else "activations do NOT fit")
    lines.append(
        f"memory: peak activations {si_bytes(est.peak_activation_bytes)} in '{est.activation_memory}' "
        f"({si_bytes(est.activation_memory_bytes)}), weights {si_bytes(est.total_weight_bytes)}: {fits}"
    )
    for note in est.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
