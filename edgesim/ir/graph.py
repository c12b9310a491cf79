"""Nodes and the graph: an immutable DAG of ops over named tensors, kept in topological order."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from edgesim.errors import ModelError
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor


@dataclass(frozen=True)
class Node:
    """One op. ``inputs``/``outputs`` name tensors of the graph; an empty input name is an omitted optional."""

    name: str
    op: OpKind
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Any
    # Names of the source ops merged into this node by the importer or fusion (e.g. Conv+BN+Relu).
    fused_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        expected = self.op.info.attrs_type
        if not isinstance(self.attrs, expected):
            raise TypeError(
                f"node '{self.name}': {self.op.value} takes {expected.__name__}, got {type(self.attrs).__name__}"
            )


@dataclass(frozen=True)
class Graph:
    """A dataflow graph. ``nodes`` are in topological order (enforced by ``Graph.build``)."""

    name: str
    nodes: tuple[Node, ...]
    tensors: Mapping[str, Tensor]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    source_format: str = "ir"  # "tflite", "onnx", "zoo", "scalesim"
    _producer: Mapping[str, Node] = field(default_factory=dict, compare=False, repr=False)
    _consumers: Mapping[str, tuple[Node, ...]] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def build(
        name: str,
        nodes: Iterable[Node],
        tensors: Mapping[str, Tensor],
        inputs: Iterable[str],
        outputs: Iterable[str],
        source_format: str = "ir",
    ) -> Graph:
        """Make a graph, sorting nodes topologically and indexing producers and consumers."""
        node_list = list(nodes)
        ordered = _toposort(node_list, set(inputs), tensors)
        producer: dict[str, Node] = {}
        consumers: dict[str, list[Node]] = {}
        for n in ordered:
            for o in n.outputs:
                if o in producer:
                    raise ModelError(f"tensor '{o}' is produced by both '{producer[o].name}' and '{n.name}'")
                producer[o] = n
            for i in n.inputs:
                if i:
                    consumers.setdefault(i, []).append(n)
        return Graph(
            name=name,
            nodes=tuple(ordered),
            tensors=MappingProxyType(dict(tensors)),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            source_format=source_format,
            _producer=MappingProxyType(producer),
            _consumers=MappingProxyType({k: tuple(v) for k, v in consumers.items()}),
        )

    def rebuild(
        self,
        nodes: Iterable[Node] | None = None,
        tensors: Mapping[str, Tensor] | None = None,
        inputs: Iterable[str] | None = None,
        outputs: Iterable[str] | None = None,
        name: str | None = None,
    ) -> Graph:
        """A new graph with some parts replaced (passes are Graph -> Graph)."""
        return Graph.build(
            name=self.name if name is None else name,
            nodes=self.nodes if nodes is None else nodes,
            tensors=self.tensors if tensors is None else tensors,
            inputs=self.inputs if inputs is None else inputs,
            outputs=self.outputs if outputs is None else outputs,
            source_format=self.source_format,
        )

    def tensor(self, name: str) -> Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise ModelError(f"graph '{self.name}' has no tensor '{name}'") from None

    def producer(self, tensor_name: str) -> Node | None:
        return self._producer.get(tensor_name)

    def consumers(self, tensor_name: str) -> tuple[Node, ...]:
        return self._consumers.get(tensor_name, ())

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise ModelError(f"graph '{self.name}' has no node '{name}'")

    def input_tensors(self, node: Node) -> list[Tensor | None]:
        return [self.tensors[i] if i else None for i in node.inputs]

    def output_tensors(self, node: Node) -> list[Tensor]:
        return [self.tensors[o] for o in node.outputs]

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op.value] = counts.get(n.op.value, 0) + 1
        return counts

    def with_node(self, old: Node, **changes: Any) -> Node:
        return replace(old, **changes)


def stable_toposort(deps: Sequence[Collection[int]]) -> list[int]:
    """Kahn's algorithm over item indices, stable with respect to the given order (imports keep their file order).

    ``deps[i]`` holds the indices item i waits for. Items on a cycle are left out, so a result shorter than
    ``deps`` means the graph has a cycle.
    """
    users: list[list[int]] = [[] for _ in deps]
    indegree = [len(d) for d in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready = [i for i, k in enumerate(indegree) if k == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            indegree[u] -= 1
            if indegree[u] == 0:
                heapq.heappush(ready, u)
    return order


def _toposort(nodes: list[Node], graph_inputs: set[str], tensors: Mapping[str, Tensor]) -> list[Node]:
    produced_by: dict[str, int] = {}
    for idx, n in enumerate(nodes):
        for o in n.outputs:
            produced_by[o] = idx
    deps: list[set[int]] = []
    for n in nodes:
        d: set[int] = set()
        for i in n.inputs:
            if not i:
                continue
            p = produced_by.get(i)
            if p is not None:
                d.add(p)
            elif i not in graph_inputs and (i not in tensors or tensors[i].data is None):
                raise ModelError(f"node '{n.name}' reads tensor '{i}', which nothing produces")
        deps.append(d)
    if all(not d or max(d) < idx for idx, d in enumerate(deps)):
        return nodes  # already in order: the stable sort would return it unchanged (builders, most imports)
    order = stable_toposort(deps)
    if len(order) != len(nodes):
        placed = set(order)
        stuck = [nodes[i].name for i in range(len(nodes)) if i not in placed][:5]
        raise ModelError(f"graph has a cycle through nodes {stuck}")
    return [nodes[i] for i in order]
