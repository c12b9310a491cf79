"""Every output path a command will write, checked before the work starts: a run that takes minutes must not end
in an error about its ``--json`` argument.

Each command names its output flags and the suffixes they take (``OUTPUTS``); ``check_outputs`` refuses a
directory, a missing or unwritable parent folder, or a suffix the writer cannot produce, in one line naming the
flag."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from edgesim.errors import EdgesimError

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
JSON = (".json",)

# (command, argparse dest) -> (flag as the user types it, suffixes the writer produces)
OUTPUTS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("run", "json"): ("--json", JSON),
    ("run", "trace"): ("--trace", JSON),
    ("run", "plot"): ("--plot", PLOT_SUFFIXES),
    ("report", "output"): ("-o", (".html", ".htm")),
    ("optimize", "output"): ("-o", (".onnx",)),
    ("infer", "output"): ("--output", (".npy", ".npz")),
    ("sustain", "json"): ("--json", JSON),
    ("sustain", "plot"): ("--plot", PLOT_SUFFIXES),
    ("validate", "json"): ("--json", JSON),
    ("validate", "plot"): ("--plot", PLOT_SUFFIXES),
    ("calibrate", "output"): ("-o", (".yaml", ".yml")),
    ("compare", "csv"): ("--csv", (".csv",)),
    ("compare", "plot"): ("--plot", PLOT_SUFFIXES),
    ("sweep", "output"): ("-o", (".parquet",)),
    ("llm", "json"): ("--json", JSON),
    ("llm", "html"): ("--html", (".html", ".htm")),
    ("llm", "context_plot"): ("--context-plot", PLOT_SUFFIXES),
    ("profile", "output"): ("-o", (".yaml", ".yml")),
}


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder``: os.access says yes to root everywhere, and a pseudo or
    read-only file system (/proc, a read-only mount) only refuses when a file is actually made."""
    try:
        fd, name = tempfile.mkstemp(prefix=".edgesim-probe.", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def check_output_path(path: str, flag: str, suffixes: tuple[str, ...]) -> None:
    """Refuse, in one line naming ``flag``, a path this command could not write."""
    p = Path(path)
    want = " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes)
    if p.is_dir():
        raise EdgesimError(f"{flag} '{path}' is a directory; give a file name ending in {want}")
    if p.suffix.lower() not in suffixes:
        raise EdgesimError(f"{flag} '{path}' must end in {want}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise EdgesimError(f"{flag} '{path}': folder '{parent}' does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or not _can_create_in(parent):
        raise EdgesimError(f"{flag} '{path}': folder '{parent}' is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise EdgesimError(f"{flag} '{path}' exists and is not writable")


def check_outputs(args: argparse.Namespace) -> None:
    """Check every output flag the parsed command was given (before it runs)."""
    command = getattr(args, "command", None)
    seen: dict[Path, str] = {}
    for (cmd, dest), (flag, suffixes) in OUTPUTS.items():
        value = getattr(args, dest, None)
        if cmd == command and value is not None and not str(value).strip():
            # --json "" (an unset shell variable) was no output at all, without a word
            raise EdgesimError(f"{flag} '{value}' is empty; give a file name ending in {' or '.join(suffixes)}")
        if cmd == command and value:
            check_output_path(str(value), flag, suffixes)
            # Two outputs on one path: the second writer would silently replace the first one's file.
            key = Path(value).resolve()
            if key in seen:
                raise EdgesimError(f"{seen[key]} and {flag} both name '{value}'; give each output its own file")
            seen[key] = flag


__all__ = ["OUTPUTS", "PLOT_SUFFIXES", "check_output_path", "check_outputs"]
