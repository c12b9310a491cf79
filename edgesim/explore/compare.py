"""What-if comparison: models x hardware profiles in one table, a CSV and a chart with the Pareto front."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from edgesim.cost.estimate import Estimate
from edgesim.errors import EdgesimError
from edgesim.explore.pareto import pareto_mask
from edgesim.hw.schema import HardwareProfile


@dataclass(frozen=True)
class CompareRow:
    model: str
    hw: str
    runtime: str
    latency_s: float
    energy_j: float
    average_power_w: float
    peak_power_w: float
    peak_activation_bytes: int
    activation_memory_bytes: int
    fits: bool  # the run's full fit verdict: weights, activations and runtime arena against their memories
    bound: str  # the bound that accounts for most of the latency
    macs: int
    fit_problems: str = ""  # the verdict's reasons, '; '-joined
    peak_hardware: bool = False  # no runtime: the hardware's peak, not an engine's
    warnings: str = ""  # the run's plausibility warnings (fallback, overclock), '; '-joined
    pareto: bool = False
    # The prediction interval at ``confidence`` (edgesim.pipeline.intervals); None when not computed.
    latency_lo_s: float | None = None
    latency_hi_s: float | None = None
    energy_lo_j: float | None = None
    energy_hi_j: float | None = None
    confidence: float | None = None
    novelty: str = ""
    # the profile-range part of the latency interval, log offsets (lo <= 0 <= hi): what does not cancel between
    # two chips on one runtime (``indistinguishable``)
    latency_profile_lo_log: float = 0.0
    latency_profile_hi_log: float = 0.0

    def pareto_eligible(self, peak_on_front: bool = False) -> bool:
        """Only points that fit and were costed with a runtime (or, when asked, at peak hardware speed) compete
        for the Pareto front."""
        return self.fits and (peak_on_front or not self.peak_hardware)


def peak_power_w(est: Estimate) -> float:
    """Highest per-layer average power: the power the supply must sustain for the busiest layer."""
    powers = [layer.energy_j / layer.latency_s for layer in est.layers if layer.latency_s > 0]
    return max(powers, default=est.average_power_w)


def dominant_bound(est: Estimate) -> str:
    share: dict[str, float] = {}
    for layer in est.layers:
        share[layer.bound] = share.get(layer.bound, 0.0) + layer.latency_s
    return max(share, key=lambda k: share[k]) if share else "none"


def row_from_estimate(est: Estimate, model: str, hw: str, *, fits: bool | None = None, fit_problems: str = "",
                      peak_hardware: bool = False, warnings: str = "") -> CompareRow:
    """A table row; ``fits`` is the run's fit verdict (default: activations only, for a bare estimate)."""
    return CompareRow(model=model, hw=hw, runtime=est.runtime, latency_s=est.latency_s, energy_j=est.energy_j,
                      average_power_w=est.average_power_w, peak_power_w=peak_power_w(est),
                      peak_activation_bytes=est.peak_activation_bytes,
                      activation_memory_bytes=est.activation_memory_bytes,
                      fits=est.fits_on_chip if fits is None else fits, bound=dominant_bound(est), macs=est.macs,
                      fit_problems=fit_problems, peak_hardware=peak_hardware, warnings=warnings)


def _model_label(spec: str | Path) -> str:
    return Path(spec).stem if Path(str(spec)).suffix else str(spec)


def _refuse_repeats(models: Sequence[str | Path], hws: Sequence[str | Path | HardwareProfile],
                    rts: Sequence[str | None]) -> None:
    """The same model, or the same profile with the same runtime, twice: duplicate rows that tie on the front."""
    names = [str(m) for m in models]
    for m in names:
        if names.count(m) > 1:
            raise EdgesimError(f"model '{m}' is listed twice", field="models")
    targets = [(h.id if isinstance(h, HardwareProfile) else str(h), rt) for h, rt in zip(hws, rts, strict=True)]
    for hw, rt in targets:
        if targets.count((hw, rt)) > 1:
            raise EdgesimError(f"--hw {hw}" + (f" with --runtime {rt}" if rt else "") + " is listed twice",
                               field="hw")


def compare(models: Sequence[str | Path], hws: Sequence[str | Path | HardwareProfile],
            runtimes: Sequence[str | None] | None = None, quant: str | None = None,
            peak_on_front: bool = False, confidence: float | None = 0.8, input_shape: tuple[int, ...] | None = None,
            threads: int | None = None) -> list[CompareRow]:
    """Estimate every model on every profile. ``runtimes`` is one entry for all profiles or one per profile
    (None = the profile's default runtime); ``quant`` quantizes float models first; ``input_shape`` and
    ``threads`` are those of ``edgesim run`` (the driver checks them per profile and runtime). Rows on the
    latency/energy Pareto front of their model have ``pareto=True``; rows that do not fit never are, nor rows
    without a runtime (peak hardware) unless ``peak_on_front``. Each row carries its interval at ``confidence``
    (None: no intervals)."""
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, resolve_profile, run
    from edgesim.pipeline.intervals import check_confidence, interval

    if confidence is not None:
        check_confidence(confidence)

    if not models:
        raise EdgesimError("compare needs at least one model")
    if not hws:
        raise EdgesimError("compare needs at least one hardware profile (--hw)")
    rts: list[str | None] = list(runtimes) if runtimes else [None]
    if len(rts) == 1:
        rts = rts * len(hws)
    if len(rts) != len(hws):
        raise EdgesimError(f"give one --runtime for all profiles or one per --hw ({len(hws)}), got {len(rts)}",
                           field="runtime")
    _refuse_repeats(models, hws, rts)
    profiles = [resolve_profile(h) for h in hws]
    # The same transformations as ``edgesim run --quant`` (the driver caches the transformed graph per model).
    transform = TransformOptions(quant=QuantPreset(quant) if quant else None, accuracy=False)
    rows: list[CompareRow] = []
    for m in models:
        for prof, rt in zip(profiles, rts, strict=True):
            res = run(RunSpec(m, prof, rt, input_shape=input_shape, threads=threads, transform=transform))
            rows.append(row_from_estimate(res.estimate, _model_label(m), prof.id, fits=res.fit.fits,
                                          fit_problems="; ".join(res.fit.problems),
                                          peak_hardware=res.peak_hardware,
                                          warnings="; ".join(w for w in res.warnings() if "peak hardware" not in w)))
            if confidence is not None:
                iv = interval(res, confidence)
                # an end an unmodelled cost leaves open is None (intervals.open_sides), as in every JSON door
                (lat_lo, lat_hi), (en_lo, en_hi) = iv.latency_s.as_list(), iv.energy_j.as_list()
                rows[-1] = CompareRow(**{**asdict(rows[-1]), "latency_lo_s": lat_lo,
                                         "latency_hi_s": lat_hi, "energy_lo_j": en_lo,
                                         "energy_hi_j": en_hi, "confidence": confidence,
                                         "novelty": iv.novelty.value,
                                         "latency_profile_lo_log": min(iv.profile_latency_log[0], 0.0),
                                         "latency_profile_hi_log": max(iv.profile_latency_log[1], 0.0)})
    # Different models do different work, so the front is per model: which chips are worth buying for it. A
    # point that does not fit, or has no runtime, is no option: it stays off the front.
    mask = grouped_pareto_mask([r.model for r in rows], [r.latency_s for r in rows], [r.energy_j for r in rows],
                               [r.pareto_eligible(peak_on_front) for r in rows])
    return [CompareRow(**{**asdict(r), "pareto": bool(p)}) for r, p in zip(rows, mask, strict=True)]


def grouped_pareto_mask(groups: Sequence[str], latency_s: Sequence[float], energy_j: Sequence[float],
                        eligible: Sequence[bool] | None = None) -> list[bool]:
    """Latency/energy Pareto membership computed separately within each group, among the ``eligible`` points
    (default all); ineligible points are never on the front and dominate nothing."""
    out = [False] * len(groups)
    ok = list(eligible) if eligible is not None else [True] * len(groups)
    for g in dict.fromkeys(groups):
        idx = [i for i, x in enumerate(groups) if x == g and ok[i]]
        if not idx:
            continue
        sub = pareto_mask([(latency_s[i], energy_j[i]) for i in idx])
        for i, p in zip(idx, sub, strict=True):
            out[i] = bool(p)
    return out


def indistinguishable(rows: Sequence[CompareRow]) -> list[tuple[CompareRow, CompareRow]]:
    """Pairs of rows of one model the prediction cannot tell apart in latency at their confidence. Two chips on
    the same runtime in the same novelty class share most of the model's error (the runtime's kernels, the
    model's cost), which cancels in their ratio: they differ when the ratio exceeds the calibrated spread of
    such differences (``shared_margin``) with their profile ranges added in quadrature. Other pairs, whose
    errors are independent, differ when their intervals do not overlap."""
    out = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if a.model != b.model or a.latency_lo_s is None or b.latency_lo_s is None:
                continue
            # an upper end left open by an unmodelled cost reaches any slower chip
            a_hi = math.inf if a.latency_hi_s is None else a.latency_hi_s
            b_hi = math.inf if b.latency_hi_s is None else b.latency_hi_s
            margin = _shared_margin(a, b)
            if margin is not None:
                slow, fast = (a, b) if a.latency_s >= b.latency_s else (b, a)
                limit = math.hypot(margin, slow.latency_profile_lo_log, fast.latency_profile_hi_log)
                if math.log(slow.latency_s / fast.latency_s) <= limit:
                    out.append((a, b))
            elif a.latency_lo_s <= b_hi and b.latency_lo_s <= a_hi:
                out.append((a, b))
    return out


def _shared_margin(a: CompareRow, b: CompareRow) -> float | None:
    """The calibrated log-latency margin when a and b share their model error, else None."""
    if a.runtime != b.runtime or a.novelty != b.novelty or not a.novelty or a.peak_hardware or b.peak_hardware:
        return None
    from edgesim.pipeline.intervals import NoveltyClass, shared_margin

    return shared_margin(NoveltyClass(a.novelty), a.confidence or 0.8)


def format_indistinguishable(rows: Sequence[CompareRow]) -> str:
    pairs = indistinguishable(rows)
    if not pairs:
        return ""
    conf = pairs[0][0].confidence or 0.0
    lines = [f"not distinguishable at {conf:.0%} (latency intervals overlap; on one runtime and novelty class, the "
             "ratio is within the calibrated spread of such pairs):"]
    lines += [f"  {a.model}: {a.hw} vs {b.hw}" + (" (shared runtime error)" if _shared_margin(a, b) is not None
                                                  else "") for a, b in pairs]
    return "\n".join(lines)


def format_compare(rows: Sequence[CompareRow], peak_on_front: bool = False) -> str:
    """The table, then a line per excluded point saying why it is off the Pareto front."""
    from edgesim.report.units import si, si_bytes

    conf = next((r.confidence for r in rows if r.confidence is not None), None)
    rng = f"{'latency ' + format(conf, '.0%'):>20} " if conf is not None else ""
    head = (f"{'model':<22} {'hw':<16} {'runtime':<18} {'latency':>10} {rng}{'energy':>10} {'avg power':>10} "
            f"{'peak power':>10} {'peak act':>9} {'fits':>4} {'bound':<14} pareto")
    lines = [head, "-" * len(head)]
    for r in rows:
        runtime = "none (peak)" if r.peak_hardware else r.runtime
        span = ""
        if conf is not None:
            span = "-"
            if r.latency_lo_s is not None:
                span = (f"{si(r.latency_lo_s, 's')}-{si(r.latency_hi_s, 's')}" if r.latency_hi_s is not None
                        else f">= {si(r.latency_lo_s, 's')}")  # upper end left open by an unmodelled cost
            span = f"{span:>20} "
        lines.append(f"{r.model[:22]:<22} {r.hw[:16]:<16} {runtime[:18]:<18} {si(r.latency_s, 's'):>10} {span}"
                     f"{si(r.energy_j, 'J'):>10} {si(r.average_power_w, 'W'):>10} {si(r.peak_power_w, 'W'):>10} "
                     f"{si_bytes(r.peak_activation_bytes):>9} {'yes' if r.fits else 'no':>4} "
                     f"{r.bound[:14]:<14} {'*' if r.pareto else ''}")
    lines.extend(excluded_lines(rows, peak_on_front))
    lines.extend(f"warning: {r.model} on {r.hw}: {r.warnings}" for r in rows if r.warnings)
    return "\n".join(lines)


def excluded_lines(rows: Sequence[CompareRow], peak_on_front: bool = False) -> list[str]:
    """Why each point is kept off the Pareto front (does not fit; no runtime, unless ``peak_on_front``)."""
    out = []
    for r in rows:
        why = ([f"does not fit ({r.fit_problems})"] if not r.fits else []) + \
              (["has no runtime (peak hardware)"] if r.peak_hardware and not peak_on_front else [])
        if why:
            out.append(f"excluded from the Pareto front: {r.model} on {r.hw} {' and '.join(why)}")
    return out


def write_compare_csv(rows: Sequence[CompareRow], path: str | Path) -> Path:
    from edgesim.files import atomic_write_csv

    return atomic_write_csv(path, [f.name for f in fields(CompareRow)], (asdict(r) for r in rows))


def plot_tradeoff(labels: Sequence[str], latency_s: Sequence[float], energy_j: Sequence[float],
                  path: str | Path, title: str = "", bars: bool = True,
                  groups: Sequence[str] | None = None,
                  intervals: Sequence[tuple[float, float, float, float]] | None = None) -> Path:
    """Latency bars (optional) and a latency-vs-energy scatter with the Pareto front (per group when
    ``groups`` is given) drawn as step lines; ``intervals`` (latency lo, hi s, energy lo, hi J per point) are
    drawn as error bars."""
    from edgesim.report.plots import pyplot, save_figure

    plt = pyplot()
    grp = list(groups) if groups is not None else [""] * len(labels)
    mask = grouped_pareto_mask(grp, latency_s, energy_j)
    ncols = 2 if bars else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.8), squeeze=False)
    ax = axes[0][0]
    if bars:
        bar_err = None if intervals is None else [
            [(v - lo) * 1e3 for v, (lo, _, _, _) in zip(latency_s, intervals, strict=True)],
            [(hi - v) * 1e3 for v, (_, hi, _, _) in zip(latency_s, intervals, strict=True)]]
        ax.barh(range(len(labels)), [v * 1e3 for v in latency_s], xerr=bar_err, ecolor="tab:gray",
                color=["tab:orange" if p else "tab:blue" for p in mask])
        ax.set_yticks(range(len(labels)), list(labels), fontsize=7)
        ax.set_xlabel("latency (ms)")
        ax.set_xscale("log")
        ax.set_title("latency (Pareto-optimal in orange)")
        ax = axes[0][1]
    lat_ms = [v * 1e3 for v in latency_s]
    en_mj = [v * 1e3 for v in energy_j]
    ax.scatter(lat_ms, en_mj, c="tab:blue", s=18, label="design points")
    if intervals is not None:
        xerr = [[x - lo * 1e3 for x, (lo, _, _, _) in zip(lat_ms, intervals, strict=True)],
                [hi * 1e3 - x for x, (_, hi, _, _) in zip(lat_ms, intervals, strict=True)]]
        yerr = [[y - lo * 1e3 for y, (_, _, lo, _) in zip(en_mj, intervals, strict=True)],
                [hi * 1e3 - y for y, (_, _, _, hi) in zip(en_mj, intervals, strict=True)]]
        ax.errorbar(lat_ms, en_mj, xerr=xerr, yerr=yerr, fmt="none", ecolor="tab:gray", elinewidth=0.8,
                    alpha=0.7, label="prediction interval")
    for n, g in enumerate(dict.fromkeys(grp)):
        front = sorted((x, y) for x, y, p, gg in zip(lat_ms, en_mj, mask, grp, strict=True) if p and gg == g)
        ax.step([x for x, _ in front], [y for _, y in front], where="post", color="tab:orange")
        ax.scatter([x for x, _ in front], [y for _, y in front], c="tab:orange", s=40, marker="D",
                   label="Pareto front" if n == 0 else None)
    if len(labels) <= 30:
        for lbl, x, y in zip(labels, lat_ms, en_mj, strict=True):
            ax.annotate(lbl, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy per inference (mJ)")
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_compare(rows: Sequence[CompareRow], path: str | Path) -> Path:
    ivs: list[tuple[float, float, float, float]] | None = None
    if all(r.latency_lo_s is not None for r in rows):
        # an end left open by an unmodelled cost draws no whisker on that side
        ivs = [(r.latency_lo_s or 0.0, r.latency_hi_s or r.latency_s, r.energy_lo_j or 0.0, r.energy_hi_j or r.energy_j)
               for r in rows]
    conf = f", {rows[0].confidence:.0%} intervals" if rows and rows[0].confidence is not None else ""
    return plot_tradeoff([f"{r.model}@{r.hw}" for r in rows], [r.latency_s for r in rows],
                         [r.energy_j for r in rows], path, title=f"edgesim compare (Pareto front per model{conf})",
                         groups=[r.model for r in rows], intervals=ivs)


__all__ = ["CompareRow", "compare", "dominant_bound", "format_compare", "format_indistinguishable",
           "indistinguishable", "grouped_pareto_mask", "peak_power_w", "plot_compare",
           "plot_tradeoff", "row_from_estimate", "write_compare_csv"]
