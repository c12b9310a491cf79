"""SCALE-Sim topology/config readers, the topology->graph and config->profile conversions, systolic basics."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesim.errors import EdgesimError, MappingError
from edgesim.frontends.scalesim import (
    ScaleSimConfig,
    config_to_profile,
    config_to_profile_dict,
    read_config,
    read_topology,
    topology_to_graph,
)
from edgesim.ir.ops import OpKind
from edgesim.mapping.plan import TimingDiscipline
from edgesim.mapping.systolic import SystolicLayer, compute_cycles
from edgesim.mapping.systolic_memory import SystolicMemory, memory_stalls
from tests.conftest import REFERENCE

SCALESIM = REFERENCE / "scalesim"

HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
GOOD_CFG = """[general]
run_name = t

[architecture_presets]
ArrayHeight:    8
ArrayWidth:     4
IfmapSramSzkB:    2
FilterSramSzkB:   2
OfmapSramSzkB:    1
Dataflow : ws
Bandwidth : 4

[run_presets]
InterfaceBandwidth: USER
"""


def _shared() -> Path:
    if not SCALESIM.exists():
        pytest.skip("shared SCALE-Sim reference data not found")
    return SCALESIM


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_shared_topology() -> None:
    layers = read_topology(_shared() / "unit_mix.csv")
    assert [n for n, _ in layers] == ["U1", "U2", "U3", "U4", "U5"]
    assert layers[1][1] == SystolicLayer(9, 9, 3, 3, 7, 13, 2, 2)


@pytest.mark.parametrize("name", ["tiny8x8_os", "tiny8x8_ws", "tiny8x8_is", "tiny16x4calc_os"])
def test_read_shared_configs(name: str) -> None:
    cfg = read_config(_shared() / f"{name}.cfg")
    assert cfg.run_name == name
    assert cfg.dataflow == name.rsplit("_", 1)[1]
    if name.startswith("tiny8x8"):
        assert (cfg.array_rows, cfg.array_cols, cfg.ifmap_sram_bytes, cfg.bw_mode) == (8, 8, 1024, "USER")
        assert cfg.bandwidth_words_per_cycle == 2.0
    else:
        assert (cfg.array_rows, cfg.array_cols, cfg.ofmap_sram_kb, cfg.bw_mode) == (16, 4, 32, "CALC")


def test_topology_extra_columns_blank_lines_and_split_stride(tmp_path: Path) -> None:
    text = (
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
        "Stride Height, Stride Width, Sparsity,\n"
        "c1, 16, 12, 3, 3, 4, 8, 2, 1, 2:4,\n\n"
        "c2, 8, 8, 1, 1, 8, 8, 1, 1,\n"
    )
    layers = read_topology(_write(tmp_path, "t.csv", text))
    assert layers[0][1] == SystolicLayer(16, 12, 3, 3, 4, 8, 2, 1)
    assert (layers[0][1].ofmap_h, layers[0][1].ofmap_w) == (8, 10)  # SCALE-Sim rounds up
    assert len(layers) == 2


def test_gemm_topology(tmp_path: Path) -> None:
    layers = read_topology(_write(tmp_path, "g.csv", "Layer, M, N, K,\ng1, 64, 32, 128,\n"))
    (name, layer), = layers
    assert name == "g1"
    assert (layer.ofmap_px, layer.window, layer.num_filters) == (64, 128, 32)
    assert layer.macs == 64 * 32 * 128


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("garbage, header\nc1, 1, 2\n", "header"),
        (HEADER, "no layers"),
        (HEADER + "c1, 8, 8, 3, 3\n", "line 2: expected 8 columns"),
        (HEADER + "c1, 8, x8, 3, 3, 1, 1, 1,\n", "must be an integer"),
        (HEADER + "c1, 8, 8, 3, 3, 0, 1, 1,\n", "must be >= 1"),
        (HEADER + "c1, 2, 2, 3, 3, 1, 1, 1,\n", "larger than ifmap"),
        (HEADER + "c1, 8, 8, 3, 3, 1, 1, 1,\nc1, 8, 8, 3, 3, 1, 1, 1,\n", "duplicate layer name"),
        (HEADER.replace("Strides,", "Strides, Sparsity,") + "c1, 8, 8, 3, 3, 1, 1, 1, half,\n", "N:M"),
        ("Layer, M, N, K,\ng, 4, -1, 3,\n", "must be >= 1"),
    ],
)
def test_malformed_topology(tmp_path: Path, text: str, needle: str) -> None:
    p = _write(tmp_path, "bad.csv", text)
    with pytest.raises(EdgesimError) as exc:
        read_topology(p)
    msg = str(exc.value)
    assert needle in msg
    assert str(p) in msg and "\n" not in msg


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(EdgesimError, match="not found"):
        read_topology(tmp_path / "nope.csv")
    with pytest.raises(EdgesimError, match="not found"):
        read_config(tmp_path / "nope.cfg")


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("Dataflow : ws", "Dataflow : rs", "Dataflow"),
        ("ArrayHeight:    8", "ArrayHeight:    eight", "ArrayHeight"),
        ("ArrayWidth:     4\n", "", "ArrayWidth"),
        ("IfmapSramSzkB:    2", "IfmapSramSzkB:    0", "IfmapSramSzkB"),
        ("Bandwidth : 4", "Bandwidth : -4", "Bandwidth"),
        ("InterfaceBandwidth: USER", "InterfaceBandwidth: AUTO", "InterfaceBandwidth"),
        ("[architecture_presets]", "[arch]", "architecture_presets"),
        ("[general]", "general]", "not a valid SCALE-Sim config"),
    ],
)
def test_malformed_config(tmp_path: Path, old: str, new: str, needle: str) -> None:
    assert old in GOOD_CFG
    p = _write(tmp_path, "bad.cfg", GOOD_CFG.replace(old, new))
    with pytest.raises(EdgesimError) as exc:
        read_config(p)
    msg = str(exc.value)
    assert needle in msg and str(p) in msg and "\n" not in msg


def test_good_config_defaults(tmp_path: Path) -> None:
    cfg = read_config(_write(tmp_path, "ok.cfg", GOOD_CFG))
    assert cfg == ScaleSimConfig("t", 8, 4, "ws", 2, 2, 1, 4.0, "USER")


def test_topology_to_graph_shapes_and_chaining() -> None:
    from edgesim.ir.shape_infer import infer_shapes
    from edgesim.ir.verify import verify_graph

    layers = [("a", SystolicLayer(12, 12, 5, 5, 2, 3, 3, 3)), ("b", SystolicLayer(4, 4, 3, 3, 3, 7)),
              ("c", SystolicLayer(9, 9, 1, 1, 7, 2))]
    g = topology_to_graph(layers, "t")
    assert [n.op for n in g.nodes] == [OpKind.CONV2D] * 3
    # a's 4x4x3 output (SCALE-Sim's ceil rule) feeds b; c does not fit and gets its own input.
    assert g.inputs == ("a_in", "c_in")
    assert set(g.outputs) == {"b_out", "c_out"}
    verify_graph(g)
    inferred = infer_shapes(g)
    assert inferred.tensors["a_out"].shape == (1, 4, 4, 3)
    assert inferred.tensors["b_out"].shape == (1, 2, 2, 7)
    assert g.tensors["b_weights"].shape == (7, 3, 3, 3)


def test_topology_to_graph_rejects_empty() -> None:
    with pytest.raises(EdgesimError):
        topology_to_graph([], "empty")


def test_config_to_profile() -> None:
    cfg = ScaleSimConfig("run 1", 16, 8, "os", 4, 4, 2, 3.0, "USER", word_bytes=2)
    d = config_to_profile_dict(cfg)
    assert d["units"][0]["systolic"] == {"rows": 16, "cols": 8, "dataflow": "os"}
    prof = config_to_profile(cfg)
    unit = prof.units[0]
    assert unit.systolic is not None and (unit.systolic.rows, unit.systolic.cols) == (16, 8)
    assert prof.memory("ifmap_sram").size_bytes == 4096
    # SCALE-Sim's ifmap and filter read ports (3 words/cycle each, 2-byte words) and its ofmap write port.
    assert prof.memory("dram_ifmap").read_bw_bytes_per_cycle == 6.0
    assert prof.memory("dram_filter").read_bw_bytes_per_cycle == 6.0
    assert prof.memory("dram_ifmap").write_bw_bytes_per_cycle == 0.0
    assert prof.memory("dram").write_bw_bytes_per_cycle == 6.0
    assert set(unit.memories) == {"ifmap_sram", "filter_sram", "ofmap_sram", "dram", "dram_ifmap", "dram_filter"}
    # CALC mode: reads sized to demand, the ofmap drained one word per array column and cycle.
    calc = config_to_profile(ScaleSimConfig("run 2", 16, 8, "os", 4, 4, 2, 3.0, "CALC", word_bytes=2))
    assert calc.memory("dram_ifmap").read_bw_bytes_per_cycle >= 1024 * 2
    assert calc.memory("dram").write_bw_bytes_per_cycle == 16.0


def test_systolic_rejects_bad_inputs() -> None:
    layer = SystolicLayer(8, 8, 3, 3, 4, 4)
    with pytest.raises(MappingError):
        compute_cycles(layer, 0, 8, "os")
    with pytest.raises(MappingError):
        compute_cycles(layer, 8, 8, "rs")
    with pytest.raises(MappingError):
        SystolicLayer(8, 8, 9, 3, 4, 4)
    with pytest.raises(MappingError):
        memory_stalls(layer, 8, 8, "os", 1024, 1024, 1024, 1, 0.0)


def test_from_conv_folds_padding() -> None:
    layer = SystolicLayer.from_conv((224, 224), (7, 7), 3, 64, (2, 2), (6, 6))
    assert (layer.ofmap_h, layer.ofmap_w) == (112, 112)
    assert layer.ifmap_h == 229  # the 230th padded row is never touched by a window
    assert SystolicLayer.from_conv((56, 56), (3, 3), 64, 64, (1, 1), (2, 2)).ofmap_px == 56 * 56


def test_single_pe_array_is_mac_bound() -> None:
    layer = SystolicLayer(5, 5, 3, 3, 2, 3)
    c = compute_cycles(layer, 1, 1, "os")
    # One PE: every output pixel and filter is its own fold of T + 1 + 1 - 2 = T cycles.
    assert c.folds == layer.ofmap_px * layer.num_filters
    assert c.compute_cycles == layer.macs - 1
    assert c.mapping_efficiency == 1.0


# --- memory side (edgesim/mapping/systolic_memory.py) ------------------------------------------------------------


def _mem(layer: SystolicLayer, flow: str, sram_kb: int, bw: float = 2.0, mode: str = "USER",
         rows: int = 8, cols: int = 8) -> SystolicMemory:
    return memory_stalls(layer, rows, cols, flow, sram_kb * 1024, sram_kb * 1024, sram_kb * 1024, 1, bw, mode)


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
def test_operands_that_fit_are_fetched_once_and_do_not_stall(flow: str) -> None:
    layer = SystolicLayer(10, 10, 3, 3, 3, 5)
    m = _mem(layer, flow, 64, bw=64.0)
    # Each read buffer fetches its first half-SRAM once (whole bandwidth-wide lines of its padded prefetch
    # matrix) and never moves its window: no re-fetch, and a wide port hides everything.
    assert m.dram_ifmap_reads >= layer.ifmap_elems and m.dram_filter_reads >= layer.filter_elems
    assert m.dram_ifmap_reads < 2 * compute_cycles(layer, 8, 8, flow).sram_ifmap_reads
    assert m.stall_cycles == 0
    assert m.total_cycles == compute_cycles(layer, 8, 8, flow).compute_cycles


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
def test_memory_bound_layer_stalls_and_refetches(flow: str) -> None:
    layer = SystolicLayer(16, 16, 3, 3, 16, 32)
    tight, roomy = _mem(layer, flow, 1, bw=1.0), _mem(layer, flow, 64, bw=1.0)
    assert tight.stall_cycles > 0
    # A 1 KiB scratchpad cannot hold a fold's working set: SCALE-Sim re-reads operands from DRAM.
    assert tight.dram_ifmap_reads + tight.dram_filter_reads > roomy.dram_ifmap_reads + roomy.dram_filter_reads
    wider = _mem(layer, flow, 1, bw=8.0)
    assert wider.stall_cycles < tight.stall_cycles
    assert (wider.dram_ifmap_reads, wider.dram_filter_reads) != (0, 0)


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
@pytest.mark.parametrize("mode", ["USER", "CALC"])
def test_per_fold_traffic_adds_up(flow: str, mode: str) -> None:
    layer = SystolicLayer(12, 12, 3, 3, 6, 20, 2, 2)
    m = _mem(layer, flow, 1, mode=mode)
    folds = compute_cycles(layer, 8, 8, flow).folds
    assert len(m.fold_dram_reads) == len(m.fold_dram_writes) == folds
    assert sum(m.fold_dram_reads) == m.dram_ifmap_reads + m.dram_filter_reads
    assert sum(m.fold_dram_writes) == m.dram_ofmap_writes
    assert min(m.fold_dram_reads) >= 0 and min(m.fold_dram_writes) >= 0
    if mode == "CALC":
        assert m.stall_cycles == 0 and m.dram_ifmap_reads == layer.ifmap_elems


def test_overlapping_windows_hit_resident_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    # im2col repeats an ifmap word in every window covering it and SCALE-Sim's lookup hits any resident copy:
    # here the whole 6x6x16 ifmap fits in the active half, so after the first sweep nothing is re-read (SCALE-Sim
    # v3 reads 8192 words), while a walk that ignores copies re-reads the padded operand matrix every sweep.
    import edgesim.mapping.systolic_memory as sm

    layer = SystolicLayer(6, 6, 3, 3, 16, 30, 1, 1)
    with_copies = memory_stalls(layer, 8, 4, "os", 4096, 2048, 1024, 1, 4.0)
    monkeypatch.setattr(sm, "COPY_LOOKUP_BUDGET", -1)  # no word-level lookups: set-level walk only
    sm.memory_stalls.cache_clear()  # results are cached per layer and config, not per budget
    without = memory_stalls(layer, 8, 4, "os", 4096, 2048, 1024, 1, 4.0)
    sm.memory_stalls.cache_clear()
    assert 4 * with_copies.dram_ifmap_reads < without.dram_ifmap_reads
    assert with_copies.stall_cycles < without.stall_cycles
    assert with_copies.dram_filter_reads == without.dram_filter_reads


def test_write_buffer_back_pressure_stalls_the_array() -> None:
    # A 1x1 conv with many filters writes far more than it reads; a 1-word/cycle port cannot drain it in time.
    layer = SystolicLayer(8, 8, 1, 1, 2, 64)
    m = _mem(layer, "ws", 1, bw=1.0)
    assert m.dram_ofmap_writes > compute_cycles(layer, 8, 8, "ws").compute_cycles
    assert m.stall_cycles > 0


def test_memory_model_is_deterministic() -> None:
    layer = SystolicLayer(14, 14, 3, 3, 11, 9, 2, 2)
    assert _mem(layer, "ws", 2) == _mem(layer, "ws", 2)


def test_memory_rejects_bad_inputs() -> None:
    layer = SystolicLayer(8, 8, 3, 3, 4, 4)
    with pytest.raises(MappingError, match="bw_mode"):
        memory_stalls(layer, 8, 8, "os", 1024, 1024, 1024, 1, 2.0, "AUTO")
    with pytest.raises(MappingError, match="ifmap_sram_bytes"):
        memory_stalls(layer, 8, 8, "os", 0, 1024, 1024, 1, 2.0)


def test_scalesim_profile_cuts_tiles_at_scalesim_prefetches() -> None:
    from edgesim.mapping.mapper import build_schedule

    cfg = ScaleSimConfig("t", 8, 8, "os", 1, 1, 1, 2.0, "USER")
    layers = [("a", SystolicLayer(10, 10, 3, 3, 3, 5)), ("b", SystolicLayer(9, 9, 3, 3, 7, 13, 2, 2))]
    schedule = build_schedule(topology_to_graph(layers, "t"), config_to_profile(cfg))
    for plan, (_, layer) in zip(schedule.plans, layers, strict=True):
        m = memory_stalls(layer, 8, 8, "os", 1024, 1024, 1024, 1, 2.0)
        c = compute_cycles(layer, 8, 8, "os")
        assert m.ifmap_prefetch_lines  # these layers re-fetch: the test would say nothing otherwise
        tiles = [g for g in plan.tiles for _ in range(g.count)]
        assert sum(g.compute_cycles for g in tiles) == pytest.approx(c.compute_cycles)
        moved = [t for g in tiles for t in g.traffic]
        assert {t.memory for t in moved} == {"dram", "dram_ifmap", "dram_filter"}
        assert sum(t.read_bytes for t in moved if t.memory == "dram_ifmap") == m.dram_ifmap_reads
        assert sum(t.read_bytes for t in moved if t.memory == "dram_filter") == m.dram_filter_reads
        assert sum(t.write_bytes for t in moved) == m.dram_ofmap_writes
        # Tile 0 loads the fills; each later prefetch is loaded by the tile starting at the line demanding it.
        starts, line = [], 0.0
        for g in tiles:
            starts.append((round(line), {t.memory: t.read_bytes for t in g.traffic if t.read_bytes}))
            line += g.compute_cycles
        assert starts[0][1] == {"dram_ifmap": m.ifmap_fill_words, "dram_filter": m.filter_fill_words}
        for port, lines, words in (("dram_ifmap", m.ifmap_prefetch_lines, m.ifmap_prefetch_words),
                                   ("dram_filter", m.filter_prefetch_lines, m.filter_prefetch_words)):
            want: dict[int, int] = {}
            for x in lines:
                want[int(x)] = want.get(int(x), 0) + words
            got = {at: r[port] for at, r in starts[1:] if port in r}
            assert got == want, port
        sram = {t.memory: t for t in plan.traffic}["ifmap_sram"]
        assert sram.read_bytes == c.sram_ifmap_reads
    assert plan.loop_order == "os" and plan.timing is TimingDiscipline.SCALESIM


def test_engine_scalesim_semantics_fill_apart_and_late_prefetch_counted_twice() -> None:
    """A hand-timed op on a SCALE-Sim profile (2 words/cycle ports, 1-cycle latency): a 100-word fill lands after
    50 + 1 cycles (prefetch time, not stall); the 200-word prefetch streams right after it and lands at 152; the
    array reaches it at 61, so it stalls 2 x 91 cycles; the 40-word write-back after the last tile drains in
    20 + 1 cycles (prefetch time)."""
    from dataclasses import replace

    from edgesim.mapping.mapper import build_schedule
    from edgesim.mapping.plan import MemTraffic, TileGroup
    from edgesim.sim import simulate_schedule

    profile = config_to_profile(ScaleSimConfig("t", 8, 8, "os", 1, 1, 1, 2.0, "USER"))
    schedule = build_schedule(topology_to_graph([("a", SystolicLayer(10, 10, 3, 3, 3, 5))], "t"), profile)
    tiles = (TileGroup(1, 10.0, (MemTraffic("dram_ifmap", 100, 0),)),
             TileGroup(1, 10.0, (MemTraffic("dram_ifmap", 200, 0), MemTraffic("dram", 0, 40))))
    plan = replace(schedule.plans[0], tiles=tiles, compute_cycles=20.0, overhead_cycles=0.0)
    t = simulate_schedule(replace(schedule, plans=(plan,)), profile).op(plan.node)
    assert t.compute_cycles == pytest.approx(20.0)
    assert t.total_stall_cycles == pytest.approx(182.0)
    assert t.prefetch_cycles == pytest.approx(51.0 + 21.0)
    assert t.end_s * 1e9 == pytest.approx(20.0 + 182.0 + 72.0)
    # The same tiles as a generic plan: one shared timeline, the fill a stall, the shortfall counted once.
    generic = replace(plan, loop_order="rows_outer", timing=TimingDiscipline.DOUBLE_BUFFERED)
    g = simulate_schedule(replace(schedule, plans=(generic,)), profile).op(plan.node)
    assert g.prefetch_cycles == 0.0
    assert g.total_stall_cycles < t.total_stall_cycles


def test_generic_systolic_profile_keeps_generic_tiling() -> None:
    from edgesim.mapping.mapper import build_schedule
    from tests.unit.test_sim_profiles import systolic_profile

    layers = [("a", SystolicLayer(10, 10, 3, 3, 3, 5))]
    schedule = build_schedule(topology_to_graph(layers, "t"), systolic_profile())
    assert not schedule.plans[0].loop_order.startswith("scalesim")
