"""Thermal throttling over ten minutes: a Raspberry Pi 5 without a cooler running ResNet-18 back to back.

The question is the one ``edgesim sustain resnet18 --hw rpi5 --quant int8 --input-shape 1x3x160x160 --duration 600``
asks (same RunSpec, so the same runtime, clock table and answer), then again with the fan-cooled ``rpi5-cooler``."""

from __future__ import annotations

from _common import FAST, out_path, quote

from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunSpec, TransformOptions, run
from edgesim.report.plots import plot_sustain
from edgesim.thermal.sustain import sustain

DURATION_S, WINDOW_S = (60.0, 2.0) if FAST else (600.0, 0.5)
INT8 = TransformOptions(quant=QuantPreset.INT8, accuracy=False)


def sustained(hw: str):  # type: ignore[no-untyped-def]
    spec = RunSpec("resnet18", hw, input_shape=(1, 3, 160, 160), transform=INT8)
    return sustain(run(spec), duration_s=DURATION_S, window_s=WINDOW_S)


result = sustained("rpi5")
onset = f"{result.throttle_onset_s:.0f} s" if result.throttle_onset_s is not None else "never"
print(f"throttled: {result.throttled} (onset {onset}), max {result.max_temp_c:.1f} C, "
      f"latency {result.latency_s[0] * 1e3:.2f} -> {result.latency_s[-1] * 1e3:.2f} ms")
print(f"wrote {plot_sustain(result, out_path('thermal.png'))}")
cooled = sustained("rpi5-cooler")
print(f"rpi5-cooler: throttled: {cooled.throttled}, max {cooled.max_temp_c:.1f} C")
if result.throttle_onset_s is not None:
    quote("onset_s", result.throttle_onset_s, ".0f")
quote("max_c", result.max_temp_c, ".0f")
quote("ghz_before", result.freq_mhz[0] / 1e3, ".1f")
quote("ghz_after", result.freq_mhz[-1] / 1e3, ".1f")
quote("ms_before", result.latency_s[0] * 1e3, ".2f")
quote("ms_after", result.latency_s[-1] * 1e3, ".2f")
quote("slower_pct", 100 * (result.latency_s[-1] / result.latency_s[0] - 1), ".0f")
quote("cooler_max_c", cooled.max_temp_c, ".0f")
quote("cooler_throttles", float(cooled.throttled), ".0f")
