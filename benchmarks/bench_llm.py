"""Time edgesim.llm for sweeps and write benchmarks/results/bench_llm.json.

1. One (model, board, quant, prompt, gen) point: edgesim.llm.predict, cold (first call: profile and runtime load,
   tensor list) and warm (caches filled, as in a sweep). Target < 50 ms.
2. A 4k-context decode curve: per-token latency at every context length 1..4096 (edgesim.llm.decode_curve).
   Target < 1 s.
3. A sweep: 30 zoo models x 4 formats on rpi5 (points per second, for the note).

Run: python benchmarks/bench_llm.py
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgesim.llm import decode_curve, predict  # noqa: E402
from edgesim.llm.arch import zoo_names  # noqa: E402

REPEATS = 5


def _best(fn: object, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    t0 = time.perf_counter()
    predict("llama-3.2-3b", "rpi5", quant="Q4_K_M", prompt=512, gen=128)
    cold = time.perf_counter() - t0
    warm = _best(lambda: predict("llama-3.2-3b", "rpi5", quant="Q4_K_M", prompt=512, gen=128))
    # a new (model, quant) pair each time: the per-tensor mix is rebuilt, profiles stay cached
    fresh_pairs = [("qwen2.5-7b", "Q5_K_M"), ("gemma-2-9b", "Q3_K_L"), ("phi-3-mini", "IQ4_NL")]
    fresh = max(_best(lambda m=m, q=q: predict(m, "jetson-orin-nano", runtime="llama.cpp", quant=q), 1)
                for m, q in fresh_pairs)
    ctx = np.arange(1, 4097)
    curve = _best(lambda: decode_curve("llama-3.1-8b", "jetson-orin-nano", ctx, runtime="mlc"))
    t1 = time.perf_counter()
    n = 0
    for m in zoo_names():
        for q in ("Q4_0", "Q4_K_M", "Q8_0", "F16"):
            predict(m, "rpi5", quant=q, prompt=256, gen=64)
            n += 1
    sweep = time.perf_counter() - t1
    out = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "point_cold_s": cold, "point_warm_s": warm, "point_new_model_quant_s": fresh,
        "point_target_s": 0.05, "decode_curve_4k_s": curve, "decode_curve_target_s": 1.0,
        "sweep_points": n, "sweep_s": sweep, "sweep_points_per_s": n / sweep,
    }
    res = ROOT / "benchmarks" / "results" / "bench_llm.json"
    res.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))
    print(f"wrote {res}")


if __name__ == "__main__":
    main()
