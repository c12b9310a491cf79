"""Thermal throttling over ten minutes: a Raspberry Pi 5 without a cooler running ResNet-18 back to back."""

from __future__ import annotations

from _common import FAST, int8, out_path

from edgesim.passes.fusion import fold_batch_norm, fuse_activations
from edgesim.pipeline import RunSpec, run
from edgesim.report.plots import plot_sustain
from edgesim.thermal.sustain import sustain
from edgesim.zoo import build

graph = int8(fuse_activations(fold_batch_norm(build("resnet18", resolution=160))))
result = sustain(run(RunSpec(graph, "rpi5")), duration_s=60.0 if FAST else 600.0, window_s=2.0 if FAST else 0.5)
onset = f"{result.throttle_onset_s:.0f} s" if result.throttle_onset_s is not None else "never"
print(f"throttled: {result.throttled} (onset {onset}), max {result.max_temp_c:.1f} C, "
      f"latency {result.latency_s[0] * 1e3:.2f} -> {result.latency_s[-1] * 1e3:.2f} ms")
print(f"wrote {plot_sustain(result, out_path('thermal.png'))}")
