"""A blocked, packed int8 GEMM (int32 accumulation) for throughput benchmarking of the functional path.

B is packed once into K-pair interleaved int16 panels so the inner loop is a pairwise int16 multiply-add into int32
(the pattern LLVM lowers to pmaddwd/vpdpwssd); rows of A are spread over cores with prange.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_NB = 64  # output columns per panel: 64 int32 accumulators stay in registers/L1
_KB = 256  # reduction depth per block: a packed B panel of 256 x 64 int16 = 32 KiB fits L1/L2


@njit(cache=True)
def pack_b(b: np.ndarray) -> np.ndarray:
    """(K, N) int8 -> (N/_NB, K/2, _NB, 2) int16 panels, zero padded; pairs of k interleaved per column."""
    k_dim, n_dim = b.shape
    kp = (k_dim + 1) // 2
    n_pan = (n_dim + _NB - 1) // _NB
    out = np.zeros((n_pan, kp, _NB, 2), dtype=np.int16)
    for p in range(n_pan):
        for k in range(k_dim):
            for j in range(_NB):
                n = p * _NB + j
                if n < n_dim:
                    out[p, k >> 1, j, k & 1] = b[k, n]
    return out


@njit(cache=True, parallel=True)
def gemm_packed(a: np.ndarray, b_packed: np.ndarray, n_dim: int) -> np.ndarray:
    """C = A @ B with A (M, K) int8 and B packed by ``pack_b``; int32 result (M, N)."""
    m_dim, k_dim = a.shape
    n_pan, kp = b_packed.shape[0], b_packed.shape[1]
    c = np.zeros((m_dim, n_dim), dtype=np.int32)
    for i in prange(m_dim):
        a16 = np.zeros(kp * 2, dtype=np.int16)
        for k in range(k_dim):
            a16[k] = a[i, k]
        acc = np.empty(_NB, dtype=np.int32)
        for p in range(n_pan):
            acc[:] = 0
            for k0 in range(0, kp, _KB // 2):
                k1 = min(k0 + _KB // 2, kp)
                for kk in range(k0, k1):
                    a0 = np.int32(a16[2 * kk])
                    a1 = np.int32(a16[2 * kk + 1])
                    for j in range(_NB):
                        acc[j] += a0 * np.int32(b_packed[p, kk, j, 0]) + a1 * np.int32(b_packed[p, kk, j, 1])
            for j in range(_NB):
                n = p * _NB + j
                if n < n_dim:
                    c[i, n] = acc[j]
    return c


def gemm_s8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int8 (M, K) @ int8 (K, N) -> int32 (M, N), exact."""
    return gemm_packed(np.ascontiguousarray(a, dtype=np.int8), pack_b(np.ascontiguousarray(b, dtype=np.int8)),
                       b.shape[1])
