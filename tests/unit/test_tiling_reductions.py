"""Reductions too wide for the local memory: split by the axes they keep, or along the reduced extent when the op
carries a partial result (mapping.reduction_split). Found by benchmarks/fuzz_npu_matrix.py: efficientdet_d0's
squeeze-excite MEAN over a 256x256 plane was refused on every 256 KiB NPU SRAM / CPU L2 at 16 and 32 bits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgesim.errors import MappingError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import OpPlan
from edgesim.mapping.reduction_split import ExtentSplit, reduction_split
from edgesim.zoo.builder import GraphBuilder
from tests.unit.test_sim_profiles import NPU_OPS, npu_profile
from tests.unit.test_tiling import _bytes, _check_consistent

F32 = 4
SRAM = 64 * 1024


def _one_op(shape: tuple[int, ...], op: OpKind, attrs: object, consts: tuple[np.ndarray, ...] = ()) -> Graph:
    b = GraphBuilder("reduce")
    x = b.input("x", shape)
    ins = [x, *(b.const(f"c{i}", c) for i, c in enumerate(consts))]
    return b.build([b.one(op, ins, attrs)])


def _plan(g: Graph, extra_ops: tuple[str, ...] = ()) -> OpPlan:
    profile = npu_profile(sram_bytes=SRAM, npu_ops=[*NPU_OPS, *extra_ops])
    sched = build_schedule(g, profile)
    assert _check_consistent(sched, profile) == 1  # every tile fits, the tiles add up to the op
    (plan,) = [p for p in sched.plans if p.unit != "-"]
    assert plan.unit == "npu"
    return plan


def test_groups_and_extent_follow_the_axes() -> None:
    def split(shape: tuple[int, ...], op: OpKind, attrs: object) -> tuple[int, int, ExtentSplit]:
        g = _one_op(shape, op, attrs)
        r = reduction_split(g, g.nodes[0])
        assert r is not None
        return r.groups, r.extent_elements, r.extent_split

    one, two = ExtentSplit.PARTIALS, ExtentSplit.STATISTICS_THEN_APPLY
    assert split((1, 32, 16, 8), OpKind.MEAN, A.ReduceAttrs((2, 3))) == (32, 128, one)  # NCHW global pool
    assert split((1, 16, 8, 32), OpKind.MEAN, A.ReduceAttrs((1, 2))) == (32, 128, one)  # NHWC global pool
    assert split((1, 16, 8, 32), OpKind.REDUCE_MAX, A.ReduceAttrs((3,))) == (128, 32, one)  # over the channels
    assert split((4, 1000), OpKind.SOFTMAX, A.SoftmaxAttrs(-1)) == (4, 1000, two)
    assert split((1, 21, 8, 8), OpKind.SOFTMAX, A.SoftmaxAttrs(1)) == (64, 21, two)  # per pixel over classes
    assert split((1, 197, 768), OpKind.LAYER_NORM, A.LayerNormAttrs(-1)) == (197, 768, two)
    assert split((1, 32, 8, 8), OpKind.GROUP_NORM, A.GroupNormAttrs(8)) == (8, 256, two)
    assert split((2, 10, 5), OpKind.ARG_REDUCE, A.ArgReduceAttrs(1)) == (10, 10, one)  # running value and index
    assert split((2, 10, 5), OpKind.CUMSUM, A.CumSumAttrs(-1)) == (20, 5, one)  # a running carry
    assert reduction_split(*(lambda g: (g, g.nodes[0]))(_one_op((1, 8, 4, 4), OpKind.LRN, A.LRNAttrs(3)))) is None


def test_a_mean_over_a_plane_wider_than_the_sram_is_chunked_along_the_plane() -> None:
    # NCHW mean over (H, W): the tiler's row is one channel's 256x128 plane (128 KiB), twice the SRAM. The sums
    # carry from chunk to chunk (Vela splits a mean over > 4096 elements the same way): the input is read once.
    g = _one_op((1, 4, 256, 128), OpKind.MEAN, A.ReduceAttrs((2, 3)))
    plan = _plan(g)
    assert plan.loop_order == "extent-chunks" and 0 < plan.tile_shape[2] < 256 * 128
    assert _bytes(plan, "sram") == (4 * 256 * 128 * F32, 4 * F32)


def test_a_mean_that_keeps_the_channel_axis_is_split_by_channel() -> None:
    # NHWC mean over (H, W): one 'row' is the whole 512 KiB tensor, but each of the 32 channels (16 KiB) is an
    # independent group: tiles of whole channels, no chunking.
    g = _one_op((1, 64, 64, 32), OpKind.MEAN, A.ReduceAttrs((1, 2)))
    plan = _plan(g)
    assert plan.loop_order == "groups" and sum(t.count for t in plan.tiles) > 1
    assert _bytes(plan, "sram") == (64 * 64 * 32 * F32, 32 * F32)


def test_a_reduction_over_the_channel_axis_is_not_split_by_channel() -> None:
    # REDUCE_MAX over the last (channel) axis of 32768 values: a group is a whole channel vector (128 KiB), which
    # no tile of the 64 KiB SRAM may cut by channel; it is chunked along the channels with a running max instead.
    g = _one_op((1, 2, 2, 32768), OpKind.REDUCE_MAX, A.ReduceAttrs((3,)))
    plan = _plan(g, ("REDUCE_MAX",))
    assert plan.loop_order == "extent-chunks"
    assert sum(t.count for t in plan.tiles) == 4 * math.ceil(32768 / plan.tile_shape[2])


def test_a_softmax_row_wider_than_the_sram_costs_a_second_read_of_its_input() -> None:
    # A 32000-class softmax row (125 KiB in, as much out): online max and sum in one pass, then the normalising
    # pass reads the row again.
    g = _one_op((2, 32000), OpKind.SOFTMAX, A.SoftmaxAttrs(-1))
    plan = _plan(g, ("SOFTMAX",))
    assert plan.loop_order == "extent-chunks"
    assert _bytes(plan, "sram") == (2 * 2 * 32000 * F32, 2 * 32000 * F32)


def test_a_channel_softmax_that_does_not_fit_by_rows_fits_by_pixels() -> None:
    # A softmax over the 21 classes of a 1x21x8x8192 map: the tiler's rows (class, row) are not independent, the
    # pixels are; 21 values per pixel fit in any tile, read once.
    g = _one_op((1, 21, 8, 8192), OpKind.SOFTMAX, A.SoftmaxAttrs(1))
    plan = _plan(g, ("SOFTMAX",))
    assert plan.loop_order == "groups"
    assert _bytes(plan, "sram") == (21 * 8 * 8192 * F32, 21 * 8 * 8192 * F32)


def test_a_layer_norm_wider_than_the_sram_streams_its_scale_with_the_chunks() -> None:
    # 16384-wide LayerNorm: the row (64 KiB in, 64 out) and its scale and bias (128 KiB) cannot stay on a 64 KiB
    # SRAM. Welford statistics, then a normalising pass; scale and bias arrive with that pass, once per row.
    width, rows = 16384, 3
    scale = np.ones(width, np.float32)
    g = _one_op((1, rows, width), OpKind.LAYER_NORM, A.LayerNormAttrs(-1), (scale, scale))
    plan = _plan(g, ("LAYER_NORM",))
    assert plan.loop_order == "extent-chunks"
    assert _bytes(plan, "sram") == (2 * rows * width * F32, rows * width * F32)
    assert _bytes(plan, "flash") == (rows * 2 * width * F32, 0)


def test_a_reduction_whose_single_element_does_not_fit_is_still_refused() -> None:
    g = _one_op((1, 1, 1, 4096), OpKind.SOFTMAX, A.SoftmaxAttrs(-1))
    profile = npu_profile(sram_bytes=16, npu_ops=[*NPU_OPS, "SOFTMAX"])
    with pytest.raises(MappingError, match=r"cannot tile SOFTMAX: one element of its reduced extent needs"):
        build_schedule(g, profile)


def test_efficientdet_d0_maps_on_a_256k_npu_sram_at_int16() -> None:
    """The end-to-end question benchmarks/fuzz_npu_matrix.py recorded as refused: gap_0 (a mean over 32 planes of
    256x256 int16) is now chunked along the plane, read once."""
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, run

    opts = TransformOptions(quant=QuantPreset("int16"), calibration="fixed", accuracy=False)
    result = run(RunSpec("efficientdet_d0", "rk3566", "rknn", transform=opts))
    assert result.latency_s > 0
    gap = next(p for p in result.schedule.plans if p.node == "gap_0")
    assert gap.loop_order == "extent-chunks"
    assert sum(t.read_bytes for t in gap.traffic) == 32 * 256 * 256 * 2


def test_a_copy_too_long_for_the_local_memory_is_cut_along_its_last_axis() -> None:
    # EfficientDet's score transpose (1, 49104, 90) -> (1, 90, 49104) was refused on a 256 KiB NPU SRAM at int16
    # once the zoo graph carried its DetectionOutput: each output element is one input element, so the row splits
    g = _one_op((1, 16384, 8), OpKind.TRANSPOSE, A.TransposeAttrs(perm=(0, 2, 1)))
    plan = _plan(g, ("TRANSPOSE",))
    assert plan.loop_order == "rows-channels" and sum(g.count for g in plan.tiles) > 8  # 8 rows of 128 KiB, cut
    assert sum(t.read_bytes for t in plan.traffic) == 16384 * 8 * F32  # still read once


# What the tiler cut by a hand list in mapping.tiling before the op table carried it (OpInfo.is_element_copy).
_ELEMENT_COPIES = {OpKind.TRANSPOSE, OpKind.CONCAT, OpKind.SPLIT, OpKind.SLICE, OpKind.PAD, OpKind.EXPAND,
                   OpKind.TRILU, OpKind.RESHAPE, OpKind.IDENTITY}


def test_the_op_table_marks_exactly_the_copies_the_tiler_cuts() -> None:
    assert {k for k in OpKind if k.info.is_element_copy} == _ELEMENT_COPIES
    assert not any(k.info.is_element_copy for k in (OpKind.GATHER, OpKind.GATHER_ND, OpKind.RESIZE, OpKind.CAST))


def test_the_tiler_cuts_a_copy_by_the_op_table_not_by_a_list_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pad too long for the local memory is cut like the transpose; the same transpose with the table's mark
    taken away is refused: the tiler reads OpInfo.is_element_copy."""
    pad = _one_op((1, 8, 16384), OpKind.PAD, A.PadAttrs(pads=((0, 0), (0, 0), (0, 4))))
    assert _plan(pad, ("PAD",)).loop_order == "rows-channels"
    from dataclasses import replace

    monkeypatch.setattr(OpKind.TRANSPOSE, "_info", replace(OpKind.TRANSPOSE.info, is_element_copy=False))
    g = _one_op((1, 12288, 8), OpKind.TRANSPOSE, A.TransposeAttrs(perm=(0, 2, 1)))
    with pytest.raises(MappingError, match="cannot tile TRANSPOSE: one row needs"):
        build_schedule(g, npu_profile(sram_bytes=SRAM, npu_ops=[*NPU_OPS, "TRANSPOSE"]))
