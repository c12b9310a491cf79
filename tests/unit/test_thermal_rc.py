"""The RC solver against closed-form answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.errors import ProfileError
from edgesim.thermal.rc import RCLink, ThermalNetwork


def test_one_node_step_response_matches_analytic_to_0_01_c() -> None:
    c, r, p, amb = 12.0, 8.0, 3.5, 22.0
    net = ThermalNetwork([("die", c)], [RCLink("die", "ambient", r)], amb)
    t = net.initial()
    for k in range(1, 601):
        t = net.step(t, net.power_vector(p, "die"), 1.0)
        exact = amb + p * r * (1 - math.exp(-k / (r * c)))
        assert abs(t[0] - exact) < 0.01
    # one long step lands on the same curve (exact integration, any step size)
    t_long = net.step(net.initial(), net.power_vector(p, "die"), 600.0)
    assert abs(t_long[0] - (amb + p * r * (1 - math.exp(-600 / (r * c))))) < 1e-9


def test_two_node_steady_state_is_series_resistance() -> None:
    net = ThermalNetwork([("die", 0.5), ("board", 30.0)],
                         [RCLink("die", "board", 2.0), RCLink("board", "ambient", 10.0)], 25.0)
    p = net.power_vector({"die": 4.0})
    ss = net.steady_state(p)
    assert ss[0] == pytest.approx(25 + 4 * 12)
    assert ss[1] == pytest.approx(25 + 4 * 10)
    far = net.step(net.initial(), p, 1e6)
    assert np.allclose(far, ss)


@settings(max_examples=60, deadline=None)
@given(
    caps=st.lists(st.floats(0.01, 100), min_size=1, max_size=4),
    res=st.floats(0.1, 50),
    power=st.floats(0, 20),
    dt=st.floats(1e-4, 1e5),
)
def test_temperatures_stay_between_ambient_and_steady_state(caps: list[float], res: float, power: float,
                                                            dt: float) -> None:
    names = [f"n{i}" for i in range(len(caps))]
    links = [RCLink(names[i], names[i + 1], res) for i in range(len(names) - 1)]
    links.append(RCLink(names[-1], "ambient", res))
    net = ThermalNetwork(list(zip(names, caps, strict=True)), links, 20.0)
    p = net.power_vector(power, names[0])
    ss = net.steady_state(p)
    t = net.initial()
    for _ in range(5):
        t = net.step(t, p, dt)
        assert np.all(t >= 20.0 - 1e-9)
        assert np.all(t <= ss.max() + 1e-6)


def test_isolated_node_is_rejected() -> None:
    with pytest.raises(ProfileError, match="path to ambient"):
        ThermalNetwork([("a", 1.0), ("b", 1.0)], [RCLink("a", "ambient", 1.0)], 20.0)
