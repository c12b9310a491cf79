"""Shared helpers for the fuzz suite: the shared data folder and the 'clean failure' contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edgesim.errors import EdgesimError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MODELS = SHARED / "models"
REPO = Path(__file__).resolve().parents[2]


def shared_model(name: str) -> Path:
    path = MODELS / name
    if not path.is_file():
        pytest.skip(f"shared model {name} not present")
    return path


def clean(fn: Callable[[], Any]) -> Any:
    """Run ``fn``: success, or an EdgesimError with a non-empty one-line message. Anything else fails the test
    (pytest shows the original traceback, which is the bug to fix)."""
    try:
        return fn()
    except EdgesimError as exc:
        line = exc.one_line()
        assert line and "\n" not in line, repr(line)
        return None
