"""Functional execution: bit-exact (vs the TFLite reference kernels) int8/int4 Numba kernels and a graph executor."""

from edgesim.kernels.executor import execute, zero_fractions

__all__ = ["execute", "zero_fractions"]
