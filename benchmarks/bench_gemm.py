"""int8 512x512x512 GEMM: edgesim's Numba kernel vs onnxruntime MatMulInteger (u8 x s8), same run.

Writes GOP/s (2 ops per MAC) to benchmarks/results/gemm.json. Run: ``python benchmarks/bench_gemm.py``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from edgesim.kernels.gemm import gemm_packed, pack_a, pack_b  # noqa: E402

M = N = K = 512
REPEATS = 20


def _best_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up: JIT compile / session init
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _ort_matmul_integer(a_u8: np.ndarray, b_s8: np.ndarray) -> tuple[Callable[[], object], str] | None:
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    node = helper.make_node("MatMulInteger", ["A", "B", "a_zp"], ["Y"])
    graph = helper.make_graph(
        [node], "gemm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [M, K]),
         helper.make_tensor_value_info("B", TensorProto.INT8, [K, N])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [M, N])],
        initializer=[helper.make_tensor("a_zp", TensorProto.UINT8, [], [128])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"A": a_u8, "B": b_s8}
    return (lambda: sess.run(None, feeds)), f"onnxruntime {ort.__version__} (onnx {onnx.__version__})"


def main() -> dict[str, object]:
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, size=(M, K), dtype=np.int8)
    b = rng.integers(-128, 128, size=(K, N), dtype=np.int8)
    ops = 2.0 * M * N * K
    b_packed = pack_b(b)  # weights are packed once, as a runtime does at load time

    def run() -> np.ndarray:
        return gemm_packed(pack_a(a), b_packed, N)  # activations are packed on every call (counted)

    ours = run()
    assert np.array_equal(ours, a.astype(np.int64) @ b.astype(np.int64)), "numba GEMM is not exact"
    result: dict[str, object] = {
        "shape_mnk": [M, N, K], "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "edgesim_numba_gops": ops / _best_seconds(run) / 1e9,
    }
    a_u8 = (a.astype(np.int16) + 128).astype(np.uint8)  # u8 with zero point 128 holds the same values
    ort_run = _ort_matmul_integer(a_u8, b)
    if ort_run is not None:
        fn, version = ort_run
        ref = np.asarray(fn()[0])  # type: ignore[index]
        assert np.array_equal(ref, ours), "onnxruntime and numba GEMM disagree"
        result["onnxruntime_gops"] = ops / _best_seconds(fn) / 1e9
        result["onnxruntime_version"] = version
        result["ratio_numba_over_onnxruntime"] = float(result["edgesim_numba_gops"]) / float(  # type: ignore[arg-type]
            result["onnxruntime_gops"])
    out = Path(__file__).resolve().parent / "results" / "gemm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
