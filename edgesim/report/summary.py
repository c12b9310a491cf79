"""Turn an Estimate into the JSON report and the terminal table."""

from __future__ import annotations

import json
from typing import Any

from edgesim.cost.estimate import Estimate, LayerCost


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
        "fits_on_chip": est.fits_on_chip,
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
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_table(est: Estimate, max_rows: int | None = None) -> str:
    head = f"{'#':>4} {'layer':<36} {'op':<18} {'unit':<10} {'MACs':>10} {'cycles':>12} {'latency':>10} " \
           f"{'energy':>10} bound"
    lines = [head, "-" * len(head)]
    layers = [layer for layer in est.layers if layer.unit != "-"]
    shown = layers if max_rows is None else layers[:max_rows]
    for i, layer in enumerate(shown):
        name = layer.name if len(layer.name) <= 36 else "..." + layer.name[-33:]
        flag = " (fallback)" if layer.fallback else ""
        lines.append(
            f"{i:>4} {name:<36} {layer.op:<18} {layer.unit:<10} {layer.macs:>10} {layer.cycles:>12.0f} "
            f"{_si(layer.latency_s, 's'):>10} {_si(layer.energy_j, 'J'):>10} {layer.bound}{flag}"
        )
    if len(shown) < len(layers):
        lines.append(f"     ... {len(layers) - len(shown)} more layers (see --json)")
    lines.append("-" * len(head))
    lines.append(
        f"total: latency {_si(est.latency_s, 's')}, energy {_si(est.energy_j, 'J')}, "
        f"avg power {_si(est.average_power_w, 'W')}, {est.macs / 1e6:.2f} M MACs, "
        f"{est.cycles:.0f} cycles @ {est.clock_mhz:g} MHz"
    )
    lines.append(
        f"memory: peak activations {est.peak_activation_bytes} B in '{est.activation_memory}' "
        f"({est.activation_memory_bytes} B, {'fits' if est.fits_on_chip else 'does NOT fit'}), "
        f"weights {est.total_weight_bytes} B"
    )
    for note in est.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
