"""Network-rank mechanisms of issue #17 (round 4): the host cores that run RKNPU1's CPU fallback (YOLO11's attention
MatMuls) differ in NEON width: the RV1126/RV1109's Cortex-A7 retires 32 bits of NEON a cycle, the RK1808's
Cortex-A35 has the A53's 64-bit NEON pipeline, so the RK1808's two slower-clocked cores run the fallback faster than
the RV1109's two A7s."""

from __future__ import annotations

from edgesim.api import load_profile
from edgesim.hw.schema import UnitKind
from edgesim.pipeline import run
from edgesim.validate.npu_vendor import VendorRow, row_spec


def _cpu_rate(profile_id: str, precision: str) -> float:
    profile = load_profile(profile_id)
    cpu = next(u for u in profile.units if u.kind is UnitKind.CPU)
    return float(cpu.macs_per_cycle[precision])


def test_a7_neon_is_half_the_a53_and_a35_rate() -> None:
    for precision in ("int8", "fp32"):
        a53 = _cpu_rate("imx8mp", precision)
        assert _cpu_rate("rk1808", precision) == a53
        assert _cpu_rate("rv1126", precision) == _cpu_rate("rv1109", precision) == a53 / 2


def _fallback_matmul_s(device: str) -> float:
    row = VendorRow(line=2, device=device, runtime="rknn@1.7.5", network="yolo11n", input_shape="1x3x160x160",
                    threads=None, precision="int8", metric="latency", measured_ms=1.0)
    plans = [p for p in run(row_spec(row)).schedule.plans if p.op == "MATMUL"]
    assert plans and all(p.unit == "cpu" and p.fallback for p in plans)
    return sum(p.compute_cycles / p.unit_clock_hz for p in plans)


def test_rk1808_a35s_run_the_attention_fallback_faster_than_rv1109_a7s() -> None:
    # Both have two cores; the A35s clock 1.2 GHz against the A7s' 1.512 GHz but retire twice the NEON MACs a
    # cycle: 1.512 / 1.2 / 2 = 0.63 of the RV1109's time (1.26x as long if both were A7-class, as before).
    ratio = _fallback_matmul_s("rk1808") / _fallback_matmul_s("rv1109")
    assert 0.55 < ratio < 0.72
