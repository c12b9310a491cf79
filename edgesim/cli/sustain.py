"""``edgesim sustain``: minutes of sustained inference through the thermal model (one cluster or big.LITTLE)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from edgesim.cli.args import (
    add_model_argument,
    add_target_arguments,
    add_transform_arguments,
    add_trust_arguments,
    non_negative_float,
    positive_float,
    spec_from_args,
)

if TYPE_CHECKING:
    from edgesim.pipeline import RunResult
    from edgesim.thermal.sustain import SustainResult


def verdict_dict(base: RunResult) -> dict[str, Any]:
    """The JSON report's top-level fit verdict and warnings, as ``edgesim run`` writes them."""
    return {"fits": base.fit.fits, "fit_problems": list(base.fit.problems), "warnings": list(base.warnings())}


def cmd_sustain(args: argparse.Namespace) -> int:
    from edgesim.cli.trust import sustained_intervals
    from edgesim.pipeline import run
    from edgesim.pipeline.intervals import check_confidence
    from edgesim.thermal.governor import GovernorKind
    from edgesim.thermal.loop import check_sustain_arguments
    from edgesim.thermal.sustain import characterise, sustain, throttle_onset_interval

    check_confidence(args.confidence)
    check_sustain_arguments(args.duration, args.rate, args.window)  # before the run, not after it
    _check_flag_pairs(args)
    if args.battery_wh is not None or args.battery_mah is not None:
        from edgesim.errors import EdgesimError

        # before the run: not after minutes of simulation and a printed summary
        if args.rate is None:
            raise EdgesimError("battery life needs --rate (inferences per second between sleeps)", field="rate")
        if args.policy:  # the big.LITTLE loop has no sleep state: the capacity would go unused
            raise EdgesimError("battery life is not modelled with --policy; drop one of them", field="policy")
    base = run(spec_from_args(args))
    for line in base.warnings():
        print(f"warning: {line}")
    if not base.fit.fits:
        print(f"warning: {base.fit.summary()}")
    if args.policy:
        return _sustain_big_little(base, args)
    points = characterise(base)
    run_args: dict[str, Any] = {"duration_s": args.duration, "rate_hz": args.rate, "ambient_c": args.ambient,
                                "governor": GovernorKind(args.governor), "window_s": args.window}
    res = sustain(base, points=points, **run_args)
    data = {**verdict_dict(base), **res.as_dict()}
    _print_sustained(base, args, res)
    data.update(sustained_intervals(base, args, res.mean_latency_s, res.energy_per_inference_j,
                                    lambda ratio: throttle_onset_interval(base, ratio, points, **run_args)))
    if args.battery_wh is not None or args.battery_mah is not None:
        data["battery"] = _battery(base, args, res)
    _write_sustain_outputs(args, data, res)
    return 0


# Flags that only a choice of another flag reads: given without it they went unused without a word.
_BIG_LITTLE_DEFAULTS = {"background_w": 0.3, "burst_on": 5.0, "burst_off": 5.0}
BATTERY_V_DEFAULT = 3.7


def _check_flag_pairs(args: argparse.Namespace) -> None:
    from edgesim.errors import EdgesimError

    if args.battery_v is not None and args.battery_mah is None:
        raise EdgesimError("--battery-v converts --battery-mah to Wh; without --battery-mah it would go unused",
                           field="battery_v")
    needs = {"background_w": None, "burst_on": "burst", "burst_off": "burst"}  # None: any --policy
    for name, policy in needs.items():
        flag = "--" + name.replace("_", "-")
        if getattr(args, name) is not None and (args.policy is None or policy not in (None, args.policy)):
            wanted = f"--policy {policy}" if policy else "--policy (a big.LITTLE run)"
            raise EdgesimError(f"{flag} applies only to {wanted}; it would go unused", field=name)


def _print_sustained(base: RunResult, args: argparse.Namespace, res: SustainResult) -> None:
    """The sustained run's summary: conditions, temperatures and throttling, latency, energy and power."""
    from edgesim.report.units import si

    onset = "never" if res.throttle_onset_s is None else f"{res.throttle_onset_s:.1f} s"
    print(f"{base.graph.name} on {base.profile.id}, {args.duration:g} s "
          f"{'back-to-back' if args.rate is None else f'at {args.rate:g} Hz'}, ambient {res.ambient_c:g} C, "
          f"governor {args.governor}")
    print(f"  max temperature {res.max_temp_c:.1f} C, final {res.final_temp_c:.1f} C, throttled: "
          f"{'yes' if res.throttled else 'no'} (onset {onset})")
    print(f"  mean latency {res.mean_latency_s * 1e3:.3f} ms, energy/inference {res.energy_per_inference_j * 1e3:.4g} mJ, "
          f"average power {si(res.average_power_w, 'W')}, inferences {res.inferences:.0f}, "
          f"frames missed {res.frames_missed:.0f}")


def _battery(base: RunResult, args: argparse.Namespace, res: SustainResult) -> dict[str, float]:
    """Battery life at ``--rate`` (printed), as the JSON report's "battery" entry."""
    from edgesim.thermal.sustain import battery_life

    assert args.rate is not None  # cmd_sustain refuses a battery without --rate before the run
    volts = args.battery_v if args.battery_v is not None else BATTERY_V_DEFAULT
    wh = args.battery_wh if args.battery_wh is not None else args.battery_mah * 1e-3 * volts
    life = battery_life(res.energy_per_inference_j, res.mean_latency_s, args.rate,
                        base.profile.power.sleep_power_mw * 1e-3, wh)
    # The sustained run above idles between frames (idle power); on a battery the chip sleeps instead.
    print(f"  {life.explain()}")
    print("  (the battery model sleeps between inferences; the average power above is the sustained run's, "
          "idling between frames)")
    return {"capacity_wh": wh, "average_power_w": life.average_power_w, "hours": life.hours,
            "inferences_per_charge": life.inferences_per_charge, "period_s": life.period_s,
            "active_s": life.active_s, "duty_cycle": life.duty_cycle,
            "energy_per_inference_j": life.energy_per_inference_j, "sleep_power_w": life.sleep_power_w}


def _write_sustain_outputs(args: argparse.Namespace, data: dict[str, Any], res: SustainResult) -> None:
    """The JSON report (--json) and the temperature/clock/latency plot (--plot), when asked for."""
    import json

    from edgesim.files import atomic_write_text

    if args.json:
        atomic_write_text(args.json, json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        from edgesim.report.plots import plot_sustain

        plot_sustain(res, args.plot, onset_interval_s=data.get("throttle_onset_interval_s"))
        print(f"wrote {args.plot}")


def _sustain_big_little(base: RunResult, args: argparse.Namespace) -> int:
    import json

    from edgesim.files import atomic_write_text
    from edgesim.report.units import si
    from edgesim.thermal.big_little import Policy, characterise_little, run_big_little
    from edgesim.thermal.sustain import characterise, scaled_point

    graph, profile = base.graph, base.profile
    big, little = characterise(base), characterise_little(base)
    given = {k: v if (v := getattr(args, k)) is not None else d for k, d in _BIG_LITTLE_DEFAULTS.items()}
    run_args: dict[str, Any] = {"ambient_c": args.ambient, "duration_s": args.duration, "rate_hz": args.rate,
                                "background_power_w": given["background_w"], "burst_on_s": given["burst_on"],
                                "burst_off_s": given["burst_off"], "window_s": args.window}
    res = run_big_little(base, Policy(args.policy), big_points=big, little_point=little, **run_args)

    def onset_at(k: float) -> float | None:  # both clusters drawing k times the power predicted
        return run_big_little(base, Policy(args.policy), big_points=[scaled_point(p, k) for p in big],
                              little_point=scaled_point(little, k), **run_args).throttle_onset_s
    onset = "never" if res.throttle_onset_s is None else f"{res.throttle_onset_s:.1f} s"
    print(f"{graph.name} on {profile.id}, policy {args.policy}, {args.duration:g} s, background "
          f"{given['background_w']:g} W on the LITTLE cores")
    print(f"  max temperature {res.max_temp_c:.1f} C, final {res.final_temp_c:.1f} C, throttled: "
          f"{'yes' if res.throttled else 'no'} (onset {onset})")
    print(f"  mean latency {res.mean_latency_s * 1e3:.3f} ms (wall time per inference "
          f"{res.mean_effective_latency_s * 1e3:.3f} ms), average power {si(res.average_power_w, 'W')}, "
          f"inferences {res.inferences:.0f}, frames missed {res.frames_missed:.0f}")
    from edgesim.cli.trust import sustained_intervals

    # energy per inference as the run drew it (average power x time / inferences), with the single run's interval
    energy = res.average_power_w * res.duration_s / res.inferences if res.inferences else base.energy_j
    data = {**res.as_dict(), **sustained_intervals(base, args, res.mean_latency_s, energy,
                                                   lambda ratio: (onset_at(ratio[1]), onset_at(ratio[0])))}
    if args.json:
        atomic_write_text(args.json, json.dumps({**verdict_dict(base), **data}, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def add_sustain_parser(sub: Any) -> None:
    sus = sub.add_parser("sustain", help="minutes of sustained inference: heating, throttling, energy, battery")
    add_model_argument(sus)
    add_target_arguments(sus, cfg=False)
    sus.add_argument("--duration", type=float, default=600.0, help="simulated seconds (default 600)")
    sus.add_argument("--rate", type=float, help="inferences per second (default: back-to-back)")
    sus.add_argument("--ambient", type=float, help="ambient temperature in C (default: the profile's)")
    sus.add_argument("--governor", choices=["performance", "powersave", "ondemand"], default="performance")
    sus.add_argument("--window", type=float, default=0.5, help="thermal step in seconds (default 0.5)")
    battery = sus.add_mutually_exclusive_group()  # one capacity: both would leave one silently unused
    battery.add_argument("--battery-wh", type=positive_float, help="battery capacity (Wh); needs --rate")
    battery.add_argument("--battery-mah", type=positive_float, help="battery capacity (mAh); needs --rate")
    sus.add_argument("--battery-v", type=positive_float, default=None,
                     help=f"battery voltage for --battery-mah (default {BATTERY_V_DEFAULT:g})")
    sus.add_argument("--json")
    sus.add_argument("--plot", help="PNG or SVG of temperature, clock and latency over time")
    sus.add_argument("--policy", choices=["big-only", "little-only", "burst"],
                     help="big.LITTLE placement of the inference (profiles with a little_cluster)")
    sus.add_argument("--background-w", type=non_negative_float, default=None,
                     help="--policy: background load on the LITTLE cores (W, default 0.3)")
    sus.add_argument("--burst-on", type=positive_float, default=None,
                     help="--policy burst: seconds on the big cores (default 5)")
    sus.add_argument("--burst-off", type=non_negative_float, default=None,
                     help="--policy burst: idle seconds between bursts (default 5)")
    add_transform_arguments(sus)
    add_trust_arguments(sus)
    sus.set_defaults(func=cmd_sustain)
