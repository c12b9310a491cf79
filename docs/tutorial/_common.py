"""Shared bits of the tutorial scripts: where figures and numbers go, the fast switch, and profile edits.

Every script writes its figure and the numbers memory_wall.md quotes (``quote``) into the build folder
``docs/tutorial/_build/`` (untracked; EDGESIM_DOCS_OUT redirects it), never into tracked files.
EDGESIM_DOCS_FAST=1 shrinks sweeps and simulated time for a quick look (its numbers are not the quoted ones)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = REPO / "edgesim" / "data" / "models"  # the bundled MLPerf Tiny models (edgesim.files.data_path)
FAST = os.environ.get("EDGESIM_DOCS_FAST", "") not in ("", "0")


BUILD = HERE / "_build"
_NUMBERS: dict[str, str] = {}


def out_path(name: str) -> Path:
    out = Path(os.environ.get("EDGESIM_DOCS_OUT", BUILD))
    out.mkdir(parents=True, exist_ok=True)
    return out / name


def quote(key: str, value: float, fmt: str) -> str:
    """``value`` formatted as memory_wall.md quotes it (``<!--q:SCRIPT.key-->text<!--/q-->``), recorded in
    ``_build/numbers/SCRIPT.json`` so a test compares the page with what the script computes."""
    text = format(value, fmt)
    _NUMBERS[key] = text
    path = out_path("numbers") / f"{Path(sys.argv[0]).stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_NUMBERS, indent=1, sort_keys=True) + "\n")
    return text


def with_memory_size(profile: Any, memory: str, size_bytes: int) -> Any:
    """The profile with one memory level resized, re-validated like a YAML edit would be."""
    from edgesim.hw.schema import HardwareProfile

    data = profile.model_dump()
    for mem in data["memories"]:
        if mem["name"] == memory:
            mem["size_bytes"] = int(size_bytes)
    return HardwareProfile.model_validate(data)


def bytes_per_level(est: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for layer in est.layers:
        for mem, rd, wr in layer.bytes_by_memory:
            total[mem] = total.get(mem, 0) + rd + wr
    return total


def int8(graph: Any, preset: str = "int8") -> Any:
    """Post-training quantization with one random calibration sample: enough for cost, not for accuracy."""
    from edgesim.passes.quantize import QuantSpec, quantize_graph

    return quantize_graph(graph, QuantSpec(preset=preset, num_calibration_samples=1))


def save(fig: Any, name: str) -> Path:
    import matplotlib.pyplot as plt

    path = out_path(name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")
    return path
