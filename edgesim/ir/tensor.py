"""Typed, frozen tensors of the graph IR."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from edgesim.ir.dtypes import DType


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization ``real = scale * (q - zero_point)``.

    One scale/zero point per tensor (``axis is None``) or one per slice along ``axis`` (per-channel).
    """

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int | None = None

    def __post_init__(self) -> None:
        if len(self.scales) == 0:
            raise ValueError("quantization needs at least one scale")
        if len(self.scales) != len(self.zero_points):
            raise ValueError(
                f"quantization has {len(self.scales)} scales but {len(self.zero_points)} zero points"
            )
        if self.axis is None and len(self.scales) != 1:
            raise ValueError("per-tensor quantization must have exactly one scale")

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    @property
    def scale(self) -> float:
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        return self.zero_points[0]


@dataclass(frozen=True)
class WeightSparsity:
    """Zeros in a constant weight tensor, set by the pruning passes.

    ``nm`` = (n, m) means at most n non-zeros in every group of m consecutive weights along the input dimension
    (2:4 is (2, 4)); hardware with an N:M sparse datapath skips the zeros at a fixed ratio.
    """

    zero_fraction: float
    nm: tuple[int, int] | None = None


@dataclass(frozen=True)
class WeightEncoding:
    """How a constant is stored in memory: ``dense``, ``int4_packed`` (two per byte) or ``huffman``.

    ``stored_bytes`` is what is fetched from memory; ``decode_bits_per_cycle`` is the throughput of the on-chip
    decoder (0 = no decoder needed, the bytes are used as they are).
    """

    kind: str
    stored_bytes: int
    decode_bits_per_cycle: float = 0.0


@dataclass(frozen=True)
class Tensor:
    """A value in the graph. ``data`` holds constant contents (weights, biases, shape operands) or is None."""

    name: str
    shape: tuple[int, ...]
    dtype: DType
    quant: QuantParams | None = None
    data: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)
    sparsity: WeightSparsity | None = None
    encoding: WeightEncoding | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        return int(math.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.dtype.nbytes(self.num_elements)

    @property
    def stored_nbytes(self) -> int:
        """Bytes this tensor occupies in memory after weight compression (``nbytes`` when not encoded)."""
        return self.encoding.stored_bytes if self.encoding is not None else self.nbytes

    def with_shape(self, shape: tuple[int, ...]) -> Tensor:
        return replace(self, shape=tuple(int(s) for s in shape))

    def with_dtype(self, dtype: DType, quant: QuantParams | None = None) -> Tensor:
        return replace(self, dtype=dtype, quant=quant)

    def with_data(self, data: np.ndarray | None) -> Tensor:
        if data is None:
            return replace(self, data=None)
        return replace(self, data=data, shape=tuple(int(s) for s in data.shape))
