"""A fast latency/energy cost model for once-for-all style NAS: a per-block table lookup plus a sum.

Each block's cost is measured by differencing whole-network estimates from the pipeline driver (the same run
as ``edgesim run --fast``), so whatever the mapper does (fusion, placement, fallbacks) is in the table; the table
is exact where the per-layer costs are additive and the benchmark (benchmarks/bench_nas.py) measures the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.explore.sweep import Progress
from edgesim.hw.schema import HardwareProfile
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import Engine, RunSpec, TransformOptions, resolve_profile, run

# (latency_s, energy_j) of one whole network, asked of the driver
FullEstimator = Callable[[RunSpec], tuple[float, float]]


def analytic_full(spec: RunSpec) -> tuple[float, float]:
    """Whole-network (latency_s, energy_j) from the analytic path, the reference the table is built from."""
    est = run(replace(spec, engine=Engine.ANALYTIC)).estimate
    return float(est.latency_s), float(est.energy_j)


def simulated_full(spec: RunSpec) -> tuple[float, float]:
    """Whole-network (latency_s, energy_j) from the SimPy event engine."""
    est = run(replace(spec, engine=Engine.EVENT)).estimate
    return float(est.latency_s), float(est.energy_j)


@dataclass(frozen=True)
class BlockTable:
    """Per-block costs for one resolution. Arrays are indexed [stage, block, kernel index, expand index];
    ``base_*`` is the network with every stage at minimum depth and every block at the first choices, and
    entries of the always-present blocks are deltas relative to that first choice (so theirs is 0)."""

    resolution: int
    kernels: tuple[int, ...]
    expands: tuple[int, ...]
    min_depth: int
    base_latency_s: float
    base_energy_j: float
    latency_s: np.ndarray
    energy_j: np.ndarray


class FastCostModel:
    """``estimate(arch)`` -> (latency_s, energy_j) for points of an OFA MobileNetV3-style search space, by table
    lookup. ``arch`` is a ``SearchSpace.sample`` dict (kernel_sizes, expand_ratios, depths, optional resolution).
    ``quant`` (int8, w4a8, ...) costs the post-training-quantized network, as ``edgesim run --quant`` would;
    without it the zoo's float32 network is costed (which NPUs run on their host CPU). ``full`` picks the
    whole-network path the table is measured with: "analytic" (``api.estimate``, default), "engine" (the SimPy
    event engine, about 1.5x slower to build) or a callable (graph, profile, runtime) -> (latency_s, energy_j).
    Building a table takes ~170 whole-network estimates: ``progress`` shows them on stderr (or on the stream
    given); False keeps quiet."""

    def __init__(self, profile: str | Path | HardwareProfile, runtime: str | None = None, space: str = "ofa_mobilenet_v3",
                 resolution: int = 224, full: FullEstimator | str | None = None, quant: str | None = None,
                 progress: bool | TextIO = True) -> None:
        from edgesim.zoo import search_space

        self.profile = resolve_profile(profile)
        self.runtime = runtime
        self.space = search_space(space)
        self.resolution = int(resolution)
        if full is None or full == "analytic":
            self.full: FullEstimator = analytic_full
        elif full == "engine":
            self.full = simulated_full
        elif callable(full):
            self.full = full
        else:
            raise EdgesimError(f"unknown reference '{full}'; use 'analytic', 'engine' or a callable", field="full")
        if quant is not None and quant not in list(QuantPreset):
            raise EdgesimError(f"unknown quantization preset '{quant}'; choose {', '.join(QuantPreset)}",
                               field="quant")
        self.quant = QuantPreset(quant) if quant is not None else None
        self._tables: dict[int, BlockTable] = {}
        self.progress = progress
        self.kernels = self.space.choice("kernel_sizes").values
        self.expands = self.space.choice("expand_ratios").values
        self.depth_values = self.space.choice("depths").values
        self.n_stages = len(self.space.stages)
        self.blocks = self.space.blocks_per_stage
        self._k_index = {k: i for i, k in enumerate(self.kernels)}
        self._e_index = {e: i for i, e in enumerate(self.expands)}
        self.table(self.resolution)

    # -- table construction ------------------------------------------------------------------------------
    def spec(self, arch: Mapping[str, Any], resolution: int | None = None, calibrate: bool = False) -> RunSpec:
        """The driver's question for ``arch``: the zoo network with those choices, quantized as ``edgesim run
        --quant`` would (``calibrate``: measure activation ranges, which costs the same but takes seconds)."""
        point = {k: v for k, v in arch.items() if k != "resolution"}
        res = int(resolution or arch.get("resolution", self.resolution))
        choices = tuple(sorted({**point, "resolution": res}.items()))
        transform = TransformOptions(quant=self.quant, accuracy=False,
                                     calibration="minmax" if calibrate else "fixed")
        return RunSpec(self.space.model, self.profile, self.runtime, zoo_choices=choices, transform=transform)

    def _full_point(self, point: Mapping[str, Any], resolution: int) -> tuple[float, float]:
        out = self.full(self.spec(point, resolution))
        if self._bar is not None:
            self._bar.update(1)
        return out

    _bar: Progress | None = None

    def table_size(self) -> int:
        """Whole-network estimates one table takes: the base, per block its kernel x expand choices (less the
        base's own for always-present blocks), and the shorter reference network for each optional block but
        the first."""
        min_depth = min(self.depth_values)
        choices = len(self.kernels) * len(self.expands)
        per_stage = sum(choices - (1 if b < min_depth else 0) + (1 if b > min_depth else 0)
                        for b in range(self.blocks))
        return 1 + self.n_stages * per_stage

    def _progress_bar(self, resolution: int) -> Progress | None:
        if self.progress is False:
            return None
        stream = None if self.progress is True else self.progress
        return Progress(self.table_size(), stream=stream, label=f"cost table at resolution {resolution}",
                        unit="estimates")

    def table(self, resolution: int) -> BlockTable:
        """The block table for ``resolution`` (built on first use: about 170 whole-network estimates)."""
        if resolution in self._tables:
            return self._tables[resolution]
        if resolution not in self.space.resolutions:
            raise EdgesimError(f"resolution {resolution} is not in search space '{self.space.name}' "
                               f"({self.space.resolutions[0]}..{self.space.resolutions[-1]})", field="resolution")
        n_blocks = self.n_stages * self.blocks
        min_depth = min(self.depth_values)
        k0, e0 = self.kernels[0], self.expands[0]
        base = {"kernel_sizes": [k0] * n_blocks, "expand_ratios": [e0] * n_blocks,
                "depths": [min_depth] * self.n_stages}
        self._bar = self._progress_bar(resolution)
        try:
            return self._build_table(resolution, base, min_depth)
        finally:
            if self._bar is not None:
                self._bar.close()
            self._bar = None

    def _build_table(self, resolution: int, base: dict[str, list[int]], min_depth: int) -> BlockTable:
        base_lat, base_en = self._full_point(base, resolution)
        shape = (self.n_stages, self.blocks, len(self.kernels), len(self.expands))
        lat = np.zeros(shape)
        en = np.zeros(shape)
        for s in range(self.n_stages):
            for b in range(self.blocks):
                flat = s * self.blocks + b
                if b < min_depth:
                    ref_lat, ref_en, depths = base_lat, base_en, base["depths"]
                else:
                    # Block b exists only at depth > b: difference against the network one block shorter.
                    depths = list(base["depths"])
                    depths[s] = b
                    ref_lat, ref_en = (base_lat, base_en) if b == min_depth else self._full_point(
                        {**base, "depths": depths}, resolution)
                    depths = list(depths)
                    depths[s] = b + 1
                for ki, k in enumerate(self.kernels):
                    for ei, e in enumerate(self.expands):
                        if b < min_depth and ki == 0 and ei == 0:
                            continue
                        point = {"kernel_sizes": list(base["kernel_sizes"]),
                                 "expand_ratios": list(base["expand_ratios"]), "depths": depths}
                        point["kernel_sizes"][flat] = k
                        point["expand_ratios"][flat] = e
                        la, ej = self._full_point(point, resolution)
                        lat[s, b, ki, ei] = la - ref_lat
                        en[s, b, ki, ei] = ej - ref_en
        tab = BlockTable(resolution, tuple(self.kernels), tuple(self.expands), min_depth, base_lat, base_en, lat, en)
        self._tables[resolution] = tab
        return tab

    # -- estimates ---------------------------------------------------------------------------------------
    def _indices(self, arch: Mapping[str, Any]) -> tuple[list[int], list[int], list[int]]:
        try:
            ks = [self._k_index[int(k)] for k in arch["kernel_sizes"]]
            es = [self._e_index[int(e)] for e in arch["expand_ratios"]]
            ds = [int(d) for d in arch["depths"]]
        except KeyError as err:
            raise EdgesimError(f"architecture has an invalid or missing choice: {err}", field=str(err)) from None
        if len(ks) != self.n_stages * self.blocks or len(es) != len(ks) or len(ds) != self.n_stages:
            raise EdgesimError("architecture lists have the wrong length", field="kernel_sizes")
        if any(d not in self.depth_values for d in ds):
            raise EdgesimError(f"depths must be in {self.depth_values}, got {ds}", field="depths")
        return ks, es, ds

    def estimate(self, arch: Mapping[str, Any]) -> tuple[float, float]:
        """(latency_s, energy_j) of one architecture."""
        tab = self.table(int(arch.get("resolution", self.resolution)))
        ks, es, ds = self._indices(arch)
        lat_t, en_t = tab.latency_s, tab.energy_j
        lat, en = tab.base_latency_s, tab.base_energy_j
        nb = self.blocks
        for s, d in enumerate(ds):
            for b in range(d):
                i = s * nb + b
                lat += lat_t[s, b, ks[i], es[i]]
                en += en_t[s, b, ks[i], es[i]]
        return float(lat), float(en)

    def encode(self, archs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(kernel index, expand index, present mask) arrays of shape (n, stages*blocks) for ``estimate_batch``."""
        n_flat = self.n_stages * self.blocks
        k = np.zeros((len(archs), n_flat), dtype=np.intp)
        e = np.zeros((len(archs), n_flat), dtype=np.intp)
        mask = np.zeros((len(archs), n_flat), dtype=bool)
        block_pos = np.tile(np.arange(self.blocks), self.n_stages)
        for row, arch in enumerate(archs):
            ks, es, ds = self._indices(arch)
            k[row] = ks
            e[row] = es
            mask[row] = block_pos < np.repeat(ds, self.blocks)
        return k, e, mask

    def estimate_batch(self, archs: Sequence[Mapping[str, Any]] | tuple[np.ndarray, np.ndarray, np.ndarray],
                       resolution: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised (latency_s[n], energy_j[n]) for many architectures at one resolution."""
        tab = self.table(int(resolution or self.resolution))
        k, e, mask = archs if isinstance(archs, tuple) else self.encode(archs)
        stage = np.repeat(np.arange(self.n_stages), self.blocks)
        block = np.tile(np.arange(self.blocks), self.n_stages)
        lat = np.where(mask, tab.latency_s[stage, block, k, e], 0.0).sum(axis=1) + tab.base_latency_s
        en = np.where(mask, tab.energy_j[stage, block, k, e], 0.0).sum(axis=1) + tab.base_energy_j
        return lat, en

    def full_estimate(self, arch: Mapping[str, Any], calibrate: bool = False) -> tuple[float, float]:
        """The whole-network reference for ``arch`` (slow path)."""
        return self.full(self.spec(arch, calibrate=calibrate))


__all__ = ["BlockTable", "FastCostModel", "analytic_full", "simulated_full"]
