"""``edgesim compare`` and ``edgesim sweep``: what-if tables and design-space sweeps."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgesim.cli.args import (
    add_input_shape_argument,
    add_quant_argument,
    add_threads_argument,
    add_trust_arguments,
    input_shape_from_args,
    non_negative_int,
)


def cmd_compare(args: argparse.Namespace) -> int:
    from edgesim.explore.compare import (
        compare,
        format_compare,
        format_indistinguishable,
        plot_compare,
        write_compare_csv,
    )

    rows = compare(args.models, args.hw, args.runtime, quant=args.quant, peak_on_front=args.peak_on_front,
                   confidence=args.confidence, input_shape=input_shape_from_args(args), threads=args.threads)
    print(format_compare(rows, args.peak_on_front))
    print("* = on the latency/energy Pareto front for that model")
    if text := format_indistinguishable(rows):
        print(text)
    if args.csv:
        write_compare_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        plot_compare(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from edgesim.explore.sweep import (
        SweepInterrupted,
        check_existing_output,
        format_pareto,
        read_results,
        run_sweep,
    )
    from edgesim.explore.sweep_spec import load_sweep_spec

    loaded = load_sweep_spec(args.spec)
    check_existing_output(args.output, loaded)  # before the header: a refusal is its one line
    print(f"sweep '{loaded.spec.name}': {len(loaded.points)} points "
          f"({len(loaded.spec.profiles)} profiles x {len(loaded.spec.models)} models x axes "
          f"{', '.join(loaded.spec.axes) or 'none'})")
    try:
        res = run_sweep(loaded, args.output, workers=args.workers, dask_scheduler=args.dask_scheduler,
                        progress=not args.no_progress, plot=not args.no_plot, peak_on_front=args.peak_on_front,
                        confidence=args.confidence)
    except SweepInterrupted as stop:
        done = stop.result
        print(f"interrupted: {done.rows} of {len(loaded.points)} points kept in {done.out} ({done.evaluated} "
              f"evaluated now); run the same command again to evaluate the rest", file=sys.stderr)
        return 130
    print(f"wrote {res.out}: {res.rows} rows ({res.evaluated} evaluated now, {res.rows - res.evaluated} resumed), "
          f"{res.errors} failed points, {res.pareto} on the Pareto front")
    rows = read_results(res.out)
    for line in excluded_summary(rows, res):
        print(line)
    front = format_pareto(rows, loaded.axis_names)
    if front:
        print(f"Pareto front (latency ({args.confidence:.0%} interval), energy per model):")
        print(front)
    if res.plot:
        print(f"wrote {res.plot}")
    return 0


def excluded_summary(rows: list[dict[str, Any]], res: Any) -> list[str]:
    """What is off the Pareto front and why: failed points (with their most common errors, e.g. a clock axis
    beyond the DVFS table), points that do not fit, points without a runtime."""
    from collections import Counter

    out = []
    if res.errors:
        common = Counter(r["error"] for r in rows if r["error"]).most_common(3)
        out.append(f"excluded from the Pareto front: {res.errors} failed points (errors in the 'error' column), "
                   f"most often: " + " | ".join(f"{n}x {msg}" for msg, n in common))
    if res.misfits:
        out.append(f"excluded from the Pareto front: {res.misfits} points that do not fit the chip's memories "
                   f"(see 'fit_problems')")
    if res.peak_hardware:
        out.append(f"excluded from the Pareto front: {res.peak_hardware} points without a runtime (peak hardware)")
    return out


def add_explore_parsers(subparsers: Any) -> None:
    """Add the ``compare`` and ``sweep`` sub-commands to an ``argparse`` subparsers object."""
    cmp = subparsers.add_parser("compare", help="compare models across hardware profiles (latency, energy, power)")
    cmp.add_argument("models", nargs="+", metavar="MODEL", help="model files (.tflite/.onnx) or zoo names")
    cmp.add_argument("--hw", action="append", required=True,
                     help="hardware profile id or YAML path; repeat for each profile to compare")
    cmp.add_argument("--runtime", action="append",
                     help="runtime id[@version]: once for all profiles or once per --hw (default: each "
                          "profile's own)")
    add_quant_argument(cmp, "quantize float models first (post-training, synthetic calibration)")
    add_input_shape_argument(cmp)
    add_threads_argument(cmp)
    cmp.add_argument("--csv", help="write the table as CSV")
    cmp.add_argument("--peak-on-front", action="store_true",
                     help="let profiles without a runtime (peak hardware speed) onto the Pareto front")
    cmp.add_argument("--plot", help="write a latency chart and latency-vs-energy scatter (PNG/SVG/PDF)")
    add_trust_arguments(cmp)
    cmp.set_defaults(func=cmd_compare)

    sw = subparsers.add_parser("sweep", help="evaluate a design space declared in a YAML spec")
    sw.add_argument("spec", help="sweep spec YAML (profiles, axes, models, runtime)")
    sw.add_argument("-o", "--output", required=True, help="results .parquet (resumes if partial results exist)")
    sw.add_argument("--dask-scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    sw.add_argument("--workers", type=non_negative_int, help="local worker processes (default: CPU count; 0 or 1: "
                                                              "in this process)")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    sw.add_argument("--no-plot", action="store_true", help="skip the latency-vs-energy plot (OUT.png)")
    sw.add_argument("--peak-on-front", action="store_true",
                    help="let points without a runtime (peak hardware speed) onto the Pareto front")
    add_trust_arguments(sw)
    sw.set_defaults(func=cmd_sweep)


__all__ = ["add_explore_parsers", "cmd_compare", "cmd_sweep"]
