"""What ``edgesim calibrate`` fitted (``edgesim.validate.calibrate``): the runtime's kernel efficiencies, overheads
and per-release scales, their errors before, fitted and left out, and the runtime YAML that extends the original
with them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CalibrationResult:
    hw: str
    runtime: str
    base_version: str
    kernel_efficiency: dict[str, float]
    per_op_overhead_cycles: float
    per_inference_overhead_cycles: float
    version_scales: dict[str, float]  # geometric mean over the fitted op groups, per version
    rows: int
    fit_errors: tuple[float, ...]  # signed relative error per row with all rows fitted
    loo_errors: tuple[float, ...]  # signed relative error per row when that row is left out of the fit
    before_errors: tuple[float, ...]  # the original profile's errors
    # version -> fitted group (FITTED_OPS) -> efficiency multiplier relative to the base version
    version_op_scales: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def fit_mape(self) -> float:
        return float(np.mean(np.abs(self.fit_errors))) if self.fit_errors else math.nan

    @property
    def loo_mape(self) -> float:
        return float(np.mean(np.abs(self.loo_errors))) if self.loo_errors else math.nan

    @property
    def before_mape(self) -> float:
        return float(np.mean(np.abs(self.before_errors))) if self.before_errors else math.nan

    def summary(self) -> str:
        eff = ", ".join(f"{k} {v:.3f}" for k, v in self.kernel_efficiency.items())
        vs = "; ".join(f"{k} " + " ".join(f"{o} x{x:.2f}" for o, x in self.version_op_scales.get(k, {}).items())
                       for k in self.version_scales) or "-"
        return (f"calibrated {self.runtime} on {self.hw} from {self.rows} rows\n"
                f"  kernel efficiency: {eff}\n"
                f"  per-op overhead {self.per_op_overhead_cycles:.0f} cycles, per-inference "
                f"{self.per_inference_overhead_cycles:.0f} cycles\n"
                f"  version scales: {vs}\n"
                f"  MAPE before {self.before_mape:.1%}, fitted {self.fit_mape:.1%}, "
                f"leave-one-out {self.loo_mape:.1%}")

    def write_calibrated_profile(self, path: str | Path, *, new_id: str | None = None) -> Path:
        """A runtime YAML that ``extends:`` the original and overrides only the fitted numbers."""
        import yaml

        from edgesim.files import atomic_write_text
        from edgesim.hw.loader import load_runtime

        base, _ = load_runtime(self.runtime)
        base_v = base.version(self.base_version)
        versions = []
        for v in base.versions:
            entry: dict[str, Any] = {"version": v.version}
            fitted = self.version_op_scales.get(v.version)
            if v.version == self.base_version:
                # The fitted kernel efficiencies already include the base release's scales.
                entry.update(efficiency_scale=1.0, overhead_scale=1.0, note="calibrated (base)")
            elif fitted is not None:
                # Ops outside the fitted groups keep the release's plain scale relative to the base release.
                plain = v.efficiency_scale / base_v.efficiency_scale
                entry.update(efficiency_scale=round(plain, 4), overhead_scale=1.0, note="calibrated")
                entry["op_efficiency_scale"] = {o: round(float(x / plain), 4) for o, x in fitted.items()}
            else:
                # Not in the data: keep its speed relative to the base release.
                entry.update(efficiency_scale=round(v.efficiency_scale / base_v.efficiency_scale, 4),
                             overhead_scale=v.overhead_scale, note=v.note or "not calibrated")
                ops = {o: round(v.scale_for(o) / base_v.scale_for(o) * base_v.efficiency_scale
                                / v.efficiency_scale, 4)
                       for o in set(v.op_efficiency_scale) | set(base_v.op_efficiency_scale)}
                if ops:
                    entry["op_efficiency_scale"] = ops
            if v.unit_op_efficiency_scale:
                # Vendor programs are not fitted: the inherited unit_kernel_efficiency keeps each release's scale.
                entry["unit_op_efficiency_scale"] = {k.value: dict(t) for k, t in v.unit_op_efficiency_scale.items()}
            versions.append(entry)
        body = {
            "extends": self.runtime,
            "id": new_id or f"{self.runtime}-calibrated",
            "description": f"{base.description} (calibrated on {self.hw}, {self.rows} measurements)",
            "versions": versions,
            "default_version": base.default_version,
            "kernel_efficiency": {k: round(float(v), 5) for k, v in self.kernel_efficiency.items()},
            "per_op_overhead_cycles": round(float(self.per_op_overhead_cycles), 1),
            "per_inference_overhead_cycles": round(float(self.per_inference_overhead_cycles), 1),
        }
        header = (f"# Written by `edgesim calibrate`: least squares in log space on {self.rows} measurements "
                  f"of {self.hw}.\n# MAPE before {self.before_mape:.1%}, fitted {self.fit_mape:.1%}, "
                  f"leave-one-out {self.loo_mape:.1%}.\n")
        return atomic_write_text(path, header + yaml.safe_dump(body, sort_keys=False))
