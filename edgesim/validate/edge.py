"""Convert ../shared/reference/edge_latency.csv (free-text device/runtime/model names) to the reference format.

Only batch-1 rows whose device maps to a bundled profile, whose engine maps to a bundled runtime, whose model is
in the zoo and whose precision is int8 are kept, plus the OpenCV DNN rows (opencv_zoo benchmark) at int8, fp16 or
fp32, whose precision goes to the ``precision`` column (the zoo model is quantized, converted to fp16 or kept
float). Everything else (desktop CPUs, Jetson Nano, other engines' fp16/fp32 rows, detection models, MLPerf
MultiStream/Offline batches) is dropped, because predicting it would test a guess about the mapping rather than
the simulator. The input size and the Edge TPU runtime's clock (libedgetpu1-std) carry over, and so
does what a row measures: one inference's latency, or the period of a stream of frames (``metric`` column,
predicted as every door's steady stream, ``edgesim.pipeline.stream.steady_period_s``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from edgesim.errors import EdgesimError
from edgesim.files import atomic_write_text

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
    # opencv_zoo benchmark rows: the Orin Nano's CPU (6x A78AE) and GPU (CUDA) rows, the Khadas Edge2 (RK3588).
    # Jetson Nano B01 (Maxwell GPU, 4x A57) and the Intel i7-12700K have no profile and stay unmapped.
    (r"^Jetson Orin Nano( \(6xA78AE\))?$", "jetson-orin-nano"),
    (r"^Khadas Edge2 \(RK3588", "rk3588"),
)
# OpenCV DNN: the CPU backend's float layers, its separate int8 layers (dnn/src/int8layers, run on int8 rows) and
# the CUDA backend (cuDNN) with its DNN_TARGET_CUDA (fp32) and DNN_TARGET_CUDA_FP16 targets. One runtime id per
# backend/target pair, because each is its own set of kernels (and the CUDA ones run on another unit).
OPENCV_CPU = "opencv-dnn"
OPENCV_CPU_INT8 = "opencv-dnn-int8"
OPENCV_CUDA = "opencv-dnn-cuda"
OPENCV_CUDA_FP16 = "opencv-dnn-cuda-fp16"
_OPENCV_PRECISIONS = ("int8", "fp16", "fp32")
_OPENCV_VERSION = re.compile(r"opencv dnn (\d+(?:\.\d+)+)", flags=re.I)

_RUNTIMES: tuple[tuple[str, str], ...] = (
    (r"hailort", "hailort"),
    # OpenCV DNN's CUDA backend (cuDNN) vs its CPU backend: the accelerator column names the target.
    (r"opencv dnn.*\bcuda\b|\bcuda\b.*opencv dnn", OPENCV_CUDA),
    (r"opencv dnn", OPENCV_CPU),
    (r"edgetpu|edge tpu", "edgetpu"),
    (r"tensorrt", "tensorrt"),
    (r"tensorflow lite|tflite", "tflite-xnnpack"),
)
_MODELS: tuple[tuple[str, str], ...] = (
    (r"^mobilenet[ _]?v1( \(imagenet\))?$", "mobilenet_v1"),
    (r"^mobilenet[ _]?v2( \(imagenet\))?$", "mobilenet_v2"),
    # Hailo's width-1.4 MobileNet v2 (OPS 1.18 G = 0.59 G MACs; the zoo's alpha=1.4 build has 0.58 G)
    (r"^mobilenet_v2_1\.4$", "mobilenet_v2:alpha=1.4"),
    (r"^resnet-50( v1| v1\.5)?$|^resnet_v1_50$", "resnet50"),
    # opencv_zoo's PP-ResNet50 is PaddleHub's ResNet50_vd (ssld weights, 82.3% top-1): ResNet-50 with a 3-conv
    # stem and avg-pool downsampling shortcuts, 4.35 G MACs vs the zoo's ResNet-50 v1.5 4.1 G (PaddleClas model
    # list), so the zoo model is ~6% light on work; no zoo variant closer exists.
    (r"^pp-resnet ?50( \(imagenet\))?$", "resnet50"),
    # Coral's table says only "SqueezeNet"; its CPU time there (232 ms, 1.41x MobileNet v1's 164 ms on the same
    # CPU) matches SqueezeNet 1.0 (819 M MACs, 1.44x MobileNet v1), not 1.1 (349 M, 0.61x).
    (r"^squeezenet$|^squeezenet[ _]?v?1\.?0$", "squeezenet1_0"),
    (r"^squeezenet[ _]?v?1\.?1$", "squeezenet"),
    (r"^efficientnet_lite0$", "efficientnet_lite0"),
)


# Input resolution every zoo model above is built at by default; rows at another size carry "@<size>" in
# model_file (edgesim.validate.core.reference_spec asks the driver for the zoo model at that resolution).
_ZOO_DEFAULT_RESOLUTION = 224
# libedgetpu1-std runs the Edge TPU at its reduced clock (coral.ai/docs/edgetpu/performance): such rows are
# predicted at the Edge TPU profile's lowest DVFS operating point instead of the default (libedgetpu1-max) clock.
_EDGETPU_STD = re.compile(r"libedgetpu1?-std", flags=re.I)


# Rows whose number is a frame rate of a stream, not one inference: the Hailo model zoo's "FPS batch=1 (streaming
# throughput, NOT single-frame latency)", whose latency_ms is 1000 / FPS. On a dataflow chip frames overlap in the
# pipeline, so that is the period between frames, shorter than a frame's latency.
_THROUGHPUT_METRIC = re.compile(r"\bFPS\b|throughput", flags=re.I)


def row_metric(metric_text: str) -> str:
    """"throughput" for a stream's frame rate (predicted as the steady-state period), else "latency"."""
    return "throughput" if _THROUGHPUT_METRIC.search(metric_text or "") else "latency"


def _match(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    for pattern, target in table:
        if re.search(pattern, text.strip(), flags=re.I):
            return target
    return None


def _resolution(text: str) -> int | None:
    """224 for "224x224"; None for a non-square or unparsable size (the zoo default is used)."""
    m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text or "")
    return int(m.group(1)) if m and m.group(1) == m.group(2) else None


def _lowest_operating_point(device: str) -> float:
    from edgesim.pipeline import resolve_profile

    prof = resolve_profile(device)
    return min((p.freq_mhz for p in prof.dvfs.operating_points), default=float(prof.clock_mhz))


def _opencv_row(runtime: str, prec: str, runtime_text: str) -> tuple[str, str, str] | None:
    """(runtime id, version, precision) of an OpenCV DNN row: int8 rows on the CPU run OpenCV's int8 layers, fp16
    rows on CUDA the DNN_TARGET_CUDA_FP16 target; None for a precision the backend has no target for."""
    if prec not in _OPENCV_PRECISIONS or (runtime, prec) in ((OPENCV_CPU, "fp16"), (OPENCV_CUDA, "int8")):
        return None
    m = _OPENCV_VERSION.search(runtime_text)
    rid = {(OPENCV_CPU, "int8"): OPENCV_CPU_INT8, (OPENCV_CUDA, "fp16"): OPENCV_CUDA_FP16}.get((runtime, prec),
                                                                                            runtime)
    return rid, (m.group(1) if m else ""), prec


def convert_edge_latency(edge_csv: str | Path, out_csv: str | Path) -> int:
    """Write the mappable rows of edge_latency.csv as a reference CSV; returns the number of rows."""
    src = Path(edge_csv)
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as exc:
        raise EdgesimError(f"cannot read: {exc.strerror or exc}", file=str(src)) from None
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["device", "runtime", "runtime_version", "clock_mhz", "benchmark", "model_file", "latency_ms",
                "energy_uj", "metric", "precision", "source"])
    n = 0
    std_clock: dict[str, float] = {}
    for rec in csv.DictReader(io.StringIO(text)):
        device = _match(_DEVICES, rec.get("device", ""))
        runtime = _match(_RUNTIMES, rec.get("runtime", "") + " " + rec.get("accelerator", ""))
        model = _match(_MODELS, rec.get("model", ""))
        prec = (rec.get("precision") or "").lower()
        lat = (rec.get("latency_ms") or "").strip()
        opencv = None
        if runtime in (OPENCV_CPU, OPENCV_CUDA):
            opencv = _opencv_row(runtime, prec.strip(), rec.get("runtime", ""))
            if opencv is None:
                continue
        elif "int8" not in prec or prec.startswith("int8 for"):
            continue
        if not (device and runtime and model and lat):
            continue
        runtime, version, precision = opencv or (runtime, "", "int8")
        if device.startswith("coral") and runtime != "edgetpu":
            continue
        if (rec.get("batch") or "1").strip() != "1":
            # MLPerf MultiStream ("8/query": p99 latency of an 8-sample batch) and Offline (samples/s of a
            # batched, multi-engine run) rows measure batched throughput; the zoo builds batch-1 graphs and the
            # engine simulates one inference, so these rows are not comparable with a prediction.
            continue
        clock = ""
        if runtime == "edgetpu" and _EDGETPU_STD.search(rec.get("runtime", "")):
            if device not in std_clock:
                std_clock[device] = _lowest_operating_point(device)
            clock = f"{std_clock[device]:g}"
        res = _resolution(rec.get("input_size", ""))
        model_file = model if res in (None, _ZOO_DEFAULT_RESOLUTION) else f"{model}@{res}"
        benchmark = model.replace(":alpha=", "_")  # mobilenet_v2_1.4, as the source names it
        w.writerow([device, runtime, version, clock, benchmark, model_file, lat, "", row_metric(rec.get("metric", "")),
                    precision, rec.get("source_url", "")])
        n += 1
    atomic_write_text(out_csv, out.getvalue())
    return n
