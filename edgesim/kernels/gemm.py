"""A blocked, packed int8 GEMM (int32 accumulation) for throughput benchmarking of the functional path.

B is packed once into K-pair interleaved int16 panels of 64 columns, A into int16 k pairs; the inner loop is a
pairwise int16 product sum into 64 int32 accumulators (LLVM vectorises it with vpmulld; it does not find
vpmaddwd/vpdpwssd, which is why onnxruntime's VNNI kernels stay far ahead); rows of A go to cores with prange.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_NB = 64  # output columns per panel: 64 int32 accumulators stay in registers/L1
_KB = 256  # reduction depth per block: a packed B block of 256 x 64 int16 = 32 KiB stays in L1/L2


@njit(cache=True)
def pack_b(b: np.ndarray) -> np.ndarray:
    """(K, N) int8 -> (N/_NB, K/2, 2*_NB) int16 panels, zero padded; each column's k pair is adjacent."""
    k_dim, n_dim = b.shape
    kp = (k_dim + 1) // 2
    n_pan = (n_dim + _NB - 1) // _NB
    out = np.zeros((n_pan, kp, 2 * _NB), dtype=np.int16)
    for p in range(n_pan):
        for k in range(k_dim):
            for j in range(_NB):
                n = p * _NB + j
                if n < n_dim:
                    out[p, k >> 1, 2 * j + (k & 1)] = b[k, n]
    return out


@njit(cache=True)
def pack_a(a: np.ndarray) -> np.ndarray:
    """(M, K) int8 -> (M, K/2, 2) int16, zero padded to even K."""
    m_dim, k_dim = a.shape
    out = np.zeros((m_dim, (k_dim + 1) // 2, 2), dtype=np.int16)
    for i in range(m_dim):
        for k in range(k_dim):
            out[i, k >> 1, k & 1] = a[i, k]
    return out


@njit(cache=True, parallel=True)
def gemm_packed(a_packed: np.ndarray, b_packed: np.ndarray, n_dim: int) -> np.ndarray:
    """C = A @ B from ``pack_a``/``pack_b`` operands; int32 result (M, N). Rows of A go to cores via prange."""
    m_dim, kp = a_packed.shape[0], a_packed.shape[1]
    n_pan = b_packed.shape[0]
    c = np.zeros((m_dim, n_pan * _NB), dtype=np.int32)
    for i in prange(m_dim):
        acc = np.zeros(_NB, dtype=np.int32)
        for p in range(n_pan):
            acc[:] = 0
            for k0 in range(0, kp, _KB // 2):
                for kk in range(k0, min(k0 + _KB // 2, kp)):
                    bk = b_packed[p, kk]
                    a0 = np.int32(a_packed[i, kk, 0])
                    a1 = np.int32(a_packed[i, kk, 1])
                    # unit-stride over bk: LLVM vectorises this into 16-lane int32 multiply-adds
                    for j in range(_NB):
                        acc[j] += a0 * np.int32(bk[2 * j]) + a1 * np.int32(bk[2 * j + 1])
            c[i, p * _NB:(p + 1) * _NB] = acc
    return c[:, :n_dim]


def gemm_s8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int8 (M, K) @ int8 (K, N) -> int32 (M, N), exact."""
    a_p = pack_a(np.ascontiguousarray(a, dtype=np.int8))
    return np.ascontiguousarray(gemm_packed(a_p, pack_b(np.ascontiguousarray(b, dtype=np.int8)), b.shape[1]))
