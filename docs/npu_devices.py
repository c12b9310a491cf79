"""Regenerate the issue #17 device table in docs/profiles.md from the bundled profiles (never typed by hand).

    python docs/npu_devices.py          # rewrites the block between the markers in docs/profiles.md
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgesim.api import load_profile  # noqa: E402

DEVICES = ["rk3588", "rk3576", "rk3566", "rk3562", "rv1126", "rv1109", "rk1808", "hailo-8l", "hailo-10h",
           "core-ultra-7-155h", "core-ultra-7-165h", "core-ultra-9-288v", "atom-x6425e", "celeron-6305e",
           "core-i7-1185gre", "ncs2", "qcs6490", "qcs8550", "qcs9075", "snapdragon-8-gen3", "snapdragon-x-elite",
           "imx8mp", "imx93", "esp32-s3", "esp32-p4", "vs680", "vs640", "k230", "max78000"]
BEGIN, END = "<!-- npu-devices:begin -->", "<!-- npu-devices:end -->"


def _units(p: object) -> str:
    parts = []
    for u in p.units:  # type: ignore[attr-defined]
        clock = u.effective_clock_mhz(p.clock_mhz)  # type: ignore[attr-defined]
        best = max(u.macs_per_cycle.items(), key=lambda kv: kv[1])
        tops = 2 * best[1] * u.count * clock * 1e6 / 1e12
        parts.append(f"{u.name} ({u.device.value}, {u.count}x, {tops:.3g} TOPS {best[0].value})")
    return "; ".join(parts)


def table() -> str:
    rows = ["| id | units (peak at the modelled clock) | DRAM / main memory | default runtime | sources |",
            "|---|---|---|---|---|"]
    for pid in DEVICES:
        p = load_profile(pid)
        mem = max(p.memories, key=lambda m: m.size_bytes if m.kind.value in ("dram", "flash") else 0)
        bw = mem.read_bw_bytes_per_s(p.clock_mhz) / 1e9
        srcs = "<br>".join(s.split(" ")[0] for s in p.sources if s.startswith("http"))
        rows.append(f"| `{pid}` | {_units(p)} | {mem.size_bytes / 2**30:.3g} GiB, {bw:.3g} GB/s sustained | "
                    f"{p.default_runtime or '-'} | {srcs} |")
    return "\n".join(rows)


def main() -> None:
    page = REPO / "docs" / "profiles.md"
    text = page.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    page.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
