"""Cost of a prediction interval against a --fast point estimate. Writes benchmarks/results/intervals.json.

Target (issue #18): an interval costs at most 3x a point estimate with --fast. Measured two ways, each on the three
MLPerf Tiny CNNs on a chip written by ``edgesim profile new`` (6-9 ranged fields: the worst case; bundled
profiles have none, and their interval is a table lookup):

- fresh process: ``edgesim.estimate`` vs ``edgesim.interval`` (which runs the estimate too), imports and model
  loading included, as a user running one command sees it (median of 3);
- in process, model already loaded, two ways (median of 5 repetitions each):
  * a new chip: the first estimate on a freshly loaded profile (load, map + cost) vs the interval on top of it;
  * a loop (a sweep or a search asking many graphs of one chip): the profile already asked about other models,
    so its point estimate is cheaper; the interval's perturbed chips are reused the same way (the honest figure
    for a sweep or NAS loop).

Run: python benchmarks/bench_intervals.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def _copy(chip: Path, i: int) -> Path:
    """The chip under another name: a new profile object, nothing of it memoised yet."""
    path = chip.with_name(f"chip_{time.monotonic_ns()}_{i}.yaml")
    path.write_text(chip.read_text())
    return path


def _in_process(run: Any, interval: Any, spec: Any, warm: Sequence[str] = ()) -> tuple[float, float]:
    """(point s, interval extra s) of ``spec``; ``warm``: the other models asked of the chip (and their intervals)
    first. Every memoised schedule and per-op plan is dropped before, so this model's ops are mapped anew."""
    from dataclasses import replace

    from edgesim.mapping.memo import _MEMOS
    from edgesim.pipeline.stages import _ESTIMATES, _SCHEDULES

    _MEMOS.clear()
    _SCHEDULES.entries.clear()
    _ESTIMATES.entries.clear()
    for m in warm:
        if m != spec.model:
            interval(run(replace(spec, model=m)))
    t = time.perf_counter()
    result = run(spec)
    point_s = time.perf_counter() - t
    t = time.perf_counter()
    interval(result)
    return point_s, time.perf_counter() - t


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
        new_chip = [_in_process(run, interval, RunSpec(model, str(_copy(tmp, i)))) for i in range(5)]
        loop = [_in_process(run, interval, RunSpec(model, str(tmp)), warm=MODELS) for _ in range(5)]
        fields = interval(run(RunSpec(model, str(tmp)))).uncertain_fields
        row: dict[str, object] = {"model": model, "ranged_fields": fields, "fresh_point_s": point_s,
                                  "fresh_interval_s": interval_s, "fresh_ratio": interval_s / point_s}
        for name, reps in (("new_chip", new_chip), ("loop", loop)):
            row[f"{name}_point_s"] = statistics.median(p for p, _ in reps)
            row[f"{name}_interval_extra_s"] = statistics.median(e for _, e in reps)
            row[f"{name}_ratio"] = statistics.median((p + e) / p for p, e in reps)
        rows.append(row)
        print(f"{model:<32} fields {fields}  fresh process: x{interval_s / point_s:.2f};  in process, new chip: "
              f"x{row['new_chip_ratio']:.2f}, loop: x{row['loop_ratio']:.2f} "
              f"(point {row['loop_point_s'] * 1e3:.0f} ms, interval +{row['loop_interval_extra_s'] * 1e3:.0f} ms)")
    out = ROOT / "benchmarks" / "results" / "intervals.json"
    out.write_text(json.dumps({"target_ratio": 3.0, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
