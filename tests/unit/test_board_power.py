"""The board-power factor: the schema field scales compute energy and static power, and the fit's arithmetic."""

from __future__ import annotations

import math

import pytest

from edgesim.api import load_model, load_profile, resolve_runtime
from edgesim.cost.analytic import estimate_schedule
from edgesim.hw.schema_base import RunCurrentBasis
from edgesim.hw.uncertain import uncertain_fields, with_field
from edgesim.mapping.mapper import build_schedule
from edgesim.validate.board_power import (
    RUN_CURRENT_BASIS,
    PowerRow,
    fit_board_power,
    held_out_power_logs,
    power_basis,
    power_log_at,
)
from tests.conftest import REPO


def _row(device: str, bench: str, meas_mw: float, pred_mw: float, *, s: float = 0.9, k: float = 1.5,
         basis: str = RUN_CURRENT_BASIS, line: int = 1, runtime: str = "x-cube-ai",
         kind: RunCurrentBasis | None = None) -> PowerRow:
    # 10 ms measured and predicted: energy uJ = mW x 10
    return PowerRow(line, device, runtime, bench, basis, k, meas_mw * 10.0, pred_mw * 10.0, 10.0, 10.0, s,
                    current_basis=kind)


def test_factor_scales_compute_and_static_energy_not_memory() -> None:
    prof = load_profile("stm32u575")
    graph = load_model("resnet8")
    rt, ver = resolve_runtime(prof, None)
    sched = build_schedule(graph, prof, rt, ver)
    base = estimate_schedule(sched, prof)
    k = prof.power.board_power_factor
    doubled = with_field(prof, "power.board_power_factor", 2 * k)
    est = estimate_schedule(sched, doubled)
    assert est.latency_s == base.latency_s
    assert est.energy.compute_j == pytest.approx(2 * base.energy.compute_j, rel=1e-12)
    assert est.energy.static_j == pytest.approx(2 * base.energy.static_j, rel=1e-12)
    assert dict(est.energy.memory_j) == pytest.approx(dict(base.energy.memory_j), rel=1e-12)


def test_exact_factor_makes_the_row_power_exact() -> None:
    r = _row("a", "kws", meas_mw=30.0, pred_mw=40.0, s=0.8, k=1.5)
    # fixed part 8 mW stays; scaled 32 mW must become 22 mW -> k = 1.5 x 22 / 32
    assert r.exact_factor == pytest.approx(1.5 * 22.0 / 32.0)
    assert r.energy_error_at(r.exact_factor) == pytest.approx(0.0, abs=1e-12)
    assert r.energy_error_at(1.5) == pytest.approx(40.0 / 30.0 - 1.0)
    # measured below the unscaled part: a tiny positive factor, never a negative one
    assert _row("a", "kws", meas_mw=1.0, pred_mw=40.0, s=0.5).exact_factor > 0


def test_fit_protocols_hold_out_what_they_claim() -> None:
    rows = [_row("a", "kws", 30, 20), _row("a", "vww", 36, 20), _row("b", "kws", 20, 20), _row("b", "ic", 22, 20),
            _row("g", "kws", 10, 10, basis="g")]
    fit = fit_board_power(rows)
    fa = {d.device: d.fitted for d in fit.devices}
    assert fa["a"] == pytest.approx(math.sqrt(rows[0].exact_factor * rows[1].exact_factor))
    # held-out benchmark: row 0 predicted with the factor of row 1 alone
    assert fit.held_out_benchmark_errors[0] == pytest.approx(rows[0].energy_error_at(rows[1].exact_factor))
    # leave-one-device-out: device a gets b's factor (the only other device of its basis); g has no peer: 1.0
    assert fit.lodo_errors[0] == pytest.approx(rows[0].energy_error_at(fa["b"]))
    assert fit.lodo_errors[4] == pytest.approx(rows[4].energy_error_at(1.0))
    assert fit.fallback.devices == 2 and fit.fallback.lo == min(fa["a"], fa["b"])
    assert fit.fallback.value == pytest.approx(math.sqrt(fa["a"] * fa["b"]))
    assert "fallback" in fit.table()


def test_profiles_without_energy_rows_carry_a_derived_ranged_factor() -> None:
    for device in ("nrf5340", "ra6m4", "m467", "psoc62", "stm32g0b1", "stm32f746", "ra8d1"):
        prof = load_profile(device)
        f = {u.path: u for u in uncertain_fields(prof)}["power.board_power_factor"]
        assert f.derived and f.lo < f.value < f.hi, device
        assert power_basis(device) == RUN_CURRENT_BASIS
    assert power_basis("gap9") == "gap9"


def test_mcu_profiles_say_what_their_run_current_is() -> None:
    # The basis is typed in the profile (power.run_current_basis), cited in its comment: a table value at the
    # benchmark clock where the datasheet table is known, a headline otherwise, a maximum for all-on figures.
    kinds = {d: load_profile(d).power.run_current_basis for d in (
        "stm32l4r5", "stm32h7a3", "stm32u575", "stm32u385", "efr32mg24", "nrf5340", "psoc62", "ra6m4", "m467",
        "stm32g0b1", "stm32f746", "ra8d1")}
    assert kinds["stm32u575"] is RunCurrentBasis.TABLE  # DS13086 Table 39, not the 19.5 uA/MHz headline
    assert kinds["stm32u385"] is RunCurrentBasis.TABLE  # DS14830 Table 36, not the 10 uA/MHz while(1) headline
    assert kinds["stm32h7a3"] is RunCurrentBasis.TABLE  # DS13195 Table 35 at 280 MHz in VOS0
    # DS12023 headline x the STM32L4 dies' table/headline ratio (no DS12023 table copy found)
    assert kinds["stm32l4r5"] is RunCurrentBasis.DERIVED and kinds["efr32mg24"] is RunCurrentBasis.HEADLINE
    assert {d for d, k in kinds.items() if k is RunCurrentBasis.MAXIMUM} == {"stm32f746", "ra8d1"}
    assert all(k is not None for k in kinds.values())
    for device in ("stm32f746", "ra8d1"):  # an upper bound: no board-power factor on top of it
        assert load_profile(device).power.board_power_factor == 1.0
    # GAP9 extends the STM32L4R5 profile but is charged per cluster cycle: it must not inherit a run-current kind
    assert load_profile("gap9").power.run_current_basis is None


@pytest.mark.parametrize(("device", "i_run_ma", "clock_mhz", "supply_v"), [
    # DS13086 (STM32U585, the U575's die; DS13737 Table 38 gives the same row) Table 39: SMPS, 160 MHz, Range 1,
    # typ 10.50 mA at V_DD = 1.8 V, the supply of every U575 energy row (ST's NUCLEO-U575ZI-Q, 'Operating at 1.8V
    # / SMPS').
    ("stm32u575", 10.50, 160.0, 1.8),
    # DS14830 Rev 3 Table 36: SMPS, 96 MHz (MSI), Range 1, reduced code, typ 2.65 mA in the 1.8 V column, the
    # supply of ST's v1.3 U385 rows ('Operating at 1.8V / SMPS').
    ("stm32u385", 2.65, 96.0, 1.8),
    # DS13195 Rev 8 Table 35: SMPS, 280 MHz, VOS0, flash with cache on, all peripherals off, typ 33.5 mA at the
    # datasheet's typical V_DD 3.3 V (the SMPS power about constant in V_DD; the board runs at 3.0 V).
    ("stm32h7a3", 33.5, 280.0, 3.3),
])
def test_table_parts_charge_their_datasheet_row_at_the_benchmark_point(
        device: str, i_run_ma: float, clock_mhz: float, supply_v: float) -> None:
    # The rule charges 90% of i_run x V per busy cycle and 10% as static power at the profile clock, which is the
    # MLPerf Tiny benchmark clock of the part's rows.
    prof = load_profile(device)
    assert prof.clock_mhz == clock_mhz
    i_run_ua_per_mhz = i_run_ma * 1e3 / clock_mhz
    cpu = next(u for u in prof.units if u.name == "cpu")
    assert cpu.active_energy_pj_per_cycle == pytest.approx(0.9 * i_run_ua_per_mhz * supply_v, rel=1e-3)
    run_mw = i_run_ma * supply_v
    assert prof.power.static_power_mw == pytest.approx(0.1 * run_mw, rel=1e-3)
    assert prof.power.run_current_basis is RunCurrentBasis.TABLE


# The STM32L4 dies' typical Run-mode current at Range 1, 80 MHz (code with data processing from flash, ART on:
# cache on, prefetch off; LDO; 25 C) and their datasheets' front-page "uA/MHz run mode" (LDO) figure. Tables:
# DS12469/DS12470 Table 25 (L41x/L42x), DS11453 Table 26 / DS11451 / DS11450 Table 25 (L43x/L44x), DS11910 /
# DS11912 Table 27, DS11913 Table 26 (L45x/L46x), DS10741 / DS10969 Table 27 (L47x/L48x), the STM32L496xx /
# STM32L4A6xx datasheets' Table 26 (L49x/L4Ax).
_L4_DIES_TABLE_MA_AT_80_MHZ_AND_HEADLINE_UA_PER_MHZ = {
    "L41x/L42x": (7.30, 79.0), "L43x/L44x": (8.53, 84.0), "L45x/L46x": (8.45, 84.0), "L47x/L48x": (10.2, 100.0),
    "L49x/L4Ax": (9.44, 91.0)}


def test_l4r5_charges_its_headline_times_the_l4_dies_table_to_headline_ratio() -> None:
    # DS12023's Run-mode table is not available: the basis is its 110 uA/MHz (LDO) headline x the geometric mean
    # over the STM32L4 dies of (table at the top operating point / headline), the dies' smallest and largest
    # ratio as the range, at the board's 1.8 V; 90% per busy cycle, 10% static at 120 MHz. Fails if the profile
    # still charges the bare headline (178.2 pJ/cycle) or a ratio not taken from these datasheet rows.
    ratios = [ma * 1e3 / 80.0 / head for ma, head in _L4_DIES_TABLE_MA_AT_80_MHZ_AND_HEADLINE_UA_PER_MHZ.values()]
    ratio = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    assert 1.15 < min(ratios) and max(ratios) < 1.30 and ratio == pytest.approx(1.250, abs=1e-3)
    prof = load_profile("stm32l4r5")
    assert prof.power.run_current_basis is RunCurrentBasis.DERIVED
    i_run_ua_per_mhz, supply_v = 110.0 * ratio, 1.8
    cpu = next(u for u in prof.units if u.name == "cpu")
    assert cpu.active_energy_pj_per_cycle == pytest.approx(0.9 * i_run_ua_per_mhz * supply_v, rel=1e-3)
    assert prof.power.static_power_mw == pytest.approx(0.1 * i_run_ua_per_mhz * supply_v * 120.0e-3, rel=1e-3)
    # the range the dies' ratios give, quoted in the profile comment (a plain number there: the fitted factor
    # absorbs the basis on this measured board)
    lo, hi = (0.9 * 110.0 * r * supply_v for r in (min(ratios), max(ratios)))
    assert (round(lo, 1), round(hi, 1)) == (205.8, 231.1)
    assert "range 205.8-231.1" in (REPO / "hw_profiles" / "stm32l4r5.yaml").read_text(encoding="utf-8")


def test_a_derived_run_current_counts_as_a_table_value() -> None:
    derived, table, head = RunCurrentBasis.DERIVED, RunCurrentBasis.TABLE, RunCurrentBasis.HEADLINE
    assert derived.estimates is table and table.estimates is table and head.estimates is head
    rows = [_row("a", "kws", 30, 20, kind=derived, line=1), _row("b", "kws", 26, 20, kind=table, line=2),
            _row("c", "kws", 18, 20, kind=head, line=3), _row("d", "kws", 24, 20, kind=table, line=4)]
    fit = fit_board_power(rows)
    fa = {d.device: d.fitted for d in fit.devices}
    # the derived device's same-kind peers are the table devices (b, d), not the headline one
    assert fit.current_basis_lodo_errors[0] == pytest.approx(rows[0].energy_error_at(math.sqrt(fa["b"] * fa["d"])))
    assert f"a {fa['a']:.3f} (derived)" in fit.table()


def test_fallback_per_run_current_kind_uses_same_kind_peers_else_the_basis() -> None:
    head, table = RunCurrentBasis.HEADLINE, RunCurrentBasis.TABLE
    rows = [_row("a", "kws", 30, 20, kind=head, line=1), _row("b", "kws", 26, 20, kind=head, line=2),
            _row("c", "kws", 18, 20, kind=table, line=3), _row("d", "kws", 24, 20, kind=head, line=4)]
    fit = fit_board_power(rows)
    fa = {d.device: d.fitted for d in fit.devices}
    assert {d.device: d.current_basis for d in fit.devices}["c"] is table
    # a headline device: the other headline devices only (b, d), not the table one
    assert fit.current_basis_lodo_errors[0] == pytest.approx(rows[0].energy_error_at(math.sqrt(fa["b"] * fa["d"])))
    assert fit.lodo_errors[0] == pytest.approx(rows[0].energy_error_at((fa["b"] * fa["c"] * fa["d"]) ** (1 / 3)))
    # the only table device has no same-kind peer: the basis's fallback, as shipped
    assert fit.current_basis_lodo_errors[2] == pytest.approx(fit.lodo_errors[2])
    assert "headline" in fit.table() and "by kind" in fit.table()


def test_held_out_power_logs_never_use_the_rows_own_factor() -> None:
    rows = [_row("a", "kws", 30, 20, line=1), _row("a", "vww", 36, 20, line=2, runtime="tflm"),
            _row("a", "ic", 33, 20, line=3, runtime="tflm"), _row("b", "kws", 20, 20, line=4),
            _row("b", "ic", 22, 20, line=5), _row("c", "kws", 15, 20, line=6)]
    fit = fit_board_power(rows)
    held = held_out_power_logs(fit)
    fa = {d.device: d.fitted for d in fit.devices}
    r = rows[0]
    # 10 ms predicted and measured: log(measured / predicted power) = -log(1 + energy error)
    assert power_log_at(r, 0.25) == pytest.approx(-math.log(1.25))
    # measured device: the factor of the device's other benchmarks
    others = math.sqrt(rows[1].exact_factor * rows[2].exact_factor)
    assert dict(held.measured_device)[1] == pytest.approx(-math.log1p(r.energy_error_at(others)))
    # new device: the fallback fitted without it (b and c, not a)
    fallback = math.sqrt(fa["b"] * fa["c"])
    assert dict(held.new_device)[1] == pytest.approx(-math.log1p(r.energy_error_at(fallback)))
    assert dict(held.new_device)[1] != pytest.approx(-math.log1p(r.energy_error_at(fa["a"])))
    # new runtime: the device's rows with other runtimes (a's tflm rows); b has one runtime only: the fallback
    assert dict(held.new_runtime)[1] == pytest.approx(-math.log1p(r.energy_error_at(others)))
    assert dict(held.new_runtime)[2] == pytest.approx(-math.log1p(rows[1].energy_error_at(rows[0].exact_factor)))
    fb_b = math.sqrt(fa["a"] * fa["c"])
    assert dict(held.new_runtime)[4] == pytest.approx(-math.log1p(rows[3].energy_error_at(fb_b)))
    # nested for the coverage check: a's row with b also left out of the fallback gets c's factor alone
    nested = dict(dict(held.new_device_without)[1])
    assert set(nested) == {"b", "c"}
    assert nested["b"] == pytest.approx(-math.log1p(r.energy_error_at(fa["c"])))


def test_llm_machine_carries_the_board_power_factor_like_the_cost_model() -> None:
    from edgesim.llm.machine import machine

    prof = load_profile("rpi5")
    doubled = with_field(prof, "power.board_power_factor", 2 * prof.power.board_power_factor)
    a, b = machine(prof, "cpu", None), machine(doubled, "cpu", None)
    assert b.static_power_w == pytest.approx(2 * a.static_power_w) and b.static_power_w == doubled.power.static_power_w
    assert a.active_pj_per_cycle is not None and b.active_pj_per_cycle == pytest.approx(2 * a.active_pj_per_cycle)
    assert b.mac_energy_pj == pytest.approx({p: 2 * e for p, e in a.mac_energy_pj.items()})
    assert b.dram_pj_per_byte == a.dram_pj_per_byte  # per byte, not scaled (cost/analytic.py)
