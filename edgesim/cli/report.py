"""``edgesim report``: one self-contained HTML file (summary, layers, plots, profile, what-if bars)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from edgesim.cli.args import (
    add_model_argument,
    add_target_arguments,
    add_transform_arguments,
    add_trust_arguments,
    spec_from_args,
)


def cmd_report(args: argparse.Namespace) -> int:
    from edgesim.errors import EdgesimError
    from edgesim.pipeline import Engine, run
    from edgesim.report.html import write_html_report

    if not args.output.lower().endswith((".html", ".htm")):
        raise EdgesimError(f"-o '{args.output}' must end in .html")
    from edgesim.cli.trust import report_trust_html
    from edgesim.pipeline.intervals import check_confidence

    check_confidence(args.confidence)
    twice = [hw for i, hw in enumerate(args.compare or []) if hw in (args.compare or [])[:i]]
    if twice:  # as compare refuses a --hw listed twice: two bars of one question
        raise EdgesimError(f"--compare {twice[0]} is listed twice", field="compare")
    spec = spec_from_args(args, fast=args.fast, record_trace=not args.fast)
    result = run(spec)
    # The what-if bars: the same question on other profiles (their own default runtimes on all their cores: a
    # --threads for the chip asked about refused the report on a chip with fewer cores), analytic.
    compare = [run(replace(spec, hw=other, runtime=None, clock_mhz=None, threads=None, force=False,
                           engine=Engine.ANALYTIC, record_trace=False)).estimate for other in args.compare or []]
    write_html_report(args.output, result.estimate, result.profile,
                      events=list(result.events) if result.events is not None else None, compare=compare,
                      fit_summary=result.fit.summary(), warnings=result.warnings(),
                      trust_html=report_trust_html(result, args))
    print(f"wrote {args.output}")
    print(f"memory: {result.fit.summary()}")
    for line in result.warnings():
        print(f"warning: {line}")
    return 0


def add_report_parser(sub: Any) -> None:
    rep = sub.add_parser("report", help="one self-contained HTML report: summary, layers, plots, profile")
    add_model_argument(rep)
    add_target_arguments(rep)
    rep.add_argument("--fast", action="store_true", help="analytic model only (no timeline)")
    rep.add_argument("--compare", nargs="+", metavar="HW", help="other profiles for the what-if bars")
    rep.add_argument("-o", "--output", required=True, help="the .html file to write")
    add_transform_arguments(rep)
    add_trust_arguments(rep)
    rep.set_defaults(func=cmd_report)
