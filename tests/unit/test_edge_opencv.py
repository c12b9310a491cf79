"""OpenCV DNN rows of edge_latency.csv (issue #6): row mapping, deployment precision, and the unit each runtime
id runs on."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.validate.core import read_reference
from edgesim.validate.edge import convert_edge_latency
from tests._helpers import reference_graph
from tests.conftest import REFERENCE

HEADER = ("device,accelerator,runtime,model,input_size,precision,batch,metric,latency_ms,throughput_ips,power_w,"
          "energy_mj_per_inf,source_url,source_kind,notes")
OCV = "OpenCV DNN 4.10.0 (python benchmark.py)"
METRIC = "median time incl. pre+post-processing"


def _row(device: str, accel: str, model: str, prec: str, ms: float) -> str:
    return f"{device},{accel},{OCV},{model},224x224,{prec},1,{METRIC},{ms},,,,https://x,bench,note"


def _convert(tmp_path: Path, lines: list[str]) -> list[dict[str, str]]:
    src = tmp_path / "edge.csv"
    src.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    out = tmp_path / "ref.csv"
    n = convert_edge_latency(src, out)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert n == len(rows)
    return rows


def test_opencv_rows_map_device_runtime_precision(tmp_path: Path) -> None:
    rows = _convert(tmp_path, [
        _row("Raspberry Pi 4B (BCM2711 4xA72 @1.5GHz)", "CPU (OpenCV DNN)", "MobileNetV2 (ImageNet)", "fp32", 58.4),
        _row("Raspberry Pi 4B (BCM2711 4xA72 @1.5GHz)", "CPU (OpenCV DNN)", "PP-ResNet50 (ImageNet)", "int8", 395.7),
        _row("Jetson Orin Nano (6xA78AE)", "CPU (OpenCV DNN)", "MobileNetV1 (ImageNet)", "int8", 15.9),
        _row("Jetson Orin Nano", "GPU CUDA FP32 (OpenCV DNN)", "MobileNetV1 (ImageNet)", "fp32", 8.4),
        _row("Jetson Orin Nano", "GPU CUDA FP16 (OpenCV DNN)", "PP-ResNet50 (ImageNet)", "fp16", 14.2),
        _row("Khadas Edge2 (RK3588 4xA76 @2.25GHz + 4xA55)", "CPU (OpenCV DNN)", "MobileNetV2 (ImageNet)", "int8",
             29.3),
    ])
    got = [(r["device"], r["runtime"], r["runtime_version"], r["model_file"], r["precision"]) for r in rows]
    assert got == [
        ("rpi4", "opencv-dnn", "4.10.0", "mobilenet_v2", "fp32"),
        ("rpi4", "opencv-dnn-int8", "4.10.0", "resnet50", "int8"),
        ("jetson-orin-nano", "opencv-dnn-int8", "4.10.0", "mobilenet_v1", "int8"),
        ("jetson-orin-nano", "opencv-dnn-cuda", "4.10.0", "mobilenet_v1", "fp32"),
        ("jetson-orin-nano", "opencv-dnn-cuda-fp16", "4.10.0", "resnet50", "fp16"),
        ("rk3588", "opencv-dnn-int8", "4.10.0", "mobilenet_v2", "int8"),
    ]
    assert all(r["metric"] == "latency" for r in rows)


def test_unprofiled_devices_and_targets_are_dropped(tmp_path: Path) -> None:
    rows = _convert(tmp_path, [
        # no profile for the Jetson Nano (Maxwell, 4x A57) or a desktop i7
        _row("Jetson Nano B01 (4xA57 @1.43GHz)", "CPU (OpenCV DNN)", "MobileNetV1 (ImageNet)", "fp32", 66.0),
        _row("Jetson Nano B01", "GPU CUDA FP16 (OpenCV DNN)", "MobileNetV1 (ImageNet)", "fp16", 131.6),
        _row("Intel Core i7-12700K", "CPU (OpenCV DNN)", "PP-ResNet50 (ImageNet)", "int8", 21.9),
        # no fp16 CPU target, no int8 CUDA target, no zoo model
        _row("Raspberry Pi 4B (BCM2711 4xA72 @1.5GHz)", "CPU (OpenCV DNN)", "MobileNetV2 (ImageNet)", "fp16", 50.0),
        _row("Jetson Orin Nano", "GPU CUDA FP32 (OpenCV DNN)", "MobileNetV2 (ImageNet)", "int8", 9.0),
        _row("Jetson Orin Nano", "GPU CUDA FP32 (OpenCV DNN)", "YuNet", "fp32", 1.0),
    ])
    assert rows == []


def test_existing_rows_stay_int8(tmp_path: Path) -> None:
    line = ("Coral Dev Board,Edge TPU,libedgetpu / TFLite,MobileNet v1,224x224,int8,1,time per inference,2.4,,,,"
            "https://coral.ai,vendor table,n")
    fp32 = line.replace(",int8,", ",fp32,")
    rows = _convert(tmp_path, [line, fp32])
    assert [(r["runtime"], r["runtime_version"], r["precision"]) for r in rows] == [("edgetpu", "", "int8")]


def test_reference_precision_column(tmp_path: Path) -> None:
    ref = tmp_path / "ref.csv"
    ref.write_text("device,runtime,clock_mhz,model_file,latency_ms,precision\n"
                   "rpi4,opencv-dnn,,mobilenet_v2,58.4,FP32\nrpi4,tflite-xnnpack,,mobilenet_v2,20,\n",
                   encoding="utf-8")
    assert [r.precision for r in read_reference(ref)] == ["fp32", "int8"]
    ref.write_text("device,runtime,clock_mhz,model_file,latency_ms,precision\nrpi4,opencv-dnn,,mobilenet_v2,58.4,"
                   "bf16\n", encoding="utf-8")
    with pytest.raises(EdgesimError, match="precision") as exc:
        read_reference(ref)
    assert "\n" not in str(exc.value)


def _mac_precisions(graph: object) -> set[str]:
    from edgesim.ir.ops import OpClass
    from edgesim.ir.work import node_work

    return {node_work(graph, n).precision for n in graph.nodes  # type: ignore[attr-defined]
            if n.op.op_class is OpClass.MAC}


def test_zoo_model_deployed_at_row_precision() -> None:
    assert _mac_precisions(reference_graph("mobilenet_v1@96", "fp32")) == {"fp32"}
    assert _mac_precisions(reference_graph("mobilenet_v1@96", "fp16")) == {"fp16"}
    assert _mac_precisions(reference_graph("mobilenet_v1@96")) == {"int8"}
    with pytest.raises(EdgesimError, match="precision"):
        reference_graph("mobilenet_v1@96", "int3")


@pytest.mark.parametrize(("runtime", "precision", "unit"), [
    ("opencv-dnn", "fp32", "cpu"),
    ("opencv-dnn-int8", "int8", "cpu"),
    ("opencv-dnn-cuda", "fp32", "gpu"),
    ("opencv-dnn-cuda-fp16", "fp16", "gpu"),
])
def test_runtime_id_picks_the_backend_unit(runtime: str, precision: str, unit: str) -> None:
    from edgesim.api import load_profile
    from edgesim.hw.loader import load_runtime
    from edgesim.mapping.mapper import build_schedule

    rt, version = load_runtime(f"{runtime}@4.10.0")
    assert version.version == "4.10.0"
    sched = build_schedule(reference_graph("mobilenet_v1@96", precision), load_profile("jetson-orin-nano"),
                           rt, version)
    convs = [p for p in sched.plans if p.op in ("CONV2D", "DEPTHWISE_CONV2D")]
    assert convs and {p.unit for p in convs} == {unit}
    assert {p.precision for p in convs} == {precision}


def test_cuda_fp16_faster_than_fp32_and_int8_depthwise_slow() -> None:
    """Physical orderings the rows show: the fp16 target beats fp32 on ResNet-50-class convs, and OpenCV's int8
    depthwise kernel makes int8 MobileNet v2 slower than fp32 on the same CPU (61.3 vs 58.4 ms on a Pi 4)."""
    from edgesim.api import estimate, load_profile

    orin = load_profile("jetson-orin-nano")
    g32, g16 = reference_graph("resnet50@112", "fp32"), reference_graph("resnet50@112", "fp16")
    assert estimate(g16, orin, "opencv-dnn-cuda-fp16").latency_s < estimate(g32, orin, "opencv-dnn-cuda").latency_s
    pi = load_profile("rpi4")
    m32, m8 = reference_graph("mobilenet_v2@160", "fp32"), reference_graph("mobilenet_v2@160")
    assert estimate(m8, pi, "opencv-dnn-int8").latency_s > estimate(m32, pi, "opencv-dnn").latency_s


def test_shared_file_opencv_rows(tmp_path: Path) -> None:
    edge = REFERENCE / "edge_latency.csv"
    if not edge.is_file():
        pytest.skip("bundled edge_latency.csv (edgesim/data) not present")
    out = tmp_path / "ref.csv"
    convert_edge_latency(edge, out)
    rows = [r for r in read_reference(out) if r.runtime.startswith("opencv-dnn")]
    assert len(rows) == 16
    assert {r.device for r in rows} == {"rpi4", "jetson-orin-nano", "rk3588"}
    assert {(r.runtime, r.precision) for r in rows} == {
        ("opencv-dnn", "fp32"), ("opencv-dnn-int8", "int8"), ("opencv-dnn-cuda", "fp32"),
        ("opencv-dnn-cuda-fp16", "fp16")}
    assert {r.runtime_version for r in rows} == {"4.10.0"}
