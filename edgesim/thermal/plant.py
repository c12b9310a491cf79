"""The device's thermal side on the slow clock: RC network, fan steps and trip points, stepped window by window.

Shared by every sustained-run policy (single cluster, big.LITTLE) so the physics lives in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile
from edgesim.thermal.governor import FanController, ThermalThrottle
from edgesim.thermal.rc import RCLink, ThermalNetwork

# The widest rated ambient range of electronic parts: MIL-STD-883 -55 C to AEC-Q100 grade 0's 150 C.
AMBIENT_RANGE_C = (-55.0, 150.0)


def with_ambient(profile: HardwareProfile, ambient_c: float | None) -> Any:
    """The profile with its thermal ambient replaced (None keeps the profile's own)."""
    if ambient_c is None:
        return profile
    # 'not a < x < b' also refuses nan
    if not -273.15 < ambient_c < 1000.0:
        raise EdgesimError(f"--ambient must be a temperature in C above absolute zero, got {ambient_c}")
    if not AMBIENT_RANGE_C[0] <= ambient_c <= AMBIENT_RANGE_C[1]:
        # A 500 C "ambient" heats the die to 500 C and answers with a throttled run: no board is rated for that.
        raise EdgesimError(f"--ambient {ambient_c:g} C is outside the {AMBIENT_RANGE_C[0]:g}..{AMBIENT_RANGE_C[1]:g} C "
                           "electronics are rated for (MIL-STD -55 C, AEC-Q100 grade 0 150 C)", field="ambient")
    return profile.model_copy(update={"thermal": profile.thermal.model_copy(update={"ambient_c": ambient_c})})


def thermal_network(profile: HardwareProfile) -> tuple[ThermalNetwork, int | None]:
    """The profile's RC network and the index of the link the fan acts on (None without a fan)."""
    th = profile.thermal
    links = [RCLink(link.a, link.b, link.resistance_k_per_w) for link in th.links]
    net = ThermalNetwork([(n.name, n.capacitance_j_per_k) for n in th.nodes], links, th.ambient_c)
    fan_idx = None
    if th.fan_link:
        names = [f"{link.a}-{link.b}" for link in th.links]
        if th.fan_link not in names:
            raise EdgesimError(f"fan_link '{th.fan_link}' is not one of the links {names}", field="thermal.fan_link")
        fan_idx = names.index(th.fan_link)
    return net, fan_idx


class ThermalPlant:
    """Temperatures, fan level and throttle state of one device; ``step`` applies a window of constant power."""

    def __init__(self, profile: HardwareProfile) -> None:
        th = profile.thermal
        self._base, self._fan_idx = thermal_network(profile)
        self._nets: dict[int, ThermalNetwork] = {-1: self._base}
        self._fan = FanController(th.fan_curve, th.fan_hysteresis_c)
        self._throttle = ThermalThrottle(th.trip_points)
        self._trip = self._throttle.initial()
        self._power_node = self._base.index[th.power_node]
        self._sensor = self._base.index[th.sensor_node]
        self._fan_level = -1
        self.temps = self._base.initial()

    @property
    def power_node_temp_c(self) -> float:
        return float(self.temps[self._power_node])

    @property
    def sensor_temp_c(self) -> float:
        return float(self.temps[self._sensor])

    @property
    def cap_mhz(self) -> float | None:
        """The clock cap the engaged trip points impose (None = unthrottled)."""
        return self._throttle.cap_mhz(self._trip)

    @property
    def fan_pct(self) -> float:
        return self._fan.speed_pct(self._fan_level)

    def _network(self) -> ThermalNetwork:
        net = self._nets.get(self._fan_level)
        if net is None:
            assert self._fan_idx is not None
            net = self._base.with_resistance_scale(self._fan_idx, self._fan.resistance_scale(self._fan_level))
            self._nets[self._fan_level] = net
        return net

    def step(self, power_w: float, dt_s: float) -> float:
        """Hold ``power_w`` (into the profile's power node) for ``dt_s``; update fan and trips; sensor temperature."""
        net = self._network()
        p_vec = np.zeros(len(net.names))
        p_vec[self._power_node] = power_w
        self.temps = net.step(self.temps, p_vec, dt_s)
        t_sensor = self.sensor_temp_c
        self._trip = self._throttle.update(self._trip, t_sensor)
        if self._fan_idx is not None:
            self._fan_level = self._fan.update(self._fan_level, t_sensor)
        return t_sensor
