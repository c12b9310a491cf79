"""Canonicalising passes every imported graph goes through."""

from __future__ import annotations

from edgesim.ir.graph import Graph, Node
from edgesim.ir.ops import OpKind


def drop_identities(graph: Graph) -> Graph:
    """Remove IDENTITY nodes (ONNX Identity/Dropout at inference), rewiring their consumers to the source."""
    identities = [n for n in graph.nodes if n.op is OpKind.IDENTITY]
    if not identities:
        return graph
    rename: dict[str, str] = {}
    keep_outputs = set(graph.outputs)
    kept: list[Node] = []
    for n in graph.nodes:
        if n.op is OpKind.IDENTITY and n.outputs[0] not in keep_outputs and n.inputs and n.inputs[0]:
            src = n.inputs[0]
            rename[n.outputs[0]] = rename.get(src, src)
        else:
            kept.append(n)
    if not rename:
        return graph
    nodes = [
        Node(n.name, n.op, tuple(rename.get(i, i) for i in n.inputs), n.outputs, n.attrs, n.fused_from)
        for n in kept
    ]
    tensors = {k: v for k, v in graph.tensors.items() if k not in rename}
    return graph.rebuild(nodes=nodes, tensors=tensors)
