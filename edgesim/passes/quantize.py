"""Post-training quantization of float graphs: int8/int4 weights, int8/int16 activations, fp16, mixed precision.

The result looks like an imported int8 TFLite graph: integer weight data with QuantParams (per-channel along the
output-channel axis), int32 biases with scale ``input_scale * weight_scale``, and activations typed INT8/INT16
with QuantParams from calibration. Graphs that already hold quantized tensors are returned unchanged.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from edgesim.errors import EdgesimError
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import QuantParams, Tensor, WeightEncoding
from edgesim.passes.choices import QuantPreset
from edgesim.passes.float_exec import qrange, run_float, synthetic_inputs

PRESETS: dict[str, tuple[int, int]] = {  # preset -> (weight bits, activation bits)
    QuantPreset.INT8: (8, 8), QuantPreset.W4A8: (4, 8), QuantPreset.W4A4: (4, 4), QuantPreset.INT16: (8, 16),
    QuantPreset.FP16: (16, 16),
}
# MATMUL counts when its second operand is constant (TFLite BATCH_MATMUL, ONNX MatMul with a batched weight).
_WEIGHTED = (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED, OpKind.CONV_TRANSPOSE2D,
             OpKind.MATMUL)
# "fixed": every activation range is [-1, 1], no float run. For costing only: the cost model reads dtypes and shapes,
# never scales, so costs are identical and the calibration run (seconds per MobileNet) is skipped.
CALIBRATION_METHODS = ("minmax", "percentile", "mse", "fixed")


@dataclass(frozen=True)
class LayerPrecision:
    weight_bits: int  # 8 or 4 (16 = fp16 graph)
    activation_bits: int  # 8, 16 or 4


@dataclass(frozen=True)
class LayerOverride:
    selectors: tuple[str | int, ...]  # node-name globs or indices into the weighted layers (negative from the end)
    precision: LayerPrecision


@dataclass(frozen=True)
class QuantSpec:
    """What to quantize to. ``preset`` sets the default; ``overrides`` apply per layer in order (last wins)."""

    preset: str = "int8"
    per_channel: bool = True
    symmetric_weights: bool = True
    symmetric_activations: bool = False
    calibration: str = "minmax"
    percentile: float = 99.99
    overrides: tuple[LayerOverride, ...] = ()
    num_calibration_samples: int = 4
    seed: int = 0
    calibration_data: tuple[np.ndarray, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise EdgesimError(f"unknown preset '{self.preset}'; choose one of {', '.join(PRESETS)}", field="quant")
        if self.calibration not in CALIBRATION_METHODS:
            raise EdgesimError(f"unknown calibration '{self.calibration}'; choose {', '.join(CALIBRATION_METHODS)}",
                               field="calibration")
        if not 50.0 < self.percentile <= 100.0:
            raise EdgesimError(f"must be in (50, 100], got {self.percentile}", field="percentile")


def _precision_from(entry: dict, where: str, path: str) -> LayerPrecision:
    if "preset" in entry:
        p = entry["preset"]
        if p not in PRESETS or p == "fp16":
            layer_presets = ", ".join(q for q in QuantPreset if q is not QuantPreset.FP16)
            raise EdgesimError(f"unknown per-layer preset {p!r}; use {layer_presets}", file=path,
                               field=f"{where}.preset")
        return LayerPrecision(*PRESETS[p])
    try:
        wb = int(entry.get("weight_bits", 8))
        ab = int(entry.get("activation_bits", 8))
    except (TypeError, ValueError):
        raise EdgesimError("bits must be integers", file=path, field=where) from None
    if wb not in (4, 8):
        raise EdgesimError(f"must be 4 or 8, got {wb}", file=path, field=f"{where}.weight_bits")
    if ab not in (4, 8, 16):
        raise EdgesimError(f"must be 4, 8 or 16, got {ab}", file=path, field=f"{where}.activation_bits")
    return LayerPrecision(wb, ab)


def load_quant_spec(path: str | Path, **defaults: object) -> QuantSpec:
    """Read a mixed-precision YAML spec::

        preset: w4a8            # default for every layer
        per_channel: true
        calibration: percentile # minmax | percentile | mse
        layers:
          - select: [0, -1]     # first and last weighted layer (indices), or name globs like "conv_1*"
            preset: int8        # or weight_bits: 8 / activation_bits: 16
    """
    p = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise EdgesimError(f"cannot read quantization spec: {e.strerror}", file=p) from None
    except yaml.YAMLError as e:
        raise EdgesimError(f"invalid YAML: {str(e).splitlines()[0]}", file=p) from None
    if doc is None:  # an empty file is more likely the wrong file than "all defaults" (that is '{}')
        raise EdgesimError("the spec is empty; give at least 'preset:' (or '{}' for every default)", file=p)
    if not isinstance(doc, dict):
        raise EdgesimError("the spec must be a mapping", file=p)
    known = {"preset", "per_channel", "symmetric_weights", "symmetric_activations", "calibration", "percentile",
             "layers"}
    for k in doc:
        if k not in known:
            raise EdgesimError(f"unknown key; known keys: {', '.join(sorted(known))}", file=p, field=str(k))
    overrides = []
    layers = doc.get("layers", []) or []
    if not isinstance(layers, list):
        raise EdgesimError("must be a list of {select, preset|weight_bits|activation_bits}", file=p, field="layers")
    for i, entry in enumerate(layers):
        where = f"layers[{i}]"
        if not isinstance(entry, dict) or "select" not in entry:
            raise EdgesimError("needs a 'select' list of layer names/globs or indices", file=p, field=where)
        sel = entry["select"]
        sel = sel if isinstance(sel, list) else [sel]
        if not sel or not all(isinstance(s, (str, int)) and not isinstance(s, bool) for s in sel):
            raise EdgesimError("selectors must be name globs or integer indices", file=p, field=f"{where}.select")
        overrides.append(LayerOverride(tuple(sel), _precision_from(entry, where, p)))
    kwargs: dict[str, object] = dict(defaults)
    for k in ("preset", "per_channel", "symmetric_weights", "symmetric_activations", "calibration", "percentile"):
        if k in doc:
            kwargs[k] = doc[k]
    try:
        return QuantSpec(overrides=tuple(overrides), **kwargs)  # type: ignore[arg-type]
    except EdgesimError as e:
        raise EdgesimError(e.message, file=p, field="preset" if e.field == "quant" else e.field) from None


def is_quantized(graph: Graph) -> bool:
    return any(t.quant is not None or t.dtype in (DType.INT8, DType.UINT8, DType.INT4, DType.INT16)
               for t in graph.tensors.values() if not (t.is_const and t.dtype in (DType.INT32, DType.INT64)))


def weighted_layers(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes if n.op in _WEIGHTED and len(n.inputs) > 1 and graph.tensors[n.inputs[1]].is_const]


def layer_precisions(graph: Graph, spec: QuantSpec) -> dict[str, LayerPrecision]:
    layers = weighted_layers(graph)
    default = LayerPrecision(*PRESETS[spec.preset])
    out = {n.name: default for n in layers}
    for i, ov in enumerate(spec.overrides):
        for sel in ov.selectors:
            if isinstance(sel, int):
                if not -len(layers) <= sel < len(layers):
                    raise EdgesimError(f"index {sel} is out of range for {len(layers)} weighted layers",
                                       field=f"layers[{i}].select")
                out[layers[sel].name] = ov.precision
            else:
                hits = [n.name for n in layers if fnmatch.fnmatchcase(n.name, sel)]
                if not hits:
                    raise EdgesimError(f"'{sel}' matches no weighted layer", field=f"layers[{i}].select")
                for h in hits:
                    out[h] = ov.precision
    return out


# --- calibration -----------------------------------------------------------------------------------------
def _mse_range(x: np.ndarray, bits: int, symmetric: bool) -> tuple[float, float]:
    """Search clipping ranges (fractions of min/max) for the least quantization mean squared error."""
    lo, hi = float(x.min()), float(x.max())
    sample = x if x.size <= 65536 else np.random.default_rng(0).choice(x, 65536, replace=False)
    best, best_err = (lo, hi), np.inf
    levels = (1 << bits) - 1
    for frac in np.linspace(0.3, 1.0, 15):
        a, b = lo * frac, hi * frac
        if symmetric:
            m = max(abs(a), abs(b))
            a, b = -m, m
        scale = max(b - a, 1e-12) / levels
        q = np.clip(np.round((sample - a) / scale), 0, levels) * scale + a
        err = float(np.mean((q - sample) ** 2))
        if err < best_err:
            best, best_err = (a, b), err
    return best


def _activation_ranges(graph: Graph, spec: QuantSpec, act_bits: dict[str, int]) -> dict[str, tuple[float, float]]:
    if spec.calibration == "fixed":
        return {name: (-1.0, 1.0) for name, t in graph.tensors.items() if t.data is None}
    samples: list[dict[str, np.ndarray]]
    if spec.calibration_data:
        samples = [_as_input(graph, arr) for arr in spec.calibration_data]
    else:
        samples = synthetic_inputs(graph, spec.num_calibration_samples, spec.seed)
    return calibrate(graph, samples, spec.calibration, spec.percentile, act_bits)


def calibrate(graph: Graph, samples: Sequence[dict[str, np.ndarray]], method: str = "minmax",
              percentile: float = 99.99, bits: dict[str, int] | None = None) -> dict[str, tuple[float, float]]:
    """Real-value range (lo, hi) of every non-constant tensor over ``samples`` run through the float executor."""
    collected: dict[str, list[np.ndarray]] = {}
    for s in samples:
        for name, v in run_float(graph, s, keep_all=True).items():
            collected.setdefault(name, []).append(v.ravel())
    ranges: dict[str, tuple[float, float]] = {}
    for name, parts in collected.items():
        x = np.concatenate(parts).astype(np.float64)
        # infinite values (attention masks add -inf) saturate on any integer grid: the range covers the finite
        x = x[np.isfinite(x)]
        if x.size == 0:
            x = np.zeros(1)
        if method == "minmax":
            lo, hi = float(x.min()), float(x.max())
        elif method == "percentile":
            lo, hi = float(np.percentile(x, 100 - percentile)), float(np.percentile(x, percentile))
        else:
            lo, hi = _mse_range(x, (bits or {}).get(name, 8), symmetric=False)
        ranges[name] = (min(lo, 0.0), max(hi, 0.0))  # zero must be exactly representable (padding, ReLU)
    return ranges


# --- quantizers ------------------------------------------------------------------------------------------
_ACT_DTYPE = {4: DType.INT4, 8: DType.INT8, 16: DType.INT16}


def activation_quant(lo: float, hi: float, bits: int, symmetric: bool) -> tuple[DType, QuantParams]:
    dtype = _ACT_DTYPE[bits]
    qmin, qmax = qrange(dtype)
    if symmetric or bits == 16:
        m = max(abs(lo), abs(hi), 1e-8)
        return dtype, QuantParams((m / qmax,), (0,))
    scale = max(hi - lo, 1e-8) / (qmax - qmin)
    zp = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return dtype, QuantParams((scale,), (zp,))


def quantize_weights(w: np.ndarray, bits: int, axis: int | None, symmetric: bool) -> tuple[np.ndarray, QuantParams]:
    """Integer weights and their QuantParams (per-channel along ``axis`` or per-tensor when None)."""
    dtype = DType.INT4 if bits == 4 else DType.INT8
    qmin, qmax = qrange(dtype)
    w64 = np.asarray(w, np.float64)
    red = tuple(i for i in range(w64.ndim) if i != axis) if axis is not None else None
    lo = np.minimum(w64.min(axis=red, keepdims=True), 0.0)
    hi = np.maximum(w64.max(axis=red, keepdims=True), 0.0)
    if symmetric:
        # Symmetric weights use [-qmax, qmax] so negation stays exact (as TFLite does).
        scale = np.maximum(np.maximum(-lo, hi) / qmax, 1e-12)
        zp = np.zeros_like(scale)
    else:
        scale = np.maximum((hi - lo) / (qmax - qmin), 1e-12)
        zp = np.clip(np.round(qmin - lo / scale), qmin, qmax)
    q = np.clip(np.round(w64 / scale) + zp, qmin, qmax).astype(np.int8)
    scales = tuple(float(s) for s in scale.ravel())
    zps = tuple(int(z) for z in zp.ravel())
    return q, QuantParams(scales, zps, axis)


def weight_out_axis(node: Node, w: Tensor) -> int:
    """The weight axis that indexes output channels/features (per-channel scales run along it)."""
    a = node.attrs
    if node.op is OpKind.MATMUL and len(w.shape) >= 2:
        # y = x @ B: B is (..., K, N), or (..., N, K) with transpose_b.
        transposed = isinstance(a, A.MatMulAttrs) and a.transpose_b
        return len(w.shape) - 2 if transposed else len(w.shape) - 1
    if node.op is OpKind.DEPTHWISE_CONV2D and isinstance(a, A.ConvAttrs) and a.layout is A.Layout.NHWC:
        return len(w.shape) - 1
    if node.op is OpKind.CONV_TRANSPOSE2D and isinstance(a, A.ConvAttrs) and a.layout is A.Layout.NCHW:
        return 1  # ONNX ConvTranspose weights are IOHW
    return 0


def _to_fp16(graph: Graph) -> Graph:
    tensors = {}
    for k, t in graph.tensors.items():
        if t.dtype is DType.FP32:
            data = t.data.astype(np.float16) if t.data is not None else None
            t = Tensor(t.name, t.shape, DType.FP16, None, data, t.sparsity, t.encoding)
        tensors[k] = t
    return graph.rebuild(tensors=tensors)


def quantize_graph(graph: Graph, spec: QuantSpec) -> Graph:
    """Post-training quantization of a float graph following ``spec``; quantized graphs pass through unchanged."""
    if is_quantized(graph):
        return graph
    if spec.preset == "fp16":
        return _to_fp16(graph)
    prec = layer_precisions(graph, spec)
    default = LayerPrecision(*PRESETS[spec.preset])
    # Activation bits of a tensor follow the layer that produces it (graph inputs: their first consumer).
    act_bits: dict[str, int] = {}
    for n in graph.nodes:
        for o in n.outputs:
            act_bits[o] = prec.get(n.name, default).activation_bits
    for name in graph.inputs:
        cons = graph.consumers(name)
        act_bits[name] = prec.get(cons[0].name, default).activation_bits if cons else default.activation_bits
    ranges = _activation_ranges(graph, spec, act_bits)
    tensors = dict(graph.tensors)
    for name, (lo, hi) in ranges.items():
        t = tensors[name]
        if not t.dtype.is_float:
            continue
        dtype, q = activation_quant(lo, hi, act_bits.get(name, 8), spec.symmetric_activations)
        tensors[name] = t.with_dtype(dtype, q)
    for node in weighted_layers(graph):
        p = prec[node.name]
        w = graph.tensors[node.inputs[1]]
        if w.data is None or not w.dtype.is_float:
            continue
        # A 1-D weight (matmul by a vector) has no output-feature axis: one scale for all of it.
        axis = weight_out_axis(node, w) if spec.per_channel and len(w.shape) > 1 else None
        qw, wq = quantize_weights(w.data, p.weight_bits, axis, spec.symmetric_weights)
        wdtype = DType.INT4 if p.weight_bits == 4 else DType.INT8
        # Until the compression pass packs them, int4 weights sit one per byte (the container numpy uses).
        enc = WeightEncoding("int4_unpacked", w.num_elements) if wdtype is DType.INT4 else None
        tensors[w.name] = Tensor(w.name, w.shape, wdtype, wq, qw, w.sparsity, enc)
        if len(node.inputs) > 2 and node.inputs[2]:
            b = graph.tensors[node.inputs[2]]
            x_q = tensors[node.inputs[0]].quant
            if b.data is None or x_q is None:
                continue
            bscale = np.asarray(wq.scales, np.float64) * x_q.scale
            if len(bscale) == 1 and b.num_elements > 1:
                bscale = np.full(b.num_elements, bscale[0])
            qb = np.round(np.asarray(b.data, np.float64) / bscale).astype(np.int64)
            qb = np.clip(qb, -(2**31), 2**31 - 1).astype(np.int32)
            bq = QuantParams(tuple(float(s) for s in bscale), (0,) * len(bscale), 0 if len(bscale) > 1 else None)
            tensors[b.name] = Tensor(b.name, b.shape, DType.INT32, bq, qb)
    _quantize_embedding_tables(graph, tensors)
    return graph.rebuild(tensors=tensors)


def _quantize_embedding_tables(graph: Graph, tensors: dict[str, Tensor]) -> None:
    """Constant tables a GATHER reads (BERT's word/position/segment embeddings) become int8, one symmetric scale
    per table, as TFLite, QNN and OpenVINO deploy them; an int8 lookup output takes the table's scale, since
    its values are the table's rows."""
    for node in graph.nodes:
        table = graph.tensors[node.inputs[0]] if node.op is OpKind.GATHER else None
        if table is None or table.data is None or not table.dtype.is_float:
            continue
        q, tq = quantize_weights(table.data, 8, None, symmetric=True)
        tensors[table.name] = Tensor(table.name, table.shape, DType.INT8, tq, q)
        out = tensors[node.outputs[0]]
        if out.dtype is DType.INT8:
            tensors[out.name] = out.with_dtype(DType.INT8, tq)


def _as_input(graph: Graph, arr: np.ndarray) -> dict[str, np.ndarray]:
    name = graph.inputs[0]
    shape = graph.tensors[name].shape
    x = np.asarray(arr, np.float32)
    if x.size != int(np.prod(shape)):
        raise EdgesimError(f"calibration sample has shape {x.shape}, the model input is {shape}", field="calib")
    return {name: x.reshape(shape)}


def load_calibration(path: str | Path, graph: Graph, max_samples: int = 16) -> tuple[np.ndarray, ...]:
    """Calibration samples from a .npy file: one input (the model's shape) or a batch stacked on axis 0."""
    try:
        arr = np.load(path, allow_pickle=False)
    except EOFError:  # an empty file
        raise EdgesimError("cannot read calibration data: the file is empty", file=str(path), field="calib"
                           ) from None
    except (OSError, ValueError) as e:
        raise EdgesimError(f"cannot read calibration data: {e}", file=str(path)) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        what = "an .npz archive" if not isinstance(arr, np.ndarray) else f"{arr.dtype} values"
        raise EdgesimError(f"holds {what}; calibration needs one numeric .npy array", file=str(path), field="calib")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        # NaN/inf ranges give NaN scales: every quantized tensor would be garbage, answered without a word.
        raise EdgesimError(f"holds {int(np.size(arr) - np.isfinite(arr).sum())} NaN/inf values; calibration "
                           "inputs must be finite", file=str(path), field="calib")
    shape = graph.tensors[graph.inputs[0]].shape
    n = int(np.prod(shape))
    if arr.size == 0:  # no sample: quantization would silently fall back to nothing measured
        raise EdgesimError(f"holds no values (shape {arr.shape}); calibration needs at least one input of "
                           f"{shape}", file=str(path), field="calib")
    if arr.size % n:
        raise EdgesimError(f"holds {arr.size} values, not a multiple of the input size {n} ({shape})",
                           file=str(path), field="calib")
    batch = arr.reshape(-1, *shape)
    return tuple(batch[i] for i in range(min(len(batch), max_samples)))
