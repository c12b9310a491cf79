"""Sensitivity: which profile parameters a prediction depends on, as elasticities.

Elasticity of latency to a parameter p: d ln(latency) / d ln(p), here the central difference over p x (1 +/- 10%)
(one-sided where the other side is invalid, e.g. a kernel efficiency of 1 cannot grow). 1.0 means latency moves
one for one with p (a layer bound by that memory's bandwidth has -1 to it); 0 means p does not matter. Each
parameter costs two analytic map+cost runs of the already transformed model (``intervals.rerun``).

The memory-wall lesson reads straight off the per-layer table: a layer whose top parameter is a bandwidth moves
with memory, one whose top parameter is macs_per_cycle or clock moves with compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgesim.errors import EdgesimError
from edgesim.hw.schema import HardwareProfile, RuntimeProfile
from edgesim.hw.uncertain import display_path, ranged_fields
from edgesim.pipeline.intervals import rerun, rerun_changed, set_field
from edgesim.pipeline.spec import RunResult

STEP = 0.10


@dataclass(frozen=True)
class Elasticity:
    path: str  # dotted field path in the owner's YAML
    label: str  # display path, list items by name ("memories[flash].read_bw_bytes_per_cycle")
    owner: str  # "hw" or "runtime"
    value: float
    latency: float  # d ln latency / d ln value
    energy: float


@dataclass(frozen=True)
class LayerSensitivity:
    layer: str
    share: float  # the layer's share of the network latency
    top: str  # label of the parameter its latency moves with most
    elasticity: float


@dataclass(frozen=True)
class Sensitivity:
    parameters: tuple[Elasticity, ...]  # by the larger of |latency| and |energy elasticity|, largest first
    layers: tuple[LayerSensitivity, ...]  # in schedule order

    def as_dict(self, top: int = 10) -> dict[str, object]:
        return {"step": STEP,
                "parameters": [{"parameter": e.label, "path": e.path, "owner": e.owner, "value": e.value,
                                "latency_elasticity": e.latency, "energy_elasticity": e.energy}
                               for e in self.parameters[:top]],
                "layers": [{"layer": s.layer, "latency_share": s.share, "top_parameter": s.top,
                            "latency_elasticity": s.elasticity} for s in self.layers]}

    def table(self, top: int = 8, layers: int = 15) -> str:
        out = ["sensitivity (elasticity: % change of latency / energy per % change of the parameter):",
               f"  {'parameter':<52} {'value':>10} {'latency':>8} {'energy':>8}"]
        for e in self.parameters[:top]:
            out.append(f"  {e.label[:52]:<52} {e.value:>10.4g} {e.latency:>+8.2f} {e.energy:>+8.2f}")
        busiest = sorted(self.layers, key=lambda s: -s.share)[:layers]
        out.append(f"  per layer (the {len(busiest)} slowest; clock aside): {'share':>6}  moves most with")
        for s in busiest:
            name = s.layer if len(s.layer) <= 40 else "..." + s.layer[-37:]
            out.append(f"    {name:<40} {s.share:>6.1%}  {s.top} ({s.elasticity:+.2f})")
        return "\n".join(out)


def candidates(result: RunResult) -> list[tuple[str, str, float]]:
    """(owner, path, value) of every non-zero number the estimate can depend on: the clock, the rates and
    energies of the units and memories the schedule uses, static power and the board-power factor, the runtime's
    efficiencies and overheads, and every ranged field of the profile."""
    prof = result.profile
    used_units = {p.unit for p in result.schedule.plans}
    used_prec = {layer.precision for layer in result.estimate.layers}
    out: list[tuple[str, str, float]] = [("hw", "clock_mhz", prof.clock_mhz)]
    for i, u in enumerate(prof.units):
        if u.name not in used_units:
            continue
        for table in ("macs_per_cycle", "elementwise_ops_per_cycle"):
            for prec, v in getattr(u, table).items():
                if prec.value in used_prec:
                    out.append(("hw", f"units.{i}.{table}.{prec.value}", v))
        if u.active_energy_pj_per_cycle:
            out.append(("hw", f"units.{i}.active_energy_pj_per_cycle", u.active_energy_pj_per_cycle))
    used_mem = {m for layer in result.estimate.layers for m, r, w in layer.bytes_by_memory if r or w}
    for i, m in enumerate(prof.memories):
        if m.name in used_mem:
            for f in ("read_bw_bytes_per_cycle", "write_bw_bytes_per_cycle", "latency_cycles",
                      "read_energy_pj_per_byte", "write_energy_pj_per_byte"):
                out.append(("hw", f"memories.{i}.{f}", getattr(m, f)))
    for prec, v in prof.energy.mac_energy_pj.items():
        if prec.value in used_prec:
            out.append(("hw", f"energy.mac_energy_pj.{prec.value}", v))
    out.append(("hw", "power.static_power_mw", prof.power.static_power_mw))
    # measured board power / datasheet figures: multiplies compute energy and static power (cost/analytic.py)
    out.append(("hw", "power.board_power_factor", prof.power.board_power_factor))
    rt = result.runtime
    if rt is not None:
        out += [("runtime", f"kernel_efficiency.{k}", v) for k, v in rt.kernel_efficiency.items()]
        out += [("runtime", "per_op_overhead_cycles", rt.per_op_overhead_cycles),
                ("runtime", "per_inference_overhead_cycles", rt.per_inference_overhead_cycles)]
        out += [("runtime", f.path, f.value) for f in ranged_fields(rt)]
    out += [("hw", f.path, f.value) for f in ranged_fields(prof)]
    seen: set[tuple[str, str]] = set()
    return [c for c in out if c[2] and not ((c[0], c[1]) in seen or seen.add((c[0], c[1])))]  # type: ignore[func-returns-value]


def _run_at(result: RunResult, owner: str, path: str, value: float) -> RunResult | None:
    obj: HardwareProfile | RuntimeProfile | None = result.profile if owner == "hw" else result.runtime
    assert obj is not None
    try:
        new = set_field(obj, path, value)
    except EdgesimError:
        return None  # outside the field's valid range (an efficiency above 1): the other side only
    return rerun_changed(result, new, path, value)  # cost-only and compute-rate numbers take the short ways


def sensitivity(result: RunResult) -> Sensitivity:
    """Elasticities of latency and energy to every candidate parameter, whole network and per layer."""
    base = rerun(result, result.profile)
    names = [layer.name for layer in base.estimate.layers]
    base_layers = [layer.latency_s for layer in base.estimate.layers]
    params: list[Elasticity] = []
    per_layer: list[list[tuple[str, float]]] = [[] for _ in names]
    for owner, path, value in candidates(result):
        lo, hi = _run_at(result, owner, path, value * (1 - STEP)), _run_at(result, owner, path, value * (1 + STEP))
        runs = [(r, f) for r, f in ((lo, 1 - STEP), (hi, 1 + STEP)) if r is not None]
        if not runs:
            continue
        (r0, f0), (r1, f1) = (runs[0], runs[-1]) if len(runs) == 2 else ((base, 1.0), runs[0])
        dlog = math.log(f1 / f0)
        obj = result.profile if owner == "hw" else result.runtime
        label = display_path(obj, path) if obj is not None else path
        if owner == "runtime":
            label = f"runtime.{label}"
        params.append(Elasticity(path, label, owner, value, _el(r1.latency_s, r0.latency_s, dlog),
                                 _el(r1.energy_j, r0.energy_j, dlog)))
        l0, l1 = r0.estimate.layers, r1.estimate.layers
        if len(l0) == len(l1) == len(names):
            for i in range(len(names)):
                per_layer[i].append((label, _el(l1[i].latency_s, l0[i].latency_s, dlog)))
    # Larger of the two first: a number only energy depends on (the board-power factor, a memory's pJ per byte)
    # can decide a prediction as much as one latency depends on.
    params.sort(key=lambda e: (-max(abs(e.latency), abs(e.energy)), -abs(e.latency)))
    total = sum(base_layers) or 1.0
    layers = []
    for name, lat, els in zip(names, base_layers, per_layer, strict=True):
        if els and lat > 0:
            # The clock scales every cycle count alike; the layer's character is the parameter after it.
            pool = [t for t in els if t[0] != "clock_mhz"] or els
            top, el = max(pool, key=lambda t: abs(t[1]))
            layers.append(LayerSensitivity(name, lat / total, top, el))
    return Sensitivity(tuple(params), tuple(layers))


def _el(a: float, b: float, dlog: float) -> float:
    if a <= 0 or b <= 0:
        return 0.0
    v = math.log(a / b) / dlog
    return 0.0 if abs(v) < 1e-9 else v
