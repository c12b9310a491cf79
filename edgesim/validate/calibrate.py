"""Fit a runtime's free parameters to measured latencies: bounded least squares in log space.

Free parameters: kernel efficiency of CONV2D, DEPTHWISE_CONV2D, FULLY_CONNECTED and 'default' (every other op),
per-op and per-inference overhead cycles, and one efficiency scale per version beyond the first. The chip stays
as its datasheet profile; only the engine is fitted, so the result carries over to other chips.

Each (device, model) schedule is decomposed once into per-layer (op, work cycles at efficiency 1, memory
cycles, clock ratio) so a parameter set is evaluated without rebuilding schedules: latency of a layer is
max(work / efficiency, memory) + per-op overhead, as in the analytic cost model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.validate.core import (
    ReferenceRow,
    ValidationResult,
    load_reference_model,
    read_reference,
    resolve_model,
    shared_dir,
)

FITTED_OPS = ("CONV2D", "DEPTHWISE_CONV2D", "FULLY_CONNECTED", "default")
_EFF_BOUNDS = (1e-3, 1.0)
_OVH_BOUNDS = (1.0, 1e8)
_VSCALE_BOUNDS = (0.2, 5.0)


@dataclass(frozen=True)
class _Layer:
    op_key: str
    work_cycles: float  # compute cycles at efficiency 1 (unit clock)
    memory_cycles: float
    clock_hz: float
    overhead_ratio: float  # unit clock / host clock: per-op overhead is counted in host cycles


@dataclass(frozen=True)
class _Case:
    row: ReferenceRow
    layers: tuple[_Layer, ...]
    host_clock_hz: float


@dataclass(frozen=True)
class CalibrationResult:
    hw: str
    runtime: str
    base_version: str
    kernel_efficiency: dict[str, float]
    per_op_overhead_cycles: float
    per_inference_overhead_cycles: float
    version_scales: dict[str, float]
    rows: int
    fit_errors: tuple[float, ...]  # signed relative error per row with all rows fitted
    loo_errors: tuple[float, ...]  # signed relative error per row when that row is left out of the fit
    before_errors: tuple[float, ...]  # the original profile's errors

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
        vs = ", ".join(f"{k} x{v:.3f}" for k, v in self.version_scales.items()) or "-"
        return (f"calibrated {self.runtime} on {self.hw} from {self.rows} rows\n"
                f"  kernel efficiency: {eff}\n"
                f"  per-op overhead {self.per_op_overhead_cycles:.0f} cycles, per-inference "
                f"{self.per_inference_overhead_cycles:.0f} cycles; version scales: {vs}\n"
                f"  MAPE before {self.before_mape:.1%}, fitted {self.fit_mape:.1%}, "
                f"leave-one-out {self.loo_mape:.1%}")

    def write_calibrated_profile(self, path: str | Path, *, new_id: str | None = None) -> Path:
        """A runtime YAML that ``extends:`` the original and overrides only the fitted numbers."""
        import yaml

        from edgesim.hw.loader import load_runtime
        from edgesim.report.io import atomic_write_text

        base, _ = load_runtime(self.runtime)
        versions = []
        for v in base.versions:
            scale = self.version_scales.get(v.version, 1.0 if v.version == self.base_version else None)
            eff_scale = v.efficiency_scale if scale is None else scale
            versions.append({"version": v.version, "efficiency_scale": round(float(eff_scale), 4),
                             "overhead_scale": 1.0 if scale is not None else v.overhead_scale,
                             "note": "calibrated" if scale is not None else (v.note or "not calibrated")})
        body = {
            "extends": self.runtime,
            "id": new_id or f"{self.runtime}-calibrated",
            "description": f"{base.description} (calibrated on {self.hw}, {self.rows} measurements)",
            "versions": versions,
            "kernel_efficiency": {k: round(float(v), 5) for k, v in self.kernel_efficiency.items()},
            "per_op_overhead_cycles": round(float(self.per_op_overhead_cycles), 1),
            "per_inference_overhead_cycles": round(float(self.per_inference_overhead_cycles), 1),
        }
        header = (f"# Written by `edgesim calibrate`: least squares in log space on {self.rows} measurements "
                  f"of {self.hw}.\n# MAPE before {self.before_mape:.1%}, fitted {self.fit_mape:.1%}, "
                  f"leave-one-out {self.loo_mape:.1%}.\n")
        return atomic_write_text(path, header + yaml.safe_dump(body, sort_keys=False))


_CASES: dict[tuple[ReferenceRow, str, str, Path], _Case] = {}


def _decompose(row: ReferenceRow, hw: str, runtime_spec: str, graphs: dict[str, Any],
               models_dir: Path) -> _Case:
    key = (row, hw, runtime_spec, models_dir)
    if key not in _CASES:
        _CASES[key] = _decompose_uncached(row, hw, runtime_spec, graphs, models_dir)
    return _CASES[key]


def _decompose_uncached(row: ReferenceRow, hw: str, runtime_spec: str, graphs: dict[str, Any],
                        models_dir: Path) -> _Case:
    from edgesim.api import load_profile, resolve_runtime
    from edgesim.cost.analytic import memory_cycles
    from edgesim.mapping.mapper import build_schedule

    model = resolve_model(row.model_file, models_dir)
    if model not in graphs:
        graphs[model] = load_reference_model(model)
    prof = load_profile(hw, clock_mhz=row.clock_mhz)
    rt, version = resolve_runtime(prof, runtime_spec)
    if rt is None:
        raise EdgesimError(f"profile '{hw}' has no default runtime; pass --runtime")
    sched = build_schedule(graphs[model], prof, rt, version)
    layers = []
    for plan in sched.plans:
        if plan.unit == "-":
            continue
        key = plan.op if plan.op in FITTED_OPS else "default"
        eff = rt.kernel_efficiency.get(plan.op, rt.kernel_efficiency["default"]) * version.efficiency_scale
        eff = min(1.0, eff)
        mem = max(memory_cycles(plan, prof).values(), default=0.0)
        layers.append(_Layer(key, plan.compute_cycles * eff, mem, plan.unit_clock_hz,
                             plan.unit_clock_hz / sched.host_clock_hz))
    return _Case(row, tuple(layers), sched.host_clock_hz)


class _Model:
    """Parameter vector <-> runtime numbers; all parameters are fitted as logarithms."""

    def __init__(self, versions: list[str], base_version: str, ops: list[str]) -> None:
        self.ops = ops
        self.versions = [v for v in versions if v != base_version]
        self.names = [f"eff:{o}" for o in ops] + ["per_op", "per_inf"] + [f"ver:{v}" for v in self.versions]
        lo = [_EFF_BOUNDS[0]] * len(ops) + [_OVH_BOUNDS[0]] * 2 + [_VSCALE_BOUNDS[0]] * len(self.versions)
        hi = [_EFF_BOUNDS[1]] * len(ops) + [_OVH_BOUNDS[1]] * 2 + [_VSCALE_BOUNDS[1]] * len(self.versions)
        self.lo, self.hi = np.log(lo), np.log(hi)
        # Versions not fitted keep the profile's scale relative to the base version.
        self.fixed_scales: dict[str, float] = {}

    def latency_s(self, theta: np.ndarray, case: _Case, version: str) -> float:
        eff = {o: math.exp(theta[i]) for i, o in enumerate(self.ops)}
        per_op, per_inf = math.exp(theta[len(self.ops)]), math.exp(theta[len(self.ops) + 1])
        vs = self.fixed_scales.get(version, 1.0)
        if version in self.versions:
            vs = math.exp(theta[len(self.ops) + 2 + self.versions.index(version)])
        total = per_inf / case.host_clock_hz
        for layer in case.layers:
            e = min(1.0, eff.get(layer.op_key, eff.get("default", 0.1)) * vs)
            total += (max(layer.work_cycles / e, layer.memory_cycles) + per_op * layer.overhead_ratio) / layer.clock_hz
        return total


def _fit(model: _Model, cases: list[tuple[_Case, str]], theta0: np.ndarray, iters: int = 60) -> np.ndarray:
    """Projected Levenberg-Marquardt on log residuals with a weak prior pulling toward theta0.

    The prior (weight 0.05 per log unit) keeps parameters that the data cannot separate (e.g. an op type absent
    from every model) at the profile's values instead of wandering to a bound.
    """
    prior_w = 0.05
    meas = np.array([math.log(c.row.latency_ms * 1e-3) for c, _ in cases])

    def resid(th: np.ndarray) -> np.ndarray:
        pred = np.array([math.log(model.latency_s(th, c, v)) for c, v in cases])
        return np.concatenate([pred - meas, prior_w * (th - theta0)])

    th = np.clip(theta0.copy(), model.lo, model.hi)
    lam = 1e-2
    r = resid(th)
    cost = float(r @ r)
    for _ in range(iters):
        jac = np.empty((r.size, th.size))
        for j in range(th.size):
            step = 1e-4
            tp = th.copy()
            tp[j] += step
            jac[:, j] = (resid(tp) - r) / step
        g = jac.T @ r
        h = jac.T @ jac
        improved = False
        for _ in range(8):
            delta = np.linalg.solve(h + lam * np.diag(np.diag(h) + 1e-9), -g)
            cand = np.clip(th + delta, model.lo, model.hi)
            rc = resid(cand)
            cc = float(rc @ rc)
            if cc < cost:
                th, r, cost, lam = cand, rc, cc, max(lam / 3, 1e-7)
                improved = True
                break
            lam *= 4
        if not improved or float(np.max(np.abs(g))) < 1e-9:
            break
    return th


def calibrate(
    measurements_csv: str | Path,
    hw: str | None,
    runtime: str,
    *,
    models_dir: str | Path | None = None,
) -> CalibrationResult:
    """Fit ``runtime`` (an id, optionally @version as the base) to the rows of ``measurements_csv``.

    Rows are filtered to ``device == hw`` when the file names several devices, and to the runtime id when it
    names several runtimes; each row's ``runtime_version`` selects its version scale. ``hw=None`` fits one
    runtime across every device in the file (each row on its own device profile).
    """
    rows = read_reference(measurements_csv)
    rid = runtime.partition("@")[0]
    hw_id = Path(hw).stem if hw is not None else "*"
    if hw is not None and len({r.device for r in rows}) > 1:
        rows = [r for r in rows if r.device in (hw, hw_id)]
    if len({r.runtime for r in rows}) > 1:
        rows = [r for r in rows if r.runtime == rid]
    return calibrate_rows(rows, hw, runtime, models_dir=models_dir, source=str(measurements_csv))


def _prepare(rows: list[ReferenceRow], hw: str | None, runtime: str, mdir: Path, graphs: dict[str, Any],
             fit_versions: set[str] | None = None) -> tuple[_Model, np.ndarray, list[tuple[_Case, str]], str, str]:
    from edgesim.hw.loader import load_runtime

    rid = runtime.partition("@")[0]
    rt, base_v = load_runtime(runtime)
    known = [v.version for v in rt.versions]
    cases: list[tuple[_Case, str]] = []
    for row in rows:
        spec = f"{rid}@{row.runtime_version}" if row.runtime_version else f"{rid}@{base_v.version}"
        _, ver = load_runtime(spec)
        # Decompose with the base version so work cycles are version-free; the fitted scale applies on top.
        case = _decompose(row, hw or row.device, f"{rid}@{base_v.version}", graphs, mdir)
        cases.append((case, ver.version))
    present = {v for _, v in cases} - {base_v.version}
    if fit_versions is not None:
        present &= fit_versions
    used_versions = sorted(present, key=known.index)
    # Every fitted op is a parameter even if no row exercises it: the prior then keeps it at the profile value.
    ops = list(FITTED_OPS)
    model = _Model(used_versions + [base_v.version], base_v.version, ops)
    model.fixed_scales = {v.version: v.efficiency_scale / base_v.efficiency_scale for v in rt.versions}
    theta0 = np.array(
        [math.log(min(1.0, rt.kernel_efficiency.get(o, rt.kernel_efficiency["default"]) * base_v.efficiency_scale))
         for o in ops]
        + [math.log(max(rt.per_op_overhead_cycles * base_v.overhead_scale, 1.0)),
           math.log(max(rt.per_inference_overhead_cycles * base_v.overhead_scale, 1.0))]
        + [math.log(model.fixed_scales[v]) for v in used_versions]
    )
    return model, np.clip(theta0, model.lo, model.hi), cases, rid, base_v.version


def _errors(model: _Model, th: np.ndarray, subset: list[tuple[_Case, str]]) -> list[float]:
    return [model.latency_s(th, c, v) / (c.row.latency_ms * 1e-3) - 1.0 for c, v in subset]


def calibrate_rows(
    rows: list[ReferenceRow],
    hw: str | None,
    runtime: str,
    *,
    models_dir: str | Path | None = None,
    source: str = "measurements",
    with_loo: bool = True,
    graphs: dict[str, Any] | None = None,
) -> CalibrationResult:
    """calibrate() on already-read rows (all of one runtime)."""
    rid = runtime.partition("@")[0]
    if len(rows) < 2:
        raise EdgesimError(f"calibration needs at least 2 measurements of {hw or 'any device'} with {rid}, "
                           f"found {len(rows)}", file=source)
    mdir = Path(models_dir) if models_dir is not None else shared_dir() / "models"
    model, theta0, cases, rid, base_version = _prepare(rows, hw, runtime, mdir, graphs if graphs is not None else {})
    before = _errors(model, theta0, cases)
    theta = _fit(model, cases, theta0)
    fit_err = _errors(model, theta, cases)
    loo: list[float] = []
    for i in range(len(cases) if with_loo else 0):
        th_i = _fit(model, cases[:i] + cases[i + 1:], theta0, iters=30)
        loo += _errors(model, th_i, [cases[i]])
    k = len(model.ops)
    return CalibrationResult(
        hw=Path(hw).stem if hw is not None else "*", runtime=rid, base_version=base_version,
        kernel_efficiency={o: float(math.exp(theta[i])) for i, o in enumerate(model.ops)},
        per_op_overhead_cycles=float(math.exp(theta[k])),
        per_inference_overhead_cycles=float(math.exp(theta[k + 1])),
        version_scales={v: float(math.exp(theta[k + 2 + j])) for j, v in enumerate(model.versions)},
        rows=len(cases), fit_errors=tuple(fit_err), loo_errors=tuple(loo), before_errors=tuple(before),
    )


def leave_one_benchmark_out(
    reference_csv: str | Path | None = None,
    *,
    models_dir: str | Path | None = None,
) -> ValidationResult:
    """The issue's protocol: per (device, runtime), fit on the other benchmarks and predict the held-out one.

    Returns a ValidationResult (latency only; energy is not fitted) whose rows are held-out predictions. Groups
    with a single benchmark are predicted with the uncalibrated profile.
    """
    from edgesim.validate.core import RowResult, default_reference, summarize

    ref = Path(reference_csv) if reference_csv is not None else default_reference()
    rows = read_reference(ref)
    mdir = Path(models_dir) if models_dir is not None else shared_dir() / "models"
    graphs: dict[str, Any] = {}
    groups: dict[tuple[str, str], list[ReferenceRow]] = {}
    for r in rows:
        groups.setdefault((r.device, r.runtime), []).append(r)
    out: list[RowResult] = []
    skipped: list[RowResult] = []
    for (device, rid), grp in sorted(groups.items()):
        for bench in sorted({r.benchmark for r in grp}):
            test = [r for r in grp if r.benchmark == bench]
            train = [r for r in grp if r.benchmark != bench]
            try:
                model, theta0, cases, _, _ = _prepare(
                    train + test, device, rid, mdir, graphs,
                    fit_versions={r.runtime_version for r in train},
                )
                train_cases, test_cases = cases[:len(train)], cases[len(train):]
                theta = _fit(model, train_cases, theta0) if len(train_cases) >= 2 else theta0
                preds = [model.latency_s(theta, c, v) * 1e3 for c, v in test_cases]
            except EdgesimError as exc:
                for r in test:
                    skipped.append(RowResult(r.line, r.device, r.runtime_spec, r.benchmark, r.model_file,
                                             r.clock_mhz, r.latency_ms, None, r.energy_uj, None, str(exc)))
                continue
            for r, p in zip(test, preds, strict=True):
                out.append(RowResult(r.line, r.device, r.runtime_spec, r.benchmark, r.model_file, r.clock_mhz,
                                     r.latency_ms, p, r.energy_uj, None))
    out.sort(key=lambda res: res.line)
    by_bench: dict[str, list[RowResult]] = {}
    for res in out:
        by_bench.setdefault(res.benchmark, []).append(res)
    stats = tuple(summarize(b, rs) for b, rs in sorted(by_bench.items()))
    return ValidationResult(str(ref), tuple(out), stats, summarize("ALL", out), tuple(skipped))
