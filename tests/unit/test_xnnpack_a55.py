"""XNNPACK's int8 kernels on an in-order dot-product core (Cortex-A55) against the A53 the tflite-xnnpack
efficiencies were checked on: SDOT speeds up its GEMMs, not its depthwise convolutions (no dot-product dwconv in
XNNPACK: src/configs/dwconv-config.c picks the mla8 SMULL/SMLAL kernels on every Armv8 core)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgesim.hw.schema import Precision
from edgesim.ir.ops import OpKind
from edgesim.ir.work import node_work
from edgesim.mapping.compute import compute_cycles, parallel_cores
from edgesim.pipeline import run
from edgesim.validate.core import reference_spec


def _cycles_per_core(hw: str, op: OpKind) -> float:
    """Cycles x cores' worth of speed (thread scaling included) of the first ``op`` node of int8 MobileNetV2 on
    ``hw``'s CPU under XNNPACK: one core's work, so chips with different core counts compare."""
    res = run(replace(reference_spec("mobilenet_v2", "int8"), hw=hw, runtime="tflite-xnnpack@2.16.1"))
    unit = res.profile.unit("cpu")
    node = next(n for n in res.graph.nodes if n.op is op)
    cycles = compute_cycles(unit, res.graph, node, node_work(res.graph, node), res.runtime, res.version)
    return cycles * parallel_cores(unit, res.runtime)


def test_xnnpack_depthwise_runs_at_the_widening_rate() -> None:
    from edgesim.hw.loader import load_runtime

    rt, _ = load_runtime("tflite-xnnpack@2.16.1", note_missing_version=False)
    assert rt.widened_ops.get(OpKind.DEPTHWISE_CONV2D.value) is Precision.INT16


def test_a55_depthwise_is_no_faster_per_cycle_than_the_a53() -> None:
    """Both cores issue the same mla8 dwconv kernel on a 64-bit NEON datapath (int16 rate 4 on both profiles):
    equal per-core cycles. The SDOT int8 rate (16 against 4) applies to the pointwise GEMMs only."""
    a55 = _cycles_per_core("imx93", OpKind.DEPTHWISE_CONV2D)
    a53 = _cycles_per_core("imx8mp", OpKind.DEPTHWISE_CONV2D)
    assert a55 == pytest.approx(a53, rel=0.01)
    gemm_a55 = _cycles_per_core("imx93", OpKind.CONV2D)
    gemm_a53 = _cycles_per_core("imx8mp", OpKind.CONV2D)
    assert gemm_a53 / gemm_a55 > 2.0
