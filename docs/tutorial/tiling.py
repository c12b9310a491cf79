"""Tiling and re-reads: bytes one 3x3 convolution moves at each level as its SRAM shrinks.

The conv (56x56x64 -> 128 channels, int8) needs 72 KiB of weights and 196 KiB of input. When they do not fit
together, the tiler re-reads the weights (from flash) once per row tile, or the input (from SRAM) once per
channel tile, whichever costs fewer off-chip bytes."""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import FAST, int8, quote, save, with_memory_size

from edgesim.api import estimate, load_profile
from edgesim.zoo.builder import GraphBuilder

b = GraphBuilder("one_conv")
x = b.input("x", (1, 64, 56, 56))
graph = int8(b.build([b.conv(x, 128, 3, 1)]))
profile = load_profile("ethos-u55-128")
sizes_kb = [24, 128, 512] if FAST else [24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024]
unique = {"weights": 64 * 128 * 9, "input": 64 * 56 * 56, "output": 128 * 56 * 56}

rows = []
for kb in sizes_kb:
    est = estimate(graph, with_memory_size(profile, "sram", kb * 1024))
    conv = next(layer for layer in est.layers if layer.macs > 0)
    moved = {m: (r, w) for m, r, w in conv.bytes_by_memory}
    rows.append((kb, moved.get("flash", (0, 0))[0], moved.get("sram", (0, 0))[0], est.latency_s))
    print(f"sram {kb:5d} KiB: flash read {rows[-1][1]:9d} B, sram read {rows[-1][2]:9d} B, "
          f"{est.latency_s * 1e3:.3f} ms")

fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot([r[0] for r in rows], [r[1] / 1e3 for r in rows], marker="o", label="read from flash (weights)")
ax.plot([r[0] for r in rows], [r[2] / 1e3 for r in rows], marker="s", label="read from SRAM (input + partial sums)")
ax.axhline(unique["weights"] / 1e3, color="tab:blue", ls=":", lw=1, label="weights, read once")
ax.axhline(unique["input"] / 1e3, color="tab:orange", ls=":", lw=1, label="input, read once")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("SRAM size (KiB)")
ax.set_ylabel("kB read by the conv")
ax.set_title("One 3x3 conv, 56x56x64 -> 128, int8 on Ethos-U55-128: re-reads vs SRAM size")
ax.legend(fontsize=8)
ax.grid(True, which="both", lw=0.3)
save(fig, "tiling.png")

flash_once = rows[-1][1]
once_from = min(r[0] for r in rows if r[1] == flash_once)
by_kb = {r[0]: r for r in rows}
quote("flash_once_kb", flash_once / 1e3, ".1f")
quote("once_from_kb", once_from, "d")
quote("mid_kb", 128, "d")
quote("mid_flash_kb", by_kb[128][1] / 1e3, ".0f")
quote("mid_x", by_kb[128][1] / flash_once, ".0f")
quote("small_kb", rows[0][0], "d")
quote("small_flash_mb", rows[0][1] / 1e6, ".2f")
quote("small_x", rows[0][1] / flash_once, ".0f")
quote("small_ms", rows[0][3] * 1e3, ".2f")
quote("large_ms", rows[-1][3] * 1e3, ".2f")
