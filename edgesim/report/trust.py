"""The HTML report's 'How sure' section: the prediction interval and the sensitivity table, from plain numbers
(the driver computes them; this layer only formats)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ParamRow:
    label: str
    value: float
    latency_elasticity: float
    energy_elasticity: float


@dataclass(frozen=True)
class LayerRow:
    layer: str
    share: float
    top: str
    elasticity: float


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def trust_section_html(interval_lines: Sequence[str], params: Sequence[ParamRow], layers: Sequence[LayerRow],
                       top_layers: int = 15) -> str:
    """The interval sentence(s), the parameters latency and energy depend on most, and per layer (the slowest
    first) the parameter it moves with: which layers follow bandwidth, which follow MACs."""
    out = ["<h2>How sure: interval and sensitivity</h2>"]
    out += [f"<p>{_e(line)}</p>" for line in interval_lines]
    if params:
        out.append("<p>Elasticity: % change of latency (energy) per % change of the parameter.</p><table>"
                   "<tr><th class='l'>parameter</th><th>value</th><th>latency</th><th>energy</th></tr>")
        out += [f"<tr><td class='l'>{_e(p.label)}</td><td>{p.value:.4g}</td><td>{p.latency_elasticity:+.2f}</td>"
                f"<td>{p.energy_elasticity:+.2f}</td></tr>" for p in params]
        out.append("</table>")
    if layers:
        out.append("<p>Per layer, the slowest first: the parameter (clock aside) its latency moves with most.</p>"
                   "<table><tr><th class='l'>layer</th><th>share of latency</th><th class='l'>moves most with</th>"
                   "<th>elasticity</th></tr>")
        for s in sorted(layers, key=lambda x: -x.share)[:top_layers]:
            out.append(f"<tr><td class='l'>{_e(s.layer)}</td><td>{s.share:.1%}</td><td class='l'>{_e(s.top)}</td>"
                       f"<td>{s.elasticity:+.2f}</td></tr>")
        out.append("</table>")
    return "".join(out)
