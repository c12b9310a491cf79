"""Shared bits of the tutorial scripts: where figures go, the fast switch, and profile edits.

EDGESIM_DOCS_FAST=1 shrinks sweeps and simulated time so the test suite can run every script in seconds;
EDGESIM_DOCS_OUT redirects the figures (the test writes them to a temporary folder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = REPO.parent / "shared" / "models"
FAST = os.environ.get("EDGESIM_DOCS_FAST", "") not in ("", "0")


def out_path(name: str) -> Path:
    out = Path(os.environ.get("EDGESIM_DOCS_OUT", HERE / "figures"))
    out.mkdir(parents=True, exist_ok=True)
    return out / name


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
