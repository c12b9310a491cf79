"""Speed of the pipeline driver for NAS-style use. Writes benchmarks/results/driver.json.

Targets (issue: one driver, cost estimates fast enough for any NAS search space), on a 2-core machine:
- ``edgesim.estimate`` on a prebuilt ~200-node graph: >= 1,000 graphs/s (the same graph asked again), and the rate
  on distinct prebuilt graphs of one search space (each new: only its new layers are costed);
- ``zoo.build`` of an OFA MobileNetV3 subnet: <= 5 ms;
- ``FastCostModel`` block table build: <= 5 s; its estimates: >= 10k/s;
- an ONNX candidate file loaded and estimated: <= 50 ms;
- ``edgesim run`` end to end (fresh process): reported.

Run: python benchmarks/bench_driver.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim import zoo  # noqa: E402
from edgesim.api import estimate, load_model, load_profile  # noqa: E402
from edgesim.explore.nas import FastCostModel  # noqa: E402
from edgesim.pipeline import clear_caches, load_source  # noqa: E402

HW = "ethos-u55-128"


def _per_call_s(fn: Any, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def _choices(arch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in arch.items() if k != "resolution"}


def bench(quick: bool) -> dict[str, Any]:
    prof = load_profile(HW)
    space = zoo.search_space("ofa_mobilenet_v3")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(12 if quick else 60)]
    out: dict[str, Any] = {"hw": HW}

    graph = load_model("mobilenet_v3_large")
    estimate(graph, prof)
    same_s = _per_call_s(lambda: estimate(graph, prof), 200 if quick else 2000)
    out["estimate_same_graph"] = {"nodes": len(graph.nodes), "graphs_per_s": round(1 / same_s, 1), "target": 1000}

    # First pass: each new (layer, shape) draws its weights once; then the search's steady state, where the
    # supernet's layers are all cached (as an OFA supernet shares its weights).
    first_s = _per_call_s(lambda: [zoo.build(space.model, **_choices(a)) for a in archs], 1) / len(archs)
    build_s = min(_per_call_s(lambda: [zoo.build(space.model, **_choices(a)) for a in archs], 1) / len(archs)
                  for _ in range(3))
    out["zoo_build_ofa_ms"] = {"ms": round(build_s * 1e3, 2), "first_pass_ms": round(first_s * 1e3, 2),
                               "target_ms": 5.0}

    graphs = [load_source(space.model, zoo_choices=tuple(sorted(_choices(a).items()))) for a in archs]
    for g in graphs[:3]:
        estimate(g, prof)
    t = time.perf_counter()
    for g in graphs[3:]:
        estimate(g, prof)
    distinct_s = (time.perf_counter() - t) / (len(graphs) - 3)
    out["estimate_distinct_graphs"] = {"graphs_per_s": round(1 / distinct_s, 1),
                                      "ms_per_graph": round(distinct_s * 1e3, 2)}

    clear_caches()
    t = time.perf_counter()
    model = FastCostModel(HW, resolution=160 if quick else 224)
    out["fast_cost_model_table_s"] = {"s": round(time.perf_counter() - t, 2), "target_s": 5.0}
    enc = model.encode(archs)
    batch_s = _per_call_s(lambda: model.estimate_batch(enc), 20) / len(archs)
    out["fast_cost_model_estimates_per_s"] = {"single": round(1 / _per_call_s(lambda: model.estimate(archs[0]), 2000)),
                                              "batch": round(1 / batch_s), "target": 10000}

    with tempfile.TemporaryDirectory() as tmp:
        from edgesim.frontends.onnx_export import export_onnx

        path = Path(tmp) / "candidate.onnx"
        export_onnx(graphs[0], path)

        def cold() -> None:
            clear_caches()  # nothing of this file remembered: read, import, transform, map, cost
            estimate(path, prof)

        cold()  # imports of the ONNX frontend are the process's, not the candidate's
        onnx_s = min(_per_call_s(cold, 1) for _ in range(3))
        out["onnx_candidate_load_and_estimate_ms"] = {"ms": round(onnx_s * 1e3, 1), "target_ms": 50.0}

    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "edgesim", "run", "resnet8", "--hw", "stm32l4r5", "--fast"], cwd=ROOT,
                   check=True, capture_output=True)
    out["cli_run_fast_s"] = round(time.perf_counter() - t, 3)
    return out


def main() -> int:
    results = bench("--quick" in sys.argv)
    path = ROOT / "benchmarks" / "results" / "driver.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
