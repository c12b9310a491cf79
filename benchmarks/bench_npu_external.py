"""External check of devices with no rows in the bundled vendor table (issue #17): edgesim's shipped prediction
next to public vendor benchmark numbers shipped in ``edgesim/data/reference/npu_external/*.csv`` (the vendor
table's format, one row per published number with its source URL). The predictions are never fitted to them.

Since issue #18 these rows also calibrate the NPU intervals (``edgesim.validate.npu_external``: their residuals
are out-of-sample for the device by construction). So the interval check here is leave-one-device-out: each row's
80% latency interval is built as ``edgesim.pipeline.intervals.interval`` builds it (the profile's ranges and the
model error of the novelty class the driver picks, in quadrature) with the model part calibrated on the shipped
residuals WITHOUT the row's device (``npu_external.held_out_intervals``; for a board with vendor-table rows, without
the board's rows of that network, as the coverage check holds it out). A throughput row's interval is that of a
frame period. Writes benchmarks/results/npu_external.json and prints per-device error and the share of published
numbers inside that interval with its median half-width, then the same by novelty class and by runtime.

A row a declared unmodelled cost applies to (``RuntimeProfile.unmodelled``, ``edgesim.pipeline.gaps``) has the side
the cost moves the truth to open (``intervals.open_sides``: ``upper_bounded`` false), so it counts as covered when
the measurement is inside the bounded end; the half-widths keep the calibrated ends. The flagged rows are also
reported apart (one-sided and, as before the ends were opened, two-sided) beside the unflagged ones.

Run: python benchmarks/bench_npu_external.py
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.validate.intervals import shipped_residuals  # noqa: E402
from edgesim.validate.npu_external import external_files, held_out_intervals, predict_external  # noqa: E402

CONFIDENCE = 0.8
RESULT = ROOT / "benchmarks" / "results" / "npu_external.json"


def _coverage(rows: list[dict[str, object]]) -> tuple[float, float]:
    """Share of rows whose measured value lies inside the interval's bounded ends, and the median relative
    half-width of the calibrated ends."""
    inside = [bool(r["covered"]) for r in rows]
    widths = [(float(r["interval_hi_ms"]) - float(r["interval_lo_ms"])) / 2 / float(r["predicted_ms"])  # type: ignore[arg-type]
              for r in rows]
    return sum(inside) / len(inside), statistics.median(widths)


def _summary(rows: list[dict[str, object]], key: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for value in sorted({str(r[key]) for r in rows}):
        mine = [r for r in rows if r[key] == value]
        ratios = [float(r["predicted_ms"]) / float(r["measured_ms"]) for r in mine]  # type: ignore[arg-type]
        covered, width = _coverage(mine)
        out.append({"novelty": sorted({str(r["novelty"]) for r in mine}),
                    "runtimes": sorted({str(r["runtime"]) for r in mine}),
                    key: value, "rows": len(mine), "devices": len({str(r["device"]) for r in mine}),
                    "mape": statistics.fmean(abs(x - 1.0) for x in ratios),
                    "median_ratio_predicted_over_measured": statistics.median(ratios),
                    "interval_covered": covered, "interval_median_half_width": width})
    return out


def _flagged_summary(flagged: list[dict[str, object]], unflagged: list[dict[str, object]]) -> dict[str, object]:
    """The rows a declared unmodelled cost applies to, apart: their coverage with the open end and two-sided."""
    def share(rows: list[dict[str, object]], key: str) -> float | None:
        return sum(bool(r[key]) for r in rows) / len(rows) if rows else None

    return {"rows": len(flagged), "ids": sorted({str(i) for r in flagged for i in r["unmodelled"]}),  # type: ignore[attr-defined]
            "covered_one_sided": share(flagged, "covered"), "covered_two_sided": share(flagged, "covered_two_sided"),
            "unflagged_rows": len(unflagged), "unflagged_covered": share(unflagged, "covered")}


def _print(title: str, summary: list[dict[str, object]], key: str) -> None:
    print(f"{title:<32} {'rows':>4} {'MAPE':>7} {'median pred/meas':>17} {'in 80% interval':>16} {'half-width':>11}")
    for d in summary:
        print(f"{d[key]:<32} {d['rows']:>4} {d['mape']:>7.1%} {d['median_ratio_predicted_over_measured']:>17.2f} "
              f"{d['interval_covered']:>16.0%} {d['interval_median_half_width']:>11.0%}")


def main(predict: Callable[..., tuple[list, int]] = predict_external) -> dict[str, object]:
    files = external_files()
    preds, refused = predict(files, with_profile=CONFIDENCE)
    rows: list[dict[str, object]] = [
        {"file": h.prediction.file, "file_line": h.prediction.line, "device": h.prediction.device,
         "runtime": h.prediction.runtime, "network": h.prediction.network, "precision": h.prediction.precision,
         "metric": h.prediction.metric, "measured_ms": h.prediction.measured_ms,
         "predicted_ms": h.prediction.predicted_ms, "interval_lo_ms": h.lo_ms, "interval_hi_ms": h.hi_ms,
         "upper_bounded": h.upper_bounded, "lower_bounded": h.lower_bounded, "covered": h.covered,
         "covered_two_sided": h.covered_two_sided,
         "unmodelled": [f"{g.runtime}:{g.cost.id}" for g in h.prediction.gaps], "novelty": h.prediction.cls.value}
        for h in held_out_intervals(preds, shipped_residuals(), CONFIDENCE)]
    covered, width = _coverage(rows) if rows else (None, None)
    flagged = [r for r in rows if not (r["upper_bounded"] and r["lower_bounded"])]
    unflagged = [r for r in rows if r["upper_bounded"] and r["lower_bounded"]]
    report: dict[str, object] = {
        "files": [str(f.relative_to(ROOT)) for f in files],
        "confidence": CONFIDENCE,
        "interval_check": "leave-one-device-out: each row's model-error bounds calibrated without its device's "
                          "residuals (npu_external.held_out_intervals)",
        "devices": _summary(rows, "device"), "classes": _summary(rows, "novelty"),
        "runtimes": _summary(rows, "runtime"),
        "mape_all": statistics.fmean(abs(float(r["predicted_ms"]) / float(r["measured_ms"]) - 1.0)  # type: ignore[arg-type]
                                     for r in rows) if rows else None,
        "interval_covered_all": covered, "interval_median_half_width_all": width,
        "interval_covered_all_two_sided": (sum(bool(r["covered_two_sided"]) for r in rows) / len(rows)
                                           if rows else None),
        "unmodelled_flagged": _flagged_summary(flagged, unflagged),
        "rows": rows, "skipped": refused,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=1) + "\n")
    _print("device", report["devices"], "device")  # type: ignore[arg-type]
    _print("novelty class", report["classes"], "novelty")  # type: ignore[arg-type]
    _print("runtime", report["runtimes"], "runtime")  # type: ignore[arg-type]
    f = report["unmodelled_flagged"]
    if flagged:
        print(f"unmodelled cost declared on {f['rows']} rows ({', '.join(f['ids'])}): {f['covered_one_sided']:.0%} "  # type: ignore[index]
              f"inside the bounded end ({f['covered_two_sided']:.0%} two-sided, as calibrated); the {f['unflagged_rows']} "  # type: ignore[index]
              f"other rows {f['unflagged_covered']:.0%}")  # type: ignore[index]
    if rows:
        print(f"all {len(rows)} rows: MAPE {report['mape_all']:.1%}, {covered:.0%} inside the 80% interval held out "
              f"by device (median half-width {width:.0%}); skipped {refused}; wrote {RESULT}")
    return report


if __name__ == "__main__":
    main()
