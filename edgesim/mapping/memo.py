"""Per-op costs remembered by op signature, so repeated layers (and the layers a search's candidates share) cost
nothing the second time.

An op's placement, compute cycles and tiling depend on the op (kind, attributes), the shapes, types, sparsity and
encoding of its tensors, whether its input is the network input, the weight values where the runtime entropy-codes
them, and the profile, runtime and release; nothing else of the graph. ``node_signature`` is that key; one memo
per (profile, runtime, release) object holds the results.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from edgesim.ir.graph import Graph, Node
from edgesim.ir.tensor import Tensor
from edgesim.mapping.tiling import is_network_input

_T = TypeVar("_T")
_ENTRIES_PER_MEMO = 50_000  # a memo is dropped whole when full (a long sweep over ever-new shapes)
_MEMOS_KEPT = 32


def _tensor_signature(t: Tensor, with_data: bool) -> Hashable:
    data_id = id(t.data) if with_data and t.data is not None else None
    return (t.shape, t.dtype, t.data is not None, t.sparsity, t.encoding, data_id)


# Weight arrays named by id in a signature are kept alive here, so their ids cannot be reused while keyed.
_PINNED: dict[int, object] = {}


class Signature:
    """An op's signature with its hash computed once. The memo tables are asked by it several times per op and per
    map (works, placement, tiling; an interval's seeded maps once more), and hashing the nested tuple anew each
    time (enums and frozen attrs hash in Python) was a tenth of an interval's cost on a new chip."""

    __slots__ = ("key", "_hash")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self._hash = hash(key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Signature) and self._hash == other._hash and self.key == other.key)

    def __repr__(self) -> str:
        return f"Signature({self.key!r})"


def node_signature(graph: Graph, node: Node, with_data: bool) -> Signature | None:
    """What an op's costs depend on (see the module doc); None when it cannot be hashed (then it is not memoised).
    ``with_data``: the weight values matter (the runtime entropy-codes them), named by their arrays' identity."""
    ins = tuple(_tensor_signature(graph.tensors[i], with_data) if i else None for i in node.inputs)
    outs = tuple((graph.tensors[o].shape, graph.tensors[o].dtype) for o in node.outputs)
    try:
        sig = Signature((node.op, node.attrs, ins, outs, bool(node.inputs) and is_network_input(graph, node.inputs[0])))
    except TypeError:
        return None
    if with_data:
        _pin(graph, node)
    return sig


def _pin(graph: Graph, node: Node) -> None:
    for i in node.inputs:
        if i and graph.tensors[i].data is not None:
            _PINNED[id(graph.tensors[i].data)] = graph.tensors[i].data


# Data derived from one graph object alone (its ops' signatures, its live activation bytes), by (graph identity,
# what, identity of the other input): a graph is immutable, and a sweep or an interval maps one graph on many chips.
# The graph is referenced weakly (a dead one's entry is never matched by a reused id) and the table is bounded.
_PER_GRAPH: OrderedDict[tuple[int, str, int], tuple[weakref.ref[Graph], object, Any]] = OrderedDict()
_PER_GRAPH_KEPT = 64


def graph_memo(graph: Graph, what: str, other: object, compute: Callable[[], _T]) -> _T:
    """``compute()``, which reads only ``graph`` and ``other`` (a runtime release, a flag), once per pair of
    objects. The value is shared between callers: read-only."""
    key = (id(graph), what, id(other))
    hit = _PER_GRAPH.get(key)
    if hit is not None and hit[0]() is graph and hit[1] is other:
        _PER_GRAPH.move_to_end(key)
        return hit[2]  # type: ignore[no-any-return]
    value = compute()
    _PER_GRAPH[key] = (weakref.ref(graph), other, value)
    while len(_PER_GRAPH) > _PER_GRAPH_KEPT:
        _PER_GRAPH.popitem(last=False)
    return value


def graph_signatures(graph: Graph, with_data: bool) -> dict[str, Signature | None]:
    """``node_signature`` of every op of ``graph``, by node name (read-only: shared between calls)."""
    sigs = graph_memo(graph, "signatures", with_data,
                      lambda: {n.name: node_signature(graph, n, with_data) for n in graph.nodes})
    if with_data:  # pinned on every call, as node_signature does (the pins may have been dropped since)
        for node in graph.nodes:
            _pin(graph, node)
    return sigs


class PlanMemo:
    """Costs of ops already mapped with one (profile, runtime, release)."""

    def __init__(self, refs: tuple[object, ...]) -> None:
        self.refs = refs  # the profile, runtime and release objects: their ids key this memo
        self.works: dict[Hashable, Any] = {}
        self.placed: dict[Hashable, Any] = {}
        self.tilings: dict[Hashable, Any] = {}

    def lookup(self, table: dict[Hashable, Any], key: Hashable, compute: Callable[[], _T]) -> _T:
        if key is None or (isinstance(key, tuple) and key and key[0] is None):  # an unhashable op
            return compute()
        hit = table.get(key)
        if hit is None:
            if len(table) >= _ENTRIES_PER_MEMO:
                table.clear()
                _PINNED.clear()
            hit = table[key] = compute()
        return hit  # type: ignore[no-any-return]


_MEMOS: OrderedDict[tuple[int, ...], PlanMemo] = OrderedDict()


def plan_memo(profile: object, runtime: object, version: object) -> PlanMemo:
    """The memo of a (profile, runtime, release) triple (objects are identified by identity, checked on hit)."""
    key = (id(profile), id(runtime), id(version))
    memo = _MEMOS.get(key)
    if memo is not None and all(a is b for a, b in zip(memo.refs, (profile, runtime, version), strict=True)):
        _MEMOS.move_to_end(key)
        return memo
    memo = _MEMOS[key] = PlanMemo((profile, runtime, version))
    while len(_MEMOS) > _MEMOS_KEPT:
        _MEMOS.popitem(last=False)
    return memo


def clear_memos() -> None:
    _MEMOS.clear()
    _PINNED.clear()
    _PER_GRAPH.clear()
