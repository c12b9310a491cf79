"""Tracer hook and the Chrome trace-event writer (Perfetto / chrome://tracing open the JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edgesim.files import atomic_write_text


class Tracer(Protocol):
    def interval(self, unit: str, start_s: float, end_s: float, what: str) -> None: ...



@dataclass(frozen=True)
class TraceEvent:
    unit: str  # a compute unit, or "mem:<level>" for a memory port
    start_s: float
    end_s: float
    what: str


class TraceRecorder:
    """A Tracer that keeps every interval, in the order the engine reports them."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def interval(self, unit: str, start_s: float, end_s: float, what: str) -> None:
        self.events.append(TraceEvent(unit, start_s, end_s, what))


def utilisation(events: Sequence[TraceEvent], makespan_s: float) -> dict[str, float]:
    """Busy fraction of each unit/port over the makespan (overlapping intervals of one unit are merged)."""
    by_unit: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        by_unit.setdefault(e.unit, []).append((e.start_s, e.end_s))
    out: dict[str, float] = {}
    for unit, spans in sorted(by_unit.items()):
        ordered = sorted(spans)
        busy = 0.0
        cur_s, cur_e = ordered[0]
        for span_s, span_e in ordered[1:]:
            if span_s > cur_e:
                busy += cur_e - cur_s
                cur_s, cur_e = span_s, span_e
            else:
                cur_e = max(cur_e, span_e)
        busy += cur_e - cur_s
        out[unit] = busy / makespan_s if makespan_s > 0 else 0.0
    return out


def chrome_trace(events: Sequence[TraceEvent]) -> dict[str, object]:
    """Trace-event JSON: one complete ("X") event per interval, one thread row per unit, times in us."""
    tids: dict[str, int] = {}
    for e in events:
        tids.setdefault(e.unit, len(tids) + 1)
    out: list[dict[str, object]] = [
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": unit}} for unit, tid in tids.items()
    ]
    for e in events:
        out.append({"name": e.what, "cat": "mem" if e.unit.startswith("mem:") else "compute", "ph": "X",
                    "ts": round(e.start_s * 1e6, 6), "dur": round((e.end_s - e.start_s) * 1e6, 6),
                    "pid": 1, "tid": tids[e.unit]})
    return {"traceEvents": out, "displayTimeUnit": "ns"}


def write_chrome_trace(events: Sequence[TraceEvent], path: str | Path) -> None:
    """Write atomically: a reader never sees a half-written file."""
    atomic_write_text(path, json.dumps(chrome_trace(events), separators=(",", ":")))
