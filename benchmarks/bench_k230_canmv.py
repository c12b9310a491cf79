"""Second public check of the K230 (nncase) on YOLO, beside the nncase README rows of the external check: the
CanMV K230 docs' "YOLO Battle" tables (k230_canmv_docs en/example/ai/YOLO_Battle.md, "kpu inference frame rate"
of Ultralytics exports compiled by nncase 2.9.0 with [uint8, uint8] quantization; the rows run nncase@2.9, whose
stackvm SPLIT still copies), shipped as
``benchmarks/data/k230_canmv_yolo.csv`` in the vendor table's format, one row per published number with the
source line. Nothing is fitted to them: this script only predicts them as shipped.

Only the detection rows of zoo networks are mapped (the zoo has no YOLO classifiers, no l scale, no seg/obb
heads; the seg/obb and int16 rows are not copied). The table's yolo11n 640x640 cls entry (320 fps, faster than its
224x224 entry) looks like a typo and is left out. The doc's models are trained on its few-class example dataset
(the zoo's heads have 80 classes) and timed from MicroPython, so read the ratios, not single rows.

Writes benchmarks/results/k230_canmv.json and prints per row: measured, predicted, predicted/measured and the
absolute gap (the K230 rows' gap is close to a constant per inference at 320x320, not a factor).

Run: python benchmarks/bench_k230_canmv.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.validate.npu_external import predict_external  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "k230_canmv_yolo.csv"
RESULT = ROOT / "benchmarks" / "results" / "k230_canmv.json"


def main() -> dict[str, object]:
    preds, skipped = predict_external([DATA])
    ratios = [p.predicted_ms / p.measured_ms for p in preds]
    rows = [{"line": p.line, "network": p.network, "measured_ms": p.measured_ms, "predicted_ms": p.predicted_ms,
             "ratio_predicted_over_measured": r, "gap_ms": p.measured_ms - p.predicted_ms}
            for p, r in zip(preds, ratios, strict=True)]
    report: dict[str, object] = {
        "file": str(DATA.relative_to(ROOT)),
        "mape": statistics.fmean(abs(r - 1.0) for r in ratios) if ratios else None,
        "median_ratio_predicted_over_measured": statistics.median(ratios) if ratios else None,
        "rows": rows, "not_predicted": skipped,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{'line':>4} {'network':<10} {'measured ms':>11} {'predicted ms':>12} {'pred/meas':>9} {'gap ms':>7}")
    for p, r in zip(preds, ratios, strict=True):
        print(f"{p.line:>4} {p.network:<10} {p.measured_ms:>11.1f} {p.predicted_ms:>12.1f} {r:>9.2f} "
              f"{p.measured_ms - p.predicted_ms:>7.1f}")
    if ratios:
        print(f"{len(ratios)} rows: MAPE {statistics.fmean(abs(r - 1.0) for r in ratios):.1%}, median "
              f"predicted/measured {statistics.median(ratios):.2f}; {skipped} rows not mapped; wrote {RESULT}")
    return report


if __name__ == "__main__":
    main()
