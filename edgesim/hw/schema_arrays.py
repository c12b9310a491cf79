"""Geometry of MAC arrays a compute unit may declare: a systolic array (SCALE-Sim style) and a block-stepped array
(Arm Ethos-U, after Vela). Part of the hardware profile schema (``edgesim.hw.schema.ComputeUnit``)."""

from __future__ import annotations

from pydantic import Field

from edgesim.hw.schema_base import Dataflow
from edgesim.hw.schema_base import Frozen as _Frozen


class SystolicSpec(_Frozen):
    rows: int = Field(gt=0)
    cols: int = Field(gt=0)
    dataflow: Dataflow


class MacBlockSpec(_Frozen):
    """How a block-based MAC array (Arm Ethos-U: Vela's architecture_features.py) steps through a layer: it
    computes one output micro-block (rows x cols x channels) per step, so layers are rounded up to whole
    micro-blocks and whole input-channel blocks; depthwise layers, with no input channels to reduce over, cover a
    few kernel positions per step instead."""

    ofm_ublock_hwc: tuple[int, int, int]  # output rows x cols x channels of one micro-block
    ifm_block_depth: int = Field(gt=0)  # input channels one depth-first step reduces over
    ifm_ublock_depth: int = Field(gt=0)  # input channels of one part-kernel-first step (small-C_in layers)
    cycles_per_step: float = Field(gt=0)  # cycles per micro-block per kernel position per input block
    kernel_positions_per_step: int = Field(gt=0)  # kernel positions a depthwise / part-kernel step covers
    # A step lasts at least this long however few micro-blocks the output has (Vela's cycles_wb: loading the
    # weights of one micro-block's output channels); it dominates small maps and fully-connected layers.
    min_cycles_per_step: float = Field(default=0.0, ge=0)
    output_elements_per_cycle: float = Field(gt=0)  # output stage: requantise + activation
