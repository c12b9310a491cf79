"""llama.cpp's CPU matrix multiplies in prefill: kernel path per (GGUF type, core ISA) and an issue-slot cost model.

A block-quantized dot product on a CPU is bound by vector instruction issue, not by the dot-product unit alone:
per 16 int8 MACs a core issues the dot product itself (``dot_slots``: ~1 SDOT, 1/2 SMMLA, or the SMULL/SADALP
emulation on cores without SDOT) plus the work around it, the same on every core (``overhead_slots``: weight
and activation loads, nibble/high-bit unpacking, block-scale multiply and float accumulate; fitted per GGUF
type). Kernels that reuse an unpacked weight register across several activation rows divide that overhead:
ggml's repacked GEMMs (Q4_0 4x4/4x8, Q4_K 8x8, IQ4_NL 4x4: 4 activation rows per tile) and its nrc=2 SMMLA
vec_dot (2 rows). So one core runs a kernel at

    MACs/s = 16 x clock / (overhead / reuse / vector slots per cycle + dot / dot issue rate)

where the dot issues at the core's vector slots, except ggml's emulated dot (SMULL/SMULL2/SADALP, cores or builds
without SDOT), whose widening multiplies issue only on the multiply-capable pipes: one on an A72 (F0) and one on an
A76/A78 (V0, Arm's optimisation guides), so a second vector pipe halves the work around that dot, not the dot.
The threads' cores add up (ggml hands out chunks through an atomic counter; a repacked GEMM cuts only ~4 per
thread, so a slow LITTLE core holding one of the last chunks sets the finish). The same overhead fitted on a
Cortex-A72 (no SDOT) then predicts an A76 (SDOT) or an X3 (SMMLA) through the mechanism, not a per-board factor.
What the cores support is not always what the build uses: a native GCC build on a core pair GCC does not know is
compiled for plain Armv8.0 (baseline_build), and ggml then runs the emulated path on SDOT cores too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from edgesim.llm.machine import CoreGroup, Machine
from edgesim.llm.runtime import CpuGemm, LlmRuntime

# llama.cpp build numbers at known dates, from benchmark logs that print both: 4696 on 2025-02-12
# (geerlingguy/ai-benchmarks#20), 7070 on 2025-10-23 (llama.cpp PR #16739), 7190 on 2025-11-28 (ai-benchmarks#37),
# 7365 on 2025-12-16 (PR #18096), 8664 on 2026-04-04 (ai-benchmarks#51), 10334 on 2026-09-10 (ai-benchmarks#53).
_BUILD_AT = ((date(2025, 2, 12), 4696), (date(2025, 10, 23), 7070), (date(2025, 11, 28), 7190),
             (date(2025, 12, 16), 7365), (date(2026, 4, 4), 8664), (date(2026, 9, 10), 10334))
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}


def _build_at(d: date) -> int:
    pts = _BUILD_AT
    i = next((k for k in range(1, len(pts)) if d <= pts[k][0]), len(pts) - 1)
    (d0, b0), (d1, b1) = pts[i - 1], pts[i]
    return max(1, round(b0 + (b1 - b0) * (d - d0).days / (d1 - d0).days))


def llama_build(version: str) -> int | None:
    """The llama.cpp build a published version string names: 'build 9c699074c (8664)', 'b10964', or a date
    ('2024-03-26', '(Nov 2025)') through the dated builds above; None when it names none."""
    m = re.search(r"\((\d{3,5})\)|\bb(\d{3,5})\b", version)
    if m:
        return int(m.group(1) or m.group(2))
    m = re.search(r"(20\d\d)-(\d\d)(?:-(\d\d))?", version)
    if m:
        return _build_at(date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 15)))
    m = re.search(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? (20\d\d)", version, re.IGNORECASE)
    if m:
        return _build_at(date(int(m.group(2)), _MONTHS[m.group(1).lower()], 15))
    return None


def at_build(rt: LlmRuntime, build: int | None, gcc: int | None = None) -> LlmRuntime:
    """``rt`` with its CPU GEMM model set to llama.cpp build ``build`` (kernels repacked only from their build) and,
    where given, compiled natively with GCC major ``gcc`` (baseline_build)."""
    p = rt.placements.get("cpu")
    update = {k: v for k, v in (("build", build), ("gcc", gcc)) if v is not None}
    if not update or p is None or p.cpu_gemm is None:
        return rt
    cg = p.cpu_gemm.model_copy(update=update)
    return rt.model_copy(update={"placements": {**rt.placements, "cpu": p.model_copy(update={"cpu_gemm": cg})}})


def baseline_build(groups: tuple[CoreGroup, ...], cg: CpuGemm) -> bool:
    """Whether a native GCC build of ggml on these cores is compiled for plain Armv8.0 (no SDOT, I8MM or FP16
    arithmetic), whatever the cores support.

    cmake's default GGML_NATIVE build takes the -mcpu= that 'gcc -mcpu=native -E -v' prints, else passes
    -mcpu=native itself (ggml-cpu/CMakeLists.txt); its '+dotprod' fix-ups fail on GCC, which rejects
    'native+ext' (llama.cpp PR #10895). GCC's driver (config/aarch64/driver-aarch64.cc host_detect_local_cpu)
    reads the core part numbers from /proc/cpuinfo: one type, or two that form one of its big.LITTLE pairs, get
    that CPU; two others get the generic CPU with the cores' features only from ``cg.gcc_unknown_pair_since``,
    and older GCC drop the option ("If detection fails we ignore the option"); three types fail in every GCC.
    ggml then reports no dotprod (ggml_cpu_has_dotprod() is 0 without __ARM_FEATURE_DOTPROD): the emulated dot,
    no repacked GEMM but IQ4_NL's NEON one, fp32 instead of fp16 FMA."""
    if cg.gcc is None or any(g.isa.x86 for g in groups):
        return False
    names = list(dict.fromkeys(g.isa.name for g in groups))  # big cluster first, as the profile lists them
    if len(names) <= 1 or "unknown" in names:
        return False
    if len(names) > 2:
        return True
    return f"{names[0]}.{names[1]}" not in cg.gcc_big_little_pairs and cg.gcc < cg.gcc_unknown_pair_since


def compiled_groups(groups: tuple[CoreGroup, ...], cg: CpuGemm) -> tuple[CoreGroup, ...]:
    """The cores as the build's kernels see them: without the instructions a baseline build compiled out."""
    if not baseline_build(groups, cg):
        return groups
    return tuple(replace(g, isa=replace(g.isa, dotprod=False, i8mm=False, fp16_arith=False)) for g in groups)


@dataclass(frozen=True)
class KernelPath:
    name: str  # neon | dotprod | i8mm | <path>-repack | fma16 | fma32
    dot_slots: float
    reuse: float
    # the dot is ggml's emulation (ggml_vdotq_s32 without __ARM_FEATURE_DOTPROD: SMULL, SMULL2, SADALP), whose
    # widening multiplies issue only on the core's multiply-capable pipes
    emulated: bool = False


def kernel_path(kernel: str, precision: str, core: CoreGroup, cg: CpuGemm) -> KernelPath:
    """The path ggml takes for ``kernel`` weights on ``core`` (repack first, as ggml_repack_get_optimal_repack_type
    checks i8mm before dotprod; then vec_dot with SMMLA pairs, SDOT or the emulated dot)."""
    isa = core.isa
    if precision != "int8":
        # float weights: FMA of 8 fp16 lanes per 128-bit instruction where the core has FP16 arithmetic, else 4
        if precision == "fp16" and isa.fp16_arith:
            return KernelPath("fma16", 2.0, 1.0)
        return KernelPath("fma32", 4.0, 1.0)
    paths = ["avx2"] if isa.x86 else [p for p, ok in (("i8mm", isa.i8mm), ("dotprod", isa.dotprod),
                                                      ("neon", True)) if ok]
    for p in paths:
        if cg.repacks(kernel, p):
            return KernelPath(f"{p}-repack", cg.dot_slots.get(p, cg.dot_slots["dotprod"]), cg.repack_reuse,
                              emulated=p == "neon")
    if isa.x86:
        return KernelPath("avx2", cg.dot_slots.get("avx2", cg.dot_slots["dotprod"]), 1.0)
    if isa.i8mm and kernel in cg.mmla_types:
        return KernelPath("i8mm", cg.dot_slots["i8mm"], cg.mmla_reuse)
    if isa.dotprod:
        return KernelPath("dotprod", cg.dot_slots["dotprod"], 1.0)
    return KernelPath("neon", cg.dot_slots["neon"], 1.0, emulated=True)


def dot_issue_rate(path: KernelPath, core: CoreGroup) -> float:
    """128-bit slots per cycle the dot itself issues at: the core's vector slots, but the emulated dot's SMULL /
    SMULL2 only at the core's widening multiplies per cycle (edgesim.llm.cpu_cores: one pipe on A72 F0 and on
    A76/A78 V0, so two vector pipes do not halve its cost as they halve SDOT's)."""
    muls = core.isa.widening_muls_per_cycle
    if path.emulated and muls is not None:
        return min(core.vector_slots_per_cycle, muls)
    return core.vector_slots_per_cycle


def core_rate(kernel: str, precision: str, core: CoreGroup, cg: CpuGemm, overhead: float | None = None) -> float:
    """MACs/s one core of ``core`` reaches on ``kernel`` weights."""
    path = kernel_path(kernel, precision, core, cg)
    if path.name == "fma16":
        u = cg.fp16_fma_overhead_slots  # tinyBLAS on FP16 cores: not the converting path the F16 fit saw
    elif overhead is not None:
        u = overhead
    else:
        # prefill attention runs ggml's F16 mul_mat against the f16 KV cache: the F16 weight path
        u = cg.overhead("F16" if kernel == "attention" else kernel)
    cycles = u / path.reuse / core.vector_slots_per_cycle + path.dot_slots / dot_issue_rate(path, core)
    return 16.0 * core.clock_hz / cycles


def _chunked_finish(rates: list[float], chunks: int) -> float:
    """When the last of ``chunks`` equal chunks (1 work unit in total) is done: each thread starts on its own
    chunk and then takes the next free one (ggml's atomic chunk counter), so a slow core holding the last chunk
    sets the finish."""
    free = [0.0] * len(rates)
    size = 1.0 / chunks
    for _ in range(chunks):
        i = min(range(len(rates)), key=lambda k: free[k])  # the thread free first takes it
        free[i] += size / rates[i]
    return max(free)


def split_chunks(kernel: str, path: KernelPath, threads: int, cg: CpuGemm, x86: bool) -> int | None:
    """How many pieces ggml cuts one weight GEMM into for ``threads`` threads; None = thousands (balanced).

    - vec_dot (ggml-cpu.c ggml_compute_forward_mul_mat): 16x16 output tiles from an atomic counter: balanced;
    - repacked GEMMs (repack.cpp forward_mul_mat): "4x chunks per thread" from the counter since llama.cpp PR
      #16833 (2025-10-30); before it one equal slice of weight rows per thread;
    - llamafile's float tinyBLAS (F16 weights, attention against the f16 KV cache): jobs from the counter since
      PR #10714 (2024-12-24); before it one equal run of tiles per thread ("duty = tiles / nth");
    - quantized tinyBLAS (tinyBLAS_Q0_ARM for Q4_0 / Q8_0 on SDOT cores, tinyBLAS_Q0_AVX for Q4_0, Q5_0, Q8_0,
      IQ4_NL on x86, where not repacked; llamafile_sgemm is tried before vec_dot): one equal run of tiles per
      thread in every build.
    With one equal piece per thread the slowest core sets the finish: on big.LITTLE the LITTLE threads' share."""
    if path.name.endswith("repack"):
        return max(1, round(cg.chunks_per_thread * threads)) if cg.chunked("repack") else threads
    if path.name in ("fma16", "fma32"):
        return None if cg.chunked("tinyblas") else threads
    q0 = cg.tinyblas_q0_types.get("x86" if x86 else "arm", [])
    has_sgemm = cg.build is None or cg.build >= cg.tinyblas_since_build
    if has_sgemm and kernel in q0 and path.name in (("avx2",) if x86 else ("dotprod", "i8mm")):
        return threads
    return None


def gemm_time_s(macs: float, kernel: str, precision: str, m: Machine, cg: CpuGemm,
                overhead: float | None = None) -> float:
    """Seconds for ``macs`` MACs of one weight kernel on the machine's threads: the sum of the cores' rates where
    ggml cuts the GEMM fine (vec_dot tiles), else the finish of its few chunks on cores of unequal speed
    (split_chunks: a slow LITTLE core holding one of the last chunks, or its equal share, sets it)."""
    if macs <= 0:
        return 0.0
    groups = compiled_groups(m.core_groups, cg)
    per_core = [core_rate(kernel, precision, g, cg, overhead) for g in groups]
    total = sum(g.count * r for g, r in zip(groups, per_core, strict=True))
    first = groups[0]
    threads = sum(g.count for g in groups)
    chunks = split_chunks(kernel, kernel_path(kernel, precision, first, cg), threads, cg, first.isa.x86)
    if len(set(per_core)) <= 1 or chunks is None:
        return macs / total
    rates = [r for g, r in zip(groups, per_core, strict=True) for _ in range(g.count)]
    return macs * _chunked_finish(rates, chunks)
