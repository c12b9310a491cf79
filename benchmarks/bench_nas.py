"""FastCostModel (per-block lookup table) throughput and agreement with the whole-network paths.

Tables built from ``api.estimate`` (default) and from the event engine (``full="engine"``) are both measured.

For each profile: table build time; estimates/s for random OFA MobileNetV3 archs (one call per arch, and the
vectorised batch); relative error vs ``edgesim.api.estimate`` and vs the SimPy event engine (median/max over
100 random archs); order violations among pairs whose reference latencies differ by more than 10%.
Writes benchmarks/results/nas.json. Run: ``python benchmarks/bench_nas.py [--profiles ethos-u55-128:int8,rpi5] [--n 100]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from edgesim.explore.lut import agreement  # noqa: E402
from edgesim.explore.nas import FastCostModel, analytic_full, simulated_full  # noqa: E402
from edgesim.zoo import search_space  # noqa: E402


def bench_profile(profile: str, n: int, resolution: int, quant: str | None) -> dict[str, object]:
    t0 = time.perf_counter()
    model = FastCostModel(profile, resolution=resolution, quant=quant)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    space = search_space("ofa_mobilenet_v3")
    archs = [space.sample(rng) for _ in range(20000)]
    t0 = time.perf_counter()
    for a in archs:
        model.estimate(a)
    per_call = len(archs) / (time.perf_counter() - t0)
    encoded = model.encode(archs)
    t0 = time.perf_counter()
    model.estimate_batch(encoded)
    batch = len(archs) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.estimate_batch(archs)
    batch_with_encode = len(archs) / (time.perf_counter() - t0)
    vs_analytic = agreement(model, n=n, seed=1, full=analytic_full, reference="api.estimate")
    vs_engine = agreement(model, n=n, seed=1, full=simulated_full, reference="event engine")
    t0 = time.perf_counter()
    engine_model = FastCostModel(profile, resolution=resolution, quant=quant, full="engine")
    engine_build_s = time.perf_counter() - t0
    engine_table_vs_engine = agreement(engine_model, n=n, seed=1, full=simulated_full, reference="event engine")
    return {
        "profile": profile, "quant": quant or "none (float32)", "resolution": resolution, "table_build_s": round(build_s, 2),
        "estimates_per_s_single_call": round(per_call), "estimates_per_s_batch": round(batch),
        "estimates_per_s_batch_incl_encode": round(batch_with_encode),
        "vs_analytic": vs_analytic.as_dict(), "vs_event_engine": vs_engine.as_dict(),
        "engine_table_build_s": round(engine_build_s, 2),
        "engine_table_vs_event_engine": engine_table_vs_engine.as_dict(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profiles", default="ethos-u55-128:int8,coral-edgetpu:int8,rpi5",
                    help="comma-separated profile[:quant preset] list")
    ap.add_argument("--n", type=int, default=100, help="random architectures for the agreement figures")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "nas.json"))
    args = ap.parse_args()
    results = []
    for entry in args.profiles.split(","):
        prof, _, quant = entry.partition(":")
        r = bench_profile(prof, args.n, args.resolution, quant or None)
        results.append(r)
        va, ve = r["vs_analytic"], r["vs_event_engine"]
        assert isinstance(va, dict) and isinstance(ve, dict)
        print(f"{entry:<20} build {r['table_build_s']:>6}s  {r['estimates_per_s_single_call']:>8}/s single  "
              f"{r['estimates_per_s_batch']:>9}/s batch  median err vs estimate "
              f"{va['latency_median_rel_err']:.2e} / vs engine {ve['latency_median_rel_err']:.2e} "
              f"(max {ve['latency_max_rel_err']:.2e}), order violations {ve['order_violations']}"
              f"/{ve['pairs_checked']}")
        ee = r["engine_table_vs_event_engine"]
        assert isinstance(ee, dict)
        print(f"{'':<20} table built from the event engine: build {r['engine_table_build_s']}s, median err vs "
              f"engine {ee['latency_median_rel_err']:.2e} (max {ee['latency_max_rel_err']:.2e}), "
              f"order violations {ee['order_violations']}/{ee['pairs_checked']}")
    doc = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "processor": platform.processor() or platform.machine()},
           "space": "ofa_mobilenet_v3", "n_archs": args.n, "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
