"""Decoder-only transformer architectures: read a Hugging Face style config.json, list every weight matrix.

A language model's cost is set by its weight matrices (how many bytes decode streams per token, how many MACs
prefill does per token) and its attention shape (how many KV bytes a token of context adds). Both follow from a
handful of config fields, so the architecture is kept as one frozen record and the weight list is derived from it
with the tensor names llama.cpp's GGUF files use (so quantization mixes can be applied per tensor role).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgesim.errors import ModelError
from edgesim.files import LLM_CONFIG_DIR, language_model_names

_CONFIG_DIR = LLM_CONFIG_DIR

# model_type -> (gated MLP, fused QKV tensor, sliding-window layer pattern when the config gives a window)
# Pattern n: every n-th layer is global, the others use the window (Gemma 2 alternates, Gemma 3 is 5 local : 1
# global); 1 = every layer uses the window (Mistral v0.1); 0 = windows are not used by this family.
_FAMILIES: dict[str, tuple[bool, bool, int]] = {
    "llama": (True, False, 0),
    "mistral": (True, False, 1),
    "qwen2": (True, False, 0),
    "qwen3": (True, False, 0),
    "phi3": (True, True, 0),
    "gemma": (True, False, 0),
    "gemma2": (True, False, 2),
    "gemma3": (True, False, 6),
    "gemma3_text": (True, False, 6),
    "gpt_neox": (False, True, 0),
    "chatglm": (True, True, 0),
    "internlm2": (True, True, 0),
    "stablelm": (True, False, 0),
    "smollm": (True, False, 0),
}
# GGUF general.architecture -> HF model_type (the GGUF reader maps files through this)
GGUF_ARCH = {"llama": "llama", "mistral": "mistral", "qwen2": "qwen2", "qwen3": "qwen3", "phi3": "phi3",
             "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3", "gptneox": "gpt_neox",
             "chatglm": "chatglm", "internlm2": "internlm2", "stablelm": "stablelm"}

# Families whose config class soft-caps the final logits by default (transformers Gemma2Config:
# final_logit_softcapping=30.0; Gemma3TextConfig defaults to None); a config.json field overrides it.
_SOFTCAP_DEFAULT = {"gemma2": 30.0}

_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
# More layers than any published decoder by far (the deepest are ~130: Llama 3.1 405B 126, PaLM 118): such a count
# is a typo or a corrupt header, and listing its weight matrices one by one would take minutes and gigabytes.
MAX_LAYERS = 1024


@dataclass(frozen=True)
class WeightTensor:
    """One weight matrix: GGUF name, role (attn_q, ffn_down, ...), layer (-1 outside the blocks), ne0 = input
    dimension (the row length llama.cpp's block quantization runs along), rows = output dimension."""

    name: str
    role: str
    layer: int
    ne0: int
    rows: int

    @property
    def elements(self) -> int:
        return self.ne0 * self.rows


@dataclass(frozen=True)
class ModelArch:
    name: str
    family: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_context: int
    tied_embeddings: bool
    gated_mlp: bool
    fused_qkv: bool
    sliding_window: int | None  # tokens a local layer attends to; None = full attention everywhere
    sliding_layers: int  # how many layers use the window
    source: str
    # Logits soft-capped as cap x tanh(logits / cap) (Gemma 2); None = plain logits. A runtime whose LM head
    # kernel cannot fuse that epilogue pays for it per token (PlacementParams.softcap_head_efficiency).
    final_logit_softcap: float | None = None

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    def attended(self, context: int) -> float:
        """Context positions one new token attends to, summed over layers (local layers stop at the window)."""
        win = self.sliding_window
        local = self.sliding_layers if win is not None else 0
        return (self.num_layers - local) * context + local * min(context, win or context)

    def kv_elements(self, context: int) -> float:
        """K and V elements held for ``context`` tokens (local layers keep only their window)."""
        return 2.0 * self.kv_dim * self.attended(context)

    def weights(self) -> tuple[WeightTensor, ...]:
        return _weights(self)

    @property
    def params(self) -> int:
        return sum(t.elements for t in self.weights())


@lru_cache(maxsize=256)
def _weights(a: ModelArch) -> tuple[WeightTensor, ...]:
    h, ff, kv, q = a.hidden_size, a.intermediate_size, a.kv_dim, a.q_dim
    out = [WeightTensor("token_embd.weight", "token_embd", -1, h, a.vocab_size)]
    for i in range(a.num_layers):
        b = f"blk.{i}."
        if a.fused_qkv:
            out.append(WeightTensor(b + "attn_qkv.weight", "attn_qkv", i, h, q + 2 * kv))
        else:
            out += [WeightTensor(b + "attn_q.weight", "attn_q", i, h, q),
                    WeightTensor(b + "attn_k.weight", "attn_k", i, h, kv),
                    WeightTensor(b + "attn_v.weight", "attn_v", i, h, kv)]
        out.append(WeightTensor(b + "attn_output.weight", "attn_output", i, q, h))
        if a.gated_mlp:
            out.append(WeightTensor(b + "ffn_gate.weight", "ffn_gate", i, h, ff))
        out += [WeightTensor(b + "ffn_up.weight", "ffn_up", i, h, ff),
                WeightTensor(b + "ffn_down.weight", "ffn_down", i, ff, h)]
    if not a.tied_embeddings:
        out.append(WeightTensor("output.weight", "output", -1, h, a.vocab_size))
    return tuple(out)


def _int_field(cfg: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    if key not in cfg or cfg[key] is None:
        if default is not None:
            return default
        raise ModelError("config is missing a required field", file=where, field=key)
    val = cfg[key]
    if isinstance(val, bool) or not isinstance(val, int) or val <= 0:
        raise ModelError(f"must be a positive integer, got {val!r}", file=where, field=key)
    return val


def arch_from_config(cfg: dict[str, Any], name: str, where: str) -> ModelArch:
    """A ModelArch from config.json fields; ``where`` names the file in errors."""
    family = cfg.get("model_type")
    if not isinstance(family, str):
        raise ModelError("config is missing a required field", file=where, field="model_type")
    if family not in _FAMILIES:
        raise ModelError(f"unknown architecture '{family}'; known: {', '.join(sorted(_FAMILIES))}",
                         file=where, field="model_type")
    gated, fused, pattern = _FAMILIES[family]
    # ChatGLM names its fields differently (ffn_hidden_size, num_layers, multi_query_group_num, padded_vocab_size)
    aliases = {"intermediate_size": "ffn_hidden_size", "num_hidden_layers": "num_layers",
               "vocab_size": "padded_vocab_size", "num_key_value_heads": "multi_query_group_num"}
    cfg = dict(cfg)
    for key, alt in aliases.items():
        if key not in cfg and alt in cfg:
            cfg[key] = cfg[alt]
    if family == "gpt_neox" and "intermediate_size" not in cfg and "hidden_size" in cfg:
        cfg["intermediate_size"] = 4 * cfg["hidden_size"]
    vals = {k: _int_field(cfg, k, where) for k in _REQUIRED}
    layers = vals["num_hidden_layers"]
    if layers > MAX_LAYERS:
        raise ModelError(f"{layers} layers is not a plausible decoder (at most {MAX_LAYERS}; the deepest published "
                         "have ~130)", file=where, field="num_hidden_layers")
    heads = vals["num_attention_heads"]
    kv_heads = _int_field(cfg, "num_key_value_heads", where, default=heads)
    if heads % kv_heads:
        raise ModelError(f"{heads} attention heads are not a multiple of {kv_heads} KV heads",
                         file=where, field="num_key_value_heads")
    if cfg.get("head_dim") is None and vals["hidden_size"] % heads:
        # without head_dim, transformers splits hidden_size evenly over the heads (and refuses to otherwise)
        raise ModelError(f"hidden_size {vals['hidden_size']} is not a multiple of {heads} attention heads and no "
                         "head_dim is given", file=where, field="num_attention_heads")
    head_dim = _int_field(cfg, "head_dim", where, default=max(1, vals["hidden_size"] // heads))
    ctx = _int_field(cfg, "max_position_embeddings", where, default=_int_field(cfg, "seq_length", where, 2048))
    win_raw = cfg.get("sliding_window")
    if win_raw is not None:
        _int_field(cfg, "sliding_window", where)  # a window is a positive token count, or null for none
    use_window = cfg.get("use_sliding_window", True) is not False
    window = int(win_raw) if win_raw is not None and pattern and use_window else None
    if cfg.get("sliding_window_pattern") is not None:
        pattern = _int_field(cfg, "sliding_window_pattern", where)
    pattern = pattern or 1
    tied = cfg.get("tie_word_embeddings", False)
    if tied is not None and not isinstance(tied, bool):  # a string ("false") would read as tied
        raise ModelError(f"must be true, false or null, got {tied!r}", file=where, field="tie_word_embeddings")
    local = 0 if window is None else (layers if pattern == 1 else layers - layers // pattern)
    source = str(cfg.get("_source", where))
    cap = cfg.get("final_logit_softcapping", _SOFTCAP_DEFAULT.get(family))
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float)) or cap <= 0):
        raise ModelError(f"must be a positive number or null, got {cap!r}", file=where, field="final_logit_softcapping")
    return ModelArch(
        name=name, family=family, hidden_size=vals["hidden_size"], intermediate_size=vals["intermediate_size"],
        num_layers=layers, num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        vocab_size=vals["vocab_size"], max_context=ctx, tied_embeddings=bool(tied),
        gated_mlp=gated, fused_qkv=fused, sliding_window=window, sliding_layers=local, source=source,
        final_logit_softcap=None if cap is None else float(cap),
    )


def zoo_names() -> list[str]:
    return language_model_names()


def load_config(path: str | Path) -> ModelArch:
    """A config.json file (any name) as a ModelArch named after its file stem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    except UnicodeDecodeError as exc:  # a binary file named .json (or a model file given as the config)
        raise ModelError(f"not a UTF-8 text file: {exc.reason} at byte {exc.start}", file=str(p)) from None
    try:
        cfg = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"not valid JSON: {exc}", file=str(p)) from None
    if not isinstance(cfg, dict):
        raise ModelError("top level must be a JSON object", file=str(p))
    # Some checkpoints nest the language model's config (multimodal Gemma 3)
    if "text_config" in cfg and isinstance(cfg["text_config"], dict) and "hidden_size" not in cfg:
        cfg = {**cfg["text_config"], "_source": cfg.get("_source", str(p))}
    name = p.parent.name if p.name == "config.json" else p.stem
    return arch_from_config(cfg, name, str(p))


def zoo_arch(name: str) -> ModelArch:
    path = _CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        raise ModelError(f"unknown language model '{name}'; zoo: {', '.join(zoo_names())}")
    return load_config(path)
