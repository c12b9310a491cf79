"""The LLM chapter of the HTML report (`edgesim llm MODEL --hw HW --html out.html`): the estimate, decode tokens/s
against bytes per token on the board's bandwidth roofline for every weight format (what int4 buys), and per-token
latency against context length. Built from edgesim.report.html's pieces so it looks like the CNN report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgesim.files import atomic_write_text
from edgesim.llm.model import effective_bw
from edgesim.llm.predict import LlmEstimate, Setup, decode_curve, predict, setup
from edgesim.llm.quant import GROUP_FORMATS
from edgesim.report.html import CSS, e, figure, kv_table, png_data_uri
from edgesim.report.plots import pyplot

_CPU_FORMATS = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "IQ4_NL", "Q3_K_M", "Q2_K")


def _formats(est: LlmEstimate, s: Setup) -> tuple[str, ...]:
    """The comparison formats this runtime loads on this chip (it refuses the others, so they cannot be points on
    its roofline): the usual GGUF types for a GGUF loader (unless a group format was asked for), else its group
    formats."""
    loads = set(s.rt.loadable_formats(s.profile.id))
    gguf = est.quant not in GROUP_FORMATS and any(q in loads for q in _CPU_FORMATS)
    return tuple(q for q in (_CPU_FORMATS if gguf else tuple(GROUP_FORMATS)) if q in loads)


def _quant(est: LlmEstimate) -> str | None:
    # a model file (GGUF, decoder ONNX) keeps its own per-tensor types: its scheme is named 'gguf:...'/'onnx:...'
    return None if ":" in est.quant else est.quant


def _roofline(est: LlmEstimate, model: str, hw: Any, kw: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    s = setup(model, hw, kw.get("runtime"), _quant(est), kw.get("threads"), kw.get("unit"), kw.get("kv_cache"))
    bw = effective_bw(s.m, s.rt.placement(s.unit)[1])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    pts = []
    for q in _formats(est, s):
        e = predict(s.arch, s.profile, s.rt, q, kw.get("threads"), s.unit, 0, 32)
        if e.decode is not None:
            pts.append((q, e.decode_bytes_per_token, e.decode.tokens_per_s))
    xs = np.array([p[1] for p in pts] + [est.decode_bytes_per_token])
    line = np.geomspace(xs.min() / 2, xs.max() * 2, 20)
    ax.loglog(line, bw / line, "k--", lw=0.8, label=f"{bw / 1e9:.1f} GB/s sustained / bytes per token")
    for q, x, y in pts:
        ax.loglog(x, y, "o", color="tab:blue")
        ax.annotate(q, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if est.decode is not None:
        ax.loglog(est.decode_bytes_per_token, est.decode.tokens_per_s, "*", ms=14, color="tab:red",
                  label=f"this run ({est.quant}, context {est.prompt_tokens}..{est.prompt_tokens + est.gen_tokens})")
        iv = est.interval(float(kw.get("confidence", 0.8)))
        dec = None if iv is None else iv.decode_tokens_per_s
        if dec is not None:  # the decode interval as a bar on this run's point
            y = est.decode.tokens_per_s
            ax.errorbar([est.decode_bytes_per_token], [y], yerr=[[y - dec.lo], [dec.hi - y]], fmt="none",
                        ecolor="tab:red", capsize=4, lw=1)
    ax.set_xlabel("bytes read per decoded token")
    ax.set_ylabel("decode tokens/s")
    ax.set_title(f"{est.model} on {est.hw}: decode roofline by weight format")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _context(est: LlmEstimate, model: str, hw: Any, kw: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    s = setup(model, hw, kw.get("runtime"), _quant(est), kw.get("threads"), kw.get("unit"), kw.get("kv_cache"))
    ctx = np.unique(np.linspace(1, min(s.arch.max_context, 8192), 200).astype(int))
    sec = decode_curve(model, hw, ctx, kw.get("runtime"), _quant(est), kw.get("threads"), kw.get("unit"),
                       kw.get("kv_cache"))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(ctx, sec * 1e3)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("ms per decoded token")
    ax.set_title("Per-token latency grows with the KV cache read each step")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render_llm_html(est: LlmEstimate, model: str, hw: Any, **kw: Any) -> str:
    """``model``/``hw`` as given to predict; ``kw`` = runtime, threads, unit of the same call."""
    d = est.as_dict()
    rows: list[tuple[str, object]] = [
        ("model", est.model), ("hardware", est.hw), ("runtime", f"{est.runtime_label} on the {est.unit}"),
        ("format", f"{est.quant} ({est.bits_per_weight:.2f} bits/weight)"), ("memory", est.fit_reason),
    ]
    if est.prefill:  # each phase the run has (--prompt 0 or --gen 0 leave one out), as the text output does
        rows.append(("prefill", f"{est.prefill.tokens_per_s:.1f} tokens/s ({est.prefill.bound}-bound), "
                                f"TTFT {est.prefill.time_s:.3f} s"))
    if est.decode:
        rows += [("decode", f"{est.decode.tokens_per_s:.2f} tokens/s ({est.decode.bound}-bound)"),
                 ("energy per token", f"{d['energy_per_token_j']:.3f} J")]
    iv = est.interval(float(kw.get("confidence", 0.8)))
    if iv is not None:  # the line `edgesim llm` prints, split at its colon into a summary row
        head, _, body = iv.summary().partition(": ")
        rows.append((head, body))
    figs = []
    with tempfile.TemporaryDirectory(prefix="edgesim-llm-") as tmp:
        roof, ctx = Path(tmp) / "roof.png", Path(tmp) / "ctx.png"
        if est.fits:
            _roofline(est, model, hw, kw, roof)
            _context(est, model, hw, kw, ctx)
            figs.append("<h2>Decode roofline: what each format buys</h2>" + figure(
                png_data_uri(roof), "Decode tokens/s against bytes read per token, one point per weight format; "
                "the dashed line is the sustained DRAM bandwidth the runtime reaches.", "decode roofline"))
            figs.append("<h2>Context length</h2>" + figure(png_data_uri(ctx), "Per-token decode latency "
                        "against context length (KV cache and attention).", "latency vs context"))
    heading = f"edgesim LLM report: {est.model} on {est.hw}"
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(heading)}</title><style>{CSS}</style></head><body>"
            f"<h1>{e(heading)}</h1><h2>Summary</h2>{kv_table(rows)}{''.join(figs)}</body></html>\n")


def write_llm_html(path: str | Path, est: LlmEstimate, model: str, hw: Any, **kw: Any) -> Path:
    return atomic_write_text(path, render_llm_html(est, model, hw, **kw))
