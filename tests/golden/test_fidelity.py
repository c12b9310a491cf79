"""Fidelity against measured silicon (../shared/reference/mlperf_tiny.csv), pinned as regression bounds.

The bounds are today's achieved figures plus a small margin (docs/validation.md), not the issue's targets:
a change to a profile, runtime or the cost model that makes predictions worse fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REF = SHARED / "reference" / "mlperf_tiny.csv"


@pytest.fixture(scope="module")
def plain():  # type: ignore[no-untyped-def]
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("../shared reference data not present")
    from edgesim.validate import validate

    return validate(REF)


@pytest.fixture(scope="module")
def lobo():  # type: ignore[no-untyped-def]
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("../shared reference data not present")
    from edgesim.validate.calibrate import leave_one_benchmark_out

    return leave_one_benchmark_out(REF)


def test_every_reference_row_is_predicted(plain) -> None:  # type: ignore[no-untyped-def]
    assert not plain.skipped, [s.error for s in plain.skipped]
    assert len(plain.rows) == 157


def test_uncalibrated_profiles_pinned(plain) -> None:  # type: ignore[no-untyped-def]
    o = plain.overall
    assert o.latency_median_ape <= 0.17  # 15.5% on 2026-11-25 (17.4% before TFLM drove the MVP)
    assert o.latency_mape <= 0.31  # 28.0% (41.0% before)
    assert o.latency_spearman is not None and o.latency_spearman >= 0.95  # 0.96
    for b in plain.benchmarks:
        assert b.latency_median_ape <= 0.21, b  # 12.0% .. 19.2%
        # 0.83 (image_classification) .. 0.95; the x-cube-ai cross-device fit ranks the H7A3 rows too fast
        assert b.latency_spearman is not None and b.latency_spearman >= 0.80, b
    assert o.energy_mape is not None and o.energy_mape <= 0.55  # 50.1% (72.5% before per-cycle MCU energy)


def test_leave_one_benchmark_out_pinned(lobo) -> None:  # type: ignore[no-untyped-def]
    o = lobo.overall
    assert o.rows == 157
    assert o.latency_median_ape <= 0.13  # 11.6% (14.6% before the x-cube-ai/TFLM changes)
    assert o.latency_mape <= 0.21  # 19.4%
    assert o.latency_spearman is not None and o.latency_spearman >= 0.97  # 0.99
    by = {b.benchmark: b for b in lobo.benchmarks}
    assert by["keyword_spotting"].latency_median_ape <= 0.11  # 9.5%
    for b in lobo.benchmarks:
        assert b.latency_mape <= 0.26, b  # worst: anomaly_detection 23.7%
        assert b.latency_spearman is not None and b.latency_spearman >= 0.85, b  # 0.88 .. 0.97


EDGE = SHARED / "reference" / "edge_latency.csv"


def test_edge_latency_rows_pinned() -> None:
    """Coral / Jetson / Hailo rows of edge_latency.csv whose models are in the zoo (int8-quantized)."""
    if not EDGE.is_file():
        pytest.skip("../shared/reference/edge_latency.csv not present")
    from edgesim.validate import validate

    res = validate(EDGE)
    assert not res.skipped, [s.error for s in res.skipped]
    assert res.overall.rows >= 15  # 18 on 2026-11-25
    assert res.overall.latency_median_ape <= 0.15  # 13.4% (20.9% before weights streamed past the 8 MB SRAM)
    assert res.overall.latency_mape <= 0.32  # 29.4%: Hailo lite0, Coral SqueezeNet and one AGX row dominate
    mnv1 = {b.benchmark: b for b in res.benchmarks}["mobilenet_v1"]
    assert mnv1.latency_median_ape <= 0.10  # 8.5%


# ethos-u-vela 5.2.0 `vela MODEL --accelerator-config A` (default system config Ethos_U55_High_End_Embedded,
# 500 MHz, Shared_Sram), column inference_time of the summary CSV, in ms. Recorded 2026-11-25.
VELA_MS = {
    "ethos-u55-128": {"pretrainedResnet_quant": 0.403, "kws_ref_model": 0.180, "vww_96_int8": 0.442,
                      "ad01_int8": 0.402},
    "ethos-u55-256": {"pretrainedResnet_quant": 0.284, "kws_ref_model": 0.117, "vww_96_int8": 0.323,
                      "ad01_int8": 0.402},
}
# Today's signed errors vs Vela (after modelling Vela's weight compression, ratio 0.73):
# 128: -9%, -29%, +8%, +10%; 256: -8%, -15%, +42%, +10%. Bounds pin them.
VELA_BOUND = {"pretrainedResnet_quant": 0.12, "kws_ref_model": 0.32, "vww_96_int8": 0.45, "ad01_int8": 0.13}


@pytest.mark.parametrize("accel", sorted(VELA_MS))
def test_ethos_u55_against_vela_estimator(accel: str) -> None:
    if not (SHARED / "models").is_dir():
        pytest.skip("../shared/models not present")
    from edgesim.api import estimate, load_model

    for model, vela_ms in VELA_MS[accel].items():
        est = estimate(load_model(str(SHARED / "models" / f"{model}.tflite")), accel, "vela")
        err = est.latency_s * 1e3 / vela_ms - 1.0
        assert abs(err) <= VELA_BOUND[model], (accel, model, f"{err:+.0%}")
