"""Command-line interface: thin doors onto the pipeline driver. Heavy modules are imported inside commands so
``edgesim --help`` is instant."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line, with the command's short usage (its positionals and required flags)
    and where the full help is, instead of a multi-line usage dump; exit 2 as before."""

    def short_usage(self) -> str:
        parts = [self.prog]
        for action in self._actions:
            if action.option_strings:
                if action.required:
                    parts.append(f"{action.option_strings[0]} {action.metavar or action.dest.upper()}")
            elif action.nargs != argparse.PARSER:
                parts.append(str(action.metavar or action.dest).upper() if action.dest != "command" else "COMMAND")
            else:
                parts.append("COMMAND")
        if any(a.option_strings and not a.required and a.dest != "help" for a in self._actions):
            parts.append("[options]")
        return " ".join(parts)

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(EXIT_USAGE, f"error: {text} (usage: {self.short_usage()}; see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from edgesim.cli.explore import add_explore_parsers
    from edgesim.cli.llm import add_llm_parser
    from edgesim.cli.profile import add_profile_parser
    from edgesim.cli.report import add_report_parser
    from edgesim.cli.run import add_run_parsers
    from edgesim.cli.sustain import add_sustain_parser
    from edgesim.cli.validate import add_validate_parsers

    p = OneLineParser(
        prog="edgesim",
        description="Predict latency, energy and power of neural networks on edge AI hardware.",
    )
    p.add_argument("--version", action="version", version="edgesim 0.1.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    add_run_parsers(sub)
    add_sustain_parser(sub)
    add_validate_parsers(sub)
    add_report_parser(sub)
    add_explore_parsers(sub)
    add_profile_parser(sub)
    add_llm_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The console script. Ctrl-C anywhere after the interpreter has started (while the command modules import,
    while arguments parse, during the work) ends with one line and exit 130, never a traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from edgesim.cli.outputs import check_outputs
    from edgesim.errors import EdgesimError

    try:
        check_outputs(args)  # before the work: a long run must not fail on its output path at the end
        return int(args.func(args))
    except EdgesimError as e:
        print(f"error: {e.one_line()}", file=sys.stderr)
        return EXIT_USAGE
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
