"""TensorRT has no CPU execution path (issue #17): on the Jetson Nano's Maxwell GPU (sm_53, no DP4A) an int8
engine cannot be built, so an int8 run is refused with device, runtime and op named instead of silently moving
every layer to the Cortex-A57s; fp16 runs on the GPU, and int8 still runs on an Orin's tensor cores."""

from __future__ import annotations

import pytest

from edgesim.errors import EdgesimError
from edgesim.hw.loader import load_runtime
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunSpec, TransformOptions, run


def _run(hw: str, quant: str):  # type: ignore[no-untyped-def]
    opts = TransformOptions(quant=QuantPreset(quant), calibration="fixed", accuracy=False)
    return run(RunSpec("resnet8", hw, "tensorrt", transform=opts))


def test_tensorrt_declares_no_cpu_fallback() -> None:
    rt, _ = load_runtime("tensorrt", note_missing_version=False)
    assert rt.host_fallback is False


def test_int8_on_maxwell_is_refused_with_device_runtime_and_op() -> None:
    with pytest.raises(EdgesimError) as err:
        _run("jetson-nano", "int8")
    msg = err.value.message
    assert "jetson-nano" in msg and "tensorrt" in msg and "int8" in msg and "CONV2D" in msg


@pytest.mark.parametrize(("hw", "quant"), [("jetson-nano", "fp16"), ("jetson-orin-nano", "int8")])
def test_supported_precisions_run_on_the_gpu(hw: str, quant: str) -> None:
    result = _run(hw, quant)
    units = {p.unit for p in result.schedule.plans if p.macs}
    assert units == {"gpu"} and not any(p.fallback for p in result.schedule.plans)
