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
from edgesim.mapping.systolic import SystolicLayer, compute_cycles, memory_stalls

SCALESIM = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "scalesim"

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
    assert prof.memory("dram").read_bw_bytes_per_cycle == 6.0


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
