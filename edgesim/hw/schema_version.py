"""A runtime profile's releases (edgesim.hw.schema.RuntimeProfile.versions): how much faster or slower each
release's kernels run than the profile's efficiency tables, per op kind and, for a vendor's accelerator programs,
per unit kind."""

from __future__ import annotations

import math

from pydantic import Field, field_validator

from edgesim.hw.schema_base import Frozen as _Frozen
from edgesim.hw.schema_base import UnitKind
from edgesim.ir.ops import OpKind

# Kernel variants an engine runs with different code: a 1x1 convolution is a plain matrix multiply (no im2col
# gather), the fast path of CMSIS-NN-style engines. Looked up before the op kind itself.
POINTWISE_CONV = "CONV2D_1X1"
# YOLO v3's RegionYolo output layer (UNARY_MATH region_yolo): OpenVINO runs it with a kernel of its own.
REGION_YOLO = "REGION_YOLO"
KERNEL_KEYS = frozenset(k.value for k in OpKind) | {POINTWISE_CONV, REGION_YOLO}


class RuntimeVersion(_Frozen):
    version: str = Field(min_length=1)
    efficiency_scale: float = Field(gt=0)
    overhead_scale: float = Field(gt=0)
    note: str | None = None
    # Releases speed op types up unequally (X-CUBE-AI 8.1 rewrote depthwise, 9.0 conv): per-op-kind multipliers
    # on top of efficiency_scale; kinds not listed use 1.0.
    op_efficiency_scale: dict[str, float] = Field(default_factory=dict)
    # Per-op multipliers of the release on one unit kind only, on top of the above: a vendor's accelerator
    # programs change between SDK releases independently of the CPU kernels (Silicon Labs' MVP conv program runs
    # one MVP instruction per complex MAC from Gecko SDK 4.1 with SL_MVP_OPTIMIZE_SPEED, two before).
    unit_op_efficiency_scale: dict[UnitKind, dict[str, float]] = Field(default_factory=dict)
    # Hardware profile ids (fnmatch patterns) a vendor's build of the runtime ships for (the Gecko SDK's TFLM:
    # Silicon Labs parts); empty = any chip the runtime targets. edgesim.hw.targeting.runtime_fit_problem.
    chips: list[str] = Field(default_factory=list)
    # The release's SPLIT returns views of its input instead of copies when every dim before the split axis is 1
    # (nncase 2.11's stackvm split, commit cf28c4f; earlier releases copy each output through their slice kernel):
    # edgesim.mapping.mapper.runs_as_view.
    in_place_split: bool = False

    @field_validator("op_efficiency_scale")
    @classmethod
    def _op_scales(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_op_scales(v)

    @field_validator("unit_op_efficiency_scale")
    @classmethod
    def _unit_op_scales(cls, v: dict[UnitKind, dict[str, float]]) -> dict[UnitKind, dict[str, float]]:
        for table in v.values():
            _check_op_scales(table)
        return v

    def scale_for(self, op_name: str) -> float:
        """Efficiency multiplier of this release for one op kind."""
        scales = self.op_efficiency_scale
        if op_name == POINTWISE_CONV and op_name not in scales:
            op_name = OpKind.CONV2D.value
        return self.efficiency_scale * scales.get(op_name, 1.0)

    def unit_scale_for(self, op_name: str, unit_kind: UnitKind | str | None) -> float:
        """This release's extra multiplier for one op kind on a unit of ``unit_kind`` (1.0 if not listed;
        CONV2D_1X1 falls back to CONV2D)."""
        if unit_kind is None or UnitKind(unit_kind) not in self.unit_op_efficiency_scale:
            return 1.0
        scales = self.unit_op_efficiency_scale[UnitKind(unit_kind)]
        if op_name == POINTWISE_CONV and op_name not in scales:
            op_name = OpKind.CONV2D.value
        return scales.get(op_name, 1.0)


def _check_op_scales(v: dict[str, float]) -> dict[str, float]:
    for k, scale in v.items():
        if k not in KERNEL_KEYS:
            raise ValueError(f"'{k}' is not an op kind; known: {sorted(KERNEL_KEYS)}")
        if not 0 < scale < math.inf:
            raise ValueError(f"'{k}' scale must be positive, got {scale}")
    return v
