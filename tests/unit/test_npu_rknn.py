"""RKNN specifics (issue #17): RKNPU1 chips (RV1126/RV1109/RK1808) have no activation x activation MatMul, so
YOLO11's attention runs on the CPU there and on the NPU of RKNPU2 chips; per-op-class efficiencies order the
kernels as the RKNN user guide describes (depthwise far below dense 3x3 convs per MAC)."""

from __future__ import annotations

import pytest

from edgesim.hw.loader import load_runtime
from edgesim.mapping.compute import kernel_efficiency
from edgesim.pipeline import run
from edgesim.validate.npu_vendor import VendorRow, row_spec


def _run(device: str, runtime: str, network: str, shape: str):  # type: ignore[no-untyped-def]
    row = VendorRow(line=2, device=device, runtime=runtime, network=network, input_shape=shape, threads=None,
                    precision="int8", metric="latency", measured_ms=1.0)
    return run(row_spec(row))


@pytest.mark.parametrize(("device", "runtime", "on_cpu"), [("rv1126", "rknn@1.7.5", True),
                                                           ("rk1808", "rknn@1.7.5", True),
                                                           ("rk3588", "rknn@2.3.2", False)])
def test_attention_matmul_falls_back_to_the_cpu_on_rknpu1_only(device: str, runtime: str, on_cpu: bool) -> None:
    res = _run(device, runtime, "yolo11n", "1x3x160x160")
    matmuls = [p for p in res.schedule.plans if p.op == "MATMUL"]
    assert matmuls, "yolo11n's C2PSA block has MatMuls"
    assert all(p.fallback == on_cpu and (p.unit == "cpu") == on_cpu for p in matmuls)
    convs = [p for p in res.schedule.plans if p.op == "CONV2D"]
    assert convs and all(p.unit == "npu" and not p.fallback for p in convs)


def test_rknn_kernel_classes_and_npu_generations() -> None:
    rt, v2 = load_runtime("rknn@2.3.2", note_missing_version=False)
    _, v1 = load_runtime("rknn@1.7.5", note_missing_version=False)
    dense, pointwise, depthwise = (kernel_efficiency(rt, v2, k) for k in ("CONV2D", "CONV2D_1X1",
                                                                           "DEPTHWISE_CONV2D"))
    assert depthwise < pointwise / 10 < dense / 10
    # RKNPU1 reaches a smaller share of its nominal MACs on convs than RKNPU2 (same SDK table, older NPU).
    assert kernel_efficiency(rt, v1, "CONV2D") < dense and kernel_efficiency(rt, v1, "CONV2D_1X1") < pointwise
    # The CPU fallback kernels have their own table (rknn's float reference code, not the NPU's).
    assert rt.efficiency_for("MATMUL", "cpu") != rt.efficiency_for("MATMUL", "mac_array")


def test_a_transposed_convolution_runs_at_the_runtimes_conv_rate() -> None:
    """No runtime lists CONV_TRANSPOSE2D: it ran at the 'default' rate meant for elementwise ops (0.035 on rknn),
    so YOLOv8s-seg's one 2x2/2 ConvTranspose2d (2% of its MACs) took 8 of 46 ms on the RK3588. The compilers
    lower it to convolutions, so it takes CONV2D's rate."""
    rknn = load_runtime("rknn", quiet=True)[0]
    assert "CONV_TRANSPOSE2D" not in rknn.kernel_efficiency
    assert rknn.efficiency_for("CONV_TRANSPOSE2D") == rknn.efficiency_for("CONV2D") > rknn.efficiency_for("ADD")
    result = run(row_spec(VendorRow(line=2, device="rk3588", runtime="rknn", network="yolov8s_seg", precision="int8",
                                    metric="latency", measured_ms=1.0, input_shape="1x3x640x640", threads=None,
                                    batch=1, hw="rk3588", precision_stated=True)))
    deconv = [layer for layer in result.estimate.layers if layer.op == "CONV_TRANSPOSE2D"]
    assert len(deconv) == 1 and deconv[0].latency_s < 0.02 * result.latency_s
