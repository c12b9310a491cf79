"""Convert ../shared/reference/edge_latency.csv (free-text device/runtime/model names) to the reference format.

Only rows whose device maps to a bundled profile, whose engine maps to a bundled runtime, whose model is in the
zoo and whose precision is int8 are kept; everything else (desktop CPUs, OpenCV DNN, fp16/fp32, detection
models) is dropped, because predicting it would test a guess about the mapping rather than the simulator.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from edgesim.errors import EdgesimError
from edgesim.report.io import atomic_write_text

# (regex on the device column, profile id); first match wins, order matters (USB before Dev Board).
_DEVICES: tuple[tuple[str, str], ...] = (
    (r"^Raspberry Pi 5 \+ Hailo-8$", "hailo-8"),
    (r"^Hailo-8 \(", "hailo-8"),
    (r"Coral USB Accelerator \(USB ?3", "coral-edgetpu-usb"),
    (r"USB Accelerator \(old FAQ\)", "coral-edgetpu-usb"),
    (r"^Coral Dev Board", "coral-edgetpu"),
    (r"^Jetson AGX Orin .*MaxN\)", "jetson-agx-orin"),
    (r"^Jetson Orin Nano 8GB devkit", "jetson-orin-nano"),
    (r"^Raspberry Pi 4( |B|$)", "rpi4"),
    (r"^Raspberry Pi 5$", "rpi5"),
)
_RUNTIMES: tuple[tuple[str, str], ...] = (
    (r"hailort", "hailort"),
    (r"edgetpu|edge tpu", "edgetpu"),
    (r"tensorrt", "tensorrt"),
    (r"tensorflow lite|tflite", "tflite-xnnpack"),
)
_MODELS: tuple[tuple[str, str], ...] = (
    (r"^mobilenet[ _]?v1( \(imagenet\))?$", "mobilenet_v1"),
    (r"^mobilenet[ _]?v2( \(imagenet\))?$", "mobilenet_v2"),
    (r"^resnet-50( v1| v1\.5)?$|^resnet_v1_50$", "resnet50"),
    (r"^squeezenet$", "squeezenet"),
    (r"^efficientnet_lite0$", "efficientnet_lite0"),
)


def _match(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    for pattern, target in table:
        if re.search(pattern, text.strip(), flags=re.I):
            return target
    return None


def convert_edge_latency(edge_csv: str | Path, out_csv: str | Path) -> int:
    """Write the mappable int8 rows of edge_latency.csv as a reference CSV; returns the number of rows."""
    src = Path(edge_csv)
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as exc:
        raise EdgesimError(f"cannot read: {exc.strerror or exc}", file=str(src)) from None
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["device", "runtime", "runtime_version", "clock_mhz", "benchmark", "model_file", "latency_ms",
                "energy_uj", "source"])
    n = 0
    for rec in csv.DictReader(io.StringIO(text)):
        device = _match(_DEVICES, rec.get("device", ""))
        runtime = _match(_RUNTIMES, rec.get("runtime", "") + " " + rec.get("accelerator", ""))
        model = _match(_MODELS, rec.get("model", ""))
        prec = (rec.get("precision") or "").lower()
        lat = (rec.get("latency_ms") or "").strip()
        if not (device and runtime and model and lat) or "int8" not in prec or prec.startswith("int8 for"):
            continue
        if device.startswith("coral") and runtime != "edgetpu":
            continue
        w.writerow([device, runtime, "", "", model, model, lat, "", rec.get("source_url", "")])
        n += 1
    atomic_write_text(out_csv, out.getvalue())
    return n
