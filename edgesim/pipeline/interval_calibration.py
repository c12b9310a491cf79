"""The model-error part of prediction intervals (``edgesim.pipeline.intervals``): novelty classes, the shipped
calibration table and the bounds it gives, by split conformal prediction on held-out residuals, group-weighted
where a case is a new device, and for energy and power by board (``edgesim.validate.intervals`` makes the table
and checks its coverage).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.files import data_path
from edgesim.hw.family import profile_families
from edgesim.hw.schema import HardwareProfile, RuntimeProfile

DEFAULT_CONFIDENCE = 0.8


class NoveltyClass(StrEnum):
    """How far a prediction is from the measurements the model was checked on (least novel first)."""

    MEASURED_DEVICE = "measured_device"  # this device with this runtime has measured rows
    KNOWN_FAMILY = "known_family"  # a new device whose core/unit families all have measured devices
    NEW_FAMILY = "new_family"  # a core or unit family no measured device has
    NEW_RUNTIME = "new_runtime"  # a runtime no measured row used (or none: peak hardware)
    # Edge NPUs and SoCs, calibrated on the vendor benchmark tables (npu_vendor.csv) instead of MLPerf Tiny:
    # this board and runtime have vendor-table rows, and so does this network (the point is calibrated on them)
    NPU_MEASURED_DEVICE = "npu_measured_device"
    # this board and runtime have vendor-table rows, this network has none (the point: the runtime's fit and the
    # board's offset from its other networks at the run's precision)
    NPU_MEASURED_DEVICE_NEW_NETWORK = "npu_measured_device_new_network"
    NPU_NEW_DEVICE = "npu_new_device"  # a runtime with vendor-table rows on other boards only


# The less novel class an edited chip (a sweep point that changes its numbers) moves up from, per domain.
_NEW_CHIP = {NoveltyClass.MEASURED_DEVICE: NoveltyClass.KNOWN_FAMILY,
             NoveltyClass.NPU_MEASURED_DEVICE: NoveltyClass.NPU_NEW_DEVICE,
             NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK: NoveltyClass.NPU_NEW_DEVICE}
# The edge-NPU classes, least novel first (the vendor tables' residuals, ``npu_intervals.json``).
NPU_CLASSES = (NoveltyClass.NPU_MEASURED_DEVICE, NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK,
               NoveltyClass.NPU_NEW_DEVICE)


def npu_board_class(shipped: bool, calibrated: bool) -> NoveltyClass:
    """The class of a run on a board whose runtime has vendor-table rows on it, from the facts the device
    calibration stage uses (``edgesim.pipeline.device_calibration``): ``shipped``, the chip is the bundled profile
    as shipped at its own clock (an edited copy, another clock or a sweep point's edit is a new board: the rows
    are the shipped board's); ``calibrated``, the stage scaled the point by the board's rows of this network.
    A network the board has no rows of gets the runtime's fit and the board's offset from its other networks, and
    its error is larger than a calibrated point's (held out, the odd lines whose network has no even line spread
    about twice as wide in log; docs/intervals.md), so it has a class of its own."""
    if not shipped:
        return NoveltyClass.NPU_NEW_DEVICE
    return NoveltyClass.NPU_MEASURED_DEVICE if calibrated else NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK


def check_confidence(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):  # the API takes any object
        raise EdgesimError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}",
                           field="confidence")
    if not 0 < confidence < 1 or math.isnan(confidence):
        raise EdgesimError(f"confidence must be strictly between 0 and 1, got {confidence:g}", field="confidence")
    return float(confidence)


# (runtime id, device, log residual) of one held-out row
BinRow = tuple[str, str, float]
# (device, latency log residual, power log residual or None) of one held-out row
DeviceRow = tuple[str, float, float | None]


# -- (b) the calibration table --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationTable:
    """Sorted log residuals log(measured / predicted) of latency per novelty class and of board power (one per
    measured energy row: energy's residual is latency's plus power's), and what the measurements cover."""

    method: str
    latency: tuple[tuple[NoveltyClass, tuple[float, ...]], ...]
    power: tuple[float, ...]
    devices: frozenset[tuple[str, str]]  # (device, runtime) pairs with measured rows
    families: frozenset[str]
    runtimes: frozenset[str]
    npu_devices: frozenset[tuple[str, str]] = frozenset()  # (board, runtime) pairs with vendor-table rows
    npu_runtimes: frozenset[str] = frozenset()
    # the power residuals by board (the same rows as ``power``): boards with energy rows, and how boards differ
    board_power: tuple[tuple[str, tuple[float, ...]], ...] = ()
    # per class in GROUP_WEIGHTED, each residual's weight (aligned with ``latency``'s sorted residuals)
    weights: tuple[tuple[NoveltyClass, tuple[float, ...]], ...] = ()
    # per class, |difference| of the residuals of two devices on one runtime and benchmark (``shared_margin``)
    pair_diffs: tuple[tuple[NoveltyClass, tuple[float, ...]], ...] = ()
    # the power residuals by board as a NEW board would get them (its board-power factor the fallback fitted
    # without it): how far a board without energy rows can be off. ``board_power`` holds the residuals at factors
    # fitted without the row only (a measured board's own offset); its spread between boards would be in-sample.
    new_board_power: tuple[tuple[str, tuple[float, ...]], ...] = ()
    # per class in BY_RUNTIME, every residual as (runtime, device, log residual): the runtimes' own bins
    runtime_rows: tuple[tuple[NoveltyClass, tuple[BinRow, ...]], ...] = ()
    # per class in GROUP_WEIGHTED, every residual as (device, latency log, power log or None): the parts of a
    # new board's energy bounds (``board_offsets_energy_bounds``)
    device_rows: tuple[tuple[NoveltyClass, tuple[DeviceRow, ...]], ...] = ()

    def __hash__(self) -> int:
        """The fields' hash (what the dataclass would compute), once: the table is large and fixed, and the bounds'
        lru_caches below are keyed by it on every interval (hashing it anew cost ~0.1 ms an interval)."""
        cached: int | None = self.__dict__.get("_fields_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_fields_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_fields_hash", None)  # a str hash is per process: recomputed after unpickling
        return state

    def spread_boards(self) -> list[tuple[float, ...]]:
        """The boards whose offsets give a new board's spread (``board_power`` in a table that predates
        ``new_board_power``)."""
        return [v for _, v in (self.new_board_power or self.board_power)]

    def residuals(self, cls: NoveltyClass) -> tuple[float, ...]:
        return dict(self.latency).get(cls, ())

    def residual_weights(self, cls: NoveltyClass) -> tuple[float, ...] | None:
        return dict(self.weights).get(cls)

    def runtime_bin(self, cls: NoveltyClass, runtime: str | None, confidence: float) -> tuple[float, ...] | None:
        """The residuals of ``runtime``'s own bin in ``cls`` (``runtime_bin``), None: the class's pooled ones."""
        if cls not in BY_RUNTIME or runtime is None:
            return None
        return runtime_bin(dict(self.runtime_rows).get(cls, ()), runtime, confidence)

    def scaled_bin(self, cls: NoveltyClass, runtime: str | None) -> tuple[float, ...] | None:
        """The class's residuals normalised by their runtimes' scales and rescaled to ``runtime``'s
        (``scaled_sample``; the class's own scales, else every BY_RUNTIME class's: ``class_scales``), None: ``runtime``
        has no scale."""
        if cls not in BY_RUNTIME or runtime is None:
            return None
        own = dict(self.runtime_rows).get(cls, ())
        scales = class_scales(own, [r for c, rows in self.runtime_rows if c in BY_RUNTIME for r in rows], runtime)
        return scaled_sample(own, scales, runtime)

# Classes calibrated per runtime (Mondrian split conformal): on the edge NPUs and SoCs the model's error depends
# mostly on the runtime (held-out MAPE from ~10% for ESP-DL and TFLite-VX to ~30% for QNN and HailoRT and ~90% for
# OpenVINO's MYRIAD plugin: how well a vendor's compiler and kernels are described by the datasheet model differs
# by vendor), so one pooled quantile makes every runtime's interval as wide as the worst runtimes need and
# under-covers those. Each runtime with enough residuals gets the conformal bounds of its own; the others the
# pooled ones. The MCU classes are not split: their runtimes are fewer, and the new-runtime class's residuals
# substitute one engine for another (the held-out runtime has no bin of its own by construction).
BY_RUNTIME = frozenset(NPU_CLASSES)
# A runtime's bin needs this many residuals (so that its 90% conformal bounds are finite-sample ranks inside it)
# from this many devices (one board's rows share its clocks and memories: a bin of one board says nothing of
# the runtime on another; it also makes the held-out check test the bins it uses: with a device held out, a
# runtime measured on one board falls back to the pooled bounds at run time and in the check alike).
MIN_BIN_ROWS = 20
MIN_BIN_DEVICES = 2


def runtime_bin(rows: Sequence[BinRow], runtime: str, confidence: float) -> tuple[float, ...] | None:
    """The sorted residuals of ``runtime`` among ``rows`` when they make a bin of their own: at least MIN_BIN_ROWS
    rows from MIN_BIN_DEVICES devices, and enough for a finite-sample conformal rank at ``confidence`` (a bin
    too small for it would fall back on its extreme residual; the pooled ones are better then). None: pool."""
    mine = [(d, v) for r, d, v in rows if r == runtime]
    if len(mine) < MIN_BIN_ROWS or len({d for d, _ in mine}) < MIN_BIN_DEVICES:
        return None
    values = tuple(sorted(v for _, v in mine))
    return None if conformal_bounds(values, confidence)[2] else values


# A runtime without a bin of its own (measured on one board, or on too few rows) but with at least MIN_SCALE_ROWS
# residuals on any boards, in either NPU class, gets the class's pooled residuals normalised by each runtime's scale
# (normalised split conformal, ``scaled_sample``): its own rows set how wide, every runtime's rows the shape. The
# pooled residuals alone gave OpenVINO NPU's new boards (two boards: one left when the other is held out) the
# pooled width, which its SSD/YOLO rows' errors exceed (65% covered at 80%, held out).
MIN_SCALE_ROWS = 10


def runtime_scales(rows: Sequence[BinRow]) -> dict[str, float]:
    """Per runtime with at least MIN_SCALE_ROWS residuals: their root mean square, how far the model's predictions
    with that runtime are typically off (in log)."""
    by: dict[str, list[float]] = {}
    for r, _, v in rows:
        by.setdefault(r, []).append(v)
    return {r: math.sqrt(sum(v * v for v in vs) / len(vs)) for r, vs in sorted(by.items())
            if len(vs) >= MIN_SCALE_ROWS and any(vs)}


def class_scales(own: Sequence[BinRow], pooled: Sequence[BinRow], runtime: str) -> dict[str, float]:
    """The runtime scales a class's residuals are normalised by: the class's own (``own``: its rows) when
    ``runtime`` has one there, else those of ``pooled`` (every BY_RUNTIME class's rows). A scale from another
    class is that class's error: the external new-device rows (``edgesim.validate.npu_external``; the model off up
    to 10x on the Lunar Lake NPU's SSD) made OpenVINO NPU's and HailoRT's pooled scales two to three times their
    measured boards' own, and those boards' 80% bounds cover 100% held out with half-widths of 49-92%; with their own
    class's scales, 79% with 25-33%."""
    scales = runtime_scales(own)
    return scales if runtime in scales else runtime_scales(pooled)


def scaled_sample(rows: Sequence[BinRow], scales: dict[str, float], runtime: str) -> tuple[float, ...] | None:
    """The sorted residuals of ``rows`` whose runtime has a scale, each divided by its runtime's scale and
    multiplied by ``runtime``'s (their conformal bounds are ``runtime``'s normalised-conformal ones). None:
    ``runtime`` has no scale."""
    if runtime not in scales:
        return None
    s = scales[runtime]
    return tuple(sorted(v / scales[r] * s for r, _, v in rows if r in scales))


CALIBRATION_FILE = ("calibration", "intervals.json")
NPU_CALIBRATION_FILE = ("calibration", "npu_intervals.json")


def _read_json(path: Path) -> dict[str, object]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EdgesimError(f"cannot read the interval calibration ({exc}); regenerate it with "
                           "'edgesim validate --calibrate-intervals'", file=str(path)) from None
    if not isinstance(raw, dict):
        raise EdgesimError("the interval calibration is not a mapping", file=str(path))
    return raw


# A new runtime's residuals come from substituting other runtimes, so two of them on one row's runtime do not
# share the substituted engine's error: no pairs for it.
_UNPAIRED = frozenset({NoveltyClass.NEW_RUNTIME})


def pair_diffs(d: dict[str, Any]) -> list[tuple[NoveltyClass, tuple[float, ...]]]:
    """Per class: |r_a - r_b| for every two rows of different devices with the same runtime and benchmark."""
    groups: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
    for r in d.get("rows", ()):
        if NoveltyClass(r["class"]) not in _UNPAIRED:
            groups.setdefault((r["class"], r["runtime"], r["benchmark"]), []).append(
                (r["device"], float(r["latency_log"])))
    out: dict[NoveltyClass, list[float]] = {}
    for (cls, _, _), rows in sorted(groups.items()):
        out.setdefault(NoveltyClass(cls), []).extend(
            abs(ra - rb) for i, (da, ra) in enumerate(rows) for db, rb in rows[i + 1:] if da != db)
    return [(c, tuple(sorted(v))) for c, v in out.items() if v]


@lru_cache(maxsize=1)
def calibration_table() -> CalibrationTable:
    raw: dict[str, Any] = _read_json(data_path(*CALIBRATION_FILE))
    npu_path = data_path(*NPU_CALIBRATION_FILE)
    npu: dict[str, Any] = _read_json(npu_path) if npu_path.is_file() else {"latency": {}, "devices": [],
                                                                          "runtimes": []}

    def classes(d: dict[str, Any]) -> list[tuple[NoveltyClass, tuple[float, ...]]]:
        return [(NoveltyClass(c), tuple(sorted(float(x) for x in v))) for c, v in d["latency"].items()]

    def weights(d: dict[str, Any]) -> list[tuple[NoveltyClass, tuple[float, ...]]]:
        out = []
        for cls in sorted(GROUP_WEIGHTED):  # a fixed order, whatever the hash seed
            rows = [r for r in d.get("rows", ()) if r["class"] == cls.value]
            if rows:
                pairs = group_weights([(float(r["latency_log"]), weight_group(cls, r["device"], r["runtime"]))
                                       for r in rows])
                out.append((cls, tuple(w for _, w in pairs)))
        return out

    boards: dict[str, list[float]] = {}
    new_boards: dict[str, list[float]] = {}
    for row in raw.get("rows", ()):
        if row["power_log"] is None:
            continue
        if row["class"] == NoveltyClass.MEASURED_DEVICE.value:
            boards.setdefault(row["device"], []).append(float(row["power_log"]))
        elif NoveltyClass(row["class"]) in NEW_BOARD_POWER_CLASSES:
            new_boards.setdefault(row["device"], []).append(float(row["power_log"]))
    # a class in both files (new_runtime: the external NPU tables' runtimes nobody measured) pools both
    merged: dict[NoveltyClass, tuple[float, ...]] = {}
    for cls, values in classes(raw) + classes(npu):
        merged[cls] = tuple(sorted(merged.get(cls, ()) + values))
    return CalibrationTable(raw["method"], tuple(merged.items()),
                            tuple(sorted(float(x) for x in raw["power"])),
                            frozenset((d, r) for d, r in raw["devices"]), frozenset(raw["families"]),
                            frozenset(raw["runtimes"]), frozenset((d, r) for d, r in npu["devices"]),
                            frozenset(npu["runtimes"]),
                            tuple((d, tuple(sorted(v))) for d, v in sorted(boards.items())),
                            tuple(weights(raw) + weights(npu)), tuple(pair_diffs(raw) + pair_diffs(npu)),
                            tuple((d, tuple(sorted(v))) for d, v in sorted(new_boards.items())),
                            tuple(_runtime_rows(raw) + _runtime_rows(npu)),
                            tuple((c, tuple((r["device"], float(r["latency_log"]), None if r["power_log"] is None
                                             else float(r["power_log"])) for r in raw.get("rows", ())
                                            if r["class"] == c.value)) for c in sorted(GROUP_WEIGHTED)))


def _runtime_rows(d: dict[str, Any]) -> list[tuple[NoveltyClass, tuple[BinRow, ...]]]:
    out: dict[NoveltyClass, list[BinRow]] = {}
    for r in d.get("rows", ()):
        if NoveltyClass(r["class"]) in BY_RUNTIME:
            out.setdefault(NoveltyClass(r["class"]), []).append((r["runtime"], r["device"], float(r["latency_log"])))
    return [(c, tuple(sorted(v))) for c, v in sorted(out.items())]


def novelty(profile: HardwareProfile, runtime: RuntimeProfile | None, table: CalibrationTable | None = None
            ) -> NoveltyClass:
    t = table or calibration_table()
    if runtime is not None and runtime.id not in t.runtimes and runtime.id in t.npu_runtimes:
        return (NoveltyClass.NPU_MEASURED_DEVICE if (profile.id, runtime.id) in t.npu_devices
                else NoveltyClass.NPU_NEW_DEVICE)
    if runtime is None or runtime.id not in t.runtimes:
        return NoveltyClass.NEW_RUNTIME
    if (profile.id, runtime.id) in t.devices:
        return NoveltyClass.MEASURED_DEVICE
    if profile_families(profile) <= t.families:
        return NoveltyClass.KNOWN_FAMILY
    return NoveltyClass.NEW_FAMILY


# The classes whose power residuals are a new board's (leave-one-device-out: each row once, in one of the two).
NEW_BOARD_POWER_CLASSES = frozenset({NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY})

# Classes whose cases are new devices: a device's residuals are not independent of each other (one chip's clocks,
# memories and kernels), so the device, not the row, is the unit a new case is drawn like. Each device's residuals
# together weigh one: a device with 28 rows does not decide the tails for one with 6.
GROUP_WEIGHTED = frozenset({NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY})


def weight_group(cls: NoveltyClass, device: str, runtime: str) -> str:
    """What a residual of ``cls`` is weighted by (the device, for GROUP_WEIGHTED classes)."""
    return device if cls in GROUP_WEIGHTED else f"{device}/{runtime}"


def group_weights(values: Sequence[tuple[float, str]]) -> list[tuple[float, float]]:
    """(value, weight) sorted by value, each group's values weighing 1 / (its count) together."""
    counts: dict[str, int] = {}
    for _, g in values:
        counts[g] = counts.get(g, 0) + 1
    return sorted((v, 1.0 / counts[g]) for v, g in values)


def weighted_bounds(residuals: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray,
                    confidence: float) -> tuple[float, float, bool]:
    """(lo, hi) of the weighted residuals at ``confidence``, equal tails, each end conservative (at most alpha/2
    of the weight strictly outside it). Residuals sorted ascending; never capped (groups are too few for a
    group-level conformal rank, so these are plain levels of the group mixture, checked by held-out coverage)."""
    if len(residuals) == 0:
        raise EdgesimError("no calibration residuals for this class; regenerate the calibration")
    cw = np.cumsum(np.asarray(weights, dtype=float))
    cw /= cw[-1]
    alpha = 1.0 - confidence
    n = len(residuals)
    lo = residuals[min(int(np.searchsorted(cw, alpha / 2 + 1e-12, side="right")), n - 1)]
    hi = residuals[min(int(np.searchsorted(cw, 1 - alpha / 2 - 1e-12, side="left")), n - 1)]
    return float(lo), float(hi), False


def latency_sample(table: CalibrationTable, cls: NoveltyClass, runtime: str | None, confidence: float
                   ) -> tuple[tuple[float, ...], tuple[float, ...] | None, str | None]:
    """The latency residuals (and their weights, for group-weighted classes) a case of ``cls`` on ``runtime`` is
    calibrated on, and the runtime whose own bin or scale they are (None: the class's pooled residuals): in the
    BY_RUNTIME classes the runtime's own bin, else the class's residuals rescaled to its scale, else pooled."""
    own = table.runtime_bin(cls, runtime, confidence)
    if own is not None:
        return own, None, runtime
    scaled = table.scaled_bin(cls, runtime)
    if scaled is not None:
        return scaled, None, runtime
    return table.residuals(cls), table.residual_weights(cls), None


def model_bounds(table: CalibrationTable, cls: NoveltyClass, confidence: float, runtime: str | None = None
                 ) -> tuple[float, float, bool]:
    """The class's model-error bounds on log latency: group-weighted for new devices, split conformal otherwise
    (per runtime in the BY_RUNTIME classes, ``latency_sample``)."""
    res, w, _ = latency_sample(table, cls, runtime, confidence)
    return weighted_bounds(res, w, confidence) if w is not None else conformal_bounds(res, confidence)


MIN_PAIRS = 20


def shared_margin(cls: NoveltyClass, confidence: float) -> float | None:
    """How far apart (in log latency) two predictions of one class on one runtime must be to differ at
    ``confidence``: the split-conformal rank of |r_a - r_b| over held-out pairs of devices measured on the same
    runtime and benchmark. Their shared error (the runtime's kernels, the model's cost) cancels in the ratio,
    which two overlapping intervals would count twice. None with fewer than MIN_PAIRS pairs."""
    d = dict(calibration_table().pair_diffs).get(cls, ())
    if len(d) < MIN_PAIRS:
        return None
    return d[min(math.ceil((len(d) + 1) * check_confidence(confidence) - 1e-9), len(d)) - 1]


def conformal_bounds(residuals: Sequence[float], confidence: float) -> tuple[float, float, bool]:
    """Split conformal (lo, hi) offsets of log(measured/predicted) at ``confidence``, equal tails; ``capped`` when
    the finite-sample rank falls outside the residuals (too few of them) and the extreme is used instead."""
    r = sorted(residuals)
    n = len(r)
    if n == 0:
        raise EdgesimError("no calibration residuals for this class; regenerate the calibration")
    alpha = 1.0 - confidence
    # 1-based ranks; the 1e-9 keeps binary rounding (1 - 0.8 = 0.19999...) from moving a rank by one
    k_hi = math.ceil((n + 1) * (1 - alpha / 2) - 1e-9)
    k_lo = math.floor((n + 1) * (alpha / 2) + 1e-9)
    capped = k_hi > n or k_lo < 1
    return r[max(k_lo, 1) - 1], r[min(k_hi, n) - 1], capped


def energy_bounds(latency: Sequence[float], power: Sequence[float], confidence: float) -> tuple[float, float, bool]:
    """Conformal-style (lo, hi) of log(measured/predicted) energy = latency residual + power residual, the two
    independent (the latency error is the model's, the power error the board's): quantiles of every pairwise sum,
    at the finite-sample levels of the smaller set."""
    if not latency or not power:
        return conformal_bounds(latency, confidence) if latency else (0.0, 0.0, True)
    sums = np.add.outer(np.asarray(latency), np.asarray(power)).ravel()
    n = min(len(latency), len(power))
    alpha = 1.0 - confidence
    q_hi = math.ceil((n + 1) * (1 - alpha / 2) - 1e-9) / n
    q_lo = math.floor((n + 1) * (alpha / 2) + 1e-9) / n
    capped = q_hi > 1 or q_lo <= 0
    return _quantile(sums, min(max(q_lo, 0.0), 1.0)), _quantile(sums, min(q_hi, 1.0)), capped


@lru_cache(maxsize=16)
def _t_quantiles(df: int, k: int = 200) -> np.ndarray:
    """The k mid-quantiles (i + 0.5) / k of Student's t with ``df`` degrees of freedom: its CDF integrated on
    x = tan(theta), theta in [0, pi/2), where the density is finite and smooth for every df >= 1 (no tail cut)."""
    theta = np.linspace(0.0, math.pi / 2, 20001)
    x = np.tan(theta[:-1])
    dens = np.append((1 + x * x / df) ** (-(df + 1) / 2) / np.cos(theta[:-1]) ** 2, 1.0 if df == 1 else 0.0)
    cdf = np.concatenate(([0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(theta))))
    cdf = 0.5 + 0.5 * cdf / cdf[-1]
    q = (np.arange(k) + 0.5) / k
    upper = np.tan(np.interp(np.abs(q - 0.5) + 0.5, cdf, theta))
    out = np.where(q >= 0.5, upper, -upper)
    out.flags.writeable = False
    return out


def new_board_energy_bounds(latency: Sequence[float], board_power: Sequence[Sequence[float]],
                            confidence: float, latency_weights: Sequence[float] | None = None,
                            own: Sequence[float] = ()) -> tuple[float, float, bool]:
    """(lo, hi) of log(measured/predicted) energy from the board power's error by board. Power error is mostly one
    offset per board (how its regulators, clocks and peripherals differ from the datasheet figures), so boards are
    the sample, not rows: a board with many rows must not count many times.

    - a board without energy rows (``own`` empty): the mixture of the boards' power residuals, each board's
      together weighing one (plain levels of that mixture, as the new-device latency classes' bounds are: with
      3-5 boards no board-level conformal rank exists, and a Student t over so few board means, with 2-3 degrees
      of freedom, made every new board's bounds as wide as the t's tails; held out, 95-96% at 80%);
    - a board with at least 2 (``own``, its power residuals): its own mean, give or take its standard error
      (n_own - 1 degrees of freedom, scale s_own / sqrt(n_own)), plus each row's deviation from its board's mean
      (each board's deviations weighing one).

    The latency residual is added as independent (weighted by ``latency_weights`` when its class is
    group-weighted; a new device on a board without energy rows takes ``board_offsets_energy_bounds`` instead,
    which keeps a row's two errors together). ``capped`` with fewer than 3 boards: the row-pooled bounds
    (``energy_bounds``) are used."""
    boards = [np.asarray(b, dtype=float) for b in board_power if len(b)]
    if len(boards) < 3 or not len(latency):
        return energy_bounds(latency, [x for b in boards for x in b], confidence)[:2] + (True,)
    if len(own) >= 2:
        mine = np.asarray(own, dtype=float)
        offset = mine.mean() + mine.std(ddof=1) / math.sqrt(len(mine)) * _t_quantiles(len(mine) - 1)
        spread = [b for b in boards if len(b) >= 2] or boards  # a lone row has no deviation from its board's mean
        within = np.concatenate([b - b.mean() for b in spread])
        w_within = np.concatenate([np.full(len(b), 1.0 / len(b)) for b in spread])
        part, w_part = (within[:, None] + offset[None, :]).ravel(), np.repeat(w_within, len(offset))
    else:
        part = np.concatenate(boards)
        w_part = np.concatenate([np.full(len(b), 1.0 / len(b)) for b in boards])
    w_lat = np.ones(len(latency)) if latency_weights is None else np.asarray(latency_weights, dtype=float)
    # the board's part, then the latency's: two small outer sums
    board, w_board = _compress(part, w_part, 128)
    lat, w_lat = _compress(np.asarray(latency, dtype=float), w_lat)
    total = (lat[:, None] + board[None, :]).ravel()
    weight = (w_lat[:, None] * w_board[None, :]).ravel()
    order = np.argsort(total, kind="stable")
    lo, hi, _ = weighted_bounds(total[order], weight[order], confidence)
    return lo, hi, False


def group_pairs(pairs: Sequence[tuple[str, float]]) -> dict[str, list[float]]:
    """(group, value) pairs as each group's values, in first-seen order."""
    out: dict[str, list[float]] = {}
    for g, v in pairs:
        out.setdefault(g, []).append(v)
    return out


def board_offset_parts(latency: Sequence[tuple[str, float]], board_power: Sequence[tuple[str, float]],
                       energy: Sequence[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The three parts of ``board_offsets_energy_bounds``: the devices' mean ``latency`` residuals, the boards'
    mean ``board_power`` residuals, and per device its rows' deviations from its mean of ``energy`` (latency +
    power of the same row) or, for a device without 2 energy rows, of its latency. Each list is (device or
    board, log residual)."""
    lat, joint = group_pairs(latency), group_pairs(energy)
    dev = [np.asarray(v) - np.mean(v) for v in joint.values() if len(v) >= 2]
    dev += [np.asarray(v) - np.mean(v) for d, v in lat.items() if len(joint.get(d, ())) < 2 and len(v) >= 2]
    return (np.asarray([np.mean(v) for v in lat.values()]),
            np.asarray([np.mean(v) for v in group_pairs(board_power).values()]), dev)


def board_offsets_energy_bounds(latency: Sequence[tuple[str, float]], board_power: Sequence[tuple[str, float]],
                                energy: Sequence[tuple[str, float]], confidence: float) -> tuple[float, float, bool]:
    """(lo, hi) of log(measured/predicted) energy of a new device on a board without energy rows: a device's
    latency offset + a board's power offset + the row's deviation, three independent parts
    (``board_offset_parts``), each (device or board) weighing one; a row's two errors are kept together within a
    board, they are not independent. Plain levels of the mixture, as the new devices' latency bounds; ``capped``
    with fewer than 3 boards or no deviation: the row-pooled bounds (``energy_bounds``)."""
    lat, power, dev = board_offset_parts(latency, board_power, energy)
    if len(power) < 3 or not len(lat) or not dev:
        return energy_bounds([v for _, v in latency], [v for _, v in board_power], confidence)[:2] + (True,)
    offsets = (lat[:, None] + power[None, :]).ravel()
    w_rows = np.concatenate([np.full(len(d), 1.0 / len(d)) for d in dev])
    total = (offsets[:, None] + np.concatenate(dev)[None, :]).ravel()
    weight = np.tile(w_rows, len(offsets))
    order = np.argsort(total, kind="stable")
    return weighted_bounds(total[order], weight[order], confidence)


def _compress(values: np.ndarray, weights: np.ndarray, k: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """At most k equal-mass points of a weighted sample (its (i + 0.5) / k weighted quantiles): the sums of three
    such samples stay small enough to sort at run time (a few hundred thousand, not millions)."""
    if len(values) <= k:
        return values, weights
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(weights[order])
    idx = np.searchsorted(cw / cw[-1], (np.arange(k) + 0.5) / k)
    return v[np.minimum(idx, len(v) - 1)], np.full(k, 1.0 / k)


def _quantile(x: np.ndarray, q: float) -> float:
    """np.quantile's default (linear between order statistics), without its first-call import of numpy.ma."""
    h = (len(x) - 1) * q
    k = math.floor(h)
    part = np.partition(x, (k, min(k + 1, len(x) - 1)))
    return float(part[k] + (h - k) * (part[min(k + 1, len(x) - 1)] - part[k]))


def _energy_model_bounds(table: CalibrationTable, cls: NoveltyClass, board: str, confidence: float,
                         runtime: str | None = None) -> tuple[float, float, bool]:
    own = dict(table.board_power).get(board, ())
    _, _, bin_runtime = latency_sample(table, cls, runtime, confidence)
    return _energy_bounds_for(table, cls, board if len(own) >= 2 else "", confidence, bin_runtime)


@lru_cache(maxsize=64)
def _energy_bounds_for(table: CalibrationTable, cls: NoveltyClass, board: str, confidence: float,
                       runtime: str | None = None) -> tuple[float, float, bool]:
    """Energy's model-error bounds: a new device's on a board without energy rows from its class's rows
    (``board_offsets_energy_bounds``); otherwise the class's latency residuals (``runtime``'s bin when it has one)
    plus the board power's, by board (``new_board_energy_bounds``: ``board`` names one with energy rows, '' one
    without). Cached: the table is fixed for the process."""
    own = dict(table.board_power).get(board, ())
    rows = dict(table.device_rows).get(cls, ())
    if not own and rows and table.new_board_power:  # a new device on a board without energy rows
        return board_offsets_energy_bounds(
            [(d, lat) for d, lat, _ in rows], [(b, p) for b, ps in table.new_board_power for p in ps],
            [(d, lat + p) for d, lat, p in rows if p is not None], confidence)
    boards = list(dict(table.board_power).values()) if own else table.spread_boards()
    lat, w, _ = latency_sample(table, cls, runtime, confidence)
    return new_board_energy_bounds(lat, boards, confidence, w, own)


@lru_cache(maxsize=64)
def _power_bounds_for(table: CalibrationTable, board: str, confidence: float) -> tuple[float, float]:
    """Log bounds of the board power's error alone (``new_board_energy_bounds`` with no latency error)."""
    if not table.power:
        return 0.0, 0.0
    own = dict(table.board_power).get(board, ())
    boards = list(dict(table.board_power).values()) if own else table.spread_boards()
    return new_board_energy_bounds([0.0], boards, confidence, None, own)[:2]


def power_log_bounds(board: str, confidence: float) -> tuple[float, float]:
    """Log bounds of a board's power error at ``confidence`` (``_power_bounds_for``): a board with energy rows
    from its own offset, others' from the spread between boards."""
    table = calibration_table()
    known = len(dict(table.board_power).get(board, ())) >= 2
    return _power_bounds_for(table, board if known else "", check_confidence(confidence))
