"""Per-device board-power factors on the MLPerf Tiny energy rows (edgesim.validate.board_power), pinned.

Issue #18's target: energy MAPE <= 18% on rows not used for fitting. Figures of 2026-12-06 (docs/validation.md,
`python -m edgesim.validate.board_power`) plus a small margin.
"""

from __future__ import annotations

import pytest

from tests.golden.conftest import REF, SHARED


@pytest.fixture(scope="module")
def fit():  # type: ignore[no-untyped-def]
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("bundled reference data (edgesim/data) not present")
    from edgesim.validate.board_power import fit_board_power, power_rows

    return fit_board_power(power_rows(REF))


def _mape(errs) -> float:  # type: ignore[no-untyped-def]
    return sum(abs(e) for e in errs) / len(errs)


def test_shipped_factors_are_the_fitted_ones(fit) -> None:  # type: ignore[no-untyped-def]
    # A profile whose energy basis or latency changes must be refitted (the command in the module docstring).
    assert {d.device for d in fit.devices} == {"stm32l4r5", "stm32h7a3", "stm32u575", "stm32u385", "gap9",
                                                "efr32mg24"}
    for d in fit.devices:
        assert d.fitted == pytest.approx(d.shipped, rel=0.02), (d.device, d.fitted, d.shipped)


def test_energy_on_rows_not_used_for_fitting(fit) -> None:  # type: ignore[no-untyped-def]
    assert len(fit.rows) == 83
    # 2026-12-07, each submission at its supply (edgesim.validate.supply); 2026-12-06 without: 14.9%, 15.3%, 25.4%
    assert _mape(fit.shipped_errors) <= 0.135  # 11.8% (22.4% with one global factor 1.5)
    assert _mape(fit.held_out_benchmark_errors) <= 0.14  # 12.3%: the factor fitted on the device's other benchmarks
    # A new device gets the fallback fitted on the others: 14.2% with stm32u575, stm32u385 and stm32h7a3 charged at
    # their datasheet table rows and stm32l4r5 at its headline x the STM32L4 dies' table/headline ratio (derived;
    # 21.8% with its bare headline, 20.7% with stm32u575's table row alone, 22.7% with none; 25.4% with the single
    # global factor): the five Cortex-M factors come within 1.09-1.48 (log sd 0.10; 0.18 with the headline).
    assert _mape(fit.lodo_errors) <= 0.16


def test_fallback_range_covers_every_fitted_mcu(fit) -> None:  # type: ignore[no-untyped-def]
    fb = fit.fallback
    assert fb.devices == 5 and fb.lo < fb.value < fb.hi
    # 1.276 [1.086, 1.483] (1.334 [1.086, 1.853] with stm32l4r5's bare headline; 1.475 before stm32u385's and
    # stm32h7a3's table rows, 1.452 before stm32u575's, 1.477 before the supplies)
    assert 1.2 <= fb.value <= 1.4 and fb.hi / fb.lo < 1.45


def test_profiles_without_rows_carry_the_fitted_fallback(fit) -> None:  # type: ignore[no-untyped-def]
    # A refit that moves the fallback must be written into the profiles of devices without energy rows: the
    # fallback and its range for a run current of the basis, factor 1 with the fallback's relative range for a
    # maximum (an upper bound).
    from edgesim.api import load_profile
    from edgesim.hw.schema_base import RunCurrentBasis
    from edgesim.hw.uncertain import uncertain_fields

    fb = fit.fallback
    for device in ("nrf5340", "ra6m4", "m467", "psoc62", "stm32g0b1", "stm32f746", "ra8d1"):
        prof = load_profile(device)
        f = {u.path: u for u in uncertain_fields(prof)}["power.board_power_factor"]
        if prof.power.run_current_basis is RunCurrentBasis.MAXIMUM:
            expected = (1.0, fb.lo / fb.value, fb.hi / fb.value)
        else:
            expected = (fb.value, fb.lo, fb.hi)
        assert (f.value, f.lo, f.hi) == pytest.approx(expected, abs=1.5e-3), device


def test_validation_doc_quotes_the_fit() -> None:
    from edgesim.validate.board_power import summary
    from tests.conftest import REPO

    if not REF.is_file():
        pytest.skip("bundled reference data (edgesim/data) not present")
    text = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    block = text.split("<!-- board-power:begin -->", 1)[1].split("<!-- board-power:end -->", 1)[0]
    assert block.strip() == f"```text\n{summary(REF)}\n```"
