"""Pruning helps only where the hardware can skip: 2:4 structured sparsity on two similar-class chips.

Jetson Orin Nano's tensor cores skip the zero half of 2:4-sparse weights and fetch them compressed; the
Raspberry Pi 5's Cortex-A76 cores compute every MAC and read every weight byte whether it is zero or not."""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import bytes_per_level, int8, quote, save

from edgesim.api import estimate, load_profile
from edgesim.passes.fusion import fold_batch_norm, fuse_activations
from edgesim.passes.prune import prune_nm
from edgesim.zoo import build

dense = int8(fuse_activations(fold_batch_norm(build("resnet18", resolution=96))))
sparse = prune_nm(dense, 2, 4)
rows = []
for hw in ("rpi5", "jetson-orin-nano"):
    profile = load_profile(hw)
    d, s = estimate(dense, profile), estimate(sparse, profile)
    lat, moved = s.latency_s / d.latency_s, sum(bytes_per_level(s).values()) / sum(bytes_per_level(d).values())
    rows.append((hw, lat, moved))
    print(f"{hw:18s}: dense {d.latency_s * 1e3:.3f} ms, 2:4 sparse {s.latency_s * 1e3:.3f} ms "
          f"(x{lat:.2f} latency, x{moved:.2f} bytes)")

fig, ax = plt.subplots(figsize=(7, 4))
width = 0.38
ax.bar([i for i in range(len(rows))], [r[1] for r in rows], width, label="latency", color="tab:green")
ax.bar([i + width for i in range(len(rows))], [r[2] for r in rows], width, label="bytes moved", color="tab:orange")
ax.axhline(1.0, color="grey", lw=0.8)
ax.set_xticks([i + width / 2 for i in range(len(rows))])
ax.set_xticklabels([r[0] for r in rows])
ax.set_ylabel("2:4-pruned / dense")
ax.set_ylim(0, 1.15)
ax.legend(fontsize=8)
ax.set_title("ResNet-18 @96 int8, 50% weights zeroed (2:4): only sparse hardware gains")
save(fig, "pruning.png")

for hw, lat, moved in rows:
    quote(f"{hw}_latency_x", lat, ".2f")
    quote(f"{hw}_bytes_x", moved, ".2f")
