"""Average and peak power of an inference, from an analytic estimate or from a power-over-time trace."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgesim.cost.estimate import Estimate


@dataclass(frozen=True)
class PowerSummary:
    average_power_w: float
    peak_power_w: float
    energy_j: float
    latency_s: float

    def as_dict(self) -> dict[str, float]:
        return {"average_power_w": self.average_power_w, "peak_power_w": self.peak_power_w,
                "energy_j": self.energy_j, "latency_s": self.latency_s}


def summarize_power(t_s: np.ndarray, p_w: np.ndarray) -> PowerSummary:
    """Average (energy / duration) and peak of a ``power_trace``."""
    widths = np.diff(t_s)
    energy_j = float(np.sum(widths * p_w))
    duration = float(t_s[-1] - t_s[0])
    avg = energy_j / duration if duration > 0 else float(p_w[0]) if len(p_w) else 0.0
    return PowerSummary(avg, float(np.max(p_w)) if len(p_w) else 0.0, energy_j, duration)


def estimate_power(est: Estimate) -> PowerSummary:
    """Average and peak power of an analytic ``Estimate`` (no event engine: layers run one after another).

    Each layer draws its own energy (static included) over its latency; the per-inference overhead draws static
    power only, so the peak is the hungriest layer and the average is total energy over latency.
    """
    peaks = [layer.energy.total_j / layer.latency_s for layer in est.layers if layer.latency_s > 0]
    static_w = est.energy.static_j / est.latency_s if est.latency_s > 0 else 0.0
    avg = est.energy_j / est.latency_s if est.latency_s > 0 else 0.0
    return PowerSummary(avg, max([static_w, avg, *peaks]), est.energy_j, est.latency_s)
