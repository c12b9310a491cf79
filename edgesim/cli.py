"""Command-line interface. Heavy modules are imported inside commands so ``edgesim --help`` is instant."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


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
    runtime, version = resolve_runtime(profile, args.runtime)
    schedule = build_schedule(graph, profile, runtime, version)
    est = estimate_schedule(schedule, profile)
    print(f"model {graph.name} ({len(graph.nodes)} ops) on {profile.id} with runtime {schedule.runtime}, "
          f"analytic model")
    print(format_table(est, max_rows=None if args.all_layers else 60))
    if args.json:
        atomic_write_text(args.json, report_json(est, mode="analytic"))
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
    run.set_defaults(func=cmd_run)

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
