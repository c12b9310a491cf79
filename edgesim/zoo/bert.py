"""BERT-family encoders as published: BERT-base (Devlin et al. 2019), DistilBERT (Sanh et al. 2019) and
MobileBERT (Sun et al. 2020), with the layer sizes of their Hugging Face configs (bert-base-uncased,
distilbert-base-uncased, google/mobilebert-uncased).

The input is one int32 row of token ids, shape (1, SEQ). Batch 1 is implicit inside: tokens are a (SEQ, D) matrix,
so linear layers are FULLY_CONNECTED and attention heads are MATMUL's batch dimension (as in ``vit.py``). The
embedding lookups are GATHERs on the vocabulary, position (constant ids 0..SEQ-1) and token-type (segment 0) tables,
counted as parameters, no MACs. No attention mask: every vendor table times
an unpadded sequence of the stated length. Outputs: the sequence output (1, SEQ, D), plus the pooled [CLS] output
(1, D) for the models that have a pooler.
"""

from __future__ import annotations

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir import attrs as A
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.ir.tensor import Tensor
from edgesim.zoo.builder import GraphBuilder
from edgesim.zoo.vit import _attention, _layer_norm

_VOCAB = 30522  # WordPiece vocabulary of the uncased English checkpoints
_MAX_POSITIONS = 512


def _start(name: str, seq: int) -> tuple[GraphBuilder, str]:
    if not 1 <= seq <= _MAX_POSITIONS:
        raise EdgesimError(f"{name} takes 1 to {_MAX_POSITIONS} tokens, got {seq}", field="input_shape")
    b = GraphBuilder(name, uniform_weights=True)
    ids = "input_ids"
    b.tensors[ids] = Tensor(ids, (1, seq), DType.INT32)
    b.inputs.append(ids)
    flat = b.reshape(ids, (seq,))
    b.tensors[flat] = b.tensors[flat].with_dtype(DType.INT32)  # still token ids: quantization must not touch them
    return b, flat


def _table(b: GraphBuilder, name: str, rows: int, dim: int) -> str:
    # embeddings are initialised ~N(0, 0.02) in BERT; this is U(-0.02, 0.02)
    return b.const(b.uid(name), b.uniform((rows, dim), 0.02))


def _rows(b: GraphBuilder, table: str, n: int) -> str:
    dim = b.shape(table)[1]
    return b.one(OpKind.SLICE, [table], A.SliceAttrs(begin=(0, 0), end=(n, dim), step=(1, 1)))


def _lookup(b: GraphBuilder, table: str, ids: np.ndarray) -> str:
    """Rows ``ids`` of an embedding table, as Hugging Face's ONNX export looks up positions and segments: a
    GATHER with constant indices (it reads only those rows)."""
    name = b.uid("ids")
    b.tensors[name] = Tensor(name, tuple(int(d) for d in ids.shape), DType.INT32, data=ids.astype(np.int32))
    return b.one(OpKind.GATHER, [table, name], A.GatherAttrs(axis=0))


def _position_and_segment(b: GraphBuilder, x: str, seq: int, dim: int) -> str:
    """x + position embeddings of 0..SEQ-1 + segment-0 embedding (broadcast over the tokens)."""
    x = b.add(x, _lookup(b, _table(b, "position_embeddings", _MAX_POSITIONS, dim), np.arange(seq)))
    return b.add(x, _lookup(b, _table(b, "token_type_embeddings", 2, dim), np.zeros(1, np.int64)))


def _embed(b: GraphBuilder, ids: str, dim: int, token_types: bool) -> str:
    """Word + position (+ segment 0) embeddings."""
    seq = b.shape(ids)[0]
    x = b.one(OpKind.GATHER, [_table(b, "word_embeddings", _VOCAB, dim), ids], A.GatherAttrs(axis=0))
    if token_types:
        return _position_and_segment(b, x, seq, dim)
    return b.add(x, _lookup(b, _table(b, "position_embeddings", _MAX_POSITIONS, dim), np.arange(seq)))


def _post_norm_layer(b: GraphBuilder, x: str, heads: int, ffn: int) -> str:
    """BERT's post-norm encoder layer: LN(x + attention(x)), then LN(x + W2 gelu(W1 x))."""
    dim = b.shape(x)[1]
    x = _layer_norm(b, b.add(x, _attention(b, x, heads)))
    y = b.fc(b.act(b.fc(x, ffn), "gelu"), dim)
    return _layer_norm(b, b.add(x, y))


def _pooler(b: GraphBuilder, x: str) -> str:
    dim = b.shape(x)[1]
    return b.one(OpKind.TANH, [b.fc(_rows(b, x, 1), dim)], A.NoAttrs())


def _encoder(name: str, seq: int, layers: int, dim: int, heads: int, ffn: int, pooler: bool) -> Graph:
    b, ids = _start(name, seq)
    x = _layer_norm(b, _embed(b, ids, dim, token_types=pooler))
    for _ in range(layers):
        x = _post_norm_layer(b, x, heads, ffn)
    outs = [b.reshape(x, (1, seq, dim))]
    if pooler:
        outs.append(_pooler(b, x))
    return b.build(outs)


def bert_base(seq_len: int) -> Graph:
    """bert-base-uncased: 12 layers, hidden 768, 12 heads, FFN 3072, GELU, pooler."""
    return _encoder("bert_base", seq_len, 12, 768, 12, 3072, pooler=True)


def distilbert(seq_len: int) -> Graph:
    """distilbert-base-uncased: BERT-base with every other layer, no token types, no pooler."""
    return _encoder("distilbert", seq_len, 6, 768, 12, 3072, pooler=False)


# --- MobileBERT ---------------------------------------------------------------------------------------------------
def _no_norm(b: GraphBuilder, x: str, scale: float = 1.0) -> str:
    """MobileBERT's NoNorm: a per-feature scale and shift replacing LayerNorm (MUL then ADD)."""
    d = b.shape(x)[-1]
    name = b.uid("nonorm")
    w = b.const(f"{name}_w", np.full(d, scale, np.float32))
    bias = b.const(f"{name}_b", np.zeros(d, np.float32))
    return b.add(b.mul(x, w), bias)


def _dense_norm(b: GraphBuilder, x: str, out: int, residual: str | None = None) -> str:
    y = b.fc(x, out)
    if residual is None:
        return _no_norm(b, y)
    # Trained NoNorm scales keep the residual stream bounded; with random weights 1/sqrt(2) does the same
    # (the sum of two unit-variance branches), so 24 layers of float calibration stay finite.
    return _no_norm(b, b.add(y, residual), scale=0.5**0.5)


def _mobilebert_attention(b: GraphBuilder, qk_in: str, v_in: str, heads: int, dim: int) -> str:
    tokens = b.shape(qk_in)[0]
    head_dim = dim // heads

    def split_heads(t: str, perm: tuple[int, ...]) -> str:
        return b.transpose(b.reshape(t, (tokens, heads, head_dim)), perm)

    q = split_heads(b.fc(qk_in, dim), (1, 0, 2))
    k = split_heads(b.fc(qk_in, dim), (1, 2, 0))
    v = split_heads(b.fc(v_in, dim), (1, 0, 2))
    scale = b.const(b.uid("attn_scale"), np.array([head_dim**-0.5], np.float32))
    probs = b.one(OpKind.SOFTMAX, [b.mul(b.one(OpKind.MATMUL, [q, k], A.MatMulAttrs()), scale)],
                  A.SoftmaxAttrs(axis=-1))
    ctx = b.one(OpKind.MATMUL, [probs, v], A.MatMulAttrs())
    return b.reshape(b.transpose(ctx, (1, 0, 2)), (tokens, dim))


def _mobilebert_layer(b: GraphBuilder, x: str, inner: int, heads: int, ffn: int, stacked_ffn: int) -> str:
    hidden = b.shape(x)[1]
    layer_input = _dense_norm(b, x, inner)  # input bottleneck 512 -> 128
    shared = _dense_norm(b, x, inner)  # key/query shared bottleneck; values come from the 512-wide input
    y = _dense_norm(b, _mobilebert_attention(b, shared, x, heads, inner), inner, residual=layer_input)
    for _ in range(stacked_ffn):
        h = b.act(b.fc(y, ffn), "relu")
        y = _dense_norm(b, h, inner, residual=y)
    return _dense_norm(b, y, hidden, residual=x)  # output bottleneck 128 -> 512


def mobilebert(seq_len: int) -> Graph:
    """google/mobilebert-uncased: 24 layers, hidden 512 with 128-wide bottlenecks, 4 heads, four stacked
    128->512->128 ReLU FFNs, NoNorm, 128-d trigram embeddings projected to 512, tanh pooler."""
    if seq_len < 2:
        raise EdgesimError(f"mobilebert's trigram embedding needs at least 2 tokens, got {seq_len}", field="input_shape")
    b, ids = _start("mobilebert", seq_len)
    emb_dim, hidden = 128, 512
    e = b.one(OpKind.GATHER, [_table(b, "word_embeddings", _VOCAB, emb_dim), ids], A.GatherAttrs(axis=0))
    # Trigram input: each token sees [next, itself, previous] embeddings (zero rows at the ends).
    nxt = b.one(OpKind.PAD, [b.one(OpKind.SLICE, [e], A.SliceAttrs((1, 0), (seq_len, emb_dim), (1, 1)))],
                A.PadAttrs(((0, 1), (0, 0))))
    prv = b.one(OpKind.PAD, [b.one(OpKind.SLICE, [e], A.SliceAttrs((0, 0), (seq_len - 1, emb_dim), (1, 1)))],
                A.PadAttrs(((1, 0), (0, 0))))
    x = b.fc(b.concat([nxt, e, prv], axis=1), hidden)
    x = _no_norm(b, _position_and_segment(b, x, seq_len, hidden))
    for _ in range(24):
        x = _mobilebert_layer(b, x, 128, 4, 512, 4)
    return b.build([b.reshape(x, (1, seq_len, hidden)), _pooler(b, x)])
