"""How far the analytic path (`edgesim run --fast`) and the event engine (`edgesim run`) disagree, and how fast
each is, over zoo models x every bundled profile at int8. Writes benchmarks/results/agreement.json.

Both read the same per-op plans (one schedule per pair), so their differences are what the event engine adds:
tile-level DMA/compute overlap with a finite number of tile buffers, memory contention, concurrency between
units and cores. Run: python benchmarks/bench_agreement.py
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.api import build_schedule, estimate_schedule, load_model, load_profile, resolve_runtime  # noqa: E402
from edgesim.passes.optimize import optimize, options_from_cli  # noqa: E402
from edgesim.sim import simulate_schedule, to_estimate  # noqa: E402

MODELS = ("mobilenet_v2", "resnet18", "ds_cnn", "efficientnet_lite0", "resnet8")


def _profiles() -> list[str]:
    return sorted(p.stem for p in (ROOT / "hw_profiles").glob("*.yaml"))


def main() -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    fast_s = event_s = 0.0
    for model in MODELS:
        graph = optimize(load_model(model), options_from_cli(quant="int8"))
        for hw in _profiles():
            prof = load_profile(hw)
            with contextlib.redirect_stderr(io.StringIO()):
                rt, version = resolve_runtime(prof, None)
            schedule = build_schedule(graph, prof, rt, version)
            t0 = time.perf_counter()
            fast = estimate_schedule(schedule, prof)
            t1 = time.perf_counter()
            event = to_estimate(schedule, prof, simulate_schedule(schedule, prof))
            t2 = time.perf_counter()
            fast_s += t1 - t0
            event_s += t2 - t1
            rows.append({"model": model, "hw": hw, "fast_latency_s": fast.latency_s,
                         "event_latency_s": event.latency_s, "fast_energy_j": fast.energy_j,
                         "event_energy_j": event.energy_j,
                         "latency_event_over_fast": event.latency_s / fast.latency_s,
                         "energy_event_over_fast": event.energy_j / fast.energy_j})
    lat = [abs(r["latency_event_over_fast"] - 1) for r in rows]
    en = [abs(r["energy_event_over_fast"] - 1) for r in rows]
    worst = sorted(rows, key=lambda r: -abs(r["latency_event_over_fast"] - 1))[:8]
    report = {
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "pairs": len(rows),
        "latency_abs_rel_diff": {"median": statistics.median(lat), "mean": statistics.mean(lat), "max": max(lat)},
        "energy_abs_rel_diff": {"median": statistics.median(en), "mean": statistics.mean(en), "max": max(en)},
        "seconds_total": {"analytic": round(fast_s, 3), "event": round(event_s, 3)},
        "largest_latency_gaps": [{k: r[k] for k in ("model", "hw", "latency_event_over_fast")} for r in worst],
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results" / "agreement.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    r = main()
    print(json.dumps({k: v for k, v in r.items() if k != "rows"}, indent=2))
