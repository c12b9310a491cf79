"""External check of devices with no rows in the bundled vendor table (issue #17): edgesim's shipped prediction
next to public vendor benchmark numbers collected in ``benchmarks/external/*.csv`` (the vendor table's format, one
row per published number with its source URL). These numbers are a check only, never a fit target: nothing in the
package reads them. Writes benchmarks/results/npu_external.json and prints per-device error.

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

from edgesim.validate.npu_vendor import VendorResult, predict_all, read_vendor  # noqa: E402

EXTERNAL = ROOT / "benchmarks" / "external"
RESULT = ROOT / "benchmarks" / "results" / "npu_external.json"


def _results(path: Path) -> tuple[list[VendorResult], list[VendorResult]]:
    rows, skipped = read_vendor(path)
    with contextlib.redirect_stderr(io.StringIO()):
        results = predict_all(rows)
    return [r for r in results if r.predicted_ms is not None], skipped + [r for r in results if r.predicted_ms is None]


def _device_summary(done: list[VendorResult]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for device in sorted({r.device for r in done}):
        mine = [r for r in done if r.device == device]
        ratios = [r.predicted_ms / r.measured_ms for r in mine if r.predicted_ms is not None]
        out.append({"device": device, "rows": len(mine),
                    "mape": statistics.fmean(abs(x - 1.0) for x in ratios),
                    "median_ratio_predicted_over_measured": statistics.median(ratios),
                    "runtimes": sorted({r.runtime for r in mine})})
    return out


def main() -> dict[str, object]:
    files = sorted(EXTERNAL.glob("*.csv"))
    done: list[VendorResult] = []
    skipped: list[VendorResult] = []
    for f in files:
        d, s = _results(f)
        done += d
        skipped += s
    report: dict[str, object] = {
        "files": [str(f.relative_to(ROOT)) for f in files],
        "devices": _device_summary(done),
        "mape_all": statistics.fmean(abs(r.predicted_ms / r.measured_ms - 1.0) for r in done
                                     if r.predicted_ms is not None) if done else None,
        "rows": [{"file_line": r.line, "device": r.device, "runtime": r.runtime, "network": r.network,
                  "precision": r.precision, "metric": r.metric, "measured_ms": r.measured_ms,
                  "predicted_ms": r.predicted_ms} for r in done],
        "skipped": [{"file_line": r.line, "device": r.device, "why": r.error} for r in skipped],
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{'device':<22} {'rows':>4} {'MAPE':>7} {'median pred/meas':>17}")
    for d in report["devices"]:  # type: ignore[union-attr]
        print(f"{d['device']:<22} {d['rows']:>4} {d['mape']:>7.1%} {d['median_ratio_predicted_over_measured']:>17.2f}")
    if done:
        print(f"all {len(done)} rows: MAPE {report['mape_all']:.1%}; skipped {len(skipped)}; wrote {RESULT}")
    return report


if __name__ == "__main__":
    main()
