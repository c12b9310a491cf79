"""Every shared MLPerf Tiny model and every zoo model simulates on every bundled profile (event engine and
analytic path), with finite, positive results that agree within a bound."""

from __future__ import annotations

import math

import pytest

from edgesim import zoo
from edgesim.api import load_model, load_profile, resolve_runtime
from edgesim.cost.analytic import estimate_schedule
from edgesim.errors import MappingError
from edgesim.hw.loader import list_profiles
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.sim import simulate_schedule, to_estimate
from edgesim.zoo.published import PUBLISHED
from tests.conftest import MODELS, SHARED_MODELS

PROFILE_IDS = [pid for pid, _ in list_profiles()]


# The issue-17 vendor networks (up to 110 M parameters and 27 GMACs) join at reduced inputs, one per family;
# tests/unit/test_zoo_networks.py covers all of them at their published sizes.
SMALL_VENDOR = {"yolov8n": (1, 3, 128, 128), "yolo11n": (1, 3, 128, 128), "ssd_mobilenet_v2": (1, 3, 96, 96),
                "efficientdet_d0": (1, 3, 128, 128), "deeplabv3plus_mobilenet": (1, 3, 65, 65),
                "inception_v1": (1, 3, 96, 96), "mobilebert": (1, 16)}
CLASSIC = [n for n in zoo.names() if n not in PUBLISHED]


@pytest.fixture(scope="module")
def graphs() -> dict[str, Graph]:
    out = {name: load_model(name) for name in CLASSIC}
    out.update({name: load_model(name, input_shape=shape) for name, shape in SMALL_VENDOR.items()})
    if MODELS.is_dir():
        for f in SHARED_MODELS:
            out[f] = load_model(MODELS / f)
    return out


def test_bundled_profiles_include_the_starting_four() -> None:
    assert {"stm32l4r5", "ethos-u55-128", "coral-edgetpu", "rpi5"} <= set(PROFILE_IDS)


@pytest.mark.parametrize("pid", PROFILE_IDS)
def test_every_model_simulates(pid: str, graphs: dict[str, Graph]) -> None:
    if MODELS.is_dir():
        assert len(graphs) == len(CLASSIC) + len(SMALL_VENDOR) + len(SHARED_MODELS)
    prof = load_profile(pid)
    rt, ver = resolve_runtime(prof, None)
    ran = 0
    for name, g in graphs.items():
        try:
            sched = build_schedule(g, prof, rt, ver)
        except MappingError as exc:
            # A toolchain without CPU fallback (ai8x on MAX78000) refuses what its engine cannot run, naming the
            # device and runtime; runtimes with a fallback must place everything.
            assert rt is not None and not rt.host_fallback, (pid, name, exc)
            assert f"device {pid}, runtime {rt.id}" in str(exc)
            continue
        ran += 1
        ev = to_estimate(sched, prof, simulate_schedule(sched, prof))
        an = estimate_schedule(sched, prof)
        for est in (ev, an):
            assert est.latency_s > 0 and math.isfinite(est.latency_s), (pid, name)
            assert est.energy_j > 0 and math.isfinite(est.energy_j), (pid, name)
            assert all(layer.cycles >= 0 for layer in est.layers)
        # the event engine only adds contention and pipeline fill/drain to the analytic overlap rule,
        # and concurrency between units can only shorten the makespan
        assert 0.5 < ev.latency_s / an.latency_s < 1.5, (pid, name, ev.latency_s, an.latency_s)
    assert ran > 0, pid
