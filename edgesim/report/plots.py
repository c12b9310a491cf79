"""Matplotlib figures. The Agg backend is forced so plots work headless; files are written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesim.files import atomic_write

if TYPE_CHECKING:  # types only: `edgesim --help` builds the --plot-kind choices from this module
    from edgesim.cost.estimate import Estimate
    from edgesim.hw.schema import ComputeUnit, HardwareProfile
    from edgesim.sim.trace import TraceEvent


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    fmt = Path(path).suffix.lstrip(".") or "png"
    plt = pyplot()
    try:
        return atomic_write(path, lambda p: fig.savefig(p, format=fmt, dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)


def plot_sustain(result: Any, path: str | Path, onset_interval_s: Sequence[float | None] | None = None) -> Path:
    """Temperature, clock and latency over time for a sustained run; ``onset_interval_s`` (earliest, latest or
    None: not within the run) shades where throttling may start."""
    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
    t = result.time_s
    if onset_interval_s is not None and onset_interval_s[0] is not None:
        late = onset_interval_s[1] if onset_interval_s[1] is not None else t[-1]
        for ax in axes:
            ax.axvspan(onset_interval_s[0], late, color="grey", alpha=0.15, lw=0)
        axes[0].annotate("onset interval", (onset_interval_s[0], max(result.temp_c)), fontsize=8, va="top")
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
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------------------------------------
# Per-inference figures, all built from an Estimate (+ the profile, + sim trace events for the timeline).

_OP_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
               "tab:olive", "tab:cyan", "tab:gray")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _compute_layers(est: Estimate) -> list[Any]:
    # Layers on unit "-" are graph plumbing (reshape views etc.) that cost nothing; plotting them adds noise.
    return [layer for layer in est.layers if layer.unit != "-"]


def _op_colours(ops: list[str]) -> dict[str, str]:
    return {op: _OP_COLOURS[i % len(_OP_COLOURS)] for i, op in enumerate(sorted(set(ops)))}


def _short(name: str, width: int = 28) -> str:
    # TFLite layer names are ';'-joined lists of every TF op folded into the kernel; the last one is the anchor.
    tail = name.split(";")[-1]
    return tail if len(tail) <= width else "..." + tail[-(width - 3):]


def main_unit(est: Estimate, profile: HardwareProfile) -> Any:
    """The compute unit that does the most MACs in ``est`` (the one whose roofline matters)."""
    macs: dict[str, int] = {}
    for layer in _compute_layers(est):
        macs[layer.unit] = macs.get(layer.unit, 0) + layer.macs
    name = max(macs, key=lambda k: macs[k]) if macs else profile.host_unit
    return profile.unit(name)


def peak_ops_per_s(unit: ComputeUnit, profile: HardwareProfile, precision: str = "int8") -> float:
    """Peak ops/s (1 MAC = 2 ops) of ``unit`` at ``precision``, or its best precision if it lacks that one."""
    rates = {str(k.value if hasattr(k, "value") else k): v for k, v in unit.macs_per_cycle.items()}
    per_cycle = rates.get(precision) or max(rates.values())
    return 2.0 * per_cycle * unit.count * unit.effective_clock_mhz(profile.clock_mhz) * 1e6


def roofline_points(est: Estimate, profile: HardwareProfile) -> list[tuple[str, str, float, float]]:
    """(layer, memory level, arithmetic intensity ops/byte, attained ops/s) for each MAC layer of the main unit.

    Each layer is placed at the level whose roof is lowest for it (bandwidth x intensity), i.e. the level
    that would bind first; that is where the reader should look for the layer's ceiling."""
    unit = main_unit(est, profile)
    bw = {m.name: m.read_bw_bytes_per_s(profile.clock_mhz) for m in profile.memories}
    out = []
    for layer in _compute_layers(est):
        if layer.unit != unit.name or layer.macs <= 0 or layer.latency_s <= 0:
            continue
        best: tuple[float, str, float] | None = None
        for mem, rd, wr in layer.bytes_by_memory:
            moved = rd + wr
            if moved <= 0 or mem not in bw:
                continue
            ai = 2.0 * layer.macs / moved
            roof = ai * bw[mem]
            if best is None or roof < best[0]:
                best = (roof, mem, ai)
        if best is not None:
            out.append((layer.name, best[1], best[2], 2.0 * layer.macs / layer.latency_s))
    return out


def plot_roofline(est: Estimate, profile: HardwareProfile, path: str | Path) -> Path:
    """Roofline of the main unit: one roof per memory level it reaches, each MAC layer a point coloured by op."""
    import numpy as np

    plt = pyplot()
    unit = main_unit(est, profile)
    peak = peak_ops_per_s(unit, profile)
    points = roofline_points(est, profile)
    by_name = {layer.name: layer for layer in est.layers}
    colours = _op_colours([by_name[p[0]].op for p in points])
    levels = [m for m in profile.memories if m.name in unit.memories]
    ais = [p[2] for p in points] or [1.0]
    lo, hi = min(min(ais) / 4, 0.1), max(max(ais) * 4, 1e3)
    x = np.logspace(np.log10(lo), np.log10(hi), 200)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for i, mem in enumerate(levels):
        bw = mem.read_bw_bytes_per_s(profile.clock_mhz)
        ax.plot(x, np.minimum(peak, x * bw), color="black", lw=1.2, ls=("-", "--", ":", "-.")[i % 4],
                label=f"roof via {mem.name} ({bw / 1e9:.3g} GB/s)")
        ridge = peak / bw
        if lo < ridge < hi:
            ax.annotate(f"{mem.name} ridge {ridge:.3g}", (ridge, peak), textcoords="offset points",
                        xytext=(4, -12), fontsize=7)
    ax.axhline(peak, color="grey", lw=0.6)
    level_names = [m.name for m in levels]
    for op, colour in colours.items():
        for li, mem_name in enumerate(level_names):
            sel = [p for p in points if by_name[p[0]].op == op and p[1] == mem_name]
            if sel:
                ax.scatter([p[2] for p in sel], [p[3] for p in sel], color=colour, marker=_MARKERS[li % 7],
                           s=28, alpha=0.8, edgecolors="none", label=f"{op} (at {mem_name})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (ops per byte moved at that level; 1 MAC = 2 ops)")
    ax.set_ylabel("attained ops/s")
    ax.set_title(f"{est.model} on {est.hw}: roofline of unit '{unit.name}' "
                 f"(peak {peak / 1e9:.3g} GOPS @ {unit.effective_clock_mhz(profile.clock_mhz):g} MHz)", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    return save_figure(fig, path)


def plot_timeline(events: Sequence[TraceEvent], path: str | Path, title: str = "") -> Path:
    """Gantt chart of the sim trace: one row per compute unit and per memory port ("mem:<level>")."""
    plt = pyplot()
    units = sorted({e.unit for e in events}, key=lambda u: (u.startswith("mem:"), u))
    end_s = max((e.end_s for e in events), default=0.0)
    scale, tunit = (1e3, "ms") if end_s >= 1e-3 else (1e6, "us")
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.55 * max(len(units), 1)))
    for row, unit in enumerate(units):
        spans = [((e.start_s * scale), (e.end_s - e.start_s) * scale) for e in events if e.unit == unit]
        colour = "tab:orange" if unit.startswith("mem:") else "tab:blue"
        # Alternate shades so back-to-back ops on one unit stay distinguishable.
        ax.broken_barh(spans[0::2], (row - 0.35, 0.7), facecolors=colour, alpha=0.9)
        ax.broken_barh(spans[1::2], (row - 0.35, 0.7), facecolors=colour, alpha=0.55)
    ax.set_yticks(range(len(units)))
    ax.set_yticklabels(units)
    ax.invert_yaxis()
    ax.set_xlabel(f"time ({tunit})")
    ax.set_xlim(0, end_s * scale * 1.01 if end_s > 0 else 1)
    ax.set_title(title or "timeline (compute units blue, memory ports orange)", fontsize=10)
    ax.grid(True, axis="x", lw=0.3, alpha=0.5)
    return save_figure(fig, path)


def _stacked_bars(ax: Any, labels: list[str], series: dict[str, list[float]], colours: dict[str, str]) -> None:
    import numpy as np

    bottom = np.zeros(len(labels))
    for key, values in series.items():
        ax.bar(range(len(labels)), values, bottom=bottom, label=key, color=colours.get(key), width=0.8)
        bottom += np.asarray(values, dtype=float)
    step = max(1, len(labels) // 40)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels([labels[i] for i in range(0, len(labels), step)], rotation=90, fontsize=6)
    ax.legend(fontsize=7)


def bytes_by_level(est: Estimate) -> tuple[list[str], dict[str, list[float]]]:
    """(layer labels, {"<level> read"/"<level> write": bytes per layer}) for the compute layers."""
    layers = _compute_layers(est)
    keys: list[str] = []
    for layer in layers:
        for mem, _, _ in layer.bytes_by_memory:
            for kind in ("read", "write"):
                if f"{mem} {kind}" not in keys:
                    keys.append(f"{mem} {kind}")
    series = {k: [0.0] * len(layers) for k in keys}
    for i, layer in enumerate(layers):
        for mem, rd, wr in layer.bytes_by_memory:
            series[f"{mem} read"][i] += rd
            series[f"{mem} write"][i] += wr
    series = {k: v for k, v in series.items() if any(v)}
    return [f"{i}:{layer.op}" for i, layer in enumerate(layers)], series


def plot_bytes(est: Estimate, path: str | Path) -> Path:
    """Bytes moved per memory level per layer (stacked: read and write of each level)."""
    plt = pyplot()
    labels, series = bytes_by_level(est)
    colours = {k: _OP_COLOURS[i % len(_OP_COLOURS)] for i, k in enumerate(series)}
    fig, ax = plt.subplots(figsize=(max(8, 0.18 * len(labels) + 3), 5))
    _stacked_bars(ax, labels, {k: [v / 1e3 for v in vals] for k, vals in series.items()}, colours)
    ax.set_ylabel("kB moved")
    total = sum(sum(v) for v in series.values())
    ax.set_title(f"{est.model} on {est.hw}: bytes moved per layer and memory level ({total / 1e6:.3g} MB total)",
                 fontsize=10)
    return save_figure(fig, path)


def energy_by_component(est: Estimate) -> tuple[list[str], dict[str, list[float]]]:
    """(layer labels, {component: joules per layer}); components as in ``EnergyBreakdown.as_dict``."""
    layers = _compute_layers(est)
    keys: list[str] = []
    for layer in layers:
        for k in layer.energy.as_dict():
            if k not in keys:
                keys.append(k)
    series = {k: [layer.energy.as_dict().get(k, 0.0) for layer in layers] for k in keys}
    return [f"{i}:{layer.op}" for i, layer in enumerate(layers)], {k: v for k, v in series.items() if any(v)}


def plot_energy(est: Estimate, path: str | Path) -> Path:
    """Energy per layer split into compute, each memory level and static (leakage over the layer's time)."""
    plt = pyplot()
    labels, series = energy_by_component(est)
    colours = {k: _OP_COLOURS[i % len(_OP_COLOURS)] for i, k in enumerate(series)}
    fig, ax = plt.subplots(figsize=(max(8, 0.18 * len(labels) + 3), 5))
    _stacked_bars(ax, labels, {k: [v * 1e6 for v in vals] for k, vals in series.items()}, colours)
    ax.set_ylabel("energy (uJ)")
    ax.set_title(f"{est.model} on {est.hw}: energy per layer by component ({est.energy_j * 1e3:.3g} mJ total)",
                 fontsize=10)
    return save_figure(fig, path)


def plot_compare(estimates: list[Any], path: str | Path, labels: list[str] | None = None) -> Path:
    """What-if bars: latency and energy per inference of the same model across profiles (or variants)."""
    from edgesim.errors import EdgesimError

    if not estimates:
        raise EdgesimError("nothing to compare: no estimates given")
    names = labels or [e.hw for e in estimates]
    if len(names) != len(estimates):
        raise EdgesimError(f"{len(names)} labels for {len(estimates)} estimates")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(names) + 4), 4.5))
    lat = [e.latency_s * 1e3 for e in estimates]
    en = [e.energy_j * 1e3 for e in estimates]
    for ax, vals, ylabel, colour in ((axes[0], lat, "latency (ms)", "tab:blue"),
                                     (axes[1], en, "energy per inference (mJ)", "tab:orange")):
        bars = ax.bar(range(len(names)), vals, color=colour)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        if vals and min(vals) > 0 and max(vals) / min(vals) > 100:
            ax.set_yscale("log")
        for b, v in zip(bars, vals, strict=True):
            ax.annotate(f"{v:.3g}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7)
    models = sorted({e.model for e in estimates})
    fig.suptitle(f"what-if: {', '.join(models)}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


PLOT_KINDS = ("roofline", "timeline", "bytes", "energy")


def plot_kind(kind: str, est: Estimate, profile: HardwareProfile, path: str | Path, events: Sequence[TraceEvent] | None = None) -> Path:
    """One of ``PLOT_KINDS`` by name (what ``run --plot`` calls); the timeline needs the sim trace events."""
    from edgesim.errors import EdgesimError

    if kind == "roofline":
        return plot_roofline(est, profile, path)
    if kind == "timeline":
        if events is None:
            raise EdgesimError("the timeline plot needs the event engine; drop --fast")
        return plot_timeline(events, path, title=f"{est.model} on {est.hw}: timeline")
    if kind == "bytes":
        return plot_bytes(est, path)
    if kind == "energy":
        return plot_energy(est, path)
    raise EdgesimError(f"unknown plot kind '{kind}' (choose from {', '.join(PLOT_KINDS)})")
