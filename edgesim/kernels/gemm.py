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

The tile kernel is LLVM IR emitted by a Numba intrinsic. Where the compile target has AVX-512 VNNI it calls
``vpdpbusd`` (64 multiply-accumulates per instruction) directly: LLVM's loop vectoriser does not form it from a
scalar ``acc += int32(u8) * int32(s8)`` reduction (it widens to dwords and uses ``vpdpwssd`` on 16 lanes, or
``vpmaddwd`` for int16 inputs). Elsewhere the same tile is written in portable vector IR (widen, multiply, add
adjacent product pairs into 32 lanes per 16 outputs, which X86 lowers to vpmaddwd/vpdpwssd, and fold the pairs
once after the loop); both compute the identical exact result. Which one is used is decided from the
target Numba compiles for, which is also part of Numba's cache key, so a cached VNNI build never runs elsewhere.

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


def _dot2_portable(builder: ir.IRBuilder, acc: ir.Value, a_u8x4: ir.Value, b_s8: ir.Value) -> ir.Value:
    """acc[2l + h] += sum_{t<2} zext(a[4l + 2h + t]) * sext(b[4l + 2h + t]): pair sums in 32 dword lanes.

    The add of adjacent products is the shape X86 lowers to (v)pmaddwd; the pairs of a lane are summed only once,
    after the reduction loop, so the loop needs no cross-lane shuffles.
    """
    i32 = ir.IntType(32)
    w64 = ir.VectorType(i32, 64)
    prod = builder.mul(builder.zext(a_u8x4, w64), builder.sext(b_s8, w64))
    even = ir.Constant(ir.VectorType(i32, 32), [2 * j for j in range(32)])
    odd = ir.Constant(ir.VectorType(i32, 32), [2 * j + 1 for j in range(32)])
    undef = ir.Constant(w64, ir.Undefined)
    pair = builder.add(builder.shuffle_vector(prod, undef, even), builder.shuffle_vector(prod, undef, odd))
    return builder.add(acc, pair)


def make_tile_kernel(vnni: bool) -> Any:
    """A Numba intrinsic computing one MR x NR int32 tile; ``vnni`` picks vpdpbusd or the portable IR.

    ``tile(a, a_off, lda, b, b_off, kq, init, init_off, c, c_off, ldc)``: for i < MR, j < NR,
    ``c[c_off + i*ldc + j] = init[init_off + j] + sum_{k < 4*kq} a[a_off + i*lda + k] * panel(k, j)`` where
    ``a`` is uint8, the panel is int8 at byte ``b_off`` of ``b`` and ``c``/``init`` are int32 (offsets in elements
    of the flat arrays, ``a``/``b`` offsets in bytes). There are no bounds checks: the drivers size every buffer
    (A blocks of MR rows, B padded to whole panels and k quads, C padded to whole tiles).
    """

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
            v16 = ir.VectorType(i32, 16)
            b64 = ir.VectorType(i8, 64)
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
            if vnni:
                dpbusd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16, v16, v16]),
                                                        "llvm.x86.avx512.vpdpbusd.512")
            # stack slots that SROA/mem2reg promote to vector registers: MR x NV dword accumulators for vpdpbusd;
            # the portable tile keeps two pair sums per output (32 lanes) and starts them at 0
            acc_ty = v16 if vnni else ir.VectorType(i32, 32)
            accs = [[cgutils.alloca_once(builder, acc_ty) for _ in range(NV)] for _ in range(MR)]
            init_vecs = [builder.load(builder.bitcast(builder.gep(init_p, [ir.Constant(i64, 16 * v)]),
                                                      v16.as_pointer()), align=4) for v in range(NV)]
            for v in range(NV):
                for i in range(MR):
                    builder.store(init_vecs[v] if vnni else ir.Constant(acc_ty, [0] * 32), accs[i][v])
            splat0 = ir.Constant(v16, [0] * 16)
            with cgutils.for_range(builder, kq_v) as loop:
                k = loop.index
                bk = builder.gep(b_p, [builder.mul(k, ir.Constant(i64, 4 * NR))])
                bvec = [builder.load(builder.bitcast(builder.gep(bk, [ir.Constant(i64, 64 * v)]),
                                                     b64.as_pointer()), align=1) for v in range(NV)]
                k4 = builder.mul(k, ir.Constant(i64, 4))
                for i in range(MR):
                    word = builder.load(builder.bitcast(builder.gep(rows[i], [k4]), i32.as_pointer()), align=1)
                    one = builder.insert_element(ir.Constant(v16, ir.Undefined), word, ir.Constant(i32, 0))
                    a_splat = builder.shuffle_vector(one, ir.Constant(v16, ir.Undefined), splat0)
                    for v in range(NV):
                        acc = builder.load(accs[i][v])
                        if vnni:
                            acc = builder.call(dpbusd, [acc, a_splat, builder.bitcast(bvec[v], v16)])
                        else:
                            acc = _dot2_portable(builder, acc, builder.bitcast(a_splat, b64), bvec[v])
                        builder.store(acc, accs[i][v])
            even = ir.Constant(v16, [2 * j for j in range(16)])
            odd = ir.Constant(v16, [2 * j + 1 for j in range(16)])
            for i in range(MR):
                row = builder.gep(c_p, [builder.mul(ldc_v, ir.Constant(i64, i))])
                for v in range(NV):
                    out = builder.load(accs[i][v])
                    if not vnni:
                        pairs = builder.add(builder.shuffle_vector(out, ir.Constant(acc_ty, ir.Undefined), even),
                                            builder.shuffle_vector(out, ir.Constant(acc_ty, ir.Undefined), odd))
                        out = builder.add(init_vecs[v], pairs)
                    dst = builder.bitcast(builder.gep(row, [ir.Constant(i64, 16 * v)]), v16.as_pointer())
                    builder.store(out, dst, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile = make_tile_kernel(target_has_vnni())


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
