"""What makes an interval cheap in a loop (benchmarks/bench_intervals.py) without moving a number: each graph's op
signatures are computed once and hash once, and the cost model's per-layer energy lookup builds nothing."""

from __future__ import annotations

import gc

import numpy as np

from edgesim.cost.analytic import lookup_precision
from edgesim.hw.schema_base import Precision
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.memo import Signature, graph_signatures, node_signature
from edgesim.zoo.builder import GraphBuilder


def _graph(channels: int = 8) -> Graph:
    b = GraphBuilder("sig")
    x = b.input("x", (1, 16, channels))
    y = b.one(OpKind.TRANSPOSE, [x], A.TransposeAttrs(perm=(0, 2, 1)))
    return b.build([b.one(OpKind.RELU, [y], A.NoAttrs())])


def test_a_graphs_signatures_are_computed_once_and_match_node_signature() -> None:
    g = _graph()
    first = graph_signatures(g, False)
    assert graph_signatures(g, False) is first  # the same table: nothing recomputed or rehashed
    for node in g.nodes:
        sig = first[node.name]
        assert isinstance(sig, Signature) and sig == node_signature(g, node, False)
        assert hash(sig) == hash(node_signature(g, node, False))
    assert graph_signatures(g, True) is not first  # with the weights' identity: another key


def test_an_equal_graph_shares_the_memo_keys_and_another_does_not() -> None:
    a, b, c = _graph(), _graph(), _graph(channels=12)
    sa, sb, sc = (graph_signatures(g, False) for g in (a, b, c))
    assert list(sa.values()) == list(sb.values())  # same ops, same shapes: one memo entry serves both
    assert {hash(s) for s in sa.values()} == {hash(s) for s in sb.values()}
    assert all(x != y for x, y in zip(sa.values(), sc.values(), strict=True))
    assert Signature((1, 2)) != (1, 2)  # never equal to a bare tuple key


def test_a_dead_graphs_entry_is_never_matched_by_a_reused_id() -> None:
    g = _graph()
    old = graph_signatures(g, False)
    key = id(g)
    del g
    gc.collect()
    h = _graph(channels=4)
    sigs = graph_signatures(h, False)
    if id(h) == key:  # the id was reused: the table must be the new graph's
        assert sigs is not old
    assert all(s == node_signature(h, n, False) for n, s in zip(h.nodes, sigs.values(), strict=True))


def test_lookup_precision_finds_a_precision_member_by_its_label() -> None:
    table = {Precision.INT8: 0.5, Precision.FP32: 5.0}
    assert lookup_precision(table, "int8") == 0.5
    assert lookup_precision(table, "int4") == 0.5  # int4 falls back to int8
    assert lookup_precision(table, "fp16") == 5.0  # fp16 falls back to fp32
    assert lookup_precision({Precision.INT16: 1.2}, "int8") == 1.2
    assert lookup_precision({Precision.FP16: 2.0, Precision.FP32: 5.0}, "int8") == 5.0  # none near: the largest
    assert lookup_precision({}, "int8") == 0.0
    assert isinstance(lookup_precision({Precision.INT8: np.float32(0.5)}, "int8"), float)
