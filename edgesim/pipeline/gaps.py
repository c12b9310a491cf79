"""Known unmodelled costs (``RuntimeProfile.unmodelled``) that apply to a run: which, and the one line every door
prints for each.

A runtime profile declares the costs a public source documents (or a public measurement shows) that the model
leaves out because no number for them is published. A declaration applies to a run when the chip matches its
``chips`` patterns, the runtime release its ``versions``, and its trigger holds: ``always``; ``multi_thread``, the
run's host CPU runs more than one thread; or one of its op kinds (kernel keys: REGION_YOLO, CONV2D_1X1 too) is in
the graph as costed. The driver attaches the matches to the
``RunResult`` (``RunResult.gaps``); ``RunResult.warnings`` prints their lines, the JSON doors carry
``gap_dicts``, and the interval opens the side the gap leaves unbounded (``intervals.open_sides``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from edgesim.hw.schema import RuntimeProfile, RuntimeVersion
from edgesim.hw.schema_runtime import GapBasis, GapDirection, GapScope, OpsPresent, UnmodelledCost
from edgesim.ir.graph import Graph
from edgesim.mapping.compute import kernel_key
from edgesim.mapping.plan import Schedule


@dataclass(frozen=True)
class KnownGap:
    """One declared unmodelled cost of ``runtime`` that applies to a run."""

    runtime: str
    cost: UnmodelledCost
    # the point is scaled by this device's own vendor rows of this network (RunResult.device_scale), which were
    # measured with the cost in them: said, but no side is opened (``intervals.open_sides``); None = not absorbed
    absorbed_by: str | None = None

    @property
    def optimistic(self) -> bool:
        return self.cost.direction is GapDirection.OPTIMISTIC

    def line(self) -> str:
        """'not modelled: <what> (<source>); this latency is likely optimistic': the one line every door prints."""
        c = self.cost
        basis = "a public measurement, no mechanism found: " if c.basis is GapBasis.MEASUREMENT else ""
        size = f"; {c.magnitude}" if c.magnitude else ""
        what = c.what.rstrip(".")
        figure = "this latency" if c.scope is GapScope.INFERENCE else "a stream's throughput"
        verdict = (f"{figure} is likely {c.direction.value}" if self.absorbed_by is None else
                   f"the point is {self.absorbed_by}, measured with it")
        return f"not modelled: {what} ({basis}{c.source}{size}); {verdict} [{self.runtime}:{c.id}]"

    def as_dict(self) -> dict[str, object]:
        c = self.cost
        return {"id": c.id, "runtime": self.runtime, "what": c.what, "direction": c.direction.value,
                "scope": c.scope.value, "basis": c.basis.value, "magnitude": c.magnitude, "source": c.source,
                "absorbed_by": self.absorbed_by, "line": self.line()}


def applies(cost: UnmodelledCost, chip: str, version: str | None, kernel_keys: frozenset[str] | None,
            threads: int | None = None) -> bool:
    """Whether ``cost`` applies on profile ``chip`` at runtime release ``version`` (None: unknown, not filtered)
    to a graph with these op kinds and kernel keys, run on ``threads`` host CPU threads (None: unknown, an op or
    thread trigger does not hold)."""
    if cost.chips and not any(fnmatch.fnmatchcase(chip, pattern) for pattern in cost.chips):
        return False
    if cost.versions and version is not None and version not in cost.versions:
        return False
    if isinstance(cost.trigger, OpsPresent):
        return kernel_keys is not None and any(op in kernel_keys for op in cost.trigger.ops)
    if cost.trigger == "multi_thread":
        return threads is not None and threads > 1
    return True


def graph_kernel_keys(graph: Graph, schedule: Schedule | None = None) -> frozenset[str]:
    """Op kinds and kernel keys of the ops ``schedule`` costs (every node of ``graph`` without one)."""
    costed = None if schedule is None else {p.node for p in schedule.plans}
    keys: set[str] = set()
    for node in graph.nodes:
        if costed is None or node.name in costed:
            keys.update((node.op.value, kernel_key(node)))
    return frozenset(keys)


def matching_gaps(runtime: RuntimeProfile | None, version: RuntimeVersion | None, chip: str,
                  kernel_keys: frozenset[str] | None, threads: int | None = None,
                  absorbed_by: str | None = None) -> tuple[KnownGap, ...]:
    """The runtime's declarations that apply (none without a runtime: peak hardware says so already);
    ``threads``: the host CPU threads of the run (the bound profile's host unit count); ``absorbed_by``: the note
    of a device calibration on this network's own rows, whose measurements hold the cost."""
    if runtime is None:
        return ()
    name = version.version if version is not None else None
    return tuple(KnownGap(runtime.id, c, absorbed_by) for c in runtime.unmodelled
                 if applies(c, chip, name, kernel_keys, threads))


def any_open(gaps: Iterable[KnownGap], scopes: tuple[GapScope, ...], direction: GapDirection) -> bool:
    """A gap of ``direction`` whose scope is one of ``scopes`` is among ``gaps`` (not absorbed by the point's own
    device calibration)."""
    return any(g.cost.direction is direction and g.cost.scope in scopes and g.absorbed_by is None for g in gaps)


def gap_dicts(gaps: Iterable[KnownGap]) -> list[dict[str, object]]:
    """The JSON doors' ``unmodelled`` entry."""
    return [g.as_dict() for g in gaps]


__all__ = ["KnownGap", "any_open", "applies", "gap_dicts", "graph_kernel_keys", "matching_gaps"]
