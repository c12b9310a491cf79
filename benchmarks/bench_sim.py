"""Time the event engine end to end and write benchmarks/results/sim.json.

1. MobileNetV2-224 (int8) on ethos-u55-128: profile load + mapping/tiling + simulation + report, as `edgesim run`
   does it (target < 1 s; model build and quantization are timed separately, they are not the engine's cost).
2. ResNet-18 (int8) on the coral-edgetpu profile with its array resized to 32x32 (target < 2 s).
3. Multi-core scheduling: SqueezeNet (int8, fire modules = parallel branches) on hailo-8 as shipped (8 clusters as
   cores, HailoRT declaring inter-op parallelism and layer pipelining) vs. the same runtime with those declarations
   off: one frame, 8 frames in flight (throughput mode), and the steady-state period between frames of a stream
   (edgesim.sim.stream.schedule_period_s, the core of how the Hailo model-zoo FPS rows are predicted). No target:
   figures for the note.

Run: python benchmarks/bench_sim.py
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.api import (  # noqa: E402
    load_model,  # noqa: E402
    load_profile,
    resolve_runtime,
)
from edgesim.cost.analytic import estimate_schedule  # noqa: E402
from edgesim.ir.graph import Graph  # noqa: E402
from edgesim.mapping.mapper import build_schedule  # noqa: E402
from edgesim.passes.optimize import optimize, options_from_cli, write_onnx  # noqa: E402
from edgesim.sim import TraceRecorder, simulate_schedule, to_estimate, utilisation  # noqa: E402
from edgesim.sim.stream import schedule_period_s  # noqa: E402

REPEATS = 3


def int8_model(name: str) -> tuple[Graph, float]:
    t0 = time.perf_counter()
    # The CLI's pipeline (`edgesim run NAME --quant int8`): BatchNorm folds into the convs before quantization, as
    # any deployment flow does; quantizing the unfused graph would leave fp32 BatchNorm ops on the host CPU.
    graph = optimize(load_model(name), options_from_cli(quant="int8"))
    return graph, time.perf_counter() - t0


def systolic_32x32() -> Any:
    base = load_profile("coral-edgetpu")
    units = []
    for u in base.units:
        if u.systolic is not None:
            u = u.model_copy(update={"systolic": u.systolic.model_copy(update={"rows": 32, "cols": 32}),
                                     "macs_per_cycle": {k: 1024.0 for k in u.macs_per_cycle}})
        units.append(u)
    return base.model_copy(update={"id": "coral-edgetpu-32x32", "units": units})


def multicore(graph: Graph) -> dict[str, Any]:
    prof = load_profile("hailo-8")
    rt, version = resolve_runtime(prof, None)
    assert rt is not None
    variants = {"serial": rt.model_copy(update={"inter_op_parallel": False, "layer_pipelining": False}),
                "inter_op": rt.model_copy(update={"inter_op_parallel": True, "layer_pipelining": False}),
                "inter_op_pipelined": rt}
    out: dict[str, Any] = {"profile": prof.id, "npu_cores": prof.unit("npu").count, "model": graph.name}
    for label, runtime in variants.items():
        schedule = build_schedule(graph, prof, runtime, version)
        for frames in (1, 8):
            t0 = time.perf_counter()
            result = simulate_schedule(schedule, prof, frames=frames)
            est = to_estimate(schedule, prof, result)
            out[f"{label}_frames{frames}"] = {
                "latency_ms": est.latency_s * 1e3, "throughput_inf_per_s": result.throughput_inf_per_s,
                "simulation_s": time.perf_counter() - t0}
        t0 = time.perf_counter()
        period_s = schedule_period_s(schedule, prof)  # stream_frames(schedule), as every door's stream
        out[f"{label}_stream"] = {"period_ms": period_s * 1e3, "throughput_inf_per_s": 1.0 / period_s,
                                  "simulation_s": time.perf_counter() - t0}
    return out


def run(graph: Graph, profile_id: str | None, profile: Any = None) -> dict[str, Any]:
    best: dict[str, float] = {}
    out: dict[str, Any] = {}
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        prof = profile if profile is not None else load_profile(profile_id or "")
        rt, version = resolve_runtime(prof, None)
        t1 = time.perf_counter()
        schedule = build_schedule(graph, prof, rt, version)
        t2 = time.perf_counter()
        rec = TraceRecorder()
        result = simulate_schedule(schedule, prof, rec)
        est = to_estimate(schedule, prof, result)
        t3 = time.perf_counter()
        times = {"profile_s": t1 - t0, "mapping_s": t2 - t1, "simulation_s": t3 - t2, "total_s": t3 - t0}
        best = {k: min(v, best.get(k, v)) for k, v in times.items()}
        ana = estimate_schedule(schedule, prof)
        out = {
            "profile": prof.id, "model": graph.name, "ops": len(schedule.plans),
            "tiles": sum(g.count for p in schedule.plans for g in p.tiles),
            "trace_events": len(rec.events),
            "latency_ms_event": est.latency_s * 1e3, "latency_ms_analytic": ana.latency_s * 1e3,
            "event_over_analytic": est.latency_s / ana.latency_s,
            "energy_mj_event": est.energy_j * 1e3,
            "utilisation": {k: round(v, 4) for k, v in utilisation(rec.events, result.makespan_s).items()},
        }
    out[f"seconds_best_of_{REPEATS}"] = best
    return out


def cli_seconds(graph: Graph, hw: str) -> dict[str, Any]:
    """`edgesim run MODEL.onnx --hw HW --json OUT` in a fresh process, best of REPEATS: what a user with an int8
    (QDQ) ONNX model waits for, interpreter start and imports included."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model_int8.onnx"
        write_onnx(graph, model)
        best = float("inf")
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "edgesim", "run", str(model), "--hw", hw, "--json",
                            str(Path(tmp) / "out.json")], check=True, capture_output=True)
            best = min(best, time.perf_counter() - t0)
        latency_ms = json.loads((Path(tmp) / "out.json").read_text())["latency_s"] * 1e3
    return {"cli_s": round(best, 3), "latency_ms": latency_ms}


def main() -> None:
    mbv2, mbv2_prep = int8_model("mobilenet_v2")
    r18, r18_prep = int8_model("resnet18")
    a = run(mbv2, "ethos-u55-128")
    a.update(target_s=1.0, model_prep_s=mbv2_prep, cli_end_to_end=cli_seconds(mbv2, "ethos-u55-128"))
    b = run(r18, None, systolic_32x32())
    b.update(target_s=2.0, model_prep_s=r18_prep)
    sq, _ = int8_model("squeezenet")
    c = multicore(sq)
    report = {
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "platform": platform.platform()},
        "mobilenet_v2_224_ethos_u55_128": a,
        "resnet18_systolic_32x32": b,
        "squeezenet_hailo8_clusters": c,
    }
    out = ROOT / "benchmarks" / "results" / "sim.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for key in ("mobilenet_v2_224_ethos_u55_128", "resnet18_systolic_32x32"):
        r = report[key]
        assert isinstance(r, dict)
        secs = r[f"seconds_best_of_{REPEATS}"]
        print(f"{key}: {secs['total_s']:.3f} s (target {r['target_s']} s), {r['tiles']} tiles, "
              f"event {r['latency_ms_event']:.3f} ms vs analytic {r['latency_ms_analytic']:.3f} ms")
        if "cli_end_to_end" in r:
            print(f"  from the CLI (int8 QDQ ONNX, fresh process): {r['cli_end_to_end']}")
    for label, v in c.items():
        if isinstance(v, dict) and "period_ms" in v:
            print(f"squeezenet hailo-8 {label}: {v['period_ms']:.4f} ms between frames, "
                  f"{v['throughput_inf_per_s']:.1f} inf/s, simulated in {v['simulation_s']:.3f} s")
        elif isinstance(v, dict):
            print(f"squeezenet hailo-8 {label}: {v['latency_ms']:.3f} ms, "
                  f"{v['throughput_inf_per_s']:.1f} inf/s, simulated in {v['simulation_s']:.3f} s")


if __name__ == "__main__":
    main()
