"""External check of devices with no rows in the bundled vendor table (issue #17): edgesim's shipped prediction
next to public vendor benchmark numbers collected in ``benchmarks/external/*.csv`` (the vendor table's format, one
row per published number with its source URL). These numbers are a check only, never a fit target: nothing in the
package reads them. Writes benchmarks/results/npu_external.json and prints per-device error, and how often the
shipped 80% latency interval (issue #18: ``edgesim.pipeline.intervals.interval``, the novelty class the driver
picks for the row; its relative bounds around the row's prediction, a frame period for throughput rows) contains the
published number, with its median half-width: the intervals on data that neither the model nor the interval
calibration ever saw.

Run: python benchmarks/bench_npu_external.py
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.pipeline.intervals import interval  # noqa: E402
from edgesim.validate.npu_vendor import VendorResult, VendorRow, predict_all, predict_row_result, read_vendor  # noqa: E402

CONFIDENCE = 0.8
# (file, line) -> the row's interval relative to its prediction: (low, high, novelty class)
Bounds = dict[tuple[str, int], tuple[float, float, str]]

EXTERNAL = ROOT / "benchmarks" / "external"
RESULT = ROOT / "benchmarks" / "results" / "npu_external.json"


def _results(path: Path, bounds: Bounds) -> tuple[list[VendorResult], list[VendorResult]]:
    rows, skipped = read_vendor(path)

    def predict(row: VendorRow) -> float:
        ms, result = predict_row_result(row)
        iv = interval(result, CONFIDENCE)
        bounds[path.name, row.line] = (iv.latency_s.lo / result.latency_s, iv.latency_s.hi / result.latency_s,
                                       iv.novelty.value)
        return ms

    with contextlib.redirect_stderr(io.StringIO()):
        results = predict_all(rows, predict)
    return [r for r in results if r.predicted_ms is not None], skipped + [r for r in results if r.predicted_ms is None]


def _coverage(rows: list[dict[str, object]]) -> tuple[float, float]:
    """Share of rows whose measured value lies inside the interval, and the median relative half-width."""
    inside = [float(r["interval_lo_ms"]) <= float(r["measured_ms"]) <= float(r["interval_hi_ms"])  # type: ignore[arg-type]
              for r in rows]
    widths = [(float(r["interval_hi_ms"]) - float(r["interval_lo_ms"])) / 2 / float(r["predicted_ms"])  # type: ignore[arg-type]
              for r in rows]
    return sum(inside) / len(inside), statistics.median(widths)


def _device_summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for device in sorted({str(r["device"]) for r in rows}):
        mine = [r for r in rows if r["device"] == device]
        ratios = [float(r["predicted_ms"]) / float(r["measured_ms"]) for r in mine]  # type: ignore[arg-type]
        covered, width = _coverage(mine)
        out.append({"device": device, "rows": len(mine),
                    "mape": statistics.fmean(abs(x - 1.0) for x in ratios),
                    "median_ratio_predicted_over_measured": statistics.median(ratios),
                    "interval_covered": covered, "interval_median_half_width": width,
                    "novelty": sorted({str(r["novelty"]) for r in mine}),
                    "runtimes": sorted({str(r["runtime"]) for r in mine})})
    return out


def main() -> dict[str, object]:
    files = sorted(EXTERNAL.glob("*.csv"))
    rows: list[dict[str, object]] = []
    skipped: list[VendorResult] = []
    for f in files:
        bounds: Bounds = {}
        done, s = _results(f, bounds)
        skipped += s
        for r in done:
            lo, hi, cls = bounds[f.name, r.line]
            rows.append({"file": f.name, "file_line": r.line, "device": r.device, "runtime": r.runtime,
                         "network": r.network, "precision": r.precision, "metric": r.metric,
                         "measured_ms": r.measured_ms, "predicted_ms": r.predicted_ms,
                         "interval_lo_ms": lo * r.predicted_ms, "interval_hi_ms": hi * r.predicted_ms,  # type: ignore[operator]
                         "novelty": cls})
    covered, width = _coverage(rows) if rows else (None, None)
    report: dict[str, object] = {
        "files": [str(f.relative_to(ROOT)) for f in files],
        "confidence": CONFIDENCE,
        "devices": _device_summary(rows),
        "mape_all": statistics.fmean(abs(float(r["predicted_ms"]) / float(r["measured_ms"]) - 1.0)  # type: ignore[arg-type]
                                     for r in rows) if rows else None,
        "interval_covered_all": covered, "interval_median_half_width_all": width,
        "rows": rows,
        "skipped": [{"file_line": r.line, "device": r.device, "why": r.error} for r in skipped],
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{'device':<22} {'rows':>4} {'MAPE':>7} {'median pred/meas':>17} {'in 80% interval':>16} {'half-width':>11}")
    for d in report["devices"]:  # type: ignore[union-attr]
        print(f"{d['device']:<22} {d['rows']:>4} {d['mape']:>7.1%} {d['median_ratio_predicted_over_measured']:>17.2f} "
              f"{d['interval_covered']:>16.0%} {d['interval_median_half_width']:>11.0%}")
    if rows:
        print(f"all {len(rows)} rows: MAPE {report['mape_all']:.1%}, {covered:.0%} inside the 80% interval (median "
              f"half-width {width:.0%}); skipped {len(skipped)}; wrote {RESULT}")
    return report


if __name__ == "__main__":
    main()
