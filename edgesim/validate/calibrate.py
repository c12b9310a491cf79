"""Fit a runtime's free parameters to measured latencies: bounded least squares in log space.

Free parameters: kernel efficiency of CONV2D (KxK), CONV2D_1X1, DEPTHWISE_CONV2D, FULLY_CONNECTED and 'default'
(every other op), per-op and per-inference overhead cycles, and for every release other than the base one
efficiency multiplier per MAC op group. The chip stays as its datasheet profile (its kernel_efficiency_scale is
applied, never fitted); only the engine is fitted, so the result carries over to other chips. Layers a vendor
kernel runs on an accelerator (RuntimeProfile.unit_kernel_efficiency) are not the engine's: they keep their cost.

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
from edgesim.hw.schema import POINTWISE_CONV, RuntimeVersion
from edgesim.ir.ops import OpKind
from edgesim.validate.calibration_result import CalibrationResult
from edgesim.validate.core import (
    ReferenceRow,
    ValidationResult,
    bundled_models_dir,
    read_reference,
    row_spec,
)

FITTED_OPS = ("CONV2D", "CONV2D_1X1", "DEPTHWISE_CONV2D", "FULLY_CONNECTED", "default")
_EFF_BOUNDS = (1e-3, 1.0)
_OVH_BOUNDS = (1.0, 1e8)
_VSCALE_BOUNDS = (0.2, 5.0)
# Op groups that get their own per-release multiplier: the MAC kernels. The 'default' group (ADD, pooling,
# softmax) is a few percent of any of these models' time, too little to identify a per-release factor.
FIXED_GROUP = "fixed"  # layers whose efficiency is not a fitted parameter (vendor accelerator kernels)
VERSIONED_OPS = ("CONV2D", "CONV2D_1X1", "DEPTHWISE_CONV2D", "FULLY_CONNECTED")
_ROBUST_C = 0.25  # log-space residual where the loss turns from quadratic to linear
# d log(latency) / d log(parameter) a parameter must reach on some row to be fitted (its share of that row's time)
_MIN_SENSITIVITY = 0.2
_SMOOTH_W = 0.1  # weight per log unit between consecutive releases' scales of one op group


@dataclass(frozen=True)
class _Layer:
    op: str  # kernel key (op kind, or CONV2D_1X1 for a pointwise convolution)
    op_key: str  # the fitted group it belongs to (one of FITTED_OPS)
    work_cycles: float  # compute cycles at efficiency 1 (unit clock); as costed for the fixed group
    core_scale: float  # the unit's kernel_efficiency_scale (a chip property, never fitted here)
    memory_cycles: float
    clock_hz: float
    overhead_ratio: float  # unit clock / host clock: per-op overhead is counted in host cycles
    unit_kind: str | None = None  # the unit's kind: a release's vendor-program scale (unit_scale_for) is per kind


@dataclass(frozen=True)
class _Case:
    row: ReferenceRow
    layers: tuple[_Layer, ...]
    host_clock_hz: float


_CASES: dict[tuple[ReferenceRow, str, str, Path], _Case] = {}


def _decompose(row: ReferenceRow, hw: str, runtime_spec: str, models_dir: Path) -> _Case:
    key = (row, hw, runtime_spec, models_dir)
    if key not in _CASES:
        _CASES[key] = _decompose_uncached(row, hw, runtime_spec, models_dir)
    return _CASES[key]


def _decompose_uncached(row: ReferenceRow, hw: str, runtime_spec: str, models_dir: Path) -> _Case:
    from edgesim.cost.analytic import memory_cycles
    from edgesim.mapping.compute import kernel_efficiency, kernel_key
    from edgesim.pipeline import run

    res = run(row_spec(row, models_dir, device=hw, runtime=runtime_spec))
    rt, version, prof, sched, graph = res.runtime, res.version, res.profile, res.schedule, res.graph
    if rt is None or version is None:
        raise EdgesimError(f"profile '{hw}' has no default runtime; pass --runtime")
    units = {u.name: u for u in prof.units}
    layers = []
    for plan in sched.plans:
        if plan.unit == "-":
            continue
        kkey = kernel_key(graph.node(plan.node))
        unit = units.get(plan.unit)
        kind = unit.kind.value if unit is not None else None
        # Vendor kernels on an accelerator are not the engine's CPU kernels: their efficiency is not fitted; nor
        # are a GPU runtime's kernels for an architecture it lists apart (RuntimeProfile.gpu_kernels).
        vendor = kind is not None and kind in {k.value for k in rt.unit_kernel_efficiency}
        vendor = vendor or (unit is not None and unit.gpu_arch is not None and unit.gpu_arch in rt.gpu_kernels)
        key = FIXED_GROUP if vendor else (kkey if kkey in FITTED_OPS else "default")
        core = unit.kernel_efficiency_scale if unit is not None else 1.0
        eff = kernel_efficiency(rt, version, kkey, unit)
        mem = max(memory_cycles(plan, prof).values(), default=0.0)
        # A fixed layer keeps its cycles as costed (efficiency 1 in the fit).
        work = plan.compute_cycles if vendor else plan.compute_cycles * eff
        layers.append(_Layer(kkey, key, work, core, mem, plan.unit_clock_hz,
                             plan.unit_clock_hz / sched.host_clock_hz, kind))
    return _Case(row, tuple(layers), sched.host_clock_hz)


class _Model:
    """Parameter vector <-> runtime numbers; all parameters are fitted as logarithms.

    Parameters: the base release's efficiency per op group, per-op and per-inference overheads, then for every
    other release present in the data one efficiency multiplier per MAC op group (releases speed op types up
    unequally). Releases not fitted, and the 'default' group, keep the profile's scales relative to the base.
    """

    def __init__(self, versions: list[str], base_version: str, ops: list[str]) -> None:
        self.ops = ops
        self.versions = [v for v in versions if v != base_version]
        self.vops = [o for o in ops if o in VERSIONED_OPS]
        # No common multiplier over all op groups: on mlperf_tiny.csv the held-out benchmark's error is not the
        # mean of the others' (KWS and VWW miss in opposite directions on one chip), so a shared shift fitted on
        # three benchmarks made leave-one-benchmark-out worse (median 6.3% -> 10.0%).
        self.names = ([f"eff:{o}" for o in ops] + ["per_op", "per_inf"]
                      + [f"ver:{v}:{o}" for v in self.versions for o in self.vops])
        nv = len(self.versions) * len(self.vops)
        lo = [_EFF_BOUNDS[0]] * len(ops) + [_OVH_BOUNDS[0]] * 2 + [_VSCALE_BOUNDS[0]] * nv
        hi = [_EFF_BOUNDS[1]] * len(ops) + [_OVH_BOUNDS[1]] * 2 + [_VSCALE_BOUNDS[1]] * nv
        self.lo, self.hi = np.log(lo), np.log(hi)
        # version -> op kind -> scale relative to the base release, for releases not fitted
        self.fixed_scales: dict[str, dict[str, float]] = {}
        # fitted releases and the base release in release order
        self.chain: list[str] = [*self.versions, base_version]
        self.base_version = base_version
        # every release of the profile: a fixed (vendor) layer runs at its row's release's unit scale
        self.releases: dict[str, RuntimeVersion] = {}

    def unit_ratio(self, version: str, layer: _Layer) -> float:
        """Speed of a fixed layer's vendor program in ``version`` over the base release it was costed with
        (RuntimeVersion.unit_scale_for: Silicon Labs' MVP conv program per Gecko SDK release)."""
        rel, base = self.releases.get(version), self.releases.get(self.base_version)
        if rel is None or base is None:
            return 1.0
        return rel.unit_scale_for(layer.op, layer.unit_kind) / base.unit_scale_for(layer.op, layer.unit_kind)

    def version_index(self, version: str, op_key: str) -> int:
        return len(self.ops) + 2 + self.versions.index(version) * len(self.vops) + self.vops.index(op_key)

    def batch(self, cases: list[tuple[_Case, str]]) -> _Batch:
        return _Batch(self, cases)

    def latency_s(self, theta: np.ndarray, case: _Case, version: str) -> float:
        return float(self.batch([(case, version)]).latency_s(theta)[0])


class _Batch:
    """Flat per-layer arrays of several cases, so a parameter vector is evaluated with a few numpy calls."""

    def __init__(self, model: _Model, cases: list[tuple[_Case, str]]) -> None:
        self.n = len(cases)
        k = len(model.ops)
        case_ix, eff_ix, ver_ix, fixed, work, core, mem, clock, ratio = ([] for _ in range(9))
        for i, (c, v) in enumerate(cases):
            for layer in c.layers:
                case_ix.append(i)
                is_fixed = layer.op_key == FIXED_GROUP
                eff_ix.append(-1 if is_fixed else model.ops.index(layer.op_key))
                fitted = v in model.versions and layer.op_key in model.vops
                ver_ix.append(model.version_index(v, layer.op_key) if fitted else -1)
                # a fixed layer's own speed-up is its release's vendor-program scale; a fitted one's the release's
                release = model.fixed_scales.get(v, {}).get(layer.op, 1.0)
                fixed.append(model.unit_ratio(v, layer) if is_fixed else release)
                work.append(layer.work_cycles)
                core.append(layer.core_scale)
                mem.append(layer.memory_cycles)
                clock.append(layer.clock_hz)
                ratio.append(layer.overhead_ratio)
        self.case_ix = np.array(case_ix, dtype=int)
        self.eff_ix = np.array(eff_ix, dtype=int)
        self.is_fixed = self.eff_ix < 0
        self.eff_ix_safe = np.where(self.is_fixed, 0, self.eff_ix)
        self.ver_ix = np.array(ver_ix, dtype=int)
        self.has_ver = self.ver_ix >= 0
        self.ver_ix_safe = np.where(self.has_ver, self.ver_ix, 0)
        self.fixed = np.array(fixed, dtype=float)
        self.work = np.array(work, dtype=float)
        self.core = np.array(core, dtype=float)
        self.mem = np.array(mem, dtype=float)
        self.clock = np.array(clock, dtype=float)
        self.ratio = np.array(ratio, dtype=float)
        self.per_op_ix, self.per_inf_ix = k, k + 1
        self.inv_host = np.array([1.0 / c.host_clock_hz for c, _ in cases])
        self.meas_s = np.array([c.row.latency_ms * 1e-3 for c, _ in cases])

    def latency_s(self, theta: np.ndarray) -> np.ndarray:
        ex = np.exp(theta)
        vs = np.where(self.has_ver, ex[self.ver_ix_safe], self.fixed)
        e = np.where(self.is_fixed, self.fixed, np.minimum(1.0, ex[self.eff_ix_safe] * vs * self.core))
        t = (np.maximum(self.work / e, self.mem) + ex[self.per_op_ix] * self.ratio) / self.clock
        return np.bincount(self.case_ix, weights=t, minlength=self.n) + ex[self.per_inf_ix] * self.inv_host


def _fit(model: _Model, cases: list[tuple[_Case, str]], theta0: np.ndarray, iters: int = 60) -> np.ndarray:
    """Projected Levenberg-Marquardt on log residuals with a weak prior pulling toward theta0.

    The prior (weight 0.1 per log unit) keeps parameters that the data cannot separate at the profile's values
    instead of wandering to a bound; parameters under _MIN_SENSITIVITY of every row are not fitted at all; a
    smoothness term keeps consecutive releases' per-op scales close. Residuals go through a soft-L1
    loss (quadratic up to ~25%, linear beyond): sibling submissions of one benchmark 2-3x apart (different build
    settings the reference file does not record) would otherwise drag every parameter toward them.
    """
    batch = model.batch(cases)
    resid = _Residuals(batch, np.log(batch.meas_s), theta0, *_release_pairs(model))
    th = np.clip(theta0.copy(), model.lo, model.hi)
    lam = 1e-2
    r = resid(th)
    cost = float(r @ r)
    free = _free_parameters(batch, th)
    if batch.n == 0 or not free.any():
        return th
    for _ in range(iters):
        jac = np.zeros((r.size, th.size))
        for j in (int(i) for i in np.flatnonzero(free)):
            step = 1e-4
            tp = th.copy()
            tp[j] += step
            jac[:, j] = (resid(tp) - r) / step
        g = jac.T @ r
        h = jac.T @ jac
        improved = False
        for _ in range(8):
            delta = np.zeros_like(th)
            hf = h[np.ix_(free, free)]
            delta[free] = np.linalg.solve(hf + lam * np.diag(np.diag(hf) + 1e-9), -g[free])
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


def _release_pairs(model: _Model) -> tuple[np.ndarray, np.ndarray]:
    """Parameter indices (-1: the base release) of each op group's scale in consecutive releases (a, b).

    Consecutive releases (in release order, the base release's scales being 1) should not differ wildly per
    op group: depthwise and 1x1 convolutions only ever appear together (KWS, VWW), and without this their
    per-release factors trade off against each other from release to release."""
    pairs = [(a, b) for a, b in zip(model.chain, model.chain[1:], strict=False)]
    ia = np.array([model.version_index(a, o) if a in model.versions else -1 for a, b in pairs for o in model.vops],
                  dtype=int)
    ib = np.array([model.version_index(b, o) if b in model.versions else -1 for a, b in pairs for o in model.vops],
                  dtype=int)
    return ia, ib


@dataclass(frozen=True)
class _Residuals:
    """The fit's residual vector at parameters th: soft-L1 log-latency errors, the prior, the release smoothness."""

    batch: _Batch
    meas_log_s: np.ndarray
    theta0: np.ndarray
    ia: np.ndarray  # smoothness pairs: parameter index of release a's scale (-1: the base release)
    ib: np.ndarray
    prior_w: float = 0.1

    def __call__(self, th: np.ndarray) -> np.ndarray:
        r = np.log(self.batch.latency_s(th)) - self.meas_log_s
        # soft-L1 as a transformed residual: r'^2 = 2 c^2 (sqrt(1 + (r/c)^2) - 1)
        robust = np.sign(r) * np.sqrt(2.0 * _ROBUST_C**2 * (np.sqrt(1.0 + (r / _ROBUST_C) ** 2) - 1.0))
        tv = np.append(th, 0.0)  # index -1: the base release, log scale 0
        return np.concatenate([robust, self.prior_w * (th - self.theta0), _SMOOTH_W * (tv[self.ia] - tv[self.ib])])


def _free_parameters(batch: _Batch, th: np.ndarray) -> np.ndarray:
    """Which parameters the fit moves: those that move some row's latency by a visible share.

    A parameter that moves no row's latency by a visible share (e.g. 3x3-conv efficiency when only the first
    layer of the training models is a 3x3 conv) stays at the profile value: fitted, it would absorb the other
    rows' residuals and extrapolate wildly to a model where it dominates."""
    free = np.zeros(th.size, dtype=bool)
    for j in range(th.size):
        tp = th.copy()
        tp[j] += 1e-3
        free[j] = float(np.max(np.abs(np.log(batch.latency_s(tp)) - np.log(batch.latency_s(th))))) / 1e-3 \
            >= _MIN_SENSITIVITY
    return free


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
    from edgesim.hw.loader import load_runtime

    load_runtime(runtime, quiet=True)  # an unknown runtime is named as such, not as 'no rows of it'
    every = read_reference(measurements_csv)
    rid = runtime.partition("@")[0]
    devices = _names_of_device(hw)
    # A runtime given as a file (a calibrated YAML) is named by its rows however the user spelled it there.
    engine = None if rid.lower().endswith((".yaml", ".yml")) else rid
    rows = [r for r in every if (devices is None or r.device in devices) and (engine is None or r.runtime == engine)]
    if len(rows) < 2 and every:
        # Rows of another chip or engine fitted as this one's would be a calibration of nothing (it was: a file
        # of x-cube-ai rows 'calibrated' tflm, rows of one board another board).
        pairs = sorted({f"{r.device} with {r.runtime}" for r in every})
        shown = ", ".join(pairs[:4]) + (f" and {len(pairs) - 4} more" if len(pairs) > 4 else "")
        field = ("device" if devices is not None and not any(r.device in devices for r in every) else
                 "runtime" if engine is not None and not any(r.runtime == engine for r in every) else None)
        raise EdgesimError(f"calibration needs at least 2 measurements of {hw or 'any device'} with {rid}, found "
                           f"{len(rows)}; the file has rows of {shown}", file=str(measurements_csv), field=field)
    result = calibrate_rows(rows, hw, runtime, models_dir=models_dir, source=str(measurements_csv), quiet=True)
    for spec in dict.fromkeys([runtime, *(f"{rid}@{r.runtime_version}" for r in rows if r.runtime_version)]):
        load_runtime(spec)  # the fit is accepted: now the version notices (a refusal above stays one line)
    return result


def _names_of_device(hw: str | None) -> set[str] | None:
    """The device names a reference row of ``hw`` may carry: the id or path given, the file's stem and the
    profile's own id; None (every device) without ``hw``."""
    if hw is None:
        return None
    from edgesim.pipeline import resolve_profile

    return {hw, Path(hw).stem, resolve_profile(hw).id}


def _prepare(rows: list[ReferenceRow], hw: str | None, runtime: str, mdir: Path,
             fit_rows: int | None = None, quiet: bool = False
             ) -> tuple[_Model, np.ndarray, list[tuple[_Case, str]], str, str]:
    """Model, start vector, cases. Only releases present in the first ``fit_rows`` rows (default: all) get
    fitted parameters; the others keep the profile's scales. ``quiet``: no version notices."""
    from edgesim.hw.loader import load_runtime

    rid = runtime.partition("@")[0]
    # no 'no version given' notice: the rows name their releases, and calibrate() notes the base it was given
    rt, base_v = load_runtime(runtime, note_missing_version=False, quiet=quiet)
    known = [v.version for v in rt.versions]
    cases: list[tuple[_Case, str]] = []
    resolved: dict[str, str] = {}  # one 'nearest version' notice per spec, not one per row
    for row in rows:
        spec = f"{rid}@{row.runtime_version}" if row.runtime_version else f"{rid}@{base_v.version}"
        if spec not in resolved:
            resolved[spec] = load_runtime(spec, quiet=quiet)[1].version
        # Decompose with the base version so work cycles are version-free; the fitted scale applies on top.
        case = _decompose(row, hw or row.device, f"{rid}@{base_v.version}", mdir)
        cases.append((case, resolved[spec]))
    present = {v for _, v in cases[:fit_rows]} - {base_v.version}
    used_versions = sorted(present, key=known.index)
    # Every fitted op is a parameter even if no row exercises it: the prior then keeps it at the profile value.
    ops = list(FITTED_OPS)
    model = _Model(used_versions + [base_v.version], base_v.version, ops)
    model.chain = sorted([*used_versions, base_v.version], key=known.index)
    all_ops = [k.value for k in OpKind] + [POINTWISE_CONV]
    model.fixed_scales = {v.version: {o: v.scale_for(o) / base_v.scale_for(o) for o in all_ops}
                          for v in rt.versions}
    model.releases = {v.version: v for v in rt.versions}
    theta0 = np.array(
        [math.log(min(1.0, rt.efficiency_for(o)
                      * (base_v.scale_for(o) if o != "default" else base_v.efficiency_scale))) for o in ops]
        + [math.log(max(rt.per_op_overhead_cycles * base_v.overhead_scale, 1.0)),
           math.log(max(rt.per_inference_overhead_cycles * base_v.overhead_scale, 1.0))]
        + [math.log(model.fixed_scales[v][o]) for v in model.versions for o in model.vops]
    )
    return model, np.clip(theta0, model.lo, model.hi), cases, rid, base_v.version


def _errors(model: _Model, th: np.ndarray, subset: list[tuple[_Case, str]]) -> list[float]:
    batch = model.batch(subset)
    return [float(x) for x in batch.latency_s(th) / batch.meas_s - 1.0]


def calibrate_rows(
    rows: list[ReferenceRow],
    hw: str | None,
    runtime: str,
    *,
    models_dir: str | Path | None = None,
    source: str = "measurements",
    with_loo: bool = True,
    quiet: bool = False,
) -> CalibrationResult:
    """calibrate() on already-read rows (all of one runtime); ``quiet``: no runtime version notices."""
    rid = runtime.partition("@")[0]
    if len(rows) < 2:
        raise EdgesimError(f"calibration needs at least 2 measurements of {hw or 'any device'} with {rid}, "
                           f"found {len(rows)}", file=source)
    mdir = Path(models_dir) if models_dir is not None else bundled_models_dir()
    try:
        model, theta0, cases, rid, base_version = _prepare(rows, hw, runtime, mdir, quiet=quiet)
    except EdgesimError as err:  # a row's model or clock the run refuses: named with the measurements file
        if err.file is not None:
            raise
        raise EdgesimError(err.message, file=source, field=err.field, node=err.node) from None
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
        version_scales={v: float(math.exp(np.mean([theta[model.version_index(v, o)] for o in model.vops])))
                        for v in model.versions},
        rows=len(cases), fit_errors=tuple(fit_err), loo_errors=tuple(loo), before_errors=tuple(before),
        version_op_scales={v: {o: float(math.exp(theta[model.version_index(v, o)])) for o in model.vops}
                           for v in model.versions},
    )


def _seed_from(model: _Model, theta0: np.ndarray, donor: _Model, donor_theta: np.ndarray) -> np.ndarray:
    """theta0 of ``model`` with every parameter ``donor`` also has replaced by the donor's value; releases the
    donor fitted but ``model`` does not take the donor's scales as fixed ones."""
    th = theta0.copy()
    for i, name in enumerate(model.names):
        if name in donor.names:
            th[i] = donor_theta[donor.names.index(name)]
    for v in donor.versions:
        if v in model.versions:
            continue
        scales = dict(model.fixed_scales.get(v, {}))
        for op in scales:
            if op in donor.vops:
                scales[op] = float(math.exp(donor_theta[donor.version_index(v, op)]))
        model.fixed_scales[v] = scales
    return np.clip(th, model.lo, model.hi)


def leave_one_benchmark_out(
    reference_csv: str | Path | None = None,
    *,
    models_dir: str | Path | None = None,
    refit_runtime: bool = False,
) -> ValidationResult:
    """The issue's protocol: per (device, runtime), fit on the other benchmarks and predict the held-out one.

    Returns a ValidationResult (latency only; energy is not fitted) whose rows are held-out predictions. Groups
    with a single benchmark are predicted with the uncalibrated profile.

    ``refit_runtime`` makes the protocol strict: the bundled runtime profiles were themselves fitted across
    devices on this file, held-out rows included, so first the runtime is refitted across all devices without
    the held-out rows, then calibrated on the device's other benchmarks from there.
    """
    from edgesim.validate.core import RowResult, default_reference

    ref = Path(reference_csv) if reference_csv is not None else default_reference()
    rows = read_reference(ref)
    mdir = Path(models_dir) if models_dir is not None else bundled_models_dir()
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
                model, theta0, cases, _, _ = _prepare(train + test, device, rid, mdir, fit_rows=len(train))
                if refit_runtime:
                    others = [r for r in rows if r.runtime == rid and r not in test]
                    if len(others) >= 2:
                        cm, c0, ccases, _, _ = _prepare(others, None, rid, mdir)
                        theta0 = _seed_from(model, theta0, cm, _fit(cm, ccases, c0))
                train_cases, test_cases = cases[:len(train)], cases[len(train):]
                theta = _fit(model, train_cases, theta0) if len(train_cases) >= 2 else theta0
                preds = [float(x) * 1e3 for x in model.batch(test_cases).latency_s(theta)]
            except EdgesimError as exc:
                for r in test:
                    skipped.append(RowResult(r.line, r.device, r.runtime_spec, r.benchmark, r.model_file,
                                             r.clock_mhz, r.latency_ms, None, r.energy_uj, None, str(exc)))
                continue
            for r, p in zip(test, preds, strict=True):
                out.append(RowResult(r.line, r.device, r.runtime_spec, r.benchmark, r.model_file, r.clock_mhz,
                                     r.latency_ms, p, r.energy_uj, None))
    return _result(ref, out, skipped)


def _result(ref: Path, out: list[Any], skipped: list[Any]) -> ValidationResult:
    """Held-out predictions in file order, summarised per benchmark and overall."""
    from edgesim.validate.core import refuse_empty, summarize

    refuse_empty(ref, len(out) + len(skipped), skipped)  # nothing held out to score is no validation
    out.sort(key=lambda res: res.line)
    by_bench: dict[str, list[Any]] = {}
    for res in out:
        by_bench.setdefault(res.benchmark, []).append(res)
    stats = tuple(summarize(b, rs) for b, rs in sorted(by_bench.items()))
    return ValidationResult(str(ref), tuple(out), stats, summarize("ALL", out), tuple(skipped))


def leave_one_device_out(
    reference_csv: str | Path | None = None,
    *,
    models_dir: str | Path | None = None,
) -> ValidationResult:
    """How the runtime profiles carry over to a chip they were not fitted on: for each device, refit every runtime
    across the other devices (one fit per runtime, as the bundled profiles are made) and predict the device's
    rows uncalibrated. Rows of a runtime measured on no other device are skipped (nothing to carry over).

    The chips' kernel_efficiency_scale values stay as bundled (the Cortex-M7 one was read off STM32H7A3 rows).
    """
    from edgesim.validate.core import RowResult, default_reference

    ref = Path(reference_csv) if reference_csv is not None else default_reference()
    rows = read_reference(ref)
    mdir = Path(models_dir) if models_dir is not None else bundled_models_dir()
    out: list[RowResult] = []
    skipped: list[RowResult] = []
    for device, rid in sorted({(r.device, r.runtime) for r in rows}):
        test = [r for r in rows if r.device == device and r.runtime == rid]
        others = [r for r in rows if r.runtime == rid and r.device != device]
        if len(others) < 2:
            skipped += [RowResult(r.line, r.device, r.runtime_spec, r.benchmark, r.model_file, r.clock_mhz,
                                  r.latency_ms, None, r.energy_uj, None, f"{rid} has no other device")
                        for r in test]
            continue
        model, theta0, cases, _, _ = _prepare(others + test, None, rid, mdir, fit_rows=len(others))
        theta = _fit(model, cases[:len(others)], theta0)
        preds = model.batch(cases[len(others):]).latency_s(theta) * 1e3
        out += [RowResult(r.line, r.device, r.runtime_spec, r.benchmark, r.model_file, r.clock_mhz, r.latency_ms,
                          float(p), r.energy_uj, None) for r, p in zip(test, preds, strict=True)]
    return _result(ref, out, skipped)
