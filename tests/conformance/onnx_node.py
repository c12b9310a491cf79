"""The ONNX backend node tests as an edgesim conformance suite: import + float execution + analytic cost.

The node tests ship inside the installed ``onnx`` package as generators (``onnx/backend/test/case/node``); the
pip wheel usually lacks their data directory, so ``ensure_cases`` writes them once, with onnx's own generators
and the standard layout (``<name>/model.onnx``, ``test_data_set_0/input_k.pb`` / ``output_k.pb``), into a cache
directory keyed by the onnx version (``$EDGESIM_ONNX_NODE_CACHE`` or ``~/.cache/edgesim/onnx-node``).

Each case ends in one status:
  pass     imported, the float executor reproduces every expected output, and the analytic cost runs;
  refused  the importer raised an EdgesimError with a one-line reason (unsupported semantics are refused);
  wrong    imported but an output differs (the worst class: a silent wrong answer);
  noexec   imported but the float executor cannot run it;
  nocost   imported and executed but the analytic cost fails;
  crash    any exception that is not an EdgesimError (or an importer error that only wraps one).

Regenerate the checked-in expectation file with ``python -m tests.conformance.onnx_node --write``.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
EXPECTATIONS = HERE / "onnx_node_expectations.csv"
REPORT = HERE.parents[1] / "docs" / "onnx_conformance.md"
COST_PROFILE = "rpi5"  # a CPU profile that runs float32 graphs of any op class
STATUSES = ("pass", "refused", "wrong", "noexec", "nocost", "crash")

# ONNX op types common in CNN, detector and transformer graphs (ONNX model zoo vision/NLP models, YOLO/SSD/DETR
# exports, BERT/GPT/ViT/Whisper exports): the set the >= 90 % pass target is stated on.
COMMON_OPS = frozenset("""
Abs Acos Add And ArgMax ArgMin Asin Atan Attention AveragePool BatchNormalization Cast CastLike Ceil Celu Clip
Concat Constant ConstantOfShape Conv ConvInteger ConvTranspose Cos CumSum DepthToSpace DequantizeLinear Div Dropout
DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand Flatten Floor GRU Gather GatherElements GatherND Gelu Gemm
GlobalAveragePool GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization HardSigmoid HardSwish
Hardmax Identity InstanceNormalization LRN LSTM LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax
MatMul MatMulInteger Max MaxPool Mean Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or PRelu Pad Pow
QLinearConv QLinearMatMul QuantizeLinear RMSNormalization Range Reciprocal ReduceL1 ReduceL2 ReduceLogSumExp
ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize RoiAlign RotaryEmbedding
Round ScatterElements ScatterND Selu Shape Sigmoid Sign Sin Size Slice Softmax Softplus Softsign SpaceToDepth
Split Sqrt Squeeze Sub Sum Swish Tanh Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split())


@dataclass(frozen=True)
class Outcome:
    name: str
    op: str
    status: str
    reason: str


def cache_dir() -> Path:
    root = os.environ.get("EDGESIM_ONNX_NODE_CACHE") or str(Path.home() / ".cache" / "edgesim" / "onnx-node")
    return Path(root) / f"onnx-{onnx.__version__}"


def _op_of(case_name: str, model: onnx.ModelProto, single: dict[str, str]) -> str:
    """The op a test exercises: its only node, or (function-expanded tests) the op of the unexpanded test."""
    if len(model.graph.node) == 1:
        return model.graph.node[0].op_type
    base = re.sub(r"_expanded(_ver\d+)?$", "", case_name)
    return single.get(base, model.graph.node[0].op_type if model.graph.node else "?")


def _write_value(path: Path, value: object, vi: onnx.ValueInfoProto) -> None:
    """One input/output file, written exactly as onnx's own ``cmd_tools generate-data`` writes it."""
    if vi.type.HasField("sequence_type"):
        proto = numpy_helper.from_list(value, vi.name)  # type: ignore[arg-type]
    elif vi.type.HasField("optional_type"):
        proto = numpy_helper.from_optional(value, vi.name)  # type: ignore[arg-type]
    elif vi.type.HasField("map_type"):
        proto = numpy_helper.from_dict(value, vi.name)  # type: ignore[arg-type]
    elif isinstance(value, onnx.TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(np.asarray(value), vi.name)
    path.write_bytes(proto.SerializeToString())


def ensure_cases() -> Path:
    """Generate the node tests into the cache directory once (a marker file says the set is complete)."""
    root = cache_dir()
    marker = root / "COMPLETE"
    if marker.exists():
        return root
    import warnings

    import onnx.backend.test.case.node as node_cases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the generators overflow casts on purpose (saturation tests)
        cases = node_cases.collect_testcases()
    single = {c.name: c.model.graph.node[0].op_type for c in cases if c.model and len(c.model.graph.node) == 1}
    index = []
    for c in cases:
        assert c.model is not None and c.data_sets
        d = root / c.name
        d.mkdir(parents=True, exist_ok=True)
        (d / "model.onnx").write_bytes(c.model.SerializeToString())
        inputs, outputs = c.data_sets[0]
        ds = d / "test_data_set_0"
        ds.mkdir(exist_ok=True)
        for j, v in enumerate(inputs):
            _write_value(ds / f"input_{j}.pb", v, c.model.graph.input[j])
        for j, v in enumerate(outputs):
            _write_value(ds / f"output_{j}.pb", v, c.model.graph.output[j])
        index.append(f"{c.name},{_op_of(c.name, c.model, single)},{c.rtol},{c.atol}")
    (root / "index.csv").write_text("\n".join(index) + "\n")
    marker.write_text("ok\n")
    return root


def iter_cases(root: Path) -> Iterator[tuple[str, str, float, float]]:
    for line in (root / "index.csv").read_text().splitlines():
        name, op, rtol, atol = line.split(",")
        yield name, op, float(rtol), float(atol)


def _read_tensor(path: Path) -> np.ndarray | None:
    t = onnx.TensorProto()
    t.ParseFromString(path.read_bytes())
    if not t.name and not t.dims and t.data_type == 0:
        return None  # not a tensor (a sequence, optional or map file)
    return numpy_helper.to_array(t)


def _one_line(e: BaseException) -> str:
    from edgesim.errors import EdgesimError

    msg = e.message if isinstance(e, EdgesimError) else f"{type(e).__name__}: {e}"
    return " ".join(msg.split())[:200].replace(",", ";")


def run_case(root: Path, name: str, op: str, rtol: float, atol: float) -> Outcome:
    from edgesim.errors import EdgesimError

    try:
        status, reason = _run(root / name, rtol, atol)
    except EdgesimError as e:
        status, reason = "crash", "unexpected EdgesimError: " + _one_line(e)
    except Exception as e:  # noqa: BLE001 - the suite records crashes, it must not stop at one
        status, reason = "crash", _one_line(e)
    return Outcome(name, op, status, reason)


def _run(d: Path, rtol: float, atol: float) -> tuple[str, str]:
    from edgesim.errors import EdgesimError

    model = onnx.load(str(d / "model.onnx"))
    ds = d / "test_data_set_0"
    feeds = {vi.name: _read_tensor(ds / f"input_{j}.pb") if vi.type.HasField("tensor_type") else None
             for j, vi in enumerate(model.graph.input)}
    try:
        graph = _import_binding(d / "model.onnx", feeds)
    except EdgesimError as e:
        reason = _one_line(e)
        if "cannot import (" in reason:  # the importer's catch-all: an internal error, not a refusal
            return "crash", reason
        return "refused", reason
    if any(not vi.type.HasField("tensor_type") for vi in list(model.graph.input) + list(model.graph.output)):
        return "wrong", "accepted a graph with non-tensor inputs or outputs"
    expected = [_read_tensor(ds / f"output_{j}.pb") for j in range(len(model.graph.output))]
    try:
        got = _execute(graph, feeds)
    except EdgesimError as e:
        return "noexec", _one_line(e)
    for k, (o, want) in enumerate(zip(graph.outputs, expected, strict=True)):
        bad = _mismatch(graph, o, got[o], want, rtol, atol)
        if bad:
            return "wrong", f"output {k}: {bad}"
    int_leg = _run_integer(graph, feeds, expected, rtol, atol)
    if int_leg:
        return int_leg
    try:
        from edgesim.api import estimate

        est = estimate(graph, _profile())
        if not (est.latency_s > 0 and np.isfinite(est.latency_s)):
            return "nocost", f"latency {est.latency_s}"
    except EdgesimError as e:
        return "nocost", _one_line(e)
    return "pass", ""


def _import_binding(path: Path, feeds: dict[str, np.ndarray | None]) -> object:
    """Import; when an op needs a graph input's value at import time (a shape, pads, axes, a quantization
    parameter: the node tests feed those as inputs), bind that input to the test's value and retry. Only inputs
    the importer asks for are bound, so every data input stays a run-time input of the executed graph."""
    from edgesim.frontends.onnx_ctx import NeedsConstantError
    from edgesim.frontends.onnx_import import import_onnx

    bind: dict[str, np.ndarray] = {}
    # the importer reads a declared batch of 0 as dynamic (1); a test that feeds an empty batch says so, as a
    # user would with --input-shape
    first = next(iter(feeds.values()), None)
    model = onnx.load(str(path), load_external_data=False)
    dims = model.graph.input[0].type.tensor_type.shape.dim if model.graph.input else []
    empty_batch = bool(dims) and dims[0].HasField("dim_value") and dims[0].dim_value == 0
    override = tuple(first.shape) if empty_batch and first is not None else None
    while True:
        try:
            return import_onnx(path, input_shape=override, bind=bind)
        except NeedsConstantError as e:
            value = feeds.get(e.input_name)
            if value is None or e.input_name in bind:
                raise
            bind[e.input_name] = value


def _run_integer(graph: object, feeds: dict[str, np.ndarray | None], expected: list[np.ndarray | None],
                 rtol: float, atol: float) -> tuple[str, str] | None:
    """A quantized graph also runs on the integer kernels, on the test's raw integer inputs. An op without an
    integer kernel is not a failure (the float executor ran it); a wrong integer answer is."""
    from edgesim.errors import UnsupportedOpError
    from edgesim.ir.graph import Graph
    from edgesim.kernels.executor import execute, supported_ops

    assert isinstance(graph, Graph)
    if not any(t.quant is not None and t.dtype.is_integer for t in graph.tensors.values()):
        return None
    if any(n.op not in supported_ops() for n in graph.nodes):
        return None
    try:
        got = execute(graph, {n: v for n, v in feeds.items() if n in graph.inputs and v is not None})
    except UnsupportedOpError as e:
        if "dynamic" in e.message:
            return None
        return "noexec", "int kernels: " + _one_line(e)
    for k, (o, want) in enumerate(zip(graph.outputs, expected, strict=True)):
        if want is None:
            return "wrong", "expected output is not a tensor"
        g = np.asarray(got[o], np.float64)
        w = np.asarray(want, np.float64)
        if g.shape != w.shape:
            return "wrong", f"int kernels output {k}: shape {g.shape} != {w.shape}"
        ok = np.array_equal(g, w) if want.dtype.kind in "iub" else np.allclose(g, w, rtol=rtol, atol=max(atol, 1e-5))
        if not ok:
            return "wrong", f"int kernels output {k}: max abs error {np.max(np.abs(g - w)):.3g}"
    return None


_PROFILE: list[object] = []


def _profile() -> object:
    if not _PROFILE:
        from edgesim.api import load_profile

        _PROFILE.append(load_profile(COST_PROFILE))
    return _PROFILE[0]


def _execute(graph: object, feeds: dict[str, np.ndarray | None]) -> dict[str, np.ndarray]:
    """Run the float executor on the test's inputs: it computes on real values, so integer-coded quantized
    inputs are dequantized on the way in (and quantized outputs re-coded on the way out, in ``_mismatch``)."""
    from edgesim.ir.graph import Graph
    from edgesim.passes.float_exec import dequantize, run_float

    assert isinstance(graph, Graph)
    real: dict[str, np.ndarray] = {}
    used = {i for nd in graph.nodes for i in nd.inputs}
    for name in graph.inputs:
        v = feeds.get(name)
        if name not in used:  # an input only read for its type (CastLike's 'like'): any value of its shape
            v = np.zeros(graph.tensors[name].shape, np.float32)
        if v is None:
            raise AssertionError(f"graph input '{name}' has no test value")
        real[name] = dequantize(graph.tensors[name], v) if graph.tensors[name].quant is not None else v
    return run_float(graph, real)


def _mismatch(graph: object, name: str, got: np.ndarray, want: np.ndarray | None, rtol: float,
              atol: float) -> str:
    from edgesim.ir.graph import Graph
    from edgesim.passes.float_exec import qrange

    assert isinstance(graph, Graph)
    if want is None:
        return "expected output is not a tensor"
    if want.dtype.kind in "OSU":
        return f"expected {want.dtype} values"
    t = graph.tensors[name]
    if tuple(got.shape) != tuple(want.shape):
        return f"shape {tuple(got.shape)} != {tuple(want.shape)}"
    g = np.asarray(got, np.float64)
    if t.quant is not None and t.dtype.is_low_bit_float:  # float8/float4 codes are real values / scale
        s = np.asarray(t.quant.scales, np.float64)
        if t.quant.axis is not None:
            s = s.reshape([-1 if i == t.quant.axis else 1 for i in range(g.ndim)])
        g = g / s
    elif t.quant is not None and t.dtype.is_integer:
        lo, hi = qrange(t.dtype)
        s = np.asarray(t.quant.scales, np.float64)
        z = np.asarray(t.quant.zero_points, np.float64)
        if t.quant.axis is not None:
            shp = [1] * g.ndim
            shp[t.quant.axis] = -1
            s, z = s.reshape(shp), z.reshape(shp)
        g = np.clip(np.round(g / s) + z, lo, hi)
    w = np.asarray(want, np.float64)
    if want.dtype.kind in "iub":
        ok = np.array_equal(g, w)
    elif want.dtype == np.float16 or t.dtype.label == "bf16":
        # one unit in the last place of the output type: a different (valid) rounding order differs by that
        eps = 2.0 ** -10 if want.dtype == np.float16 else 2.0 ** -7
        ok = bool(np.allclose(g, w, rtol=max(rtol, 2 * eps), atol=max(atol, eps), equal_nan=True))
    else:
        ok = bool(np.allclose(g, w, rtol=rtol, atol=max(atol, 1e-5), equal_nan=True))
    if ok:
        return ""
    err = np.nanmax(np.abs(g - w)) if g.size else 0.0
    return f"max abs error {err:.3g}"


def run_all(names: set[str] | None = None) -> list[Outcome]:
    import warnings

    root = ensure_cases()
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            for name, op, rtol, atol in iter_cases(root):
                if names is None or name in names:
                    out.append(run_case(root, name, op, rtol, atol))
    return out


def read_expectations(path: Path = EXPECTATIONS) -> dict[str, Outcome]:
    with path.open(newline="") as f:
        return {r["test"]: Outcome(r["test"], r["op"], r["status"], r["reason"]) for r in csv.DictReader(f)}


def write_expectations(outcomes: list[Outcome], path: Path = EXPECTATIONS) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["test", "op", "status", "reason"])
        for o in sorted(outcomes, key=lambda o: o.name):
            w.writerow([o.name, o.op, o.status, o.reason])


def _unmodelled_type(o: Outcome) -> bool:
    """Refused because a value has a type the IR has no type for (string, sequence, optional...)."""
    return o.status == "refused" and ("has element type" in o.reason or "is not a tensor" in o.reason)


def summary(outcomes: list[Outcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in STATUSES}
    common = [o for o in outcomes if o.op in COMMON_OPS]
    c_pass = sum(o.status == "pass" for o in common)
    typed = [o for o in common if not _unmodelled_type(o)]
    total_pass = counts["pass"]
    lines = [
        f"tests: {len(outcomes)}  " + "  ".join(f"{s}: {counts[s]}" for s in STATUSES),
        f"overall pass: {total_pass}/{len(outcomes)} = {100 * total_pass / max(len(outcomes), 1):.1f}%",
        f"common ops ({len({o.op for o in common})} op types, {len(common)} tests): pass {c_pass}/{len(common)} = "
        f"{100 * c_pass / max(len(common), 1):.1f}%",
        f"common ops without the {len(common) - len(typed)} tests of unmodelled value types (strings, sequences, "
        f"optionals): pass {c_pass}/{len(typed)} = {100 * c_pass / max(len(typed), 1):.1f}%",
    ]
    return "\n".join(lines)


def write_report(outcomes: list[Outcome], path: Path) -> None:
    """A markdown page of the figures and the per-op table (generated: never edit the numbers by hand)."""
    by_op: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_op.setdefault(o.op, []).append(o)
    lines = ["# ONNX node-test conformance", "",
             f"Generated by `python -m tests.conformance.onnx_node --write` with onnx {onnx.__version__}: every "
             "node test the installed onnx package generates, imported, run by the float executor (quantized "
             "graphs also by the integer kernels) against onnx's expected outputs, and costed on "
             f"`{COST_PROFILE}`. A test either passes or is refused at import with a one-line reason; the "
             "expectation file is `tests/conformance/onnx_node_expectations.csv`.", "", "```",
             summary(outcomes), "```", "", "| op | tests | pass | refused | most common refusal |",
             "|---|---:|---:|---:|---|"]
    for op in sorted(by_op):
        os_ = by_op[op]
        refused = [o.reason for o in os_ if o.status == "refused"]
        top = max(set(refused), key=refused.count) if refused else ""
        common = " (common)" if op in COMMON_OPS else ""
        lines.append(f"| {op}{common} | {len(os_)} | {sum(o.status == 'pass' for o in os_)} | {len(refused)} | "
                     f"{top.replace('|', '/')[:90]} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite the expectation file from this run")
    ap.add_argument("--show", default="", help="print the cases with these statuses (comma list)")
    ap.add_argument("--op", default="", help="only the tests of this op type")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    outcomes = run_all()
    if args.op:
        outcomes = [o for o in outcomes if o.op == args.op]
    for o in outcomes:
        if o.status in args.show.split(","):
            print(f"{o.status:8s} {o.op:24s} {o.name}: {o.reason}")
    print(summary(outcomes))
    print(f"run time {time.perf_counter() - t0:.1f} s")
    if args.write:
        if any(o.status not in ("pass", "refused") for o in outcomes):
            print("not written: only pass and refused may be expected", file=sys.stderr)
            return 1
        write_expectations(outcomes)
        write_report(outcomes, REPORT)
        print(f"wrote {EXPECTATIONS} and {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
