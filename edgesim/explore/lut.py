"""Per-block latency/energy lookup tables (the table once-for-all style NAS uses) and how far their sums are
from whole-network estimates."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.explore.nas import FastCostModel, FullEstimator


@dataclass(frozen=True)
class LutRow:
    resolution: int
    stage: int  # -1 for the base row
    block: int
    kernel: int
    expand: int
    kind: str  # "base", "delta" (always-present block, relative to the first choice) or "block" (added block)
    latency_s: float
    energy_j: float


def lut_rows(model: FastCostModel, resolutions: list[int] | None = None) -> list[LutRow]:
    """Rows of the table: one base row per resolution (stem, head and every stage at minimum depth with the
    first kernel/expand choices) and one row per (stage, block, kernel, expand). A network's cost is the base
    row plus the rows of its present blocks."""
    rows: list[LutRow] = []
    for res in resolutions or [model.resolution]:
        tab = model.table(res)
        rows.append(LutRow(res, -1, -1, 0, 0, "base", tab.base_latency_s, tab.base_energy_j))
        for s in range(model.n_stages):
            for b in range(model.blocks):
                kind = "delta" if b < tab.min_depth else "block"
                for ki, k in enumerate(tab.kernels):
                    for ei, e in enumerate(tab.expands):
                        rows.append(LutRow(res, s, b, k, e, kind, float(tab.latency_s[s, b, ki, ei]),
                                           float(tab.energy_j[s, b, ki, ei])))
    return rows


def export_lut(model: FastCostModel, path: str | Path, resolutions: list[int] | None = None) -> Path:
    """Write the table as CSV (``.csv``) or JSON (``.json``, with the profile/space metadata)."""
    from edgesim.files import atomic_write_csv, atomic_write_text

    rows = lut_rows(model, resolutions)
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        return atomic_write_csv(target, list(LutRow.__dataclass_fields__), (asdict(r) for r in rows))
    if suffix == ".json":
        doc = {"space": model.space.name, "model": model.space.model, "profile": model.profile.id,
               "runtime": model.runtime, "quant": model.quant, "rule": "cost = base + sum of rows of present blocks",
               "rows": [asdict(r) for r in rows]}
        return atomic_write_text(target, json.dumps(doc, indent=1) + "\n")
    raise EdgesimError(f"lookup table must be .csv or .json, got '{target.name}'", field="output")


def load_lut(path: str | Path) -> list[LutRow]:
    """Rows of a table written by ``export_lut`` (CSV or JSON)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        raw: list[dict[str, Any]] = json.loads(p.read_text())["rows"]
    else:
        with p.open(newline="", encoding="utf-8") as fh:
            raw = list(csv.DictReader(fh))
    return [LutRow(int(r["resolution"]), int(r["stage"]), int(r["block"]), int(r["kernel"]), int(r["expand"]),
                   str(r["kind"]), float(r["latency_s"]), float(r["energy_j"])) for r in raw]


def lut_sum(rows: list[LutRow], arch: dict[str, Any], resolution: int, blocks_per_stage: int) -> tuple[float, float]:
    """(latency_s, energy_j) of ``arch`` summed from table rows alone (what a NAS using the exported table
    computes)."""
    index = {(r.stage, r.block, r.kernel, r.expand): r for r in rows if r.resolution == resolution}
    base = next((r for r in rows if r.resolution == resolution and r.kind == "base"), None)
    if base is None:
        raise EdgesimError(f"the table has no rows for resolution {resolution}", field="resolution")
    lat, en = base.latency_s, base.energy_j
    for s, d in enumerate(arch["depths"]):
        for b in range(int(d)):
            i = s * blocks_per_stage + b
            r = index[(s, b, int(arch["kernel_sizes"][i]), int(arch["expand_ratios"][i]))]
            lat += r.latency_s
            en += r.energy_j
    return lat, en


@dataclass(frozen=True)
class Agreement:
    """Relative errors of the table sums against whole-network estimates over ``n`` random architectures."""

    n: int
    reference: str
    latency_median_rel_err: float
    latency_max_rel_err: float
    energy_median_rel_err: float
    energy_max_rel_err: float
    order_violations: int  # pairs whose reference latencies differ by > order_tolerance but swap order
    pairs_checked: int
    order_tolerance: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def agreement(model: FastCostModel, n: int = 100, seed: int = 0, full: FullEstimator | None = None,
              reference: str = "analytic", order_tolerance: float = 0.10, calibrate: bool = False) -> Agreement:
    """Compare ``model.estimate`` with ``full`` (default: the model's own reference) on ``n`` random
    architectures at the model's resolution (``calibrate``: quantize the references with real calibration)."""
    rng = np.random.default_rng(seed)
    archs = [model.space.sample(rng) for _ in range(n)]
    fast = np.array([model.estimate(a) for a in archs])
    ref_fn = full or model.full
    ref = np.array([ref_fn(model.spec(a, calibrate=calibrate)) for a in archs])
    rel = np.abs(fast - ref) / np.abs(ref)
    lat_f, lat_r = fast[:, 0], ref[:, 0]
    i, j = np.triu_indices(n, 1)
    far = np.abs(lat_r[i] - lat_r[j]) > order_tolerance * np.minimum(lat_r[i], lat_r[j])
    swapped = np.sign(lat_f[i] - lat_f[j]) != np.sign(lat_r[i] - lat_r[j])
    return Agreement(n, reference, float(np.median(rel[:, 0])), float(rel[:, 0].max()),
                     float(np.median(rel[:, 1])), float(rel[:, 1].max()), int(np.sum(far & swapped)),
                     int(np.sum(far)), order_tolerance)


__all__ = ["Agreement", "LutRow", "agreement", "export_lut", "load_lut", "lut_rows", "lut_sum"]
