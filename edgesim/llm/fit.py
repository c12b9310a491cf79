"""Fit an LLM runtime placement's efficiencies to measured rows (``edgesim llm-fit`` writes them as an overlay).

Two closed steps, so a fit takes well under a second and cannot wander:
1. Kernel efficiencies from prefill rows. Prefill time is compute-bound and linear in 1/efficiency of each weight
   kernel: t = sum_k MACs_k / (peak_k x eff_k) + attention. Weighted least squares in relative error, with a
   ridge toward the prior so a kernel seen only as a small share of a mix (Q6_K in Q4_K_M) stays sane.
   CPU placements with a cpu_gemm model also get their overhead slots per GGUF type (edgesim.llm.cpu_gemm) by
   damped Gauss-Newton; NPU placements that re-stream weights per prompt-token block get that block by grid
   search (their compute efficiency stays at its prior).
2. Sustained bandwidth fraction, per-token overhead and (GPU/NPU, enough rows) per-layer overhead from decode
   rows, by grid search on the log error of t = ((t_mem / bw_eff)^p + t_comp^p)^(1/p) + per-token + per-layer x
   layers (+ an unfused soft-capped LM head, where fit rows have one, at a fitted efficiency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.llm.cpu_gemm import at_build, gemm_time_s, llama_build
from edgesim.llm.machine import Machine
from edgesim.llm.model import (
    UBATCH,
    _attention_pairs,
    _blend,
    attention_scores,
    decode_steps,
    effective_bw,
    kernel_peak,
    model_work,
    prefill_attention_bytes,
    prefill_attention_macs,
    prefill_cost,
    prefill_weight_passes,
    softcap_head_s,
    softmax_s,
)
from edgesim.llm.predict import Setup, setup
from edgesim.llm.reference import RefRow
from edgesim.llm.runtime import (
    CpuGemm,
    FitRecord,
    LlmRuntime,
    PlacementParams,
    ServingOverhead,
    load_llm_runtime,
)

PREFILL_METRICS = ("prefill_tps", "ttft_ms")
DECODE_METRICS = ("decode_tps", "decode_ms_per_token")
_RIDGE = 0.05  # weight of the pull toward the prior efficiency, relative to one measured row


def measured_time_s(row: RefRow) -> float:
    """The measured quantity as seconds: prefill of the prompt, or one decode step."""
    assert row.value is not None
    return {"prefill_tps": lambda v: row.prompt / v, "ttft_ms": lambda v: v / 1e3,
            "decode_tps": lambda v: 1.0 / v, "decode_ms_per_token": lambda v: v / 1e3}[row.metric](row.value)


@dataclass(frozen=True)
class _PrefillTerms:
    per_kernel_s: dict[str, float]  # time at efficiency 1
    fixed_s: float  # attention + per-layer overheads at the prior
    measured_s: float


def _quant(row: RefRow) -> str:
    """The row's format, or the default of the runtime it was measured with (ollama's tag defaults)."""
    return row.quant or load_llm_runtime(row.runtime or "", fitted=False).quant_for(row.model or "")


def _setup(row: RefRow, rt: LlmRuntime) -> Setup:
    rt = at_build(rt, llama_build(row.runtime_version), row.gcc)  # the build (and compiler) the row names
    try:
        return setup(row.model or "", row.hw or "", rt, _quant(row), row.threads, row.unit)
    except EdgesimError as exc:
        if exc.field != "threads":
            raise
        return setup(row.model or "", row.hw or "", rt, _quant(row), None, row.unit)  # as validate.predict_row


def _prefill_terms(row: RefRow, rt: LlmRuntime, p: PlacementParams) -> _PrefillTerms:
    s = _setup(row, rt)
    arch, work, m = s.arch, model_work(s.arch, s.qs), s.m
    new = row.prompt - row.cached
    head_tokens = float(new) if rt.prefill_logits_all else 1.0
    terms: dict[str, float] = {}
    for k in work.kernels:
        terms[k.kernel] = terms.get(k.kernel, 0.0) + (k.macs_per_token * new + k.head_macs_per_token
                                                      * head_tokens) / kernel_peak(m, k.precision)
    pairs = _attention_pairs(arch, row.prompt) - _attention_pairs(arch, row.cached)
    attn = 2.0 * arch.q_dim * pairs / (m.rate("fp16") * p.efficiency("attention"))
    layer_s = p.layer_overhead_s(m)
    return _PrefillTerms(terms, attn + layer_s * arch.num_layers, measured_time_s(row))


def fit_kernels(rows: list[RefRow], rt: LlmRuntime, p: PlacementParams) -> dict[str, float]:
    terms = [_prefill_terms(r, rt, p) for r in rows if r.metric in PREFILL_METRICS]
    if not terms:
        return dict(p.kernel_efficiency)
    kernels = sorted({k for t in terms for k in t.per_kernel_s})
    a = np.array([[t.per_kernel_s.get(k, 0.0) / t.measured_s for k in kernels] for t in terms])
    b = np.array([max(t.measured_s - t.fixed_s, 0.05 * t.measured_s) / t.measured_s for t in terms])
    prior = np.array([1.0 / p.efficiency(k) for k in kernels])
    # ridge rows: sqrt(lambda) x (x_k - prior_k) / prior_k
    a_r = np.vstack([a, np.diag(np.sqrt(_RIDGE) / prior)])
    b_r = np.concatenate([b, np.full(len(kernels), np.sqrt(_RIDGE))])
    x, *_ = np.linalg.lstsq(a_r, b_r, rcond=None)
    x = np.maximum(x, 1.0)  # efficiency <= 1
    eff = dict(p.kernel_efficiency)
    share = a.sum(axis=0)
    for k, xi, sh in zip(kernels, x, share, strict=True):
        if sh > 0:
            eff[k] = round(float(1.0 / xi), 4)
    fitted = [eff[k] for k, sh in zip(kernels, share, strict=True) if sh > 0]
    if fitted:
        eff["default"] = round(float(np.exp(np.mean(np.log(fitted)))), 4)
    return eff


@dataclass(frozen=True)
class _CpuRow:
    parts: tuple[tuple[str, str, float], ...]  # (GGUF type, precision, MACs) of the prefill's weight GEMMs
    m: Machine
    cg: CpuGemm  # the runtime's kernel model at the row's llama.cpp build
    attn_macs: float  # attention runs the F16 path (its overhead is fitted with the F16 weights)
    attn_mem_s: float  # streaming the materialised scores and the soft_max over them
    mem_s: float  # weights streamed once per ubatch
    layer_s: float
    measured_s: float


def _cpu_row(row: RefRow, rt: LlmRuntime, p: PlacementParams) -> _CpuRow:
    s = _setup(row, rt)
    work = model_work(s.arch, s.qs)
    new = row.prompt - row.cached
    head = float(new) if rt.prefill_logits_all else 1.0
    parts = tuple((k.kernel, k.precision, k.macs_per_token * new + k.head_macs_per_token * head)
                  for k in work.kernels)
    batches = -(-new // UBATCH)
    mem = work.bytes_per_token * batches / effective_bw(s.m, p)
    sp = s.rt.placements["cpu"]
    assert sp.cpu_gemm is not None
    attn = prefill_attention_macs(s.arch, p, row.prompt, row.cached)
    # streaming the materialised scores and the soft_max over them do not depend on the fitted overheads
    attn_mem = (prefill_attention_bytes(s.arch, p, row.prompt, row.cached) / effective_bw(s.m, p)
                + softmax_s(attention_scores(s.arch, p, row.prompt, row.cached), s.m, p))
    layer = p.layer_overhead_s(s.m) * s.arch.num_layers * batches
    return _CpuRow(parts, s.m, sp.cpu_gemm, attn, attn_mem, mem, layer, measured_time_s(row))


def _cpu_log_errors(u: np.ndarray, idx: dict[str, int], data: list[_CpuRow], p: PlacementParams) -> np.ndarray:
    assert p.cpu_gemm is not None
    out = []
    for r in data:
        attn = gemm_time_s(r.attn_macs, "attention", "fp16", r.m, r.cg,
                           float(u[idx["F16"]]) if "F16" in idx else None) + r.attn_mem_s
        comp = attn + sum(gemm_time_s(macs, k, prec, r.m, r.cg, float(u[idx[k]])) for k, prec, macs in r.parts)
        pe = p.overlap_exponent
        t = (r.mem_s ** pe + comp ** pe) ** (1.0 / pe) + r.layer_s
        out.append(np.log(t / r.measured_s))
    return np.array(out)


def fit_cpu_overheads(rows: list[RefRow], rt: LlmRuntime, p: PlacementParams) -> dict[str, float]:
    """Overhead slots per GGUF type (edgesim.llm.cpu_gemm) from the prefill rows: damped Gauss-Newton on the log
    error, with a ridge toward the prior so a type seen only inside a mix (Q6_K in Q4_K_M) stays near it."""
    cg = p.cpu_gemm
    assert cg is not None
    data = [_cpu_row(r, rt, p) for r in rows if r.metric in PREFILL_METRICS]
    if not data:
        return dict(cg.overhead_slots)
    kernels = sorted({k for r in data for k, _, _ in r.parts})
    idx = {k: i for i, k in enumerate(kernels)}
    prior = np.array([cg.overhead(k) for k in kernels])
    scale = np.maximum(prior, 1.0)
    u = prior.copy()

    def resid(x: np.ndarray) -> np.ndarray:
        return np.concatenate([_cpu_log_errors(x, idx, data, p), np.sqrt(_RIDGE) * (x - prior) / scale])

    for _ in range(25):
        r0 = resid(u)
        jac = np.empty((r0.size, u.size))
        for j in range(u.size):
            du = np.zeros_like(u)
            du[j] = 1e-3 * scale[j]
            jac[:, j] = (resid(u + du) - r0) / du[j]
        step, *_ = np.linalg.lstsq(jac.T @ jac + 1e-6 * np.eye(u.size), -jac.T @ r0, rcond=None)
        u_new = np.clip(u + step, 0.0, 400.0)
        if float(np.max(np.abs(u_new - u))) < 1e-4:
            u = u_new
            break
        u = u_new
    out = dict(cg.overhead_slots)
    out.update({k: round(float(u[idx[k]]), 3) for k in kernels})
    return out


def fit_token_block(rows: list[RefRow], rt: LlmRuntime, p: PlacementParams) -> float | None:
    """The prompt-token block per weight pass of an NPU prefill (prefill_token_block), by grid search on the log
    error of the prefill rows with the compute side at its prior efficiency."""
    pre = [r for r in rows if r.metric in PREFILL_METRICS]
    if p.prefill_token_block is None or not pre:
        return p.prefill_token_block
    terms = []
    for r in pre:
        s = _setup(r, rt)
        work = model_work(s.arch, s.qs)
        pc = prefill_cost(s.arch, work, s.m, rt, p, r.prompt, r.cached)
        # each pass through the weights also pays every layer's fixed cost once (prefill_cost)
        layer = p.layer_overhead_s(s.m) * s.arch.num_layers
        passes = prefill_weight_passes(r.prompt - r.cached, p)
        rest = pc.time_s - float(_blend(pc.mem_s, pc.comp_s, p.overlap_exponent)) - layer * passes
        terms.append((r.prompt - r.cached, work.bytes_per_token / effective_bw(s.m, p), pc.comp_s, layer, rest,
                      measured_time_s(r)))
    blocks = np.geomspace(1.0, 512.0, 181)
    loss = []
    for b in blocks:
        err = [np.log((float(_blend(per_pass * math.ceil(n / b), comp, p.overlap_exponent)) + layer * math.ceil(n / b)
                       + rest) / meas) for n, per_pass, comp, layer, rest, meas in terms]
        loss.append(float(np.sum(np.square(err))))
    return round(float(blocks[int(np.argmin(loss))]), 2)


@dataclass(frozen=True)
class _DecodeTerms:
    mem_s: float  # memory time of the mean decode step at bw_efficiency 1 (and the per-core limit, if any)
    comp_s: float
    layers: int
    clock_hz: float
    softcap_head_s: float  # the unfused soft-capped LM head at efficiency 1; 0 for plain logits
    measured_s: float


def _decode_terms(row: RefRow, rt: LlmRuntime, p: PlacementParams) -> _DecodeTerms:
    s = _setup(row, rt)
    unit_p = p.model_copy(update={"bw_efficiency": 1.0, "per_token_overhead_s": 0.0, "core_bw_bytes_per_cycle": None,
                                  "per_layer_overhead_s": 0.0, "per_layer_overhead_cycles": 0.0,
                                  "softcap_head_efficiency": None})
    ctx = np.arange(row.prompt, row.prompt + max(row.gen, 1))
    work = model_work(s.arch, s.qs)
    st = decode_steps(s.arch, work, s.m, rt, unit_p, ctx)
    core_bw = p.core_bw_bytes_per_cycle
    t_mem = float(st.mem_s.mean())
    if core_bw is not None:
        # a per-core limit below the DRAM peak: express it as the peak time scaled up
        limit = s.m.cores * core_bw * s.m.clock_hz
        t_mem *= max(1.0, s.m.dram_bw_bytes_per_s / limit)
    head = softcap_head_s(s.arch, work, s.m, unit_p.model_copy(update={"softcap_head_efficiency": 1.0}))
    clock = p.layer_clock_hz(s.m)
    return _DecodeTerms(t_mem, float(st.comp_s.mean()), s.arch.num_layers, clock, head, measured_time_s(row))


@dataclass(frozen=True)
class DecodeFit:
    bw_efficiency: float
    per_token_overhead_s: float
    per_layer_overhead_s: float
    per_layer_overhead_cycles: float
    softcap_head_efficiency: float | None


# Per-layer overhead (kernel launches, latency-bound small kernels, per-layer synchronisation) is fitted, in cycles
# of the clock that runs it (the unit's, or the host CPU's for host-launched kernels: layer_overhead_clock), where
# the prior has one (GPU/NPU runtimes) and there are enough rows of different depths to tell it from the per-token
# cost. The grid spans 1k to 4M cycles (1.6 us to 6.4 ms per layer at 625 MHz).
_MIN_ROWS_PER_LAYER = 5
_LAYER_CYCLES_GRID = np.concatenate([[0.0], np.logspace(3, 6.6, 25)])
_HEAD_GRID: list[float | None] = [None, *np.round(np.logspace(-3, 0, 19), 5).tolist()]  # None = no extra cost


@dataclass(frozen=True)
class _DecodePlan:
    """Which decode fields the rows can tell apart (the rest keep the prior's value)."""

    overhead: bool  # per_token_overhead_s
    layers: bool  # per_layer_overhead_s and per_layer_overhead_cycles
    head: bool  # softcap_head_efficiency


def _decode_plan(terms: list[_DecodeTerms], p: PlacementParams) -> _DecodePlan:
    layers = np.array([t.layers for t in terms], dtype=float)
    has_layer_cost = p.per_layer_overhead_s > 0 or p.per_layer_overhead_cycles > 0
    # fewer than three rows cannot separate bandwidth from a fixed cost: keep the prior overhead then
    return _DecodePlan(
        overhead=len(terms) >= 3,
        layers=bool(has_layer_cost and len(terms) >= _MIN_ROWS_PER_LAYER and np.ptp(layers) > 0),
        # only runtimes whose prior declares the unfused soft-capped head fit it (one Gemma-2 row must not invent it)
        head=bool(max(t.softcap_head_s for t in terms) > 0 and p.softcap_head_efficiency is not None))


def fit_decode(rows: list[RefRow], rt: LlmRuntime, p: PlacementParams) -> DecodeFit:
    """Grid search on the log error of t = blend(t_mem / bw_eff, t_comp) + per-token + per-layer x layers
    (+ the unfused soft-capped head / its efficiency): closed, bounded, and quick enough to refit per fold."""
    terms = [_decode_terms(r, rt, p) for r in rows if r.metric in DECODE_METRICS]
    if not terms:
        return DecodeFit(p.bw_efficiency, p.per_token_overhead_s, p.per_layer_overhead_s,
                         p.per_layer_overhead_cycles, p.softcap_head_efficiency)
    tm = np.array([t.mem_s for t in terms])[None, None, :]
    tc = np.array([t.comp_s for t in terms])[None, None, :]
    layers = np.array([t.layers for t in terms], dtype=float)[None, None, :]
    per_cycle = layers / np.array([t.clock_hz for t in terms])[None, None, :]
    head = np.array([t.softcap_head_s for t in terms])[None, None, :]
    meas = np.array([t.measured_s for t in terms])[None, None, :]
    effs = np.linspace(0.1, 1.0, 181)[:, None, None]
    plan = _decode_plan(terms, p)
    ovh = (np.concatenate([[0.0], np.logspace(-4, -1, 61)]) if plan.overhead else np.array(
        [p.per_token_overhead_s]))[None, :, None]
    # a fitted per-layer cost replaces the prior's (seconds and cycles) by cycles only
    layer_s = 0.0 if plan.layers else p.per_layer_overhead_s
    layer_grid = _LAYER_CYCLES_GRID if plan.layers else np.array([p.per_layer_overhead_cycles])
    head_grid = _HEAD_GRID if plan.head else [p.softcap_head_efficiency]
    pe = p.overlap_exponent
    base = ((tm / effs) ** pe + tc ** pe) ** (1.0 / pe) + ovh
    best: tuple[float, DecodeFit] | None = None
    for pl in layer_grid:
        for he in head_grid:
            extra = layer_s * layers + pl * per_cycle + (head / he if he is not None else 0.0)
            loss = (np.log((base + extra) / meas) ** 2).sum(axis=2)
            i, j = np.unravel_index(int(np.argmin(loss)), loss.shape)
            if best is None or loss[i, j] < best[0] - 1e-12:
                best = (float(loss[i, j]), DecodeFit(round(float(effs[i, 0, 0]), 4), round(float(ovh[0, j, 0]), 6),
                                                     layer_s, round(float(pl), 1), he))
    assert best is not None
    return best[1]


def _with_decode(p: PlacementParams, d: DecodeFit) -> PlacementParams:
    return p.model_copy(update={"bw_efficiency": d.bw_efficiency, "per_token_overhead_s": d.per_token_overhead_s,
                                "per_layer_overhead_s": d.per_layer_overhead_s,
                                "per_layer_overhead_cycles": d.per_layer_overhead_cycles,
                                "softcap_head_efficiency": d.softcap_head_efficiency})


def fit_placement(rows: list[RefRow], rt: LlmRuntime, unit: str, command: str, reference: str) -> PlacementParams:
    """Refit ``rt``'s ``unit`` placement on ``rows`` (all of that runtime and placement)."""
    if not rows:
        raise EdgesimError(f"no rows to fit {rt.id} on the {unit}")
    _, p = rt.placement(unit)
    if p.prefill_token_block is not None:
        # an NPU prefill that re-streams the weights per token block: its memory time uses the bandwidth decode
        # sustains, so fit decode first, then the block; the compute efficiency stays at its prior
        p1 = _with_decode(p, fit_decode(rows, rt, p))
        p2 = p1.model_copy(update={"prefill_token_block": fit_token_block(rows, rt, p1)})
    else:
        p1 = p.model_copy(update={"kernel_efficiency": fit_kernels(rows, rt, p)})
        if p.cpu_gemm is not None and unit == "cpu":
            cg = p.cpu_gemm.model_copy(update={"overhead_slots": fit_cpu_overheads(rows, rt, p)})
            p1 = p1.model_copy(update={"cpu_gemm": cg})
        p2 = _with_decode(p1, fit_decode(rows, rt, p1))
    rec = FitRecord(command=command, reference=reference, rows=sorted(r.line for r in rows))
    return p2.model_copy(update={"fit": rec})


def constrained_fields(rows: list[RefRow], rt: LlmRuntime, unit: str) -> frozenset[tuple[str, ...]]:
    """The placement fields ``fit_placement(rows, rt, unit)`` sets from what ``rows`` measured, as key paths
    (('bw_efficiency',), ('kernel_efficiency', 'Q4_K'), ('cpu_gemm', 'overhead_slots', 'Q4_0')); it carries every other field over
    from ``rt``. Decode rows set the bandwidth efficiency; three or more the per-token overhead; five or more of
    different depths (where the prior has a per-layer cost) the per-layer cost; a soft-capped head among them (where
    the prior declares one) its efficiency. Prefill rows set the efficiency (and on a CPU with a kernel model the
    overhead slots) of each GGUF type / kernel their weights use, or an NPU's token block. kernel_efficiency.default
    is not among them: the fit recomputes it as the mean of the fitted kernels, a guess for kernels no row ran."""
    _, p = rt.placement(unit)
    decode = [r for r in rows if r.metric in DECODE_METRICS]
    prefill = [r for r in rows if r.metric in PREFILL_METRICS]
    out: set[tuple[str, ...]] = set()
    if decode:
        plan = _decode_plan([_decode_terms(r, rt, p) for r in decode], p)
        out.add(("bw_efficiency",))
        out.update([("per_token_overhead_s",)] if plan.overhead else [])
        out.update([("per_layer_overhead_s",), ("per_layer_overhead_cycles",)] if plan.layers else [])
        out.update([("softcap_head_efficiency",)] if plan.head else [])
    if prefill and p.prefill_token_block is not None:
        out.add(("prefill_token_block",))
    elif prefill:
        kernels = set()
        for r in prefill:  # the kernels with a share of the row's time (fit_kernels: share > 0)
            s = _setup(r, rt)
            new = r.prompt - r.cached
            head = float(new) if rt.prefill_logits_all else 1.0
            kernels |= {k.kernel for k in model_work(s.arch, s.qs).kernels
                        if k.macs_per_token * new + k.head_macs_per_token * head > 0}
        out.update(("kernel_efficiency", k) for k in kernels)
        if p.cpu_gemm is not None and unit == "cpu":
            out.update(("cpu_gemm", "overhead_slots", k) for k in kernels)
    return frozenset(out)


def serving_constrained_fields(rows: list[RefRow]) -> frozenset[tuple[str, ...]]:
    """The serving-overhead fields ``fit_serving`` sets from ``rows``: the decode-time scale from any decode row,
    the per-token part from three or more (fewer cannot tell the two apart)."""
    n = sum(r.metric in DECODE_METRICS for r in rows)
    return frozenset([("decode_time_scale",)] * (n > 0) + [("per_token_overhead_s",)] * (n >= 3))


def with_placement(rt: LlmRuntime, unit: str, p: PlacementParams) -> LlmRuntime:
    return rt.model_copy(update={"placements": {**rt.placements, unit: p}})


# A serving layer's own cost on top of its engine (runtime.ServingOverhead): step = scale x engine step + per token.
_SCALE_GRID = np.round(np.geomspace(1.0, 6.0, 145), 4)
_SERVING_TOKEN_GRID = np.concatenate([[0.0], np.logspace(-4, -1.3, 28)])


def fit_serving(rows: list[RefRow], rt: LlmRuntime, unit: str) -> ServingOverhead:
    """The serving overhead of ``rt`` (Ollama over llama.cpp) on ``unit`` from its own decode rows, the engine's
    placement held at its sourced numbers: grid search on the log error of scale x engine step + per token.
    Fewer than three rows cannot tell the two apart: the per-token part keeps its prior then."""
    prior = rt.serving[unit]  # type: ignore[index]
    _, p = rt.placement(unit)
    eng, meas = [], []
    for r in rows:
        if r.metric not in DECODE_METRICS:
            continue
        s = _setup(r, rt)
        ctx = np.arange(r.prompt, r.prompt + max(r.gen, 1))
        eng.append(float(decode_steps(s.arch, model_work(s.arch, s.qs), s.m, s.rt, p, ctx).time_s.mean()))
        meas.append(measured_time_s(r))
    if not eng:
        return prior
    tokens = np.array([prior.per_token_overhead_s]) if len(eng) < 3 else _SERVING_TOKEN_GRID
    t = np.array(eng)[None, None, :] * _SCALE_GRID[:, None, None] + tokens[None, :, None]
    loss = (np.log(t / np.array(meas)[None, None, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(loss)), loss.shape)
    return prior.model_copy(update={"decode_time_scale": float(_SCALE_GRID[i]),
                                    "per_token_overhead_s": round(float(tokens[j]), 6)})
