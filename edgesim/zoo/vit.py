"""ViT-Ti/S/B 16 (Dosovitskiy et al. 2021; DeiT sizes): patch conv, class token, pre-norm encoder blocks.

Batch 1 is implicit after the patch embedding: tokens are a (T, D) matrix, so every linear layer is a plain
FULLY_CONNECTED (ONNX Gemm) and attention heads are the batch dimension of MATMUL.
"""

from __future__ import annotations

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.zoo.builder import GraphBuilder


def _layer_norm(b: GraphBuilder, x: str) -> str:
    d = b.shape(x)[-1]
    name = b.uid("ln")
    gamma = b.const(f"{name}_gamma", np.ones(d, np.float32))
    beta = b.const(f"{name}_beta", np.zeros(d, np.float32))
    return b.one(OpKind.LAYER_NORM, [x, gamma, beta], A.LayerNormAttrs(axis=-1, epsilon=1e-6), prefix="layernorm")


def _attention(b: GraphBuilder, x: str, heads: int) -> str:
    tokens, dim = b.shape(x)
    head_dim = dim // heads
    qkv = b.fc(x, 3 * dim, gain=1.0)
    q, k, v = b.node(OpKind.SPLIT, [qkv], A.SplitAttrs(axis=1, sizes=(dim, dim, dim)), num_outputs=3)
    q = b.transpose(b.reshape(q, (tokens, heads, head_dim)), (1, 0, 2))
    k = b.transpose(b.reshape(k, (tokens, heads, head_dim)), (1, 2, 0))
    v = b.transpose(b.reshape(v, (tokens, heads, head_dim)), (1, 0, 2))
    scores = b.one(OpKind.MATMUL, [q, k], A.MatMulAttrs())
    scale = b.const(f"{b.uid('attn_scale')}", np.array([head_dim**-0.5], np.float32))
    probs = b.one(OpKind.SOFTMAX, [b.mul(scores, scale)], A.SoftmaxAttrs(axis=-1))
    ctx = b.one(OpKind.MATMUL, [probs, v], A.MatMulAttrs())
    ctx = b.reshape(b.transpose(ctx, (1, 0, 2)), (tokens, dim))
    return b.fc(ctx, dim, gain=1.0)


def vit_tiny(input_shape: tuple[int, int, int, int], num_classes: int, patch: int = 16, dim: int = 192,
             depth: int = 12, heads: int = 3, mlp_dim: int = 768) -> Graph:
    return _vit("vit_tiny", input_shape, num_classes, patch, dim, depth, heads, mlp_dim)


def vit_small(input_shape: tuple[int, int, int, int], num_classes: int) -> Graph:
    """ViT-S/16 (DeiT-S sizes, timm vit_small_patch16_224): width 384, 12 layers, 6 heads, MLP 1536."""
    return _vit("vit_small", input_shape, num_classes, 16, 384, 12, 6, 1536, uniform_weights=True)


def vit_base(input_shape: tuple[int, int, int, int], num_classes: int) -> Graph:
    """ViT-B/16 (Dosovitskiy et al. 2021, Table 1): width 768, 12 layers, 12 heads, MLP 3072."""
    return _vit("vit_base", input_shape, num_classes, 16, 768, 12, 12, 3072, uniform_weights=True)


def _vit(name: str, input_shape: tuple[int, int, int, int], num_classes: int, patch: int, dim: int, depth: int,
         heads: int, mlp_dim: int, uniform_weights: bool = False) -> Graph:
    _, _, h, w = input_shape
    if h % patch or w % patch:
        raise EdgesimError(f"input {h}x{w} is not a multiple of the {patch}x{patch} patch", field="resolution")
    b = GraphBuilder(name, uniform_weights=uniform_weights)
    x = b.input("input", input_shape)
    x = b.conv(x, dim, patch, patch, bias=True, padding=A.Padding())
    num_patches = (h // patch) * (w // patch)
    x = b.transpose(b.reshape(x, (dim, num_patches)), (1, 0))
    cls = b.const("cls_token", b.rng.standard_normal((1, dim)).astype(np.float32) * np.float32(0.02))
    x = b.concat([cls, x], axis=0)
    pos = b.const("pos_embed", b.rng.standard_normal((num_patches + 1, dim)).astype(np.float32) * np.float32(0.02))
    x = b.add(x, pos)
    for _ in range(depth):
        x = b.add(x, _attention(b, _layer_norm(b, x), heads))
        y = b.act(b.fc(_layer_norm(b, x), mlp_dim), "gelu")
        x = b.add(x, b.fc(y, dim, gain=1.0))
    x = _layer_norm(b, x)
    cls_out = b.one(OpKind.SLICE, [x], A.SliceAttrs(begin=(0, 0), end=(1, dim), step=(1, 1)))
    return b.build([b.fc(cls_out, num_classes)])
