"""BatchNormalization in training mode (opset 14+ ``training_mode=1``): normalised by the batch's own statistics.

Imported as the arithmetic of its definition (onnx's ``_batchnorm_training_mode``): per-channel mean and
population variance over every axis but 1, y = scale * (x - mean) / sqrt(var + epsilon) + bias, and the running
statistics blended with ``momentum`` as the optional outputs.
"""

from __future__ import annotations

from edgesim.frontends.onnx_ctx import Ctx, OnnxNode
from edgesim.frontends.onnx_dynq import Emit
from edgesim.ir import attrs as A
from edgesim.ir.ops import OpKind


def batch_norm_training(ctx: Ctx, n: OnnxNode) -> None:
    em = Emit(ctx, n)
    x, scale, bias, mean_in, var_in = n.inputs[:5]
    shape = ctx.shape(x)
    axes = tuple(i for i in range(len(shape)) if i != 1)
    per_channel = tuple(shape[1] if i == 1 else 1 for i in range(len(shape)))  # broadcast (1, C, 1, ...)

    def channel(v: str) -> str:
        return em.op(OpKind.RESHAPE, [v], A.ReshapeAttrs(per_channel))

    mean = em.op(OpKind.MEAN, [x], A.ReduceAttrs(axes, True))
    centred = em.op(OpKind.SUB, [x, mean], A.ElementwiseAttrs())
    var = em.op(OpKind.MEAN, [em.op(OpKind.MUL, [centred, centred], A.ElementwiseAttrs())], A.ReduceAttrs(axes, True))
    std = em.op(OpKind.SQRT, [em.op(OpKind.ADD, [var, em.const(n.f("epsilon", 1e-5))], A.ElementwiseAttrs())],
                A.NoAttrs())
    scaled = em.op(OpKind.MUL, [channel(scale), centred], A.ElementwiseAttrs())
    normed = em.op(OpKind.DIV, [scaled, std], A.ElementwiseAttrs())
    em.op(OpKind.ADD, [normed, channel(bias)], A.ElementwiseAttrs(), n.outputs[0])
    momentum = n.f("momentum", 0.9)
    outs = list(n.outputs) + ["", ""]
    for running, batch, out in ((mean_in, mean, outs[1]), (var_in, var, outs[2])):
        if not out:
            continue
        old = em.op(OpKind.MUL, [running, em.const(momentum)], A.ElementwiseAttrs())
        new = em.op(OpKind.MUL, [em.op(OpKind.RESHAPE, [batch], A.ReshapeAttrs((shape[1],))),
                                 em.const(1.0 - momentum)], A.ElementwiseAttrs())
        em.op(OpKind.ADD, [old, new], A.ElementwiseAttrs(), out)
