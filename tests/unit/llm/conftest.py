"""Small GGUF files written with the gguf package (tiny dims, real tensor types and metadata)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest

Q = gguf.GGMLQuantizationType


def write_gguf(path: Path, *, layers: int = 2, hidden: int = 256, ff: int = 512, heads: int = 4, kv_heads: int = 2,
               vocab: int = 1000, ctx: int = 1024, tied: bool = False, arch: str = "llama",
               types: dict[str, gguf.GGMLQuantizationType] | None = None) -> Path:
    types = types or {}
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(layers)
    w.add_embedding_length(hidden)
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
