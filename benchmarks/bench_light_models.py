"""The nine ONNX model-zoo CNNs shipped with the onnx wheel (onnx/backend/test/data/light), end to end: import,
float execution against onnx's stored output, int8 quantization (as `edgesim run --quant int8`: 4 synthetic
calibration samples), and the analytic latency/energy on a CPU profile (rpi5) and an NPU profile (ethos-u55-256),
float and int8, with the time each step takes. Also the ONNX node-test conformance summary.

Writes benchmarks/results/light_models.json. Run: python benchmarks/bench_light_models.py
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.api import estimate, load_profile  # noqa: E402
from edgesim.frontends.onnx_import import import_onnx  # noqa: E402
from edgesim.passes.float_exec import run_float  # noqa: E402
from edgesim.passes.optimize import optimize, options_from_cli  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
PROFILES = ("rpi5", "ethos-u55-256")


def _model_row(path: Path, profiles: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    g = import_onnx(path)
    t1 = time.perf_counter()
    shape = g.tensors[g.inputs[0]].shape
    n = int(np.prod(shape))
    x = (np.arange(n).reshape(shape) / n).astype(np.float32)  # onnx's backend runner input for these models
    y = run_float(g, {g.inputs[0]: x})[g.outputs[0]]
    want = numpy_helper.to_array(onnx.load_tensor(str(path).replace(".onnx", "_output_0.pb")))
    t2 = time.perf_counter()
    q = optimize(g, options_from_cli(quant="int8", graph=g))
    t3 = time.perf_counter()
    row: dict[str, Any] = {
        "model": path.stem.removeprefix("light_"), "nodes": len(g.nodes),
        "ops": sorted({n.op.value for n in g.nodes}),
        "float_max_abs_error_vs_onnx": float(np.max(np.abs(y - want))),
        "import_s": round(t1 - t0, 3), "float_exec_s": round(t2 - t1, 3), "quantize_int8_s": round(t3 - t2, 3),
    }
    for pid, prof in profiles.items():
        fp, i8 = estimate(g, prof), estimate(q, prof)
        row[pid] = {"fp32_latency_ms": fp.latency_s * 1e3, "int8_latency_ms": i8.latency_s * 1e3,
                    "fp32_energy_mj": fp.energy_j * 1e3, "int8_energy_mj": i8.energy_j * 1e3}
    return row


def main() -> dict[str, Any]:
    from tests.conformance import onnx_node

    profiles = {p: load_profile(p) for p in PROFILES}
    rows = [_model_row(p, profiles) for p in sorted(LIGHT.glob("light_*.onnx"))]
    t0 = time.perf_counter()
    outcomes = onnx_node.run_all()
    suite_s = time.perf_counter() - t0
    result = {
        "machine": platform.machine(), "python": platform.python_version(), "onnx": onnx.__version__,
        "models": rows,
        "conformance": {"summary": onnx_node.summary(outcomes).splitlines(), "run_s": round(suite_s, 1)},
    }
    out = ROOT / "benchmarks" / "results" / "light_models.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        cells = "  ".join(f"{p}: {r[p]['fp32_latency_ms']:.3g} -> {r[p]['int8_latency_ms']:.3g} ms" for p in PROFILES)
        print(f"{r['model']:14s} err {r['float_max_abs_error_vs_onnx']:.1e}  quant {r['quantize_int8_s']:.1f} s  {cells}")
    print("\n".join(result["conformance"]["summary"]))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
