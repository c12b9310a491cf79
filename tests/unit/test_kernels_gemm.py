"""The packed int8 GEMM and im2col conv are exact: equal to int64 NumPy on random and extreme problems."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core.caching import NullCache
from numba.core.registry import CPUDispatcher

from edgesim.errors import ShapeError
from edgesim.kernels import gemm, mac, reference
from edgesim.kernels.requant import quantize_multipliers


def _values(rng: np.random.Generator, shape: tuple[int, ...], mode: str) -> np.ndarray:
    if mode == "min":
        return np.full(shape, -128, dtype=np.int8)
    if mode == "max":
        return np.full(shape, 127, dtype=np.int8)
    if mode == "extremes":
        return rng.choice(np.array([-128, 127], dtype=np.int8), size=shape)
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


_MODES = st.sampled_from(["random", "random", "extremes", "min", "max"])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 37), st.integers(1, 130), st.integers(1, 75), _MODES, _MODES)
def test_gemm_equals_int64_matmul(seed: int, m: int, k: int, n: int, mode_a: str, mode_b: str) -> None:
    # sizes straddle MR = 8, NR = 32 and the k quad of 4, including 1x1x1 and odd K
    rng = np.random.default_rng(seed)
    a, b = _values(rng, (m, k), mode_a), _values(rng, (k, n), mode_b)
    got = gemm.gemm_s8(a, b)
    assert got.dtype == np.int32 and got.shape == (m, n)
    np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


@pytest.mark.parametrize("a_val,b_val", [(-128, -128), (-128, 127), (127, -128), (127, 127)])
def test_gemm_deep_reduction_of_extremes_is_exact(a_val: int, b_val: int) -> None:
    # K = 65536: 128 * 128 * K = 2^30 still fits int32, but the (a + 128) * b partial sums wrap on the way
    k = 65536
    a = np.full((3, k), a_val, dtype=np.int8)
    b = np.full((k, 2), b_val, dtype=np.int8)
    np.testing.assert_array_equal(gemm.gemm_s8(a, b), np.full((3, 2), a_val * b_val * k, dtype=np.int64))


def test_gemm_offsets_and_column_terms() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, size=(19, 45), dtype=np.int8)
    b = rng.integers(-128, 128, size=(45, 33), dtype=np.int8)
    col = rng.integers(-10**6, 10**6, size=33).astype(np.int32)
    got = gemm.gemm_acc(a, gemm.pack_b(b), a_offset=-77, col_add=col)
    np.testing.assert_array_equal(got, (a.astype(np.int64) - 77) @ b.astype(np.int64) + col)


def test_packed_weights_reused_across_calls() -> None:
    rng = np.random.default_rng(4)
    b = rng.integers(-128, 128, size=(64, 40), dtype=np.int8)
    pb = gemm.pack_b(b)
    assert pb.k_dim == 64 and pb.n_dim == 40 and pb.n_pad % gemm.NR == 0
    np.testing.assert_array_equal(pb.colsum[:40], b.astype(np.int64).sum(axis=0))
    for m in (1, 8, 9):
        a = rng.integers(-128, 128, size=(m, 64), dtype=np.int8)
        np.testing.assert_array_equal(gemm.gemm_packed(a, pb), a.astype(np.int64) @ b.astype(np.int64))


def test_parallel_sized_problems_are_exact() -> None:
    # at or above PARALLEL_MIN_MACS the row blocks are split across threads
    rng = np.random.default_rng(9)
    a = rng.integers(-128, 128, size=(256, 256), dtype=np.int8)
    b = rng.integers(-128, 128, size=(256, 256), dtype=np.int8)
    assert 256**3 >= gemm.PARALLEL_MIN_MACS
    np.testing.assert_array_equal(gemm.gemm_s8(a, b), a.astype(np.int64) @ b.astype(np.int64))
    x = rng.integers(-128, 128, size=(1, 32, 32, 32), dtype=np.int8)
    w = rng.integers(-127, 128, size=(64, 3, 3, 32), dtype=np.int8)
    got = gemm.conv2d_acc(x, gemm.pack_weights_nk(w.reshape(64, -1)), (3, 3), 5, (1, 1), (1, 1), (1, 1), (32, 32))
    np.testing.assert_array_equal(got, _conv_ref(x, w, 5, (1, 1), (1, 1), (1, 1), (32, 32)))
    # and the requantised layer, whose blocks are requantised by the threads that computed them
    mult, shift = quantize_multipliers(rng.uniform(1e-4, 0.02, size=64))
    bias = rng.integers(-5000, 5000, size=64).astype(np.int32)
    args = (bias, 5, mult, shift, -3, (1, 1), (1, 1), (1, 1), (32, 32), 1, (-100, 127), False)
    np.testing.assert_array_equal(mac.conv2d_int8(x, w, *args), reference.conv2d(x, w, *args))


def _conv_ref(x: np.ndarray, w: np.ndarray, in_zp: int, stride: tuple[int, int], dil: tuple[int, int],
              pad: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    nb, h, wd, _ = x.shape
    o, kh, kw, _ = w.shape
    acc = np.zeros((nb, *out_hw, o), dtype=np.int64)
    for oy in range(out_hw[0]):
        for ox in range(out_hw[1]):
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = oy * stride[0] - pad[0] + ky * dil[0], ox * stride[1] - pad[1] + kx * dil[1]
                    if 0 <= iy < h and 0 <= ix < wd:
                        acc[:, oy, ox] += (x[:, iy, ix].astype(np.int64) - in_zp) @ w[:, ky, kx].astype(np.int64).T
    return acc.reshape(-1, o)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 2), st.integers(1, 9), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 40), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2))
def test_conv_acc_equals_direct_sum(seed: int, nb: int, c: int, k: int, dil: int, o: int, sh: int, sw: int,
                                    pad: int) -> None:
    rng = np.random.default_rng(seed)
    h, wd = int(rng.integers(k * dil, 11)), int(rng.integers(k * dil, 11))
    x = rng.integers(-128, 128, size=(nb, h, wd, c), dtype=np.int8)
    w = rng.integers(-127, 128, size=(o, k, k, c), dtype=np.int8)
    in_zp = int(rng.integers(-128, 128))
    pad_tl = (min(pad, k - 1), min(pad, k - 1))
    out_hw = ((h + 2 * pad_tl[0] - (k - 1) * dil - 1) // sh + 1, (wd + 2 * pad_tl[1] - (k - 1) * dil - 1) // sw + 1)
    bias = rng.integers(-5000, 5000, size=o).astype(np.int32)
    pw = gemm.pack_weights_nk(w.reshape(o, -1))
    got = gemm.conv2d_acc(x, pw, (k, k), in_zp, (sh, sw), (dil, dil), pad_tl, out_hw, col_add=bias)
    np.testing.assert_array_equal(got, _conv_ref(x, w, in_zp, (sh, sw), (dil, dil), pad_tl, out_hw) + bias)


@pytest.mark.parametrize("kind", gemm.TILE_KINDS)
def test_tile_kernel_every_code_path(kind: str) -> None:
    # the portable IR runs anywhere; vpmaddwd needs AVX2 and vpdpbusd AVX-512 VNNI in the compile target
    if kind == "vnni" and not gemm.target_has_vnni():
        pytest.skip("compile target has no AVX-512 VNNI")
    if kind == "avx2" and not gemm.target_has_avx2():
        pytest.skip("compile target has no AVX2")
    vnni = kind == "vnni"
    tile = gemm.make_tile_kernel(kind)

    @njit
    def run(a, lda, b, kq, init, c):  # type: ignore[no-untyped-def]
        tile(a, lda, lda, b, 0, kq, init, 0, c, 3, gemm.NR + 5)  # a row/col offset and a wider C: strides honoured

    rng = np.random.default_rng(11)
    for kq in (1, 2, 7):
        lda = 4 * kq + 4
        a = rng.integers(0, 256, size=(gemm.MR + 1) * lda, dtype=np.uint8)
        panel = rng.integers(-128, 128, size=(kq, gemm.NR, 4), dtype=np.int8)
        init = rng.integers(-1000, 1000, size=gemm.NR).astype(np.int32)
        c = np.zeros(3 + gemm.MR * (gemm.NR + 5), dtype=np.int32)
        run(a, lda, panel.reshape(-1), kq, init, c)
        a_rows = a[lda:].reshape(gemm.MR, lda)[:, : 4 * kq].astype(np.int64)
        want = a_rows @ panel.transpose(0, 2, 1).reshape(4 * kq, gemm.NR).astype(np.int64) + init
        got = c[3:].reshape(gemm.MR, gemm.NR + 5)[:, : gemm.NR]
        np.testing.assert_array_equal(got, want)
    if vnni:
        asm = run.inspect_asm(run.signatures[0])
        # MR x NV dot products per k quad (LLVM may unroll the k loop), no widening multiplies
        assert len(re.findall(r"\bvpdpbusd\b", asm)) % (gemm.MR * gemm.NV) == 0
        assert re.search(r"\bvpdpbusd\b", asm) and not re.search(r"\b(vpmulld|vpmaddwd)\b", asm)
    elif kind == "avx2":
        asm = run.inspect_asm(run.signatures[0])
        # exact pairwise int16 products, no 32-bit multiplies, never a saturating form (vpmaddubsw, vpdpwssds).
        # On an AVX-512 VNNI target LLVM fuses vpmaddwd + vpaddd into vpdpwssd, the same exact arithmetic.
        assert re.search(r"\b(vpmaddwd|vpdpwssd)\b", asm)
        assert not re.search(r"\b(vpmulld|vpmaddubsw|vpdpwssds)\b", asm)
    with pytest.raises(ValueError, match="kind"):
        gemm.make_tile_kernel("sse9")


def test_bad_shapes_raise_one_line_errors() -> None:
    a = np.zeros((4, 5), dtype=np.int8)
    with pytest.raises(ShapeError, match="disagree"):
        gemm.gemm_packed(a, gemm.pack_b(np.zeros((6, 3), dtype=np.int8)))
    with pytest.raises(ShapeError, match="int8"):
        gemm.pack_weights_nk(np.zeros((3, 4), dtype=np.int16))
    with pytest.raises(ShapeError, match="2-D"):
        gemm.pack_b(np.zeros(5, dtype=np.int8))
    with pytest.raises(ShapeError, match="does not match"):
        gemm.conv2d_acc(np.zeros((1, 4, 4, 3), np.int8), gemm.pack_weights_nk(np.zeros((2, 8), np.int8)), (3, 3), 0,
                        (1, 1), (1, 1), (1, 1), (4, 4))


def test_every_numba_kernel_is_disk_cached() -> None:
    # a second `edgesim infer` must load the machine code, not recompile it: every entry point is cache=True and
    # its index is on disk once compiled (Numba silently skips saving code that holds dynamic globals)
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, size=(1, 5, 5, 3), dtype=np.int8)
    w = rng.integers(-127, 128, size=(4, 3, 3, 3), dtype=np.int8)
    one = np.ones(4, np.int32)
    mac.conv2d_int8(x, w, one, 0, one, one * 0, 0, (1, 1), (1, 1), (1, 1), (5, 5), 1, (-128, 127), False)
    mac.fully_connected_int8(x.reshape(5, 15), rng.integers(-128, 128, size=(4, 15), dtype=np.int8), one, 0, 1,
                             one, one * 0, 0, (-128, 127), True)
    for module in (gemm, mac):
        kernels = {k: v for k, v in vars(module).items() if isinstance(v, CPUDispatcher)}
        assert kernels
        assert [k for k, v in kernels.items() if isinstance(v._cache, NullCache)] == []
        for name in ("_drive", "_pack_nk", "_init_vector"):
            if name in kernels:
                assert kernels[name].signatures, name
                assert Path(kernels[name]._cache._cache_file._index_path).exists(), name
