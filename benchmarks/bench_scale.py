"""Scale: big graphs must simulate (event engine) within 1 GB of memory. Writes benchmarks/results/scale.json.

Cases, each in a fresh subprocess so peak RSS (ru_maxrss) belongs to that case alone:
1. ResNet-50 at 299x299 on rpi5 (DRAM SoC) and ethos-u55-128 (MCU + NPU, heavy tiling).
2. ViT-tiny (224x224) on rpi5.
3. A synthetic 5,000-op graph (2,500 x [1x1 conv + residual add]) exported to ONNX, imported, simulated.
Peak memory is ru_maxrss of the case process (interpreter and numpy included); tracemalloc's peak
of Python allocations during the timed part is reported too (run with --tracemalloc; it slows the run ~2x).

Run: python benchmarks/bench_scale.py [--tracemalloc] [--case NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_MB = 1024.0
CASES = ("resnet50_299_rpi5", "resnet50_299_ethos-u55-128", "vit_tiny_224_rpi5", "chain5000_onnx_rpi5")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _chain_graph(n_pairs: int) -> Any:
    from edgesim.zoo.builder import GraphBuilder

    b = GraphBuilder("chain5000", seed=0)
    x = b.input("x", (1, 8, 8, 8))
    for _ in range(n_pairs):
        x = b.add(b.conv(x, 8, 1), x)
    return b.build([x])


def _simulate(graph: Any, hw: str, out: dict[str, Any]) -> None:
    from edgesim.api import load_profile, resolve_runtime
    from edgesim.mapping.mapper import build_schedule
    from edgesim.sim import simulate_schedule, to_estimate

    prof = load_profile(hw)
    rt, version = resolve_runtime(prof, None)
    t = time.perf_counter()
    sched = build_schedule(graph, prof, rt, version)
    out["mapping_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    result = simulate_schedule(sched, prof)
    est = to_estimate(sched, prof, result)
    out["simulate_s"] = round(time.perf_counter() - t, 3)
    out["plans"] = len(sched.plans)
    out["latency_ms"] = est.latency_s * 1e3
    out["energy_mj"] = est.energy_j * 1e3


def run_case(name: str, trace: bool) -> dict[str, Any]:
    from edgesim import zoo
    from edgesim.ir.verify import verify_graph
    from edgesim.passes.pipeline import run_pipeline

    out: dict[str, Any] = {"case": name, "rss_after_imports_mb": round(_rss_mb(), 1)}
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    if name.startswith("resnet50_299"):
        graph = run_pipeline(verify_graph(zoo.build("resnet50", resolution=299)))
        hw = name.removeprefix("resnet50_299_")
    elif name.startswith("vit_tiny_224"):
        graph = run_pipeline(verify_graph(zoo.build("vit_tiny", resolution=224)))
        hw = "rpi5"
    elif name.startswith("chain5000"):
        from edgesim.api import load_model
        from edgesim.frontends.onnx_export import export_onnx

        raw = _chain_graph(2500)
        out["ops_built"] = len(raw.nodes)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "chain5000.onnx"
            t = time.perf_counter()
            export_onnx(raw, path)
            out["export_s"] = round(time.perf_counter() - t, 3)
            out["onnx_bytes"] = path.stat().st_size
            t = time.perf_counter()
            graph = load_model(path)
            out["import_s"] = round(time.perf_counter() - t, 3)
        hw = "rpi5"
    else:
        raise SystemExit(f"unknown case {name}; cases: {', '.join(CASES)}")
    out["build_s"] = round(time.perf_counter() - t0, 3)
    out["ops"] = len(graph.nodes)
    _simulate(graph, hw, out)
    out["total_s"] = round(time.perf_counter() - t0, 3)
    if trace:
        out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    out["peak_rss_mb"] = round(_rss_mb(), 1)
    out["under_1gb"] = out["peak_rss_mb"] < LIMIT_MB
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=CASES, help="run one case in this process and print its JSON")
    ap.add_argument("--tracemalloc", action="store_true")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.tracemalloc)))
        return 0
    results = []
    for case in CASES:
        cmd = [sys.executable, __file__, "--case", case] + (["--tracemalloc"] if args.tracemalloc else [])
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        if r.returncode != 0:
            results.append({"case": case, "error": r.stderr.strip().splitlines()[-1:] or ["?"]})
        else:
            results.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]))
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "limit_mb": LIMIT_MB,
        "cases": results,
    }
    dest = ROOT / "benchmarks" / "results" / "scale.json"
    from edgesim.files import atomic_write_text

    atomic_write_text(dest, json.dumps(report, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0 if all(c.get("under_1gb") for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
