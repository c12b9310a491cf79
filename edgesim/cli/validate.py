"""``edgesim validate`` and ``edgesim calibrate``: predictions against measured silicon, and fitting a runtime."""

from __future__ import annotations

import argparse
import sys


def cmd_validate(args: argparse.Namespace) -> int:
    from edgesim.cli.llm import validate_llm
    from edgesim.errors import EdgesimError
    from edgesim.llm.reference import is_llm_reference
    from edgesim.pipeline.intervals import check_confidence
    from edgesim.validate.calibrate import leave_one_benchmark_out, leave_one_device_out
    from edgesim.validate.core import validate, write_json, write_plot
    from edgesim.validate.npu_vendor import cmd_vendor, is_vendor_table

    check_confidence(args.confidence)
    held_out = _check_modes(args)
    if args.calibrate_intervals or args.coverage:
        return _cmd_intervals(args)
    for is_kind, kind, cmd in ((is_vendor_table, "a vendor NPU table", cmd_vendor),  # issue #17
                               (is_llm_reference, "a language-model reference", validate_llm)):  # issue #16
        if args.reference and is_kind(args.reference):
            if held_out:
                raise EdgesimError(f"{held_out} applies to MCU/SoC reference files (the mlperf_tiny.csv columns); "
                                   f"'{args.reference}' is {kind}, predicted row by row", field=_field(held_out))
            return cmd(args)
    strict = getattr(args, "lobo_strict", False)
    if getattr(args, "lodo", False):
        result = leave_one_device_out(args.reference)
    elif args.lobo or strict:
        result = leave_one_benchmark_out(args.reference, refit_runtime=strict)
    else:
        result = validate(args.reference)
    print(result.table())
    if getattr(args, "lodo", False):
        from edgesim.validate.devices import device_table

        print()
        print(device_table(result))  # issue #18: the new-device figure, per device
    if args.reference is None:
        # How well the prediction intervals cover held-out rows, per novelty class (the shipped calibration).
        from edgesim.validate.coverage_tables import coverage_table, target_group_table
        from edgesim.validate.intervals import coverage, shipped_residuals, target_group_coverage

        residuals = shipped_residuals()
        print()
        print(coverage_table(coverage(residuals, args.confidence), args.confidence))
        print(target_group_table(target_group_coverage(residuals, args.confidence), args.confidence))
    if args.json:
        write_json(result, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        write_plot(result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _field(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _check_modes(args: argparse.Namespace) -> str | None:
    """The one held-out protocol or interval action asked for (its flag), refusing two at once and outputs the
    action does not write: each was silently dropped (--lobo under --lodo, --json under --coverage)."""
    from edgesim.errors import EdgesimError

    modes = [flag for flag, on in (("--lobo", args.lobo and not args.lobo_strict), ("--lobo-strict", args.lobo_strict),
                                   ("--lodo", args.lodo), ("--calibrate-intervals", args.calibrate_intervals),
                                   ("--coverage", args.coverage)) if on]
    if len(modes) > 1:
        raise EdgesimError(f"{' and '.join(modes)} are different runs; give one", field=_field(modes[1]))
    if modes and modes[0] in ("--calibrate-intervals", "--coverage"):
        unused = [flag for flag, value in (("--json", args.json), ("--plot", args.plot)) if value]
        if unused:
            raise EdgesimError(f"{' and '.join(unused)} write the per-row validation; {modes[0]} prints coverage "
                               "tables only", field=unused[0].lstrip("-"))
    return modes[0] if modes and modes[0] in ("--lobo", "--lobo-strict", "--lodo") else None


def _cmd_intervals(args: argparse.Namespace) -> int:
    """--calibrate-intervals: rewrite the shipped interval calibration; --coverage: only measure it."""
    from edgesim.llm.intervals import llm_coverage_table, llm_table, write_llm_calibration
    from edgesim.pipeline.intervals import check_confidence
    from edgesim.validate.coverage_tables import coverage_report
    from edgesim.validate.intervals import (
        collect_residuals,
        shipped_residuals,
        write_calibration,
        write_npu_calibration,
    )

    confidence = check_confidence(args.confidence)
    if args.calibrate_intervals:
        path, residuals = write_calibration(args.reference)
        print(f"wrote {path} ({len(residuals)} held-out residuals)", file=sys.stderr)
        llm_path, llm_rows = write_llm_calibration()
        print(f"wrote {llm_path} ({len(llm_rows)} held-out LLM residuals)", file=sys.stderr)
        if args.reference is None:  # the vendor NPU tables (minutes: every row is predicted)
            npu_path, npu_rows = write_npu_calibration()
            ext = sum(x.external is not None for x in npu_rows)
            print(f"wrote {npu_path} ({len(npu_rows)} held-out vendor-table residuals, {ext} of them from the "
                  "external tables)", file=sys.stderr)
            residuals = residuals + npu_rows
            from edgesim.cli.intervals_doc import CALIBRATION_BLOCKS, checkout_doc, rewrite_doc

            if (doc := checkout_doc()) is not None:  # a checkout: the doc quotes the new calibration's figures
                print(f"wrote {rewrite_doc(doc, CALIBRATION_BLOCKS)}", file=sys.stderr)
    else:
        # the shipped calibration's residuals, or fresh ones for another reference file
        residuals = collect_residuals(args.reference) if args.reference else shipped_residuals()
        llm_rows = list(llm_table()[1])
    print(coverage_report(residuals, confidence))
    print()
    print(llm_coverage_table(llm_rows, confidence))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from edgesim.validate.calibrate import calibrate

    result = calibrate(args.measurements, args.hw, args.runtime)
    print(result.summary())
    if args.output:
        result.write_calibrated_profile(args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def add_validate_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds 'validate' and 'calibrate'; each parser sets func=(args) -> exit code."""
    v = subparsers.add_parser("validate", help="predict a measured reference file and report the errors")
    v.add_argument("--reference", default=None, help="reference CSV (default: the bundled mlperf_tiny.csv)")
    v.add_argument("--json", default=None, help="write the per-row and per-benchmark results as JSON")
    v.add_argument("--plot", default=None, help="write predicted vs measured (log-log) as PNG/SVG")
    v.add_argument("--lobo", action="store_true",
                   help="leave-one-benchmark-out: per device+runtime, calibrate on the other benchmarks first")
    v.add_argument("--lobo-strict", action="store_true",
                   help="--lobo, but first refit the runtime across devices without the held-out rows")
    v.add_argument("--lodo", action="store_true",
                   help="leave-one-device-out: refit each runtime without the device, predict its rows")
    v.add_argument("--calibrate-intervals", action="store_true",
                   help="recompute the held-out residuals per novelty class, write the interval calibration the "
                        "package ships (edgesim/data/calibration/intervals.json) and print its coverage")
    v.add_argument("--coverage", action="store_true",
                   help="print the prediction intervals' coverage and width per novelty class, each device held out")
    v.add_argument("--confidence", type=float, default=0.8,
                   help="confidence of the interval coverage table (default 0.8)")
    v.set_defaults(func=cmd_validate)
    c = subparsers.add_parser("calibrate", help="fit a runtime's free parameters to your measurements")
    c.add_argument("measurements", help="CSV in the reference format (device, runtime, ..., latency_ms)")
    c.add_argument("--hw", required=True, help="hardware profile id or YAML path")
    c.add_argument("--runtime", required=True, help="runtime id[@version] to fit")
    c.add_argument("-o", "--output", default=None, help="write a runtime YAML that extends the original")
    c.set_defaults(func=cmd_calibrate)
