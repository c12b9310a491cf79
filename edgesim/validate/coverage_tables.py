"""The coverage check's text: the class table, the issue's two device groups and the per-runtime table, as
``edgesim validate --coverage`` prints them and docs/intervals.md quotes them (the numbers:
``edgesim.validate.intervals``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from edgesim.validate.intervals import (
    REPORT_MIN_ROWS,
    Coverage,
    GroupCoverage,
    Residual,
    coverage,
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


def coverage_report(residuals: Sequence[Residual], confidence: float) -> str:
    """What ``edgesim validate --coverage`` prints (and docs/intervals.md quotes) for the non-LLM classes: the class
    table, the issue's two device groups, and the per-runtime table when a runtime has enough held-out rows."""
    parts = [coverage_table(coverage(residuals, confidence), confidence),
             target_group_table(target_group_coverage(residuals, confidence), confidence)]
    if by_runtime := coverage(residuals, confidence, by_runtime=True):
        parts.append(runtime_coverage_table(by_runtime, confidence))
    return "\n\n".join(parts)
