"""Calibrate the model-error part of prediction intervals, and measure their coverage on held-out devices.

Residuals are log(measured / predicted) of predictions the fit never saw, one set per novelty class
(``edgesim.pipeline.intervals.NoveltyClass``):

- measured_device: the device's row of one benchmark, with the runtime refitted across all devices without that
  device's rows of that benchmark (the device has measured rows, the model is new to it);
- known_family / new_family: leave-one-device-out (``leave_one_device_out``: the runtime refitted without the
  device), split by whether the device's core/unit families appear on the other measured devices;
- new_runtime: each row predicted with every other bundled runtime measured on the same device (the engine's
  kernels unknown, the chip known).

Energy residuals: the class's latency residual plus a power residual taken as the class sees the board: the
profiles' ``power.board_power_factor`` is fitted on these energy rows, so each row's power is predicted with the
factor fitted without it (``board_power.held_out_power_logs``): a measured device's with its other benchmarks'
factor, a new device's with the fallback a new chip of its basis gets (fitted without the device), a new
runtime's with the factor of the board's rows with other runtimes.
``edgesim validate --calibrate-intervals`` writes them to ``edgesim/data/calibration/intervals.json``; the coverage
check recomputes the conformal bounds with each device left out and counts the device's rows inside them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgesim.errors import EdgesimError
from edgesim.files import atomic_write_text, data_path
from edgesim.hw.family import profile_families
from edgesim.hw.loader import load_profile
from edgesim.pipeline.intervals import (
    BY_RUNTIME,
    CALIBRATION_FILE,
    GROUP_WEIGHTED,
    NEW_BOARD_POWER_CLASSES,
    NPU_CALIBRATION_FILE,
    NPU_CLASSES,
    NoveltyClass,
    board_offsets_energy_bounds,
    check_confidence,
    class_scales,
    conformal_bounds,
    energy_bounds,
    group_weights,
    new_board_energy_bounds,
    runtime_bin,
    scaled_sample,
    weight_group,
    weighted_bounds,
)
from edgesim.validate.board_power import fit_board_power, held_out_power_logs, power_rows
from edgesim.validate.calibrate import _fit, _prepare, leave_one_device_out
from edgesim.validate.core import (
    ReferenceRow,
    bundled_models_dir,
    default_reference,
    read_reference,
)

if TYPE_CHECKING:
    from edgesim.validate.npu_vendor import VendorValidation

_MCU_CLASSES = (NoveltyClass.MEASURED_DEVICE, NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY,
                NoveltyClass.NEW_RUNTIME)


@dataclass(frozen=True)
class Residual:
    line: int
    device: str
    runtime: str
    benchmark: str
    cls: NoveltyClass
    latency_log: float  # log(measured / predicted)
    # log(measured power / the bundled profile's predicted power) of the row, None without an energy measurement:
    # a property of the device's board power, not of the class; energy = latency x power, so its log residual is
    # latency_log + power_log.
    power_log: float | None
    # new-device classes: power_log with one more board (the key) left out of the fallback factor; the coverage
    # check uses it for this row when it holds that board out (``board_power.HeldOutPower.new_device_without``)
    power_log_without: tuple[tuple[str, float], ...] = ()
    # new_runtime: the runtime the row was predicted with instead of its own (its profile fitted on its own rows)
    substitute: str | None = None
    external: str | None = None  # the external table (``npu_external``) the row comes from; None: a bundled one
    # a declared unmodelled cost applies to the row (``coverage_tables.residual_gaps``): its error is one the model
    # says it leaves out, so it calibrates no bounds (its own interval leaves that side open); still checked
    flagged: bool = False

    @property
    def energy_log(self) -> float | None:
        return None if self.power_log is None else self.latency_log + self.power_log


def _families(device: str) -> frozenset[str]:
    return profile_families(load_profile(device))


def _held_out_benchmark(rows: list[ReferenceRow], mdir: Path) -> dict[int, float]:
    """Predicted latency (ms) of every row whose device has other measured benchmarks with the same runtime."""
    out: dict[int, float] = {}
    groups = sorted({(r.device, r.runtime, r.benchmark) for r in rows})
    for device, rid, bench in groups:
        test = [r for r in rows if (r.device, r.runtime, r.benchmark) == (device, rid, bench)]
        if not any(r.device == device and r.runtime == rid and r.benchmark != bench for r in rows):
            continue  # the device has no other rows with this runtime: not a measured device for this case
        others = [r for r in rows if r.runtime == rid and not (r.device == device and r.benchmark == bench)]
        if len(others) < 2:
            continue
        model, theta0, cases, _, _ = _prepare(others + test, None, rid, mdir, fit_rows=len(others))
        theta = _fit(model, cases[:len(others)], theta0)
        preds = model.batch(cases[len(others):]).latency_s(theta) * 1e3
        out.update({r.line: float(p) for r, p in zip(test, preds, strict=True)})
    return out


def _substituted_runtime(rows: list[ReferenceRow], mdir: Path) -> list[tuple[ReferenceRow, str, float, float]]:
    """(row, other runtime, latency ms, energy uJ) of each row predicted with each other runtime measured on its
    device."""
    from edgesim.pipeline import run
    from edgesim.validate.core import row_spec

    by_device: dict[str, set[str]] = {}
    for r in rows:
        by_device.setdefault(r.device, set()).add(r.runtime)
    out: list[tuple[ReferenceRow, str, float, float]] = []
    for r in rows:
        for other in sorted(by_device[r.device] - {r.runtime}):
            try:
                est = run(row_spec(r, mdir, runtime=other)).estimate
            except EdgesimError:
                continue
            out.append((r, other, est.latency_s * 1e3, est.energy_j * 1e6))
    return out


def collect_residuals(reference: str | Path | None = None) -> list[Residual]:
    ref = Path(reference) if reference is not None else default_reference()
    rows = [r for r in read_reference(ref) if r.metric == "latency"]
    mdir = bundled_models_dir()
    by_line = {r.line: r for r in rows}
    # The profiles' power.board_power_factor is fitted on these very energy rows, so the shipped profiles' power
    # is in-sample. Each class's power residual uses the factor fitted without the row instead, as that class
    # would see the board (board_power.HeldOutPower): energy = the class's latency x that power.
    held = held_out_power_logs(fit_board_power(power_rows(ref)))
    by_cls = {NoveltyClass.MEASURED_DEVICE: dict(held.measured_device), NoveltyClass.KNOWN_FAMILY:
              dict(held.new_device), NoveltyClass.NEW_FAMILY: dict(held.new_device),
              NoveltyClass.NEW_RUNTIME: dict(held.new_runtime)}

    without = dict(held.new_device_without)

    def power_log(row: ReferenceRow, cls: NoveltyClass) -> float | None:
        return by_cls[cls].get(row.line) if row.energy_uj is not None else None

    def nested(row: ReferenceRow) -> tuple[tuple[str, float], ...]:
        return without.get(row.line, ()) if row.energy_uj is not None else ()

    out: list[Residual] = []
    for line, pred in sorted(_held_out_benchmark(rows, mdir).items()):
        r = by_line[line]
        out.append(Residual(line, r.device, r.runtime, r.benchmark, NoveltyClass.MEASURED_DEVICE,
                            math.log(r.latency_ms / pred), power_log(r, NoveltyClass.MEASURED_DEVICE)))
    devices = sorted({r.device for r in rows})
    fam = {d: _families(d) for d in devices}
    for res in leave_one_device_out(ref).rows:
        if res.predicted_latency_ms is None or res.line not in by_line:
            continue
        r = by_line[res.line]
        seen = frozenset().union(*(fam[d] for d in devices if d != r.device))
        cls = NoveltyClass.KNOWN_FAMILY if fam[r.device] <= seen else NoveltyClass.NEW_FAMILY
        out.append(Residual(r.line, r.device, r.runtime, r.benchmark, cls,
                            math.log(r.latency_ms / res.predicted_latency_ms), power_log(r, cls), nested(r)))
    for r, other, lat, _ in _substituted_runtime(rows, mdir):
        out.append(Residual(r.line, r.device, r.runtime, r.benchmark, NoveltyClass.NEW_RUNTIME,
                            math.log(r.latency_ms / lat), power_log(r, NoveltyClass.NEW_RUNTIME), substitute=other))
    return out


def collect_npu_residuals(v: VendorValidation | None = None, external: Sequence[Residual] = ()
                          ) -> list[Residual]:
    """Edge NPUs and SoCs (``edgesim.validate.npu_vendor``, the bundled vendor tables): boards with rows from the
    odd lines predicted with the runtime multipliers and the device offsets fitted on the even ones, as a run with
    the device calibration predicts them; new boards from leave-one-device-out (the model alone); then
    ``external``, the external tables' residuals (``npu_external.external_residuals``). Each is ``flagged`` where a
    declared unmodelled cost applies. Slow without ``v`` (every table row is predicted): minutes."""
    from edgesim.validate.coverage_tables import residual_gaps
    from edgesim.validate.device_offsets import NETWORK_TIER, even_groups, group_key
    from edgesim.validate.npu_vendor import VendorResult, validate_vendor

    v = v if v is not None else validate_vendor()
    calibrated = even_groups(v.raw)

    def measured_class(r: VendorResult) -> NoveltyClass:
        # an odd line whose (device, runtime, network) has an even line got that group's offset; the others the
        # runtime's multiplier and the board's precision offset only: a network new to the board (``npu_board_class``)
        return (NoveltyClass.NPU_MEASURED_DEVICE if group_key(r, NETWORK_TIER.keys) in calibrated
                else NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK)

    out: list[Residual] = []
    for results, cls_of in ((v.held_out, measured_class), (v.lodo, lambda r: NoveltyClass.NPU_NEW_DEVICE)):
        out += [Residual(r.line, r.device, r.runtime_id, r.network, cls_of(r),
                         math.log(r.measured_ms / r.predicted_ms), None)
                for r in results if r.predicted_ms and r.measured_ms > 0]
    # A row a declared unmodelled cost applies to calibrates no bound (``Residual.flagged``): the Lunar Lake NPU's
    # legacy DetectionOutput sort (6-15x the model) made every openvino-npu new-device bound ~5x wide.
    return [replace(x, flagged=bool(residual_gaps(x))) for x in out + list(external)]


def _row_dict(x: Residual) -> dict[str, object]:
    return {"line": x.line, "device": x.device, "runtime": x.runtime, "benchmark": x.benchmark,
            "class": x.cls.value, "latency_log": round(x.latency_log, 6), "power_log": None,
            **({"external": x.external} if x.external else {})}


def npu_calibration_dict(residuals: Sequence[Residual]) -> dict[str, object]:
    # the external rows of a runtime nobody measured are new_runtime's (merged with the MCU table's at load)
    every = [x for x in residuals if x.cls in NPU_CLASSES or x.external is not None]
    table = [x for x in every if x.external is None]
    # flagged rows (collect_npu_residuals) are kept apart: the run-time table reads only "rows"
    mine = [x for x in every if not x.flagged]
    flagged = [x for x in every if x.flagged]
    return {
        "method": "split conformal on held-out log residuals of the vendor NPU tables, per runtime where a runtime "
                  "has enough (Mondrian; edgesim.pipeline.interval_calibration.BY_RUNTIME), else normalised by "
                  "per-runtime scales (the class's own where it has them) where the runtime has MIN_SCALE_ROWS "
                  "residuals, else pooled; with the external tables' rows (npu_external: devices the model was never "
                  "built with, in the classes the driver gives them)",
        "latency": {c.value: sorted(round(x.latency_log, 6) for x in mine if x.cls is c)
                    for c in NoveltyClass if c in NPU_CLASSES or any(x.cls is c for x in mine)},
        # the boards and runtimes a run's class is decided by: the bundled table's only (an external device has
        # no device calibration; its rows calibrate the class the driver gives it)
        "devices": sorted({(x.device, x.runtime) for x in table}),
        "runtimes": sorted({x.runtime for x in table}),
        "rows": [_row_dict(x) for x in mine],
        "flagged_rows": [_row_dict(x) for x in flagged],
    }


def write_npu_calibration(path: str | Path | None = None, device_path: str | Path | None = None,
                          v: VendorValidation | None = None, external: Sequence[Residual] | None = None
                          ) -> tuple[Path, list[Residual]]:
    """The NPU interval calibration and, from the same predictions, the device calibration the driver applies
    (``edgesim.pipeline.device_calibration``; ``device_path``, default the shipped file): one command. ``v``: the
    vendor tables' predictions already made (``validate_vendor()``, minutes), else they are made here;
    ``external``: the external tables' residuals (``npu_external.external_residuals()``, minutes), else made here."""
    from edgesim.pipeline.device_calibration import DEVICE_CALIBRATION_FILE, device_scale_table
    from edgesim.pipeline.intervals import calibration_table
    from edgesim.validate.device_offsets import device_calibration_dict
    from edgesim.validate.npu_external import external_residuals
    from edgesim.validate.npu_vendor import validate_vendor

    v = v if v is not None else validate_vendor()
    residuals = collect_npu_residuals(v, external if external is not None else external_residuals())
    target = Path(path) if path is not None else data_path(*NPU_CALIBRATION_FILE)
    atomic_write_text(target, json.dumps(npu_calibration_dict(residuals), indent=1) + "\n")
    devices = Path(device_path) if device_path is not None else data_path(*DEVICE_CALIBRATION_FILE)
    atomic_write_text(devices, json.dumps(device_calibration_dict(v.raw), indent=1) + "\n")
    calibration_table.cache_clear()
    device_scale_table.cache_clear()
    return target, residuals


def calibration_dict(residuals: Sequence[Residual], reference: str) -> dict[str, object]:
    rows = read_reference(reference)
    devices = sorted({(r.device, r.runtime) for r in rows if r.metric == "latency"})
    fams = sorted(frozenset().union(*(_families(d) for d in {d for d, _ in devices})))
    return {
        "method": "split conformal on held-out log residuals per novelty class (edgesim.validate.intervals)",
        "reference": Path(reference).name,
        "latency": {c.value: sorted(round(x.latency_log, 6) for x in residuals if x.cls is c) for c in _MCU_CLASSES},
        # One power residual per measured row (taken from the measured_device set, which holds every row once).
        "power": sorted(round(x.power_log, 6) for x in residuals
                        if x.cls is NoveltyClass.MEASURED_DEVICE and x.power_log is not None),
        "devices": [list(d) for d in devices],
        # every held-out residual with where it comes from, so coverage can be recomputed from the shipped file
        "rows": [{"line": x.line, "device": x.device, "runtime": x.runtime, "benchmark": x.benchmark,
                  "class": x.cls.value, "latency_log": round(x.latency_log, 6),
                  "power_log": None if x.power_log is None else round(x.power_log, 6),
                  **({"power_log_without": {d: round(v, 6) for d, v in x.power_log_without}}
                     if x.power_log_without else {}),
                  **({"substitute": x.substitute} if x.substitute else {})} for x in residuals],
        "families": fams,
        "runtimes": sorted({r for _, r in devices}),
    }


def write_calibration(reference: str | Path | None = None, path: str | Path | None = None
                      ) -> tuple[Path, list[Residual]]:
    """Recompute the residuals and write the calibration table the package ships (or to ``path``)."""
    ref = str(reference) if reference is not None else str(default_reference())
    residuals = collect_residuals(ref)
    target = Path(path) if path is not None else data_path(*CALIBRATION_FILE)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, json.dumps(calibration_dict(residuals, ref), indent=1) + "\n")
    from edgesim.pipeline.intervals import calibration_table

    calibration_table.cache_clear()
    return target, residuals


def shipped_residuals(path: str | Path | None = None, npu: bool = True) -> list[Residual]:
    """The held-out residuals the shipped calibration was made from (no prediction is rerun); ``npu``: with the
    vendor-table ones."""
    targets = [Path(path) if path is not None else data_path(*CALIBRATION_FILE)]
    if npu and path is None and data_path(*NPU_CALIBRATION_FILE).is_file():
        targets.append(data_path(*NPU_CALIBRATION_FILE))
    out: list[Residual] = []
    for target in targets:
        try:
            raw = json.loads(target.read_text(encoding="utf-8"))
            out += [Residual(int(r["line"]), r["device"], r["runtime"], r["benchmark"], NoveltyClass(r["class"]),
                             float(r["latency_log"]), None if r["power_log"] is None else float(r["power_log"]),
                             tuple((d, float(v)) for d, v in sorted(r.get("power_log_without", {}).items())),
                             r.get("substitute"), r.get("external"), key == "flagged_rows")
                    for key in ("rows", "flagged_rows") for r in (raw["rows"] if key == "rows" else raw.get(key, ()))]
        except (OSError, ValueError, KeyError) as exc:
            raise EdgesimError(f"cannot read the interval calibration ({exc}); regenerate it with "
                               "'edgesim validate --calibrate-intervals'", file=str(target)) from None
    return out


@dataclass(frozen=True)
class Coverage:
    cls: NoveltyClass
    metric: str
    rows: int
    devices: int  # held-out groups: devices, or (device, benchmark) for measured_device
    covered: float  # share of rows inside the bounds computed without their device
    median_half_width: float  # median (hi - lo) / 2 over the prediction
    capped_rows: int  # rows whose bounds used the extreme residual (too few others)
    runtime: str | None = None  # the runtime's rows only (``coverage(by_runtime=True)``)


def _group(x: Residual) -> str:
    """The unit a case is new in, held out whole: a measured device's other benchmarks are in the calibration at
    run time, so (device, benchmark); a new runtime's rows, the runtime; otherwise the device."""
    if x.cls in (NoveltyClass.MEASURED_DEVICE, NoveltyClass.NPU_MEASURED_DEVICE,
                 NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK):
        return f"{x.device}/{x.benchmark}"
    return f"runtime:{x.runtime}" if x.cls is NoveltyClass.NEW_RUNTIME else x.device


def held_out_latency_bounds(x: Residual, residuals: Sequence[Residual], confidence: float
                            ) -> tuple[float, float, bool]:
    """The latency bounds ``coverage`` checks ``x`` against: its class's ``residuals`` without ``x``'s group
    (``_group``), as ``_held_out_hits`` builds them."""
    mine = [y for y in residuals if y.cls is x.cls]
    others = [y for y in residuals if x.cls in BY_RUNTIME and y.cls in BY_RUNTIME and y.cls is not x.cls]
    train, scale_rows = _held_out_training(_group(x), mine, others, x.device)
    return _latency_bounds(x.cls, _calibration_rows(x.cls, train, x.runtime, confidence, scale_rows), confidence)


def _held_out_training(g: str, mine: Sequence[Residual], others: Sequence[Residual], device: str | None = None
                       ) -> tuple[list[Residual], list[Residual]]:
    """The rows bounds for group ``g`` are calibrated on: the class's rows (``mine``) outside the group, and the
    other BY_RUNTIME classes' rows (``others``, runtime scales) without the held-out devices' (the same
    measurements, predicted another way); ``device``: one more device held out with the group."""
    held = {x.device for x in mine if _group(x) == g} | ({device} if device is not None else set())
    train = [x for x in mine if _group(x) != g and not _uses_held_out_runtime(x, g) and not x.flagged]
    return train, [y for y in others if y.device not in held and not y.flagged]


def _power_group(cls: NoveltyClass, x: Residual) -> str:
    """The power rows held out with a case: board power is a property of the device, so a new device's all; a
    measured device's benchmark, that benchmark's; a new runtime's, the board's rows with that runtime (its rows
    with other runtimes are known at run time too)."""
    if cls is NoveltyClass.MEASURED_DEVICE:
        return f"{x.device}/{x.benchmark}"
    return f"{x.device}/{x.runtime}" if cls is NoveltyClass.NEW_RUNTIME else x.device


def _calibration_rows(cls: NoveltyClass, train: Sequence[Residual], runtime: str, confidence: float,
                      scale_rows: Sequence[Residual] = ()) -> Sequence[Residual]:
    """The residuals a case of ``cls`` on ``runtime`` is calibrated on, as ``latency_sample`` picks them at run
    time: in the BY_RUNTIME classes the runtime's own bin when ``train`` makes one, else ``train`` rescaled to the
    runtime's scale when ``train`` and ``scale_rows`` (the other BY_RUNTIME classes' rows the case may see) give it
    one (``scaled_sample``), else all of ``train``."""
    if cls not in BY_RUNTIME:
        return train
    rows = [(x.runtime, x.device, x.latency_log) for x in train]
    if runtime_bin(rows, runtime, confidence) is not None:
        return [x for x in train if x.runtime == runtime]
    scales = class_scales(rows, rows + [(x.runtime, x.device, x.latency_log) for x in scale_rows], runtime)
    scaled = scaled_sample(rows, scales, runtime)
    if scaled is None:
        return train
    # the rescaled values stand in for the rows (the bounds read only latency_log; these classes are not
    # group-weighted)
    return [Residual(-1, "", runtime, "", cls, v, None) for v in scaled]


def _latency_bounds(cls: NoveltyClass, train: Sequence[Residual], confidence: float) -> tuple[float, float, bool]:
    """The class's latency bounds from ``train`` (already ``_calibration_rows``) as ``model_bounds`` computes them
    at run time."""
    if cls in GROUP_WEIGHTED:
        pairs = group_weights([(x.latency_log, weight_group(cls, x.device, x.runtime)) for x in train])
        return weighted_bounds([v for v, _ in pairs], [w for _, w in pairs], confidence)
    return conformal_bounds([x.latency_log for x in train], confidence)


def held_out_energy_bounds(cls: NoveltyClass, held: Sequence[Residual], board: str, train_rows: Sequence[Residual],
                            power: Sequence[Residual], new_power: Sequence[Residual], confidence: float
                            ) -> tuple[float, float, bool]:
    """Energy bounds for a held-out group as ``interval`` would compute them at run time: the held-out rows'
    power residuals left out; a board with at least 2 power rows left (a measured device's other benchmarks, a new
    runtime's board with other runtimes) is a board with energy rows (its own offset, from ``power``: residuals at
    factors fitted without the row), one without is a new board (the spread of board offsets, from ``new_power``:
    residuals at the fallback factor each board would get as a new chip); a new device's on a new board, the
    joint construction (``board_offsets_energy_bounds``, on ``new_board_parts``). ``board``: the held-out row's."""
    measured = _left_by_board(cls, held, board, power)
    own = measured.get(board, [])
    if cls in GROUP_WEIGHTED and not own:
        return board_offsets_energy_bounds(*new_board_parts(cls, held, board, train_rows, new_power), confidence)
    by_board = measured if own else _left_by_board(cls, held, board, new_power)
    if len(own) == 1 or len(by_board) < 3:  # one power row is no offset and no deviation: the pooled rows
        return energy_bounds([x.latency_log for x in train_rows], [p for ps in by_board.values() for p in ps],
                             confidence)
    return new_board_energy_bounds([x.latency_log for x in train_rows], list(by_board.values()), confidence,
                                   own=own)


def _left_by_board(cls: NoveltyClass, held: Sequence[Residual], board: str, src: Sequence[Residual]
                   ) -> dict[str, list[float]]:
    """``src``'s power residuals by board, the held-out rows' power groups (``_power_group``) left out; a new-board
    residual's fallback factor left the held-out ``board`` out too (nested), when it was fitted on it."""
    boards = {_power_group(cls, x) for x in held}
    out: dict[str, list[float]] = {}
    for y in src:
        if _power_group(cls, y) not in boards and y.power_log is not None:
            out.setdefault(y.device, []).append(dict(y.power_log_without).get(board, y.power_log))
    return out


def new_board_parts(cls: NoveltyClass, held: Sequence[Residual], board: str, train_rows: Sequence[Residual],
                    new_power: Sequence[Residual]
                    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[tuple[str, float]]]:
    """The (device, log residual) parts of a new device's energy bounds on a new board, as the run path reads them
    from the table (``board_offsets_energy_bounds``): the class's latency rows (``train_rows``), the other boards'
    new-board power rows, and the class's energy rows (latency + power of one row), the held-out group's left out."""
    held_devices = {x.device for x in held}
    joint = [(y.device, y.latency_log + dict(y.power_log_without).get(board, y.power_log))
             for y in new_power if y.cls is cls and y.device not in held_devices and y.power_log is not None]
    power = [(d, p) for d, ps in _left_by_board(cls, held, board, new_power).items() for p in ps]
    return [(x.device, x.latency_log) for x in train_rows], power, joint


def _uses_held_out_runtime(x: Residual, group: str) -> bool:
    """A new-runtime residual predicted WITH the held-out runtime (its profile fitted on the held-out rows): a
    runtime nobody measured has no such residuals, so the check leaves them out of the calibration too."""
    return x.substitute is not None and group == f"runtime:{x.substitute}"


@dataclass(frozen=True)
class _Hit:
    row: Residual
    covered: bool
    half_width: float  # (hi - lo) / 2 over the prediction
    capped: bool


# (class, held-out rows, the held-out row's board, calibration rows, measured-board power rows, new-board power
# rows, confidence) -> (lo, hi, capped): how a held-out group's energy bounds are built (``held_out_energy_bounds``
# as shipped; ``validate.energy_bound_check`` passes the variants it compares)
EnergyBoundsFn = Callable[[NoveltyClass, Sequence[Residual], str, Sequence[Residual], Sequence[Residual],
                           Sequence[Residual], float], tuple[float, float, bool]]


def _held_out_hits(cls: NoveltyClass, metric: str, mine: Sequence[Residual], power: Sequence[Residual],
                   new_power: Sequence[Residual], confidence: float, others: Sequence[Residual] = (),
                   energy_bounds_fn: EnergyBoundsFn | None = None) -> tuple[list[_Hit], int]:
    """Each of the class's rows against the bounds computed without its group (``_group``), and how many groups.
    ``others``: the other BY_RUNTIME classes' rows (runtime scales); the held-out group's devices' are left out
    (they are the same measurements, predicted another way)."""
    energy_fn = energy_bounds_fn or held_out_energy_bounds
    out: list[_Hit] = []
    groups = sorted({_group(x) for x in mine if metric == "latency" or x.energy_log is not None})
    for g in groups:
        held = [x for x in mine if _group(x) == g]
        train, scale_rows = _held_out_training(g, mine, others)
        if len(train) < 2:
            continue
        bounds: dict[tuple[str, str], tuple[float, float, bool]] = {}
        for x in held:
            v = x.latency_log if metric == "latency" else x.energy_log
            if v is None:
                continue
            if (x.device, x.runtime) not in bounds:
                rows = _calibration_rows(cls, train, x.runtime, confidence, scale_rows)
                bounds[x.device, x.runtime] = (
                    _latency_bounds(cls, rows, confidence) if metric == "latency" else
                    energy_fn(cls, held, x.device, rows, power, new_power, confidence))
            lo, hi, cap = bounds[x.device, x.runtime]
            out.append(_Hit(x, lo <= v <= hi, (math.exp(max(hi, 0)) - math.exp(min(lo, 0))) / 2, cap))
    return out, len(groups)


def _summary(cls: NoveltyClass, metric: str, hits: Sequence[_Hit], groups: int, runtime: str | None = None
             ) -> Coverage:
    widths = sorted(h.half_width for h in hits)
    return Coverage(cls, metric, len(hits), groups, sum(h.covered for h in hits) / len(hits),
                    widths[len(widths) // 2], sum(h.capped for h in hits), runtime)


# The per-runtime table: the classes calibrated per runtime, and new_runtime (held out by runtime already).
_PER_RUNTIME = BY_RUNTIME | {NoveltyClass.NEW_RUNTIME}
# A runtime's held-out rows the per-runtime table needs to show it (a coverage of fewer rows is mostly noise).
REPORT_MIN_ROWS = 10


def _class_hits(residuals: Sequence[Residual], confidence: float, metric: str, cls: NoveltyClass
                ) -> tuple[list[_Hit], int]:
    """``cls``'s held-out rows of ``metric`` against bounds from the other groups (``_held_out_hits``)."""
    power = [x for x in residuals if x.cls is NoveltyClass.MEASURED_DEVICE and x.power_log is not None]
    new_power = [x for x in residuals if x.cls in NEW_BOARD_POWER_CLASSES and x.power_log is not None]
    others = [x for x in residuals if cls in BY_RUNTIME and x.cls in BY_RUNTIME and x.cls is not cls]
    return _held_out_hits(cls, metric, [x for x in residuals if x.cls is cls], power, new_power, confidence, others)


def coverage(residuals: Sequence[Residual], confidence: float = 0.8, by_runtime: bool = False) -> list[Coverage]:
    """Per class and metric: bounds from the other groups' residuals (``_group``), coverage of each group's own
    rows. Energy bounds also leave the held-out rows' power out, and are each held-out board's. ``by_runtime``:
    per runtime instead (runtimes with at least REPORT_MIN_ROWS held-out rows), for the classes calibrated per
    runtime and for new_runtime."""
    check_confidence(confidence)
    out: list[Coverage] = []
    for metric in ("latency", "energy"):
        for cls in NoveltyClass:
            if by_runtime and cls not in _PER_RUNTIME:
                continue
            hits, groups = _class_hits(residuals, confidence, metric, cls)
            if not hits:
                continue
            if not by_runtime:
                out.append(_summary(cls, metric, hits, groups))
                continue
            for rid in sorted({h.row.runtime for h in hits}):
                mine = [h for h in hits if h.row.runtime == rid]
                if len(mine) >= REPORT_MIN_ROWS:
                    out.append(_summary(cls, metric, mine, len({_group(h.row) for h in mine}), rid))
    return out


# Issue #18's targets name two groups of devices: "devices with shared rows" (the classes whose device has measured
# rows with this runtime) and "devices without" (new devices of a known or a new family, NPU boards left out whole).
# A new runtime on a measured device is neither; it is reported as its own class (``coverage``).
TARGET_GROUPS: tuple[tuple[str, frozenset[NoveltyClass], float], ...] = (
    ("devices with shared rows", frozenset({NoveltyClass.MEASURED_DEVICE, NoveltyClass.NPU_MEASURED_DEVICE,
                                            NoveltyClass.NPU_MEASURED_DEVICE_NEW_NETWORK}), 0.25),
    ("devices without rows", frozenset({NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY,
                                        NoveltyClass.NPU_NEW_DEVICE}), 0.45),
)


@dataclass(frozen=True)
class GroupCoverage:
    group: str
    metric: str
    rows: int
    covered: float
    median_half_width: float
    width_target: float  # the median half-width bound for the group's 80% intervals


def target_group_coverage(residuals: Sequence[Residual], confidence: float = 0.8) -> list[GroupCoverage]:
    """``coverage`` pooled over the classes of each of the issue's two device groups (``TARGET_GROUPS``): every
    held-out row once, with the bounds its own class gives it."""
    check_confidence(confidence)
    out: list[GroupCoverage] = []
    for metric in ("latency", "energy"):
        for name, classes, width in TARGET_GROUPS:
            hits = [h for cls in NoveltyClass if cls in classes
                    for h in _class_hits(residuals, confidence, metric, cls)[0]]
            if hits:
                widths = sorted(h.half_width for h in hits)
                out.append(GroupCoverage(name, metric, len(hits), sum(h.covered for h in hits) / len(hits),
                                         widths[len(widths) // 2], width))
    return out


def energy_coverage(residuals: Sequence[Residual], cls: NoveltyClass, confidence: float,
                    energy_bounds_fn: EnergyBoundsFn | None = None) -> Coverage | None:
    """``coverage``'s energy row of ``cls``, with the held-out bounds built by ``energy_bounds_fn`` (default: as
    shipped); None without held-out energy rows. ``validate.energy_bound_check`` compares constructions with it."""
    power = [x for x in residuals if x.cls is NoveltyClass.MEASURED_DEVICE and x.power_log is not None]
    new_power = [x for x in residuals if x.cls in NEW_BOARD_POWER_CLASSES and x.power_log is not None]
    hits, groups = _held_out_hits(cls, "energy", [x for x in residuals if x.cls is cls], power, new_power,
                                  check_confidence(confidence), energy_bounds_fn=energy_bounds_fn)
    return _summary(cls, "energy", hits, groups) if hits else None
