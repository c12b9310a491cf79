"""Weight-only quantization formats with their real storage cost, per tensor.

GGUF block types take their bits per weight from the block layouts (``gguf.GGML_QUANT_SIZES``: Q4_0 is 32 weights in
18 bytes = 4.5 bits). llama.cpp's file types (Q4_K_M, Q3_K_S, ...) are mixes: ``gguf_tensor_type`` applies the
per-role rules of ``llama_tensor_get_type`` (llama.cpp src/llama-quant.cpp) so a Q4_K_M file is costed with its
Q6_K attn_v / ffn_down layers and Q6_K output. Group formats (AWQ/GPTQ int4, MLC q4f16, w8a8 for NPU runtimes)
store a scale (and zero) per group of weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gguf

from edgesim.errors import EdgesimError
from edgesim.llm.arch import ModelArch, WeightTensor


@dataclass(frozen=True)
class TensorFormat:
    """How one tensor is stored: ``kernel`` names the compute kernel (a GGUF type or a group format's family),
    ``act_precision`` the precision its MACs run in (int8 = activations quantized, fp16/fp32 = float)."""

    kernel: str
    bits_per_weight: float
    act_precision: str


@dataclass(frozen=True)
class QuantScheme:
    """A named format applied over a model: per-tensor formats and the bytes they take."""

    name: str
    tensors: tuple[tuple[WeightTensor, TensorFormat], ...]
    # the file stores the tied embedding twice: a gathered embedding table and a separate LM head (ExecuTorch
    # quantizes the two apart), so the token_embd tensor is not the head
    untied: bool = False

    def bytes_of(self, roles_excluded: frozenset[str] = frozenset()) -> float:
        return sum(t.elements * f.bits_per_weight / 8 for t, f in self.tensors if t.role not in roles_excluded)

    @property
    def weights_bytes(self) -> float:
        return self.bytes_of()

    @property
    def bits_per_weight(self) -> float:
        n = sum(t.elements for t, _ in self.tensors)
        return 8.0 * self.weights_bytes / n if n else 0.0

    def kernel_bytes(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for t, f in self.tensors:
            out[f.kernel] = out.get(f.kernel, 0.0) + t.elements * f.bits_per_weight / 8
        return out


def ggml_bits_per_weight(type_name: str) -> float:
    """Bits per weight of a GGUF tensor type, including its block scales."""
    try:
        qt = gguf.GGMLQuantizationType[type_name.upper()]
    except KeyError:
        raise EdgesimError(f"unknown GGUF tensor type '{type_name}'") from None
    block, type_bytes = gguf.GGML_QUANT_SIZES[qt]
    return 8.0 * type_bytes / block


def ggml_format(type_name: str) -> TensorFormat:
    t = type_name.upper()
    # ggml's F16 kernels use FP16 vector arithmetic where the core has it (the profile's fp16 rate; A72-class
    # profiles set it to the fp32 rate); BF16 and F32 run in fp32 on cores without BF16 dot products.
    act = {"F16": "fp16", "BF16": "fp32", "F32": "fp32"}.get(t, "int8")
    return TensorFormat(t, ggml_bits_per_weight(t), act)


# llama.cpp file type -> the tensor type most tensors get (llama_model_quantize_impl's default_type)
_FTYPE_BASE = {
    "F32": "F32", "F16": "F16", "BF16": "BF16", "Q8_0": "Q8_0", "Q4_0": "Q4_0", "Q4_1": "Q4_1", "Q5_0": "Q5_0",
    "Q5_1": "Q5_1", "Q2_K": "Q2_K", "Q2_K_S": "Q2_K", "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_L": "Q3_K",
    "Q4_K_S": "Q4_K", "Q4_K_M": "Q4_K", "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K", "Q6_K": "Q6_K", "IQ4_NL": "IQ4_NL",
    "IQ4_XS": "IQ4_XS", "IQ3_XXS": "IQ3_XXS", "IQ3_XS": "IQ3_S", "IQ3_S": "IQ3_S", "IQ3_M": "IQ3_S",
    "IQ2_XXS": "IQ2_XXS", "IQ2_XS": "IQ2_XS", "IQ2_S": "IQ2_XS", "IQ2_M": "IQ2_S", "IQ1_S": "IQ1_S",
    "IQ1_M": "IQ1_M", "TQ1_0": "TQ1_0", "TQ2_0": "TQ2_0",
}
_IQ12 = {"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"}
# A row length that is not a whole number of 256-weight super-blocks cannot hold a K/IQ type; llama.cpp falls back
# (llama_tensor_get_type, "convert_incompatible_tensor") to these 32-weight types.
_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "IQ2_XXS": "Q4_0", "IQ2_XS": "Q4_0", "IQ2_S": "Q4_0",
             "IQ3_XXS": "Q4_0", "IQ3_S": "Q4_0", "IQ1_S": "Q4_0", "IQ1_M": "Q4_0", "TQ1_0": "Q4_0",
             "TQ2_0": "Q4_0", "Q4_K": "Q5_0", "IQ4_XS": "IQ4_NL", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}


def _more_bits(i: int, n: int) -> bool:
    # llama-quant.cpp use_more_bits: the first and last eighth of the layers and every third one between
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _attn_v(ft: str, i: int, n: int, gqa: int, base: str) -> str:
    rules: dict[str, Callable[[], str]] = {
        "Q2_K": lambda: "Q4_K" if gqa >= 4 else "Q3_K",
        "Q2_K_S": lambda: "Q4_K" if gqa >= 4 else base,
        "IQ3_XXS": lambda: "Q4_K" if gqa >= 4 else "IQ3_S",
        "IQ3_XS": lambda: "Q4_K" if gqa >= 4 else base,
        "IQ3_S": lambda: "Q4_K" if gqa >= 4 else base,
        "IQ3_M": lambda: "Q4_K",
        "Q3_K_M": lambda: "Q5_K" if i < 2 else "Q4_K",
        "Q3_K_L": lambda: "Q5_K",
        "IQ4_NL": lambda: "Q5_K" if gqa >= 4 else base,
        "IQ4_XS": lambda: "Q5_K" if gqa >= 4 else base,
        "Q4_K_M": lambda: "Q6_K" if _more_bits(i, n) else base,
        "Q5_K_M": lambda: "Q6_K" if _more_bits(i, n) else base,
        "Q4_K_S": lambda: "Q5_K" if i < 4 else base,
    }
    if ft in _IQ12:
        return "Q4_K" if gqa >= 4 else ("IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K")
    return rules[ft]() if ft in rules else base


def _ffn_down(ft: str, i: int, n: int, base: str) -> str:
    if ft in _IQ12:
        return ("IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K") if i < n // 8 else base
    rules: dict[str, Callable[[], str]] = {
        "Q2_K": lambda: "Q3_K",
        "Q2_K_S": lambda: "Q4_K" if i < n // 8 else base,
        "IQ3_XXS": lambda: "Q4_K" if i < n // 8 else "Q3_K",  # llama.cpp: without an importance matrix
        "Q3_K_M": lambda: "Q5_K" if i < n // 16 else "Q4_K",
        "IQ3_M": lambda: "Q4_K" if i < n // 8 else base,
        "Q3_K_L": lambda: "Q5_K",
        "Q4_K_M": lambda: "Q6_K" if _more_bits(i, n) else base,
        "IQ4_NL": lambda: "Q5_K" if i < n // 8 else base,
        "IQ4_XS": lambda: "Q5_K" if i < n // 8 else base,
        "Q5_K_M": lambda: "Q6_K" if _more_bits(i, n) else base,
        "Q4_K_S": lambda: "Q5_K" if i < n // 8 else base,
    }
    return rules[ft]() if ft in rules else base


_ATTN_OUT = {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K",
             "IQ1_S": "IQ2_XXS", "IQ1_M": "IQ2_XXS", "IQ2_S": "IQ3_S", "IQ2_M": "IQ3_S"}
_QKV = {"Q3_K_M": "Q4_K", "Q3_K_L": "Q4_K", "IQ3_M": "Q4_K", "Q4_K_M": "Q5_K", "Q5_K_M": "Q6_K"}


def gguf_tensor_type(ft: str, t: WeightTensor, arch: ModelArch) -> str:
    """The GGUF type llama.cpp's quantizer gives tensor ``t`` in a file of type ``ft`` (no importance matrix,
    dense model)."""
    base = _FTYPE_BASE[ft]
    if base in ("F32", "F16", "BF16"):
        return base
    n, gqa = arch.num_layers, arch.num_heads // arch.num_kv_heads
    is_output = t.role == "output" or (arch.tied_embeddings and t.role == "token_embd")
    if is_output:
        typ = "Q5_K" if ft in _IQ12 or ft == "IQ3_XXS" else ("Q8_0" if base == "Q8_0" else "Q6_K")
        if t.ne0 % 256:
            typ = "Q8_0"  # nx % qk_k != 0
        return typ
    if t.role == "token_embd":
        if ft in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
            typ = "Q2_K"
        elif ft in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
            typ = "IQ3_S"
        else:
            typ = base
    elif t.role == "attn_v":
        typ = _attn_v(ft, t.layer, n, gqa, base)
    elif t.role == "ffn_down":
        typ = _ffn_down(ft, t.layer, n, base)
    elif t.role == "attn_output":
        typ = _ATTN_OUT.get(ft, base)
    elif t.role == "attn_qkv":
        typ = _QKV.get(ft, base)
    elif t.role in ("attn_q", "attn_k") and ft == "IQ3_XS":
        typ = "IQ3_XXS"
    elif t.role in ("ffn_gate", "ffn_up") and ft == "IQ3_XS" and n // 8 <= t.layer < 7 * n // 8:
        typ = "IQ3_XXS"
    else:
        typ = base
    block = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[typ]][0]
    if t.ne0 % block:
        typ = _FALLBACK.get(typ, "F16")
    return typ


@dataclass(frozen=True)
class GroupFormat:
    """Integer weights with one floating-point scale (and optionally a zero point) per ``group`` weights."""

    weight_bits: int
    group: int  # 0 = one scale per output channel
    scale_bits: int
    zero_bits: int
    act_precision: str
    # None = the LM head is quantized like the rest; else its bits: 16 = a float head (AWQ keeps fp16), 8 = an
    # int8 per-channel head run with int8 activations (ExecuTorch 8da4w)
    head_bits: float | None
    # bits of the embedding table where the format stores it apart from the head (ExecuTorch: int8 per channel,
    # and a tied model's head is stored a second time); None = the embedding is quantized like the rest
    untied_embedding_bits: float | None = None
    # bits of an untied model's token embedding table where the format leaves it unquantized (AWQ quantizes only
    # the linear layers inside the decoder blocks, so the embedding stays fp16 like the head); None = quantized
    # like the rest
    embedding_bits: float | None = None

    def bpw(self, ne0: int) -> float:
        g = self.group or ne0
        return self.weight_bits + (self.scale_bits + self.zero_bits) / g


# Sources: AWQ/TinyChat (mit-han-lab/llm-awq: 4-bit, group 128, fp16 scales + 4-bit zeros, fp16 lm_head);
# MLC q4f16_1 (mlc-llm quantization.py: group 32, fp16 scale, symmetric); rkllm w8a8 / w4a16 (rknn-llm docs:
# per-channel int8, int4 group 128 with fp16 scale); Hailo A8W4 (hailo model zoo GenAI: 4-bit symmetric weights,
# 8-bit activations); NVFP4 (NVIDIA: e2m1 values + one fp8 scale per 16).
GROUP_FORMATS: dict[str, GroupFormat] = {
    # llm-awq awq/quantize/quantizer.py real_quantize_model_weight: WQLinear replaces only the nn.Linear layers of
    # get_blocks(model) (the decoder layers); the embedding and lm_head stay fp16. A tied model stores the shared
    # table once (Llama-3.2-1B: 0.263 of 1.236 B weights at 16 bits -> 6.67 bits/weight overall).
    "int4-awq-g128": GroupFormat(4, 128, 16, 4, "fp16", 16.0, embedding_bits=16.0),
    # AutoGPTQ (auto_gptq/modeling/*.py): only the inside_layer_modules of the decoder layers are quantized;
    # embed_tokens is an outside_layer_module and lm_head is in neither, so both stay fp16 as in AWQ
    "int4-gptq-g128": GroupFormat(4, 128, 16, 0, "fp16", 16.0, embedding_bits=16.0),
    "q4f16": GroupFormat(4, 32, 16, 0, "fp16", None),
    "w4a16": GroupFormat(4, 128, 16, 0, "fp16", None),
    "w8a8": GroupFormat(8, 0, 32, 0, "int8", None),
    "w4a8": GroupFormat(4, 128, 16, 0, "int8", None),
    # ExecuTorch 8da4w (Llama 3.2 SpinQuant / QLoRA .pte files): 4-bit weights in groups of 32 with an fp32 scale
    # (torchao Int8DynActInt4WeightQuantizer's default scales_precision), int8 dynamic per-token activations, the
    # classification layer (LM head) int8 per channel (Llama 3.2 model card, 'Quantization scheme'). Checked on
    # the card's file sizes: 1B 1083 MiB, 3B 2435 MiB (tests/unit/llm/test_quant_executorch.py).
    "w4a8-g32": GroupFormat(4, 32, 32, 0, "int8", 8.0, untied_embedding_bits=8.0),
    "nvfp4": GroupFormat(4, 16, 8, 0, "fp16", None),
    "fp16": GroupFormat(16, 0, 0, 0, "fp16", None),
    "bf16": GroupFormat(16, 0, 0, 0, "fp16", None),
}
ALIASES = {"q4_k_m": "Q4_K_M", "a8w4": "w4a8", "q4f16_1": "q4f16", "q4f16_ft": "q4f16", "int4": "q4f16",
           "awq": "int4-awq-g128", "gptq": "int4-gptq-g128", "f16": "F16", "bf16": "BF16"}


def quant_names() -> list[str]:
    return sorted(_FTYPE_BASE) + sorted(GROUP_FORMATS)


def gguf_file_types() -> list[str]:
    """The llama.cpp file types edgesim costs (the GGUF formats)."""
    return sorted(_FTYPE_BASE)


def canonical(name: str) -> str:
    if name in _FTYPE_BASE or name in GROUP_FORMATS:
        return name
    low = name.lower()
    if low in ALIASES:
        return ALIASES[low]
    if name.upper() in _FTYPE_BASE:
        return name.upper()
    if low in GROUP_FORMATS:
        return low
    raise EdgesimError(f"unknown quantization '{name}'; known: {', '.join(quant_names())}", field="quant")


def scheme(name: str, arch: ModelArch) -> QuantScheme:
    """Per-tensor formats of ``arch`` stored as ``name`` (a llama.cpp file type or a group format)."""
    q = canonical(name)
    rows: list[tuple[WeightTensor, TensorFormat]] = []
    if q in _FTYPE_BASE:
        for t in arch.weights():
            rows.append((t, ggml_format(gguf_tensor_type(q, t, arch))))
        return QuantScheme(q, tuple(rows))
    g = GROUP_FORMATS[q]
    kernel = f"w{g.weight_bits}" if g.weight_bits < 16 else "f16"
    untie = arch.tied_embeddings and g.untied_embedding_bits is not None
    for t in arch.weights():
        head = t.role == "output" or (arch.tied_embeddings and t.role == "token_embd")
        if g.untied_embedding_bits is not None and t.role == "token_embd":
            bits = g.untied_embedding_bits
            rows.append((t, TensorFormat(f"w{int(bits)}", bits, "int8")))
            if untie:  # the head the tied model shares it with, stored apart
                head_fmt = _head_format(g.head_bits) if g.head_bits is not None else TensorFormat(
                    kernel, g.bpw(t.ne0), g.act_precision)
                rows.append((WeightTensor("output.weight", "output", -1, t.ne0, t.rows), head_fmt))
        elif head and g.head_bits is not None:
            rows.append((t, _head_format(g.head_bits)))
        elif t.role == "token_embd" and g.embedding_bits is not None:  # untied: a gathered table, kept as stored
            rows.append((t, _head_format(g.embedding_bits)))
        else:
            rows.append((t, TensorFormat(kernel, g.bpw(t.ne0), g.act_precision)))
    return QuantScheme(q, tuple(rows), untied=untie)


def _head_format(bits: float) -> TensorFormat:
    """An LM head a group format keeps apart: float (fp16 GEMV) at 16 bits, else int8 per channel (one scale per
    output row, negligible) run against int8 activations."""
    if bits >= 16:
        return TensorFormat("f16", bits, "fp16")
    return TensorFormat(f"w{int(bits)}", bits, "int8")


# KV cache element formats (llama.cpp --cache-type-k/v): f16, q8_0 (34 B / 32), q4_0 (18 B / 32)
KV_BITS = {"f16": 16.0, "fp16": 16.0, "q8_0": ggml_bits_per_weight("Q8_0"), "q4_0": ggml_bits_per_weight("Q4_0"),
           "int8": 8.0}


def kv_bits(name: str) -> float:
    return KV_BITS[canonical_kv(name)]


def canonical_kv(name: str) -> str:
    """The one name of a KV cache type (fp16 is f16), refused by name when unknown."""
    key = name.lower()
    if key not in KV_BITS:
        raise EdgesimError(f"unknown KV cache type '{name}'; known: f16, q8_0, q4_0, int8", field="kv_cache")
    return "f16" if key == "fp16" else key
