"""The table of declared unmodelled costs docs/intervals.md quotes ("Known unmodelled costs"), generated from the
bundled runtime profiles' ``unmodelled`` lists (``python docs/intervals_tables.py`` rewrites it; never typed)."""

from __future__ import annotations

from edgesim.hw.schema import RuntimeProfile
from edgesim.hw.schema_runtime import GapBasis, OpsPresent


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def gaps_markdown(runtimes: list[RuntimeProfile]) -> str:
    """One row per declaration: runtime:id, where it applies, its trigger, direction and scope, what and source."""
    out = ["| gap | applies to | trigger | direction | what | source |", "|---|---|---|---|---|---|"]
    for rt in sorted(runtimes, key=lambda r: r.id):
        for c in rt.unmodelled:
            where = ", ".join(c.chips) or f"every chip {rt.id} targets"
            if c.versions:
                where += f" ({rt.id} {', '.join(c.versions)})"
            trigger = c.trigger if not isinstance(c.trigger, OpsPresent) else "op " + " or ".join(c.trigger.ops)
            direction = f"{c.direction.value}, {'a stream period' if c.scope.value == 'stream' else 'each inference'}"
            what = c.what + (" (a public measurement, no mechanism found)" if c.basis is GapBasis.MEASUREMENT else "")
            if c.magnitude:
                what += f"; {c.magnitude}"
            out.append(f"| `{rt.id}:{c.id}` | {_cell(where)} | {trigger} | {direction} | {_cell(what)} | "
                       f"{_cell(c.source)} |")
    return "\n".join(out)


def bundled_gaps_markdown() -> str:
    """``gaps_markdown`` over every bundled runtime profile."""
    from edgesim.hw.loader import list_runtimes, load_runtime

    return gaps_markdown([load_runtime(rid, quiet=True)[0] for rid, _ in list_runtimes()])
