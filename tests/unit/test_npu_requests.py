"""Queued inference requests on the Intel NPU (issue #17): OpenVINO's NPU compiler builds a THROUGHPUT request
for 2 NCE tiles, so Meteor Lake (2 tiles) runs one request at a time and Lunar Lake (6 tiles) three; a stream's
frames then overlap only as far as the requests in flight allow."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgesim.api import load_profile
from edgesim.hw.loader import load_runtime
from edgesim.ir import attrs as A
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.mapper import build_schedule, requests_in_flight
from edgesim.mapping.plan import Schedule
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.passes.pipeline import run_pipeline
from edgesim.sim.engine import simulate_schedule
from edgesim.sim.stream import schedule_period_s
from edgesim.zoo.builder import GraphBuilder


@pytest.fixture(scope="module")
def post_net() -> Graph:
    """Convs on the NCEs, then a SHAVE tail (Sigmoid, Softmax) about as long: a detector's post-processing."""
    b = GraphBuilder("post_net")
    y = b.input("x", (1, 64, 64, 64))
    for ch in (256, 256, 16):
        y = b.conv_bn_act(y, ch, 3, act="relu")
    y = b.one(OpKind.SIGMOID, [y], A.NoAttrs())
    y = b.one(OpKind.SOFTMAX, [y], A.SoftmaxAttrs(axis=1))
    g = run_pipeline(b.build([y]), [fuse_operators])
    return optimize(g, options_from_cli(quant="int8", compress="none", graph=g))


@pytest.mark.parametrize(("pid", "expected"), [("core-ultra-7-155h", 1), ("core-ultra-7-165h", 1),
                                               ("core-ultra-9-288v", 3)])
def test_requests_in_flight_are_the_nce_tiles_over_a_requests_tiles(pid: str, expected: int) -> None:
    rt, _ = load_runtime("openvino-npu", note_missing_version=False)
    assert rt.request_cores == 2
    assert requests_in_flight(load_profile(pid), rt) == expected
    # A runtime without the limit (the CPU plugin's streams) leaves the stream unbounded.
    cpu, _ = load_runtime("openvino-cpu", note_missing_version=False)
    assert requests_in_flight(load_profile(pid), cpu) is None


def _schedule(graph: Graph, pid: str, limited: bool) -> Schedule:
    rt, ver = load_runtime("openvino-npu", note_missing_version=False)
    if not limited:
        rt = rt.model_copy(update={"request_cores": None})
    return build_schedule(graph, load_profile(pid), rt, ver)


def test_meteor_lake_stream_does_not_overlap_post_processing_with_the_next_frame(post_net: Graph) -> None:
    prof = load_profile("core-ultra-7-165h")
    serial = _schedule(post_net, prof.id, limited=True)
    units = {p.op: p.unit for p in serial.plans if p.unit != "-"}
    assert units["CONV2D"] == "npu" and units["SOFTMAX"] == "shave"
    device_s = simulate_schedule(serial, prof, frames=1).makespan_s
    # One request at a time: a frame takes the whole device time of one inference.
    assert schedule_period_s(serial, prof, (2, 4)) == pytest.approx(device_s, rel=1e-3)
    # Without the limit the next frame's conv runs beside this frame's SHAVE tail (the old, faster stream).
    free = _schedule(post_net, prof.id, limited=False)
    assert free.requests_in_flight is None
    assert schedule_period_s(free, prof, (2, 4)) < 0.9 * device_s


def test_lunar_lake_overlaps_three_requests(post_net: Graph) -> None:
    prof = load_profile("core-ultra-9-288v")
    sched = _schedule(post_net, prof.id, limited=True)
    assert sched.requests_in_flight == 3
    one = replace(sched, requests_in_flight=1)
    assert schedule_period_s(sched, prof, (4, 12)) < 0.9 * schedule_period_s(one, prof, (4, 12))


def test_frame_gate_waits_for_the_frame_in_flight_before(post_net: Graph) -> None:
    from edgesim.sim.engine import _frame_plans

    plans = [p for p in _schedule(post_net, "core-ultra-7-165h", limited=True).plans if p.unit != "-"]
    names = {p.node for p in plans}
    sources = [p for p in plans if not names.intersection(p.depends_on)]
    sinks = [p.node for p in plans if not any(p.node in q.depends_on for q in plans)]
    gated = {p.node: p for p in _frame_plans(plans, 3, in_flight=1)}
    for src in sources:
        assert set(gated[f"{src.node}#1"].depends_on) >= set(sinks)
        assert set(gated[f"{src.node}#2"].depends_on) >= {f"{s}#1" for s in sinks}
    ungated = {p.node: p for p in _frame_plans(plans, 3)}
    for src in sources:
        assert not set(ungated[f"{src.node}#1"].depends_on) & set(sinks)
