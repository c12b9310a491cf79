"""The ordered list of passes. Each is a pure Graph -> Graph function; verify_graph runs after every one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from edgesim.ir.graph import Graph
from edgesim.ir.verify import verify_graph
from edgesim.passes.cleanup import drop_identities

Pass = Callable[[Graph], Graph]

CANONICALIZE: tuple[Pass, ...] = (drop_identities,)


def run_pipeline(graph: Graph, passes: Sequence[Pass] = CANONICALIZE) -> Graph:
    for p in passes:
        graph = verify_graph(p(graph))
    return graph
