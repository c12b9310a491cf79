"""Quantization shrinks bytes more than it shrinks work: ResNet-8 in float32, float16 and int8.

MACs stay the same while every tensor gets 2x (fp16) or 4x (int8) smaller. Whether latency follows the bytes
depends on what binds: the Cortex-M7 here is compute-bound, so its latency follows its MAC rate instead."""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import bytes_per_level, int8, quote, save

from edgesim.api import estimate, load_profile
from edgesim.passes.fusion import fold_batch_norm, fuse_activations
from edgesim.zoo import build

profile = load_profile("stm32h7a3")
float_graph = fuse_activations(fold_batch_norm(build("resnet8")))
variants = {"fp32": float_graph, "fp16": int8(float_graph, "fp16"), "int8": int8(float_graph)}
base = None
rows = []
for label, graph in variants.items():
    est = estimate(graph, profile)
    moved = sum(bytes_per_level(est).values())
    base = base or (moved, est.macs, est.latency_s)
    rows.append((label, moved / base[0], est.macs / base[1], est.latency_s / base[2]))
    quote(f"{label}_moved_mb", moved / 1e6, ".2f")
    print(f"{label:5s}: {moved:9d} B moved, {est.total_weight_bytes:7d} B weights, {est.macs} MACs, "
          f"{est.latency_s * 1e3:.2f} ms")

fig, ax = plt.subplots(figsize=(8, 4.2))
width = 0.27
for k, (name, colour) in enumerate((("bytes moved", "tab:orange"), ("MACs", "tab:blue"),
                                    ("latency", "tab:green"))):
    ax.bar([i + k * width for i in range(len(rows))], [r[1 + k] for r in rows], width, label=name, color=colour)
ax.set_xticks([i + width for i in range(len(rows))])
ax.set_xticklabels([r[0] for r in rows])
ax.set_ylabel("relative to fp32")
ax.set_ylim(0, 1.3)
ax.legend(fontsize=8)
ax.set_title("ResNet-8 on STM32H7A3: quantization shrinks bytes, not MACs")
save(fig, "quantization.png")

by_label = {r[0]: r for r in rows}
quote("int8_latency_x", by_label["int8"][3], ".2f")
quote("fp16_latency_x", by_label["fp16"][3], ".2f")
