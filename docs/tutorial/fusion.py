"""Operator fusion: the same float ResNet-8 with BatchNorm and ReLU as separate ops, and folded into the convs.

Separate ops each read and write a whole activation tensor; fused, the conv writes its output once."""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import bytes_per_level, quote, save

from edgesim.api import estimate, load_profile
from edgesim.passes.fusion import fold_batch_norm, fuse_activations
from edgesim.zoo import build

profile = load_profile("stm32h7a3")
unfused = build("resnet8")
fused = fuse_activations(fold_batch_norm(unfused))
results = {}
for label, graph in (("separate BN + ReLU", unfused), ("fused", fused)):
    est = estimate(graph, profile, fuse=False)  # the graph as built: the driver's own fusion pass stays off
    results[label] = (len(graph.nodes), bytes_per_level(est), est.latency_s, est.macs)
    print(f"{label:20s}: {len(graph.nodes):3d} ops, bytes {bytes_per_level(est)}, {est.latency_s * 1e3:.2f} ms, "
          f"{est.macs} MACs")

levels = sorted({m for r in results.values() for m in r[1]})
fig, (ax_b, ax_l) = plt.subplots(1, 2, figsize=(10, 4))
width = 0.38
for i, (label, (ops, moved, _, _)) in enumerate(results.items()):
    ax_b.bar([j + i * width for j in range(len(levels))], [moved.get(m, 0) / 1e6 for m in levels], width,
             label=f"{label} ({ops} ops)")
ax_b.set_xticks([j + width / 2 for j in range(len(levels))])
ax_b.set_xticklabels(levels)
ax_b.set_ylabel("MB moved per inference")
ax_b.legend(fontsize=8, loc="upper left")
ax_l.bar(list(results), [r[2] * 1e3 for r in results.values()], color=["tab:blue", "tab:orange"])
ax_l.set_ylabel("latency (ms)")
fig.suptitle("ResNet-8 (float32) on STM32H7A3: fusion removes activation traffic, MACs unchanged")
save(fig, "fusion.png")

(ops_a, bytes_a, lat_a, _), (ops_b, bytes_b, lat_b, _) = results.values()
quote("macs_m", next(iter(results.values()))[3] / 1e6, ".1f")
quote("ops_before", ops_a, "d")
quote("ops_after", ops_b, "d")
quote("sram_before_mb", bytes_a["sram"] / 1e6, ".2f")
quote("sram_after_mb", bytes_b["sram"] / 1e6, ".2f")
quote("ms_before", lat_a * 1e3, ".1f")
quote("ms_after", lat_b * 1e3, ".1f")
quote("drop_pct", 100 * (1 - lat_b / lat_a), ".0f")
