"""What a board's own vendor-table rows are worth to its point prediction (issue #18), held out.

A device with rows in ``npu_vendor.csv`` is predicted like a new one: the runtime's multiplier fitted across
devices (``npu_vendor.fit_runtime_scales``). The question here is whether a multiplier of its own, fitted on its
rows, predicts its other rows better. The check (``device_offset_check``), on one run's predictions:

- runtime multipliers fitted on the table's even lines, as ``validate_vendor`` fits them;
- per group (device and runtime, optionally split by precision, metric or network), the shrunk mean of the even lines'
  log residuals log(measured / predicted) after the runtime multiplier (``shrunk_offsets``: empirical Bayes,
  normal-normal; the within-group variance pooled over the groups, the between-group variance by the
  DerSimonian-Laird moment estimator with the mean fixed at 0, the runtime fit); exp(offset) multiplies the group's
  ODD lines; a group without even lines gets 1. Groupings can be tiered (``fit_tiers``): a second tier's offsets
  are fitted on what the first's leave, and a line's offsets add;
- scored on the odd lines: MAPE and the log residuals' standard deviation (what an interval's width follows)
  before and after, per runtime, the device that gets most worse, and the coverage and median half-width of the
  ``npu_measured_device`` intervals with those residuals (``validate.intervals.coverage``, new boards from the
  same run's leave-one-device-out). A leave-one-line-out variant (each line's offset from all other lines of its
  group, as a run with every row would use them) bounds what more rows would add; a leave-one-network-out one
  (each (device, runtime, network)'s lines from all the others) is what a network new to a measured board gets.

``edgesim validate --reference npu_vendor.csv`` prints the check. The grouping it supports best
(``SHIPPED_TIERS``: device, runtime and precision, then device, runtime and network) is what the driver applies (``edgesim.pipeline.device_calibration``,
the table from ``device_calibration_dict``) and what ``validate_vendor`` scores held out (``held_out_calibrated``);
docs/intervals.md has the figures.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from edgesim.validate.npu_vendor import VendorResult, fit_runtime_scales, scaled

GroupKey = tuple[str, ...]


@dataclass(frozen=True)
class Tier:
    """The keys a group of rows is split by beyond (device, runtime). Tiers are fitted in turn, each on the log
    residuals the tiers before it leave (``fit_tiers``), and their offsets add. ``own_variance``: a group's mean
    has its own rows' variance (a group whose rows disagree moves less), else the pooled one."""

    keys: tuple[str, ...] = ()
    own_variance: bool = False

    @property
    def of_network(self) -> bool:
        return "network" in self.keys

# The groupings compared: a multiplier per device and runtime, split further by the deploy precision and/or by
# what was measured (one inference's latency, or a stream's period), or by the network (the same network on the
# device at other precisions, input sizes or metrics), or per precision and then per network on top of it.
# The own-variance one takes each group's own row variance for its mean's (a group whose rows disagree moves less).
LEVELS: tuple[tuple[str, tuple[Tier, ...]], ...] = (
    ("device+runtime", (Tier(),)),
    ("device+runtime+precision", (Tier(("precision",)),)),
    ("device+runtime+metric", (Tier(("metric",)),)),
    ("device+runtime+precision+metric", (Tier(("precision", "metric")),)),
    ("device+runtime, own variance", (Tier((), True),)),
    ("device+runtime+network", (Tier(("network",)),)),
    ("+precision, then +network", (Tier(("precision",)), Tier(("network",)))),
    ("+precision own var., +network", (Tier(("precision",), True), Tier(("network",)))),
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


@dataclass(frozen=True)
class TierFit:
    """Shrunk offsets of each tier, fitted in turn: a row's offset is the sum of its groups' over the tiers."""

    tiers: tuple[Tier, ...]
    fits: tuple[ShrinkFit, ...]

    def offset(self, r: VendorResult) -> float:
        return sum(fit.offset(group_key(r, tier.keys)) for tier, fit in zip(self.tiers, self.fits, strict=True))


def board_wide(r: VendorResult, tier: Tier) -> bool:
    """Whether ``r`` may fit ``tier``'s offsets: a tier without the network goes to other networks, so only a
    ``VendorResult.board_wide`` row (as for the runtime's multiplier); its network's own group may take any (that
    network is measured with the cost in it)."""
    return tier.of_network or r.board_wide


def fit_tiers(rows: Sequence[VendorResult], tiers: Sequence[Tier]) -> TierFit:
    """Each tier's shrunk offsets on the log residuals the tiers before it leave (``rows`` already carry the
    runtime multipliers): a board's offset at a precision, then what a network adds on that board. A tier without
    the network takes only ``board_wide`` rows."""
    done = [r for r in rows if r.predicted_ms]
    left = [log_residual(r) for r in done]
    fits: list[ShrinkFit] = []
    for tier in tiers:
        groups: dict[GroupKey, list[float]] = {}
        for r, y in zip(done, left, strict=True):
            if board_wide(r, tier):
                groups.setdefault(group_key(r, tier.keys), []).append(y)
        fit = shrunk_offsets(groups, tier.own_variance)
        fits.append(fit)
        offsets = dict(fit.offsets)
        left = [y - offsets.get(group_key(r, tier.keys), 0.0) for r, y in zip(done, left, strict=True)]
    return TierFit(tuple(tiers), tuple(fits))


def with_offsets(results: Sequence[VendorResult], tiers: Sequence[Tier]) -> tuple[list[VendorResult], TierFit]:
    """The odd lines with the runtime multipliers and the shrunk tier offsets, both fitted on the even lines."""
    rows = runtime_scaled(results)
    fit = fit_tiers([r for r in rows if r.line % 2 == 0], tiers)
    return [_times(r, fit.offset(r)) for r in rows if r.line % 2 == 1], fit


def leave_one_line_out(results: Sequence[VendorResult], tiers: Sequence[Tier]) -> list[VendorResult]:
    """Every line with the runtime multipliers and its groups' shrunk offsets fitted on all the table's other lines."""
    rows = runtime_scaled(results)
    out = []
    for r in rows:
        fit = fit_tiers([x for x in rows if x.line != r.line], tiers)
        out.append(_times(r, fit.offset(r)))
    return out


def leave_one_network_out(results: Sequence[VendorResult], tiers: Sequence[Tier]) -> list[VendorResult]:
    """Every line predicted as a network new to its board: the runtime multipliers and the tier offsets fitted on
    all lines but those of its (device, runtime, network), which is what a run of a network the board has no
    rows of gets (the withheld networks of boards with rows)."""
    done = [r for r in results if r.predicted_ms]
    out = []
    for key in sorted({group_key(r, ("network",)) for r in done}):
        train = [r for r in done if group_key(r, ("network",)) != key]
        runtime = fit_runtime_scales(train, lambda r: True)
        fit = fit_tiers(scaled(train, runtime), tiers)
        out += [_times(r, fit.offset(r)) for r in scaled([r for r in done if group_key(r, ("network",)) == key],
                                                           runtime)]
    return sorted(out, key=lambda r: r.line)


def mape(rows: Sequence[VendorResult]) -> float:
    apes = [r.ape for r in rows if r.ape is not None]
    return sum(apes) / len(apes) if apes else math.nan


def log_sd(rows: Sequence[VendorResult]) -> float:
    logs = [log_residual(r) for r in rows if r.predicted_ms]
    return statistics.pstdev(logs) if len(logs) > 1 else math.nan


@dataclass(frozen=True)
class LevelCheck:
    level: str
    groups: int  # the last tier's
    within_var: float  # the last tier's
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
    mape_new_network: float = math.nan  # leave-one-network-out, all lines
    mape_new_network_before: float = math.nan  # the same, with the runtime multipliers only


def check_level(results: Sequence[VendorResult], level: str, tiers: Sequence[Tier],
                new_network_before: float | None = None) -> LevelCheck:
    """One grouping's figures; ``new_network_before``: the leave-one-network-out MAPE with the runtime multipliers
    only, the same for every grouping (computed here when not given)."""
    if new_network_before is None:
        new_network_before = mape(leave_one_network_out(results, ()))
    after, fit = with_offsets(results, tiers)
    before = [r for r in runtime_scaled(results) if r.line % 2 == 1]
    loo = leave_one_line_out(results, tiers)

    def by(rows: Sequence[VendorResult], pick: Callable[[VendorResult], str], value: str) -> list[VendorResult]:
        return [r for r in rows if pick(r) == value]

    changes = [(mape(by(after, lambda r: r.device, d)) - mape(by(before, lambda r: r.device, d)), d)
               for d in sorted({r.device for r in before})]
    worst = max(changes) if changes else (0.0, "-")
    per_rt = tuple((rt, len(by(before, lambda r: r.runtime_id, rt)), mape(by(before, lambda r: r.runtime_id, rt)),
                    mape(by(after, lambda r: r.runtime_id, rt))) for rt in sorted({r.runtime_id for r in before}))
    last = fit.fits[-1]
    return LevelCheck(level, len(last.offsets), last.within_var, last.between_var, mape(before), mape(after),
                      log_sd(before), log_sd(after), mape(loo), mape(runtime_scaled(results)), worst[1], worst[0],
                      per_rt, mape(leave_one_network_out(results, tiers)), new_network_before)


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

    @classmethod
    def levels_from_dict(cls, raw: dict[str, Any]) -> OffsetCheck:
        """The check's level table back from ``as_dict`` (the shipped npu_device_scales.json's "check"; nulls are
        NaN again; the coverage is not kept there)."""
        def num(x: Any) -> float:
            return math.nan if x is None else float(x)

        def level(d: dict[str, Any]) -> LevelCheck:
            return LevelCheck(
                str(d["level"]), int(d["groups"]), num(d["within_var"]), num(d["between_var"]),
                num(d["mape_before"]), num(d["mape_after"]), num(d["log_sd_before"]), num(d["log_sd_after"]),
                num(d["mape_loo"]), num(d["mape_loo_before"]), str(d["worst_device"]), num(d["worst_change"]),
                tuple((str(a), int(b), num(c), num(e)) for a, b, c, e in d["per_runtime"]),
                num(d["mape_new_network"]), num(d["mape_new_network_before"]))

        return cls(int(raw["odd_rows"]), int(raw["correlation_groups"]), num(raw["even_odd_correlation"]),
                   tuple(level(x) for x in raw["levels"]))

    def table(self) -> str:
        out = [f"device multipliers held out (runtime multipliers and shrunk per-group offsets fitted on the even "
               f"lines, scored on the {self.odd_rows} odd lines; correlation of the (device, runtime) groups' even "
               f"and odd mean residuals {self.even_odd_correlation:.2f} over {self.correlation_groups} groups):",
               f"{'grouping':<32} {'groups':>6} {'tau':>6} {'sigma':>6} {'MAPE':>14} {'log sd':>14} "
               f"{'one-line-out':>14} {'new network':>14}  most worse device"]
        for c in self.levels:
            out.append(f"{c.level:<32} {c.groups:>6} {math.sqrt(c.between_var):>6.3f} {math.sqrt(c.within_var):>6.3f} "
                       f"{c.mape_before:>6.1%} ->{c.mape_after:>6.1%} {c.log_sd_before:>6.3f} ->{c.log_sd_after:>6.3f} "
                       f"{c.mape_loo_before:>6.1%} ->{c.mape_loo:>6.1%} "
                       f"{c.mape_new_network_before:>6.1%} ->{c.mape_new_network:>6.1%}  "
                       f"{c.worst_device} {c.worst_change:+.1%}")
        out.append("(tau, sigma: the last tier's; new network: each (device, runtime, network)'s lines predicted from "
                   "all the others, as a network the board has no rows of)")
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
        for name, tiers in LEVELS:
            after, _ = with_offsets(results, tiers)
            cov += [LevelCoverage(name, c, measured_coverage(before, lodo, c), measured_coverage(after, lodo, c))
                    for c in confidences]
    new_before = mape(leave_one_network_out(results, ()))
    return OffsetCheck(len(odd), n, rho, tuple(check_level(results, name, tiers, new_before)
                                               for name, tiers in LEVELS),
                       tuple(cov))


# -- the shipped calibration ----------------------------------------------------------------------------------
# The tiers applied to predictions (``edgesim.pipeline.device_calibration``): a board's offset per deploy precision
# (any network: what a network new to the board gets; each group's mean with its own rows' variance, so one
# network far off, as RK1808's DeepLab at 3.7x, moves its board's other networks little), then its network's on
# top. Chosen by the check above (docs/intervals.md): of the LEVELS, the lowest odd-line MAPE and log standard
# deviation and one-line-out MAPE, new-network MAPE within 0.1 point of the lowest, no device more than 3.5 points
# worse (with the pooled variance RK1808's odd lines got 22 points worse). The network-only table it replaces
# left a network new to the board at the runtime's fit (new-network MAPE 16.7% against 15.2%).
NETWORK_TIER = Tier(("network",))
SHIPPED_TIERS: tuple[Tier, ...] = (Tier(("precision",), own_variance=True), NETWORK_TIER)


def even_groups(results: Sequence[VendorResult]) -> frozenset[GroupKey]:
    """The (device, runtime, network) groups with a predicted even line: the odd lines of these are predicted
    with their network's offset by ``held_out_calibrated`` (``npu_measured_device``), the others with the runtime's
    multiplier and their board's precision offset, as a run of a network the board has no rows of
    (``npu_measured_device_new_network``)."""
    return frozenset(group_key(r, NETWORK_TIER.keys) for r in results if r.predicted_ms and r.line % 2 == 0)


def held_out_calibrated(results: Sequence[VendorResult]) -> list[VendorResult]:
    """The odd lines as a run with the shipped calibration predicts them, fitted on the even lines only: the
    runtime multipliers and the shipped tiers' offsets (``validate_vendor``'s held-out figures and the
    ``npu_measured_device`` residuals)."""
    return with_offsets(results, SHIPPED_TIERS)[0]


def _count(rows: Sequence[VendorResult], tier: Tier) -> dict[GroupKey, int]:
    out: dict[GroupKey, int] = {}
    for r in rows:
        out[group_key(r, tier.keys)] = out.get(group_key(r, tier.keys), 0) + 1
    return out


def device_calibration_dict(results: Sequence[VendorResult]) -> dict[str, object]:
    """The table ``edgesim.pipeline.device_calibration`` applies, fitted on every predicted row (``results``: the
    driver's predictions without it): the runtimes' multipliers (geometric mean of measured / predicted over all
    their rows), then per tier the groups' shrunk offsets of what the tiers before leave."""
    done = [r for r in results if r.predicted_ms]
    runtime = fit_runtime_scales(done, lambda r: True)
    fit = fit_tiers(scaled(done, runtime), SHIPPED_TIERS)
    tiers = []
    for tier, shrink in zip(fit.tiers, fit.fits, strict=True):
        rows = _count(done, tier)
        tiers.append({"level": list(tier.keys), "own_variance": tier.own_variance, "within_var": round(shrink.within_var, 6),
                      "between_var": round(shrink.between_var, 6),
                      "groups": [{"device": k[0], "runtime": k[1], **dict(zip(tier.keys, k[2:], strict=True)),
                                  "rows": rows[k], "offset_log": round(off, 6)} for k, off in shrink.offsets]})
    return {"method": "latency x the runtime's multiplier over all its vendor-table rows x exp(the sum of the tiers' "
                      "offsets of the run's groups): per (device, runtime, precision), then per (device, runtime, "
                      "network) on what the first leaves, each the group's mean log residual shrunk by empirical "
                      "Bayes (within-group variance pooled, between-group variance by DerSimonian-Laird with the "
                      "mean fixed at 0; edgesim.validate.device_offsets)",
            "runtime_multipliers": {k: round(v, 6) for k, v in sorted(runtime.items())}, "tiers": tiers,
            # the held-out check that chose the tiers (docs/intervals.md quotes it; the coverage columns need the
            # leave-one-device-out predictions and are printed by 'edgesim validate --reference')
            "check": {k: v for k, v in device_offset_check(results).as_dict().items() if k != "coverage"}}
