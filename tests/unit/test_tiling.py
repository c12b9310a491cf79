"""Tiling pass: working sets fit, re-reads are counted, impossible tilings fail with a clear error."""

from __future__ import annotations

import pytest

from edgesim.api import load_model
from edgesim.errors import MappingError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import OpPlan, Schedule
from edgesim.zoo.builder import GraphBuilder
from tests.conftest import DATA
from tests.unit.test_sim_profiles import NPU_OPS, make_profile, npu_profile, systolic_profile

F32 = 4


def conv_graph(cin: int, cout: int, hw: tuple[int, int], k: int = 3) -> Graph:
    b = GraphBuilder("conv")
    x = b.input("x", (1, cin, hw[0], hw[1]))
    return b.build([b.conv(x, cout, k)])


def _check_consistent(schedule: Schedule, profile: object) -> int:
    tiled = 0
    for p in schedule.plans:
        if p.unit == "-":
            continue
        assert sum(g.count for g in p.tiles) >= 1
        assert sum(g.count * g.compute_cycles for g in p.tiles) == pytest.approx(p.compute_cycles, rel=1e-9)
        for t in p.traffic:
            rd = sum(g.count * x.read_bytes for g in p.tiles for x in g.traffic if x.memory == t.memory)
            wr = sum(g.count * x.write_bytes for g in p.tiles for x in g.traffic if x.memory == t.memory)
            assert (rd, wr) == (t.read_bytes, t.write_bytes), p.node
        if p.local_memory:
            tiled += 1
            size = profile.memory(p.local_memory).size_bytes  # type: ignore[attr-defined]
            for g in p.tiles:
                assert 0 < g.working_set_bytes <= size, (p.node, g.working_set_bytes, size)
    return tiled


@pytest.mark.parametrize("model,kind,local_bytes", [("mobilenet_v2", "npu", 256 * 1024),
                                                    ("resnet18", "systolic", 512 * 1024),
                                                    ("resnet8", "npu", 48 * 1024)])
def test_every_tile_fits_and_tiles_sum_to_the_op(model: str, kind: str, local_bytes: int) -> None:
    profile = npu_profile(sram_bytes=local_bytes) if kind == "npu" else systolic_profile(spad_bytes=local_bytes)
    schedule = build_schedule(load_model(model), profile)
    assert _check_consistent(schedule, profile) > 10
    # Big layers really are split into several tiles.
    assert max(sum(g.count for g in p.tiles) for p in schedule.plans) > 4


def _only(schedule: Schedule) -> OpPlan:
    (plan,) = [p for p in schedule.plans if p.unit != "-"]
    return plan


def _bytes(plan: OpPlan, memory: str) -> tuple[int, int]:
    for t in plan.traffic:
        if t.memory == memory:
            return t.read_bytes, t.write_bytes
    return 0, 0


def test_no_rereads_when_everything_fits() -> None:
    g = conv_graph(16, 32, (8, 8))
    plan = _only(build_schedule(g, npu_profile(sram_bytes=4 * 2**20)))
    assert 1 <= sum(t.count for t in plan.tiles) <= 8  # cut only to keep the DMA pipeline busy
    w = 32 * 16 * 9 * F32
    assert _bytes(plan, "flash") == (w, 0)
    assert _bytes(plan, "sram") == (16 * 64 * F32, 32 * 64 * F32)


def test_rereads_counted_when_weights_do_not_fit() -> None:
    # Neither the weights (576 KiB) nor the input (1 MiB) fit the 256 KiB SRAM: one of them must be re-read.
    cin, cout, h = 64, 256, 64
    g = conv_graph(cin, cout, (h, h))
    w = cout * cin * 9 * F32
    x = cin * h * h * F32
    y = cout * h * h * F32
    plan = _only(build_schedule(g, npu_profile(sram_bytes=256 * 1024)))
    flash_rd, _ = _bytes(plan, "flash")
    sram_rd, sram_wr = _bytes(plan, "sram")
    th, tc, tk = plan.tile_shape
    n_rows, n_ch, n_k = -(-h // th), -(-cout // tc), -(-cin // tk)
    assert sum(t.count for t in plan.tiles) == n_rows * n_ch * n_k > 1
    assert sram_wr == y  # every output is written exactly once
    if plan.loop_order == "rows_outer":
        # Weights come back from flash once per row tile.
        assert n_rows > 1 and flash_rd == w * n_rows
        assert sram_rd >= x
    else:
        assert plan.loop_order == "channels_outer"
        # Weight slices stay resident; the input is read again for every output-channel tile.
        assert flash_rd == w
        assert n_ch > 1 and sram_rd >= x * n_ch
    assert flash_rd + sram_rd > w + x
    # With room for everything the same layer reads each byte once.
    big = _only(build_schedule(g, npu_profile(sram_bytes=16 * 2**20)))
    assert _bytes(big, "flash") == (w, 0) and _bytes(big, "sram") == (x, y)


def test_cpu_with_data_in_sram_is_one_tile_but_streams_flash_weights() -> None:
    cpu = {"name": "cpu", "kind": "cpu", "description": "m4", "count": 1, "macs_per_cycle": {"fp32": 1.0},
           "elementwise_ops_per_cycle": {"fp32": 1.0}, "supported_ops": "all", "memories": ["sram", "flash"]}
    mems = [
        {"name": "sram", "kind": "sram", "size_bytes": 64 * 1024, "read_bw_bytes_per_cycle": 4.0,
         "write_bw_bytes_per_cycle": 4.0, "latency_cycles": 1.0, "read_energy_pj_per_byte": 1.0,
         "write_energy_pj_per_byte": 1.0},
        {"name": "flash", "kind": "flash", "size_bytes": 2**21, "read_bw_bytes_per_cycle": 2.0,
         "write_bw_bytes_per_cycle": 0.0, "latency_cycles": 5.0, "read_energy_pj_per_byte": 1.0,
         "write_energy_pj_per_byte": 0.0},
    ]
    profile = make_profile([cpu], mems, "flash", "sram")
    g = conv_graph(64, 256, (16, 16))  # weights far larger than the SRAM: they stay in flash
    plan = _only(build_schedule(g, profile))
    assert plan.local_memory == "" and [t.count for t in plan.tiles] == [1]
    assert _bytes(plan, "flash") == (256 * 64 * 9 * F32, 0)


def test_impossible_tiling_names_op_and_sizes() -> None:
    g = conv_graph(8, 8, (4, 4096))  # one output row needs 3 input rows of 4096 x 8 floats
    with pytest.raises(MappingError) as err:
        build_schedule(g, npu_profile(sram_bytes=16 * 1024))
    msg = str(err.value)
    assert "conv_0" in msg and "16384" in msg and "bytes" in msg
    needed = int(msg.split("needs ")[1].split()[0])
    assert needed > 16 * 1024


def test_a_row_too_wide_for_sram_is_split_across_channels_when_the_op_allows_it() -> None:
    b = GraphBuilder("wide")
    x = b.input("x", (1, 1, 1, 65536))  # one row is 256 KiB of floats in and as much out
    g = b.build([b.act(x, "relu")])
    profile = npu_profile(sram_bytes=64 * 1024)
    sched = build_schedule(g, profile)  # elementwise: any split of the row is exact
    plan = next(p for p in sched.plans if p.unit != "-")
    assert plan.loop_order == "rows-channels" and sum(t.count for t in plan.tiles) > 1
    assert _check_consistent(sched, profile) == 1


def test_impossible_row_tiling_of_a_cross_channel_window() -> None:
    b = GraphBuilder("wide")
    x = b.input("x", (1, 1, 1, 65536))  # LRN's channel window is not split: it needs its whole 256 KiB row
    g = b.build([b.one(OpKind.LRN, [x], A.LRNAttrs(size=5))])
    with pytest.raises(MappingError, match=r"one row needs \d+ bytes but 'sram' holds 65536"):
        build_schedule(g, npu_profile(sram_bytes=64 * 1024, npu_ops=[*NPU_OPS, "LRN"]))


def test_global_pool_wider_than_a_tiny_scratchpad_maps_by_channels() -> None:
    # DS-CNN's 25x5x64 average pool on SCALE-Sim's 8x8 array with 1 KiB scratchpads used to be refused.

    shared = DATA
    model, cfg = shared / "models" / "kws_ref_model.tflite", shared / "reference" / "scalesim" / "tiny8x8_ws.cfg"
    if not model.is_file() or not cfg.is_file():
        pytest.skip("bundled data (edgesim/data) not present")
    from edgesim.frontends.scalesim import config_to_profile, read_config

    profile = config_to_profile(read_config(cfg))
    sched = build_schedule(load_model(str(model)), profile)
    pool = next(p for p in sched.plans if p.op == "AVG_POOL2D")
    assert pool.loop_order == "rows-channels" and sum(g.count for g in pool.tiles) > 1
    size = profile.memory(pool.local_memory).size_bytes
    assert all(0 < g.working_set_bytes <= size for g in pool.tiles)
    for t in pool.traffic:
        assert sum(g.count * x.read_bytes for g in pool.tiles for x in g.traffic if x.memory == t.memory) == t.read_bytes


def test_a_slice_reads_only_what_it_keeps_and_vit_base_maps_on_a_256k_npu_sram() -> None:
    """A SLICE counted its whole input as read, and the tiler wanted all of it staged for the one output row: ViT-B's
    class token (1 of 197 rows of 768) needed 304 KB on RK3566's 256 KiB NPU SRAM and the network was refused on
    every such NPU (found by benchmarks/fuzz_npu_matrix.py)."""
    from edgesim.ir.work import node_work
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, run

    g = load_model("vit_base")
    sliced = [n for n in g.nodes if n.op is OpKind.SLICE]
    assert sliced
    for node in sliced:
        w = node_work(g, node)
        assert w.input_bytes == w.output_bytes < g.tensors[node.inputs[0]].nbytes
    opts = TransformOptions(quant=QuantPreset("int8"), calibration="fixed", accuracy=False)
    assert run(RunSpec("vit_base", "rk3566", "rknn", transform=opts)).latency_s > 0


def test_a_tiling_refusal_through_the_driver_names_the_device() -> None:
    """The tiler's 'cannot tile' named the node and the memory only; through run (compare, a sweep over boards) the
    one-line refusal now says which device (and runtime) it was asked of."""
    from edgesim.pipeline import RunSpec, run

    b = GraphBuilder("wide")
    x = b.input("x", (1, 1, 1, 65536))
    g = b.build([b.one(OpKind.LRN, [x], A.LRNAttrs(size=5))])
    profile = npu_profile(sram_bytes=64 * 1024, npu_ops=[*NPU_OPS, "LRN"])
    with pytest.raises(MappingError, match=rf"^node '\w+': device {profile.id}: cannot tile LRN: one row needs"):
        run(RunSpec(g, profile))
