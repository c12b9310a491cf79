"""``edgesim.llm.predict``: one (model, board, runtime, quant, prompt, gen) point, and decode-latency curves."""

from __future__ import annotations

import fnmatch
import numbers
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesim.errors import EdgesimError, ModelError, ProfileError
from edgesim.hw.schema import HardwareProfile
from edgesim.hw.targeting import check_thread_count
from edgesim.llm.arch import ModelArch, load_config, zoo_arch
from edgesim.llm.machine import Machine, find_unit, machine
from edgesim.llm.model import decode_steps, energy_j, model_work, prefill_cost
from edgesim.llm.quant import QuantScheme, kv_bits, scheme
from edgesim.llm.runtime import LlmRuntime, load_llm_runtime

if TYPE_CHECKING:
    from edgesim.llm.intervals import LlmInterval

DEFAULT_RUNTIME = {"cpu": "llama.cpp", "gpu": "mlc", "npu": "rkllm"}


@dataclass(frozen=True)
class Phase:
    time_s: float
    tokens_per_s: float
    bound: str  # memory | compute
    bytes: float
    macs: float
    energy_j: float


@dataclass(frozen=True)
class LlmEstimate:
    model: str
    hw: str
    runtime: str
    unit: str
    quant: str
    kv_cache: str
    threads: int | None
    prompt_tokens: int
    gen_tokens: int
    context_tokens: int
    bits_per_weight: float
    weights_bytes: float
    kv_cache_bytes: float
    runtime_bytes: float
    memory_bytes: float
    available_bytes: float
    fits: bool
    fit_reason: str
    decode_bytes_per_token: float
    prefill: Phase | None  # None when the model does not fit
    decode: Phase | None
    # The user's runtime file the run used ('user fit DIR/ID.yaml'); None = the bundled runtime ``runtime`` names.
    runtime_source: str | None = None

    @property
    def runtime_label(self) -> str:
        """The runtime as every output names it: the id, and the user's file when it is one."""
        return self.runtime if self.runtime_source is None else f"{self.runtime} ({self.runtime_source})"

    @property
    def ttft_s(self) -> float | None:
        return None if self.prefill is None else self.prefill.time_s

    @property
    def energy_per_token_j(self) -> float | None:
        if self.decode is None or self.gen_tokens == 0:
            return None
        return self.decode.energy_j / self.gen_tokens

    def interval(self, confidence: float = 0.8) -> LlmInterval | None:
        """Tokens/s, TTFT and energy-per-token intervals at ``confidence`` (``edgesim.llm.intervals``), the ones
        ``edgesim llm`` prints and writes; None when the model does not fit (there is nothing to bound)."""
        from edgesim.llm.intervals import llm_interval
        from edgesim.pipeline.intervals import check_confidence

        check_confidence(confidence)
        return llm_interval(self, confidence) if self.fits else None

    def as_dict(self, confidence: float | None = None) -> dict[str, Any]:
        """The estimate as ``edgesim llm --json`` writes it; with ``confidence``, its ``interval`` too (a model
        that fits)."""
        iv = None if confidence is None else self.interval(confidence)

        def phase(ph: Phase | None) -> dict[str, Any] | None:
            return None if ph is None else {"time_s": ph.time_s, "tokens_per_s": ph.tokens_per_s,
                                            "bound": ph.bound, "bytes": ph.bytes, "macs": ph.macs,
                                            "energy_j": ph.energy_j}
        return {
            "model": self.model, "hw": self.hw, "runtime": self.runtime, "runtime_source": self.runtime_source,
            "unit": self.unit, "quant": self.quant,
            "kv_cache": self.kv_cache,
            "threads": self.threads, "prompt_tokens": self.prompt_tokens, "gen_tokens": self.gen_tokens,
            "context_tokens": self.context_tokens, "bits_per_weight": self.bits_per_weight,
            "weights_bytes": self.weights_bytes, "kv_cache_bytes": self.kv_cache_bytes,
            "runtime_bytes": self.runtime_bytes, "memory_bytes": self.memory_bytes,
            "available_bytes": self.available_bytes, "fits": self.fits, "fit_reason": self.fit_reason,
            "decode_bytes_per_token": self.decode_bytes_per_token,
            "prefill_tokens_per_s": None if self.prefill is None else self.prefill.tokens_per_s,
            "decode_tokens_per_s": None if self.decode is None else self.decode.tokens_per_s,
            "ttft_s": self.ttft_s, "energy_per_token_j": self.energy_per_token_j,
            "prefill": phase(self.prefill), "decode": phase(self.decode),
        } | ({} if iv is None else {"interval": iv.as_dict()})


@dataclass(frozen=True)
class ResolvedModel:
    arch: ModelArch
    file_scheme: QuantScheme | None  # the per-tensor types of a GGUF file; None for configs


@lru_cache(maxsize=128)
def resolve_model(spec: str) -> ResolvedModel:
    """A zoo name, a config.json, a .gguf file or a decoder .onnx with past key/values."""
    p = Path(spec)
    if p.suffix.lower() == ".gguf":
        from edgesim.llm.gguf_file import read_gguf

        g = read_gguf(p)
        return ResolvedModel(g.arch, g.scheme)
    if p.suffix.lower() == ".onnx":
        from edgesim.llm.onnx_decoder import read_onnx_decoder

        arch, qs = read_onnx_decoder(p)
        return ResolvedModel(arch, qs)
    if p.suffix.lower() == ".json" or p.is_file():
        if not p.is_file():
            raise ModelError("model file not found", file=spec)
        return ResolvedModel(load_config(p), None)
    return ResolvedModel(zoo_arch(spec), None)


def _profile(hw: str | HardwareProfile) -> HardwareProfile:
    if isinstance(hw, HardwareProfile):
        return hw
    from edgesim.pipeline import resolve_profile

    return resolve_profile(hw)  # the loader reads the checkout's own profiles first


def _bound(mem_s: float, comp_s: float) -> str:
    return "memory" if mem_s >= comp_s else "compute"


@dataclass(frozen=True)
class Setup:
    arch: ModelArch
    qs: QuantScheme
    rt: LlmRuntime
    unit: str
    m: Machine
    profile: HardwareProfile


def _check_choices(runtime: object, quant: object, threads: object, unit: object, kv_cache: object) -> None:
    """The API's optional choices are names or None (an empty name is not 'the default') and threads a whole
    count: 1.5 threads or True would be costed as a fraction of a core."""
    for name, value in (("runtime", runtime), ("quant", quant), ("unit", unit), ("kv_cache", kv_cache)):
        if value is None or (name == "runtime" and isinstance(value, LlmRuntime)):
            continue
        if not isinstance(value, str) or not value:
            raise EdgesimError(f"must be a name or None, got {value!r}", field=name)
    check_thread_count(threads)


def setup(model: str | ModelArch, hw: str | HardwareProfile, runtime: str | LlmRuntime | None = None,
          quant: str | None = None,
          threads: int | None = None, unit: str | None = None, kv_cache: str | None = None) -> Setup:
    _check_choices(runtime, quant, threads, unit, kv_cache)
    if isinstance(model, ModelArch):
        res = ResolvedModel(model, None)
    else:
        res = resolve_model(str(model))
    arch = res.arch
    if isinstance(runtime, LlmRuntime):
        rt = runtime
    else:
        rt = load_llm_runtime(runtime or DEFAULT_RUNTIME.get(unit or "cpu", "llama.cpp"))
    if kv_cache is not None:
        # an unknown cache type is refused by name, a known one the runtime cannot store (MLC's q4_0) by runtime
        rt = rt.model_copy(update={"kv_cache": rt.check_kv_cache(kv_cache)})
    prof = _profile(hw)
    u, _ = rt.placement(unit or rt.unit_for_board(_gpu_description(prof)))
    if res.file_scheme is not None and quant is None:
        qs = res.file_scheme
    else:
        qs = scheme(quant or rt.quant_for(arch.name), arch)
    try:
        m = machine(prof, u, threads)  # first: a board without the unit says so
    except ProfileError as exc:
        if unit is not None or exc.field != "unit":
            raise
        # the user named no unit: say whose choice it was (the runtime's placement), not only what is missing
        raise ProfileError(f"runtime {rt.id} runs on the {u}, and {exc.message}", field="runtime") from None
    if rt.chips and not any(fnmatch.fnmatchcase(prof.id, c) for c in rt.chips):
        raise EdgesimError(f"device {prof.id}, runtime {rt.id}: the runtime targets only {', '.join(rt.chips)}",
                           field="runtime")
    suffix = "" if isinstance(model, ModelArch) else Path(str(model)).suffix.lower()
    if suffix == ".gguf":
        rt.check_gguf_file(str(model))  # a GGUF file is only readable by a GGUF loader, whatever --quant says
    elif suffix == ".onnx":
        rt.check_onnx_file(str(model))  # the same for a decoder ONNX: onnxruntime-genai's, no GGUF/MLC loader's
    if res.file_scheme is None or quant is not None:
        rt.check_format(qs.name, prof.id)  # the named format (or the runtime's default) must be one it loads
    return Setup(arch, qs, rt, u, m, prof)


def _gpu_description(prof: HardwareProfile) -> str | None:
    """The board's GPU as its profile describes it (with the board's own description), None without a GPU."""
    try:
        gpu = find_unit(prof, "gpu")
    except ProfileError:
        return None
    return f"{prof.description} / {gpu.description}"


def _token_counts(prompt: object, gen: object, context: object, cached: object
                  ) -> tuple[int, int, int | None, int]:
    """The run's token counts as Python ints (numpy integers are whole numbers too, but the estimate's JSON needs
    ints), refused by name unless whole, non-negative, not both zero, and ``cached`` within the prompt."""
    for name, value in (("prompt", prompt), ("gen", gen), ("context", context), ("cached", cached)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise EdgesimError(f"must be a whole number of tokens, got {value!r}", field=name)
    p, g, c = int(prompt), int(gen), int(cached)  # type: ignore[call-overload]
    ctx = None if context is None else int(context)  # type: ignore[call-overload]
    if p < 0 or g < 0:
        raise EdgesimError(f"prompt and gen must be >= 0, got {p} and {g}", field="prompt")
    if p + g == 0:
        raise EdgesimError("prompt and gen are both 0: nothing to prefill or decode", field="prompt")
    if not 0 <= c <= p:
        raise EdgesimError(f"cached tokens must be within the prompt (0..{p}), got {c}", field="cached")
    return p, g, ctx, c


def predict(model: str | ModelArch, hw: str | HardwareProfile, runtime: str | LlmRuntime | None = None,
            quant: str | None = None,
            threads: int | None = None, unit: str | None = None, prompt: int = 512, gen: int = 128,
            context: int | None = None, cached: int = 0, kv_cache: str | None = None) -> LlmEstimate:
    """Prefill of ``prompt`` tokens then decode of ``gen`` tokens; ``context`` sizes the KV cache (default
    prompt + gen); the first ``cached`` prompt tokens are already in the KV cache (prefix caching). A model that
    does not fit the board's memory gets fits=False and no timings. ``kv_cache`` (f16, q8_0, q4_0) overrides the
    runtime's KV cache type."""
    prompt, gen, context, cached = _token_counts(prompt, gen, context, cached)
    if isinstance(threads, numbers.Integral) and not isinstance(threads, bool):
        threads = int(threads)  # anything else is refused, by name, in setup
    s = setup(model, hw, runtime, quant, threads, unit, kv_cache)
    arch, rt, m = s.arch, s.rt, s.m
    ctx = context if context is not None else prompt + gen
    if ctx < prompt + gen:
        raise EdgesimError(f"--context {ctx} is smaller than prompt + gen = {prompt + gen}: the KV cache must hold "
                           "every token of the run", field="context")
    if prompt + gen > arch.max_context or ctx > arch.max_context:
        raise EdgesimError(f"prompt + gen = {max(prompt + gen, ctx)} tokens exceeds the model's context of "
                           f"{arch.max_context}", field="prompt")
    _, params = rt.placement(s.unit)
    work = model_work(arch, s.qs)
    kv_bytes = arch.kv_elements(max(ctx, 1)) * kv_bits(rt.kv_cache) / 8
    mem = work.weights_bytes + kv_bytes + rt.runtime_memory_bytes
    avail = float(m.dram_bytes - rt.os_reserved_bytes)
    fits = mem <= avail
    # a board whose DRAM is below what the runtime's OS keeps (an MCU's PSRAM) has none left, not '-0.69 GB'
    left = (f"of {avail / 1e9:.2f} GB available ({m.dram_bytes / 1e9:.2f} GB DRAM less "
            f"{rt.os_reserved_bytes / 1e9:.2f} GB for the OS)") if avail > 0 else (
        f"and none is left: the board's {m.dram_bytes / 1e9:.2f} GB DRAM is under the {rt.os_reserved_bytes / 1e9:.2f} "
        f"GB {rt.id} leaves to the OS")
    reason = (f"needs {mem / 1e9:.2f} GB (weights {work.weights_bytes / 1e9:.2f} + KV cache {kv_bytes / 1e9:.2f} + "
              f"runtime {rt.runtime_memory_bytes / 1e9:.2f}) {left}")
    pre = dec = None
    if fits:
        pc = prefill_cost(arch, work, m, rt, params, prompt, cached)
        prec = "int8" if any(k.precision == "int8" for k in work.kernels) else "fp16"
        if prompt > cached:
            pre = Phase(pc.time_s, (prompt - cached) / pc.time_s, _bound(pc.mem_s, pc.comp_s), pc.bytes, pc.macs,
                        energy_j(m, pc.time_s, pc.bytes, pc.macs, prec))
        if gen:
            steps = decode_steps(arch, work, m, rt, params, np.arange(prompt, prompt + gen))
            t = float(rt.decode_step_s(s.unit, steps.time_s).sum())
            nb, nm = float(steps.bytes.sum()), float(steps.macs.sum())
            dec = Phase(t, gen / t, _bound(float(steps.mem_s.sum()), float(steps.comp_s.sum())), nb, nm,
                        energy_j(m, t, nb, nm, prec))
    return LlmEstimate(
        model=arch.name, hw=m.hw, runtime=rt.id, unit=s.unit, quant=s.qs.name, kv_cache=rt.kv_cache, threads=threads,
        prompt_tokens=prompt, gen_tokens=gen, context_tokens=ctx, bits_per_weight=s.qs.bits_per_weight,
        weights_bytes=work.weights_bytes, kv_cache_bytes=kv_bytes, runtime_bytes=float(rt.runtime_memory_bytes),
        memory_bytes=mem, available_bytes=avail, fits=fits, fit_reason=("fits: " if fits else "does not fit: ")
        + reason, decode_bytes_per_token=work.bytes_per_token, prefill=pre, decode=dec,
        runtime_source=rt.user_source,
    )


def decode_curve(model: str | ModelArch, hw: str | HardwareProfile, contexts: np.ndarray | list[int],
                 runtime: str | LlmRuntime | None = None, quant: str | None = None, threads: int | None = None,
                 unit: str | None = None, kv_cache: str | None = None) -> np.ndarray:
    """Seconds per decoded token at each context length (KV cache and attention grow with it)."""
    ctx = np.asarray(contexts)
    if ctx.ndim != 1 or (ctx.size and not np.issubdtype(ctx.dtype, np.integer)) or (ctx.size and ctx.min() < 0):
        # a nan, 1.5 or -5 tokens of context would be costed as if it were a context length
        raise EdgesimError(f"contexts must be a list of whole token counts >= 0, got {contexts!r}"[:200],
                           field="context")
    s = setup(model, hw, runtime, quant, threads, unit, kv_cache)
    _, params = s.rt.placement(s.unit)
    if ctx.size and int(ctx.max()) > s.arch.max_context:
        raise EdgesimError(f"context {int(ctx.max())} exceeds the model's {s.arch.max_context}", field="context")
    return s.rt.decode_step_s(s.unit, decode_steps(s.arch, model_work(s.arch, s.qs), s.m, s.rt, params, ctx).time_s)
