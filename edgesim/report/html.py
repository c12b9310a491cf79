"""One self-contained HTML report: figures embedded as base64 PNG, inline CSS, no scripts, no network."""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgesim.cost.estimate import Estimate
from edgesim.files import atomic_write_text
from edgesim.hw.schema import HardwareProfile
from edgesim.report import plots
from edgesim.report.summary import _si, display_names
from edgesim.report.units import si_bytes
from edgesim.sim.trace import TraceEvent

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:0.8em;width:100%}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
tr:nth-child(even){background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:0.85em;color:#555}
.kv td{text-align:left}.note{color:#a50}
"""


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def figure(uri: str, caption: str, alt: str) -> str:
    return (f'<figure><img src="{uri}" alt="{e(alt)}">'
            f"<figcaption>{e(caption)}</figcaption></figure>")


def kv_table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f'<tr><th class="l">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _layer_table(est: Estimate) -> str:
    head = ("<tr><th>#</th><th class='l'>layer</th><th class='l'>op</th><th class='l'>unit</th><th>MACs</th>"
            "<th>cycles</th><th>stall cycles</th><th>latency</th><th>energy</th><th class='l'>bytes by memory "
            "(read/write)</th><th class='l'>bound</th></tr>")
    rows = []
    layers = plots._compute_layers(est)
    names = display_names([layer.name for layer in layers], 48)
    for i, layer in enumerate(layers):
        moved = ", ".join(f"{m} {r}/{w}" for m, r, w in layer.bytes_by_memory)
        bound = layer.bound + (" (fallback)" if layer.fallback else "")
        rows.append(
            f"<tr><td>{i}</td><td class='l' title='{e(layer.name)}'>{e(names[i])}</td>"
            f"<td class='l'>{e(layer.op)}</td><td class='l'>{e(layer.unit)}</td><td>{layer.macs}</td>"
            f"<td>{layer.cycles:.0f}</td><td>{layer.stall_cycles:.0f}</td><td>{e(_si(layer.latency_s, 's'))}</td>"
            f"<td>{e(_si(layer.energy_j, 'J'))}</td><td class='l'>{e(moved)}</td><td class='l'>{e(bound)}</td>"
            "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _profile_section(profile: HardwareProfile) -> str:
    parts = [kv_table([
        ("id", profile.id), ("description", profile.description), ("kind", profile.kind),
        ("clock", f"{profile.clock_mhz:g} MHz"), ("host unit", profile.host_unit),
        ("placement", f"weights in {profile.placement.weights}, activations in {profile.placement.activations}"),
        # The board-level figure energy is charged with: datasheet static power x the board-power factor.
        ("static power", f"{profile.power.static_power_w * 1e3:.3g} mW"
                         + (f" (datasheet {profile.power.static_power_mw:g} mW x board factor "
                            f"{profile.power.board_power_factor:g})" if profile.power.board_power_factor != 1.0
                            else "")),
        ("DVFS points", ", ".join(f"{p.freq_mhz:g} MHz @ {p.voltage_v:g} V" for p in profile.dvfs.operating_points)),
        ("default runtime", profile.default_runtime or "-"),
    ])]
    head = ("<tr><th class='l'>unit</th><th class='l'>kind</th><th>count</th><th>clock MHz</th>"
            "<th class='l'>MACs/cycle</th><th class='l'>memories</th><th class='l'>sparsity</th></tr>")
    rows = []
    for u in profile.units:
        rates = ", ".join(f"{getattr(k, 'value', k)}: {v:g}" for k, v in u.macs_per_cycle.items())
        rows.append(f"<tr><td class='l'>{e(u.name)}</td><td class='l'>{e(getattr(u.kind, 'value', u.kind))}</td>"
                    f"<td>{u.count}</td><td>{u.effective_clock_mhz(profile.clock_mhz):g}</td>"
                    f"<td class='l'>{e(rates)}</td><td class='l'>{e(', '.join(u.memories))}</td>"
                    f"<td class='l'>{e(', '.join(str(getattr(s, 'value', s)) for s in u.sparsity) or '-')}</td></tr>")
    parts.append(f"<h3>Compute units</h3><table>{head}{''.join(rows)}</table>")
    head = ("<tr><th class='l'>memory</th><th class='l'>kind</th><th>size</th><th>read B/cycle</th>"
            "<th>read GB/s</th><th>latency cycles</th><th>read pJ/B</th><th>write pJ/B</th></tr>")
    rows = []
    for m in profile.memories:
        rows.append(f"<tr><td class='l'>{e(m.name)}</td><td class='l'>{e(getattr(m.kind, 'value', m.kind))}</td>"
                    f"<td>{e(_si(m.size_bytes, 'B'))}</td><td>{m.read_bw_bytes_per_cycle:g}</td>"
                    f"<td>{m.read_bw_bytes_per_s(profile.clock_mhz) / 1e9:.3g}</td><td>{m.latency_cycles:g}</td>"
                    f"<td>{m.read_energy_pj_per_byte:g}</td><td>{m.write_energy_pj_per_byte:g}</td></tr>")
    parts.append(f"<h3>Memories</h3><table>{head}{''.join(rows)}</table>")
    items = "".join(f"<li>{e(s)}</li>" for s in profile.sources)
    parts.append(f"<h3>Sources</h3><ul>{items}</ul>")
    return "".join(parts)


def render_html(est: Estimate, profile: HardwareProfile, events: Sequence[TraceEvent] | None = None,
                compare: list[Any] | None = None, title: str | None = None, fit_summary: str | None = None,
                warnings: Sequence[str] = (), trust_html: str = "") -> str:
    """The report as one HTML string. ``events`` (sim trace) adds the timeline; ``compare`` (estimates of the
    same model on other profiles) adds the what-if bars next to this one; ``fit_summary`` and ``warnings`` are the
    run's fit verdict and plausibility warnings (the same lines ``edgesim run`` prints); ``trust_html``
    (report.trust) the interval and sensitivity section after the summary."""
    figures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="edgesim-report-") as tmp:
        d = Path(tmp)
        specs: list[tuple[str, str, Any]] = [
            ("roofline", "Roofline of the main compute unit: each layer at the memory level that binds it first.",
             lambda p: plots.plot_roofline(est, profile, p)),
        ]
        if events:
            specs.append(("timeline", "Event-engine timeline of compute units and memory ports.",
                          lambda p: plots.plot_timeline(events, p, title=f"{est.model} on {est.hw}: timeline")))
        specs += [
            ("bytes", "Bytes moved per layer and memory level.", lambda p: plots.plot_bytes(est, p)),
            ("energy", "Energy per layer by component.", lambda p: plots.plot_energy(est, p)),
        ]
        if compare:
            specs.append(("what-if", "Latency and energy of the same model on other profiles.",
                          lambda p: plots.plot_compare([est, *compare], p)))
        for name, caption, draw in specs:
            png = d / f"{name}.png"
            draw(png)
            figures.append(f"<h2>{e(name)}</h2>" + figure(png_data_uri(png), caption, f"{name} plot"))
    summary = kv_table([
        ("model", est.model), ("hardware", est.hw), ("runtime", est.runtime),
        ("latency", _si(est.latency_s, "s")), ("energy per inference", _si(est.energy_j, "J")),
        ("average power", _si(est.average_power_w, "W")), ("MACs", f"{est.macs:,}"),
        ("cycles", f"{est.cycles:.0f} @ {est.clock_mhz:g} MHz"),
        ("peak activations", f"{si_bytes(est.peak_activation_bytes)} in '{est.activation_memory}' "
                             f"({si_bytes(est.activation_memory_bytes)})"),
        ("weights", si_bytes(est.total_weight_bytes)),
        ("memory fit", fit_summary or ("activations fit" if est.fits_on_chip else "activations do NOT fit")),
    ])
    notes = "".join(f"<p class='note'>warning: {e(w)}</p>" for w in warnings)
    notes += "".join(f"<p class='note'>note: {e(n)}</p>" for n in est.notes)
    heading = title or f"edgesim report: {est.model} on {est.hw}"
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(heading)}</title><style>{CSS}</style></head><body>"
            f"<h1>{e(heading)}</h1><h2>Summary</h2>{summary}{notes}{trust_html}"
            f"{''.join(figures)}<h2>Per-layer costs</h2>{_layer_table(est)}"
            f"<h2>Hardware profile assumptions</h2>{_profile_section(profile)}"
            "</body></html>\n")


def write_html_report(path: str | Path, est: Estimate, profile: HardwareProfile,
                      events: Sequence[TraceEvent] | None = None, compare: list[Any] | None = None,
                      fit_summary: str | None = None, warnings: Sequence[str] = (), trust_html: str = "") -> Path:
    """Render and write atomically (a reader never sees half a report)."""
    return atomic_write_text(path, render_html(est, profile, events=events, compare=compare,
                                               fit_summary=fit_summary, warnings=warnings, trust_html=trust_html))
