"""Fidelity against measured silicon (../shared/reference/mlperf_tiny.csv), pinned as regression bounds.

The bounds are today's achieved figures plus a small margin (docs/validation.md), not the issue's targets:
a change to a profile, runtime or the cost model that makes predictions worse fails here.
"""

from __future__ import annotations

import pytest

from tests.conftest import DATA

SHARED = DATA
REF = SHARED / "reference" / "mlperf_tiny.csv"


@pytest.fixture(scope="module")
def lobo():  # type: ignore[no-untyped-def]
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("bundled reference data (edgesim/data) not present")
    from edgesim.validate.calibrate import leave_one_benchmark_out

    return leave_one_benchmark_out(REF)


def test_every_reference_row_is_predicted(plain) -> None:  # type: ignore[no-untyped-def]
    assert not plain.skipped, [s.error for s in plain.skipped]
    assert len(plain.rows) == 157


def test_uncalibrated_profiles_pinned(plain) -> None:  # type: ignore[no-untyped-def]
    o = plain.overall
    assert o.latency_median_ape <= 0.08  # 5.8% on 2026-11-25 (15.5% before core-class scales, 1x1-conv and
    assert o.latency_mape <= 0.12  # 10.1%              per-release per-op factors, and the MVP's own kernels)
    assert o.latency_spearman is not None and o.latency_spearman >= 0.97  # 0.99
    for b in plain.benchmarks:
        assert b.latency_mape <= 0.15, b  # 8.5% (anomaly_detection) .. 12.3% (visual_wake_words)
        assert b.latency_median_ape <= 0.10, b  # 3.0% .. 8.3%
        # the ranking target, per benchmark across devices: 0.93 (image_classification) .. 0.97
        assert b.latency_spearman is not None and b.latency_spearman >= 0.90, b
    assert o.energy_mape is not None and o.energy_mape <= 0.16  # 14.9% (22.4% one k_ML, 50.1% before the rule)


def test_leave_one_benchmark_out_pinned(lobo) -> None:  # type: ignore[no-untyped-def]
    o = lobo.overall
    assert o.rows == 157
    assert o.latency_median_ape <= 0.09  # 7.0% (11.6% before); the target is 10%
    assert o.latency_mape <= 0.13  # 11.3% (19.4% before); the target is 15%
    assert o.latency_spearman is not None and o.latency_spearman >= 0.97  # 0.99
    for b in lobo.benchmarks:
        assert b.latency_mape <= 0.17, b  # worst: visual_wake_words 14.3%
        assert b.latency_spearman is not None and b.latency_spearman >= 0.90, b  # 0.94 .. 0.97


def test_strict_leave_one_benchmark_out_pinned() -> None:
    """LOBO with the runtime also refitted across devices without the held-out rows (the bundled runtime
    profiles were fitted on this file, held-out rows included): the honest figure."""
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("bundled reference data (edgesim/data) not present")
    from edgesim.validate.calibrate import leave_one_benchmark_out

    res = leave_one_benchmark_out(REF, refit_runtime=True)
    o = res.overall
    assert o.rows == 157 and not res.skipped
    assert o.latency_median_ape <= 0.09  # 7.5% on 2026-11-25
    assert o.latency_mape <= 0.15  # 13.0%
    for b in res.benchmarks:
        assert b.latency_mape <= 0.18, b  # worst: visual_wake_words 15.1%
        assert b.latency_spearman is not None and b.latency_spearman >= 0.88, b  # 0.91 (IC) .. 0.97


def test_leave_one_device_out_pinned() -> None:
    """Runtimes refitted without the device, its rows predicted uncalibrated: how profiles carry over to a chip
    they were not fitted on (rows of runtimes measured on one device only are skipped)."""
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("bundled reference data (edgesim/data) not present")
    from edgesim.validate.calibrate import leave_one_device_out

    res = leave_one_device_out(REF)
    o = res.overall
    assert o.rows == 124 and len(res.skipped) == 33  # gapflow, leip, microtvm, onnc: one device each
    assert o.latency_median_ape <= 0.09  # 7.4% on 2026-11-25
    assert o.latency_mape <= 0.14  # 12.0%
    for b in res.benchmarks:
        assert b.latency_mape <= 0.18, b  # worst: visual_wake_words 15.5%
        assert b.latency_spearman is not None and b.latency_spearman >= 0.90, b  # 0.95 .. 0.96


EDGE = SHARED / "reference" / "edge_latency.csv"


def test_edge_latency_rows_pinned() -> None:
    """Coral / Jetson / Hailo rows of edge_latency.csv whose models are in the zoo (int8-quantized)."""
    if not EDGE.is_file():
        pytest.skip("bundled edge_latency.csv (edgesim/data) not present")
    from edgesim.validate import validate

    res = validate(EDGE)
    assert not res.skipped, [s.error for s in res.skipped]
    # OpenCV DNN rows (issue #6: opencv_zoo's Python benchmark on Raspberry Pi 4, Orin Nano CPU/GPU, Khadas Edge2),
    # 16 on 2026-11-25. Fitted rows are listed in hw_profiles/runtimes/opencv-dnn*.yaml; held out: Edge2 fp32
    # -32% and int8 -50%, Orin CPU int8 MobileNet v1 +5% / v2 -27%, Orin CUDA fp32 MobileNet v1 +10%, CUDA fp16
    # MobileNet v1 -26% / v2 -22% (held-out MAPE 24.6%).
    from dataclasses import replace

    from edgesim.validate.core import summarize

    assert res.overall.rows >= 34
    assert res.overall.latency_mape <= 0.13  # 11.7% over all 34 rows; target 25%
    assert res.overall.latency_median_ape <= 0.08  # 6.7%
    opencv = [r for r in res.rows if r.runtime.startswith("opencv-dnn")]
    ocv = summarize("opencv", opencv)
    assert ocv.rows == 16
    assert ocv.latency_mape <= 0.17  # 14.6%
    assert ocv.latency_median_ape <= 0.11  # 8.1%
    units = {r.runtime.split("@")[0] for r in opencv if r.device == "jetson-orin-nano"}
    assert units == {"opencv-dnn", "opencv-dnn-int8", "opencv-dnn-cuda", "opencv-dnn-cuda-fp16"}
    edge2 = {r.runtime.split("@")[0]: r.latency_error or 0.0 for r in opencv if r.device == "rk3588"}
    assert -0.40 <= edge2["opencv-dnn"] <= -0.22  # -32%: predicted on the A76 cluster alone
    assert -0.58 <= edge2["opencv-dnn-int8"] <= -0.40  # -50%
    assert all(abs(r.latency_error or 1.0) <= 0.30 for r in opencv if r.device != "rk3588")  # worst -28%
    # The checks below are on the other engines' rows (18: MAPE 9.0%, median 6.0%, unchanged by the OpenCV rows).
    rest = tuple(r for r in res.rows if not r.runtime.startswith("opencv-dnn"))
    res = replace(res, rows=rest, overall=summarize("ALL", rest), benchmarks=tuple(
        summarize(b, [r for r in rest if r.benchmark == b]) for b in sorted({r.benchmark for r in rest})))
    # 18 on 2026-11-25 (17 + Hailo's mobilenet_v2_1.4, the zoo's alpha=1.4 build): the MLPerf MultiStream row
    # (p99 of an 8-sample query) is not a batch-1 latency
    assert res.overall.rows >= 18
    assert res.overall.latency_median_ape <= 0.08  # 6.0% (the 17 older rows 4.9%; 13.4% at session start)
    assert res.overall.latency_mape <= 0.11  # 9.0% (17 older rows 7.9%, 8.5% before issue #6; 29.4%); target 25%
    # Hailo model-zoo rows are FPS of a pipelined stream: predicted as the event engine's steady-state period on
    # Hailo-8's 8 clusters. resnet_v1_50 and mobilenet_v1 set HailoRT's CONV2D / DEPTHWISE_CONV2D efficiencies;
    # EfficientNet-Lite0 -23% and MobileNet v2 1.4 -29% are held out (-34% / -37% as one inference's latency).
    hailo = {r.benchmark: r for r in res.rows if r.device == "hailo-8"}
    assert {r.metric for r in hailo.values()} == {"throughput"}
    assert all(abs(hailo[b].latency_error or 1.0) <= 0.02 for b in ("resnet50", "mobilenet_v1"))
    assert -0.28 <= (hailo["efficientnet_lite0"].latency_error or 1.0) <= -0.15
    assert -0.34 <= (hailo["mobilenet_v2_1.4"].latency_error or 1.0) <= -0.20
    by = {b.benchmark: b for b in res.benchmarks}
    assert by["mobilenet_v1"].latency_median_ape <= 0.08  # 4.9%
    assert by["squeezenet1_0"].latency_mape <= 0.10  # 2.0% (Coral's SqueezeNet is v1.0; +77% as v1.1)
    # Coral ResNet-50 (25 MB of weights, 8 MB cached on chip, the rest streamed each inference): -9%
    coral_r50 = [r for r in res.rows if r.device == "coral-edgetpu" and r.benchmark == "resnet50"]
    assert coral_r50 and all(abs(r.latency_error or 1.0) <= 0.15 for r in coral_r50)
    worst = max(abs(r.latency_error or 0.0) for r in res.rows)
    assert worst <= 0.32  # Hailo-8 MobileNet v2 1.4 -29% (EfficientNet-Lite0 was -34%, -73% before that)


# ethos-u-vela 5.2.0 `vela MODEL --accelerator-config A`, column inference_time of the summary CSV, in ms, recorded
# 2026-11-25. U55: default system config Ethos_U55_High_End_Embedded (500 MHz, Shared_Sram). U65: the config the
# ethos-u65-256 profile models, `--system-config Ethos_U65_High_End --memory-mode Dedicated_Sram` (1 GHz; Vela's
# U65 default is Ethos_U65_Client_Server + Dedicated_Sram_384KB: 0.104 / 0.055 / 0.153 / 0.043 / 0.020 / 0.511).
VELA_MS = {
    "ethos-u55-128": {"pretrainedResnet_quant": 0.4035, "kws_ref_model": 0.1798, "vww_96_int8": 0.4417,
                      "ad01_int8": 0.4024, "str_ww_ref_model": 0.1194, "pretrainedResnet_large_int8": 2.1820},
    "ethos-u55-256": {"pretrainedResnet_quant": 0.2839, "kws_ref_model": 0.1167, "vww_96_int8": 0.3229,
                      "ad01_int8": 0.4024, "str_ww_ref_model": 0.1140, "pretrainedResnet_large_int8": 1.4697},
    "ethos-u65-256": {"pretrainedResnet_quant": 0.1134, "kws_ref_model": 0.0569, "vww_96_int8": 0.2461,
                      "ad01_int8": 0.0582, "str_ww_ref_model": 0.0284, "pretrainedResnet_large_int8": 0.5424},
}
# Today's signed errors vs Vela (block-stepping MAC model, entropy-coded weights, input bursts), same model order:
# U55-128: +2%, -5%, -11%, -3%, +4%, -9%; U55-256: -4%, -2%, -12%, -3%, +6%, -11% (all within the 20%);
# U65-256: -8%, -14%, -10%, +8%, +3%, -18% (the network input read from DRAM in Dedicated_Sram mode: VWW was -55%).
VELA_BOUND = {"ethos-u55-128": 0.15, "ethos-u55-256": 0.15, "ethos-u65-256": 0.21}


@pytest.mark.parametrize("accel", sorted(VELA_MS))
def test_ethos_u55_against_vela_estimator(accel: str) -> None:
    if not (SHARED / "models").is_dir():
        pytest.skip("bundled models (edgesim/data/models) not present")
    from edgesim.api import estimate, load_model

    for model, vela_ms in VELA_MS[accel].items():
        est = estimate(load_model(str(SHARED / "models" / f"{model}.tflite")), accel, "vela")
        err = est.latency_s * 1e3 / vela_ms - 1.0
        assert abs(err) <= VELA_BOUND[accel], (accel, model, f"{err:+.0%}")
