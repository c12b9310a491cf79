"""big.LITTLE placement policies on the RK3588 profile: temperature vs latency over a sustained run."""

from __future__ import annotations

import pytest

from edgesim.api import load_profile
from edgesim.errors import EdgesimError
from edgesim.pipeline import run_on
from edgesim.thermal.big_little import (
    Policy,
    _on_fraction,
    characterise_little,
    compare_policies,
    little_profile,
    run_big_little,
)
from edgesim.thermal.sustain import characterise
from tests._helpers import base_run


@pytest.fixture(scope="module")
def ctx():  # type: ignore[no-untyped-def]
    base = base_run("mobilenet_v2", "rk3588")
    return base, base.profile, base.runtime, base.version, characterise(base), characterise_little(base)


def _run(ctx, policy: Policy, **kw):  # type: ignore[no-untyped-def]
    base, _, _, _, big, little = ctx
    return run_big_little(base, policy, big_points=big, little_point=little, **kw)


def test_on_fraction_of_a_square_wave() -> None:
    assert _on_fraction(0.0, 10.0, 5.0, 5.0) == pytest.approx(0.5)
    assert _on_fraction(4.0, 6.0, 5.0, 5.0) == pytest.approx(0.5)
    assert _on_fraction(5.0, 10.0, 5.0, 5.0) == pytest.approx(0.0)
    assert _on_fraction(10.0, 10.5, 5.0, 5.0) == pytest.approx(1.0)
    assert _on_fraction(0.0, 7.0, 1.0, 2.0) == pytest.approx(3.0 / 7.0)  # on [0,1], [3,4], [6,7]


def test_little_cluster_is_slower_and_cheaper_per_second(ctx) -> None:  # type: ignore[no-untyped-def]
    _, prof, _, _, big, little = ctx
    top = big[-1]
    assert top.freq_mhz == prof.clock_mhz
    assert little.latency_s > 2.0 * top.latency_s
    assert little.dynamic_energy_j / little.latency_s < 0.5 * top.dynamic_energy_j / top.latency_s
    lp = little_profile(prof)
    assert [u.name for u in lp.units] == ["little"] and lp.host_unit == "little"


def test_policies_trade_temperature_for_latency(ctx) -> None:  # type: ignore[no-untyped-def]
    res = compare_policies(ctx[0], duration_s=900.0)
    big, little, burst = res["big-only"], res["little-only"], res["burst"]
    # Burst runs cooler than big-only, and the gaps cost wall time per inference.
    assert burst.max_temp_c < big.max_temp_c - 5.0
    assert burst.mean_effective_latency_s > big.mean_effective_latency_s
    assert burst.inferences < big.inferences
    # LITTLE-only: the slowest and the coolest.
    assert little.mean_latency_s > max(big.mean_latency_s, burst.mean_latency_s)
    assert little.mean_effective_latency_s > max(big.mean_effective_latency_s, burst.mean_effective_latency_s)
    assert little.max_temp_c < min(big.max_temp_c, burst.max_temp_c)
    assert little.average_power_w < burst.average_power_w < big.average_power_w
    assert len(big.time_s) == 1800 and big.time_s[-1] == pytest.approx(900.0)


def test_hot_ambient_big_only_throttles_burst_does_not(ctx) -> None:  # type: ignore[no-untyped-def]
    big = _run(ctx, Policy.BIG_ONLY, duration_s=900.0, ambient_c=45.0)
    burst = _run(ctx, Policy.BURST, duration_s=900.0, ambient_c=45.0, burst_on_s=2.0, burst_off_s=4.0)
    assert big.throttled and big.throttle_onset_s is not None
    assert min(big.big_freq_mhz) < max(big.big_freq_mhz)
    assert big.mean_latency_s > ctx[4][-1].latency_s  # throttling slowed each inference
    assert not burst.throttled
    assert burst.mean_latency_s == pytest.approx(ctx[4][-1].latency_s)  # every inference at full clock


def test_burst_without_gaps_is_big_only(ctx) -> None:  # type: ignore[no-untyped-def]
    a = _run(ctx, Policy.BIG_ONLY, duration_s=120.0)
    b = _run(ctx, Policy.BURST, duration_s=120.0, burst_off_s=0.0)
    assert a.temp_c == pytest.approx(b.temp_c) and a.inferences == pytest.approx(b.inferences)


def test_background_load_heats_and_slows_the_little_cluster(ctx) -> None:  # type: ignore[no-untyped-def]
    quiet = _run(ctx, Policy.LITTLE_ONLY, duration_s=300.0, background_power_w=0.0, background_little_share=0.0)
    busy = _run(ctx, Policy.LITTLE_ONLY, duration_s=300.0, background_power_w=0.5, background_little_share=0.5)
    assert busy.max_temp_c > quiet.max_temp_c
    assert busy.mean_latency_s == pytest.approx(2.0 * quiet.mean_latency_s)
    # +0.5 W of background, and the inference, at half the rate, switches half the power.
    little_dyn_w = ctx[5].dynamic_energy_j / ctx[5].latency_s
    assert busy.average_power_w - quiet.average_power_w == pytest.approx(0.5 - 0.5 * little_dyn_w, rel=1e-9)


def test_rate_limited_little_only_misses_frames(ctx) -> None:  # type: ignore[no-untyped-def]
    little = ctx[5]
    slow = _run(ctx, Policy.LITTLE_ONLY, duration_s=60.0, rate_hz=0.25 / little.latency_s)
    assert slow.frames_missed == pytest.approx(0.0)
    fast = _run(ctx, Policy.LITTLE_ONLY, duration_s=60.0, rate_hz=2.0 / little.latency_s)
    assert fast.frames_missed > 0


def test_profile_without_little_cluster_is_rejected(ctx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EdgesimError, match="little_cluster"):
        run_big_little(run_on(ctx[0], load_profile("rpi5")), Policy.BURST, duration_s=10.0)
    with pytest.raises(EdgesimError, match="background_little_share"):
        _run(ctx, Policy.LITTLE_ONLY, background_little_share=1.0)


def test_temperature_dependent_leakage_heats_every_policy(ctx) -> None:  # type: ignore[no-untyped-def]
    base, prof, _, _, big, little = ctx
    leaky = prof.model_copy(update={"power": prof.power.model_copy(update={"leakage_temp_coeff_per_c": 0.02})})
    for policy in Policy:
        kw = dict(big_points=big, little_point=little, duration_s=300.0)
        assert (run_big_little(run_on(base, leaky), policy, **kw).final_temp_c
                > run_big_little(base, policy, **kw).final_temp_c + 1.0)


def test_bad_durations_are_one_line_errors(ctx) -> None:  # type: ignore[no-untyped-def]
    # nan passed every '<= 0' guard and ended as a ValueError (exit 3) before the loops shared their guards.
    for kw in ({"duration_s": float("nan")}, {"window_s": float("nan")}, {"rate_hz": float("inf")},
               {"background_power_w": float("nan")}):
        with pytest.raises(EdgesimError):
            _run(ctx, Policy.BIG_ONLY, **kw)
