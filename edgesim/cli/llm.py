"""`edgesim llm` (one prediction, context plot, chat session) and `edgesim llm-fit`: doors onto edgesim.llm, imported
only when a command runs (the package loads the model zoo and runtime profiles)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edgesim.cli.args import non_negative_int, positive_int


def _write_json(path: str, data: dict[str, Any]) -> None:
    from edgesim.files import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)


def _print_estimate(d: dict[str, Any]) -> None:
    runtime = d["runtime"] if d["runtime_source"] is None else f"{d['runtime']}, {d['runtime_source']}"
    print(f"{d['model']} on {d['hw']} ({runtime}, {d['unit']}, {d['quant']}, "
          f"{d['bits_per_weight']:.2f} bits/weight)")
    print(f"memory: {d['fit_reason']}")
    if d["prefill"]:
        p = d["prefill"]
        print(f"prefill {d['prompt_tokens']} tokens: {p['tokens_per_s']:.1f} tokens/s, TTFT {d['ttft_s']:.3f} s "
              f"({p['bound']}-bound)")
    if d["decode"]:
        q = d["decode"]
        print(f"decode {d['gen_tokens']} tokens: {q['tokens_per_s']:.2f} tokens/s ({q['bound']}-bound), "
              f"{d['decode_bytes_per_token'] / 1e6:.0f} MB of weights per token, "
              f"{d['energy_per_token_j']:.3f} J/token")


def _context_plot(args: argparse.Namespace) -> None:
    import numpy as np

    from edgesim.llm.predict import decode_curve, resolve_model
    from edgesim.report.plots import pyplot, save_figure

    arch = resolve_model(args.model).arch
    top = min(arch.max_context, max(4096, args.prompt + args.gen))
    ctx = np.unique(np.linspace(1, top, 256).astype(int))
    sec = decode_curve(args.model, args.hw, ctx, args.runtime, args.quant, args.threads, args.unit, args.kv_cache)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ctx, sec * 1e3)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("decode latency per token (ms)")
    ax.set_title(f"{arch.name} on {args.hw}: KV cache and attention grow with context")
    ax.grid(alpha=0.3)
    save_figure(fig, args.context_plot)
    print(f"wrote {args.context_plot}", file=sys.stderr)


def _chat(args: argparse.Namespace) -> int:
    from edgesim.errors import EdgesimError
    from edgesim.llm.chat import chat_session

    given = [flag for flag, value in (("--context-plot", args.context_plot), ("--html", args.html)) if value]
    if given:  # silently unwritten otherwise: both describe the single prediction, not a chat
        raise EdgesimError(f"{' and '.join(given)} do{'' if len(given) > 1 else 'es'} not apply to --chat-session",
                           field=given[0].lstrip("-"))
    r = chat_session(args.model, args.hw, duration_s=args.chat_session, prompt=args.prompt, gen=args.gen,
                     think_s=20.0 if args.think is None else args.think, ambient_c=args.ambient,
                     confidence=args.confidence, runtime=args.runtime, quant=args.quant, threads=args.threads,
                     unit=args.unit, kv_cache=args.kv_cache, context=args.context)
    onset = "never" if r.throttle_onset_s is None else f"at {r.throttle_onset_s:.0f} s"
    print(f"chat on {r.hw}: {r.turns} turns in {r.duration_s:g} s, max {r.max_temp_c:.1f} C, throttled {onset}; "
          f"decode {r.first_turn_decode_tps:.2f} -> {r.last_turn_decode_tps:.2f} tokens/s, "
          f"TTFT {r.first_turn_ttft_s:.2f} -> {r.last_turn_ttft_s:.2f} s, {r.energy_j:.0f} J")
    if r.interval is not None:
        print(r.interval.summary())
    if args.json:
        _write_json(args.json, r.as_dict())
    return 0


def cmd_llm(args: argparse.Namespace) -> int:
    from edgesim.errors import EdgesimError
    from edgesim.pipeline.intervals import check_confidence

    check_confidence(args.confidence)
    if args.chat_session is None:
        given = [flag for flag, value in (("--think", args.think), ("--ambient", args.ambient)) if value is not None]
        if given:  # silently unused otherwise: the single prediction has no idle time and no heating
            raise EdgesimError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to --chat-session", field=given[0].lstrip("-"))
    if args.chat_session is not None:
        return _chat(args)
    from edgesim.llm.predict import predict

    est = predict(args.model, args.hw, args.runtime, args.quant, args.threads, args.unit, args.prompt, args.gen,
                  args.context, kv_cache=args.kv_cache)
    d = est.as_dict(args.confidence)  # the API's dict: the same numbers and interval through every door
    if args.json:
        _write_json(args.json, d)
    if not est.fits:
        raise EdgesimError(f"{est.model} ({est.quant}) on {est.hw}: {est.fit_reason}")
    _print_estimate(d)
    iv = est.interval(args.confidence)
    if iv is not None:
        print(iv.summary())
    if args.context_plot:
        _context_plot(args)
    if args.html:
        from edgesim.llm.report import write_llm_html

        write_llm_html(args.html, est, args.model, args.hw, runtime=args.runtime, threads=args.threads,
                       unit=args.unit, kv_cache=args.kv_cache, confidence=args.confidence)
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def cmd_llm_fit(args: argparse.Namespace) -> int:
    from edgesim.errors import EdgesimError
    from edgesim.llm.reference import BUNDLED
    from edgesim.llm.validate import is_bundled

    # the package's overlays are the shipped fit every later prediction reads: only the bundled reference refits them
    if args.output is None and not is_bundled(args.reference):
        raise EdgesimError("--reference needs -o DIR (a user's fit is written there, never over the shipped fit)",
                           field="output")
    if args.output is None:
        from edgesim.llm.validate import write_fits

        paths = write_fits(args.reference)
    else:
        from edgesim.llm.user_fit import write_user_fits

        fit = write_user_fits(args.reference or BUNDLED, args.output)
        paths = fit.paths
        by_reason: dict[str, list[int]] = {}
        for line, why in fit.unused.items():  # a row of theirs left out must not go unmentioned
            by_reason.setdefault(why, []).append(line)
        for why, lines in by_reason.items():
            print(f"not fitted on line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}: {why}",
                  file=sys.stderr)
    for path in paths:
        print(f"wrote {path}")
    return 0


def validate_llm(args: argparse.Namespace) -> int:
    """`edgesim validate --reference llm_edge.csv`: fit, held-out, leave-one-device/model-out errors."""
    from edgesim.llm.validate import validate, write_plot

    v = validate(args.reference)
    print(v.table())
    if args.json:
        _write_json(args.json, v.as_dict())
    if args.plot:
        write_plot(v, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def add_llm_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("llm", help="language model on a board: prefill/decode tokens/s, memory fit, energy")
    p.add_argument("model", help="zoo name (e.g. llama-3.2-1b), a Hugging Face config.json, a .gguf file or a "
                                  "decoder .onnx with past key/values")
    p.add_argument("--hw", required=True, help="hardware profile id or YAML")
    p.add_argument("--runtime", default=None, help="LLM runtime: llama.cpp, ollama, mlc, rkllm, hailo-genai, "
                                                   "tinychat, tensorrt-llm, executorch, hf-transformers")
    p.add_argument("--quant", default=None, help="Q4_K_M, Q4_0, Q8_0, IQ4_NL, F16, q4f16, int4-awq-g128, w8a8, ... "
                                                 "(default: the runtime's default for the model / the GGUF's own)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all big cores)")
    p.add_argument("--unit", choices=["cpu", "gpu", "npu"], default=None, help="placement (default: the runtime's)")
    p.add_argument("--prompt", type=non_negative_int, default=512, help="prompt tokens (default 512)")
    p.add_argument("--gen", type=non_negative_int, default=128, help="generated tokens (default 128)")
    p.add_argument("--kv-cache", default=None, choices=["f16", "q8_0", "q4_0"],
                   help="KV cache element type (llama.cpp --cache-type-k/v; default: the runtime's)")
    p.add_argument("--context", type=positive_int, default=None, help="KV cache size in tokens (default prompt+gen)")
    p.add_argument("--context-plot", default=None, help="write decode latency vs context length (PNG/SVG)")
    p.add_argument("--json", default=None, help="write the estimate as JSON")
    p.add_argument("--confidence", type=float, default=0.8,
                   help="confidence of the tokens/s, TTFT and energy/token intervals (a chat's: its first and last "
                        "answers), in (0, 1) (default 0.8)")
    p.add_argument("--html", default=None, help="write the LLM report (decode roofline by format, context curve)")
    p.add_argument("--chat-session", type=float, default=None, metavar="SECONDS",
                   help="simulate a chat of this many seconds (prompt, answer, --think idle) with heating/throttling")
    p.add_argument("--think", type=float, default=None,
                   help="idle seconds between turns in --chat-session (default 20)")
    p.add_argument("--ambient", type=float, default=None, help="ambient temperature C for --chat-session")
    p.set_defaults(func=cmd_llm)
    f = sub.add_parser(
        "llm-fit", help="refit LLM runtime efficiencies on a reference CSV (bundled: the package's *.fit.yaml; "
                        "yours: -o DIR)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Without --reference: the maintainers' refit on the bundled llm_edge.csv, rewriting the "
                    "package's\nID.fit.yaml overlays (the shipped fit).\n\n"
                    "With --reference MY.csv -o DIR: your own measurements. The fit starts from the shipped fit and "
                    "changes\nonly the fields your rows constrain (decode rows: that placement's bandwidth efficiency; "
                    "3+ of them:\nits per-token overhead; prefill rows: the kernel efficiency / CPU overhead slots of "
                    "the GGUF types\nthey run). It writes DIR/ID.yaml per runtime it changes: a runtime YAML that "
                    "inherits the shipped\nruntime. Use it with  edgesim llm MODEL --hw HW --runtime DIR/ID.yaml ; "
                    "the package is untouched.")
    f.add_argument("--reference", default=None, help="measurements CSV in llm_edge.csv's columns (default: the "
                                                     "bundled llm_edge.csv)")
    f.add_argument("-o", "--output", default=None, metavar="DIR",
                   help="folder for your fit's runtime YAMLs (required with --reference; not the package's "
                        "hw_profiles; without --reference: the bundled CSV refitted from the shipped fit, into DIR)")
    f.set_defaults(func=cmd_llm_fit)
