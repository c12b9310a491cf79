"""Arithmetic intensity against SRAM size: how many ops each byte fetched from flash buys, per model.

Below the size where a model's working set fits, the tiler must re-fetch weights or inputs from flash, so
intensity at the flash level falls and latency rises."""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import FAST, MODELS, bytes_per_level, int8, quote, save, with_memory_size

from edgesim.api import estimate, load_model, load_profile
from edgesim.errors import EdgesimError
from edgesim.zoo import build

profile = load_profile("ethos-u55-128")
sizes_kb = [16, 64, 256] if FAST else [12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024]
models = {"vww_96_int8": load_model(MODELS / "vww_96_int8.tflite"),
          "resnet (CIFAR) int8": load_model(MODELS / "pretrainedResnet_quant.tflite")}
if not FAST:
    models["mobilenet_v1 0.5 @160 int8"] = int8(build("mobilenet_v1", resolution=160, alpha=0.5))

fig, (ax_ai, ax_lat) = plt.subplots(1, 2, figsize=(11, 4.2))
curves = {}
for label, graph in models.items():
    xs, ai, lat = [], [], []
    for kb in sizes_kb:
        try:
            est = estimate(graph, with_memory_size(profile, "sram", kb * 1024))
        except EdgesimError:  # some op cannot be tiled into this little SRAM at all
            continue
        flash = bytes_per_level(est).get("flash", 0)
        xs.append(kb)
        ai.append(2 * est.macs / flash)
        lat.append(est.latency_s * 1e3)
        print(f"{label:28s} sram {kb:5d} KiB: {flash:9d} B from flash, intensity {ai[-1]:7.1f} ops/B, "
              f"{lat[-1]:.3f} ms")
    curves[label] = (xs, ai, lat)
    ax_ai.plot(xs, ai, marker="o", label=label)
    ax_lat.plot(xs, [v / lat[-1] for v in lat], marker="o", label=label)
for ax in (ax_ai, ax_lat):
    ax.set_xscale("log", base=2)
    ax.set_xlabel("SRAM size (KiB)")
    ax.grid(True, which="both", lw=0.3)
ax_ai.set_ylabel("ops per byte read from flash")
ax_lat.set_ylabel(f"latency relative to {sizes_kb[-1]} KiB SRAM")
ax_ai.legend(fontsize=8)
fig.suptitle("Ethos-U55-128: arithmetic intensity at the flash level vs SRAM size")
save(fig, "ai_vs_sram.png")


def knee_kb(xs: list[int], ys: list[float]) -> int:
    """The smallest SRAM from which the curve stays at its last value (to 0.5%)."""
    k = len(ys) - 1
    while k > 0 and abs(ys[k - 1] - ys[-1]) <= 0.005 * ys[-1]:
        k -= 1
    return xs[k]


xs, ai, lat = curves["resnet (CIFAR) int8"]
quote("resnet_full_ai", ai[-1], ".0f")
quote("resnet_knee_kb", knee_kb(xs, ai), "d")
quote("resnet_smallest_kb", xs[0], "d")
quote("resnet_smallest_ai", ai[0], ".0f")
xs, ai, _ = curves["vww_96_int8"]
quote("vww_knee_kb", knee_kb(xs, ai), "d")
if not FAST:
    xs, ai, lat = curves["mobilenet_v1 0.5 @160 int8"]
    quote("mnv1_knee_kb", knee_kb(xs, ai), "d")
    quote("mnv1_smallest_kb", xs[0], "d")
    quote("mnv1_flash_x", ai[-1] / ai[0], ".1f")  # same MACs: the intensity ratio is the flash-bytes ratio
    quote("mnv1_slower_x", lat[0] / lat[-1], ".1f")
