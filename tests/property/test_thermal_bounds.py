"""Temperatures stay between ambient and the steady state for the power applied, for every bundled thermal
network and for sustained runs; the exact integrator never overshoots whatever the step size."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesim.hw.loader import _ids, profiles_dir
from edgesim.thermal.plant import thermal_network as _network
from tests.fuzz._util import budget
from tests.property._common import model, profile

SETTINGS = settings(max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALL_PROFILES = _ids(profiles_dir())
TOL_C = 1e-7


@SETTINGS
@given(
    pid=st.sampled_from(ALL_PROFILES),
    data=st.data(),
    steps=st.lists(st.floats(1e-6, 1e5), min_size=1, max_size=20),
)
def test_heating_stays_between_ambient_and_steady_state(
    pid: str, data: st.DataObject, steps: list[float]
) -> None:
    net, _ = _network(profile(pid))
    n = len(net.names)
    power = np.array(data.draw(st.lists(st.floats(0.0, 50.0), min_size=n, max_size=n)))
    ss = net.steady_state(power)
    assert np.all(ss >= net.ambient_c - TOL_C)
    temps = net.initial()
    prev = temps
    for dt in steps:
        temps = net.step(temps, power, dt)
        # Heating from ambient under constant non-negative power is monotone and bounded by the steady state.
        assert np.all(temps >= net.ambient_c - TOL_C), (pid, temps)
        assert np.all(temps <= ss + TOL_C * (1 + np.abs(ss))), (pid, temps, ss)
        assert np.all(temps >= prev - TOL_C * (1 + np.abs(prev))), (pid, prev, temps)
        prev = temps


@SETTINGS
@given(pid=st.sampled_from(ALL_PROFILES), data=st.data(), dt=st.floats(1e-3, 1e4))
def test_cooling_never_undershoots_ambient(pid: str, data: st.DataObject, dt: float) -> None:
    net, _ = _network(profile(pid))
    n = len(net.names)
    hot = net.ambient_c + np.array(data.draw(st.lists(st.floats(0.0, 80.0), min_size=n, max_size=n)))
    cooled = net.step(hot, np.zeros(n), dt)
    assert np.all(cooled >= net.ambient_c - TOL_C)
    assert cooled.max() <= hot.max() + TOL_C


@settings(max_examples=budget(8), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pid=st.sampled_from(("stm32l4r5", "rpi5", "coral-edgetpu", "jetson-orin-nano")),
    ambient=st.floats(-20.0, 45.0),
    rate=st.none() | st.floats(0.5, 50.0),
)
def test_sustained_run_temperatures_bounded(pid: str, ambient: float, rate: float | None) -> None:
    from edgesim.thermal.sustain import sustain
    from tests._helpers import base_run

    prof = profile(pid)
    res = sustain(
        base_run(model("zoo:resnet8:16"), prof),
        duration_s=60.0,
        rate_hz=rate,
        ambient_c=ambient,
        window_s=1.0,
    )
    net, _ = _network(
        prof.model_copy(update={"thermal": prof.thermal.model_copy(update={"ambient_c": ambient})})
    )
    # Upper bound: every node at the steady state of the highest power the run ever drew, all on the power
    # node.
    peak_w = max(res.average_power_w, res.energy_per_inference_j / max(res.mean_latency_s, 1e-30))
    peak_w += prof.power.static_power_w + prof.power.idle_power_mw * 1e-3
    ss = net.steady_state(net.power_vector(peak_w * 4.0, prof.thermal.power_node))
    assert ambient - TOL_C <= res.final_temp_c <= res.max_temp_c + TOL_C
    assert res.max_temp_c <= ss.max() + 1e-6, (pid, res.max_temp_c, ss.max())
