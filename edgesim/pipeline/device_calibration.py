"""A board's own vendor-table rows in its point prediction (issue #18): the latency multipliers of
``edgesim/data/calibration/npu_device_scales.json``, applied by the driver after the cost stage.

A chip whose vendor publishes benchmark numbers (``npu_vendor.csv``) is predicted from its datasheet profile and
the runtime's model like any other, then scaled by what its own rows give: the runtime's table fit, times the
board's shrunk offset at the run's deploy precision (from all its rows of that runtime and precision, whatever the
network: what a network new to the board gets), times its shrunk offset for the network on top of that (its rows
of that network at any precision, input size or metric). Each offset is a group's mean log(measured / predicted)
shrunk toward 0 (empirical Bayes; ``edgesim.validate.device_offsets``, written by ``write_npu_calibration``, the
one command that also writes the NPU interval calibration). It applies only to the bundled profile as shipped (a
profile edited by the user, at another clock, or a sweep point that changes the chip's numbers is no longer the
measured device) with the runtime the rows were measured with (``tiers`` in the file name the keys).
``edgesim validate`` scores it held out: multipliers from the table's even lines, scored on the odd ones;
leave-one-device-out never sees the device's rows.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TypeVar

from edgesim.cost.estimate import Estimate, LayerCost
from edgesim.cost.power import PowerSummary, estimate_power
from edgesim.errors import EdgesimError
from edgesim.files import data_path
from edgesim.hw.schema import HardwareProfile
from edgesim.sim.engine import OpTiming, SimResult
from edgesim.sim.trace import TraceEvent

DEVICE_CALIBRATION_FILE = ("calibration", "npu_device_scales.json")
T = TypeVar("T")
# The keys a group of rows can be split by beyond (device, runtime): the deploy precision of the run's MACs, what
# was measured (one inference's latency, or the period of a stream of frames), the zoo network.
LEVEL_KEYS = ("precision", "metric", "network")


@dataclass(frozen=True)
class DeviceScale:
    """A run's latency multiplier (measured / predicted, shrunk) and the rows it comes from."""

    device: str
    runtime: str
    keys: tuple[tuple[str, str], ...]  # (level key, value) of each tier whose group matched, e.g. (("precision", "int8"),)
    rows: int  # the rows of the most specific group that matched (0: the runtime's fit across boards only)
    multiplier: float

    @property
    def of_network(self) -> bool:
        """True when the board's own rows of this network calibrated it (not only its other networks')."""
        return any(k == "network" for k, _ in self.keys)

    def note(self) -> str:
        what = ", ".join(v for _, v in self.keys)
        if not self.rows:  # the board has rows of this runtime, none at this precision or of this network
            return (f"calibrated on the {self.runtime} vendor rows of every board (none of this device at this "
                    f"precision or network): latency x{self.multiplier:.3g}")
        other = "" if self.of_network else "; other networks"
        return (f"calibrated on {self.rows} vendor row{'' if self.rows == 1 else 's'} of this device ({self.runtime}"
                f"{', ' + what if what else ''}{other}): latency x{self.multiplier:.3g}")

    def as_dict(self) -> dict[str, object]:
        return {"device": self.device, "runtime": self.runtime, **dict(self.keys), "rows": self.rows,
                "multiplier": self.multiplier}


@dataclass(frozen=True)
class ScaleTier:
    """One tier of the table: per (device, runtime, *level values) group its rows and shrunk log offset."""

    level: tuple[str, ...]  # LEVEL_KEYS the groups are split by, in order
    groups: tuple[tuple[tuple[str, ...], int, float], ...]  # ((device, runtime, *values), rows, offset_log)

    @cached_property
    def by_key(self) -> dict[tuple[str, ...], tuple[int, float]]:
        return {k: (n, off) for k, n, off in self.groups}


@dataclass(frozen=True)
class DeviceScaleTable:
    runtime_multipliers: tuple[tuple[str, float], ...]
    tiers: tuple[ScaleTier, ...]

    @cached_property
    def pairs(self) -> frozenset[tuple[str, str]]:
        """The (device, runtime) pairs with a group: every run asks (an interval's reruns each)."""
        return frozenset((k[0], k[1]) for t in self.tiers for k, _, _ in t.groups)

    def find(self, device: str, runtime: str, keys: dict[str, str]) -> DeviceScale | None:
        """The runtime's multiplier times exp(the offsets of the tiers' groups ``keys`` fall in), for a pair with
        rows; None for a pair without, or with nothing that applies to these keys."""
        if (device, runtime) not in self.pairs:
            return None
        log_k, rows, matched = 0.0, 0, []
        for tier in self.tiers:
            values = tuple(keys.get(k, "") for k in tier.level)
            found = tier.by_key.get((device, runtime, *values))
            if found is not None:
                rows, log_k = found[0], log_k + found[1]
                matched += list(zip(tier.level, values, strict=True))
        runtime_k = dict(self.runtime_multipliers).get(runtime)
        if not matched and runtime_k is None:
            return None  # the pair's only rows carry a declared unmodelled cost and this is another network
        return DeviceScale(device, runtime, tuple(matched), rows, (runtime_k or 1.0) * math.exp(log_k))


def table_from_dict(raw: dict[str, Any]) -> DeviceScaleTable:
    tiers = []
    for t in raw["tiers"]:
        level = tuple(str(k) for k in t["level"])
        if not set(level) <= set(LEVEL_KEYS):
            raise EdgesimError(f"unknown level keys {sorted(set(level) - set(LEVEL_KEYS))}", field="level")
        tiers.append(ScaleTier(level, tuple(((str(g["device"]), str(g["runtime"]), *(str(g[k]) for k in level)),
                                             int(g["rows"]), float(g["offset_log"])) for g in t["groups"])))
    multipliers = tuple((str(k), float(v)) for k, v in raw["runtime_multipliers"].items())
    return DeviceScaleTable(multipliers, tuple(tiers))


def read_shipped(parse: Callable[[dict[str, Any]], T]) -> T:
    """``parse`` of the shipped file's JSON (the table; docs/intervals.md's block reads its "check"), a missing or
    malformed file a one-line error naming it."""
    path = data_path(*DEVICE_CALIBRATION_FILE)
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EdgesimError(f"cannot read the device calibration ({exc}); regenerate it with "
                           "'edgesim validate --calibrate-intervals'", file=str(path)) from None


@lru_cache(maxsize=1)
def device_scale_table() -> DeviceScaleTable:
    """The shipped table (empty when the package has none)."""
    if not data_path(*DEVICE_CALIBRATION_FILE).is_file():
        return DeviceScaleTable((), ())
    return read_shipped(table_from_dict)


def is_shipped_device(hw: str | Path | HardwareProfile, clock_mhz: float | None) -> bool:
    """True when the run's chip is a bundled profile exactly as shipped, at its own clock: the device the vendor
    rows were measured on. A profile file or object that differs from the bundled one of its id in any number
    (a user's edit, a sweep point's override, another clock) is another chip; its own clock asked for explicitly
    (``--clock-mhz`` at the shipped value, a sweep's clock axis through it) is not another chip."""
    from edgesim.hw.loader import bundled_profile_ids, load_profile

    if isinstance(hw, HardwareProfile):
        pid, given = hw.id, hw
    else:
        try:
            given = load_profile(hw)
        except EdgesimError:
            return False
        pid = given.id
    if pid not in bundled_profile_ids():
        return False
    if clock_mhz is not None and not math.isclose(clock_mhz, given.clock_mhz, rel_tol=1e-9):
        return False
    return given is load_profile(pid) or given == load_profile(pid)


def run_precision(est: Estimate) -> str:
    """The precision that carries most of the run's MACs (the table's deploy precision of a row)."""
    macs: Counter[str] = Counter()
    for layer in est.layers:
        macs[layer.precision] += layer.macs
    return macs.most_common(1)[0][0] if macs else ""


def network_name(model: object) -> str:
    """The zoo network a run asks for ('' for a model file or a graph: no vendor row names it)."""
    from edgesim.frontends.loader import is_zoo_name

    return model if isinstance(model, str) and is_zoo_name(model) else ""


def lookup(hw: str | Path | HardwareProfile, clock_mhz: float | None, model: object, device: str,
           runtime: str | None, est: Estimate, metric: str = "latency") -> DeviceScale | None:
    """The multiplier for this run, or None (no rows of this device and runtime, or the chip is not the shipped
    device). A network the board has no rows of gets the runtime's fit and the board's offset at the run's
    precision (``DeviceScale.of_network`` False)."""
    table = device_scale_table()
    if runtime is None or (device, runtime) not in table.pairs:
        return None
    keys = {"precision": run_precision(est), "metric": metric, "network": network_name(model)}
    found = table.find(device, runtime, keys)
    return found if found is not None and is_shipped_device(hw, clock_mhz) else None


# -- scaling a costed run by k --------------------------------------------------------------------------------
# Times are scaled, cycle counts are not: the multiplier says the whole run takes k times as long on this board,
# not which units' cycles account for it, so the per-layer and per-op cycles stay the model's account of the work
# (what the mechanisms and their tests read) and only the wall times (and what follows from them) move.
def _layer(layer: LayerCost, k: float) -> LayerCost:
    return replace(layer, latency_s=layer.latency_s * k,
                   energy=replace(layer.energy, static_j=layer.energy.static_j * k))


def scale_estimate(est: Estimate, k: float, note: str) -> Estimate:
    """The estimate with every time k times as long (the run's and each layer's), and the static energy with it
    (static power x time); the dynamic energy per operation and per byte is what the datasheet gives and stays,
    and so do the cycle counts (the model's account of the work)."""
    return replace(est, latency_s=est.latency_s * k, layers=tuple(_layer(x, k) for x in est.layers),
                   energy=replace(est.energy, static_j=est.energy.static_j * k), notes=(*est.notes, note))


def scale_sim(sim: SimResult, k: float) -> SimResult:
    """The event engine's times k times as long (each op's start and end, the makespan, memories' busy time) and
    the stream's throughput k times lower; cycle counts stay."""
    def op(o: OpTiming) -> OpTiming:
        return replace(o, start_s=o.start_s * k, end_s=o.end_s * k)

    return replace(sim, ops=tuple(op(o) for o in sim.ops), makespan_s=sim.makespan_s * k,
                   memory_busy_s=tuple((m, v * k) for m, v in sim.memory_busy_s),
                   throughput_inf_per_s=sim.throughput_inf_per_s / k)


def scale_events(events: tuple[TraceEvent, ...], k: float) -> tuple[TraceEvent, ...]:
    return tuple(replace(e, start_s=e.start_s * k, end_s=e.end_s * k) for e in events)


def scale_power(power: PowerSummary, est: Estimate, analytic: bool) -> PowerSummary:
    """The scaled estimate's power: recomputed from its layers (analytic), else the event engine's peak kept and
    the average as energy over the new latency."""
    if analytic:
        return estimate_power(est)
    avg = est.energy_j / est.latency_s if est.latency_s > 0 else 0.0
    return PowerSummary(avg, max(power.peak_power_w, avg), est.energy_j, est.latency_s)
