"""Small GGUF files written with the gguf package (tiny dims, real tensor types and metadata)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import onnx
import pytest

Q = gguf.GGMLQuantizationType


def write_gguf(path: Path, *, layers: int = 2, hidden: int = 256, ff: int = 512, heads: int = 4, kv_heads: int = 2,
               vocab: int = 1000, ctx: int = 1024, tied: bool = False, arch: str = "llama",
               types: dict[str, gguf.GGMLQuantizationType] | None = None,
               floats: dict[str, float] | None = None, header_layers: int | None = None,
               header_hidden: int | None = None) -> Path:
    """header_layers / header_hidden: a header that disagrees with the tensor table written (a corrupt file)."""
    types = types or {}
    w = gguf.GGUFWriter(str(path), arch)
    for key, val in (floats or {}).items():
        w.add_float32(key, val)
    w.add_block_count(layers if header_layers is None else header_layers)
    w.add_embedding_length(hidden if header_hidden is None else header_hidden)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_context_length(ctx)
    w.add_vocab_size(vocab)
    head_dim = hidden // heads

    def add(name: str, ne0: int, rows: int, role: str) -> None:
        typ = types.get(role, Q.Q4_0)
        block, size = gguf.GGML_QUANT_SIZES[typ]
        w.add_tensor(name, np.zeros((rows, ne0 // block * size), dtype=np.uint8), raw_dtype=typ)

    add("token_embd.weight", hidden, vocab, "token_embd")
    for i in range(layers):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", np.ones(hidden, dtype=np.float32))
        add(b + "attn_q.weight", hidden, heads * head_dim, "attn_q")
        add(b + "attn_k.weight", hidden, kv_heads * head_dim, "attn_k")
        add(b + "attn_v.weight", hidden, kv_heads * head_dim, "attn_v")
        add(b + "attn_output.weight", heads * head_dim, hidden, "attn_output")
        add(b + "ffn_gate.weight", hidden, ff, "ffn_gate")
        add(b + "ffn_up.weight", hidden, ff, "ffn_up")
        add(b + "ffn_down.weight", ff, hidden, "ffn_down")
    if not tied:
        add("output.weight", hidden, vocab, "output")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def gguf_file(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "tiny.gguf", **kw: object) -> Path:
        return write_gguf(tmp_path / name, **kw)  # type: ignore[arg-type]
    return make


def write_onnx_decoder(path: Path, *, layers: int = 2, hidden: int = 256, ff: int = 512, heads: int = 4,
                       kv_heads: int = 2, vocab: int = 1000, nbits_q: bool = True) -> Path:
    """A decoder graph as Optimum exports it, reduced to what the importer reads: past key/value inputs, the
    embedding Gather, one MatMul (or MatMulNBits, int4 block 32) per projection."""
    from onnx import TensorProto, helper

    hd = hidden // heads
    inits, nodes = [], []
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]

    def weight(name: str, k: int, n: int) -> None:
        inits.append(helper.make_tensor(name, TensorProto.FLOAT16, [k, n], vals=np.zeros(k * n, np.float16).tobytes(),
                                        raw=True))
        nodes.append(helper.make_node("MatMul", ["x", name], [name + "_out"]))

    inits.append(helper.make_tensor("embed", TensorProto.FLOAT16, [vocab, hidden],
                                    vals=np.zeros(vocab * hidden, np.float16).tobytes(), raw=True))
    nodes.append(helper.make_node("Gather", ["embed", "input_ids"], ["x"]))
    for i in range(layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT16,
                                                        ["batch", kv_heads, "past", hd]))
        if nbits_q:
            packed = np.zeros(heads * hd * hidden // 2, np.uint8)
            inits.append(helper.make_tensor(f"q{i}", TensorProto.UINT8, [heads * hd, hidden // 32, 16],
                                            vals=packed.tobytes(), raw=True))
            nodes.append(helper.make_node("MatMulNBits", ["x", f"q{i}", f"q{i}_scales"], [f"q{i}_out"],
                                          domain="com.microsoft", K=hidden, N=heads * hd, bits=4, block_size=32))
        else:
            weight(f"q{i}", hidden, heads * hd)
        weight(f"k{i}", hidden, kv_heads * hd)
        weight(f"v{i}", hidden, kv_heads * hd)
        weight(f"o{i}", heads * hd, hidden)
        weight(f"gate{i}", hidden, ff)
        weight(f"up{i}", hidden, ff)
        weight(f"down{i}", ff, hidden)
    weight("lm_head", hidden, vocab)
    graph = helper.make_graph(nodes, "decoder", inputs,
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT16, None)], inits)
    onnx.save(helper.make_model(graph), str(path))
    return path
