"""A measurement's supply voltage on a part whose power follows it (edgesim.validate.supply): which rows, and how
the board-power fit and ``validate`` predict them at their supply."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edgesim.validate.board_power import RUN_CURRENT_BASIS, PowerRow, fit_board_power
from edgesim.validate.core import default_reference, read_reference
from edgesim.validate.supply import SUPPLY_SETUPS, supply_scales


def test_the_sourced_setups_match_rows_of_the_bundled_reference() -> None:
    ref = default_reference()
    scales = supply_scales(ref)
    rows = {r.line: r for r in read_reference(ref)}
    for s in SUPPLY_SETUPS:
        assert s.source and s.supply_v > 0 and s.basis_v > 0
    assert scales, "Krai's 3.0 V STM32L4R5 rows"
    assert all(rows[line].device == "stm32l4r5" for line in scales)
    assert all(v == pytest.approx(3.0 / 1.8) for v in scales.values())
    assert sum(rows[line].energy_uj is not None for line in scales) == 6


def test_a_reference_without_the_submission_columns_has_no_setups(tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text("device,runtime,runtime_version,clock_mhz,benchmark,model_file,latency_ms,energy_uj\n"
                   "stm32l4r5,x-cube-ai,7.3.0,120,keyword_spotting,kws_ref_model.tflite,60,3000\n")
    assert supply_scales(csv) == {}


def _row(line: int, meas_mw: float, scale: float) -> PowerRow:
    # predicted 20 mW at the basis supply, 10 ms measured and predicted
    return PowerRow(line, "board", "rt", f"b{line}", RUN_CURRENT_BASIS, 1.0, meas_mw * 10.0, 200.0, 10.0, 10.0, 0.9,
                    supply_scale=scale)


def test_a_row_at_a_higher_supply_gives_the_factor_at_the_basis_supply() -> None:
    """Two setups of one board, the second at 5/3 the supply and so 5/3 the power: one factor fits both."""
    rows = [_row(1, 30.0, 1.0), _row(2, 50.0, 5.0 / 3.0)]
    assert rows[0].exact_factor == pytest.approx(rows[1].exact_factor)
    fit = fit_board_power(rows)
    assert fit.devices[0].log_sd == pytest.approx(0.0, abs=1e-12)
    assert all(abs(e) < 1e-12 for e in fit.fit_errors)
    # without the supply, the same rows blend two setups: a spread and errors of +-25%
    plain = fit_board_power([replace(r, supply_scale=1.0) for r in rows])
    assert plain.devices[0].log_sd > 0.2 and max(abs(e) for e in plain.fit_errors) > 0.2


def test_validate_predicts_those_rows_at_their_supply() -> None:
    from edgesim.validate import validate

    ref = default_reference()
    scales = supply_scales(ref)
    seen = []

    def predictor(row):  # type: ignore[no-untyped-def]
        seen.append(row.line)
        return 1.0, 100.0

    res = validate(ref, predictor=predictor)
    by_line = {r.line: r for r in res.rows}
    assert seen and all(by_line[line].predicted_energy_uj == pytest.approx(100.0 * s) for line, s in scales.items())
    other = next(line for line in by_line if line not in scales)
    assert by_line[other].predicted_energy_uj == 100.0
