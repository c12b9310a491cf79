"""Graph verification, run after import and after every pass."""

from __future__ import annotations

from edgesim.errors import ModelError, ShapeError
from edgesim.ir.graph import Graph
from edgesim.ir.shape_infer import infer_node
from edgesim.ir.tensor import Tensor


def _check_tensor(t: Tensor) -> None:
    if any((not isinstance(d, int)) or d < 0 for d in t.shape):
        raise ShapeError(f"tensor '{t.name}' has an invalid shape {t.shape}")
    if t.data is not None and tuple(t.data.shape) != t.shape:
        raise ShapeError(f"tensor '{t.name}' declares shape {t.shape} but holds data of shape {t.data.shape}")
    q = t.quant
    if q is not None and q.axis is not None:
        rank = len(t.shape)
        if not -rank <= q.axis < max(rank, 1):
            raise ShapeError(f"tensor '{t.name}' is quantized along axis {q.axis} but has rank {rank}")
        if rank and len(q.scales) not in (1, t.shape[q.axis]):
            raise ShapeError(
                f"tensor '{t.name}' has {len(q.scales)} scales for {t.shape[q.axis]} channels on axis {q.axis}"
            )


def verify_graph(graph: Graph) -> Graph:
    """Check structure, tensor metadata and that every output shape agrees with shape inference.

    Returns the graph so it can be chained inside a pass pipeline. Raises ModelError or ShapeError naming the node.
    """
    for name in graph.inputs:
        if name not in graph.tensors:
            raise ModelError(f"graph input '{name}' has no tensor")
    for name in graph.outputs:
        if name not in graph.tensors:
            raise ModelError(f"graph output '{name}' has no tensor")
        if graph.producer(name) is None and name not in graph.inputs and not graph.tensors[name].is_const:
            raise ModelError(f"graph output '{name}' is produced by no node")
    for t in graph.tensors.values():
        _check_tensor(t)
    for node in graph.nodes:
        lo, hi = node.op.info.num_inputs
        present = len(node.inputs)
        if present < lo or (hi >= 0 and present > hi):
            raise ModelError(f"{node.op.value} takes {lo}..{hi if hi >= 0 else 'n'} inputs, got {present}",
                             node=node.name)
        lo, hi = node.op.info.num_outputs
        if len(node.outputs) < lo or (hi >= 0 and len(node.outputs) > hi):
            raise ModelError(f"{node.op.value} has {len(node.outputs)} outputs", node=node.name)
        for i in node.inputs:
            if i and i not in graph.tensors:
                raise ModelError(f"reads unknown tensor '{i}'", node=node.name)
        for o in node.outputs:
            if o not in graph.tensors:
                raise ModelError(f"writes unknown tensor '{o}'", node=node.name)
        shapes = infer_node(node, graph.input_tensors(node))
        for o, s in zip(node.outputs, shapes, strict=True):
            declared = graph.tensors[o].shape
            if tuple(declared) != tuple(s):
                raise ShapeError(f"output '{o}' is declared {declared} but the op produces {s}", node=node.name)
    return graph
