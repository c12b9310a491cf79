"""``edgesim run``, ``optimize``, ``infer`` and ``profiles``: thin doors onto the pipeline driver."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesim.cli.args import (
    add_model_argument,
    add_target_arguments,
    add_transform_arguments,
    add_trust_arguments,
    non_negative_int,
    spec_from_args,
    transform_from_args,
)

if TYPE_CHECKING:
    from edgesim.pipeline import RunResult, TransformReport


def add_plot_arguments(parser: argparse.ArgumentParser) -> None:
    """``--plot OUT.png|svg`` and ``--plot-kind``."""
    from edgesim.report.plots import PLOT_KINDS

    parser.add_argument("--plot", help="write a figure (PNG or SVG by suffix); see --plot-kind")
    parser.add_argument("--plot-kind", choices=PLOT_KINDS, default=None,
                        help="which figure --plot draws (default roofline; timeline needs the event engine)")


def check_plot_arguments(args: argparse.Namespace) -> str:
    """The figure --plot draws, refused before the run when it cannot be drawn (after it, the report and --json
    would already be out) or when --plot-kind comes without --plot (silently unused)."""
    from edgesim.errors import EdgesimError

    if args.plot_kind is not None and not args.plot:
        raise EdgesimError(f"--plot-kind {args.plot_kind} needs --plot FILE", field="plot_kind")
    kind = str(args.plot_kind or "roofline")
    if kind == "timeline" and getattr(args, "fast", False):
        raise EdgesimError("the timeline plot needs the event engine; drop --fast", field="plot_kind")
    return kind


def print_transform(report: TransformReport) -> None:
    print(report.summary_line())
    if report.accuracy is not None:
        print(f"accuracy vs the untransformed model: {report.accuracy.summary()}")
    if report.accuracy_note is not None:
        print(report.accuracy_note)


def run_report_extra(result: RunResult) -> dict[str, Any]:
    """The JSON report's entries beyond the estimate: transformations, utilisation, throughput, power."""
    from edgesim.pipeline import transform_report_with_mapping
    from edgesim.pipeline.gaps import gap_dicts

    extra: dict[str, Any] = {"fits": result.fit.fits, "fit_problems": list(result.fit.problems),
                             "warnings": list(result.warnings()), "overclocked": result.overclocked,
                             "peak_hardware": result.peak_hardware, "unmodelled": gap_dicts(result.gaps)}
    if result.fallback is not None:
        f = result.fallback
        extra["fallback"] = {"unit": f.unit, "mac_share": f.share, "cause": f.cause, "fix": f.fix}
    extra.update(transform_report_with_mapping(result).as_dict())
    if result.sim is not None:
        from edgesim.sim.trace import utilisation

        if result.events is not None:
            extra["utilisation"] = utilisation(result.events, result.sim.makespan_s)
        extra["throughput_inf_per_s"] = result.throughput_inf_per_s
        if result.spec.frames > 1:
            # the N queued frames' own wall time, fill and drain included (the figure run printed before)
            extra["throughput_queued_frames_inf_per_s"] = result.sim.throughput_inf_per_s
    extra["average_power_w"] = result.power.average_power_w
    extra["peak_power_w"] = result.power.peak_power_w
    return extra


def runtime_label(result: RunResult) -> str:
    """The runtime as every output names it; a run without one says its numbers are the hardware's peak."""
    return "none (peak hardware, no runtime)" if result.peak_hardware else result.schedule.runtime


def cmd_run(args: argparse.Namespace) -> int:
    from edgesim.files import atomic_write_text
    from edgesim.pipeline import run, transform_report_with_mapping
    from edgesim.pipeline.intervals import check_confidence
    from edgesim.report.summary import format_table, op_count_line, report_json
    from edgesim.report.units import si

    check_confidence(args.confidence)  # before the run: bad input is refused, not answered
    kind = check_plot_arguments(args)
    # --trace under --fast asks for events the analytic model has none of: the spec refuses it, not a silent skip.
    result = run(spec_from_args(args, fast=args.fast, frames=args.frames, batch=args.batch,
                                record_trace=not args.fast or bool(args.trace)))
    est = result.estimate
    if args.trace and result.events is not None:
        from edgesim.sim.trace import write_chrome_trace

        write_chrome_trace(result.events, args.trace)
        print(f"wrote {args.trace}")
    extra = run_report_extra(result)
    if args.model.lower().endswith(".csv") and args.hw.lower().endswith(".cfg"):
        # A SCALE-Sim topology on a SCALE-Sim config: report in SCALE-Sim's own terms too.
        from edgesim.report.scalesim_report import format_scalesim, scalesim_rows

        # Stalls as the JSON layers have them (the event engine); the closed form under --fast.
        rows = scalesim_rows(args.model, args.hw, None if args.fast else est)
        print(format_scalesim(rows, Path(args.hw).name))
        extra["scalesim_layers"] = rows
    else:
        print(f"model {result.graph.name} on {result.profile.id} with runtime {runtime_label(result)}, "
              f"{'analytic model' if args.fast else 'event engine'}")
        print(op_count_line(len(result.graph.nodes), est))
        print(format_table(est, max_rows=None if args.all_layers else 60, fit_summary=result.fit.summary()))
    if result.sim is not None and args.frames > 1 and result.throughput_inf_per_s is not None:
        # The steady state is a vendor's FPS and what validate scores; the table's latency is the first frame's,
        # sharing the units with the frames queued behind it.
        batch = f", batch {args.batch} per context switch" if args.batch > 1 else ""
        print(f"throughput: {result.throughput_inf_per_s:.1f} inferences/s steady state{batch} (the period between "
              f"frames once the stream is full; {args.frames} frames queued at once take "
              f"{result.sim.throughput_inf_per_s:.1f} inferences/s with fill and drain; latency above is the first "
              "frame's)")
    print_transform(transform_report_with_mapping(result))
    print(f"power: average {si(result.power.average_power_w, 'W')}, peak {si(result.power.peak_power_w, 'W')}")
    for line in result.warnings():
        print(f"warning: {line}")
    from edgesim.cli.trust import trust_report

    extra.update(trust_report(result, args))
    if args.json:
        atomic_write_text(args.json, report_json(est, mode=result.spec.engine.value, extra=extra))
        print(f"wrote {args.json}")
    if args.plot:
        from edgesim.report.plots import plot_kind

        plot_kind(kind, est, result.profile, args.plot,
                  list(result.events) if result.events is not None else None)
        print(f"wrote {args.plot}")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from edgesim.frontends.loader import is_zoo_name, parse_shape
    from edgesim.frontends.onnx_export import export_onnx
    from edgesim.pipeline import load_source, note_kept_quantized, transform_graph

    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    source, options = load_source(args.model, shape), transform_from_args(args)
    graph, report = transform_graph(source, options, random_weights=is_zoo_name(args.model))
    note_kept_quantized(source, options)
    print_transform(report)
    export_onnx(graph, args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    from edgesim.cli.infer import infer

    return infer(args.model, args.input, args.output, args.seed)


def cmd_models(args: argparse.Namespace) -> int:
    from edgesim import zoo
    from edgesim.files import bundled_models

    print("bundled model files (run them by name, e.g. edgesim run kws_ref_model.tflite --hw stm32l4r5):")
    for path in bundled_models():
        print(f"  {path.name}")
    print("zoo models (float32, seeded random weights; --quant int8 quantizes them):")
    print("  " + ", ".join(zoo.names()))
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from edgesim.hw.loader import list_profiles, list_runtimes

    for rid, desc in (list_runtimes() if args.runtimes else list_profiles()):
        print(f"{rid:<20} {desc}")
    return 0


def add_run_parsers(sub: Any) -> None:
    run = sub.add_parser("run", help="simulate one inference of MODEL on a hardware profile")
    add_model_argument(run)
    add_target_arguments(run)
    run.add_argument("--json", help="write the JSON report here")
    run.add_argument("--all-layers", action="store_true", help="print every layer, not the first 60")
    run.add_argument("--fast", action="store_true", help="analytic cost model instead of the event engine")
    run.add_argument("--trace", help="write a Chrome trace-event JSON (opens in Perfetto) of units and DMA")
    run.add_argument("--frames", type=int, default=1,
                     help="event engine: queue N inferences at once and report the stream's steady-state "
                          "throughput (a vendor's FPS; throughput_inf_per_s)")
    run.add_argument("--batch", type=int, default=1,
                     help="with --frames: frames per context switch on a multi-context accelerator "
                          "(HailoRT's batch size; the Hailo model zoo's batch-8 FPS)")
    add_transform_arguments(run)
    add_plot_arguments(run)
    add_trust_arguments(run, sensitivity=True)
    run.set_defaults(func=cmd_run)

    opt = sub.add_parser("optimize", help="apply quantization/pruning/fusion/compression and write the model as ONNX")
    add_model_argument(opt)
    opt.add_argument("-o", "--output", required=True, help="the transformed model (.onnx, QDQ for quantized)")
    opt.add_argument("--input-shape", help="override the input shape in the model's own layout, e.g. 1x3x299x299")
    add_transform_arguments(opt)
    opt.set_defaults(func=cmd_optimize)

    inf = sub.add_parser("infer", help="execute a quantized model bit-exactly with the int8/int4 kernels")
    inf.add_argument("model", help="a quantized .tflite/.onnx file or a quantized graph")
    inf.add_argument("--input", help=".npy (single input) or .npz keyed by input name; default: random")
    inf.add_argument("--output", help="write the output(s) here (.npy, or .npz when several)")
    inf.add_argument("--seed", type=non_negative_int, default=0, help="seed of the random input (default 0)")
    inf.set_defaults(func=cmd_infer)

    models = sub.add_parser("models", help="list the bundled model files and the zoo models")
    models.set_defaults(func=cmd_models)

    prof = sub.add_parser("profiles", help="list the bundled hardware profiles")
    prof.add_argument("--runtimes", action="store_true", help="list the runtime (inference engine) profiles instead")
    prof.set_defaults(func=cmd_profiles)
