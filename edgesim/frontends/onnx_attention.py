"""ONNX Attention (opsets 23+) lowered to IR ops, following the operator's function body and onnx's reference:
scale both Q and K by sqrt(scale), Q @ K^T, optional softcap, additive bias (attention mask, causal and
sliding-window frontiers, which become constants), softmax, a guard that zeroes fully-masked rows, @ V. 3-D inputs
(batch, seq, heads * head_size) are split into heads and merged back; grouped-query attention repeats each K/V
head; past_key/past_value are concatenated on the sequence axis and returned as present_key/present_value.
"""

from __future__ import annotations

import math

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.ops import OpKind

_EW = A.ElementwiseAttrs()


class _Builder:
    def __init__(self, ctx: Ctx, n: OnnxNode) -> None:
        self.ctx, self.n, self.k = ctx, n, 0

    def op(self, kind: OpKind, ins: list[str], attrs: object, out: str = "", dtype: DType | None = None) -> str:
        self.k += 1
        name = out or self.ctx.fresh(f"{self.n.name}_t{self.k}")
        self.ctx.emit(kind, ins, [name], attrs, f"{self.n.name}_{self.k}", dtypes=[dtype] if dtype else None)
        return name

    def const(self, value: np.ndarray | float, like: str) -> str:
        dt = self.ctx.t(like).dtype
        arr = np.asarray(value, dtype=np.float32 if dt is DType.BF16 else dt.numpy())
        name = self.ctx.add_const(self.ctx.fresh(f"{self.n.name}_c"), arr)
        if dt is DType.BF16:
            self.ctx.retag(name, DType.BF16, None)
        return name


def _heads(b: _Builder, x: str, heads: int) -> str:
    """(B, S, H*D) -> (B, H, S, D)."""
    bsz, seq, hidden = b.ctx.shape(x)
    if hidden % heads:
        raise ModelError(f"hidden size {hidden} is not divisible by {heads} heads", file=b.ctx.path, node=b.n.name)
    r = b.op(OpKind.RESHAPE, [x], A.ReshapeAttrs((bsz, seq, heads, hidden // heads)))
    return b.op(OpKind.TRANSPOSE, [r], A.TransposeAttrs((0, 2, 1, 3)))


def _repeat_heads(b: _Builder, x: str, reps: int) -> str:
    """Interleaved head repeat [h0, h0, h1, h1, ...] for grouped-query attention."""
    bsz, h, s, d = b.ctx.shape(x)
    r = b.op(OpKind.RESHAPE, [x], A.ReshapeAttrs((bsz, h, 1, s, d)))
    e = b.op(OpKind.EXPAND, [r], A.ExpandAttrs((bsz, h, reps, s, d)))
    return b.op(OpKind.RESHAPE, [e], A.ReshapeAttrs((bsz, h * reps, s, d)))


def _frontier_bias(q_len: int, kv_len: int, offset: int | np.ndarray, causal: bool, left: int, right: int,
                   nonpad: np.ndarray | None = None) -> np.ndarray | None:
    """Constant additive bias (0 / -inf) of the causal and sliding-window constraints (bottom-right aligned) and
    of the key padding of an external cache (``nonpad``: valid keys per batch; the bias is then per batch)."""
    if not causal and left < 0 and right < 0 and nonpad is None:
        return None
    if nonpad is not None:
        offset = (nonpad.reshape(-1) - q_len).reshape(-1, 1, 1, 1)
    diff = (np.arange(q_len)[:, None] + offset) - np.arange(kv_len)[None, :]
    allowed = np.ones(np.shape(diff), bool)
    if causal:
        allowed &= diff >= 0
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    if nonpad is not None:
        allowed &= np.arange(kv_len)[None, :] < nonpad.reshape(-1, 1, 1, 1)
    return np.where(allowed, 0.0, -np.inf)


def _mask_bias(b: _Builder, mask: str, kv_len: int, like: str) -> str:
    """The attention mask as an additive bias, padded to the key length (bool: True attends)."""
    t = b.ctx.t(mask)
    if t.shape[-1] < kv_len:
        pads = tuple((0, 0) for _ in t.shape[:-1]) + ((0, kv_len - t.shape[-1]),)
        fill = 0.0 if t.dtype is DType.BOOL else -math.inf
        mask = b.op(OpKind.PAD, [mask], A.PadAttrs(pads, "constant", fill))
    if t.dtype is DType.BOOL:
        return b.op(OpKind.WHERE, [mask, b.const(0.0, like), b.const(-np.inf, like)], A.NoAttrs(),
                    dtype=b.ctx.t(like).dtype)
    return mask


def attention(ctx: Ctx, n: OnnxNode) -> None:
    nonpad = None
    if n.input(6):
        if n.input(4):
            raise ModelError("nonpad_kv_seqlen cannot be combined with past_key", file=ctx.path, node=n.name)
        nonpad = np.asarray(ctx.need_const(n.input(6), n, "nonpad_kv_seqlen")).astype(np.int64)
    if bool(n.input(4)) != bool(n.input(5)):
        raise ModelError("past_key and past_value must be given together", file=ctx.path, node=n.name)
    b = _Builder(ctx, n)
    q, k, v = n.inputs[0], n.input(1), n.input(2)
    rank = ctx.rank(q)
    if rank == 3:
        qh, kvh = n.i("q_num_heads", 0), n.i("kv_num_heads", 0)
        if qh <= 0 or kvh <= 0:
            raise ModelError("3-D Attention needs q_num_heads and kv_num_heads", file=ctx.path, node=n.name)
        q, k, v = _heads(b, q, qh), _heads(b, k, kvh), _heads(b, v, kvh)
    elif rank != 4:
        raise UnsupportedOpError(f"Attention on rank-{rank} inputs", file=ctx.path, node=n.name)
    past_len = 0
    outs = list(n.outputs) + [""] * 4
    if n.input(4):
        past_len = ctx.shape(n.input(4))[2]
        k = b.op(OpKind.CONCAT, [n.input(4), k], A.ConcatAttrs(2), out=outs[1])
        v = b.op(OpKind.CONCAT, [n.input(5), v], A.ConcatAttrs(2), out=outs[2])
    else:
        for raw, idx in ((k, 1), (v, 2)):
            if outs[idx]:
                b.op(OpKind.IDENTITY, [raw], A.NoAttrs(), out=outs[idx])
    _, hq, q_len, d = ctx.shape(q)
    hk, kv_len = ctx.shape(k)[1], ctx.shape(k)[2]
    if hq != hk:
        if hq % hk:
            raise ModelError(f"{hq} query heads are not a multiple of {hk} key heads", file=ctx.path, node=n.name)
        k, v = _repeat_heads(b, k, hq // hk), _repeat_heads(b, v, hq // hk)
    scale = n.attrs.get("scale")
    root = math.sqrt(float(scale) if scale is not None else 1.0 / math.sqrt(d))
    qs = b.op(OpKind.MUL, [q, b.const(root, q)], _EW)
    ks = b.op(OpKind.MUL, [k, b.const(root, q)], _EW)
    scores = b.op(OpKind.MATMUL, [qs, ks], A.MatMulAttrs(transpose_b=True))
    _finish(b, n, scores, v, q, (q_len, kv_len, past_len), outs, rank, nonpad)


def _finish(b: _Builder, n: OnnxNode, scores: str, v: str, like: str, lens: tuple[int, int, int],
            outs: list[str], rank: int, nonpad: np.ndarray | None) -> None:
    ctx = b.ctx
    q_len, kv_len, past_len = lens
    mode = n.i("qk_matmul_output_mode", 0)
    softcap = n.f("softcap", 0.0)
    if softcap > 0:
        t = b.op(OpKind.MUL, [scores, b.const(1.0 / softcap, like)], _EW)
        t = b.op(OpKind.TANH, [t], A.NoAttrs())
        scores = b.op(OpKind.MUL, [t, b.const(softcap, like)], _EW)
    stages = {0: scores, 1: scores}  # onnx's reference reports the softcapped product for modes 0 and 1
    bias = b.const(m, like) if (m := _frontier_bias(q_len, kv_len, past_len, bool(n.i("is_causal", 0)),
                                                       n.i("left_window_size", -1),
                                                       n.i("right_window_size", -1), nonpad)) is not None else ""
    if n.input(3):
        mb = _mask_bias(b, n.input(3), kv_len, like)
        bias = b.op(OpKind.ADD, [mb, bias], _EW) if bias else mb
    if bias:
        scores = b.op(OpKind.ADD, [scores, bias], _EW)
    stages[2] = scores
    probs = b.op(OpKind.SOFTMAX, [scores], A.SoftmaxAttrs(len(ctx.shape(scores)) - 1))
    if bias:  # rows whose every key is masked attend to nothing (onnx: zero, not NaN)
        top = b.op(OpKind.REDUCE_MAX, [bias], A.ReduceAttrs((len(ctx.shape(bias)) - 1,), True))
        dead = b.op(OpKind.EQUAL, [top, b.const(-np.inf, like)], A.NoAttrs(), dtype=DType.BOOL)
        probs = b.op(OpKind.WHERE, [dead, b.const(0.0, like), probs], A.NoAttrs(), dtype=ctx.t(like).dtype)
    stages[3] = probs
    if outs[3]:
        if mode not in stages:
            raise UnsupportedOpError(f"qk_matmul_output_mode {mode}", file=ctx.path, node=n.name)
        b.op(OpKind.IDENTITY, [stages[mode]], A.NoAttrs(), out=outs[3])
    if rank == 4:
        b.op(OpKind.MATMUL, [probs, v], A.MatMulAttrs(), out=outs[0])
        return
    y = b.op(OpKind.MATMUL, [probs, v], A.MatMulAttrs())
    bsz, h, s, dv = ctx.shape(y)
    t = b.op(OpKind.TRANSPOSE, [y], A.TransposeAttrs((0, 2, 1, 3)))
    b.op(OpKind.RESHAPE, [t], A.ReshapeAttrs((bsz, s, h * dv)), out=outs[0])


def _slice_last(b: _Builder, x: str, start: int, stop: int, step: int = 1) -> str:
    shape = b.ctx.shape(x)
    begin = (0,) * (len(shape) - 1) + (start,)
    end = tuple(shape[:-1]) + (stop,)
    return b.op(OpKind.SLICE, [x], A.SliceAttrs(begin, end, (1,) * (len(shape) - 1) + (step,)))


def rotary_embedding(ctx: Ctx, n: OnnxNode) -> None:
    """ONNX RotaryEmbedding (opset 23) as slices, multiplies and concatenations on (batch, seq, heads, head)."""
    b = _Builder(ctx, n)
    x, cos, sin, pos = n.inputs[0], n.input(1), n.input(2), n.input(3)
    orig = ctx.shape(x)
    if len(orig) == 4:
        x = b.op(OpKind.TRANSPOSE, [x], A.TransposeAttrs((0, 2, 1, 3)))
    elif len(orig) == 3:
        heads = n.i("num_heads", 0)
        if heads <= 0 or orig[2] % heads:
            raise ModelError("3-D RotaryEmbedding needs num_heads dividing the hidden size", file=ctx.path,
                             node=n.name)
        x = b.op(OpKind.RESHAPE, [x], A.ReshapeAttrs((orig[0], orig[1], heads, orig[2] // heads)))
    else:
        raise UnsupportedOpError(f"RotaryEmbedding on rank-{len(orig)} input", file=ctx.path, node=n.name)
    bsz, seq, heads, head = ctx.shape(x)
    rot = n.i("rotary_embedding_dim", 0) or head
    half = rot // 2
    caches = []
    for c in (cos, sin):
        if pos:
            c = b.op(OpKind.GATHER, [c, pos], A.GatherAttrs(0))
        if ctx.shape(c)[-1] != half:
            raise ModelError(f"cache width {ctx.shape(c)[-1]} is not rotary_embedding_dim/2 = {half}",
                             file=ctx.path, node=n.name)
        caches.append(b.op(OpKind.RESHAPE, [c], A.ReshapeAttrs((bsz, seq, 1, half))))
    cos_c, sin_c = caches
    xr = _slice_last(b, x, 0, rot) if rot < head else x
    interleaved = bool(n.i("interleaved", 0))
    if interleaved:
        x1, x2 = _slice_last(b, xr, 0, rot, 2), _slice_last(b, xr, 1, rot, 2)
    else:
        x1, x2 = _slice_last(b, xr, 0, half), _slice_last(b, xr, half, rot)
    real = b.op(OpKind.SUB, [b.op(OpKind.MUL, [cos_c, x1], _EW), b.op(OpKind.MUL, [sin_c, x2], _EW)], _EW)
    imag = b.op(OpKind.ADD, [b.op(OpKind.MUL, [sin_c, x1], _EW), b.op(OpKind.MUL, [cos_c, x2], _EW)], _EW)
    if interleaved:
        pair = (bsz, seq, heads, half, 1)
        parts = [b.op(OpKind.RESHAPE, [t], A.ReshapeAttrs(pair)) for t in (real, imag)]
        both = b.op(OpKind.CONCAT, parts, A.ConcatAttrs(4))
        y = b.op(OpKind.RESHAPE, [both], A.ReshapeAttrs((bsz, seq, heads, rot)))
    else:
        y = b.op(OpKind.CONCAT, [real, imag], A.ConcatAttrs(3))
    if rot < head:
        y = b.op(OpKind.CONCAT, [y, _slice_last(b, x, rot, head)], A.ConcatAttrs(3))
    if len(orig) == 3:
        b.op(OpKind.RESHAPE, [y], A.ReshapeAttrs(orig), out=n.outputs[0])
    else:
        b.op(OpKind.TRANSPOSE, [y], A.TransposeAttrs((0, 2, 1, 3)), out=n.outputs[0])
