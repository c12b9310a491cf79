"""Accuracy impact of a transformation: per-tensor SQNR and output agreement, via the float executor.

Quantized graphs run fake-quantized (see float_exec), which shows the quantization error without bit-exact
integer kernels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpClass, OpKind
from edgesim.passes.float_exec import run_float


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (inf when identical)."""
    ref = np.asarray(reference, np.float64).ravel()
    noise = float(np.sum((ref - np.asarray(test, np.float64).ravel()) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


@dataclass(frozen=True)
class LayerSqnr:
    tensor: str
    producer: str
    sqnr_db: float


@dataclass(frozen=True)
class AccuracyReport:
    layers: tuple[LayerSqnr, ...]  # tensors present (same name and shape) in both graphs, in graph order
    output_sqnr_db: dict[str, float]
    top1_agreement: float | None  # fraction of samples with the same arg-max (classifier outputs), else None
    num_samples: int

    def summary(self) -> str:
        outs = ", ".join(f"{k}: {v:.1f} dB" for k, v in self.output_sqnr_db.items()) or "n/a (index outputs only)"
        top1 = "n/a" if self.top1_agreement is None else f"{100 * self.top1_agreement:.1f}%"
        return f"output SQNR {outs}; top-1 agreement {top1} over {self.num_samples} samples"


def accuracy_report(reference_graph: Graph, transformed_graph: Graph,
                    inputs: Sequence[Mapping[str, np.ndarray]]) -> AccuracyReport:
    """Compare ``transformed_graph`` against ``reference_graph`` on the same ``inputs`` (a list of samples)."""
    if not inputs:
        raise EdgesimError("needs at least one input sample", field="inputs")
    if len(reference_graph.outputs) != len(transformed_graph.outputs):
        raise EdgesimError("the graphs have different numbers of outputs", field="transformed_graph")
    ref_runs = [run_float(reference_graph, s, keep_all=True) for s in inputs]
    new_runs = [run_float(transformed_graph, s, keep_all=True) for s in inputs]
    layers = []
    for node in transformed_graph.nodes:
        for o in node.outputs:
            if o not in ref_runs[0] or ref_runs[0][o].shape != new_runs[0][o].shape:
                continue
            ref = np.concatenate([r[o].ravel() for r in ref_runs])
            new = np.concatenate([r[o].ravel() for r in new_runs])
            layers.append(LayerSqnr(o, node.name, sqnr_db(ref, new)))
    out_sqnr: dict[str, float] = {}
    agree: list[bool] = []
    # kept-box indices (NonMaxSuppression): their count follows the scores, and an SQNR of indices means nothing
    selections = {o for nd in transformed_graph.nodes if nd.op is OpKind.NON_MAX_SUPPRESSION for o in nd.outputs}
    for ro, to in zip(reference_graph.outputs, transformed_graph.outputs, strict=True):
        if to in selections:
            continue
        ref = np.concatenate([r[ro].ravel() for r in ref_runs])
        new = np.concatenate([r[to].ravel() for r in new_runs])
        if ref.shape != new.shape:
            raise EdgesimError(f"output '{to}' has {new.size} values, the reference {ref.size}",
                               field="transformed_graph")
        out_sqnr[to] = sqnr_db(ref, new)
    first_ref, first_new = reference_graph.outputs[0], transformed_graph.outputs[0]
    shape = reference_graph.tensors[first_ref].shape
    is_classifier = len(shape) >= 1 and shape[-1] > 1 and int(np.prod(shape[:-1])) == 1
    if is_classifier:
        agree = [int(np.argmax(r[first_ref])) == int(np.argmax(n[first_new]))
                 for r, n in zip(ref_runs, new_runs, strict=True)]
    return AccuracyReport(tuple(layers), out_sqnr, float(np.mean(agree)) if agree else None, len(inputs))


def activation_zero_fractions(graph: Graph, inputs: Sequence[Mapping[str, np.ndarray]]) -> dict[str, float]:
    """Measured fraction of exactly-zero input activations of every MAC node (node name -> fraction), averaged
    over ``inputs``: what hardware with activation zero-skipping can skip. Quantized graphs run fake-quantized,
    so a value equal to its zero point counts as zero."""
    if not inputs:
        raise EdgesimError("needs at least one input sample", field="inputs")
    runs = [run_float(graph, s, keep_all=True) for s in inputs]
    out: dict[str, float] = {}
    for node in graph.nodes:
        if node.op.op_class is not OpClass.MAC or not node.inputs or node.inputs[0] not in runs[0]:
            continue
        x = node.inputs[0]
        zeros = sum(int(np.count_nonzero(r[x] == 0)) for r in runs)
        total = sum(r[x].size for r in runs)
        out[node.name] = zeros / max(total, 1)
    return out
