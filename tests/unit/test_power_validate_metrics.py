"""Energy metrics of `edgesim validate`: energy where latency is right, and the power error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesim.validate.core import LATENCY_RIGHT, ReferenceRow, RowResult, summarize, validate, write_json


def _row(line: int, lat_meas: float, lat_pred: float, e_meas: float | None, e_pred: float | None) -> RowResult:
    return RowResult(line, "d", "r", "b", "m", 100.0, lat_meas, lat_pred, e_meas, e_pred)


def test_power_error_is_energy_error_at_exact_latency() -> None:
    # Latency 2x too slow and energy 2x too high: the power (energy / latency) is exact.
    r = _row(1, 10.0, 20.0, 100.0, 200.0)
    assert r.energy_error == pytest.approx(1.0)
    assert r.power_error == pytest.approx(0.0)
    # Right latency: power error equals energy error.
    r = _row(2, 10.0, 10.0, 100.0, 80.0)
    assert r.power_error == pytest.approx(r.energy_error) == pytest.approx(-0.2)
    # 25% fast and 40% low energy: predicted 6 mW vs measured 10 mW ... per ms: (60/7.5) / (100/10) - 1 = -0.2.
    r = _row(3, 10.0, 7.5, 100.0, 60.0)
    assert r.power_error == pytest.approx(-0.2)
    assert _row(4, 10.0, 10.0, None, 50.0).power_error is None
    assert _row(5, 10.0, None, 100.0, None).power_error is None  # type: ignore[arg-type]


def test_latency_right_bound_is_inclusive_and_symmetric() -> None:
    assert LATENCY_RIGHT == pytest.approx(0.10)
    assert _row(1, 10.0, 11.0, None, None).latency_right
    assert _row(2, 10.0, 9.0, None, None).latency_right
    assert not _row(3, 10.0, 11.2, None, None).latency_right
    assert not _row(4, 10.0, 8.8, None, None).latency_right


def test_summarize_energy_where_latency_is_right() -> None:
    rows = [
        _row(1, 10.0, 10.5, 100.0, 110.0),  # latency right, energy +10%
        _row(2, 10.0, 9.5, 100.0, 70.0),  # latency right, energy -30%
        _row(3, 10.0, 20.0, 100.0, 300.0),  # latency +100%: excluded; power +50%
        _row(4, 10.0, 10.0, None, None),  # no energy measured
    ]
    s = summarize("b", rows)
    assert s.energy_rows == 3
    assert s.energy_latency_right_rows == 2
    assert s.energy_latency_right_mape == pytest.approx(0.2)
    assert s.energy_latency_right_median_ape == pytest.approx(0.2)
    powers = [abs(110 / 10.5 / 10 - 1), abs(70 / 9.5 / 10 - 1), 0.5]
    assert s.power_mape == pytest.approx(sum(powers) / 3)
    assert s.power_median_ape == pytest.approx(sorted(powers)[1])
    empty = summarize("b", [_row(1, 10.0, 30.0, 100.0, 100.0)])
    assert empty.energy_latency_right_rows == 0 and empty.energy_latency_right_mape is None


def test_validate_prints_and_writes_the_energy_metrics(tmp_path: Path) -> None:
    p = tmp_path / "ref.csv"
    p.write_text("device,runtime,runtime_version,clock_mhz,benchmark,model_file,latency_ms,energy_uj\n"
                 "a,r,,100,b1,m1,10,100\nb,r,,100,b1,m1,20,200\nc,r,,100,b1,m1,40,\n", encoding="utf-8")

    def predict(row: ReferenceRow) -> tuple[float, float]:
        # a: latency right, energy -20%; b: latency 50% slow, energy right (power -33%)
        if row.device == "a":
            return row.latency_ms, 80.0
        return row.latency_ms * 1.5, (row.energy_uj or 1.0)

    res = validate(p, predictor=predict)
    o = res.overall
    assert o.energy_latency_right_rows == 1 and o.energy_latency_right_mape == pytest.approx(0.2)
    assert o.power_mape == pytest.approx((0.2 + 1 / 3) / 2)
    text = res.table()
    assert "energy where |latency error| <= 10%" in text and "P MAPE" in text
    data = json.loads(write_json(res, tmp_path / "v.json").read_text())
    assert data["latency_right_bound"] == pytest.approx(0.1)
    assert data["overall"]["energy_latency_right_rows"] == 1
    assert data["overall"]["power_mape"] == pytest.approx((0.2 + 1 / 3) / 2)
    by_dev = {r["device"]: r for r in data["rows"]}
    assert by_dev["a"]["latency_right"] is True and by_dev["b"]["latency_right"] is False
    assert by_dev["b"]["power_error"] == pytest.approx(-1 / 3)
    assert by_dev["c"]["power_error"] is None
