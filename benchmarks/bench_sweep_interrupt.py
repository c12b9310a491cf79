"""How long a sweep takes to stop after Ctrl-C, and how many finished points it keeps. Writes
benchmarks/results/sweep_interrupt.json.

Runs ``edgesim sweep`` in a child process of its own session and sends SIGINT to its process group after a delay,
as a terminal does on Ctrl-C; measures from the signal to the exit (consolidation and interpreter exit included)
and reads back the rows kept. Run: python benchmarks/bench_sweep_interrupt.py
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SPEC = """name: ctrlc
profiles: [ethos-u55-128, stm32l4r5, stm32h7a3]
quant: int8
axes:
  memories.sram.size_bytes: [262144, 524288, 1048576, 2097152, 4194304]
  clock_mhz: [100.0, 120.0]
models: [resnet8, mobilenet_v1, ds_cnn, mobilenet_v2, resnet18, mobilenet_v3_small]
chunk_size: 4
"""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job ignores SIGINT; a terminal's does not


def interrupt_once(delay_s: float, folder: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    spec, out = folder / "spec.yaml", folder / f"out-{delay_s:g}.parquet"
    spec.write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "edgesim", "sweep", str(spec), "-o", str(out), "--workers", "2",
                              "--no-plot", "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_default_sigint)
    time.sleep(delay_s)
    os.killpg(child.pid, signal.SIGINT)
    t0 = time.monotonic()
    child.communicate(timeout=60)
    stop_s = time.monotonic() - t0
    kept = pq.read_table(out).num_rows if out.is_file() else 0
    return {"delay_s": delay_s, "exit": child.returncode, "stop_s": round(stop_s, 3), "points_kept": kept}


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        runs = [interrupt_once(d, Path(tmp)) for d in (6.0, 8.0, 10.0)]
    result = {"machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count(),
              "runs": runs, "max_stop_s": max(r["stop_s"] for r in runs)}
    path = ROOT / "benchmarks" / "results" / "sweep_interrupt.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
