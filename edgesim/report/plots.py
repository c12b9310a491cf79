"""Matplotlib figures. The Agg backend is forced so plots work headless; files are written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgesim.report.io import atomic_write


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    fmt = Path(path).suffix.lstrip(".") or "png"
    plt = _plt()
    try:
        return atomic_write(path, lambda p: fig.savefig(p, format=fmt, dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)


def plot_sustain(result: Any, path: str | Path) -> Path:
    """Temperature, clock and latency over time for a sustained run."""
    plt = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
    t = result.time_s
    axes[0].plot(t, result.temp_c, color="tab:red")
    axes[0].set_ylabel("temperature (C)")
    if result.throttle_onset_s is not None:
        for ax in axes:
            ax.axvline(result.throttle_onset_s, color="grey", ls="--", lw=0.8)
        axes[0].annotate("throttle onset", (result.throttle_onset_s, min(result.temp_c)), fontsize=8)
    axes[1].step(t, result.freq_mhz, where="post", color="tab:blue")
    axes[1].set_ylabel("clock (MHz)")
    axes[2].plot(t, [x * 1e3 for x in result.latency_s], color="tab:green")
    axes[2].set_ylabel("latency (ms)")
    axes[2].set_xlabel("time (s)")
    rate = f"{result.rate_hz:g} Hz" if result.rate_hz else "back-to-back"
    fig.suptitle(f"{result.model} on {result.hw}: sustained {rate}, ambient {result.ambient_c:g} C")
    return _save(fig, path)
