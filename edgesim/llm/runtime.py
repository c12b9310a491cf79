"""LLM runtime profiles (llama.cpp, ollama, mlc, rkllm, ...): sourced or fitted efficiencies per placement.

The hardware profile says what the board can do (DRAM bandwidth and size, MACs per cycle, cores); a runtime
profile says how much of it an inference engine gets: the sustained fraction of DRAM bandwidth in decode, the
fraction of peak MAC rate its kernels reach per weight format, fixed costs per token and per layer, and the memory
it needs besides weights and KV cache. Numbers that ``edgesim llm-fit`` produced carry the rows they were fitted on.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from edgesim.errors import EdgesimError, ProfileError
from edgesim.hw.loader import bundled_dir
from edgesim.llm.quant import canonical, canonical_kv, gguf_file_types, quant_names

if TYPE_CHECKING:
    from edgesim.llm.machine import Machine

Unit = Literal["cpu", "gpu", "npu"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FitRecord(_Frozen):
    """Where fitted numbers came from: the command and the reference rows (CSV line numbers) they used."""

    command: str
    reference: str
    rows: list[int] = Field(min_length=1)
    decode_mape_pct: float | None = None
    prefill_mape_pct: float | None = None


class CpuGemm(_Frozen):
    """llama.cpp's CPU GEMM kernels in prefill (edgesim.llm.cpu_gemm): which GGUF types ggml repacks per ISA path,
    the issue slots of the dot product per 16 int8 MACs per path, and the fitted overhead slots per GGUF type."""

    # slots per 16 int8 MACs of the dot product itself: neon (emulated), dotprod (SDOT), i8mm (SMMLA), avx2
    dot_slots: dict[str, float]
    # ISA path -> GGUF types ggml repacks into interleaved GEMM tiles on that path
    repack: dict[str, list[str]] = Field(default_factory=dict)
    # first llama.cpp build that repacks a type ("Q4_K" or "Q4_K/dotprod"); older builds run vec_dot for it
    repack_since_build: dict[str, int] = Field(default_factory=dict)
    # the llama.cpp build modelled (None = the newest, every repack in 'repack')
    build: int | None = Field(default=None, ge=1)
    repack_reuse: float = Field(default=4.0, ge=1, le=16)  # activation rows per unpacked weight tile
    mmla_types: list[str] = Field(default_factory=list)  # types with an nrc=2 SMMLA vec_dot
    mmla_reuse: float = Field(default=2.0, ge=1, le=8)
    chunks_per_thread: float = Field(default=4.0, ge=1)
    # first llama.cpp build whose GEMM of a split family hands out chunks through the atomic counter ('repack':
    # repack.cpp, 'tinyblas': llamafile's float tinyBLAS); older builds cut it into one equal piece per thread
    chunked_since_build: dict[str, int] = Field(default_factory=dict)
    # GGUF types llamafile's quantized tinyBLAS (tinyBLAS_Q0_ARM on SDOT cores, tinyBLAS_Q0_AVX on x86) multiplies
    # where they are not repacked, per family ('arm', 'x86'): it cuts its tiles into one equal piece per thread
    tinyblas_q0_types: dict[str, list[str]] = Field(default_factory=dict)
    tinyblas_since_build: int = Field(default=1, ge=1)  # first build with llamafile_sgemm (older: vec_dot)
    # overhead slots of ggml's fp16 FMA GEMM on cores with FP16 arithmetic (llamafile tinyBLAS, register-tiled):
    # F16 weights and prefill attention against the f16 KV cache. Cores without it convert to fp32 in
    # ggml_vec_dot_f16 and take the F16 overhead fitted on such a core.
    fp16_fma_overhead_slots: float = Field(default=2.0, ge=0, le=64)
    # without flash attention ggml multiplies Q by the K of every cached position and masks the future ones: a
    # prefill computes the full prompt x prompt rectangle, twice the causal triangle
    masked_full_attention: bool = True
    # DRAM bytes per (head, query, key) pair the materialised scores of that path cost (edgesim.llm.model
    # prefill_attention_bytes); 0 where the scores stay in cache (flash attention)
    score_bytes_per_pair: float = Field(default=0.0, ge=0, le=64)
    # soft_max over those scores per score element: 128-bit vector ops, and cycles of its scalar max chain
    softmax_vector_ops_per_score: float = Field(default=0.0, ge=0, le=64)
    softmax_chain_cycles_per_score: float = Field(default=0.0, ge=0, le=64)
    # slots per 16 MACs around the dot (loads, unpack, scales, accumulate) per GGUF type; 'default' for the rest
    overhead_slots: dict[str, float]
    # What a native build (cmake's default GGML_NATIVE: gcc -mcpu=native) compiles for on a CPU of two core types
    # (edgesim.llm.cpu_gemm.baseline_build): the big.LITTLE pairs GCC's -mcpu=native recognises ("a76.a55"), the
    # first GCC major that gives an unknown pair the cores' own features, and the GCC major the modelled build was
    # compiled with (None = a compiler that handles the core mix: prebuilt or cross-compiled binaries)
    gcc_big_little_pairs: list[str] = Field(default_factory=list)
    gcc_unknown_pair_since: int = Field(default=1, ge=1)
    gcc: int | None = Field(default=None, ge=4, le=99)

    @field_validator("dot_slots")
    @classmethod
    def _paths(cls, v: dict[str, float]) -> dict[str, float]:
        missing = {"neon", "dotprod", "i8mm"} - set(v)
        if missing:
            raise ValueError(f"needs entries for {sorted(missing)}")
        if any(x <= 0 for x in v.values()):
            raise ValueError("dot slots must be > 0")
        return v

    @field_validator("overhead_slots")
    @classmethod
    def _overhead(cls, v: dict[str, float]) -> dict[str, float]:
        if "default" not in v:
            raise ValueError("needs a 'default' entry")
        if any(not 0 <= x <= 400 for x in v.values()):
            raise ValueError("overhead slots must be in [0, 400]")
        return v

    def overhead(self, kernel: str) -> float:
        return self.overhead_slots.get(kernel, self.overhead_slots["default"])

    def chunked(self, family: str) -> bool:
        """Whether the modelled build hands ``family``'s GEMM chunks out dynamically (else one piece a thread)."""
        since = self.chunked_since_build.get(family)
        return self.build is None or since is None or self.build >= since

    def repacks(self, kernel: str, path: str) -> bool:
        """Whether the modelled build repacks ``kernel`` weights on ISA ``path``."""
        if kernel not in self.repack.get(path, ()):
            return False
        since = self.repack_since_build.get(f"{kernel}/{path}", self.repack_since_build.get(kernel))
        return self.build is None or since is None or self.build >= since


class PlacementParams(_Frozen):
    # Sustained fraction of the DRAM peak (read_bw x clock) a decode step streams at with all threads.
    bw_efficiency: float = Field(gt=0, le=1)
    # CPU only: bytes per core clock one thread can stream (a core's outstanding-miss limit); None = no per-core
    # limit (GPU/NPU DMA engines saturate DRAM on their own).
    core_bw_bytes_per_cycle: float | None = Field(default=None, gt=0)
    # Memory and compute time of a step blend as (t_mem^p + t_comp^p)^(1/p): p -> inf is a perfect roofline
    # (full overlap), p = 1 no overlap. 2 is what llama.cpp's CPU kernels show (fit on the Pi 4 sweep).
    overlap_exponent: float = Field(default=2.0, ge=1, le=16)
    per_token_overhead_s: float = Field(ge=0)  # sampling, graph build, framework per token
    per_layer_overhead_s: float = Field(default=0.0, ge=0)  # kernel launches / synchronisation per layer per step
    # The same in cycles of the unit's clock: a layer's small latency-bound kernels (norms, RoPE, attention over a
    # short context, residual adds) and the gaps between launches take a number of GPU/NPU cycles, so this part
    # shrinks as the clock rises (Orin Nano 625 MHz -> Super 1020 MHz). 'edgesim llm-fit' fits this one.
    per_layer_overhead_cycles: float = Field(default=0.0, ge=0)
    # Whose clock those cycles are: the unit's (kernels captured in a CUDA graph or queued by the NPU driver: the
    # device's own latency), the host CPU's (a runtime that launches every kernel from a host thread), or the host
    # core's vector issue slots (host_vector: the cycles are 128-bit vector-issue slots of one host core, for a
    # runtime that runs the small per-layer operators between its accelerator kernels on the CPU, vectorised, so
    # an A72 host (1 slot per cycle) takes twice the cycles of an A76 (2), edgesim.llm.cpu_cores).
    layer_overhead_clock: Literal["unit", "host", "host_vector"] = "unit"
    # Fraction of the fp16 peak the LM head reaches on a model with soft-capped logits (Gemma 2), where the
    # runtime's compiled head cannot fuse the tanh epilogue into its dequantising GEMV and runs it as a separate,
    # compute-bound matmul after the memory-bound step; None = the head costs no more than any other GEMV.
    softcap_head_efficiency: float | None = Field(default=None, gt=0, le=1)
    # Fraction of peak MAC rate the kernel of each weight format reaches (keys: GGUF types Q4_0, Q4_K, ..., group
    # kernels w4/w8/f16, 'attention' for the score/value products, 'default' for the rest).
    kernel_efficiency: dict[str, float]
    # Decode (GEMV, one token) reaches this fraction of the prefill kernel's rate: no reuse of an unpacked block.
    decode_compute_scale: float = Field(default=1.0, gt=0, le=4)
    # Kernels whose one-token decode runs a dedicated GEMV routine rather than the prefill GEMM (ExecuTorch's bf16
    # linear: a BFDOT dot per output row in its optimized op library, while its bf16 GEMM is the slow path): the
    # fraction of the unit's peak that GEMV reaches, used in place of kernel_efficiency x decode_compute_scale.
    decode_gemv_efficiency: dict[str, float] = Field(default_factory=dict)
    # CPU placements: decode_compute_scale per int8 kernel path of the cores ('i8mm', 'dotprod', 'neon'), or per
    # weight kernel on a path ('w4/dotprod'), for runtimes whose one-row GEMV microkernel loses the reuse its GEMM
    # tile gets (XNNPACK's 1xN against 4xN kernels: the unpacked weights feed one activation row, not four, and
    # SMMLA's 2-row tile computes a wasted row); unlisted paths take decode_compute_scale.
    decode_compute_scale_by_path: dict[str, float] = Field(default_factory=dict)
    # NPU placements whose on-chip buffer holds the activations of only a block of prompt tokens: prefill streams
    # every weight once per block of this many tokens (None = once per 512-token ubatch, as llama.cpp)
    prefill_token_block: float | None = Field(default=None, gt=0, le=4096)
    # CPU placements: prefill GEMMs costed per core ISA and kernel path (None = kernel_efficiency x peak)
    cpu_gemm: CpuGemm | None = None
    fit: FitRecord | None = None

    @field_validator("decode_gemv_efficiency", "decode_compute_scale_by_path")
    @classmethod
    def _gemv(cls, v: dict[str, float]) -> dict[str, float]:
        for k, e in v.items():
            if not 0 < e <= 1:
                raise ValueError(f"'{k}' efficiency must be in (0, 1], got {e}")
        return v

    @field_validator("kernel_efficiency")
    @classmethod
    def _eff(cls, v: dict[str, float]) -> dict[str, float]:
        if "default" not in v:
            raise ValueError("needs a 'default' entry")
        for k, e in v.items():
            if not 0 < e <= 1:
                raise ValueError(f"'{k}' efficiency must be in (0, 1], got {e}")
        return v

    def layer_overhead_s(self, m: Machine) -> float:
        """Fixed cost of one layer in one step (a decode step, or one prefill ubatch)."""
        return self.per_layer_overhead_s + self.per_layer_overhead_cycles / self.layer_clock_hz(m)

    def layer_clock_hz(self, m: Machine) -> float:
        """The rate per_layer_overhead_cycles are spent at (cycles, or host vector-issue slots, per second)."""
        if self.layer_overhead_clock == "host":
            return m.host_clock_hz
        if self.layer_overhead_clock == "host_vector":
            return m.host_clock_hz * m.host_vector_slots_per_cycle
        return m.clock_hz

    def efficiency(self, kernel: str) -> float:
        return self.kernel_efficiency.get(kernel, self.kernel_efficiency["default"])

    def decode_efficiency(self, kernel: str, int8_path: str | None = None) -> float:
        """Fraction of peak a weight kernel reaches in a one-token decode step (``int8_path``: the CPU cores' int8
        kernel path, for an int8 kernel on a CPU)."""
        gemv = self.decode_gemv_efficiency.get(kernel)
        if gemv is not None:
            return gemv
        scale = self.decode_compute_scale
        if int8_path is not None:
            by = self.decode_compute_scale_by_path
            scale = by.get(f"{kernel}/{int8_path}", by.get(int8_path, scale))
        return self.efficiency(kernel) * scale


class ServingOverhead(_Frozen):
    """What a serving layer on top of an engine costs per decode step on one placement, beyond the engine it
    inherits (Ollama's Go runner and its own ggml build on a Jetson): the step takes decode_time_scale x the
    engine's step plus per_token_overhead_s. Fitted by 'edgesim llm-fit' on the serving runtime's own rows with
    the engine held at its sourced numbers."""

    decode_time_scale: float = Field(ge=1, le=10)
    per_token_overhead_s: float = Field(default=0.0, ge=0, le=1)
    fit: FitRecord | None = None

    def step_s(self, engine_s: np.ndarray) -> np.ndarray:
        return engine_s * self.decode_time_scale + self.per_token_overhead_s


class LlmRuntime(_Frozen):
    id: str = Field(min_length=1)
    description: str
    default_unit: Unit
    # Placement the runtime's standard build takes by itself on boards with a GPU of one of these families (regex
    # on the GPU unit's or the board's description): llama.cpp and Ollama built for a Jetson offload every layer to
    # CUDA by default (llama-bench -ngl 99, Ollama's JetPack runners); elsewhere default_unit.
    gpu_default_on: str | None = None
    placements: dict[Unit, PlacementParams] = Field(min_length=1)
    default_quant: str
    # Per zoo model, the format the runtime's default download uses (ollama's default tags).
    default_quant_by_model: dict[str, str] = Field(default_factory=dict)
    kv_cache: str = "f16"
    # The KV cache element types the runtime can store (edgesim.llm.quant.KV_BITS names: llama.cpp's
    # --cache-type-k/v f16, q8_0, q4_0; TensorRT-LLM's int8): another is refused, not costed at its size. Empty =
    # only kv_cache.
    kv_cache_types: list[str] = Field(default_factory=list)
    # The loader reads a decoder ONNX graph with past key/values (onnxruntime-genai does; no bundled runtime here:
    # llama.cpp reads GGUF, MLC/TinyChat/RKLLM/TensorRT-LLM convert Hugging Face checkpoints): a user's runtime
    # profile of such an engine sets it. False: an ONNX decoder given as the model is refused.
    onnx_decoders: bool = False
    # Set by load_llm_runtime for a runtime YAML outside the package (an 'llm-fit -o DIR' overlay, a user's own
    # profile): what every output says beside the id it inherits, so a user's fit never reads as the shipped one.
    _user_source: str | None = PrivateAttr(default=None)

    @property
    def user_source(self) -> str | None:
        """'user fit DIR/ID.yaml' or 'user profile FILE' for a runtime read from outside the package, else None."""
        return self._user_source
    # Memory the runtime needs besides weights and KV cache (compute buffers, CUDA context, the engine itself).
    runtime_memory_bytes: int = Field(ge=0)
    # Memory the OS and desktop keep on a board that runs the runtime (not available to the model).
    os_reserved_bytes: int = Field(ge=0)
    # llama.cpp computes logits only for the last prompt token; HF transformers for all of them.
    prefill_logits_all: bool = False
    # Per placement: a serving layer's own decode cost on top of the engine's (ServingOverhead); none = the engine's
    serving: dict[Unit, ServingOverhead] = Field(default_factory=dict)
    sources: list[str] = Field(min_length=1)
    # Profile-id globs of the chips the runtime is built for (RKLLM: Rockchip NPUs; HailoRT GenAI: the Hailo-10H);
    # empty = any board with the placement's unit. Another chip is refused, not answered with its unit's numbers.
    chips: list[str] = Field(default_factory=list)
    # The weight formats the runtime's loader reads: canonical names of edgesim.llm.quant (GGUF file types, group
    # formats) or globs over them ("Q*" = every GGUF Q type). A format outside it is refused, not costed with this
    # runtime's kernels (RKLLM cannot load a GGUF file; llama.cpp has no w8a8).
    weight_formats: list[str] = Field(min_length=1)
    # Formats only some of the runtime's chips load: format -> profile-id globs (RKLLM's w4a16 on the RK3576/RK3562
    # NPUs, not on the RK3588's); a format not named here loads on every chip the runtime targets.
    format_chips: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_unit_known(self) -> LlmRuntime:
        if self.default_unit not in self.placements:
            raise ValueError(f"default_unit '{self.default_unit}' has no placement; have {sorted(self.placements)}")
        return self

    @model_validator(mode="after")
    def _kv_types_known(self) -> LlmRuntime:
        try:
            names = [canonical_kv(k) for k in (self.kv_cache, *self.kv_cache_types)]
        except EdgesimError as exc:
            raise ValueError(exc.message) from None
        if self.kv_cache_types and names[0] not in names[1:]:
            raise ValueError(f"kv_cache '{self.kv_cache}' is not one of kv_cache_types {self.kv_cache_types}")
        return self

    def check_kv_cache(self, kv_cache: str) -> str:
        """The canonical name of a KV cache type this runtime stores; refused (naming runtime and type) otherwise."""
        name = canonical_kv(kv_cache)
        have = [canonical_kv(k) for k in self.kv_cache_types or (self.kv_cache,)]
        if name not in have:
            raise EdgesimError(f"runtime {self.id} has no {name} KV cache (it stores: {', '.join(have)})",
                               field="kv_cache")
        return name

    @model_validator(mode="after")
    def _formats_known(self) -> LlmRuntime:
        known = quant_names()
        for pat in self.weight_formats:  # a typo would silently refuse a format (or a glob match nothing)
            if not fnmatch.filter(known, pat):
                raise ValueError(f"weight_formats entry '{pat}' names no edgesim format; known: {', '.join(known)}")
        for fmt in self.format_chips:
            if fmt not in known or not self._listed(fmt):
                raise ValueError(f"format_chips key '{fmt}' is not one of the runtime's weight_formats")
        defaults = {"default_quant": self.default_quant} | {
            f"default_quant_by_model.{m}": q for m, q in self.default_quant_by_model.items()}
        for where, q in defaults.items():
            try:
                name = canonical(q)
            except EdgesimError as exc:
                raise ValueError(f"{where}: {exc.message}") from None
            if not self._listed(name):
                raise ValueError(f"{where} '{q}' is not in weight_formats {self.weight_formats}")
            if name in self.format_chips:  # a default must load on every chip the runtime targets
                raise ValueError(f"{where} '{q}' loads only on {', '.join(self.format_chips[name])} (format_chips)")
        return self

    def _listed(self, fmt: str) -> bool:
        return any(fnmatch.fnmatchcase(fmt, pat) for pat in self.weight_formats)

    def loadable_formats(self, chip: str | None = None) -> list[str]:
        """The canonical formats the runtime loads (on ``chip``, a profile id, if given)."""
        return [q for q in quant_names() if self._listed(q) and self._on_chip(q, chip)]

    def _on_chip(self, fmt: str, chip: str | None) -> bool:
        globs = self.format_chips.get(fmt)
        return chip is None or globs is None or any(fnmatch.fnmatchcase(chip, g) for g in globs)

    @property
    def loads_gguf(self) -> bool:
        return any(self._listed(t) for t in gguf_file_types())

    def check_format(self, quant: str, chip: str | None = None) -> None:
        """Refuse a weight format (canonical name) this runtime cannot load, or cannot load on ``chip``."""
        if not self._listed(quant):
            raise EdgesimError(f"runtime {self.id} cannot load weight format {quant} (it loads: "
                               f"{_summary(self.weight_formats)})", field="quant")
        if not self._on_chip(quant, chip):
            raise EdgesimError(f"runtime {self.id} cannot load weight format {quant} on {chip} (only on "
                               f"{', '.join(self.format_chips[quant])}; it loads there: "
                               f"{_summary(self.loadable_formats(chip))})", field="quant")

    def check_gguf_file(self, path: str) -> None:
        """Refuse a GGUF file as the model for a runtime whose loader does not read GGUF."""
        if not self.loads_gguf:
            raise EdgesimError(f"runtime {self.id} cannot load weight format GGUF (it loads: "
                               f"{_summary(self.weight_formats)})", file=path, field="quant")

    def check_onnx_file(self, path: str) -> None:
        """Refuse a decoder ONNX as the model for a runtime whose loader does not read ONNX graphs."""
        if not self.onnx_decoders:
            raise EdgesimError(f"runtime {self.id} cannot load a decoder ONNX (onnxruntime-genai's format; it loads: "
                               f"{_summary(self.weight_formats)}); the model's config.json gives its architecture "
                               f"in {self.id}'s own formats", file=path, field="runtime")

    def placement(self, unit: str | None) -> tuple[str, PlacementParams]:
        u = unit or self.default_unit
        if u not in self.placements:
            raise ProfileError(f"runtime '{self.id}' cannot run on the {u}; placements: "
                               f"{', '.join(sorted(self.placements))}", field="unit")
        return u, self.placements[u]  # type: ignore[index]

    def unit_for_board(self, gpu_description: str | None) -> Unit:
        """The placement used when none is asked for: the GPU where the board's GPU is one this runtime's standard
        build offloads to (gpu_default_on), else default_unit."""
        if (gpu_description is not None and self.gpu_default_on is not None and "gpu" in self.placements
                and re.search(self.gpu_default_on, gpu_description, re.IGNORECASE)):
            return "gpu"
        return self.default_unit

    def decode_step_s(self, unit: str, engine_s: np.ndarray) -> np.ndarray:
        """Seconds per decode step on ``unit``: the engine's, plus this runtime's serving overhead there (if any)."""
        sv = self.serving.get(unit)  # type: ignore[call-overload]
        return engine_s if sv is None else sv.step_s(engine_s)

    def quant_for(self, model_name: str) -> str:
        return self.default_quant_by_model.get(model_name, self.default_quant)


def _summary(formats: list[str]) -> str:
    """The runtime's formats for a message, its GGUF file types (upper case, globs allowed) named as such."""
    gguf = [f for f in formats if f[:1].isupper()]
    rest = [f for f in formats if not f[:1].isupper()]
    return ", ".join(([f"GGUF types {' '.join(gguf)}"] if gguf else []) + rest)


def runtimes_dir() -> Path:
    # The running checkout's folder first (`edgesim llm-fit` writes next to the code that ran), else the package data.
    return bundled_dir("llm_runtimes")


FIT_SUFFIX = ".fit.yaml"


def runtime_ids() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in runtimes_dir().glob("*.yaml")
                  if not p.name.endswith(FIT_SUFFIX))


def fit_path(runtime_id: str) -> Path:
    """The generated overlay ``edgesim llm-fit`` writes: fitted placement numbers and the rows they came from."""
    return runtimes_dir() / f"{runtime_id}{FIT_SUFFIX}"


def _raw(path: Path, fitted: bool = True, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in chain:  # a file inheriting itself, directly or round a loop, recursed without end (exit 3)
        cycle = " -> ".join(p.name for p in (*chain, path.resolve()))
        raise ProfileError(f"'inherits' cycle: {cycle}", file=str(path), field="inherits")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"cannot read LLM runtime: {exc}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None
    if not isinstance(data, dict):
        raise ProfileError("top level must be a mapping", file=str(path))
    base = data.pop("inherits", None)
    if base is None:
        return data
    from edgesim.hw.loader import deep_merge

    rel = path.parent / str(base)  # a YAML parent next to the child, as a profile's 'extends' is found
    try:
        ppath = rel if rel.suffix in (".yaml", ".yml") and rel.is_file() else _locate(str(base))
    except ProfileError as exc:
        raise ProfileError(exc.message, file=str(path), field="inherits") from None
    parent = _with_fit(ppath, _raw(ppath, fitted, (*chain, path.resolve())), fitted)
    merged = deep_merge(parent, data)
    assert isinstance(merged, dict)
    return merged


def _locate(spec: str) -> Path:
    p = Path(spec)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ProfileError("LLM runtime file not found", file=spec)
        return p
    cand = runtimes_dir() / f"{spec}.yaml"
    if not cand.is_file():
        raise ProfileError(f"unknown LLM runtime '{spec}'; known: {', '.join(runtime_ids())}", field="runtime")
    return cand


def _with_fit(path: Path, data: dict[str, Any], fitted: bool) -> dict[str, Any]:
    overlay = path.with_name(path.name.removesuffix(".yaml") + FIT_SUFFIX)
    if not fitted or not overlay.is_file():
        return data
    from edgesim.hw.loader import deep_merge

    extra = yaml.safe_load(overlay.read_text(encoding="utf-8"))
    if not isinstance(extra, dict):
        raise ProfileError("top level must be a mapping", file=str(overlay))
    merged = deep_merge(data, extra)
    assert isinstance(merged, dict)
    return merged


@lru_cache(maxsize=64)
def engine_of(spec: str) -> str:
    """The engine a runtime runs its kernels with: the root of its ``inherits`` chain (ollama -> llama.cpp), else
    its own id. Rows measured with one runtime of an engine measure the engine on that board for the others."""
    base = spec.partition("@")[0]
    try:
        path = _locate(base)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (ProfileError, OSError, yaml.YAMLError):
        return base
    parent = data.get("inherits") if isinstance(data, dict) else None
    return engine_of(str(parent)) if parent else (str(data.get("id", base)) if isinstance(data, dict) else base)


@lru_cache(maxsize=64)
def load_llm_runtime(spec: str, fitted: bool = True) -> LlmRuntime:
    """An LLM runtime by id (hw_profiles/llm_runtimes/ID.yaml) or YAML path; ``inherits`` merges a parent, and the
    fitted overlay ID.fit.yaml (if any, and ``fitted``) goes on top. fitted=False gives the sourced priors.
    'ID@bNNNN' (llama.cpp and its relatives) models that build's CPU kernels; 'ID@gccNN' a native build compiled
    with GCC NN; both as 'ID@bNNNN,gccNN'."""
    base, sep, tail = spec.partition("@")
    if sep:
        update: dict[str, int] = {}
        for tok in tail.split(","):
            m = re.fullmatch(r"(b?)(\d{1,6})|gcc(\d{1,2})", tok.strip())
            if m is None:
                raise ProfileError(f"'{tok}' is not a llama.cpp build or compiler (e.g. {base}@b7070, {base}@gcc13)",
                                   field="runtime")
            if m.group(3) and int(m.group(3)) < 4:
                raise ProfileError(f"'{tok}': GCC before 4 has no AArch64 -mcpu=native", field="runtime")
            if m.group(2) and int(m.group(2)) < 1:  # model_copy below does not validate: build 0 was taken
                raise ProfileError(f"'{tok}': llama.cpp builds are numbered from b1", field="runtime")
            key = "build" if m.group(2) else "gcc"
            if key in update:  # '@b7000,b8000' silently kept the last one
                raise ProfileError(f"'{tail}' names two {'builds' if key == 'build' else 'compilers'}",
                                   field="runtime")
            update[key] = int(m.group(2) or m.group(3))
        rt = load_llm_runtime(base, fitted)
        p = rt.placements.get("cpu")
        if p is None or p.cpu_gemm is None:
            raise ProfileError(f"runtime '{base}' has no CPU kernel model to set a build on", field="runtime")
        cg = p.cpu_gemm.model_copy(update=update)
        return rt.model_copy(update={"placements": {**rt.placements, "cpu": p.model_copy(update={"cpu_gemm": cg})}})
    path = _locate(spec)
    data = _with_fit(path, _raw(path, fitted), fitted)
    try:
        rt = LlmRuntime.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ProfileError(err["msg"], file=str(path), field=loc) from None
    if path.resolve().parent != runtimes_dir().resolve():
        rt._user_source = f"{'user fit' if _is_user_fit(path) else 'user profile'} {path}"
    return rt


def _is_user_fit(path: Path) -> bool:
    """The file carries its own fit records (what 'llm-fit -o DIR' writes), not only sourced numbers."""
    own = yaml.safe_load(path.read_text(encoding="utf-8"))
    sections = [own.get(k) for k in ("placements", "serving")] if isinstance(own, dict) else []
    return any(isinstance(u, dict) and "fit" in u for sec in sections if isinstance(sec, dict) for u in sec.values())


def weight_formats_markdown() -> str:
    """The table docs/llm.md quotes: each bundled runtime's loadable weight formats (and per-chip limits)."""
    lines = ["| runtime | weight formats it loads | only on some chips |", "|---|---|---|"]
    for rid in runtime_ids():
        rt = load_llm_runtime(rid)
        limits = "; ".join(f"{q}: {', '.join(g)}" for q, g in rt.format_chips.items())
        limits_cell = f"`{limits}`" if limits else ""
        lines.append(f"| {rid} | `{_summary(rt.weight_formats)}` | {limits_cell} |")
    return "\n".join(lines)
