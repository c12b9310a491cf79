"""External check of the Jetson Nano (Maxwell) TensorRT model (issue #17): edgesim's fp16 batch-1 latency next to
public TensorRT timings of the same networks on a Jetson Nano. These timings are a check only, never a fit target
(npu_vendor.csv has no TensorRT-engine row on a Maxwell GPU). Writes benchmarks/results/nano_external.json.

Run: python benchmarks/bench_nano_external.py
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.passes.choices import QuantPreset  # noqa: E402
from edgesim.pipeline import RunSpec, TransformOptions, run  # noqa: E402

NVIDIA = "https://developer.nvidia.com/embedded/jetson-nano-dl-inference-benchmarks"
TORCH2TRT = "https://github.com/NVIDIA-AI-IOT/torch2trt/blob/master/benchmarks/JETSON_NANO.md"


@dataclass(frozen=True)
class Published:
    model: str
    input_shape: str
    ms: float
    source: str
    note: str


# TensorRT FP16, batch 1, Jetson Nano (10 W). NVIDIA's page gives FPS (ms = 1000 / FPS); torch2trt gives latency.
PUBLISHED = (
    Published("resnet50", "1x3x224x224", 1000 / 36, NVIDIA, "36 FPS"),
    Published("ssd_mobilenet_v2_coco", "1x3x300x300", 1000 / 39, NVIDIA,
              "39 FPS, UFF sample (TF ssd_mobilenet_v2_coco, 3x3 conv predictors) incl. the NMS plugin"),
    Published("yolov3_tiny", "1x3x416x416", 1000 / 25, NVIDIA, "25 FPS"),
    Published("resnet18", "1x3x224x224", 11.4, TORCH2TRT, "latency, fp16_mode"),
    Published("resnet34", "1x3x224x224", 20.2, TORCH2TRT, "latency, fp16_mode"),
    Published("resnet50", "1x3x224x224", 29.8, TORCH2TRT, "latency, fp16_mode"),
    Published("densenet121", "1x3x224x224", 24.8, TORCH2TRT, "latency, fp16_mode"),
    Published("squeezenet1_1", "1x3x224x224", 4.34, TORCH2TRT, "latency, fp16_mode"),
)


def _predict_ms(model: str, input_shape: str) -> float:
    opts = TransformOptions(quant=QuantPreset("fp16"), calibration="fixed", accuracy=False)
    shape = tuple(int(d) for d in input_shape.split("x"))
    with contextlib.redirect_stderr(io.StringIO()):
        res = run(RunSpec(model, "jetson-nano", "tensorrt", transform=opts, input_shape=shape))
    return res.estimate.latency_s * 1e3


def main() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for p in PUBLISHED:
        pred = _predict_ms(p.model, p.input_shape)
        rows.append({"model": p.model, "input_shape": p.input_shape, "published_ms": round(p.ms, 2),
                     "predicted_ms": round(pred, 2), "error": round(pred / p.ms - 1, 3), "source": p.source,
                     "note": p.note})
        print(f"{p.model:18s} {p.input_shape:13s} published {p.ms:6.1f} ms  predicted {pred:6.1f} ms  "
              f"{pred / p.ms - 1:+.0%}  ({p.note})")
    out = ROOT / "benchmarks" / "results" / "nano_external.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
