"""What a board's own vendor-table rows are worth to its point prediction (issue #18), held out.

A device with rows in ``npu_vendor.csv`` is predicted like a new one: the runtime's multiplier fitted across
devices (``npu_vendor.fit_runtime_scales``). The question here is whether a multiplier of its own, fitted on its
rows, predicts its other rows better. The check (``device_offset_check``), on one run's predictions:

- runtime multipliers fitted on the table's even lines, as ``validate_vendor`` fits them;
- per group (device and runtime, optionally split by precision, metric or network), the shrunk mean of the even lines'
  log residuals log(measured / predicted) after the runtime multiplier (``shrunk_offsets``: empirical Bayes,
  normal-normal; the within-group variance pooled over the groups, the between-group variance by the
  DerSimonian-Laird moment estimator with the mean fixed at 0, the runtime fit); exp(offset) multiplies the group's
  ODD lines; a group without even lines gets 1;
- scored on the odd lines: MAPE and the log residuals' standard deviation (what an interval's width follows)
  before and after, per runtime, the device that gets most worse, and the coverage and median half-width of the
  ``npu_measured_device`` intervals with those residuals (``validate.intervals.coverage``, new boards from the
  same run's leave-one-device-out). A leave-one-line-out variant (each line's offset from all other lines of its
  group, as a run with every row would use them) bounds what more rows would add.

``edgesim validate --reference npu_vendor.csv`` prints the check. The grouping it supports best
(``SHIPPED_LEVEL``: device, runtime and network) is what the driver applies (``edgesim.pipeline.device_calibration``,
the table from ``device_calibration_dict``) and what ``validate_vendor`` scores held out (``held_out_calibrated``);
docs/intervals.md has the figures.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from edgesim.validate.npu_vendor import VendorResult, fit_runtime_scales, scaled

GroupKey = tuple[str, ...]
# The groupings compared: a multiplier per device and runtime, split further by the deploy precision and/or by
# what was measured (one inference's latency, or a stream's period), or by the network (the same network on the
# device at other precisions, input sizes or metrics).
# The last one takes each group's own row variance for its mean's (a group whose rows disagree moves less).
LEVELS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("device+runtime", (), False),
    ("device+runtime+precision", ("precision",), False),
    ("device+runtime+metric", ("metric",), False),
    ("device+runtime+precision+metric", ("precision", "metric"), False),
    ("device+runtime, own variance", (), True),
    ("device+runtime+network", ("network",), False),
)


def group_key(r: VendorResult, extra: Sequence[str]) -> GroupKey:
    return (r.device, r.runtime_id, *(str(getattr(r, f)) for f in extra))


def log_residual(r: VendorResult) -> float:
    assert r.predicted_ms
    return math.log(r.measured_ms / r.predicted_ms)


@dataclass(frozen=True)
class ShrinkFit:
    """Shrunk group offsets of log residuals and the variance components behind them."""

    within_var: float  # sigma^2: rows about their group's mean, pooled over groups with >= 2 rows
    between_var: float  # tau^2: groups' true offsets about 0 (DerSimonian-Laird, mean known)
    offsets: tuple[tuple[GroupKey, float], ...]  # group -> shrunk mean log residual

    def offset(self, key: GroupKey) -> float:
        return dict(self.offsets).get(key, 0.0)


def shrunk_offsets(groups: dict[GroupKey, list[float]], own_variance: bool = False) -> ShrinkFit:
    """Empirical Bayes: y_gi = mu_g + e_gi, e ~ N(0, sigma^2), mu_g ~ N(0, tau^2). sigma^2 is the pooled
    within-group variance; a group's mean has variance v_g = sigma^2 / n_g; with the mean of mu_g known (0: the
    residuals are taken after the runtime's fit), E[sum w_g m_g^2] = k + tau^2 sum w_g (w_g = 1 / v_g), the
    DerSimonian-Laird moment estimator tau^2 = max(0, (Q - k) / sum w_g). Each group's offset is its mean shrunk
    by tau^2 / (tau^2 + v_g): a few noisy rows move a device little, many consistent rows move it most of the way.
    ``own_variance``: v_g from the group's own rows (their sample variance / n_g; a lone row: the pooled one)."""
    groups = {k: v for k, v in groups.items() if v}
    if not groups:
        return ShrinkFit(0.0, 0.0, ())
    ss = sum(sum((x - statistics.fmean(v)) ** 2 for x in v) for v in groups.values() if len(v) >= 2)
    df = sum(len(v) - 1 for v in groups.values() if len(v) >= 2)
    if df == 0 or ss == 0:
        return ShrinkFit(0.0, 0.0, tuple((k, 0.0) for k in sorted(groups)))
    s2 = ss / df
    means = {k: statistics.fmean(v) for k, v in groups.items()}
    var = {k: (statistics.variance(v) if own_variance and len(v) >= 2 else s2) / len(v) for k, v in groups.items()}
    if any(x <= 0 for x in var.values()):  # rows that agree exactly: the pooled variance instead
        var = {k: x if x > 0 else s2 / len(groups[k]) for k, x in var.items()}
    weights = {k: 1.0 / var[k] for k in groups}
    q = sum(weights[k] * means[k] ** 2 for k in groups)
    t2 = max(0.0, (q - len(groups)) / sum(weights.values()))
    return ShrinkFit(s2, t2, tuple((k, means[k] * t2 / (t2 + var[k])) for k in sorted(groups)))


def _groups(rows: Sequence[VendorResult], extra: Sequence[str]) -> dict[GroupKey, list[float]]:
    out: dict[GroupKey, list[float]] = {}
    for r in rows:
        if r.predicted_ms:
            out.setdefault(group_key(r, extra), []).append(log_residual(r))
    return out


def _times(r: VendorResult, log_k: float) -> VendorResult:
    assert r.predicted_ms
    return replace(r, predicted_ms=r.predicted_ms * math.exp(log_k))


def runtime_scaled(results: Sequence[VendorResult]) -> list[VendorResult]:
    """Every predicted row times its runtime's multiplier fitted on the even lines (``validate_vendor``'s fit)."""
    done = [r for r in results if r.predicted_ms]
    return scaled(done, fit_runtime_scales(done, lambda r: r.line % 2 == 0))


def with_offsets(results: Sequence[VendorResult], extra: Sequence[str], own_variance: bool = False
                 ) -> tuple[list[VendorResult], ShrinkFit]:
    """The odd lines with the runtime multipliers and the shrunk group offsets, both fitted on the even lines."""
    rows = runtime_scaled(results)
    fit = shrunk_offsets(_groups([r for r in rows if r.line % 2 == 0], extra), own_variance)
    return [_times(r, fit.offset(group_key(r, extra))) for r in rows if r.line % 2 == 1], fit


def leave_one_line_out(results: Sequence[VendorResult], extra: Sequence[str], own_variance: bool = False
                       ) -> list[VendorResult]:
    """Every line with the runtime multipliers and its group's shrunk offset fitted on all the table's other lines."""
    rows = runtime_scaled(results)
    out = []
    for r in rows:
        fit = shrunk_offsets(_groups([x for x in rows if x.line != r.line], extra), own_variance)
        out.append(_times(r, fit.offset(group_key(r, extra))))
    return out


def mape(rows: Sequence[VendorResult]) -> float:
    apes = [r.ape for r in rows if r.ape is not None]
    return sum(apes) / len(apes) if apes else math.nan


def log_sd(rows: Sequence[VendorResult]) -> float:
    logs = [log_residual(r) for r in rows if r.predicted_ms]
    return statistics.pstdev(logs) if len(logs) > 1 else math.nan


@dataclass(frozen=True)
class LevelCheck:
    level: str
    groups: int
    within_var: float
    between_var: float
    mape_before: float  # odd lines, runtime multipliers only
    mape_after: float  # odd lines, with the group offsets
    log_sd_before: float
    log_sd_after: float
    mape_loo: float  # leave-one-line-out, all lines
    mape_loo_before: float  # the same lines with the runtime multipliers only
    worst_device: str
    worst_change: float  # that device's odd-line MAPE after - before
    per_runtime: tuple[tuple[str, int, float, float], ...]  # (runtime, odd rows, MAPE before, after)


def check_level(results: Sequence[VendorResult], level: str, extra: Sequence[str], own_variance: bool = False
                ) -> LevelCheck:
    after, fit = with_offsets(results, extra, own_variance)
    before = [r for r in runtime_scaled(results) if r.line % 2 == 1]
    loo = leave_one_line_out(results, extra, own_variance)

    def by(rows: Sequence[VendorResult], pick: Callable[[VendorResult], str], value: str) -> list[VendorResult]:
        return [r for r in rows if pick(r) == value]

    changes = [(mape(by(after, lambda r: r.device, d)) - mape(by(before, lambda r: r.device, d)), d)
               for d in sorted({r.device for r in before})]
    worst = max(changes) if changes else (0.0, "-")
    per_rt = tuple((rt, len(by(before, lambda r: r.runtime_id, rt)), mape(by(before, lambda r: r.runtime_id, rt)),
                    mape(by(after, lambda r: r.runtime_id, rt))) for rt in sorted({r.runtime_id for r in before}))
    return LevelCheck(level, len(fit.offsets), fit.within_var, fit.between_var, mape(before), mape(after),
                      log_sd(before), log_sd(after), mape(loo), mape(runtime_scaled(results)), worst[1], worst[0],
                      per_rt)


def even_odd_correlation(results: Sequence[VendorResult]) -> tuple[int, float]:
    """(groups, Pearson correlation) of the (device, runtime) groups' mean log residual on the even lines with
    that on the odd lines, after the runtime multipliers: how stable a device's own offset is across its rows."""
    rows = runtime_scaled(results)
    even = _groups([r for r in rows if r.line % 2 == 0], ())
    odd = _groups([r for r in rows if r.line % 2 == 1], ())
    both = sorted(set(even) & set(odd))
    if len(both) < 3:
        return len(both), math.nan
    x = [statistics.fmean(even[k]) for k in both]
    y = [statistics.fmean(odd[k]) for k in both]
    try:
        return len(both), statistics.correlation(x, y)
    except statistics.StatisticsError:  # one side constant
        return len(both), math.nan


@dataclass(frozen=True)
class CoverageFigures:
    covered: float
    half_width: float  # median over the rows, relative to the prediction
    per_runtime: tuple[tuple[str, int, float, float], ...] = ()  # (runtime, rows, covered, median half-width)


def measured_coverage(odd: Sequence[VendorResult], lodo: Sequence[VendorResult], confidence: float
                      ) -> CoverageFigures:
    """The ``npu_measured_device`` intervals calibrated on ``odd`` (held-out odd-line predictions), as
    ``edgesim validate --coverage`` measures them: each (device, network) group against bounds from the others'
    residuals, per runtime (new boards' residuals, ``lodo``, give the runtime scales); also per runtime."""
    from edgesim.pipeline.intervals import NoveltyClass
    from edgesim.validate.intervals import Residual, coverage

    def residuals(rows: Sequence[VendorResult], cls: NoveltyClass) -> list[Residual]:
        return [Residual(r.line, r.device, r.runtime_id, r.network, cls, log_residual(r), None)
                for r in rows if r.predicted_ms]

    rows = residuals(odd, NoveltyClass.NPU_MEASURED_DEVICE) + residuals(lodo, NoveltyClass.NPU_NEW_DEVICE)
    mine = [c for c in coverage(rows, confidence) if c.cls is NoveltyClass.NPU_MEASURED_DEVICE]
    if not mine:
        return CoverageFigures(math.nan, math.nan)  # too few rows for any held-out group
    per_rt = tuple((c.runtime or "", c.rows, c.covered, c.median_half_width)
                   for c in coverage(rows, confidence, by_runtime=True)
                   if c.cls is NoveltyClass.NPU_MEASURED_DEVICE and c.metric == "latency")
    return CoverageFigures(mine[0].covered, mine[0].median_half_width, per_rt)


@dataclass(frozen=True)
class LevelCoverage:
    level: str
    confidence: float
    before: CoverageFigures  # runtime multipliers only
    after: CoverageFigures  # with the group offsets


@dataclass(frozen=True)
class OffsetCheck:
    odd_rows: int
    correlation_groups: int
    even_odd_correlation: float
    levels: tuple[LevelCheck, ...]
    coverage: tuple[LevelCoverage, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The check for the JSON report (NaN, from too few rows, as null)."""
        from dataclasses import asdict

        def clean(x: object) -> object:
            if isinstance(x, float) and math.isnan(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list | tuple):
                return [clean(v) for v in x]
            return x

        out = clean(asdict(self))
        assert isinstance(out, dict)
        return out

    def table(self) -> str:
        out = [f"device multipliers held out (runtime multipliers and shrunk per-group offsets fitted on the even "
               f"lines, scored on the {self.odd_rows} odd lines; correlation of the (device, runtime) groups' even "
               f"and odd mean residuals {self.even_odd_correlation:.2f} over {self.correlation_groups} groups):",
               f"{'grouping':<32} {'groups':>6} {'tau':>6} {'sigma':>6} {'MAPE':>14} {'log sd':>14} "
               f"{'one-line-out':>14}  most worse device"]
        for c in self.levels:
            out.append(f"{c.level:<32} {c.groups:>6} {math.sqrt(c.between_var):>6.3f} {math.sqrt(c.within_var):>6.3f} "
                       f"{c.mape_before:>6.1%} ->{c.mape_after:>6.1%} {c.log_sd_before:>6.3f} ->{c.log_sd_after:>6.3f} "
                       f"{c.mape_loo_before:>6.1%} ->{c.mape_loo:>6.1%}  {c.worst_device} {c.worst_change:+.1%}")
        for v in self.coverage:
            b, a = v.before, v.after
            out.append(f"  npu_measured_device at {v.confidence:.0%}, {v.level}: covered {b.covered:.0%} -> "
                       f"{a.covered:.0%}, median half-width {b.half_width:.0%} -> {a.half_width:.0%}")
            after = {rt: (cov, w) for rt, _, cov, w in a.per_runtime}
            out.append("    " + ", ".join(f"{rt} {cov:.0%}->{after[rt][0]:.0%} / {w:.0%}->{after[rt][1]:.0%}"
                                          for rt, _, cov, w in b.per_runtime if rt in after))
        return "\n".join(out)


def device_offset_check(results: Sequence[VendorResult], lodo: Sequence[VendorResult] = (),
                        confidences: Sequence[float] = (0.8, 0.9)) -> OffsetCheck:
    """The held-out check at every grouping of LEVELS (``results``: the unfitted predictions, ``raw``); with
    ``lodo`` (the leave-one-device-out predictions) also the interval coverage at ``confidences``."""
    odd = [r for r in results if r.predicted_ms and r.line % 2 == 1]
    n, rho = even_odd_correlation(results)
    cov: list[LevelCoverage] = []
    if lodo:
        before = [r for r in runtime_scaled(results) if r.line % 2 == 1]
        for name, extra, own in LEVELS:
            after, _ = with_offsets(results, extra, own)
            cov += [LevelCoverage(name, c, measured_coverage(before, lodo, c), measured_coverage(after, lodo, c))
                    for c in confidences]
    return OffsetCheck(len(odd), n, rho, tuple(check_level(results, name, extra, own) for name, extra, own in LEVELS),
                       tuple(cov))


# -- the shipped calibration ----------------------------------------------------------------------------------
# The grouping applied to predictions (``edgesim.pipeline.device_calibration``): chosen by the odd-line check
# above (the lowest odd-line log standard deviation and one-line-out MAPE of the LEVELS, no device more than a
# point worse; docs/intervals.md).
SHIPPED_LEVEL: tuple[str, ...] = ("network",)


def even_groups(results: Sequence[VendorResult]) -> frozenset[GroupKey]:
    """The shipped level's groups (device, runtime, network) with a predicted even line: the odd lines of these
    are predicted with their group's offset by ``held_out_calibrated`` (``npu_measured_device``), the others with
    the runtime's multiplier only, as a run of a network the board has no rows of
    (``npu_measured_device_new_network``)."""
    return frozenset(group_key(r, SHIPPED_LEVEL) for r in results if r.predicted_ms and r.line % 2 == 0)


def held_out_calibrated(results: Sequence[VendorResult]) -> list[VendorResult]:
    """The odd lines as a run with the shipped calibration predicts them, fitted on the even lines only: the
    runtime multipliers and the (device, runtime, network) offsets (``validate_vendor``'s held-out figures and
    the ``npu_measured_device`` residuals)."""
    return with_offsets(results, SHIPPED_LEVEL)[0]


def device_calibration_dict(results: Sequence[VendorResult]) -> dict[str, object]:
    """The table ``edgesim.pipeline.device_calibration`` applies, fitted on every predicted row (``results``: the
    driver's predictions without it): per (device, runtime, network) group the runtime's multiplier (geometric
    mean of measured / predicted over all its rows) times exp(the group's shrunk offset after it)."""
    done = [r for r in results if r.predicted_ms]
    runtime = fit_runtime_scales(done, lambda r: True)
    fit = shrunk_offsets(_groups(scaled(done, runtime), SHIPPED_LEVEL))
    rows: dict[GroupKey, int] = {}
    for r in done:
        key = group_key(r, SHIPPED_LEVEL)
        rows[key] = rows.get(key, 0) + 1
    groups = [{"device": k[0], "runtime": k[1], **dict(zip(SHIPPED_LEVEL, k[2:], strict=True)), "rows": rows[k],
               "runtime_multiplier": round(runtime[k[1]], 6), "offset_log": round(off, 6),
               "multiplier": round(runtime[k[1]] * math.exp(off), 6)} for k, off in fit.offsets]
    return {"method": "per (device, runtime, network): the runtime's multiplier over all its vendor-table rows x "
                      "exp(shrunk mean log residual of the group after it); empirical Bayes, within-group variance "
                      "pooled, between-group variance by DerSimonian-Laird with the mean fixed at 0 "
                      "(edgesim.validate.device_offsets)",
            "level": list(SHIPPED_LEVEL), "within_var": round(fit.within_var, 6),
            "between_var": round(fit.between_var, 6), "groups": groups}
