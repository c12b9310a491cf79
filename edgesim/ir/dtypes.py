"""Element types of IR tensors, with their storage width in bits."""

from __future__ import annotations

from enum import Enum

import numpy as np


class DType(Enum):
    BOOL = ("bool", 8)
    INT2 = ("int2", 2)
    UINT2 = ("uint2", 2)
    INT4 = ("int4", 4)
    UINT4 = ("uint4", 4)
    INT8 = ("int8", 8)
    UINT8 = ("uint8", 8)
    INT16 = ("int16", 16)
    INT32 = ("int32", 32)
    INT64 = ("int64", 64)
    FP16 = ("fp16", 16)
    BF16 = ("bf16", 16)
    FP32 = ("fp32", 32)
    FP64 = ("fp64", 64)
    # Low-bit floats (OCP/ONNX float8 variants, the MX scale type e8m0, float4): values are held in float32 on
    # their type's grid; ``ml_name`` names the ml_dtypes type that defines their exact rounding.
    FP8_E4M3FN = ("fp8e4m3fn", 8)
    FP8_E4M3FNUZ = ("fp8e4m3fnuz", 8)
    FP8_E5M2 = ("fp8e5m2", 8)
    FP8_E5M2FNUZ = ("fp8e5m2fnuz", 8)
    FP8_E8M0 = ("fp8e8m0", 8)
    FP4_E2M1 = ("fp4e2m1", 4)

    def __init__(self, label: str, bits: int) -> None:
        self.label = label
        self.bits = bits

    @property
    def is_float(self) -> bool:
        return self in (DType.FP16, DType.BF16, DType.FP32, DType.FP64) or self.is_low_bit_float

    @property
    def is_low_bit_float(self) -> bool:
        """float8/float4: storage formats whose arithmetic runs in a wider float (no IR op computes in them)."""
        return self in _ML_NAME and self not in (DType.INT2, DType.UINT2, DType.INT4, DType.UINT4)

    @property
    def ml_name(self) -> str | None:
        """The ml_dtypes type with this element type's exact conversion rules (None: numpy has it)."""
        return _ML_NAME.get(self)

    @property
    def is_integer(self) -> bool:
        return not self.is_float and self is not DType.BOOL

    def nbytes(self, num_elements: int) -> int:
        """Storage bytes for ``num_elements`` elements; sub-byte types pack (two int4 per byte)."""
        return (num_elements * self.bits + 7) // 8

    def numpy(self) -> np.dtype:
        """The numpy dtype used to hold values of this type (int4 values are held unpacked in int8)."""
        return np.dtype(_NUMPY[self])

    @classmethod
    def from_label(cls, label: str) -> DType:
        for d in cls:
            if d.label == label:
                return d
        raise ValueError(f"unknown dtype '{label}'")

    @classmethod
    def from_numpy(cls, dt: np.dtype) -> DType:
        dt = np.dtype(dt)
        for d, name in _ML_NAME.items():  # ml_dtypes arrays (what onnx decodes float8/int4 tensors to)
            if dt.name == name:
                return d
        if dt.name == "bfloat16":
            return DType.BF16
        for d, name in _NUMPY.items():
            if np.dtype(name) == dt and d not in _HELD_WIDER:
                return d
        raise ValueError(f"no IR dtype for numpy dtype {dt}")


_NUMPY: dict[DType, str] = {
    DType.BOOL: "bool",
    DType.INT2: "int8",
    DType.UINT2: "uint8",
    DType.INT4: "int8",
    DType.UINT4: "uint8",
    DType.INT8: "int8",
    DType.UINT8: "uint8",
    DType.INT16: "int16",
    DType.INT32: "int32",
    DType.INT64: "int64",
    DType.FP16: "float16",
    DType.BF16: "float32",
    DType.FP32: "float32",
    DType.FP64: "float64",
    DType.FP8_E4M3FN: "float32",
    DType.FP8_E4M3FNUZ: "float32",
    DType.FP8_E5M2: "float32",
    DType.FP8_E5M2FNUZ: "float32",
    DType.FP8_E8M0: "float32",
    DType.FP4_E2M1: "float32",
}
_ML_NAME: dict[DType, str] = {
    DType.INT2: "int2",
    DType.UINT2: "uint2",
    DType.INT4: "int4",
    DType.UINT4: "uint4",
    DType.FP8_E4M3FN: "float8_e4m3fn",
    DType.FP8_E4M3FNUZ: "float8_e4m3fnuz",
    DType.FP8_E5M2: "float8_e5m2",
    DType.FP8_E5M2FNUZ: "float8_e5m2fnuz",
    DType.FP8_E8M0: "float8_e8m0fnu",
    DType.FP4_E2M1: "float4_e2m1fn",
}
# types held in a wider numpy dtype: a numpy array of that dtype does not identify them
_HELD_WIDER = frozenset(_ML_NAME) | {DType.BF16}
