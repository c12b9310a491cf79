"""Hailo-8L context-switch cost: the host-driven constants hailort.yaml ships (a cost per context plus one per
hardware layer, host cycles) against the mechanism "a switch moves the network's int8 weights over the PCIe link,
plus a fixed part" for the link widths a Hailo-8L may sit on. Each model's two free parameters are fitted by least
squares in relative error on the EVEN lines of the bundled npu_vendor.csv's Hailo-8L rows (its batch-1 rows) and
scored on the odd lines (batch 8, held out). Nothing is fitted to the npu_external tables.

The switch cost enters only the prediction's last step (edgesim.sim.stream.schedule_period_s: switches once per
batch, the first frame at its single-frame latency, the rest at the stream period), so each row is simulated once
and the candidate costs are applied to its parts. Writes benchmarks/results/hailo_switch.json.

Run: python benchmarks/bench_hailo_switch.py   (about 5 min on 2 loaded cores)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.hw.loader import load_runtime  # noqa: E402
from edgesim.pipeline import run  # noqa: E402
from edgesim.pipeline.stream import stream_frames  # noqa: E402
from edgesim.sim.engine import simulate_schedule  # noqa: E402
from edgesim.validate.npu_vendor import VendorRow, read_vendor, row_spec  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "hailo_switch.json"
# PCIe usable rate per lane after 128b/130b encoding: Gen2 0.5 GB/s (8b/10b of 5 GT/s), Gen3 0.985 GB/s. Lanes:
# Raspberry Pi 5 AI Kit / AI HAT+: one lane, Gen2 by default, Gen3 by setting; Hailo-8L M.2 B+M / A+E modules two
# lanes (community.hailo.ai thread 1675); the Hailo-8L chip's endpoint four (hailo.ai Hailo-8L product page).
LINKS_BYTES_PER_S = {"gen2_x1": 0.5e9, "gen3_x1": 0.985e9, "gen3_x2": 1.97e9, "gen3_x4": 3.94e9}


def _parts(row: VendorRow, cache: dict[tuple[str, str], dict[str, float]]) -> dict[str, float]:
    """The row's switch-independent parts: single-frame latency, stream period, contexts, layers, weights."""
    key = (row.network, row.input_shape)
    if key not in cache:
        res = run(row_spec(row))
        s = res.schedule
        lo, hi = stream_frames(s)
        rates = [simulate_schedule(s, res.profile, frames=n).throughput_inf_per_s for n in (lo, hi)]
        cache[key] = {"latency_s": simulate_schedule(s, res.profile, frames=1).makespan_s,
                      "period_s": (hi / rates[1] - lo / rates[0]) / (hi - lo), "contexts": s.contexts,
                      "layers": s.context_layers, "host_clock_hz": s.host_clock_hz,
                      "weight_bytes": sum(p.weight_bytes for p in s.plans if p.unit == "npu")}
    return {**cache[key], "batch": row.batch, "measured_s": row.measured_ms / 1e3, "line": row.line}


def _predict_s(d: dict[str, float], switch_s: float) -> float:
    return (switch_s + d["latency_s"] + (d["batch"] - 1) * d["period_s"]) / d["batch"]


def _switch_s(d: dict[str, float], per_context_s: float, per_layer_s: float, link: float | None) -> float:
    if d["contexts"] <= 1:
        return 0.0
    moved_s = d["weight_bytes"] / link if link else 0.0
    return d["contexts"] * per_context_s + d["layers"] * per_layer_s + moved_s


def _fit(rows: list[dict[str, float]], link: float | None) -> tuple[float, float]:
    """(per-context s, per-layer s): least squares in relative error over the even lines' multi-context rows."""
    a, y = [], []
    for d in rows:
        if d["line"] % 2 == 0 and d["contexts"] > 1:
            m = d["measured_s"]
            a.append([d["contexts"] / m, d["layers"] / m])
            y.append(1.0 - (d["latency_s"] + _switch_s(d, 0.0, 0.0, link)) / m)
    x, *_ = np.linalg.lstsq(np.array(a), np.array(y), rcond=None)
    return float(x[0]), float(x[1])


def _mape(rows: list[dict[str, float]], per_context_s: float, per_layer_s: float, link: float | None) -> float:
    errs = [abs(_predict_s(d, _switch_s(d, per_context_s, per_layer_s, link)) / d["measured_s"] - 1) for d in rows]
    return round(100 * sum(errs) / len(errs), 1)


def main() -> None:
    rows, _ = read_vendor("npu_vendor")
    cache: dict[tuple[str, str], dict[str, float]] = {}
    parts = [_parts(r, cache) for r in rows if r.device == "hailo-8l"]
    even = [d for d in parts if d["line"] % 2 == 0]
    odd = [d for d in parts if d["line"] % 2 == 1]
    rt, _ = load_runtime("hailort")
    clock = parts[0]["host_clock_hz"]
    shipped = (rt.context_switch_cycles / clock, rt.context_switch_layer_cycles / clock)
    candidates: dict[str, tuple[float, float, float | None]] = {"shipped host cycles": (*shipped, None),
                                                                  "host cycles refit": (*_fit(parts, None), None)}
    for name, bw in LINKS_BYTES_PER_S.items():
        candidates[f"weights over {name}"] = (*_fit(parts, bw), bw)
    out = []
    for name, (ctx_s, layer_s, bw) in candidates.items():
        rec = {"model": name, "per_context_ms": round(ctx_s * 1e3, 3), "per_layer_us": round(layer_s * 1e6, 2),
               "link_gb_per_s": bw and bw / 1e9, "even_mape": _mape(even, ctx_s, layer_s, bw),
               "odd_mape_held_out": _mape(odd, ctx_s, layer_s, bw)}
        out.append(rec)
        print(f"{name:24s} per context {rec['per_context_ms']:7.3f} ms  per layer {rec['per_layer_us']:6.2f} us  "
              f"even {rec['even_mape']:5.1f}%  odd (held out) {rec['odd_mape_held_out']:5.1f}%")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"rows": len(parts), "models": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
