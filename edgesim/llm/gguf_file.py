"""Read a GGUF file's header with the ``gguf`` package: architecture, dimensions and every tensor's quant type.

Only the header and tensor table are read (numpy memory-maps the file; tensor data is never touched), so a user's
own 4 GB file is costed exactly as it is quantized in milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from edgesim.errors import ModelError
from edgesim.llm.arch import GGUF_ARCH, ModelArch, WeightTensor, arch_from_config
from edgesim.llm.quant import QuantScheme, TensorFormat, ggml_format

_BLK = re.compile(r"^blk\.(\d+)\.([a-z_0-9]+)\.weight$")


@dataclass(frozen=True)
class GgufModel:
    arch: ModelArch
    scheme: QuantScheme
    file_type: str | None  # general.file_type as llama.cpp names it (MOSTLY_Q4_K_M -> Q4_K_M), if present


def _field(reader: Any, key: str) -> Any:
    f = reader.fields.get(key)
    if f is None:
        return None
    if not f.data:
        return None
    val = f.parts[f.data[0]]
    if f.types and f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(val).decode("utf-8", errors="replace")
    if f.types and f.types[0] == gguf.GGUFValueType.ARRAY:
        return len(f.data)
    return val.tolist()[0] if hasattr(val, "tolist") else val


def _open(path: Path) -> Any:
    if not path.is_file():
        raise ModelError("GGUF file not found", file=str(path))
    try:
        return gguf.GGUFReader(str(path), "r")
    except Exception as exc:  # the reader raises ValueError/struct/numpy errors on corrupt or truncated files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"corrupt or truncated GGUF: {msg}", file=str(path)) from None


def read_gguf(path: str | Path) -> GgufModel:
    p = Path(path)
    reader = _open(p)
    arch_name = _field(reader, "general.architecture")
    if not isinstance(arch_name, str):
        raise ModelError("GGUF has no general.architecture", file=str(p), field="general.architecture")
    if arch_name not in GGUF_ARCH:
        raise ModelError(f"unknown architecture '{arch_name}'; known: {', '.join(sorted(GGUF_ARCH))}",
                         file=str(p), field="general.architecture")
    a = arch_name
    tensors = list(reader.tensors)
    names = {t.name for t in tensors}
    vocab = _field(reader, f"{a}.vocab_size") or _field(reader, "tokenizer.ggml.tokens")
    if not vocab and "token_embd.weight" in names:
        vocab = int(next(t for t in tensors if t.name == "token_embd.weight").shape[1])
    cfg: dict[str, Any] = {
        "model_type": GGUF_ARCH[a],
        "hidden_size": _field(reader, f"{a}.embedding_length"),
        "intermediate_size": _field(reader, f"{a}.feed_forward_length"),
        "num_hidden_layers": _field(reader, f"{a}.block_count"),
        "num_attention_heads": _field(reader, f"{a}.attention.head_count"),
        "num_key_value_heads": _field(reader, f"{a}.attention.head_count_kv"),
        "head_dim": _field(reader, f"{a}.attention.key_length"),
        "vocab_size": vocab,
        "max_position_embeddings": _field(reader, f"{a}.context_length"),
        "sliding_window": _field(reader, f"{a}.attention.sliding_window"),
        "final_logit_softcapping": _field(reader, f"{a}.final_logit_softcapping"),
        "tie_word_embeddings": "output.weight" not in names,
        "_source": str(p),
    }
    key_of = {"hidden_size": "embedding_length", "intermediate_size": "feed_forward_length",
              "num_hidden_layers": "block_count", "num_attention_heads": "attention.head_count"}
    for k, gk in key_of.items():
        if cfg[k] is None:
            raise ModelError("GGUF is missing a required key", file=str(p), field=f"{a}.{gk}")
    cfg = {k: v for k, v in cfg.items() if v is not None}
    arch = arch_from_config(cfg, p.stem, str(p))
    qs = _scheme(tensors, p)
    _check_tensors_match_header(qs, arch, p, a)
    return GgufModel(arch, qs, _file_type(reader))


def _check_tensors_match_header(qs: QuantScheme, arch: ModelArch, p: Path, a: str) -> None:
    """The header's depth and width must be the tensor table's: weights are costed from the table, the KV cache
    and per-layer costs from the header, so a file that disagrees (as llama.cpp refuses: 'wrong number of
    tensors', 'tensor has wrong shape') would be answered as two different models at once."""
    layers = {t.layer for t, _ in qs.tensors if t.layer >= 0}
    if layers != set(range(arch.num_layers)):
        found = f"blocks 0..{max(layers)}" if layers else "no blocks"
        raise ModelError(f"header gives {arch.num_layers} layers but the tensor table has {found}"
                         f"{'' if not layers or len(layers) == max(layers) + 1 else ' with gaps'}",
                         file=str(p), field=f"{a}.block_count")
    embd = next((t for t, _ in qs.tensors if t.role == "token_embd"), None)
    if embd is not None and embd.ne0 != arch.hidden_size:
        raise ModelError(f"header gives embedding_length {arch.hidden_size} but token_embd.weight rows are "
                         f"{embd.ne0} wide", file=str(p), field=f"{a}.embedding_length")


def _scheme(tensors: list[Any], p: Path) -> QuantScheme:
    rows: list[tuple[WeightTensor, TensorFormat]] = []
    for t in tensors:
        shape = [int(x) for x in t.shape]
        if len(shape) < 2:
            continue  # norms and biases: negligible bytes, no MACs worth counting
        try:
            typ = gguf.GGMLQuantizationType(int(t.tensor_type)).name
        except ValueError:
            raise ModelError(f"tensor '{t.name}' has unknown type id {int(t.tensor_type)}", file=str(p)) from None
        m = _BLK.match(t.name)
        role, layer = (m.group(2), int(m.group(1))) if m else (t.name.removesuffix(".weight"), -1)
        rows_n = 1
        for d in shape[1:]:
            rows_n *= d
        wt = WeightTensor(t.name, role, layer, shape[0], rows_n)
        rows.append((wt, ggml_format(typ)))
    if not rows:
        raise ModelError("GGUF holds no weight matrices", file=str(p))
    return QuantScheme("gguf:" + p.name, tuple(rows))


def _file_type(reader: Any) -> str | None:
    ft = _field(reader, "general.file_type")
    if not isinstance(ft, int):
        return None
    try:
        return gguf.LlamaFileType(ft).name.removeprefix("MOSTLY_")
    except ValueError:
        return None
