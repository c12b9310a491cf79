"""The coverage check's text: the class table, the issue's two device groups, the per-runtime table and the rows a
declared unmodelled cost applies to, apart, as ``edgesim validate --coverage`` prints them and docs/intervals.md
quotes them (the numbers: ``edgesim.validate.intervals``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

from edgesim.errors import EdgesimError
from edgesim.pipeline.gaps import KnownGap, applies, graph_kernel_keys
from edgesim.pipeline.intervals import Interval, open_sides
from edgesim.validate.intervals import (
    REPORT_MIN_ROWS,
    Coverage,
    GroupCoverage,
    Residual,
    coverage,
    held_out_latency_bounds,
    target_group_coverage,
)


def target_group_table(rows: Sequence[GroupCoverage], confidence: float) -> str:
    lines = [f"the issue's two device groups at {confidence:.0%} (classes pooled, each row with its own class's bounds):",
             f"{'group':<26} {'metric':<8} {'rows':>5} {'covered':>8} {'median half-width':>18} {'width target':>13}"]
    for g in rows:
        # the issue states its width bounds for 80% intervals only
        target = f"<= {g.width_target:.0%}" if math.isclose(confidence, 0.8) else "-"
        lines.append(f"{g.group:<26} {g.metric:<8} {g.rows:>5} {g.covered:>8.0%} {g.median_half_width:>17.0%} "
                     f"{target:>13}")
    return "\n".join(lines)


def _class_table(title: str, cov: Sequence[Coverage], by_runtime: bool) -> str:
    """One row per (class[, runtime], metric): rows, groups, covered share and median half-width."""
    runtime_head = f" {'runtime':<16}" if by_runtime else ""
    lines = [title, f"{'class':<31}{runtime_head} {'metric':<8} {'rows':>5} {'groups':>7} {'covered':>8} "
                    f"{'median half-width':>18}"]
    for c in cov:
        runtime = f" {c.runtime or '':<16}" if by_runtime else ""
        lines.append(f"{c.cls.value:<31}{runtime} {c.metric:<8} {c.rows:>5} {c.devices:>7} {c.covered:>8.0%} "
                     f"{c.median_half_width:>17.0%}" + (f"  ({c.capped_rows} rows capped)" if c.capped_rows else ""))
    return "\n".join(lines)


def coverage_table(cov: Sequence[Coverage], confidence: float) -> str:
    return _class_table(f"interval coverage at {confidence:.0%} (bounds from the other groups' residuals; a group is a "
                        "device, for measured_device and npu_measured_device(_new_network) a device's benchmark, for "
                        "new_runtime a runtime):", cov, by_runtime=False)


def runtime_coverage_table(cov: Sequence[Coverage], confidence: float) -> str:
    """``coverage(by_runtime=True)``: the per-runtime check of the classes calibrated per runtime."""
    return _class_table(f"per runtime at {confidence:.0%} (classes calibrated per runtime, and new_runtime; runtimes "
                        f"with at least {REPORT_MIN_ROWS} held-out rows):", cov, by_runtime=True)


@cache
def _network_keys(network: str) -> frozenset[str] | None:
    """Op kinds and kernel keys of a zoo network as loaded (a residual carries no costed graph: a trigger's op is
    looked for in the source graph, which fusion does not remove it from); None: not a zoo network."""
    from edgesim.frontends.loader import is_zoo_name
    from edgesim.pipeline import load_source

    if not is_zoo_name(network):
        return None
    try:
        return graph_kernel_keys(load_source(network))
    except EdgesimError:
        return None


@cache
def _row_metrics(table: str) -> dict[int, str]:
    """Line -> metric of a vendor-format table ('npu_vendor' or an external file name)."""
    from edgesim.files import data_path
    from edgesim.validate.npu_external import EXTERNAL_DIR
    from edgesim.validate.npu_vendor import read_vendor

    path = table if table == "npu_vendor" else data_path(*EXTERNAL_DIR, table)
    try:
        return {r.line: r.metric for r in read_vendor(path)[0]}
    except EdgesimError:
        return {}


def residual_gaps(x: Residual) -> tuple[KnownGap, ...]:
    """The declared unmodelled costs of the runtime that predicted ``x`` that apply to its device and network (the
    release is not in a residual: not filtered by it)."""
    from edgesim.hw.loader import load_runtime

    rid = x.substitute or x.runtime
    try:
        runtime = load_runtime(rid, quiet=True)[0]
    except (EdgesimError, ValueError):
        return ()
    if not runtime.unmodelled:
        return ()
    keys = _network_keys(x.benchmark)
    return tuple(KnownGap(rid, c) for c in runtime.unmodelled if applies(c, x.device, None, keys))


def _row_metric(x: Residual) -> str:
    return _row_metrics(x.external or "npu_vendor").get(x.line, "latency")


def flagged_table(residuals: Sequence[Residual], confidence: float) -> str:
    """The held-out latency rows a declared unmodelled cost applies to, apart from the rest of their class: covered
    by the bounded end of their interval (the open end as ``intervals.open_sides`` leaves it), and two-sided as
    calibrated; beside them the class's other rows. The class tables above count every row two-sided."""
    flags = [(x, residual_gaps(x)) for x in residuals]
    classes = sorted({x.cls for x, gaps in flags if gaps}, key=lambda c: c.value)
    lines = [f"rows a declared unmodelled cost applies to, at {confidence:.0%} (their interval's open end not "
             "claimed; edgesim.pipeline.gaps):",
             f"{'class':<31} {'flagged':>8} {'bounded end':>12} {'two-sided':>10} {'other rows':>11} {'covered':>8}"]
    for cls in classes:
        hits: dict[bool, list[tuple[bool, bool]]] = {True: [], False: []}
        for x, gaps in flags:
            if x.cls is not cls:
                continue
            lo, hi, _ = held_out_latency_bounds(x, residuals, confidence)
            iv = open_sides(Interval(math.exp(lo), math.exp(hi)), gaps, stream=_row_metric(x) == "throughput")
            ratio = math.exp(x.latency_log)  # measured / predicted
            hits[bool(gaps)].append((iv.contains(ratio), lo <= x.latency_log <= hi))
        flagged, other = hits[True], hits[False]
        other_share = f"{sum(h[0] for h in other) / len(other):>8.0%}" if other else f"{'-':>8}"
        lines.append(f"{cls.value:<31} {len(flagged):>8} {sum(h[0] for h in flagged) / len(flagged):>12.0%} "
                     f"{sum(h[1] for h in flagged) / len(flagged):>10.0%} {len(other):>11} {other_share}")
    ids = sorted({f"{g.runtime}:{g.cost.id}" for _, gaps in flags for g in gaps})
    lines.append(f"declared costs on these rows: {', '.join(ids) or 'none'}")
    return "\n".join(lines)


def coverage_report(residuals: Sequence[Residual], confidence: float) -> str:
    """What ``edgesim validate --coverage`` prints (and docs/intervals.md quotes) for the non-LLM classes: the class
    table, the issue's two device groups, the per-runtime table when a runtime has enough held-out rows, and the
    rows a declared unmodelled cost applies to, apart."""
    parts = [coverage_table(coverage(residuals, confidence), confidence),
             target_group_table(target_group_coverage(residuals, confidence), confidence)]
    if by_runtime := coverage(residuals, confidence, by_runtime=True):
        parts.append(runtime_coverage_table(by_runtime, confidence))
    if any(residual_gaps(x) for x in residuals):
        parts.append(flagged_table(residuals, confidence))
    return "\n\n".join(parts)
