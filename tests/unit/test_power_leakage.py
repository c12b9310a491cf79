"""Temperature-dependent leakage in sustained runs: optional per profile, heats the die when present."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from edgesim.api import load_model, load_profile
from edgesim.hw.schema import PowerSpec
from edgesim.pipeline import run_on
from edgesim.thermal.loop import leakage_scale
from edgesim.thermal.sustain import characterise, sustain
from tests._helpers import base_run


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    graph = load_model("resnet8")
    prof = load_profile("rpi5-cooler")
    base = run_on(base_run(graph, prof), prof)
    return base, prof, characterise(base)


def _with_leak(prof, coeff: float | None, ref_c: float = 25.0):  # type: ignore[no-untyped-def]
    power = prof.power.model_copy(update={"leakage_temp_coeff_per_c": coeff, "leakage_ref_temp_c": ref_c})
    return prof.model_copy(update={"power": power})


def test_scale_formula() -> None:
    spec = PowerSpec(static_power_mw=1000.0, idle_power_mw=1.0, sleep_power_mw=0.1,
                     leakage_temp_coeff_per_c=0.03, leakage_ref_temp_c=25.0)
    assert spec.static_power_w_at(25.0) == pytest.approx(1.0)
    assert spec.static_power_w_at(48.1049) == pytest.approx(2.0, rel=1e-4)  # ln 2 / 0.03 K above T_ref
    assert PowerSpec(static_power_mw=1000.0, idle_power_mw=1.0, sleep_power_mw=0.1).static_power_w_at(90.0) == 1.0
    with pytest.raises(ValidationError):
        PowerSpec(static_power_mw=1.0, idle_power_mw=1.0, sleep_power_mw=0.1, leakage_temp_coeff_per_c=-0.01)


def test_leakage_raises_steady_temperature(setup) -> None:  # type: ignore[no-untyped-def]
    run, prof, points = setup
    kw = dict(duration_s=900.0, rate_hz=20.0, points=points)
    base = sustain(run, **kw)
    hot = sustain(run_on(run, _with_leak(prof, 0.02)), **kw)
    assert hot.final_temp_c > base.final_temp_c + 3.0
    assert hot.average_power_w > base.average_power_w
    # The extra power is the leakage factor at the final die temperature (power node = sensor node on the Pi).
    extra = hot.power_w[-1] - base.power_w[-1]
    expected = points[-1].static_power_w * (math.exp(0.02 * (hot.temp_c[-2] - 25.0)) - 1.0)
    assert extra == pytest.approx(expected, rel=1e-6)
    # Referenced at a hotter temperature, the same coefficient leaks less below it: cooler.
    cool = sustain(run_on(run, _with_leak(prof, 0.02, ref_c=90.0)), **kw)
    assert cool.final_temp_c < base.final_temp_c


def test_absent_or_zero_coefficient_is_a_no_op(setup) -> None:  # type: ignore[no-untyped-def]
    run, prof, points = setup
    assert prof.power.leakage_temp_coeff_per_c is None
    assert leakage_scale(prof)(120.0) == 1.0
    kw = dict(duration_s=300.0, rate_hz=20.0, points=points)
    base = sustain(run, **kw)
    zero = sustain(run_on(run, _with_leak(prof, 0.0)), **kw)
    assert zero.temp_c == base.temp_c and zero.power_w == base.power_w
