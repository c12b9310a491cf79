"""ONNX LSTM and GRU unrolled over their (static) sequence length into IR ops, as the equations of the ONNX
specification: the input projection of every time step is one FULLY_CONNECTED over the whole sequence, then per
step a FULLY_CONNECTED of the hidden state, the gate split, activations and elementwise updates. Forward,
reverse and bidirectional; batch-major layout; LSTM peepholes; cell clipping. Only the default activation
functions are accepted; variable sequence lengths and LSTM input_forget are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.ir import attrs as A
from edgesim.ir.ops import OpKind

_EW = A.ElementwiseAttrs()
_DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


@dataclass
class _Rnn:
    ctx: Ctx
    n: OnnxNode
    seq: int
    batch: int
    hidden: int
    k: int = 0

    def op(self, kind: OpKind, ins: list[str], attrs: object, out: str = "") -> str:
        self.k += 1
        name = out or self.ctx.fresh(f"{self.n.name}_r{self.k}")
        self.ctx.emit(kind, ins, [name], attrs, f"{self.n.name}_{self.k}")
        return name

    def const(self, arr: np.ndarray) -> str:
        return self.ctx.add_const(self.ctx.fresh(f"{self.n.name}_c"), np.ascontiguousarray(arr, np.float32))

    def act(self, x: str, kind: OpKind) -> str:
        return self.op(kind, [x], A.NoAttrs())

    def clip(self, x: str) -> str:
        c = self.n.attrs.get("clip")
        return x if c is None else self.op(OpKind.CLIP, [x], A.ClipAttrs(-float(c), float(c)))

    def gates(self, x: str, parts: int) -> list[str]:
        outs = [self.ctx.fresh(f"{self.n.name}_g{self.k}_{j}") for j in range(parts)]
        self.k += 1
        self.ctx.emit(OpKind.SPLIT, [x], outs, A.SplitAttrs(1, (self.hidden,) * parts), f"{self.n.name}_{self.k}")
        return outs


def _setup(ctx: Ctx, n: OnnxNode, gates: int) -> tuple[_Rnn, str, np.ndarray, np.ndarray, np.ndarray, int]:
    acts = n.attrs.get("activations")
    if acts and [str(a) for a in acts][: len(_DEFAULT_ACTS[n.op_type])] != _DEFAULT_ACTS[n.op_type] or (
            acts and len(acts) not in (len(_DEFAULT_ACTS[n.op_type]), 2 * len(_DEFAULT_ACTS[n.op_type]))):
        raise UnsupportedOpError(f"{n.op_type} activations {acts} (only the defaults)", file=ctx.path, node=n.name)
    if n.i("input_forget", 0):
        raise UnsupportedOpError("LSTM with input_forget", file=ctx.path, node=n.name)
    x = n.inputs[0]
    if n.i("layout", 0):
        x_t = ctx.fresh(f"{n.name}_seqmajor")
        ctx.emit(OpKind.TRANSPOSE, [x], [x_t], A.TransposeAttrs((1, 0, 2)), f"{n.name}_layout")
        x = x_t
    seq, batch, _ = ctx.shape(x)
    w = np.asarray(ctx.need_const(n.input(1), n, "W"), np.float32)
    r = np.asarray(ctx.need_const(n.input(2), n, "R"), np.float32)
    hidden = r.shape[-1]
    dirs = w.shape[0]
    b = (np.asarray(ctx.need_const(n.input(3), n, "B"), np.float32) if n.input(3)
         else np.zeros((dirs, 2 * gates * hidden), np.float32))
    if n.input(4):
        lens = np.asarray(ctx.need_const(n.input(4), n, "sequence_lens")).reshape(-1)
        if np.any(lens != seq):
            raise UnsupportedOpError(f"{n.op_type} with variable sequence_lens", file=ctx.path, node=n.name)
    if w.shape[1] != gates * hidden or n.i("hidden_size", hidden) != hidden:
        raise ModelError(f"{n.op_type} weights {w.shape} do not match hidden size {hidden}", file=ctx.path,
                         node=n.name)
    return _Rnn(ctx, n, seq, batch, hidden), x, w, r, b, dirs


def _steps(rnn: _Rnn, x: str, w: np.ndarray, bias: np.ndarray) -> list[str]:
    """Input projection of every step (seq*batch rows in one FULLY_CONNECTED), sliced per step."""
    seq, batch = rnn.seq, rnn.batch
    flat = rnn.op(OpKind.RESHAPE, [x], A.ReshapeAttrs((seq * batch, rnn.ctx.shape(x)[2])))
    proj = rnn.op(OpKind.FULLY_CONNECTED, [flat, rnn.const(w), rnn.const(bias)], A.FullyConnectedAttrs())
    width = w.shape[0]
    return [rnn.op(OpKind.SLICE, [proj], A.SliceAttrs((t * batch, 0), ((t + 1) * batch, width), (1, 1)))
            for t in range(seq)]


def _initial(rnn: _Rnn, raw: str, d: int) -> str:
    """Direction ``d``'s initial state as (batch, hidden): zeros when the model gives none."""
    if not raw:
        return rnn.const(np.zeros((rnn.batch, rnn.hidden), np.float32))
    if rnn.n.i("layout", 0):
        raw = rnn.op(OpKind.TRANSPOSE, [raw], A.TransposeAttrs((1, 0, 2)))
    one = raw if rnn.ctx.shape(raw)[0] == 1 else rnn.op(
        OpKind.SLICE, [raw], A.SliceAttrs((d, 0, 0), (d + 1, rnn.batch, rnn.hidden), (1, 1, 1)))
    return rnn.op(OpKind.RESHAPE, [one], A.ReshapeAttrs((rnn.batch, rnn.hidden)))


def _lstm_dir(rnn: _Rnn, x: str, w: np.ndarray, r: np.ndarray, b: np.ndarray, p: np.ndarray | None, d: int,
              reverse: bool) -> tuple[list[str], str, str]:
    h4 = 4 * rnn.hidden
    steps = _steps(rnn, x, w, b[:h4] + b[h4:])
    h, c = _initial(rnn, rnn.n.input(5), d), _initial(rnn, rnn.n.input(6), d)
    rc = rnn.const(r)
    peep = [rnn.const(p[j * rnn.hidden:(j + 1) * rnn.hidden]) for j in range(3)] if p is not None else None
    hs: list[str] = [""] * rnn.seq
    for t in (range(rnn.seq - 1, -1, -1) if reverse else range(rnn.seq)):
        pre = rnn.op(OpKind.ADD, [steps[t], rnn.op(OpKind.FULLY_CONNECTED, [h, rc], A.FullyConnectedAttrs())], _EW)
        gi, go, gf, gc = rnn.gates(pre, 4)  # ONNX order: input, output, forget, cell
        if peep is not None:
            gi = rnn.op(OpKind.ADD, [gi, rnn.op(OpKind.MUL, [peep[0], c], _EW)], _EW)
            gf = rnn.op(OpKind.ADD, [gf, rnn.op(OpKind.MUL, [peep[2], c], _EW)], _EW)
        i = rnn.act(rnn.clip(gi), OpKind.SIGMOID)
        f = rnn.act(rnn.clip(gf), OpKind.SIGMOID)
        cand = rnn.act(rnn.clip(gc), OpKind.TANH)
        c = rnn.op(OpKind.ADD, [rnn.op(OpKind.MUL, [f, c], _EW), rnn.op(OpKind.MUL, [i, cand], _EW)], _EW)
        if peep is not None:
            go = rnn.op(OpKind.ADD, [go, rnn.op(OpKind.MUL, [peep[1], c], _EW)], _EW)
        o = rnn.act(rnn.clip(go), OpKind.SIGMOID)
        h = rnn.op(OpKind.MUL, [o, rnn.act(c, OpKind.TANH)], _EW)
        hs[t] = h
    return hs, h, c


def _gru_dir(rnn: _Rnn, x: str, w: np.ndarray, r: np.ndarray, b: np.ndarray, d: int,
             reverse: bool) -> tuple[list[str], str]:
    hd = rnn.hidden
    wb, rb = b[:3 * hd], b[3 * hd:]
    lbr = bool(rnn.n.i("linear_before_reset", 0))
    # z and r take both biases; the candidate takes Wb_h here and Rb_h where the spec puts it
    steps = _steps(rnn, x, w, wb + np.concatenate([rb[:2 * hd], np.zeros(hd, np.float32)]))
    h = _initial(rnn, rnn.n.input(5), d)
    r_zr, r_h = rnn.const(r[:2 * hd]), rnn.const(r[2 * hd:])
    rb_h = rnn.const(rb[2 * hd:])
    hs: list[str] = [""] * rnn.seq
    for t in (range(rnn.seq - 1, -1, -1) if reverse else range(rnn.seq)):
        xz, xr, xh = rnn.gates(steps[t], 3)
        hz, hr = rnn.gates(rnn.op(OpKind.FULLY_CONNECTED, [h, r_zr], A.FullyConnectedAttrs()), 2)
        z = rnn.act(rnn.clip(rnn.op(OpKind.ADD, [xz, hz], _EW)), OpKind.SIGMOID)
        rg = rnn.act(rnn.clip(rnn.op(OpKind.ADD, [xr, hr], _EW)), OpKind.SIGMOID)
        if lbr:
            hh = rnn.op(OpKind.FULLY_CONNECTED, [h, r_h, rb_h], A.FullyConnectedAttrs())
            inner = rnn.op(OpKind.MUL, [rg, hh], _EW)
        else:
            inner = rnn.op(OpKind.FULLY_CONNECTED, [rnn.op(OpKind.MUL, [rg, h], _EW), r_h, rb_h],
                           A.FullyConnectedAttrs())
        cand = rnn.act(rnn.clip(rnn.op(OpKind.ADD, [xh, inner], _EW)), OpKind.TANH)
        one_minus = rnn.op(OpKind.SUB, [rnn.const(np.ones((), np.float32)), z], _EW)
        h = rnn.op(OpKind.ADD, [rnn.op(OpKind.MUL, [one_minus, cand], _EW), rnn.op(OpKind.MUL, [z, h], _EW)], _EW)
        hs[t] = h
    return hs, h


def _rnn_dir(rnn: _Rnn, x: str, w: np.ndarray, r: np.ndarray, b: np.ndarray, d: int,
             reverse: bool) -> tuple[list[str], str]:
    hd = rnn.hidden
    steps = _steps(rnn, x, w, b[:hd] + b[hd:])
    h = _initial(rnn, rnn.n.input(5), d)
    rc = rnn.const(r)
    hs: list[str] = [""] * rnn.seq
    for t in (range(rnn.seq - 1, -1, -1) if reverse else range(rnn.seq)):
        pre = rnn.op(OpKind.ADD, [steps[t], rnn.op(OpKind.FULLY_CONNECTED, [h, rc], A.FullyConnectedAttrs())], _EW)
        h = rnn.act(rnn.clip(pre), OpKind.TANH)
        hs[t] = h
    return hs, h


def _outputs(rnn: _Rnn, per_dir: list[tuple[list[str], list[str]]]) -> None:
    """Y (seq, dirs, batch, hidden) and the final states (dirs, batch, hidden), batch-major when layout=1."""
    n, outs = rnn.n, list(rnn.n.outputs) + ["", "", ""]
    batch_major = bool(n.i("layout", 0))
    unit = (1, 1, rnn.batch, rnn.hidden)
    if outs[0]:
        cols = [rnn.op(OpKind.CONCAT, [rnn.op(OpKind.RESHAPE, [h], A.ReshapeAttrs(unit)) for h in hs],
                       A.ConcatAttrs(0)) for hs, _ in per_dir]
        y = cols[0] if len(cols) == 1 else rnn.op(OpKind.CONCAT, cols, A.ConcatAttrs(1))
        if batch_major:
            rnn.op(OpKind.TRANSPOSE, [y], A.TransposeAttrs((2, 0, 1, 3)), out=outs[0])
        else:
            rnn.op(OpKind.IDENTITY, [y], A.NoAttrs(), out=outs[0])
    for k in (1, 2):
        if not outs[k] or k >= len(per_dir[0][1]) + 1:
            continue
        finals = [rnn.op(OpKind.RESHAPE, [states[k - 1]], A.ReshapeAttrs(unit[1:])) for _, states in per_dir]
        s = finals[0] if len(finals) == 1 else rnn.op(OpKind.CONCAT, finals, A.ConcatAttrs(0))
        if batch_major:
            rnn.op(OpKind.TRANSPOSE, [s], A.TransposeAttrs((1, 0, 2)), out=outs[k])
        else:
            rnn.op(OpKind.IDENTITY, [s], A.NoAttrs(), out=outs[k])


def _directions(n: OnnxNode, dirs: int) -> list[bool]:
    mode = n.s("direction", "forward")
    return [False, True] if mode == "bidirectional" else [mode == "reverse"] * dirs


def lstm(ctx: Ctx, n: OnnxNode) -> None:
    rnn, x, w, r, b, dirs = _setup(ctx, n, 4)
    p = np.asarray(ctx.need_const(n.input(7), n, "P"), np.float32) if n.input(7) else None
    per_dir = []
    for d, reverse in enumerate(_directions(n, dirs)):
        hs, h, c = _lstm_dir(rnn, x, w[d], r[d], b[d], None if p is None else p[d], d, reverse)
        per_dir.append((hs, [h, c]))
    _outputs(rnn, per_dir)


def gru(ctx: Ctx, n: OnnxNode) -> None:
    rnn, x, w, r, b, dirs = _setup(ctx, n, 3)
    per_dir = []
    for d, reverse in enumerate(_directions(n, dirs)):
        hs, h = _gru_dir(rnn, x, w[d], r[d], b[d], d, reverse)
        per_dir.append((hs, [h]))
    _outputs(rnn, per_dir)


def rnn(ctx: Ctx, n: OnnxNode) -> None:
    """The simple (Elman) RNN: H_t = tanh(X_t W^T + H_{t-1} R^T + Wb + Rb)."""
    state, x, w, r, b, dirs = _setup(ctx, n, 1)
    per_dir = []
    for d, reverse in enumerate(_directions(n, dirs)):
        hs, h = _rnn_dir(state, x, w[d], r[d], b[d], d, reverse)
        per_dir.append((hs, [h]))
    _outputs(state, per_dir)
