"""The ``report`` command and the ``--plot`` hooks the main CLI calls for ``run``."""

from __future__ import annotations

import argparse
from typing import Any

from edgesim.report.plots import PLOT_KINDS


def add_plot_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--plot OUT.png|svg`` and ``--plot-kind`` to a ``run``-like parser."""
    parser.add_argument("--plot", help="write a figure (PNG or SVG by suffix); see --plot-kind")
    parser.add_argument("--plot-kind", choices=PLOT_KINDS, default="roofline",
                        help="which figure --plot draws (default roofline; timeline needs the event engine)")


def handle_plot(args: argparse.Namespace, est: Any, profile: Any, events: list[Any] | None) -> None:
    """After ``run`` has its estimate: draw ``args.plot`` if asked. ``events`` is None under --fast."""
    if not getattr(args, "plot", None):
        return
    from edgesim.report.plots import plot_kind

    plot_kind(getattr(args, "plot_kind", "roofline"), est, profile, args.plot, events)
    print(f"wrote {args.plot}")


def cmd_report(args: argparse.Namespace) -> int:
    from edgesim.api import resolve_runtime
    from edgesim.cost.analytic import estimate_schedule
    from edgesim.errors import EdgesimError
    from edgesim.hw.loader import load_profile
    from edgesim.mapping.mapper import build_schedule
    from edgesim.models import load_model, parse_shape
    from edgesim.report.html import write_html_report
    from edgesim.sim import TraceRecorder, simulate_schedule, to_estimate

    if not args.output.lower().endswith((".html", ".htm")):
        raise EdgesimError(f"-o '{args.output}' must end in .html")
    shape = parse_shape(args.input_shape) if args.input_shape else None
    profile = load_profile(args.hw, clock_mhz=args.clock_mhz)
    graph = load_model(args.model, input_shape=shape)
    runtime, version = resolve_runtime(profile, args.runtime)
    schedule = build_schedule(graph, profile, runtime, version)
    events: list[Any] | None = None
    if args.fast:
        est = estimate_schedule(schedule, profile)
    else:
        recorder = TraceRecorder()
        result = simulate_schedule(schedule, profile, recorder)
        est = to_estimate(schedule, profile, result)
        events = recorder.events
    compare = []
    for other_id in args.compare or []:
        other = load_profile(other_id)
        rt, ver = resolve_runtime(other, None)
        compare.append(estimate_schedule(build_schedule(graph, other, rt, ver), other))
    write_html_report(args.output, est, profile, events=events, compare=compare)
    print(f"wrote {args.output}")
    return 0


def add_report_parsers(subparsers: Any) -> None:
    """Registers ``edgesim report`` on the main CLI's subparsers object."""
    rep = subparsers.add_parser("report", help="one self-contained HTML report: summary, layers, plots, profile")
    rep.add_argument("model", help="a .tflite or .onnx file, a SCALE-Sim topology .csv, or a zoo model name")
    rep.add_argument("--hw", required=True, help="bundled profile id or a profile YAML path")
    rep.add_argument("--runtime", help="inference engine id, optionally with @version")
    rep.add_argument("--input-shape", help="override the input shape in the model's own layout, e.g. 1x3x96x96")
    rep.add_argument("--clock-mhz", type=float, help="override the profile's clock")
    rep.add_argument("--fast", action="store_true", help="analytic model only (no timeline)")
    rep.add_argument("--compare", nargs="+", metavar="HW", help="other profiles for the what-if bars")
    rep.add_argument("-o", "--output", required=True, help="the .html file to write")
    rep.set_defaults(func=cmd_report)
