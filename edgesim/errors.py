"""One exception family for every user-facing failure.

The CLI prints ``error: <message>`` on one line and exits with status 2; library callers get the exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EdgesimError(Exception):
    """A clean, user-facing error naming where the problem is (file, field or node)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        node: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.field = field
        self.node = node
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.field:
            where.append(f"field '{self.field}'")
        if self.node:
            where.append(f"node '{self.node}'")
        prefix = ": ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return " ".join(text.split())  # guarantee a single line


def did_you_mean(name: str, known: Iterable[str], n: int = 3) -> str:
    """'; did you mean 'x'?' naming the closest of ``known`` to ``name``, case-insensitively (an id typed in the
    wrong case is suggested as is); '' when nothing is close."""
    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(k.lower(), k)
    exact = by_lower.get(name.lower())
    close = [name.lower()] if exact is not None else \
        difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{by_lower[c]}'" for c in close) + "?"


class ModelError(EdgesimError):
    """A model file is missing, corrupt, or uses something edgesim cannot import."""


class UnsupportedOpError(ModelError):
    """The model uses operator types edgesim does not know."""


class ShapeError(EdgesimError):
    """Tensor shapes do not agree."""


class ProfileError(EdgesimError):
    """A hardware or runtime profile is unknown, malformed or invalid."""


class MappingError(EdgesimError):
    """An op cannot be placed or tiled on the hardware."""
