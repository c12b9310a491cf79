"""Shared helpers for the fuzz suite: the shared data folder and the 'clean failure' contract."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgesim.errors import EdgesimError
from tests.conftest import DATA

SHARED = DATA
MODELS = SHARED / "models"
REPO = Path(__file__).resolve().parents[2]


def shared_model(name: str) -> Path:
    path = MODELS / name
    if not path.is_file():
        pytest.skip(f"shared model {name} not present")
    return path


def budget(examples: int) -> int:
    """Examples per fuzz test: the CI budget, times EDGESIM_FUZZ_SCALE (benchmarks/fuzz_long.py raises it)."""
    try:
        scale = float(os.environ.get("EDGESIM_FUZZ_SCALE", "1"))
    except ValueError:
        scale = 1.0
    return max(1, int(examples * scale))


class Hang(Exception):
    """An input made the code under test run past its time budget."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (raise Hang) instead of hanging; SIGALRM so it works on the main thread without subprocesses."""

    def _raise(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def clean(fn: Callable[[], Any], seconds: int = 30) -> Any:
    """Run ``fn``: success, or an EdgesimError with a non-empty one-line message. Anything else fails the test
    (pytest shows the original traceback, which is the bug to fix); so does running past ``seconds``."""
    try:
        with time_limit(seconds):
            return fn()
    except EdgesimError as exc:
        line = exc.one_line()
        assert line and "\n" not in line, repr(line)
        return None
