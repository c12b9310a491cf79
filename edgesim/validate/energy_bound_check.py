"""New-board energy bounds, held out: the shipped construction against two others, for both new-device classes
(``known_family``, ``new_family``) alike (issue #18). A measurement over the shipped residuals
(``shipped_residuals``), no prediction rerun:

    python -c "from edgesim.validate.energy_bound_check import report; print(report())"

- ``shipped``: the class's latency residuals (each device weighing one) plus the new-board power residuals (each
  board weighing one), added as independent (``new_board_energy_bounds``);
- ``board_offsets``: energy = a device's latency offset + a board's power offset + the row's deviation, three
  independent parts: the training devices' mean latency residuals (each one draw), the boards' mean new-board
  power residuals (each one draw), and the rows' deviations of latency + power of the same row from their
  board's mean (jointly: a row's latency and power errors are not taken as independent within a board; a device
  without energy rows gives its latency deviations), each device weighing one. Plain weighted levels, as shipped;
- ``normal``: the same three parts as one normal distribution (their variances added; the offsets' means kept).

Coverage is measured as ``edgesim validate --coverage`` measures it: each held-out device's rows against bounds
from the other devices' residuals, its power rows left out of the board spread (the nested fallback factors).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

from edgesim.pipeline.intervals import GROUP_WEIGHTED, NoveltyClass, weighted_bounds
from edgesim.validate.intervals import EnergyBoundsFn, Residual, energy_coverage, shipped_residuals

CLASSES = (NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY)


def _parts(cls: NoveltyClass, held: Sequence[Residual], board: str, train: Sequence[Residual],
           new_power: Sequence[Residual]) -> tuple[list[float], list[float], list[np.ndarray]]:
    """(devices' mean latency residuals, boards' mean power residuals, per device its rows' deviations)."""
    held_devices = {x.device for x in held}
    power: dict[str, list[float]] = {}
    energy: dict[str, list[float]] = {}
    for y in new_power:
        if y.device in held_devices or y.power_log is None:
            continue
        p = dict(y.power_log_without).get(board, y.power_log)  # the fallback fitted without the held-out board
        power.setdefault(y.device, []).append(p)
        if y.cls is cls:
            energy.setdefault(y.device, []).append(y.latency_log + p)
    latency: dict[str, list[float]] = {}
    for x in train:
        latency.setdefault(x.device, []).append(x.latency_log)
    deviations = {d: np.asarray(v) - np.mean(v) for d, v in energy.items() if len(v) >= 2}
    for d, v in latency.items():
        if d not in deviations and len(v) >= 2:
            deviations[d] = np.asarray(v) - np.mean(v)
    return ([statistics.fmean(v) for v in latency.values()], [statistics.fmean(v) for v in power.values()],
            list(deviations.values()))


def board_offsets_bounds(cls: NoveltyClass, held: Sequence[Residual], board: str, train: Sequence[Residual],
                         power: Sequence[Residual], new_power: Sequence[Residual], confidence: float
                         ) -> tuple[float, float, bool]:
    """``board_offsets`` (module docstring); the shipped bounds for the classes that are not new devices."""
    from edgesim.validate.intervals import held_out_energy_bounds

    if cls not in GROUP_WEIGHTED:
        return held_out_energy_bounds(cls, held, board, train, power, new_power, confidence)
    lat, pw, dev = _parts(cls, held, board, train, new_power)
    if not lat or not pw or not dev:
        return held_out_energy_bounds(cls, held, board, train, power, new_power, confidence)
    offsets = (np.asarray(lat)[:, None] + np.asarray(pw)[None, :]).ravel()
    rows = np.concatenate(dev)
    w_rows = np.concatenate([np.full(len(d), 1.0 / len(d)) for d in dev])
    total = (offsets[:, None] + rows[None, :]).ravel()
    weight = np.tile(w_rows, len(offsets))
    order = np.argsort(total, kind="stable")
    lo, hi, _ = weighted_bounds(total[order], weight[order], confidence)
    return lo, hi, False


def normal_bounds(cls: NoveltyClass, held: Sequence[Residual], board: str, train: Sequence[Residual],
                  power: Sequence[Residual], new_power: Sequence[Residual], confidence: float
                  ) -> tuple[float, float, bool]:
    """``normal`` (module docstring); the shipped bounds for the classes that are not new devices."""
    from edgesim.validate.intervals import held_out_energy_bounds

    lat, pw, dev = _parts(cls, held, board, train, new_power)
    if cls not in GROUP_WEIGHTED or len(lat) < 2 or len(pw) < 2 or not dev:
        return held_out_energy_bounds(cls, held, board, train, power, new_power, confidence)
    var = statistics.variance(lat) + statistics.variance(pw) + statistics.fmean(float(np.mean(d * d)) for d in dev)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    mid = statistics.fmean(lat) + statistics.fmean(pw)
    return mid - z * var ** 0.5, mid + z * var ** 0.5, False


VARIANTS: tuple[tuple[str, EnergyBoundsFn | None], ...] = (
    ("shipped", None), ("board_offsets", board_offsets_bounds), ("normal", normal_bounds))


def report(residuals: Sequence[Residual] | None = None, confidences: Sequence[float] = (0.8, 0.9)) -> str:
    rows = list(residuals) if residuals is not None else shipped_residuals(npu=False)
    out = [f"{'construction':<14} {'class':<14} {'conf':>5} {'rows':>5} {'groups':>6} {'covered':>8} "
           f"{'median half-width':>18}"]
    for name, fn in VARIANTS:
        for confidence in confidences:
            for cls in CLASSES:
                c = energy_coverage(rows, cls, confidence, fn)
                if c is not None:
                    out.append(f"{name:<14} {cls.value:<14} {confidence:>5.0%} {c.rows:>5} {c.devices:>6} "
                               f"{c.covered:>8.0%} {c.median_half_width:>17.0%}")
    return "\n".join(out)
