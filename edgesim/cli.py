"""Command-line interface. Heavy modules are imported inside commands so ``edgesim --help`` is instant."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _load_hw(spec: str, clock_mhz: float | None) -> Any:
    if spec.lower().endswith(".cfg"):
        from edgesim.errors import ProfileError
        from edgesim.frontends.scalesim import config_to_profile, read_config

        path = Path(spec)
        if not path.exists():
            raise ProfileError(f"SCALE-Sim config '{spec}' does not exist")
        profile = config_to_profile(read_config(path))
        return profile.with_clock(clock_mhz) if clock_mhz else profile
    from edgesim.api import load_profile

    return load_profile(spec, clock_mhz=clock_mhz)


def _add_transform_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model transformations (applied in order: fuse, prune, quantize, compress)")
    g.add_argument("--quant", choices=["int8", "w4a8", "w4a4", "int16", "fp16"],
                   help="post-training quantization preset for float models (quantized models are kept as they are)")
    g.add_argument("--quant-spec", help="YAML mixed-precision spec (per-layer presets/bits)")
    g.add_argument("--calib", help=".npy calibration inputs (default: seeded synthetic inputs)")
    g.add_argument("--prune", help="0.5 (magnitude, per layer), global:0.5, 2:4 (N:M), channels:0.3 (structured)")
    g.add_argument("--fuse", action=argparse.BooleanOptionalAction, default=True,
                   help="fold BatchNorm and activations into conv/FC, and residual ADDs into the conv where the "
                        "unit's runtime fuses them (default: on)")
    g.add_argument("--compress", choices=["none", "int4", "huffman"],
                   help="weight storage: int4 packs two 4-bit weights per byte (default), none keeps one per byte, "
                        "huffman entropy-codes the weight bytes (decoder throughput modelled)")
    g.add_argument("--accuracy", action=argparse.BooleanOptionalAction, default=None,
                   help="report SQNR/top-1 agreement against the untransformed model (default: on with --quant/--prune)")


def _transform(graph: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Apply the requested passes; returns the new graph and what the report should say about them."""
    from edgesim.passes.fusion import fusion_report
    from edgesim.passes.optimize import describe, optimize, options_from_cli

    opts = options_from_cli(quant=args.quant, quant_spec=args.quant_spec, calib=args.calib, prune=args.prune,
                            fuse=args.fuse, compress=args.compress or "int4", graph=graph)
    out = optimize(graph, opts)
    info: dict[str, Any] = {"transform": describe(graph, out)}
    if args.fuse:
        fr = fusion_report(graph, out)
        info["fusion"] = {
            "saved_activation_bytes": fr.saved_bytes,
            "groups": [{"node": g.node, "fused_from": list(g.fused_from), "saved_bytes": g.saved_bytes}
                       for g in fr.groups],
        }
    want_acc = args.accuracy if args.accuracy is not None else bool(args.quant or args.quant_spec or args.prune)
    if want_acc:
        from edgesim.passes.accuracy import accuracy_report
        from edgesim.passes.float_exec import synthetic_inputs

        acc = accuracy_report(graph, out, synthetic_inputs(graph, 4))
        info["accuracy"] = {
            "output_sqnr_db": acc.output_sqnr_db, "top1_agreement": acc.top1_agreement,
            "num_samples": acc.num_samples,
            "layers": [{"tensor": layer.tensor, "sqnr_db": layer.sqnr_db} for layer in acc.layers],
        }
        info["accuracy_summary"] = acc.summary()
    return out, info


def _print_transform(info: dict[str, Any]) -> None:
    t = info["transform"]
    line = (f"transformed: {t['nodes_before']} -> {t['nodes_after']} ops, weights {t['weight_bytes_before']} -> "
            f"{t['weight_bytes_after']} bytes")
    if "fusion" in info:
        line += (f"; fused {len(info['fusion']['groups'])} groups, {info['fusion']['saved_activation_bytes']} "
                 f"activation bytes no longer written and read back")
    print(line)
    if "accuracy_summary" in info:
        print(f"accuracy vs the untransformed model: {info['accuracy_summary']}")


def cmd_run(args: argparse.Namespace) -> int:
    from edgesim.api import resolve_runtime
    from edgesim.cost.analytic import estimate_schedule
    from edgesim.mapping.mapper import build_schedule
    from edgesim.models import load_model, parse_shape
    from edgesim.report.io import atomic_write_text
    from edgesim.report.summary import format_table, report_json

    shape = parse_shape(args.input_shape) if args.input_shape else None
    profile = _load_hw(args.hw, args.clock_mhz)
    graph = load_model(args.model, input_shape=shape)
    graph, transform_info = _transform(graph, args)
    runtime, version = resolve_runtime(profile, args.runtime)
    schedule = build_schedule(graph, profile, runtime, version, fuse_residual_add=args.fuse)
    if args.fuse and getattr(runtime, "fused_residual_add", False):
        from edgesim.passes.fusion import record_scheduled_fusions

        # Residual ADDs fuse at mapping time (only where the unit's runtime can); the summary compares plans.
        unfused = build_schedule(graph, profile, runtime, version, fuse_residual_add=False)
        record_scheduled_fusions(transform_info.setdefault("fusion", {}), unfused.plans, schedule.plans)
    mode = "analytic" if args.fast else "event"
    events = None
    extra: dict[str, Any] = dict(transform_info)
    if args.fast:
        if args.trace:
            from edgesim.errors import EdgesimError

            raise EdgesimError("--trace needs the event engine; drop --fast")
        est = estimate_schedule(schedule, profile)
        from edgesim.sim.power import estimate_power

        power = estimate_power(est)
    else:
        from edgesim.sim import TraceRecorder, simulate_schedule, to_estimate, utilisation, write_chrome_trace

        recorder = TraceRecorder()
        result = simulate_schedule(schedule, profile, recorder, args.frames)
        est = to_estimate(schedule, profile, result)
        events = recorder.events
        extra["utilisation"] = utilisation(events, result.makespan_s)
        extra["throughput_inf_per_s"] = result.throughput_inf_per_s
        from edgesim.sim.power import power_summary

        power = power_summary(schedule, profile, result)
        if args.trace:
            write_chrome_trace(recorder.events, args.trace)
            print(f"wrote {args.trace}")
    if args.model.lower().endswith(".csv") and args.hw.lower().endswith(".cfg"):
        # A SCALE-Sim topology on a SCALE-Sim config: report in SCALE-Sim's own terms too.
        from edgesim.report.scalesim_report import format_scalesim, scalesim_rows

        # Stalls as the JSON layers have them (the event engine); the closed form under --fast.
        rows = scalesim_rows(args.model, args.hw, None if args.fast else est)
        print(format_scalesim(rows, Path(args.hw).name))
        extra["scalesim_layers"] = rows
    else:
        print(f"model {graph.name} ({len(graph.nodes)} ops) on {profile.id} with runtime {schedule.runtime}, "
              f"{'analytic model' if args.fast else 'event engine'}")
        print(format_table(est, max_rows=None if args.all_layers else 60))
    if not args.fast and args.frames > 1:
        # The table's latency is the first frame's, sharing the units with the frames queued behind it.
        tput = float(extra["throughput_inf_per_s"])
        print(f"throughput: {tput:.1f} inferences/s with {args.frames} frames queued at once (fill and drain "
              f"included; latency above is the first frame's, its units shared with the other frames)")
    _print_transform(transform_info)
    print(f"power: average {power.average_power_w * 1e3:.4g} mW, peak {power.peak_power_w * 1e3:.4g} mW")
    extra["average_power_w"] = power.average_power_w
    extra["peak_power_w"] = power.peak_power_w
    if args.json:
        atomic_write_text(args.json, report_json(est, mode=mode, extra=extra))
        print(f"wrote {args.json}")
    from edgesim.report.cli import handle_plot

    handle_plot(args, est, profile, events)
    return 0


def cmd_sustain(args: argparse.Namespace) -> int:
    import json

    from edgesim.api import resolve_runtime
    from edgesim.models import load_model, parse_shape
    from edgesim.report.io import atomic_write_text
    from edgesim.thermal.governor import GovernorKind
    from edgesim.thermal.sustain import battery_life, sustain

    shape = parse_shape(args.input_shape) if args.input_shape else None
    profile = _load_hw(args.hw, args.clock_mhz)
    graph = load_model(args.model, input_shape=shape)
    graph, _ = _transform(graph, args)
    runtime, version = resolve_runtime(profile, args.runtime)
    if args.policy:
        return _sustain_big_little(graph, profile, runtime, version, args)
    res = sustain(graph, profile, runtime=runtime, version=version, duration_s=args.duration,
                  rate_hz=args.rate, ambient_c=args.ambient, governor=GovernorKind(args.governor),
                  window_s=args.window)
    data = res.as_dict()
    onset = "never" if res.throttle_onset_s is None else f"{res.throttle_onset_s:.1f} s"
    print(f"{graph.name} on {profile.id}, {args.duration:g} s "
          f"{'back-to-back' if args.rate is None else f'at {args.rate:g} Hz'}, ambient {res.ambient_c:g} C, "
          f"governor {args.governor}")
    print(f"  max temperature {res.max_temp_c:.1f} C, final {res.final_temp_c:.1f} C, throttled: "
          f"{'yes' if res.throttled else 'no'} (onset {onset})")
    print(f"  mean latency {res.mean_latency_s * 1e3:.3f} ms, energy/inference {res.energy_per_inference_j * 1e3:.4g} mJ, "
          f"average power {res.average_power_w:.3f} W, inferences {res.inferences:.0f}, "
          f"frames missed {res.frames_missed:.0f}")
    if args.battery_wh or args.battery_mah:
        if args.rate is None:
            from edgesim.errors import EdgesimError

            raise EdgesimError("battery life needs --rate (inferences per second between sleeps)")
        wh = args.battery_wh if args.battery_wh else args.battery_mah * 1e-3 * args.battery_v
        life = battery_life(res.energy_per_inference_j, res.mean_latency_s, args.rate,
                            profile.power.sleep_power_mw * 1e-3, wh)
        data["battery"] = {"capacity_wh": wh, "average_power_w": life.average_power_w, "hours": life.hours,
                           "inferences_per_charge": life.inferences_per_charge}
        print(f"  battery {wh:.3g} Wh: {life.hours:.1f} h, {life.inferences_per_charge:.3g} inferences per charge")
    if args.json:
        atomic_write_text(args.json, json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        from edgesim.report.plots import plot_sustain

        plot_sustain(res, args.plot)
        print(f"wrote {args.plot}")
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    import numpy as np

    from edgesim.errors import EdgesimError
    from edgesim.kernels.executor import execute
    from edgesim.models import load_model
    from edgesim.report.io import atomic_write

    graph = load_model(args.model)
    inputs: dict[str, np.ndarray] = {}
    if args.input:
        path = Path(args.input)
        if not path.exists():
            raise EdgesimError(f"input file '{path}' does not exist")
        import zipfile

        # Truncated/garbage files raise EOFError or BadZipFile, not only ValueError; .npz members load lazily.
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.ndarray):
                loaded = {k: loaded[k] for k in loaded.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise EdgesimError(f"'{path}' is not a readable .npy/.npz file ({' '.join(str(e).split())})") from None
        if isinstance(loaded, np.ndarray):
            if len(graph.inputs) != 1:
                raise EdgesimError(f"model has {len(graph.inputs)} inputs {list(graph.inputs)}: pass an .npz")
            inputs[graph.inputs[0]] = loaded
        else:
            inputs = loaded
    else:
        if args.seed < 0:  # numpy refuses negative seeds with a bare ValueError
            raise EdgesimError(f"--seed must be >= 0, got {args.seed}")
        rng = np.random.default_rng(args.seed)
        for name in graph.inputs:
            t = graph.tensors[name]
            info = np.iinfo(t.dtype.numpy()) if t.dtype.is_integer else None
            if info is None:
                inputs[name] = rng.standard_normal(t.shape).astype(t.dtype.numpy())
            else:
                inputs[name] = rng.integers(info.min, info.max + 1, size=t.shape).astype(t.dtype.numpy())
    for name in graph.inputs:
        if name not in inputs:
            raise EdgesimError(f"no value given for model input '{name}'")
        want = graph.tensors[name]
        if tuple(inputs[name].shape) != want.shape:
            raise EdgesimError(f"input '{name}' has shape {inputs[name].shape}, the model expects {want.shape}")
        if inputs[name].dtype != want.dtype.numpy():
            raise EdgesimError(f"input '{name}' is {inputs[name].dtype}, the model expects {want.dtype.numpy()}")
    outputs = execute(graph, inputs)
    for name, value in outputs.items():
        flat = value.reshape(-1)
        print(f"{name}: shape {value.shape} {value.dtype}, first values {flat[:10].tolist()}")
    if args.output:
        arrays: dict[str, Any] = dict(outputs)

        def _write(p: Path) -> None:
            with p.open("wb") as fh:
                if len(arrays) == 1:
                    np.save(fh, next(iter(arrays.values())))
                else:
                    np.savez(fh, **arrays)

        atomic_write(args.output, _write)
        print(f"wrote {args.output}")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from edgesim.models import load_model, parse_shape
    from edgesim.passes.optimize import write_onnx

    shape = parse_shape(args.input_shape) if args.input_shape else None
    graph = load_model(args.model, input_shape=shape)
    out, info = _transform(graph, args)
    _print_transform(info)
    write_onnx(out, args.output)
    print(f"wrote {args.output}")
    return 0


def _sustain_big_little(graph: Any, profile: Any, runtime: Any, version: Any, args: argparse.Namespace) -> int:
    import json

    from edgesim.report.io import atomic_write_text
    from edgesim.thermal.big_little import Policy, run_big_little

    res = run_big_little(graph, profile, Policy(args.policy), runtime=runtime, version=version, ambient_c=args.ambient,
                         duration_s=args.duration, rate_hz=args.rate, background_power_w=args.background_w,
                         burst_on_s=args.burst_on, burst_off_s=args.burst_off, window_s=args.window)
    onset = "never" if res.throttle_onset_s is None else f"{res.throttle_onset_s:.1f} s"
    print(f"{graph.name} on {profile.id}, policy {args.policy}, {args.duration:g} s, background "
          f"{args.background_w:g} W on the LITTLE cores")
    print(f"  max temperature {res.max_temp_c:.1f} C, final {res.final_temp_c:.1f} C, throttled: "
          f"{'yes' if res.throttled else 'no'} (onset {onset})")
    print(f"  mean latency {res.mean_latency_s * 1e3:.3f} ms (wall time per inference "
          f"{res.mean_effective_latency_s * 1e3:.3f} ms), average power {res.average_power_w:.3f} W, "
          f"inferences {res.inferences:.0f}, frames missed {res.frames_missed:.0f}")
    if args.json:
        atomic_write_text(args.json, json.dumps(res.as_dict(), indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from edgesim.hw.loader import list_profiles, list_runtimes

    if args.runtimes:
        for rid, desc in list_runtimes():
            print(f"{rid:<20} {desc}")
        return 0
    for pid, desc in list_profiles():
        print(f"{pid:<20} {desc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from edgesim.report.cli import add_plot_arguments, add_report_parsers

    p = argparse.ArgumentParser(
        prog="edgesim",
        description="Predict latency, energy and power of neural networks on edge AI hardware.",
    )
    p.add_argument("--version", action="version", version="edgesim 0.1.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="simulate one inference of MODEL on a hardware profile")
    run.add_argument("model", help="a .tflite or .onnx file, a SCALE-Sim topology .csv, or a zoo model name")
    run.add_argument("--hw", required=True, help="bundled profile id, a profile YAML path, or a SCALE-Sim .cfg")
    run.add_argument("--runtime", help="inference engine id, optionally with @version (e.g. x-cube-ai@7.3.0)")
    run.add_argument("--input-shape", help="override the input shape in the model's own layout, e.g. 1x3x299x299")
    run.add_argument("--clock-mhz", type=float, help="override the profile's clock")
    run.add_argument("--json", help="write the JSON report here")
    run.add_argument("--all-layers", action="store_true", help="print every layer, not the first 60")
    run.add_argument("--fast", action="store_true", help="analytic cost model instead of the event engine")
    run.add_argument("--trace", help="write a Chrome trace-event JSON (opens in Perfetto) of units and DMA")
    run.add_argument("--frames", type=int, default=1,
                     help="event engine: queue N inferences at once and report throughput_inf_per_s")
    _add_transform_args(run)
    add_plot_arguments(run)
    run.set_defaults(func=cmd_run)

    sus = sub.add_parser("sustain", help="minutes of sustained inference: heating, throttling, energy, battery")
    sus.add_argument("model")
    sus.add_argument("--hw", required=True)
    sus.add_argument("--runtime")
    sus.add_argument("--input-shape")
    sus.add_argument("--clock-mhz", type=float)
    sus.add_argument("--duration", type=float, default=600.0, help="simulated seconds (default 600)")
    sus.add_argument("--rate", type=float, help="inferences per second (default: back-to-back)")
    sus.add_argument("--ambient", type=float, help="ambient temperature in C (default: the profile's)")
    sus.add_argument("--governor", choices=["performance", "powersave", "ondemand"], default="performance")
    sus.add_argument("--window", type=float, default=0.5, help="thermal step in seconds (default 0.5)")
    sus.add_argument("--battery-wh", type=float)
    sus.add_argument("--battery-mah", type=float)
    sus.add_argument("--battery-v", type=float, default=3.7, help="battery voltage for --battery-mah (default 3.7)")
    sus.add_argument("--json")
    sus.add_argument("--plot", help="PNG or SVG of temperature, clock and latency over time")
    sus.add_argument("--policy", choices=["big-only", "little-only", "burst"],
                     help="big.LITTLE placement of the inference (profiles with a little_cluster)")
    sus.add_argument("--background-w", type=float, default=0.3, help="background load on the LITTLE cores (W)")
    sus.add_argument("--burst-on", type=float, default=5.0, help="burst policy: seconds on the big cores")
    sus.add_argument("--burst-off", type=float, default=5.0, help="burst policy: idle seconds between bursts")
    _add_transform_args(sus)
    sus.set_defaults(func=cmd_sustain)

    opt = sub.add_parser("optimize", help="apply quantization/pruning/fusion/compression and write the model as ONNX")
    opt.add_argument("model")
    opt.add_argument("-o", "--output", required=True, help="the transformed model (.onnx, QDQ for quantized)")
    opt.add_argument("--input-shape")
    _add_transform_args(opt)
    opt.set_defaults(func=cmd_optimize)

    inf = sub.add_parser("infer", help="execute a quantized model bit-exactly with the int8/int4 kernels")
    inf.add_argument("model", help="a quantized .tflite/.onnx file or a quantized graph")
    inf.add_argument("--input", help=".npy (single input) or .npz keyed by input name; default: random")
    inf.add_argument("--output", help="write the output(s) here (.npy, or .npz when several)")
    inf.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the random input (default 0)")
    inf.set_defaults(func=cmd_infer)

    from edgesim.validate.cli import add_validate_parsers

    add_validate_parsers(sub)
    add_report_parsers(sub)
    from edgesim.explore.cli import add_explore_parsers

    add_explore_parsers(sub)
    __import__("edgesim.llm.cli", fromlist=["add_llm_parser"]).add_llm_parser(sub)

    prof = sub.add_parser("profiles", help="list the bundled hardware profiles")
    prof.add_argument("--runtimes", action="store_true", help="list the runtime (inference engine) profiles instead")
    prof.set_defaults(func=cmd_profiles)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from edgesim.errors import EdgesimError

    try:
        return int(args.func(args))
    except EdgesimError as e:
        print(f"error: {e.one_line()}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug, not bad input: still one line, with a way to get the traceback
        if os.environ.get("EDGESIM_DEBUG"):
            raise
        msg = " ".join(str(e).split())
        print(f"error: internal error ({type(e).__name__}: {msg}); set EDGESIM_DEBUG=1 for the traceback",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
