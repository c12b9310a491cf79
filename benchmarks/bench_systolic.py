"""Time the closed-form systolic model on ResNet-18 (224x224) and write benchmarks/results/systolic.json.

Run: python benchmarks/bench_systolic.py
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from edgesim.mapping.systolic import SystolicLayer, compute_cycles, memory_stalls

# (name, input hw, kernel, in ch, out ch, stride, total padding): the 20 convs of torchvision ResNet-18.
RESNET18: list[tuple[str, int, int, int, int, int, int]] = [
    ("conv1", 224, 7, 3, 64, 2, 6),
    *[(f"layer1.{i}", 56, 3, 64, 64, 1, 2) for i in range(4)],
    ("layer2.0.conv1", 56, 3, 64, 128, 2, 2),
    ("layer2.0.downsample", 56, 1, 64, 128, 2, 0),
    *[(f"layer2.{i}", 28, 3, 128, 128, 1, 2) for i in range(3)],
    ("layer3.0.conv1", 28, 3, 128, 256, 2, 2),
    ("layer3.0.downsample", 28, 1, 128, 256, 2, 0),
    *[(f"layer3.{i}", 14, 3, 256, 256, 1, 2) for i in range(3)],
    ("layer4.0.conv1", 14, 3, 256, 512, 2, 2),
    ("layer4.0.downsample", 14, 1, 256, 512, 2, 0),
    *[(f"layer4.{i}", 7, 3, 512, 512, 1, 2) for i in range(3)],
]

CONFIGS = [(32, 32, "os"), (256, 256, "os"), (256, 256, "ws"), (256, 256, "is")]


def resnet18_layers() -> list[tuple[str, SystolicLayer]]:
    return [
        (name, SystolicLayer.from_conv((hw, hw), (k, k), cin, cout, (s, s), (pad, pad)))
        for name, hw, k, cin, cout, s, pad in RESNET18
    ]


def run_once(layers: list[tuple[str, SystolicLayer]], rows: int, cols: int, dataflow: str) -> dict[str, int]:
    compute = stalls = macs = 0
    for _, layer in layers:
        c = compute_cycles(layer, rows, cols, dataflow)
        m = memory_stalls(layer, rows, cols, dataflow, 512 * 1024, 512 * 1024, 256 * 1024, 1, 32.0)
        compute += c.compute_cycles
        stalls += m.stall_cycles
        macs += layer.macs
    return {"compute_cycles": compute, "stall_cycles": stalls, "macs": macs}


def main() -> None:
    layers = resnet18_layers()
    assert len(layers) == 20
    results = []
    for rows, cols, dataflow in CONFIGS:
        repeats = 200
        t0 = time.perf_counter()
        for _ in range(repeats):
            totals = run_once(layers, rows, cols, dataflow)
        per_run_ms = (time.perf_counter() - t0) / repeats * 1e3
        util = totals["macs"] / (totals["compute_cycles"] * rows * cols)
        results.append({"array": f"{rows}x{cols}", "dataflow": dataflow, "layers": len(layers),
                        "ms_per_network": round(per_run_ms, 4), **totals, "compute_util": round(util, 4)})
        print(f"{rows}x{cols} {dataflow}: {per_run_ms:.3f} ms per ResNet-18, {totals['compute_cycles']} cycles")
    out = Path(__file__).resolve().parent / "results" / "systolic.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "resnet18_224_systolic", "python": platform.python_version(), "results": results}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
