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


def test_a_scaled_tile_group_is_dataclasses_replace_of_its_cycles() -> None:
    from dataclasses import fields, replace

    from edgesim.mapping.plan import MemTraffic, TileGroup

    g = TileGroup(3, 1234.5, (MemTraffic("sram", 10, 20),), 4096)
    assert g.scaled(1.1) == replace(g, compute_cycles=g.compute_cycles * 1.1)
    # scaled() names every field: one added to TileGroup must be added there too
    assert [f.name for f in fields(TileGroup)] == ["count", "compute_cycles", "traffic", "working_set_bytes"]


def test_a_field_a_metric_does_not_move_leaves_the_surrogate_as_it_was() -> None:
    """An energy-only field (its latencies all nominal) adds exactly +0.0 to every latency draw: skipped, the
    quantiles are the ones with it."""
    from edgesim.hw.uncertain import UncertainField
    from edgesim.pipeline.intervals import FieldEffect, _stratum_order, _surrogate_quantiles

    bw = FieldEffect(UncertainField("memories.0.read_bw_bytes_per_cycle", 8.0, 6.8, 9.2, ""), "hw",
                     (1.2e-3, 1.0e-3, 0.9e-3), (2.1e-5, 2.0e-5, 1.95e-5))
    mac = FieldEffect(UncertainField("energy.mac_energy_pj.int8", 0.5, 0.325, 0.675, ""), "hw",
                      (1.0e-3, 1.0e-3, 1.0e-3), (1.8e-5, 2.0e-5, 2.2e-5))
    lat = _surrogate_quantiles([bw, mac], "latency", 0.8)
    assert lat == _surrogate_quantiles([bw], "latency", 0.8)
    # what the skipped field would have added: +0.0 on every draw
    f = mac.field
    u = f.lo + _stratum_order(1) * (f.hi - f.lo)
    added = np.interp(u, np.array([f.lo, f.value, f.hi]), np.log(np.array(mac.latency_s) / mac.latency_s[1]))
    assert not np.any(added) and not np.any(np.signbit(added))
    assert _surrogate_quantiles([bw, mac], "energy", 0.8) != _surrogate_quantiles([bw], "energy", 0.8)


def test_total_of_is_the_left_fold_of_plus_bit_for_bit() -> None:
    from functools import reduce

    from edgesim.cost.estimate import EnergyBreakdown

    rng = np.random.default_rng(7)
    parts = [EnergyBreakdown(float(rng.random()) * 1e-6,
                             tuple(sorted((m, float(rng.random()) * 1e-7) for m in rng.choice(
                                 ["dram", "flash", "sram"], size=int(rng.integers(0, 4)), replace=False))),
                             float(rng.random()) * 1e-8) for _ in range(40)]
    assert EnergyBreakdown.total_of(parts) == reduce(lambda a, b: a + b, parts, EnergyBreakdown())
    assert EnergyBreakdown.total_of([]) == EnergyBreakdown()


def test_the_device_table_answers_which_pairs_have_rows() -> None:
    from edgesim.pipeline.device_calibration import device_scale_table

    table = device_scale_table()
    assert table.pairs == {(k[0], k[1]) for t in table.tiers for k, _, _ in t.groups}
    assert ("no-such-chip", "none") not in table.pairs


def test_the_calibration_tables_hash_is_its_fields_hash_computed_once() -> None:
    import pickle
    from dataclasses import fields, replace

    from edgesim.pipeline.interval_calibration import calibration_table

    table = calibration_table()
    h = hash(table)
    assert h == hash(tuple(getattr(table, f.name) for f in fields(table)))  # the dataclass's own hash
    assert table.__dict__["_fields_hash"] == h  # kept: the lru_caches keyed by the table do not rehash it
    copy = replace(table)
    assert copy == table and hash(copy) == h
    restored = pickle.loads(pickle.dumps(table))
    assert "_fields_hash" not in restored.__dict__ and restored == table and hash(restored) == h


def test_a_schedule_from_the_per_graph_memos_is_the_one_mapped_from_scratch() -> None:
    """The op signatures, live activation bytes and op wiring memoised per graph give the schedule a cold map
    gives, plan for plan (a second graph of the same model shares nothing by identity)."""
    from edgesim.mapping.memo import clear_memos
    from edgesim.pipeline import RunSpec, run
    from edgesim.pipeline.stages import clear_caches

    warm = run(RunSpec("pretrainedResnet_quant.tflite", "ethos-u55-128"))
    again = run(RunSpec("pretrainedResnet_quant.tflite", "stm32h7a3"))  # the same graph object, another chip
    assert again.graph is warm.graph
    clear_memos()
    clear_caches()
    cold = run(RunSpec("pretrainedResnet_quant.tflite", "ethos-u55-128"))
    assert cold.graph is not warm.graph
    assert cold.schedule.plans == warm.schedule.plans
    assert (cold.latency_s, cold.energy_j) == (warm.latency_s, warm.energy_j)


def test_transfer_s_is_bytes_over_the_ports_bandwidths_bit_for_bit() -> None:
    from edgesim.hw.loader import load_profile

    for pid in ("stm32l4r5", "hailo-8", "rk3588"):
        prof = load_profile(pid)
        for m in prof.memories:
            for rd, wr in ((0, 0), (1000, 0), (0, 777), (123456, 65432)):
                read_s, write_s = m.transfer_s(rd, wr, prof.clock_mhz)
                assert read_s == (rd / m.read_bw_bytes_per_s(prof.clock_mhz) if rd else 0.0)
                wr_bw = m.write_bw_bytes_per_s(prof.clock_mhz)
                assert write_s == (wr / wr_bw if wr and wr_bw > 0 else 0.0)
