"""Uncertain profile numbers: a field may carry a range or a relative uncertainty, with its source or reason.

In a profile YAML any number may be written as

    read_bw_bytes_per_cycle: {value: 8, range: [6, 9], source: "datasheet, sustained copy"}
    static_power_mw: {value: 12, rel: 0.3, reason: "scaled from the sister part"}
    clock_mhz: {value: 400, source: "vendor announcement"}            # sourced, exact
    kernel_efficiency_scale: {value: 1.2, derived: true, reason: ...}  # derived, no range: DERIVED_DEFAULT_REL

The loader replaces each such mapping by its nominal ``value`` before validation, so the validated profile holds
exactly the numbers a plain profile would (every estimate unchanged), and keeps the list of uncertain fields
beside it (``uncertain_fields``). The cost model never sees ranges; ``edgesim.pipeline.intervals`` perturbs
profiles field by field (``with_field``) to propagate them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edgesim.errors import ProfileError

_KEYS = frozenset({"value", "range", "rel", "source", "reason", "derived"})
# A field marked derived (estimated from a template or a scaling rule) with no range of its own: +/-25%, about the
# spread of one parameter between sister parts of a family (e.g. SRAM bandwidth per cycle across Cortex-M parts in
# hw_profiles/). Stated here once; `edgesim profile check` lists every field that falls back to it.
DERIVED_DEFAULT_REL = 0.25

_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class UncertainField:
    """One profile number with its plausible range: ``path`` is the dotted YAML path (list items by index)."""

    path: str
    value: float
    lo: float
    hi: float
    source: str  # the source or reason given ('' when none)
    derived: bool = False
    default_range: bool = False  # derived without a range: DERIVED_DEFAULT_REL was applied

    @property
    def exact(self) -> bool:
        return self.lo == self.hi

    @property
    def rel_half_width(self) -> float:
        """Half the range over the value (0 for an exact number)."""
        return (self.hi - self.lo) / (2 * abs(self.value)) if self.value else 0.0


def _is_uncertain(node: Any) -> bool:
    return isinstance(node, Mapping) and "value" in node and set(node) <= _KEYS


def _number(x: Any, file: str, field: str, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(float(x)):
        raise ProfileError(f"{what} must be a finite number, got {x!r}", file=file, field=field)
    return float(x)


def _parse(node: Mapping[str, Any], file: str, path: str) -> UncertainField:
    value = _number(node["value"], file, path, "value")
    source = str(node.get("source") or node.get("reason") or "")
    derived = bool(node.get("derived", False))
    if "range" in node and "rel" in node:
        raise ProfileError("give either range or rel, not both", file=file, field=path)
    default_range = False
    if "range" in node:
        rng = node["range"]
        if not isinstance(rng, list | tuple) or len(rng) != 2:
            raise ProfileError(f"range must be [lo, hi], got {rng!r}", file=file, field=path)
        lo, hi = (_number(x, file, path, "range") for x in rng)
        if lo > hi:
            raise ProfileError(f"range [{lo:g}, {hi:g}] has lo > hi", file=file, field=path)
        if not lo <= value <= hi:
            raise ProfileError(f"range [{lo:g}, {hi:g}] does not contain the value {value:g}", file=file,
                               field=path)
    elif "rel" in node:
        rel = _number(node["rel"], file, path, "rel")
        if not 0 <= rel < 1:
            raise ProfileError(f"rel must be in [0, 1), got {rel:g}", file=file, field=path)
        lo, hi = value * (1 - rel), value * (1 + rel)
        lo, hi = min(lo, hi), max(lo, hi)
    elif derived:
        lo, hi = value * (1 - DERIVED_DEFAULT_REL), value * (1 + DERIVED_DEFAULT_REL)
        lo, hi = min(lo, hi), max(lo, hi)
        default_range = True
    else:
        lo = hi = value
    if not source.strip():
        # The mapping form exists to carry where a number comes from (the profile rule: a source for every number).
        raise ProfileError("an uncertain number {value, ...} must name its source or reason", file=file, field=path)
    return UncertainField(path, value, lo, hi, source, derived, default_range)


def split_uncertain(data: Any, file: str, prefix: str = "") -> tuple[Any, tuple[UncertainField, ...]]:
    """``data`` with every uncertain-number mapping replaced by its value (ints stay ints), and the fields found."""
    found: list[UncertainField] = []

    def walk(node: Any, path: str) -> Any:
        if _is_uncertain(node):
            f = _parse(node, file, path)
            found.append(f)
            raw = node["value"]
            return raw if isinstance(raw, int) and not isinstance(raw, bool) else f.value
        if isinstance(node, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(node)]
        return node

    return walk(data, prefix), tuple(found)


def attach(obj: _M, fields: tuple[UncertainField, ...]) -> _M:
    """Record ``fields`` on a validated profile (a private attribute: copies keep it, equality ignores none)."""
    obj._uncertain = fields  # type: ignore[attr-defined]
    return obj


def uncertain_fields(obj: BaseModel) -> tuple[UncertainField, ...]:
    """Every field the profile's YAML wrote as an uncertain number (exact sourced numbers included)."""
    return tuple(getattr(obj, "_uncertain", ()) or ())


def ranged_fields(obj: BaseModel) -> tuple[UncertainField, ...]:
    """The uncertain fields with a non-zero range: the ones that widen an interval."""
    return tuple(f for f in uncertain_fields(obj) if not f.exact)


def _set(tree: Any, parts: list[str], value: float) -> None:
    node = tree
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        old = node[int(last)]
        node[int(last)] = type(old)(round(value)) if isinstance(old, int) else value
        return
    old = node[last]
    node[last] = max(1, round(value)) if isinstance(old, int) and not isinstance(old, bool) else value


def with_field(obj: _M, path: str, value: float) -> _M:
    """A copy of a profile with the number at ``path`` set to ``value`` (validated again; uncertain fields kept)."""
    tree = obj.model_dump()
    try:
        _set(tree, path.split("."), value)
    except (KeyError, IndexError, ValueError, TypeError):
        raise ProfileError(f"no number at '{path}'", field=path) from None
    try:
        new = type(obj).model_validate(tree)
    except ValidationError as exc:
        raise ProfileError(f"setting {path} = {value:g} makes the profile invalid: "
                           f"{exc.errors()[0]['msg']}", field=path) from None
    return attach(new, uncertain_fields(obj))


def display_path(obj: BaseModel, path: str) -> str:
    """``units.0.macs_per_cycle.int8`` as ``units[npu].macs_per_cycle.int8``: list items by their name."""
    node: Any = obj
    out: list[str] = []
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)]
            name = getattr(node, "name", None)
            out[-1] = f"{out[-1]}[{name if name is not None else part}]"
            continue
        out.append(part)
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return ".".join(out)
