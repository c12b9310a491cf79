"""Element types of IR tensors, with their storage width in bits."""

from __future__ import annotations

from enum import Enum

import numpy as np


class DType(Enum):
    BOOL = ("bool", 8)
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

    def __init__(self, label: str, bits: int) -> None:
        self.label = label
        self.bits = bits

    @property
    def is_float(self) -> bool:
        return self in (DType.FP16, DType.BF16, DType.FP32, DType.FP64)

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
        for d, name in _NUMPY.items():
            if np.dtype(name) == dt and d not in (DType.INT4, DType.UINT4, DType.BF16):
                return d
        raise ValueError(f"no IR dtype for numpy dtype {dt}")


_NUMPY: dict[DType, str] = {
    DType.BOOL: "bool",
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
}
