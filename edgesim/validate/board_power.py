"""Per-device board-power factors (``power.board_power_factor``) fitted on MLPerf Tiny energy rows, and how well
they carry over to rows and devices they were not fitted on.

MLPerf Tiny's EnergyRunner measures the whole DUT supply while ML kernels keep the DSP datapath, the SRAM banks
and the flash busy, so a board draws more than its datasheet run current x supply says, by a factor that differs
between parts (how each datasheet states its run current, which regulator the board uses). The profiles carry the
datasheet basis and one factor that multiplies compute energy and static power (memory traffic is per byte and
not scaled):

    predicted energy(k) = E_fixed + E_scaled x k / k_shipped

so each energy row gives the factor that would make its power exact, and a device's factor is the geometric mean
of its rows' (least squares in log space: power errors are ratios). Three figures judge it:

- **fit**: every device at its own factor (rows used for fitting: in-sample);
- **held-out benchmark**: each row predicted with the factor fitted on the device's OTHER benchmarks;
- **leave-one-device-out**: each device predicted with the fallback a new chip would get: the geometric mean of
  the other devices of the same basis (Cortex-M MCUs charged per datasheet run current); a device whose basis has
  no other device keeps its unscaled datasheet basis (factor 1).

The fallback for devices without energy rows is the geometric mean over all devices of the basis, with their
smallest and largest factor as the range (``BoardPowerFit.fallback``; profiles write it as a derived number).

A measurement run at another supply voltage than the profile's basis, on a part whose supply current does not
depend on V_DD (an internal linear regulator), draws the basis's power x its supply / the basis supply; its row is
predicted at its own supply (``edgesim.validate.supply``, ``PowerRow.supply_scale``), so the factor stays the board's at the
basis supply instead of a blend of two supplies.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgesim.errors import EdgesimError
from edgesim.hw.schema_base import RunCurrentBasis
from edgesim.validate.core import bundled_models_dir, default_reference, read_reference, row_spec
from edgesim.validate.supply import supply_scale

# The profiles charged by the MCU board-power rule (docs/validation.md): a Cortex-M core's datasheet run current x
# the board supply. Other bases (GAP9's per-cluster-cycle energy from its product brief) are not comparable.
RUN_CURRENT_BASIS = "cortex-m run current"
_FLOOR = 1e-3  # a row whose measured power is below the unscaled part says "factor ~0", not negative


@dataclass(frozen=True)
class PowerRow:
    """One measured energy row against the shipped profile."""

    line: int
    device: str
    runtime: str
    benchmark: str
    basis: str  # RUN_CURRENT_BASIS or the device id (a basis of its own)
    shipped_factor: float
    measured_energy_uj: float
    predicted_energy_uj: float
    measured_latency_ms: float
    predicted_latency_ms: float
    scaled_fraction: float  # share of the predicted energy the factor multiplies (compute + static)
    # the row's supply / the profile's basis supply, for a part whose power follows its supply (validate.supply)
    supply_scale: float = 1.0
    current_basis: RunCurrentBasis | None = None  # the profile's power.run_current_basis

    @property
    def exact_factor(self) -> float:
        """The board-power factor that makes this row's predicted power (at its supply) equal the measured one."""
        measured_mw = self.measured_energy_uj / self.measured_latency_ms / self.supply_scale
        predicted_mw = self.predicted_energy_uj / self.predicted_latency_ms
        fixed_mw = predicted_mw * (1.0 - self.scaled_fraction)
        scaled_mw = predicted_mw * self.scaled_fraction
        return self.shipped_factor * max(measured_mw - fixed_mw, _FLOOR * scaled_mw) / scaled_mw

    def energy_error_at(self, factor: float) -> float:
        """Signed energy error (predicted / measured - 1) with the device's factor set to ``factor``."""
        s = self.scaled_fraction
        energy = self.predicted_energy_uj * ((1.0 - s) + s * factor / self.shipped_factor) * self.supply_scale
        return energy / self.measured_energy_uj - 1.0




@dataclass(frozen=True)
class DeviceFactor:
    device: str
    basis: str
    rows: int
    shipped: float
    fitted: float
    log_sd: float  # spread of the rows' exact factors (standard deviation of their logs)
    current_basis: RunCurrentBasis | None = None  # what the profile's run current is (table value or headline)


@dataclass(frozen=True)
class Fallback:
    """The factor a device without energy rows gets: geometric mean of the basis, range min..max."""

    basis: str
    value: float
    lo: float
    hi: float
    devices: int


@dataclass(frozen=True)
class BoardPowerFit:
    rows: tuple[PowerRow, ...]
    devices: tuple[DeviceFactor, ...]
    fallback: Fallback
    fit_errors: tuple[float, ...]  # per row, the device at its fitted factor
    held_out_benchmark_errors: tuple[float, ...]  # per row, factor fitted on the device's other benchmarks
    lodo_errors: tuple[float, ...]  # per row, the device's factor replaced by the basis fallback without it
    shipped_errors: tuple[float, ...]  # per row, as the profiles ship
    # per row, the LODO error with the fallback of the devices whose run current is of the same kind (table value
    # or headline; all of the basis when none is): the check of "the factor spread is the datasheet basis"
    current_basis_lodo_errors: tuple[float, ...] = ()

    def table(self) -> str:
        def mape(errs: Sequence[float]) -> str:
            return f"{sum(abs(e) for e in errs) / len(errs):.1%}" if errs else "-"

        out = [f"{'device':<12} {'rows':>4} {'i_run':>8} {'shipped':>8} {'fitted':>7} {'log sd':>7} {'shipped E':>10} "
               f"{'fit E':>7} {'held-out bench E':>17} {'LODO E':>7} {'by kind':>8}"]
        for d in self.devices:
            idx = [i for i, r in enumerate(self.rows) if r.device == d.device]

            def pick(errs: Sequence[float], idx: list[int] = idx) -> list[float]:
                return [errs[i] for i in idx]

            kind = d.current_basis.value if d.current_basis is not None else "-"
            out.append(f"{d.device:<12} {d.rows:>4} {kind:>8} {d.shipped:>8.3f} {d.fitted:>7.3f} {d.log_sd:>7.2f} "
                       f"{mape(pick(self.shipped_errors)):>10} {mape(pick(self.fit_errors)):>7} "
                       f"{mape(pick(self.held_out_benchmark_errors)):>17} {mape(pick(self.lodo_errors)):>7} "
                       f"{mape(pick(self.current_basis_lodo_errors)):>8}")
        out.append(f"{'ALL':<12} {len(self.rows):>4} {'':>8} {'':>8} {'':>7} {'':>7} {mape(self.shipped_errors):>10} "
                   f"{mape(self.fit_errors):>7} {mape(self.held_out_benchmark_errors):>17} "
                   f"{mape(self.lodo_errors):>7} {mape(self.current_basis_lodo_errors):>8}")
        f = self.fallback
        out.append(f"fallback for devices without energy rows ({f.basis}, {f.devices} devices): "
                   f"{f.value:.3f}, range [{f.lo:.3f}, {f.hi:.3f}]")
        out.extend(self._current_basis_lines())
        return "\n".join(out)

    def _current_basis_lines(self) -> list[str]:
        """The fitted factors by the profiles' run_current_basis ("by kind" column: the LODO error of a fallback
        per kind, same-kind devices when there are any; the shipped fallback pools the basis)."""
        kinds = sorted({d.current_basis.estimates for d in self.devices if d.current_basis is not None})
        parts = []
        for kind in kinds:
            mine = [(d, d.current_basis) for d in self.devices
                    if d.current_basis is not None and d.current_basis.estimates is kind]
            listed = ", ".join(f"{d.device} {d.fitted:.3f}" + (f" ({b.value})" if b is not kind else "")
                               for d, b in mine)
            parts.append(f"{kind.value} {_geomean([d.fitted for d, _ in mine]):.3f} ({listed})")
        return ["factors by run-current kind (geometric mean): " + "; ".join(parts)] if parts else []


def _geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _log_sd(values: Sequence[float]) -> float:
    logs = [math.log(v) for v in values]
    mean = sum(logs) / len(logs)
    return math.sqrt(sum((x - mean) ** 2 for x in logs) / len(logs))


def power_basis(device: str) -> str:
    """RUN_CURRENT_BASIS for a Cortex-M MCU (charged per datasheet run current), else the device's own id."""
    from edgesim.hw.family import profile_families
    from edgesim.hw.loader import load_profile
    from edgesim.hw.schema import ChipKind

    prof = load_profile(device)
    if prof.kind is ChipKind.MCU and any(f.startswith("cortex-m") for f in profile_families(prof)):
        return RUN_CURRENT_BASIS
    return device


def power_rows(reference_csv: str | Path | None = None) -> tuple[PowerRow, ...]:
    """The reference's energy rows predicted with the shipped profiles (analytic path, as ``validate``)."""
    from edgesim.hw.loader import load_profile
    from edgesim.pipeline import run

    ref = Path(reference_csv) if reference_csv is not None else default_reference()
    mdir = bundled_models_dir()
    out: list[PowerRow] = []
    bases: dict[str, str] = {}
    for row in read_reference(ref):
        if row.energy_uj is None:
            continue
        try:
            est = run(row_spec(row, mdir)).estimate
        except EdgesimError as err:  # an unknown device or model of a user's file: which file and line
            raise EdgesimError(f"line {row.line}: {err.one_line()}", file=str(ref)) from None
        scaled = est.energy.compute_j + est.energy.static_j
        if row.device not in bases:
            bases[row.device] = power_basis(row.device)
        prof = load_profile(row.device)
        out.append(PowerRow(
            line=row.line, device=row.device, runtime=row.runtime, benchmark=row.benchmark,
            basis=bases[row.device], shipped_factor=prof.power.board_power_factor,
            measured_energy_uj=row.energy_uj, predicted_energy_uj=est.energy_j * 1e6,
            measured_latency_ms=row.latency_ms, predicted_latency_ms=est.latency_s * 1e3,
            scaled_fraction=scaled / est.energy_j if est.energy_j > 0 else 0.0,
            supply_scale=supply_scale(row), current_basis=prof.power.run_current_basis,
        ))
    return tuple(out)


def fit_board_power(rows: Sequence[PowerRow]) -> BoardPowerFit:
    """Per-device factors, the fallback, and the errors of the three protocols (module docstring)."""
    by_device: dict[str, list[PowerRow]] = {}
    for r in rows:
        by_device.setdefault(r.device, []).append(r)
    devices = tuple(
        DeviceFactor(d, rs[0].basis, len(rs), rs[0].shipped_factor, _geomean([r.exact_factor for r in rs]),
                     _log_sd([r.exact_factor for r in rs]), rs[0].current_basis)
        for d, rs in sorted(by_device.items()))
    fitted = {d.device: d.fitted for d in devices}

    def fallback_without(device: str) -> float:
        return _fallback_without(devices, device)

    def held_out_benchmark(r: PowerRow) -> float:
        return r.energy_error_at(_held_out_factor(rows, devices, r, "benchmark"))

    basis_factors = [d.fitted for d in devices if d.basis == RUN_CURRENT_BASIS]
    fallback = Fallback(RUN_CURRENT_BASIS, _geomean(basis_factors) if basis_factors else 1.0,
                        min(basis_factors, default=1.0), max(basis_factors, default=1.0), len(basis_factors))
    return BoardPowerFit(
        rows=tuple(rows), devices=devices, fallback=fallback,
        fit_errors=tuple(r.energy_error_at(fitted[r.device]) for r in rows),
        held_out_benchmark_errors=tuple(held_out_benchmark(r) for r in rows),
        lodo_errors=tuple(r.energy_error_at(fallback_without(r.device)) for r in rows),
        shipped_errors=tuple(r.energy_error_at(r.shipped_factor) for r in rows),
        current_basis_lodo_errors=tuple(r.energy_error_at(_fallback_without(devices, r.device, by_current_basis=True))
                                        for r in rows),
    )


def _fallback_without(devices: Sequence[DeviceFactor], device: str, also: str = "",
                      by_current_basis: bool = False) -> float:
    """The factor ``device`` would get as a new chip: the geometric mean of the other devices of its basis
    (``also``: one more device left out, for a coverage check that holds that one out too). ``by_current_basis``:
    only the peers whose run current is of the same kind (table value, derived table estimate included, or
    headline) when there are any."""
    me = next(d for d in devices if d.device == device)
    peers = [d for d in devices if d.device not in (device, also) and d.basis == me.basis]
    if by_current_basis:
        peers = [d for d in peers if _same_kind(d.current_basis, me.current_basis)] or peers
    return _geomean([d.fitted for d in peers]) if peers else 1.0  # no peer of its basis: the unscaled datasheet basis


def _same_kind(a: RunCurrentBasis | None, b: RunCurrentBasis | None) -> bool:
    """Whether two run currents are the same kind of figure (a derived table estimate counts as a table value)."""
    return (a.estimates if a is not None else None) is (b.estimates if b is not None else None)


def _held_out_factor(rows: Sequence[PowerRow], devices: Sequence[DeviceFactor], r: PowerRow, left_out: str) -> float:
    """The factor fitted on ``r``'s device without the rows that share its ``left_out`` ("benchmark" or
    "runtime"); the new-chip fallback when the device has no other rows."""
    others = [x.exact_factor for x in rows
              if x.device == r.device and getattr(x, left_out) != getattr(r, left_out)]
    return _geomean(others) if others else _fallback_without(devices, r.device)


def power_log_at(r: PowerRow, energy_error: float) -> float:
    """log(measured / predicted power) of a row whose energy error at the shipped latency is ``energy_error``."""
    return -math.log((1.0 + energy_error) * r.measured_latency_ms / r.predicted_latency_ms)


@dataclass(frozen=True)
class HeldOutPower:
    """Per reference line, log(measured / predicted power) with a factor fitted without the row, as each novelty
    class would see the board (``edgesim.validate.intervals``): a measured device's row with the factor of its
    other benchmarks; a new device's with the fallback fitted without the device (the factor a new chip of its
    basis gets); a new runtime's with the factor of the device's rows with other runtimes (the fallback without
    the device when it has none)."""

    measured_device: tuple[tuple[int, float], ...]
    new_device: tuple[tuple[int, float], ...]
    new_runtime: tuple[tuple[int, float], ...]
    # per line, the new-device residual with one more board of the basis left out of the fallback, by that board:
    # what a coverage check that holds that board out must use for this row (nested leave-one-device-out)
    new_device_without: tuple[tuple[int, tuple[tuple[str, float], ...]], ...] = ()


def held_out_power_logs(fit: BoardPowerFit) -> HeldOutPower:
    rows, devs = fit.rows, fit.devices
    return HeldOutPower(
        tuple((r.line, power_log_at(r, r.energy_error_at(_held_out_factor(rows, devs, r, "benchmark"))))
              for r in rows),
        tuple((r.line, power_log_at(r, r.energy_error_at(_fallback_without(devs, r.device)))) for r in rows),
        tuple((r.line, power_log_at(r, r.energy_error_at(_held_out_factor(rows, devs, r, "runtime"))))
              for r in rows),
        tuple((r.line, tuple((d.device, power_log_at(r, r.energy_error_at(_fallback_without(devs, r.device,
                                                                                           d.device))))
                             for d in devs if d.device != r.device and d.basis == r.basis))
              for r in rows),
    )


def new_device_energy_errors(fit: BoardPowerFit, lodo_latency_errors: dict[int, float]) -> dict[int, float]:
    """Energy error per row (by reference line) of a device predicted as new in both halves: its latency from
    runtimes refitted without it (``leave_one_device_out``) and its power from the fallback fitted without it.
    Energy = latency x power, so the two relative errors compound. Rows without a LODO latency are left out."""
    out: dict[int, float] = {}
    for r, energy_err in zip(fit.rows, fit.lodo_errors, strict=True):
        if r.line not in lodo_latency_errors:
            continue
        power_err = (1.0 + energy_err) * r.measured_latency_ms / r.predicted_latency_ms - 1.0
        out[r.line] = (1.0 + lodo_latency_errors[r.line]) * (1.0 + power_err) - 1.0
    return out


def summary(ref: str | Path | None = None) -> str:
    """The fit, its held-out errors, and the energy error of each device predicted as a new one (latency and
    power both left out): what ``main`` prints and docs/validation.md quotes."""
    from edgesim.validate.calibrate import leave_one_device_out

    fit = fit_board_power(power_rows(ref))
    lodo = leave_one_device_out(ref)
    errs = new_device_energy_errors(fit, {r.line: r.latency_error for r in lodo.rows
                                          if r.latency_error is not None})
    by_device: dict[str, list[float]] = {}
    for r in fit.rows:
        if r.line in errs:
            by_device.setdefault(r.device, []).append(abs(errs[r.line]))
    parts = [f"{d} {sum(v) / len(v):.1%} ({len(v)})" for d, v in sorted(by_device.items())]
    total = [abs(e) for e in errs.values()]
    return (f"{fit.table()}\nnew device (LODO latency x LODO power): energy MAPE "
            f"{sum(total) / max(len(total), 1):.1%} over {len(total)} rows; " + ", ".join(parts))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edgesim.validate.board_power [REFERENCE.csv]``: print ``summary``."""
    args = list(sys.argv[1:] if argv is None else argv)
    print(summary(args[0] if args else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
