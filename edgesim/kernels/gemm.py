# mypy: disable-error-code="arg-type,assignment,return-value"
# (Numba kernels mix numpy fixed-width scalars with Python ints on purpose: the widths pick the overflow.)
"""Exact int8 GEMM (int32 accumulation) and the im2col convolution built on it.

Layout, as in oneDNN/MLAS u8s8 kernels:

* B (weights, signed int8) is packed once into panels of ``NR`` = 32 columns, each panel k-quad major:
  ``panel[q, j, t] = B[4q + t, j]``. One k quad of a panel is 128 bytes = two 512-bit vectors.
* A (activations) is made unsigned by adding 128 (an XOR of the sign bit), MR rows at a time, into a small
  row-major buffer (rows padded to a multiple of 4 bytes) by the thread that then multiplies it with every panel;
  for a convolution that buffer is filled straight from the NHWC input (im2col of MR output pixels). The kernel
  broadcasts each row's 4 bytes of a k quad. The +128 is removed exactly by starting every column's accumulator
  at ``init[n] - 128 * colsum(B[:, n])``.
* A register tile of ``MR`` x ``NR`` = 8 x 32 int32 outputs lives in 16 vector accumulators over the whole
  reduction; each k quad costs 2 vector loads of B, 8 broadcasts of A and 16 u8 x s8 dot-product-accumulates.
* One ``prange`` region per call: threads claim MR-row blocks from an atomic counter, build the block's A rows,
  run its tiles and, for a layer, requantise its outputs to int8 while they are still in L1. Calls below
  ``PARALLEL_MIN_MACS`` stay on the calling thread.

The tile kernel is LLVM IR emitted by a Numba intrinsic, in one of three forms (``tile_kind()``):

* AVX-512 VNNI: ``vpdpbusd`` (64 multiply-accumulates per instruction) called directly: LLVM's loop vectoriser
  does not form it from a scalar ``acc += int32(u8) * int32(s8)`` reduction.
* AVX2: ``vpmaddwd`` on B sign-extended and A zero-extended to int16, exact (pair sums of u8 x s8 products stay far
  inside int32), unlike the saturating ``vpmaddubsw`` that onnxruntime's MLAS uses on such machines. The tile is
  done as 2 x 16 sub-tiles so that their 8 accumulators stay in the 16 ymm registers (the whole 8 x 32 tile at
  once spilled and ran at half the speed).
* Elsewhere the same sub-tiles in plain vector IR (widen, multiply, add adjacent pairs).

Each leaves two pair sums per output, folded once after the reduction loop. Which one is used is decided from
the target Numba compiles for, which is also part of Numba's cache key, so a cached VNNI build never runs elsewhere.

Exactness: vpdpbusd wraps (no saturation), so every partial sum is correct modulo 2^32 and the final int32 equals
the true dot product whenever that fits int32 (always for K < 131072 int8 terms).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir
from numba import get_num_threads, njit, prange, set_num_threads, types
from numba.core import cgutils, config
from numba.core.codegen import get_host_cpu_features
from numba.core.errors import TypingError
from numba.extending import intrinsic

from edgesim.errors import ShapeError
from edgesim.kernels.requant import multiply_by_quantized_multiplier

MR = 8  # rows of A per register tile
NV = 2  # 512-bit accumulators per tile row
NR = 16 * NV  # columns per B panel / register tile
# Below this many multiply-accumulates (~70 us on one core) a call runs on the calling thread only: waking a
# second thread costs tens of microseconds on a VM, and on a busy machine the join waits for a descheduled
# worker for a whole scheduler slice (measured: ad01's small FC layers went from 1 ms to 400 ms in parallel).
PARALLEL_MIN_MACS = 1 << 24


def _target_features() -> str:
    # the same source Numba's CPU codegen uses for its target machine (and its cache key)
    forced = getattr(config, "CPU_FEATURES", None)  # NUMBA_CPU_FEATURES
    if forced is not None:
        return str(forced)
    try:
        return str(get_host_cpu_features())
    except Exception:  # llvmlite cannot read the features on some hosts: take the portable tile
        return ""


def target_has_vnni() -> bool:
    """True when Numba compiles for x86-64 with AVX-512 VNNI (then the tile kernel uses vpdpbusd)."""
    feats = set(_target_features().split(","))
    return {"+avx512f", "+avx512vnni"} <= feats


def _intp(context: object, builder: ir.IRBuilder, val: ir.Value, ty: types.Type) -> ir.Value:
    return context.cast(builder, val, ty, types.intp)  # type: ignore[attr-defined]


def _data_ptr(context: object, builder: ir.IRBuilder, ty: types.Array, val: ir.Value) -> ir.Value:
    arr = cgutils.create_struct_proxy(ty)(context, builder, value=val)
    return arr.data


def target_has_avx2() -> bool:
    """True when Numba compiles for x86-64 with AVX2 (then the tile kernel without VNNI calls vpmaddwd)."""
    return "+avx2" in set(_target_features().split(","))


def tile_kind() -> str:
    """The tile kernel this compile target gets: 'vnni', 'avx2' or 'portable'."""
    return "vnni" if target_has_vnni() else "avx2" if target_has_avx2() else "portable"


TILE_KINDS = ("vnni", "avx2", "portable")
SUB_ROWS = 2  # rows of a non-VNNI sub-tile
SUB_COLS = 16  # columns of a non-VNNI sub-tile: 2 x 4 accumulators of 8 dwords, fits AVX2's 16 registers


def _pmaddwd(builder: ir.IRBuilder, a16: ir.Value, b16: ir.Value, avx2: bool) -> ir.Value:
    """<16 x i16> x <16 x i16> -> <8 x i32>: out[l] = a[2l] * b[2l] + a[2l + 1] * b[2l + 1], exact for these
    inputs (u8 times s8 products: a pair sum stays far inside int32). AVX2's vpmaddwd, or the same in plain IR."""
    i32 = ir.IntType(32)
    v8 = ir.VectorType(i32, 8)
    if avx2:
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(v8, [a16.type, b16.type]), "llvm.x86.avx2.pmadd.wd")
        return builder.call(fn, [a16, b16])
    w16 = ir.VectorType(i32, 16)
    prod = builder.mul(builder.sext(a16, w16), builder.sext(b16, w16))
    undef = ir.Constant(w16, ir.Undefined)
    even = builder.shuffle_vector(prod, undef, ir.Constant(v8, [2 * j for j in range(8)]))
    odd = builder.shuffle_vector(prod, undef, ir.Constant(v8, [2 * j + 1 for j in range(8)]))
    return builder.add(even, odd)


def make_tile_kernel(kind: str) -> Any:
    """A Numba intrinsic computing one MR x NR int32 tile; ``kind`` (TILE_KINDS) picks vpdpbusd, vpmaddwd or
    plain vector IR.

    ``tile(a, a_off, lda, b, b_off, kq, init, init_off, c, c_off, ldc)``: for i < MR, j < NR,
    ``c[c_off + i*ldc + j] = init[init_off + j] + sum_{k < 4*kq} a[a_off + i*lda + k] * panel(k, j)`` where
    ``a`` is uint8, the panel is int8 at byte ``b_off`` of ``b`` and ``c``/``init`` are int32 (offsets in elements
    of the flat arrays, ``a``/``b`` offsets in bytes). There are no bounds checks: the drivers size every buffer
    (A blocks of MR rows, B padded to whole panels and k quads, C padded to whole tiles).

    Without VNNI the tile is computed as SUB_ROWS x SUB_COLS sub-tiles, each over the whole reduction, so that
    its accumulators stay in 256-bit registers: per k quad and 4 columns, one sign-extended 16-byte load of B
    (4 columns x 4 k) meets the row's 4 A bytes zero-extended and broadcast, and vpmaddwd leaves two pair sums per
    column, added once after the loop.
    """
    if kind not in TILE_KINDS:
        raise ValueError(f"tile kernel kind must be one of {TILE_KINDS}, got {kind!r}")
    vnni = kind == "vnni"

    @intrinsic
    def tile(typingctx, a, a_off, lda, b, b_off, kq, init, init_off, c, c_off, ldc):  # type: ignore[no-untyped-def]
        arrays = {"a": (a, types.uint8), "b": (b, types.int8), "init": (init, types.int32), "c": (c, types.int32)}
        for name, (ty, dt) in arrays.items():
            if not (isinstance(ty, types.Array) and ty.dtype == dt and ty.layout == "C"):
                raise TypingError(f"tile kernel: '{name}' must be a C-contiguous {dt} array, got {ty}")
        for ty in (a_off, lda, b_off, kq, init_off, c_off, ldc):
            if not isinstance(ty, types.Integer):
                raise TypingError(f"tile kernel: offsets and strides must be integers, got {ty}")
        sig = types.void(a, a_off, lda, b, b_off, kq, init, init_off, c, c_off, ldc)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            at = signature.args
            i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
            a_off_v, lda_v, b_off_v, kq_v, init_off_v, c_off_v, ldc_v = (
                _intp(context, builder, args[i], at[i]) for i in (1, 2, 4, 5, 7, 9, 10))
            a_p = builder.gep(builder.bitcast(_data_ptr(context, builder, at[0], args[0]), i8.as_pointer()),
                              [a_off_v])
            b_p = builder.gep(builder.bitcast(_data_ptr(context, builder, at[3], args[3]), i8.as_pointer()),
                              [b_off_v])
            init_p = builder.gep(builder.bitcast(_data_ptr(context, builder, at[6], args[6]), i32.as_pointer()),
                                 [init_off_v])
            c_p = builder.gep(builder.bitcast(_data_ptr(context, builder, at[8], args[8]), i32.as_pointer()),
                              [c_off_v])
            rows = [builder.gep(a_p, [builder.mul(lda_v, ir.Constant(i64, i))]) for i in range(MR)]
            c_rows = [builder.gep(c_p, [builder.mul(ldc_v, ir.Constant(i64, i))]) for i in range(MR)]
            if vnni:
                _vnni_tile(builder, rows, b_p, kq_v, init_p, c_rows)
            else:
                for col0 in range(0, NR, SUB_COLS):
                    for row0 in range(0, MR, SUB_ROWS):
                        _sub_tile(builder, rows[row0:row0 + SUB_ROWS], b_p, col0, kq_v, init_p,
                                  c_rows[row0:row0 + SUB_ROWS], kind == "avx2")
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _load_a_word(builder: ir.IRBuilder, row: ir.Value, k: ir.Value) -> ir.Value:
    """The row's 4 A bytes of k quad ``k`` as one i32."""
    i32, i64 = ir.IntType(32), ir.IntType(64)
    k4 = builder.mul(k, ir.Constant(i64, 4))
    return builder.load(builder.bitcast(builder.gep(row, [k4]), i32.as_pointer()), align=1)


def _vnni_tile(builder: ir.IRBuilder, rows: list[ir.Value], b_p: ir.Value, kq_v: ir.Value, init_p: ir.Value,
               c_rows: list[ir.Value]) -> None:
    """MR x NV vpdpbusd accumulators (16 dwords each) over the whole reduction, started at ``init``."""
    i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    v16 = ir.VectorType(i32, 16)
    b64 = ir.VectorType(i8, 64)
    dpbusd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16, v16, v16]),
                                            "llvm.x86.avx512.vpdpbusd.512")
    # stack slots that SROA/mem2reg promote to vector registers
    accs = [[cgutils.alloca_once(builder, v16) for _ in range(NV)] for _ in range(MR)]
    init_vecs = [builder.load(builder.bitcast(builder.gep(init_p, [ir.Constant(i64, 16 * v)]),
                                              v16.as_pointer()), align=4) for v in range(NV)]
    for v in range(NV):
        for i in range(MR):
            builder.store(init_vecs[v], accs[i][v])
    splat0 = ir.Constant(v16, [0] * 16)
    with cgutils.for_range(builder, kq_v) as loop:
        k = loop.index
        bk = builder.gep(b_p, [builder.mul(k, ir.Constant(i64, 4 * NR))])
        bvec = [builder.bitcast(builder.load(builder.bitcast(builder.gep(bk, [ir.Constant(i64, 64 * v)]),
                                                             b64.as_pointer()), align=1), v16) for v in range(NV)]
        for i in range(MR):
            one = builder.insert_element(ir.Constant(v16, ir.Undefined), _load_a_word(builder, rows[i], k),
                                         ir.Constant(i32, 0))
            a_splat = builder.shuffle_vector(one, ir.Constant(v16, ir.Undefined), splat0)
            for v in range(NV):
                builder.store(builder.call(dpbusd, [builder.load(accs[i][v]), a_splat, bvec[v]]), accs[i][v])
    for i in range(MR):
        for v in range(NV):
            dst = builder.bitcast(builder.gep(c_rows[i], [ir.Constant(i64, 16 * v)]), v16.as_pointer())
            builder.store(builder.load(accs[i][v]), dst, align=4)


def _sub_tile(builder: ir.IRBuilder, rows: list[ir.Value], b_p: ir.Value, col0: int, kq_v: ir.Value,
              init_p: ir.Value, c_rows: list[ir.Value], avx2: bool) -> None:
    """Columns col0 .. col0 + SUB_COLS of the given rows, over the whole reduction (see make_tile_kernel)."""
    i8, i16, i32, i64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
    v8 = ir.VectorType(i32, 8)
    groups = SUB_COLS // 4  # 4 columns x 4 k per 16-byte load of the panel
    accs = [[cgutils.alloca_once(builder, v8) for _ in range(groups)] for _ in rows]
    for row_accs in accs:
        for acc in row_accs:
            builder.store(ir.Constant(v8, [0] * 8), acc)
    b16_ty = ir.VectorType(i8, 16)
    w16_ty = ir.VectorType(i16, 16)
    q4 = ir.VectorType(i64, 4)
    with cgutils.for_range(builder, kq_v) as loop:
        k = loop.index
        bk = builder.gep(b_p, [builder.add(builder.mul(k, ir.Constant(i64, 4 * NR)), ir.Constant(i64, 4 * col0))])
        bvec = [builder.sext(builder.load(builder.bitcast(builder.gep(bk, [ir.Constant(i64, 16 * g)]),
                                                          b16_ty.as_pointer()), align=1), w16_ty)
                for g in range(groups)]
        for r, row in enumerate(rows):
            a4 = builder.zext(builder.bitcast(_load_a_word(builder, row, k), ir.VectorType(i8, 4)),
                              ir.VectorType(i16, 4))
            one = builder.insert_element(ir.Constant(q4, ir.Undefined), builder.bitcast(a4, i64),
                                         ir.Constant(i32, 0))
            a_splat = builder.bitcast(builder.shuffle_vector(one, ir.Constant(q4, ir.Undefined),
                                                             ir.Constant(ir.VectorType(i32, 4), [0] * 4)), w16_ty)
            for g in range(groups):
                acc = builder.load(accs[r][g])
                builder.store(builder.add(acc, _pmaddwd(builder, a_splat, bvec[g], avx2)), accs[r][g])
    # two pair sums per column: lanes (8g + 2m, 8g + 2m + 1) belong to column 4g + m
    w32 = ir.VectorType(i32, 2 * SUB_COLS)
    vout = ir.VectorType(i32, SUB_COLS)
    even = ir.Constant(vout, [2 * j for j in range(SUB_COLS)])
    odd = ir.Constant(vout, [2 * j + 1 for j in range(SUB_COLS)])
    init_vec = builder.load(builder.bitcast(builder.gep(init_p, [ir.Constant(i64, col0)]), vout.as_pointer()),
                            align=4)
    for r in range(len(rows)):
        parts = [builder.load(a) for a in accs[r]]
        while len(parts) > 1:  # concatenate the 8-lane accumulators into one vector of 2 x SUB_COLS lanes
            parts = [builder.shuffle_vector(parts[j], parts[j + 1],
                                            ir.Constant(ir.VectorType(i32, 2 * parts[j].type.count),
                                                        list(range(2 * parts[j].type.count))))
                     for j in range(0, len(parts), 2)]
        allp = parts[0]
        assert allp.type == w32
        undef = ir.Constant(w32, ir.Undefined)
        out = builder.add(init_vec, builder.add(builder.shuffle_vector(allp, undef, even),
                                                builder.shuffle_vector(allp, undef, odd)))
        dst = builder.bitcast(builder.gep(c_rows[r], [ir.Constant(i64, col0)]), vout.as_pointer())
        builder.store(out, dst, align=4)


_tile = make_tile_kernel(tile_kind())


def _claim_typer(typingctx, counter):  # type: ignore[no-untyped-def]
    """Atomically ``counter[0] += 1``, returning the old value: hands out row blocks to whichever thread asks."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64 and counter.layout == "C"):
        raise TypingError(f"claim needs a C-contiguous int64 array, got {counter}")

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ptr = builder.bitcast(_data_ptr(context, builder, signature.args[0], args[0]), ir.IntType(64).as_pointer())
        return builder.atomic_rmw("add", ptr, ir.Constant(ir.IntType(64), 1), "seq_cst")

    return types.int64(counter), codegen


_claim: Any = intrinsic(_claim_typer)


@contextmanager
def threads_for(macs: int) -> Iterator[None]:
    """Run the enclosed kernels on one thread when ``macs`` is below ``PARALLEL_MIN_MACS``."""
    if macs >= PARALLEL_MIN_MACS:
        yield
        return
    before = get_num_threads()
    set_num_threads(1)
    try:
        yield
    finally:
        set_num_threads(before)


@dataclass(frozen=True)
class PackedB:
    """Int8 weights packed for the tile kernel (done once per weight tensor, as a runtime does at load time)."""

    data: np.ndarray  # int8 [n_panels * kq * NR * 4], panel-major then k-quad major
    colsum: np.ndarray  # int32 [n_panels * NR]: sum over k of each column (0 for padding columns)
    k_dim: int
    n_dim: int

    @property
    def kq(self) -> int:
        return (self.k_dim + 3) // 4

    @property
    def n_pad(self) -> int:
        return self.colsum.shape[0]


@njit(cache=True)
def _pack_nk(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # w is (N, K); any strides, so a (K, N) matrix is packed through its transpose view
    n_dim, k_dim = w.shape
    kq = (k_dim + 3) // 4
    n_pan = (n_dim + NR - 1) // NR
    out = np.zeros(n_pan * kq * NR * 4, dtype=np.int8)
    colsum = np.zeros(n_pan * NR, dtype=np.int32)
    if k_dim % 4 == 0 and w.strides[1] == 1 and w.strides[0] == k_dim:
        # contiguous rows of whole k quads: move 4-byte words (an int32 transpose per panel)
        w32 = w.view(np.int32)
        out32 = out.view(np.int32)
        for n in range(n_dim):
            base = (n // NR) * kq * NR + n % NR
            for q in range(kq):
                out32[base + q * NR] = w32[n, q]
    else:
        for p in range(n_pan):
            for q in range(kq):
                base = (p * kq + q) * NR * 4
                k0 = 4 * q
                for j in range(min(NR, n_dim - p * NR)):
                    for t in range(min(4, k_dim - k0)):
                        out[base + 4 * j + t] = w[p * NR + j, k0 + t]
    for n in range(n_dim):
        s = 0
        for k in range(k_dim):
            s += w[n, k]
        colsum[n] = s
    return out, colsum


def pack_weights_nk(w: np.ndarray) -> PackedB:
    """Pack int8 weights given as (N, K) rows (FC weights; conv OHWI weights reshaped to (O, KH*KW*I))."""
    w = np.asarray(w)
    if w.ndim != 2 or w.dtype != np.int8 or 0 in w.shape:
        raise ShapeError(f"weights to pack must be a non-empty 2-D int8 (N, K) array, got {w.dtype} {w.shape}")
    data, colsum = _pack_nk(w)
    return PackedB(data, colsum, int(w.shape[1]), int(w.shape[0]))


def pack_b(b: np.ndarray) -> PackedB:
    """Pack the right operand of ``A @ B`` given as int8 (K, N)."""
    b = np.asarray(b)
    if b.ndim != 2:
        raise ShapeError(f"GEMM right operand must be 2-D (K, N), got shape {b.shape}")
    return pack_weights_nk(b.T)


@njit(cache=True)
def _block_tiles(blk: np.ndarray, b_data: np.ndarray, init: np.ndarray, kq: int, c: np.ndarray, row0: int) -> None:
    # one MR-row block of A (uint8, in L1) against every B panel -> rows row0.. of c
    n_pad = c.shape[1]
    blk_flat = blk.reshape(-1)
    c_flat = c.reshape(-1)
    for p in range(n_pad // NR):
        _tile(blk_flat, 0, blk.shape[1], b_data, p * kq * NR * 4, kq, init, p * NR, c_flat, row0 * n_pad + p * NR,
              n_pad)


@njit(cache=True)
def _requant_rows(
    cblk: np.ndarray, m0: int, rows: int, row_add: np.ndarray, mult: np.ndarray, shift: np.ndarray,
    qp: tuple[int, int, int, bool], out: np.ndarray,
) -> None:
    # int32 accumulators of one block (+ row_add[m] if given) -> int8 rows m0.. of out, per-column multipliers
    out_zp, act_min, act_max, single_rounding = qp
    with_rows = row_add.shape[0] > 0
    for i in range(rows):
        extra = np.int64(row_add[m0 + i]) if with_rows else np.int64(0)
        for n in range(out.shape[1]):
            v = multiply_by_quantized_multiplier(np.int64(cblk[i, n]) + extra, mult[n], shift[n],
                                                 single_rounding) + out_zp
            out[m0 + i, n] = min(max(v, act_min), act_max)


@njit(cache=True)
def _fill_rows(a: np.ndarray, m0: int, rows: int, blk: np.ndarray) -> None:
    for i in range(rows):
        for k in range(a.shape[1]):
            blk[i, k] = np.uint8(a[m0 + i, k]) ^ np.uint8(128)


@njit(cache=True)
def _fill_im2col(
    xu: np.ndarray, geom: tuple[int, int, int, int, int, int, int, int, int, int], pad_v: np.uint8, m0: int,
    rows: int, blk: np.ndarray,
) -> None:
    # im2col rows of output pixels m0.. (b, oy, ox), columns (ky, kx, c) like OHWI weights, values + 128
    kh, kw, sh, sw, dh, dw, pt, pl, out_h, out_w = geom
    _, in_h, in_w, ch = xu.shape
    for i in range(rows):
        m = m0 + i
        b = m // (out_h * out_w)
        oy = (m // out_w) % out_h
        ox = m % out_w
        for ky in range(kh):
            iy = oy * sh - pt + ky * dh
            for kx in range(kw):
                ix = ox * sw - pl + kx * dw
                k0 = (ky * kw + kx) * ch
                if iy < 0 or iy >= in_h or ix < 0 or ix >= in_w:
                    for cc in range(ch):
                        blk[i, k0 + cc] = pad_v
                else:
                    for cc in range(ch):
                        blk[i, k0 + cc] = xu[b, iy, ix, cc] ^ np.uint8(128)


@njit(cache=True, parallel=True)
def _drive(
    a: np.ndarray, xu: np.ndarray, geom: tuple[int, int, int, int, int, int, int, int, int, int], pad_u8: int,
    m_dim: int, b_data: np.ndarray, init: np.ndarray, kq: int, n_threads: int, requant: bool,
    row_add: np.ndarray, mult: np.ndarray, shift: np.ndarray, qp: tuple[int, int, int, bool], n_dim: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of A (from int8 ``a``, or im2col of NHWC ``xu`` when ``a`` is empty) times packed B.

    Returns int32 accumulators (ceil(M/MR)*MR, n_pad) with ``init`` added per column, or with ``requant`` the int8
    (M, n_dim) outputs, requantised block by block while the accumulators are in L1 (then the int32 array is
    empty). Threads claim MR-row blocks one at a time rather than splitting the rows in halves up front: a thread
    that starts late (woken slowly, or descheduled on a busy machine) finds the work done by the others instead
    of holding up the join with its half. Each block's A rows are made unsigned (+128) into a small buffer by the
    thread that multiplies them, so A (or the im2col matrix) is never materialised.
    """
    n_pad = init.shape[0]
    m_blk = (m_dim + MR - 1) // MR
    from_rows = a.shape[0] > 0
    c = np.empty((0 if requant else m_blk * MR, n_pad), dtype=np.int32)
    out = np.empty((m_dim if requant else 0, n_dim), dtype=np.int8)
    pad_v = np.uint8(pad_u8)
    counter = np.zeros(1, dtype=np.int64)
    for _ in prange(min(n_threads, m_blk)):
        blk = np.zeros((MR, 4 * kq), dtype=np.uint8)  # bytes past K stay 0 (B is 0 there too)
        cblk = np.empty((MR if requant else 0, n_pad), dtype=np.int32)
        mb = _claim(counter)
        while mb < m_blk:
            m0 = mb * MR
            rows = min(MR, m_dim - m0)  # rows past M (last block) hold stale bytes; their outputs are dropped
            if from_rows:
                _fill_rows(a, m0, rows, blk)
            else:
                _fill_im2col(xu, geom, pad_v, m0, rows, blk)
            if requant:
                _block_tiles(blk, b_data, init, kq, cblk, 0)
                _requant_rows(cblk, m0, rows, row_add, mult, shift, qp, out)
            else:
                _block_tiles(blk, b_data, init, kq, c, m0)
            mb = _claim(counter)
    return c, out


@njit(cache=True)
def _init_vector(colsum: np.ndarray, offset: int, extra: np.ndarray) -> np.ndarray:
    # per-column accumulator start: extra[n] + offset * colsum[n], wrapping in int32 like the accumulation
    out = np.empty(colsum.shape[0], dtype=np.int32)
    for n in range(colsum.shape[0]):
        e = extra[n] if n < extra.shape[0] else 0
        out[n] = np.int32(np.int64(e) + np.int64(offset) * np.int64(colsum[n]))
    return out


_NO_I32 = np.zeros(0, dtype=np.int32)
_NO_ROWS = np.zeros((0, 1), dtype=np.int8)
_NO_X = np.zeros((1, 1, 1, 1), dtype=np.uint8)
_NO_GEOM = (1, 1, 1, 1, 1, 1, 0, 0, 1, 1)


@dataclass(frozen=True)
class Requant:
    """TFLite output stage: per-column MultiplyByQuantizedMultiplier, + zero point, clamp; optional row terms."""

    mult: np.ndarray  # int32 [N]
    shift: np.ndarray  # int32 [N]
    out_zp: int
    act: tuple[int, int]
    single_rounding: bool
    row_add: np.ndarray | None = None  # int32 [M] added to every accumulator of a row (weight zero point terms)


def _run(
    a: np.ndarray, xu: np.ndarray, geom: tuple[int, ...], pad_u8: int, m_dim: int, pb: PackedB, init: np.ndarray,
    rq: Requant | None,
) -> np.ndarray:
    if rq is None:
        args = (False, _NO_I32, _NO_I32, _NO_I32, (0, 0, 0, False))
    else:
        rows = _NO_I32 if rq.row_add is None else np.ascontiguousarray(rq.row_add, dtype=np.int32)
        args = (True, rows, np.ascontiguousarray(rq.mult, dtype=np.int32),
                np.ascontiguousarray(rq.shift, dtype=np.int32),
                (int(rq.out_zp), int(rq.act[0]), int(rq.act[1]), bool(rq.single_rounding)))
    with threads_for(m_dim * pb.k_dim * pb.n_dim):
        c, out = _drive(a, xu, geom, pad_u8, m_dim, pb.data, init, pb.kq, get_num_threads(), *args, pb.n_dim)
    return c[:m_dim, : pb.n_dim] if rq is None else out


def gemm_acc(
    a: np.ndarray, pb: PackedB, a_offset: int = 0, col_add: np.ndarray | None = None, requant: Requant | None = None,
) -> np.ndarray:
    """int32 (M, N) = (a + a_offset) @ B + col_add for int8 a (M, K), B pre-packed (a padded view); with
    ``requant``, those accumulators' int8 outputs instead."""
    a = np.ascontiguousarray(a, dtype=np.int8)
    if a.ndim != 2 or a.shape[1] != pb.k_dim:
        raise ShapeError(f"GEMM operands disagree: A is {a.shape}, packed B is ({pb.k_dim}, {pb.n_dim})")
    if a.shape[0] == 0:
        return np.zeros((0, pb.n_dim), dtype=np.int32 if requant is None else np.int8)
    extra = _NO_I32 if col_add is None else np.ascontiguousarray(col_add, dtype=np.int32)
    # the kernel sees a + 128; the accumulator start removes 128 and adds a_offset, per column
    init = _init_vector(pb.colsum, int(a_offset) - 128, extra)
    return _run(a, _NO_X, _NO_GEOM, 0, a.shape[0], pb, init, requant)


def gemm_packed(a: np.ndarray, pb: PackedB) -> np.ndarray:
    """int8 (M, K) @ pre-packed int8 (K, N) -> int32 (M, N), exact."""
    return np.ascontiguousarray(gemm_acc(a, pb))


def gemm_s8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int8 (M, K) @ int8 (K, N) -> int32 (M, N), exact (packs B on every call)."""
    return gemm_packed(a, pack_b(np.asarray(b, dtype=np.int8)))


def conv2d_acc(
    x: np.ndarray, pw: PackedB, kernel_hw: tuple[int, int], in_zp: int, stride: tuple[int, int],
    dilation: tuple[int, int], pad_tl: tuple[int, int], out_hw: tuple[int, int], col_add: np.ndarray | None = None,
    requant: Requant | None = None,
) -> np.ndarray:
    """Ungrouped int8 NHWC conv: int32 (B*OH*OW, O) = sum (x - in_zp) * w + col_add (a padded view), or with
    ``requant`` the int8 outputs (B*OH*OW, O).

    ``pw`` holds OHWI weights packed as (O, KH*KW*I). Out-of-image taps contribute nothing, as in TFLite.
    """
    x = np.ascontiguousarray(x, dtype=np.int8)
    kh, kw = kernel_hw
    if x.ndim != 4 or kh * kw * x.shape[3] != pw.k_dim:
        raise ShapeError(f"conv input {x.shape} does not match packed weights of depth {pw.k_dim} for {kh}x{kw}")
    extra = _NO_I32 if col_add is None else np.ascontiguousarray(col_add, dtype=np.int32)
    # padding taps hold in_zp (+128), so (x - in_zp) is 0 there; the start value carries -(in_zp + 128) * colsum
    init = _init_vector(pw.colsum, -int(in_zp) - 128, extra)
    geom = (kh, kw, stride[0], stride[1], dilation[0], dilation[1], pad_tl[0], pad_tl[1], out_hw[0], out_hw[1])
    m_dim = x.shape[0] * out_hw[0] * out_hw[1]
    return _run(_NO_ROWS, x.view(np.uint8), geom, int(in_zp) + 128, m_dim, pw, init, requant)
