"""Cost of a prediction interval against a --fast point estimate. Writes benchmarks/results/intervals.json.

Target (issue #18): an interval costs at most 3x a point estimate with --fast. Measured two ways, each on the three
MLPerf Tiny CNNs on a chip written by ``edgesim profile new`` (6-9 ranged fields: the worst case; bundled
profiles have none, and their interval is a table lookup):

- fresh process: ``edgesim.estimate`` vs ``edgesim.interval`` (which runs the estimate too), imports and model
  loading included, as a user running one command sees it (median of 3);
- in process, model already loaded: first estimate on the profile (map + cost) vs the interval on top of it.

Run: python benchmarks/bench_intervals.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("kws_ref_model.tflite", "vww_96_int8.tflite", "pretrainedResnet_quant.tflite")
NEW_CHIP = ["--like", "cortex-m55", "--clock-mhz", "400", "--sram-kb", "1024", "--npu-macs", "256"]


def _fresh(code: str) -> float:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from edgesim.cli import main as cli
    from edgesim.pipeline import RunSpec, run
    from edgesim.pipeline.intervals import interval

    tmp = Path(tempfile.mkdtemp()) / "chip.yaml"
    assert cli(["profile", "new", *NEW_CHIP, "-o", str(tmp)]) == 0
    rows = []
    for model in MODELS:
        head = f"import edgesim; m, h = {model!r}, {str(tmp)!r}; "
        point_s = _fresh(head + "edgesim.estimate(m, h)")
        interval_s = _fresh(head + "edgesim.interval(m, h)")
        run(RunSpec(model, "stm32l4r5"))  # the model loaded
        t = time.perf_counter()
        result = run(RunSpec(model, str(tmp)))
        map_cost_s = time.perf_counter() - t
        t = time.perf_counter()
        iv = interval(result)
        extra_s = time.perf_counter() - t
        rows.append({"model": model, "ranged_fields": iv.uncertain_fields,
                     "fresh_point_s": point_s, "fresh_interval_s": interval_s,
                     "fresh_ratio": interval_s / point_s,
                     "in_process_map_cost_s": map_cost_s, "in_process_interval_extra_s": extra_s,
                     "in_process_ratio": (map_cost_s + extra_s) / map_cost_s})
        print(f"{model:<32} fields {iv.uncertain_fields}  fresh: point {point_s:.2f} s, interval {interval_s:.2f} s "
              f"(x{interval_s / point_s:.2f});  in process: map+cost {map_cost_s * 1e3:.0f} ms, interval "
              f"+{extra_s * 1e3:.0f} ms (x{(map_cost_s + extra_s) / map_cost_s:.2f})")
    out = ROOT / "benchmarks" / "results" / "intervals.json"
    out.write_text(json.dumps({"target_ratio": 3.0, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
