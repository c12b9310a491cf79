"""Prefill and decode time, memory and energy of a decoder LLM on a board (the mechanisms, no fitted rows).

Decode step at context c (one token, GEMV):
  t_mem  = (weight bytes read + KV bytes of the c attended positions) / sustained DRAM bandwidth
  t_comp = sum over weight kernels of MACs / (peak rate of its precision x kernel efficiency x GEMV scale)
           + attention MACs (2 x q_dim x attended positions) / (float rate x attention efficiency)
  t      = (t_mem^p + t_comp^p)^(1/p) + per-token overhead + per-layer overhead x layers
           (+ an unfused soft-capped LM head where the runtime has one, see softcap_head_s)
Prefill of P tokens (GEMM, ubatches of 512): the same with P x the MACs (logits for the last token only where the
runtime does that), attention growing as P^2/2, and the weights streamed once per ubatch.
CPU bandwidth saturates with threads: min(bw_efficiency x peak, threads x per-core bytes/cycle x clock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edgesim.llm.arch import ModelArch
from edgesim.llm.cpu_gemm import gemm_time_s
from edgesim.llm.machine import Machine
from edgesim.llm.quant import QuantScheme, kv_bits
from edgesim.llm.runtime import LlmRuntime, PlacementParams

UBATCH = 512  # llama.cpp's default physical batch: weights are streamed once per ubatch in prefill


@dataclass(frozen=True)
class KernelWork:
    """MACs per token and bytes of one weight kernel (e.g. all Q6_K tensors of a Q4_K_M file)."""

    kernel: str
    precision: str
    macs_per_token: float  # excluding the LM head
    head_macs_per_token: float
    bytes_read: float  # bytes decode streams per token (the embedding table is gathered, not streamed)


@dataclass(frozen=True)
class ModelWork:
    kernels: tuple[KernelWork, ...]
    weights_bytes: float  # everything stored (memory footprint)
    bytes_per_token: float  # weight bytes one decode step streams
    macs_per_token: float


@lru_cache(maxsize=512)
def model_work(arch: ModelArch, qs: QuantScheme) -> ModelWork:
    acc: dict[tuple[str, str], list[float]] = {}
    for t, f in qs.tensors:
        head = t.role == "output" or (arch.tied_embeddings and not qs.untied and t.role == "token_embd")
        k = acc.setdefault((f.kernel, f.act_precision), [0.0, 0.0, 0.0])
        nbytes = t.elements * f.bits_per_weight / 8
        if t.role == "token_embd" and not head:
            k[2] += t.ne0 * f.bits_per_weight / 8  # one row gathered per token
            continue
        k[1 if head else 0] += t.elements
        k[2] += nbytes
    kernels = tuple(KernelWork(kern, prec, v[0], v[1], v[2]) for (kern, prec), v in sorted(acc.items()))
    return ModelWork(kernels, qs.weights_bytes, sum(k.bytes_read for k in kernels),
                     sum(k.macs_per_token + k.head_macs_per_token for k in kernels))


def effective_bw(m: Machine, p: PlacementParams) -> float:
    """Sustained decode bandwidth: the DRAM share, capped by what the cores used can pull (CPU threads, NPU cores:
    each has a bounded number of outstanding reads)."""
    bw = p.bw_efficiency * m.dram_bw_bytes_per_s
    if p.core_bw_bytes_per_cycle is not None:
        bw = min(bw, m.cores * p.core_bw_bytes_per_cycle * m.clock_hz)
    return bw


def _attn_rate(m: Machine, p: PlacementParams) -> float:
    return m.rate("fp16") * p.efficiency("attention")


def kernel_peak(m: Machine, precision: str) -> float:
    """The rate a weight kernel's efficiency is a fraction of. On CPUs, block-quantized dot products (int8
    activations against unpacked 2-8-bit blocks) are bound by the unpack/shift/scale instructions around the dot
    product, so they scale with the SIMD issue rate, not the dot-product MAC rate (a core with SDOT does 4x the
    MACs per cycle of an A72 but issues only 2x the vector ops); float kernels are FMA-bound (MAC rate). On a GPU
    an int8-activation kernel runs on the int8 tensor cores (llama.cpp's MMQ: int8 MMA on Turing and later at
    every batch size, hw_profiles/llm_runtimes/llama.cpp.yaml), so its efficiency is of the dense int8 rate."""
    if m.unit == "cpu" and precision == "int8":
        return m.simd_rate("int8")
    return m.rate(precision)


def _weight_compute_s(work: ModelWork, m: Machine, p: PlacementParams, tokens: float, head_tokens: float) -> float:
    t = 0.0
    for k in work.kernels:
        rate = kernel_peak(m, k.precision) * p.efficiency(k.kernel)
        t += (k.macs_per_token * tokens + k.head_macs_per_token * head_tokens) / rate
    return t


def int8_path(m: Machine) -> str | None:
    """The int8 kernel path of a CPU placement's first (big) cores: 'i8mm', 'dotprod' or 'neon'."""
    if m.unit != "cpu" or not m.core_groups:
        return None
    isa = m.core_groups[0].isa
    return "i8mm" if isa.i8mm else "dotprod" if isa.dotprod else "neon"


def _decode_weight_s(work: ModelWork, m: Machine, p: PlacementParams) -> float:
    """Weight GEMVs of one decode step: each kernel at its decode efficiency (PlacementParams.decode_efficiency)."""
    path = int8_path(m)
    return sum((k.macs_per_token + k.head_macs_per_token)
               / (kernel_peak(m, k.precision) * p.decode_efficiency(k.kernel, path if k.precision == "int8" else None))
               for k in work.kernels)


def _prefill_weight_s(work: ModelWork, m: Machine, p: PlacementParams, tokens: float, head_tokens: float) -> float:
    """Weight GEMMs of a prefill: per core ISA and kernel path on CPUs with a cpu_gemm model, else peak x eff."""
    if p.cpu_gemm is None or m.unit != "cpu" or not m.core_groups:
        return _weight_compute_s(work, m, p, tokens, head_tokens)
    return sum(gemm_time_s(k.macs_per_token * tokens + k.head_macs_per_token * head_tokens, k.kernel,
                           k.precision, m, p.cpu_gemm) for k in work.kernels)


def prefill_weight_passes(tokens: int, p: PlacementParams) -> int:
    """How often a prefill of ``tokens`` streams the weights: once per ubatch, or once per token block on NPUs
    whose buffer holds only a block's activations (the weights of a layer are re-read for every block)."""
    return math.ceil(tokens / (p.prefill_token_block or UBATCH))


def _masked_rectangle(prompt: int, cached: int) -> float:
    """Query x key positions ggml multiplies without flash attention for tokens cached+1..prompt: each ubatch of
    new tokens against the cells the KV cache uses once it is placed (llama.cpp llama_kv_cache::get_n_kv pads the
    used cells, not the context size), so a long prompt's early ubatches see short caches."""
    total = 0.0
    start = cached
    while start < prompt:
        end = min(prompt, start + UBATCH)
        total += float(end - start) * end
        start = end
    return total


def _masked_pairs(arch: ModelArch, p: PlacementParams, prompt: int, cached: int) -> float:
    """Attention (query, key) pairs over all layers: causal, or the masked rectangles where the runtime masks
    instead of skipping (window layers scale with the full ones)."""
    causal = _attention_pairs(arch, prompt) - _attention_pairs(arch, cached)
    if p.cpu_gemm is not None and p.cpu_gemm.masked_full_attention and causal > 0:
        triangle = (prompt * (prompt + 1) - cached * (cached + 1)) / 2.0
        causal = max(causal, causal * _masked_rectangle(prompt, cached) / triangle)
    return causal


def prefill_attention_macs(arch: ModelArch, p: PlacementParams, prompt: int, cached: int) -> float:
    """Attention MACs of prefilling tokens cached+1..prompt: Q.K^T and scores.V over the causal pairs, or over
    the masked rectangles where the runtime masks instead of skipping."""
    return 2.0 * arch.q_dim * _masked_pairs(arch, p, prompt, cached)


def attention_scores(arch: ModelArch, p: PlacementParams, prompt: int, cached: int) -> float:
    """(head, query, key) score elements a prefill computes: heads x the (masked) pairs over all layers."""
    return arch.num_heads * _masked_pairs(arch, p, prompt, cached)


def prefill_attention_bytes(arch: ModelArch, p: PlacementParams, prompt: int, cached: int) -> float:
    """DRAM traffic of the attention scores where ggml materialises them (no flash attention): per head and
    pair the f32 KQ is written, soft_max reads it and writes its f32 result, KQV's src1 conversion reads that and
    writes f16 that the GEMM reads (score_bytes_per_pair: 4+4+4+4+2+2); a layer's scores (heads x ubatch x n_kv
    x 4 B, 25 MB for 24 heads at pp512) exceed the CPU caches."""
    if p.cpu_gemm is None:
        return 0.0
    return attention_scores(arch, p, prompt, cached) * p.cpu_gemm.score_bytes_per_pair


def softmax_s(scores: float, m: Machine, p: PlacementParams) -> float:
    """ggml's soft_max over materialised scores: rows dealt round-robin to the threads (ops.cpp
    ggml_compute_forward_soft_max_f32, 'i01 = ith; i01 += nth'), so every thread does an equal share and the
    slowest core sets the time; per score the vector work (copy, scale, f16 mask add, expf, normalise) at the
    core's issue width plus the scalar max loop's dependent compare chain (ggml_vec_max_f32)."""
    cg = p.cpu_gemm
    if cg is None or m.unit != "cpu" or not m.core_groups or scores <= 0:
        return 0.0
    threads = sum(g.count for g in m.core_groups)
    per_score = max((cg.softmax_vector_ops_per_score / g.vector_slots_per_cycle + cg.softmax_chain_cycles_per_score)
                    / g.clock_hz for g in m.core_groups)
    return scores / threads * per_score


def prefill_attention_s(attn_macs: float, m: Machine, p: PlacementParams, attn_bytes: float = 0.0,
                        scores: float = 0.0) -> float:
    """Attention of a prefill: on CPUs with a cpu_gemm model an fp16 FMA GEMM per core (it grows as P^2 and is
    what makes pp4096 slower per token than pp512), the streaming of its materialised scores and the soft_max
    over them (separate ops between the two GEMMs), else the float rate x the attention efficiency."""
    if p.cpu_gemm is None or m.unit != "cpu" or not m.core_groups:
        return attn_macs / _attn_rate(m, p)
    return (gemm_time_s(attn_macs, "attention", "fp16", m, p.cpu_gemm) + attn_bytes / effective_bw(m, p)
            + softmax_s(scores, m, p))


def _blend(t_mem: np.ndarray | float, t_comp: np.ndarray | float, p: float) -> np.ndarray | float:
    return (np.power(t_mem, p) + np.power(t_comp, p)) ** (1.0 / p)


def softcap_head_s(arch: ModelArch, work: ModelWork, m: Machine, p: PlacementParams) -> float:
    """Extra time per token of an LM head whose soft-capped logits keep it from running as a fused GEMV."""
    if arch.final_logit_softcap is None or p.softcap_head_efficiency is None:
        return 0.0
    head_macs = sum(k.head_macs_per_token for k in work.kernels)
    return head_macs / (m.rate("fp16") * p.softcap_head_efficiency)


@dataclass(frozen=True)
class StepCost:
    time_s: np.ndarray
    mem_s: np.ndarray
    comp_s: np.ndarray
    bytes: np.ndarray
    macs: np.ndarray


def decode_steps(arch: ModelArch, work: ModelWork, m: Machine, rt: LlmRuntime, p: PlacementParams,
                 contexts: np.ndarray) -> StepCost:
    """Cost of one decode step at each context length in ``contexts`` (vectorised: a 4k curve is one call)."""
    kv_b = kv_bits(rt.kv_cache) / 8
    win, local = arch.sliding_window, arch.sliding_layers if arch.sliding_window else 0
    c = contexts.astype(float)
    attended = (arch.num_layers - local) * c + local * np.minimum(c, win or 0)
    kv_bytes = 2.0 * arch.kv_dim * attended * kv_b
    nbytes = work.bytes_per_token + kv_bytes
    t_mem = nbytes / effective_bw(m, p)
    attn_macs = 2.0 * arch.q_dim * attended
    t_w = _decode_weight_s(work, m, p)
    t_comp = t_w + attn_macs / _attn_rate(m, p)
    layer_s = p.layer_overhead_s(m)
    fixed = p.per_token_overhead_s + layer_s * arch.num_layers + softcap_head_s(arch, work, m, p)
    t = np.asarray(_blend(t_mem, t_comp, p.overlap_exponent)) + fixed
    return StepCost(t, t_mem, np.asarray(t_comp), nbytes, work.macs_per_token + attn_macs)


@dataclass(frozen=True)
class PrefillCost:
    time_s: float
    mem_s: float
    comp_s: float
    bytes: float
    macs: float


def _attention_pairs(arch: ModelArch, n: int) -> float:
    """Sum over tokens t = 1..n of the positions token t attends to, over all layers (local layers: the window)."""
    full = arch.num_layers - (arch.sliding_layers if arch.sliding_window else 0)
    pairs = full * n * (n + 1) / 2.0
    if arch.sliding_window:
        w = min(arch.sliding_window, n)
        pairs += arch.sliding_layers * (w * (w + 1) / 2.0 + (n - w) * w)
    return pairs


def prefill_cost(arch: ModelArch, work: ModelWork, m: Machine, rt: LlmRuntime, p: PlacementParams,
                 prompt: int, cached: int = 0) -> PrefillCost:
    """Prefill of the prompt's last ``prompt - cached`` tokens; the first ``cached`` are already in the KV cache
    (a chat's history with prefix caching) and only cost attention reads."""
    new = prompt - cached
    if new <= 0:
        return PrefillCost(0.0, 0.0, 0.0, 0.0, 0.0)
    head_tokens = float(new) if rt.prefill_logits_all else 1.0
    t_w = _prefill_weight_s(work, m, p, float(new), head_tokens)
    attn_macs = prefill_attention_macs(arch, p, prompt, cached)
    attn_bytes = prefill_attention_bytes(arch, p, prompt, cached) if m.unit == "cpu" else 0.0
    scores = attention_scores(arch, p, prompt, cached) if m.unit == "cpu" else 0.0
    t_comp = t_w + prefill_attention_s(attn_macs, m, p, attn_bytes, scores)
    passes = prefill_weight_passes(new, p)
    nbytes = work.bytes_per_token * passes
    t_mem = nbytes / effective_bw(m, p)
    # every pass through the weights (a ubatch, or an NPU's token block) runs every layer once and pays its fixed
    # per-layer cost (launches, synchronisation) as a decode step does
    layer_s = p.layer_overhead_s(m)
    # the prompt's logits pay the unfused soft-capped head as decode's do (once where only the last token's count)
    head_s = softcap_head_s(arch, work, m, p) * head_tokens
    t = float(_blend(t_mem, t_comp, p.overlap_exponent)) + layer_s * arch.num_layers * passes + head_s
    macs = work.macs_per_token * new + attn_macs
    return PrefillCost(t, t_mem, t_comp, nbytes, macs)


def energy_j(m: Machine, time_s: float, nbytes: float, macs: float, precision: str) -> float:
    """Static power over the time, DRAM energy per byte, and the compute: busy cores x energy per busy cycle for
    application CPUs (their power barely depends on the instruction mix), energy per MAC for accelerators."""
    dram = nbytes * m.dram_pj_per_byte * 1e-12
    if m.unit == "cpu" and m.active_pj_per_cycle is not None:
        compute = m.active_pj_per_cycle * 1e-12 * m.clock_hz * min(m.cores, 64) * time_s
    else:
        e_mac = m.mac_energy_pj.get(precision, max(m.mac_energy_pj.values()))
        compute = macs * e_mac * 1e-12
    return m.static_power_w * time_s + dram + compute
