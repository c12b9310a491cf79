"""New-board energy bounds, held out: the shipped construction against two others, for both new-device classes
(``known_family``, ``new_family``) alike (issue #18). A measurement over the shipped residuals
(``shipped_residuals``), no prediction rerun:

    python -c "from edgesim.validate.energy_bound_check import report; print(report())"

- ``shipped`` (``board_offsets``, ``board_offsets_energy_bounds``, the run path's and the coverage check's):
  energy = a device's latency offset + a board's power offset + the row's deviation, three independent parts:
  the training devices' mean latency residuals (each one draw), the boards' mean new-board power residuals (each
  one draw), and the rows' deviations of latency + power of the same row from their device's mean (jointly: a
  row's latency and power errors are not taken as independent within a board; a device without energy rows
  gives its latency deviations), each device weighing one. Plain weighted levels;
- ``independent`` (shipped until 2026-12-07): the class's latency residuals (each device weighing one) plus the
  new-board power residuals (each board weighing one), added as independent (``new_board_energy_bounds``);
- ``normal``: the three parts of ``board_offsets`` as one normal distribution (their variances added; the
  offsets' means kept).

Coverage is measured as ``edgesim validate --coverage`` measures it: each held-out device's rows against bounds
from the other devices' residuals, its power rows left out of the board spread (the nested fallback factors).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

from edgesim.pipeline.intervals import (
    GROUP_WEIGHTED,
    NoveltyClass,
    board_offset_parts,
    energy_bounds,
    group_pairs,
    group_weights,
    new_board_energy_bounds,
    weight_group,
)
from edgesim.validate.intervals import (
    EnergyBoundsFn,
    Residual,
    energy_coverage,
    held_out_energy_bounds,
    new_board_parts,
    shipped_residuals,
)

CLASSES = (NoveltyClass.KNOWN_FAMILY, NoveltyClass.NEW_FAMILY)


def independent_bounds(cls: NoveltyClass, held: Sequence[Residual], board: str, train: Sequence[Residual],
                       power: Sequence[Residual], new_power: Sequence[Residual], confidence: float
                       ) -> tuple[float, float, bool]:
    """``independent`` (module docstring); the shipped bounds for the classes that are not new devices."""
    if cls not in GROUP_WEIGHTED:
        return held_out_energy_bounds(cls, held, board, train, power, new_power, confidence)
    _, pw, _ = new_board_parts(cls, held, board, train, new_power)
    by_board = group_pairs(pw)
    if len(by_board) < 3:
        return energy_bounds([x.latency_log for x in train], [p for _, p in pw], confidence)
    pairs = group_weights([(x.latency_log, weight_group(cls, x.device, x.runtime)) for x in train])
    return new_board_energy_bounds([v for v, _ in pairs], list(by_board.values()), confidence,
                                   [w for _, w in pairs])


def normal_bounds(cls: NoveltyClass, held: Sequence[Residual], board: str, train: Sequence[Residual],
                  power: Sequence[Residual], new_power: Sequence[Residual], confidence: float
                  ) -> tuple[float, float, bool]:
    """``normal`` (module docstring); the shipped bounds for the classes that are not new devices."""
    if cls not in GROUP_WEIGHTED:
        return held_out_energy_bounds(cls, held, board, train, power, new_power, confidence)
    lat_means, pw_means, dev = board_offset_parts(*new_board_parts(cls, held, board, train, new_power))
    lat, pw = [float(v) for v in lat_means], [float(v) for v in pw_means]
    if len(lat) < 2 or len(pw) < 2 or not dev:
        return held_out_energy_bounds(cls, held, board, train, power, new_power, confidence)
    var = statistics.variance(lat) + statistics.variance(pw) + statistics.fmean(float(np.mean(d * d)) for d in dev)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    mid = statistics.fmean(lat) + statistics.fmean(pw)
    return mid - z * var ** 0.5, mid + z * var ** 0.5, False


VARIANTS: tuple[tuple[str, EnergyBoundsFn | None], ...] = (
    ("shipped", None), ("independent", independent_bounds), ("normal", normal_bounds))


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
