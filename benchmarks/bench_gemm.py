"""edgesim's Numba int8 GEMM and conv vs onnxruntime, side by side in one run, both on the same thread count.

* GEMM 512x512x512: ``gemm_acc`` vs MatMulInteger (u8 x s8, a zero point of 128 so both see the same int8 values).
* Conv 1x56x56x64 -> 64, 3x3, stride 1, SAME: ``conv2d_acc`` (im2col + GEMM, int32 accumulators) vs ConvInteger
  (int32 out), and the whole requantised layer ``mac.conv2d_int8`` vs QLinearConv (timing only: ort requantises
  in float, so its int8 output is not bit-identical to TFLite's fixed point).

Weights are packed once outside the timed loop on both sides (ort gets them as initializers, which it pre-packs
at session creation, as edgesim's packing is done at load time); activations are converted/im2col'ed inside it.
Timings alternate between the two engines in blocks and keep the best of ``REPEATS`` calls each (the machine
is shared; the best is the least disturbed run), with the median alongside. GOP/s counts 2 ops per multiply-accumulate.
Writes benchmarks/results/gemm.json. Run: ``python benchmarks/bench_gemm.py``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from edgesim.kernels import gemm, mac  # noqa: E402
from edgesim.kernels.requant import quantize_multipliers  # noqa: E402

THREADS = 2  # both engines (this machine has 2 cores); a second pass runs both on 1 thread
REPEATS = 120
ROUNDS = 12
M = N = K = 512
CONV_HW, CONV_C, CONV_O, CONV_K = 56, 64, 64, 3


def _max_threads() -> int:
    return int(getattr(numba.config, "NUMBA_NUM_THREADS", os.cpu_count() or 1))


def _timed_pair(ours: Callable[[], object], theirs: Callable[[], object] | None) -> dict[str, float]:
    ours()
    if theirs is not None:
        theirs()  # warm-up: JIT load / session init
    t_ours: list[float] = []
    t_theirs: list[float] = []
    # blocks of calls, alternating engines: both thread pools spin for a while after a call, so alternating call
    # by call would have each engine's idle spinners steal the other's two cores
    for _ in range(ROUNDS):
        for fn, times in ((ours, t_ours), (theirs, t_theirs)):
            if fn is None:
                continue
            for _ in range(REPEATS // ROUNDS):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
    out = {"edgesim_best_s": min(t_ours), "edgesim_median_s": statistics.median(t_ours)}
    if t_theirs:
        out |= {"onnxruntime_best_s": min(t_theirs), "onnxruntime_median_s": statistics.median(t_theirs)}
    return out


def _ort_session(
    nodes: list, inputs: list, outputs: list, inits: list, threads: int,
) -> Callable[[dict], list] | None:
    try:
        import onnxruntime as ort
        from onnx import helper
    except ImportError:
        return None
    graph = helper.make_graph(nodes, "bench", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return lambda feeds: sess.run(None, feeds)


def _tile_instructions() -> dict[str, int]:
    """Count the multiply instructions in a fresh (uncached, so inspectable) build of the GEMM tile kernel."""
    tile = gemm.make_tile_kernel(gemm.tile_kind())

    @numba.njit
    def one_tile(a, b, init, c):  # type: ignore[no-untyped-def]
        tile(a, 0, 4, b, 0, 1, init, 0, c, 0, gemm.NR)

    one_tile(np.zeros(4 * gemm.MR, np.uint8), np.zeros(4 * gemm.NR, np.int8), np.zeros(gemm.NR, np.int32),
             np.zeros(gemm.MR * gemm.NR, np.int32))
    asm = one_tile.inspect_asm(one_tile.signatures[0])
    names = ("vpdpbusd", "vpdpwssd", "vpmaddwd", "vpmulld", "vpmaddubsw")
    return {n: len(re.findall(rf"\b{n}\b", asm)) for n in names}


def _exactness(name: str, theirs: np.ndarray, exact: np.ndarray) -> dict[str, object]:
    diff = np.abs(theirs.astype(np.int64) - exact.astype(np.int64))
    return {f"{name}_exact": bool(diff.max() == 0), f"{name}_max_abs_error": int(diff.max()),
            f"{name}_wrong_fraction": float(np.count_nonzero(diff) / diff.size)}


def _bench_gemm(rng: np.random.Generator, threads: int) -> dict[str, object]:
    from onnx import TensorProto, helper, numpy_helper

    a = rng.integers(-128, 128, size=(M, K), dtype=np.int8)
    b = rng.integers(-128, 128, size=(K, N), dtype=np.int8)
    pb = gemm.pack_b(b)
    ours = gemm.gemm_packed(a, pb)
    assert np.array_equal(ours, a.astype(np.int64) @ b.astype(np.int64)), "numba GEMM is not exact"
    run = _ort_session(
        [helper.make_node("MatMulInteger", ["A", "B", "a_zp"], ["Y"])],
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [M, K])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [M, N])],
        [numpy_helper.from_array(b, "B"), helper.make_tensor("a_zp", TensorProto.UINT8, [], [128])], threads,
    )
    a_u8 = (a.astype(np.int16) + 128).astype(np.uint8)  # u8 with zero point 128 holds the same values
    theirs = None
    ort_exact: dict[str, object] = {}
    if run is not None:
        # MLAS's u8 x s8 kernel without VNNI (AVX2 vpmaddubsw) saturates pairwise int16 sums, so onnxruntime is not
        # exact on such machines; ours is (checked above). Record it rather than stop.
        ort_exact = _exactness("onnxruntime_matmulinteger", np.asarray(run({"A": a_u8})[0]), ours)
        theirs = lambda: run({"A": a_u8})  # noqa: E731
    t = _timed_pair(lambda: gemm.gemm_acc(a, pb), theirs)
    ops = 2.0 * M * N * K
    res: dict[str, object] = {"shape_mnk": [M, N, K], "edgesim_numba_gops": ops / t["edgesim_best_s"] / 1e9,
                              "edgesim_numba_gops_median": ops / t["edgesim_median_s"] / 1e9}
    res |= ort_exact
    if theirs is not None:
        res |= {"onnxruntime_op": "MatMulInteger u8 x s8 (B initializer)",
                "onnxruntime_gops": ops / t["onnxruntime_best_s"] / 1e9,
                "onnxruntime_gops_median": ops / t["onnxruntime_median_s"] / 1e9,
                "ratio_numba_over_onnxruntime": t["onnxruntime_best_s"] / t["edgesim_best_s"],
                "ratio_median": t["onnxruntime_median_s"] / t["edgesim_median_s"]}
    return res


def _bench_conv(rng: np.random.Generator, threads: int) -> dict[str, object]:
    from onnx import TensorProto, helper, numpy_helper

    hw, c, o, k = CONV_HW, CONV_C, CONV_O, CONV_K
    x = rng.integers(-128, 128, size=(1, hw, hw, c), dtype=np.int8)
    w = rng.integers(-127, 128, size=(o, k, k, c), dtype=np.int8)  # OHWI, symmetric like TFLite
    in_zp, pad = -3, (k // 2, k // 2)
    pw = gemm.pack_weights_nk(w.reshape(o, -1))

    def ours_acc() -> np.ndarray:
        return gemm.conv2d_acc(x, pw, (k, k), in_zp, (1, 1), (1, 1), pad, (hw, hw))

    acc = np.asarray(ours_acc()).reshape(1, hw, hw, o)
    xp = np.pad(x.astype(np.int64) - in_zp, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = sum(np.einsum("nhwc,oc->nhwo", xp[:, ky:ky + hw, kx:kx + hw], w[:, ky, kx].astype(np.int64))
               for ky in range(k) for kx in range(k))
    assert np.array_equal(acc, want), "numba conv is not exact"
    x_nchw = np.ascontiguousarray((x.astype(np.int16) + 128).astype(np.uint8).transpose(0, 3, 1, 2))
    w_oihw = np.ascontiguousarray(w.transpose(0, 3, 1, 2))
    conv_attrs: dict[str, Any] = {"kernel_shape": [k, k], "pads": [1, 1, 1, 1], "strides": [1, 1]}
    run = _ort_session(
        [helper.make_node("ConvInteger", ["X", "W", "x_zp"], ["Y"], **conv_attrs)],
        [helper.make_tensor_value_info("X", TensorProto.UINT8, [1, c, hw, hw])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [1, o, hw, hw])],
        [numpy_helper.from_array(w_oihw, "W"), helper.make_tensor("x_zp", TensorProto.UINT8, [], [in_zp + 128])],
        threads,
    )
    ops = 2.0 * hw * hw * o * k * k * c
    res: dict[str, object] = {"conv": "1x56x56x64 -> 64, 3x3, stride 1, SAME"}
    theirs = None
    if run is not None:
        got = np.asarray(run({"X": x_nchw})[0]).transpose(0, 2, 3, 1)
        res |= _exactness("onnxruntime_convinteger", got, acc)
        theirs = lambda: run({"X": x_nchw})  # noqa: E731
    t = _timed_pair(ours_acc, theirs)
    res |= {"edgesim_conv_acc_gops": ops / t["edgesim_best_s"] / 1e9,
            "edgesim_conv_acc_gops_median": ops / t["edgesim_median_s"] / 1e9}
    if theirs is not None:
        res |= {"onnxruntime_convinteger_gops": ops / t["onnxruntime_best_s"] / 1e9,
                "onnxruntime_convinteger_gops_median": ops / t["onnxruntime_median_s"] / 1e9,
                "ratio_conv_numba_over_onnxruntime": t["onnxruntime_best_s"] / t["edgesim_best_s"],
                "ratio_conv_median": t["onnxruntime_median_s"] / t["edgesim_median_s"]}

    # the whole layer with requantisation to int8 (what the executor runs) vs QLinearConv
    scales = rng.uniform(0.002, 0.01, size=o)
    mult, shift = quantize_multipliers(scales * 0.02 / 0.05)
    bias = rng.integers(-2000, 2000, size=o).astype(np.int32)

    def ours_layer() -> np.ndarray:
        return mac.conv2d_int8(x, w, bias, in_zp, mult, shift, 4, (1, 1), (1, 1), pad, (hw, hw), 1, (-128, 127),
                               False)

    run_q = _ort_session(
        [helper.make_node("QLinearConv", ["X", "xs", "xz", "W", "ws", "wz", "ys", "yz", "B"], ["Y"], **conv_attrs)],
        [helper.make_tensor_value_info("X", TensorProto.UINT8, [1, c, hw, hw])],
        [helper.make_tensor_value_info("Y", TensorProto.UINT8, [1, o, hw, hw])],
        [numpy_helper.from_array(w_oihw, "W"), numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
         helper.make_tensor("xz", TensorProto.UINT8, [], [in_zp + 128]),
         numpy_helper.from_array(scales.astype(np.float32), "ws"), numpy_helper.from_array(np.zeros(o, np.int8), "wz"),
         numpy_helper.from_array(np.array(0.05, np.float32), "ys"), helper.make_tensor("yz", TensorProto.UINT8, [], [132]),
         numpy_helper.from_array(bias, "B")], threads,
    )
    t2 = _timed_pair(ours_layer, None if run_q is None else (lambda: run_q({"X": x_nchw})))
    res["edgesim_conv_layer_gops"] = ops / t2["edgesim_best_s"] / 1e9
    res["edgesim_conv_layer_gops_median"] = ops / t2["edgesim_median_s"] / 1e9
    if run_q is not None:
        res |= {"onnxruntime_qlinearconv_gops": ops / t2["onnxruntime_best_s"] / 1e9,
                "onnxruntime_qlinearconv_gops_median": ops / t2["onnxruntime_median_s"] / 1e9,
                "ratio_conv_layer_numba_over_qlinearconv": t2["onnxruntime_best_s"] / t2["edgesim_best_s"],
                "ratio_conv_layer_median": t2["onnxruntime_median_s"] / t2["edgesim_median_s"]}
    return res


def main() -> dict[str, object]:
    result: dict[str, object] = {
        "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "numba_version": numba.__version__, "threading_layer_requested": getattr(numba.config, "THREADING_LAYER", None),
        "edgesim_numba_threads": THREADS, "onnxruntime_intra_op_threads": THREADS, "repeats": REPEATS,
        "load_average_before": os.getloadavg()[0],
        "tile_kernel": {"vnni": "vpdpbusd (AVX-512 VNNI)", "avx2": "vpmaddwd (AVX2), 2x16 sub-tiles",
                        "portable": "portable vector IR"}[gemm.tile_kind()],
        "tile_kernel_instruction_counts": _tile_instructions(),
    }
    try:
        import onnxruntime as ort
        result["onnxruntime_version"] = ort.__version__
    except ImportError:
        result["onnxruntime_version"] = None
    numba.set_num_threads(min(THREADS, _max_threads()))
    result |= _bench_gemm(np.random.default_rng(0), THREADS)
    result |= _bench_conv(np.random.default_rng(1), THREADS)
    result["numba_threading_layer"] = numba.threading_layer()
    # one thread each: no fork/join, so this comparison of the kernels themselves survives a busy machine
    numba.set_num_threads(1)
    result["single_thread"] = _bench_gemm(np.random.default_rng(0), 1) | _bench_conv(np.random.default_rng(1), 1)
    numba.set_num_threads(min(THREADS, _max_threads()))
    result["load_average_after"] = os.getloadavg()[0]
    out = Path(__file__).resolve().parent / "results" / "gemm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
