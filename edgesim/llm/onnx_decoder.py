"""Decoder ONNX graphs with past key/values (Optimum / onnxruntime-genai exports) as an LLM architecture.

Only the graph structure and initializer shapes are read (external weight data is never loaded): the past key/value
inputs give layers, KV heads and head_dim; the embedding Gather gives vocab and hidden size; the MatMul /
MatMulNBits weights give the projections, the MLP width and each weight's storage (float dtype, or the int4/int8
block format of onnxruntime's MatMulNBits with its fp16 scale per block).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from edgesim.errors import ModelError
from edgesim.llm.arch import ModelArch, WeightTensor, arch_from_config
from edgesim.llm.quant import QuantScheme, TensorFormat

_PAST = re.compile(r"past_key_values\.(\d+)\.(key|value)|past\.(\d+)\.(key|value)|past_(key|value)_(\d+)")
_DTYPE_BITS = {onnx.TensorProto.FLOAT: 32, onnx.TensorProto.FLOAT16: 16, onnx.TensorProto.BFLOAT16: 16,
               onnx.TensorProto.INT8: 8, onnx.TensorProto.UINT8: 8}


@dataclass(frozen=True)
class _Weight:
    name: str
    k: int  # input features
    n: int  # output features
    bits_per_weight: float
    kernel: str
    act: str


def _attr(node: Any, name: str, default: int = 0) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def _weights(graph: Any, inits: dict[str, Any]) -> tuple[list[_Weight], _Weight | None]:
    out: list[_Weight] = []
    embed = None
    for node in graph.node:
        if node.op_type == "MatMulNBits" and len(node.input) > 1:
            k, n, bits, block = _attr(node, "K"), _attr(node, "N"), _attr(node, "bits", 4), _attr(node, "block_size", 32)
            zero = bits if len(node.input) > 3 and node.input[3] else 0
            out.append(_Weight(node.input[1], k, n, bits + (16 + zero) / max(block, 1), f"w{bits}", "fp16"))
        elif node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 and node.input[1] in inits:
            t = inits[node.input[1]]
            if len(t.dims) != 2:
                continue
            k, n = (t.dims[1], t.dims[0]) if node.op_type == "Gemm" and _attr(node, "transB") else tuple(t.dims)
            bits = _DTYPE_BITS.get(t.data_type, 32)
            out.append(_Weight(node.input[1], int(k), int(n), float(bits), "f16" if bits >= 16 else f"w{bits}",
                               "fp16" if bits >= 16 else "int8"))
        elif node.op_type == "Gather" and node.input and node.input[0] in inits and embed is None:
            t = inits[node.input[0]]
            if len(t.dims) == 2:
                bits = _DTYPE_BITS.get(t.data_type, 32)
                embed = _Weight(node.input[0], int(t.dims[1]), int(t.dims[0]), float(bits), "f16", "fp16")
    return out, embed


def _past_shape(graph: Any, path: Path) -> tuple[int, int, int]:
    layers: set[int] = set()
    shape: list[int] = []
    for inp in graph.input:
        m = _PAST.fullmatch(inp.name)
        if not m:
            continue
        layers.add(int(next(g for g in m.groups() if g and g.isdigit())))
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        if len(dims) == 4 and dims[1] and dims[3]:
            shape = dims
    if not layers:
        raise ModelError("no past_key_values inputs: not a decoder exported with a KV cache", file=str(path))
    if not shape:
        raise ModelError("past key/value inputs need static KV-head and head_dim sizes [batch, heads, seq, dim]",
                         file=str(path))
    return len(layers), shape[1], shape[3]


def read_onnx_decoder(path: str | Path) -> tuple[ModelArch, QuantScheme]:
    p = Path(path)
    if p.is_file() and p.stat().st_size == 0:  # protobuf reads an empty file as an empty model: say what it is
        raise ModelError("model file is empty", file=str(p))
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, OSError, ...
        raise ModelError(f"cannot read ONNX: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                         file=str(p)) from None
    graph = model.graph
    layers, kv_heads, head_dim = _past_shape(graph, p)
    inits = {t.name: t for t in graph.initializer}
    weights, embed = _weights(graph, inits)
    if embed is None or not weights:
        raise ModelError("no token-embedding Gather / projection weights found", file=str(p))
    hidden, vocab = embed.k, embed.n
    head = [w for w in weights if w.n == vocab and w.k == hidden]
    body = [w for w in weights if w not in head]
    from_hidden = Counter(w.n for w in body if w.k == hidden)
    ff = max((n for n in from_hidden if n != kv_heads * head_dim), default=4 * hidden)
    q_dims = [w.k for w in body if w.n == hidden and w.k != ff]
    q_dim = Counter(q_dims).most_common(1)[0][0] if q_dims else hidden
    cfg = {"model_type": "llama" if from_hidden.get(ff, 0) >= 2 * layers else "gpt_neox", "hidden_size": hidden,
           "intermediate_size": ff, "num_hidden_layers": layers, "num_attention_heads": max(q_dim // head_dim, 1),
           "num_key_value_heads": kv_heads, "head_dim": head_dim, "vocab_size": vocab,
           "tie_word_embeddings": not head, "_source": str(p)}
    if cfg["num_attention_heads"] % kv_heads:  # type: ignore[operator]
        raise ModelError(f"query width {q_dim} is not a multiple of the KV heads' {kv_heads} x {head_dim}",
                         file=str(p))
    arch = arch_from_config(cfg, p.stem, str(p))
    rows = [(WeightTensor(embed.name, "token_embd", -1, embed.k, embed.n),
             TensorFormat(embed.kernel, embed.bits_per_weight, embed.act))]
    rows += [(WeightTensor(w.name, "output" if w in head else "linear", -1, w.k, w.n),
              TensorFormat(w.kernel, w.bits_per_weight, w.act)) for w in weights]
    return arch, QuantScheme("onnx:" + p.name, tuple(rows))
