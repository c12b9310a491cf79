"""What the predicting commands print and write about how sure they are: the interval line and JSON entries, the
sensitivity table. One place, so run, sustain and the report say it the same way."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgesim.pipeline import RunResult
    from edgesim.pipeline.intervals import PredictionInterval

_CLASS_TEXT = {
    "measured_device": "this device and runtime have measured rows",
    "known_family": "new device; its core/unit families have measured devices",
    "new_family": "a core or unit family no measured device has",
    "new_runtime": "a runtime no measured row used",
    "npu_measured_device": "this board, runtime and network have vendor benchmark-table rows",
    "npu_measured_device_new_network": "this board and runtime have vendor benchmark-table rows, this network has "
                                       "none",
    "npu_new_device": "a runtime with vendor benchmark-table rows on other boards only",
}


def interval_of(result: RunResult, args: argparse.Namespace) -> PredictionInterval:
    from edgesim.pipeline.intervals import check_confidence, interval

    return interval(result, check_confidence(getattr(args, "confidence", 0.8)))


def interval_lines(iv: PredictionInterval) -> list[str]:
    """'latency 12-17 ms (80%), energy ...' and what the width comes from."""
    from edgesim.pipeline.intervals import format_range

    line = (f"interval: latency {format_range(iv.latency_s, iv.confidence, 's')}, energy "
            f"{format_range(iv.energy_j, iv.confidence, 'J')}")
    if iv.throughput_inf_per_s is not None:
        t = iv.throughput_inf_per_s
        line += (f", throughput {t.lo:.4g}-{t.hi:.4g} inferences/s" if t.lower_bounded and t.upper_bounded else
                 f", throughput {format_range(t, iv.confidence, 'inferences/s')}")
    bin_text = f" scaled to {iv.calibration_runtime}" if iv.calibration_scaled else f" of {iv.calibration_runtime}"
    rows = f"{iv.calibration_rows} held-out rows" + (bin_text if iv.calibration_runtime else "")
    why = f"  novelty: {iv.novelty.value} ({_CLASS_TEXT[iv.novelty.value]}; {rows})"
    if iv.uncertain_fields:
        why += f"; {iv.uncertain_fields} profile fields with ranges propagated"
    if iv.capped:
        why += "; too few calibration rows for this confidence: the widest residual bounds it"
    if iv.device_calibration:
        why += f"; point {iv.device_calibration}"
    if iv.unmodelled:
        why += f"; not bounded where {', '.join(iv.unmodelled)} applies (a cost the model leaves out, see warnings)"
    return [line, why]


def trust_report(result: RunResult, args: argparse.Namespace) -> dict[str, Any]:
    """Print the interval (and the sensitivity with --sensitivity); the JSON entries they add."""
    iv = interval_of(result, args)
    for line in interval_lines(iv):
        print(line)
    extra: dict[str, Any] = {"latency_interval_s": iv.latency_s.as_list(),
                             "energy_interval_j": iv.energy_j.as_list(), "interval": iv.as_dict()}
    if iv.throughput_inf_per_s is not None:
        extra["throughput_interval_inf_per_s"] = iv.throughput_inf_per_s.as_list()
    if getattr(args, "sensitivity", False):
        from edgesim.pipeline.sensitivity import sensitivity

        sens = sensitivity(result)
        print(sens.table())
        extra["sensitivity"] = sens.as_dict()
    return extra


def sustained_intervals(base: RunResult, args: argparse.Namespace, mean_latency_s: float,
                        energy_per_inference_j: float, onset: Callable[[tuple[float, float]],
                                                                       tuple[float | None, float | None]]
                        | None = None) -> dict[str, Any]:
    """A sustained run's mean latency and energy per inference with the single run's relative interval (the
    model and profile errors are the same; the thermal model's own error is not in it), and with ``onset`` (the
    run again at a power ratio: ``thermal.sustain.throttle_onset_interval``) the throttle onset's. Printed; JSON
    entries."""
    from dataclasses import replace

    from edgesim.pipeline.intervals import format_range

    iv = interval_of(base, args)
    # the single run's relative bounds, and its open ends (an unmodelled cost opens them in a sustained run too)
    lat = replace(iv.latency_s, lo=mean_latency_s * iv.latency_s.lo / base.latency_s,
                  hi=mean_latency_s * iv.latency_s.hi / base.latency_s)
    en = replace(iv.energy_j, lo=energy_per_inference_j * iv.energy_j.lo / base.energy_j,
                 hi=energy_per_inference_j * iv.energy_j.hi / base.energy_j)
    print(f"  interval: mean latency {format_range(lat, iv.confidence, 's')}, energy/inference "
          f"{format_range(en, iv.confidence, 'J')}; novelty {iv.novelty.value}")
    out: dict[str, Any] = {"latency_interval_s": lat.as_list(), "energy_interval_j": en.as_list(),
                           "interval": iv.as_dict()}
    if onset is not None:
        # Back to back the chip draws its running power all the time; at a rate, energy per inference decides.
        ratio = iv.power_ratio if getattr(args, "rate", None) is None else (
            iv.energy_j.lo / base.energy_j, iv.energy_j.hi / base.energy_j)
        early, late = onset(ratio)
        out["throttle_onset_interval_s"] = None if early is None else [early, late]
        print(f"  interval: throttle onset {onset_text(early, late, iv.confidence)} (power "
              f"x{ratio[0]:.2f}-x{ratio[1]:.2f})")
    return out


def onset_text(early: float | None, late: float | None, confidence: float) -> str:
    """'40-95 s (80%)'; 'from 40 s, or not within the run (80%)'; 'none within the run (80%)'."""
    if early is None:
        return f"none within the run ({confidence:.0%})"
    if late is None:
        return f"from {early:.0f} s, or not within the run ({confidence:.0%})"
    return f"{early:.0f}-{late:.0f} s ({confidence:.0%})"


def report_trust_html(result: RunResult, args: argparse.Namespace) -> str:
    """The HTML report's interval and sensitivity section (sensitivity always: the report is the long form)."""
    from edgesim.pipeline.sensitivity import sensitivity
    from edgesim.report.trust import LayerRow, ParamRow, trust_section_html

    sens = sensitivity(result)
    params = [ParamRow(e.label, e.value, e.latency, e.energy) for e in sens.parameters[:10]]
    layers = [LayerRow(s.layer, s.share, s.top, s.elasticity) for s in sens.layers]
    return trust_section_html(interval_lines(interval_of(result, args)), params, layers)
