"""DVFS operating points and the thermal RC network of a hardware profile (the parts the thermal simulator
reads), with their cross-field checks: sorted points, a network that can shed heat to ambient."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from edgesim.hw.schema_base import Frozen as _Frozen

AMBIENT = "ambient"


class OperatingPoint(_Frozen):
    freq_mhz: float = Field(gt=0)
    voltage_v: float = Field(gt=0)


class DvfsSpec(_Frozen):
    nominal_voltage_v: float = Field(gt=0)
    operating_points: list[OperatingPoint] = Field(min_length=1)
    default_freq_mhz: float = Field(gt=0)

    @field_validator("operating_points")
    @classmethod
    def _sorted(cls, v: list[OperatingPoint]) -> list[OperatingPoint]:
        freqs = [p.freq_mhz for p in v]
        if any(b <= a for a, b in zip(freqs, freqs[1:], strict=False)):
            raise ValueError(f"operating points must be sorted by strictly ascending freq_mhz, got {freqs}")
        return v


class ThermalNode(_Frozen):
    name: str = Field(min_length=1)
    capacitance_j_per_k: float = Field(gt=0)


class ThermalLink(_Frozen):
    a: str
    b: str  # may be "ambient"
    resistance_k_per_w: float = Field(gt=0)

    @property
    def name(self) -> str:
        """How fan_link refers to this link: 'a-b'."""
        return f"{self.a}-{self.b}"


class TripPoint(_Frozen):
    temp_c: float
    max_freq_mhz: float = Field(gt=0)
    hysteresis_c: float = Field(ge=0)


class FanStep(_Frozen):
    temp_c: float
    speed_pct: float = Field(ge=0, le=100)
    # Multiplies the fan link's resistance: forced air lowers heatsink-to-air resistance.
    resistance_scale: float = Field(gt=0, le=1)


class ThermalSpec(_Frozen):
    ambient_c: float
    nodes: list[ThermalNode] = Field(min_length=1)
    links: list[ThermalLink] = Field(min_length=1)
    power_node: str
    sensor_node: str
    trip_points: list[TripPoint] = Field(default_factory=list)
    fan_curve: list[FanStep] = Field(default_factory=list)
    fan_link: str | None = None  # 'a-b' of the link the fan cools
    fan_hysteresis_c: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _network_consistent(self) -> ThermalSpec:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"thermal node names must be unique, got {names}")
        if AMBIENT in names:
            raise ValueError("'ambient' is reserved and cannot be a node name")
        known = set(names)
        for i, link in enumerate(self.links):
            for end in (link.a, link.b):
                if end != AMBIENT and end not in known:
                    raise ValueError(f"links.{i} names unknown node '{end}'; nodes: {names}")
        for label, node in (("power_node", self.power_node), ("sensor_node", self.sensor_node)):
            if node not in known:
                raise ValueError(f"{label} '{node}' is not a thermal node; nodes: {names}")
        # Without a path to ambient a node's temperature grows without bound under any power.
        adj: dict[str, set[str]] = {n: set() for n in [*names, AMBIENT]}
        for link in self.links:
            adj[link.a].add(link.b)
            adj[link.b].add(link.a)
        seen, stack = {AMBIENT}, [AMBIENT]
        while stack:
            for nxt in adj[stack.pop()] - seen:
                seen.add(nxt)
                stack.append(nxt)
        isolated = [n for n in names if n not in seen]
        if isolated:
            raise ValueError(f"thermal nodes {isolated} have no path to ambient")
        trip_t = [t.temp_c for t in self.trip_points]
        if trip_t != sorted(trip_t):
            raise ValueError(f"trip_points must be sorted by ascending temp_c, got {trip_t}")
        fan_t = [s.temp_c for s in self.fan_curve]
        if fan_t != sorted(fan_t):
            raise ValueError(f"fan_curve must be sorted by ascending temp_c, got {fan_t}")
        if self.fan_curve:
            link_names = [link.name for link in self.links]
            if self.fan_link is None or self.fan_link not in link_names:
                raise ValueError(f"fan_curve needs fan_link set to one of {link_names}, got {self.fan_link!r}")
            if self.fan_hysteresis_c is None:
                raise ValueError("fan_curve needs fan_hysteresis_c")
        return self
