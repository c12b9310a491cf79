"""ONNX Einsum lowered to the ops runtimes run it with: letters only one operand uses (and the output does not) are
summed away, then the operands are transposed and reshaped to (batch, rows, contracted) x (batch, contracted,
columns), multiplied with one batched MATMUL, reshaped and transposed to the output order. Single-operand
equations are reductions and transposes. Ellipses and repeated letters within a term (diagonals) are refused.
"""

from __future__ import annotations

import math

from edgesim.errors import ModelError, UnsupportedOpError
from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.ir import attrs as A
from edgesim.ir.ops import OpKind


def _parse(ctx: Ctx, n: OnnxNode, eq: str, n_inputs: int) -> tuple[list[str], str]:
    eq = eq.replace(" ", "")
    if "..." in eq:
        raise UnsupportedOpError(f"Einsum with an ellipsis ('{eq}')", file=ctx.path, node=n.name)
    lhs, _, out = eq.partition("->")
    terms = lhs.split(",")
    if "->" not in eq:  # implicit output: the letters used once, in alphabetical order
        letters = "".join(terms)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(terms) != n_inputs or any(len(set(t)) != len(t) for t in terms + [out]):
        raise UnsupportedOpError(f"Einsum '{eq}' (repeated letters or {len(terms)} terms for {n_inputs} inputs)",
                                 file=ctx.path, node=n.name)
    return terms, out


class _Emitter:
    def __init__(self, ctx: Ctx, n: OnnxNode) -> None:
        self.ctx, self.n, self.k = ctx, n, 0

    def __call__(self, op: OpKind, x: str, attrs: object, out: str = "") -> str:
        self.k += 1
        name = out or self.ctx.fresh(f"{self.n.name}_e{self.k}")
        self.ctx.emit(op, [x], [name], attrs, f"{self.n.name}_{self.k}")
        return name

    def permute(self, x: str, term: str, order: str) -> str:
        if term == order:
            return x
        return self(OpKind.TRANSPOSE, x, A.TransposeAttrs(tuple(term.index(c) for c in order)))

    def sum_out(self, x: str, term: str, keep: set[str]) -> tuple[str, str]:
        drop = tuple(i for i, c in enumerate(term) if c not in keep)
        if not drop:
            return x, term
        y = self(OpKind.REDUCE_SUM, x, A.ReduceAttrs(drop, False))
        return y, "".join(c for c in term if c in keep)


def einsum(ctx: Ctx, n: OnnxNode) -> None:
    ins = [i for i in n.inputs if i]
    terms, out = _parse(ctx, n, n.s("equation", ""), len(ins))
    e = _Emitter(ctx, n)
    size: dict[str, int] = {}
    for x, term in zip(ins, terms, strict=True):
        shape = ctx.shape(x)
        if len(shape) != len(term):
            raise ModelError(f"Einsum term '{term}' does not fit rank {len(shape)}", file=ctx.path, node=n.name)
        for c, d in zip(term, shape, strict=True):
            if size.setdefault(c, d) != d:
                raise UnsupportedOpError(f"Einsum letter '{c}' with sizes {size[c]} and {d} (broadcasting)",
                                         file=ctx.path, node=n.name)
    if len(ins) == 1:
        x, term = e.sum_out(ins[0], terms[0], set(out))
        if term == out:
            e(OpKind.IDENTITY, x, A.NoAttrs(), out=n.outputs[0])
        else:
            e(OpKind.TRANSPOSE, x, A.TransposeAttrs(tuple(term.index(c) for c in out)), out=n.outputs[0])
        return
    if len(ins) != 2:
        raise UnsupportedOpError(f"Einsum with {len(ins)} operands", file=ctx.path, node=n.name)
    a, ta = e.sum_out(ins[0], terms[0], set(out) | set(terms[1]))
    b, tb = e.sum_out(ins[1], terms[1], set(out) | set(ta))
    batch = "".join(c for c in ta if c in tb and c in out)
    contract = "".join(c for c in ta if c in tb and c not in out)
    fa = "".join(c for c in ta if c not in tb)
    fb = "".join(c for c in tb if c not in ta)

    def prod(letters: str) -> int:
        return math.prod(size[c] for c in letters)

    a = e(OpKind.RESHAPE, e.permute(a, ta, batch + fa + contract),
          A.ReshapeAttrs((prod(batch), prod(fa), prod(contract))))
    b = e(OpKind.RESHAPE, e.permute(b, tb, batch + contract + fb),
          A.ReshapeAttrs((prod(batch), prod(contract), prod(fb))))
    mm = ctx.fresh(f"{n.name}_mm")
    ctx.emit(OpKind.MATMUL, [a, b], [mm], A.MatMulAttrs(), n.name)
    res = batch + fa + fb
    y = e(OpKind.RESHAPE, mm, A.ReshapeAttrs(tuple(size[c] for c in res)),
          out=n.outputs[0] if res == out else "")
    if res != out:
        e(OpKind.TRANSPOSE, y, A.TransposeAttrs(tuple(res.index(c) for c in out)), out=n.outputs[0])
