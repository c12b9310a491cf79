"""The RKNPU2 profiles size a core's output/elementwise stage (activations, elementwise ops, a fused SiLU epilogue)
by the same rule: one eighth of the core's int8 MAC rate. RK3576's core has 1.5x RK3588's array, so its stage is
1.5x as wide; a copy of RK3588's (128) made SiLU networks' convs epilogue-bound there."""

from __future__ import annotations

import pytest

from edgesim.api import load_profile
from edgesim.hw.schema import Precision

RKNPU2 = ("rk3588", "rk3576", "rk3566", "rk3562")


@pytest.mark.parametrize("profile", RKNPU2)
def test_rknpu2_elementwise_stage_is_an_eighth_of_the_int8_mac_rate(profile: str) -> None:
    npu = load_profile(profile).unit("npu")
    macs = npu.macs_per_cycle[Precision.INT8]
    assert npu.elementwise_ops_per_cycle[Precision.INT8] == pytest.approx(macs / 8)
    # the 16-bit lanes are half the 8-bit ones, as everywhere in the family
    assert npu.elementwise_ops_per_cycle[Precision.INT16] == pytest.approx(macs / 16)


def test_rk3576_silu_convs_scale_with_its_larger_array() -> None:
    """YOLOv8n's SiLU convs (conv + SIGMOID + MUL epilogue) on one RK3576 core (1536 MACs) take ~1/1.5 of their
    time on one RK3588 core (1024 MACs) at the same 1 GHz NPU clock: the epilogue stage scales with the array
    (with RK3588's 128-wide stage they were epilogue-bound at ~0.97x)."""
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, run

    int8 = TransformOptions(quant=QuantPreset("int8"), calibration="fixed", accuracy=False)

    def conv_s(hw: str) -> float:
        res = run(RunSpec("yolov8n", hw, "rknn", input_shape=(1, 3, 320, 320), transform=int8,
                          device_calibration=False))
        convs = [p for p in res.schedule.plans if p.op == "CONV2D" and p.unit == "npu"]
        assert convs and all(p.precision == "int8" for p in convs)
        return sum(p.compute_cycles / p.unit_clock_hz for p in convs)

    assert conv_s("rk3576") < conv_s("rk3588") / 1.4
