"""Public vendor numbers of devices the NPU model was never built with (``edgesim/data/reference/npu_external``,
the vendor table's format): their residuals are out-of-sample for the device by construction, so they join the
NPU interval calibration (issue #18) as more devices.

The bundled vendor table's leave-one-device-out residuals are partly in-sample: the profiles and kernel
efficiencies were built looking at the table boards' rows, only the runtime multiplier is refitted without the
board. Their network-to-network scatter (log sd 0.19) is far below the external devices' (0.50), so intervals
calibrated on the table alone cover 69% of the external rows at 80%. Each external row is predicted as shipped
(``predict_row_result``, with the device calibration a run of a board with table rows gets: the external rows
are in no fit) and its residual log(measured / predicted) filed under the novelty class the driver
assigns the run (``edgesim.pipeline.intervals.run_novelty``: mostly npu_new_device; a board with table rows of
another network, npu_measured_device_new_network; a runtime nobody measured, new_runtime). The coverage check
(``edgesim.validate.intervals.coverage``) and ``benchmarks/bench_npu_external.py`` hold each device out of the
bounds its own rows are checked against.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgesim.files import data_path
from edgesim.pipeline.gaps import KnownGap
from edgesim.pipeline.intervals import NoveltyClass, run_novelty
from edgesim.validate.intervals import Residual, held_out_latency_bounds
from edgesim.validate.npu_vendor import VendorRow, predict_all, predict_row_result, read_vendor

EXTERNAL_DIR = ("reference", "npu_external")


def external_files() -> list[Path]:
    """The shipped external tables, by name."""
    return sorted(data_path(*EXTERNAL_DIR).glob("*.csv"))


@dataclass(frozen=True)
class ExternalPrediction:
    file: str  # the table's file name
    line: int
    device: str
    runtime: str  # the runtime id the driver ran (no release)
    network: str
    precision: str
    metric: str
    measured_ms: float
    predicted_ms: float
    cls: NoveltyClass  # the class the driver assigns the run
    profile_latency_log: tuple[float, float] = (0.0, 0.0)  # the interval's profile part (``with_profile``)
    gaps: tuple[KnownGap, ...] = ()  # the declared unmodelled costs that apply to the row's run

    def residual(self) -> Residual:
        return Residual(self.line, self.device, self.runtime, self.network, self.cls,
                        math.log(self.measured_ms / self.predicted_ms), None, external=self.file)


def _predict_file(path: Path, with_profile: float | None) -> tuple[list[ExternalPrediction], int]:
    from edgesim.pipeline.intervals import interval

    rows, skipped = read_vendor(path)
    made: dict[int, tuple[str, NoveltyClass, tuple[float, float], tuple[KnownGap, ...]]] = {}

    def predict(row: VendorRow) -> float:
        ms, result = predict_row_result(row, device_calibration=True)
        rid = result.runtime.id if result.runtime is not None else row.runtime.partition("@")[0]
        prof = interval(result, with_profile).profile_latency_log if with_profile else (0.0, 0.0)
        made[row.line] = (rid, run_novelty(result), prof, result.gaps)
        return ms

    with contextlib.redirect_stderr(io.StringIO()):
        results = predict_all(rows, predict)
    out: list[ExternalPrediction] = []
    for r in results:
        if r.predicted_ms is not None and r.measured_ms > 0:
            rid, cls, prof, gaps = made[r.line]
            out.append(ExternalPrediction(path.name, r.line, r.device, rid, r.network, r.precision, r.metric,
                                          r.measured_ms, r.predicted_ms, cls, prof, gaps))
    return out, len(skipped) + len(results) - len(out)


def predict_external(files: Sequence[Path] | None = None, with_profile: float | None = None
                     ) -> tuple[list[ExternalPrediction], int]:
    """Every external row predicted as shipped, and how many rows the simulator refused. ``with_profile``: also
    each run's profile part of the interval at that confidence (``interval``: one map+cost per ranged field).
    Minutes: every row is a run."""
    out: list[ExternalPrediction] = []
    refused = 0
    for path in files if files is not None else external_files():
        done, n = _predict_file(path, with_profile)
        out += done
        refused += n
    return out, refused


def external_residuals(files: Sequence[Path] | None = None) -> list[Residual]:
    """The external rows' residuals in the classes the driver assigns them (minutes: ``predict_external``)."""
    return [p.residual() for p in predict_external(files)[0]]


@dataclass(frozen=True)
class HeldOutInterval:
    """An external row's latency interval (ms) with the model part calibrated without its device's residuals."""

    prediction: ExternalPrediction
    lo_ms: float
    hi_ms: float
    # False: a declared unmodelled cost applies and leaves that end open (``intervals.open_sides``); lo_ms/hi_ms
    # keep the calibrated number
    upper_bounded: bool = True
    lower_bounded: bool = True

    @property
    def covered(self) -> bool:
        """The measurement inside the bounded ends (one-sided where an end is open)."""
        m = self.prediction.measured_ms
        return (not self.lower_bounded or self.lo_ms <= m) and (not self.upper_bounded or m <= self.hi_ms)

    @property
    def covered_two_sided(self) -> bool:
        """The measurement inside lo_ms..hi_ms as calibrated, open ends ignored (what the check counted before
        the ends were opened)."""
        return self.lo_ms <= self.prediction.measured_ms <= self.hi_ms


def held_out_intervals(predictions: Sequence[ExternalPrediction], calibration: Sequence[Residual],
                       confidence: float) -> list[HeldOutInterval]:
    """Each row's interval as ``interval`` builds it (profile part and model part in quadrature), the model part
    from ``calibration`` (the shipped residuals) without the row's group: its device for a new device (the same
    leave-one-group-out the coverage check gives every row), so the check stays out-of-sample now that the
    external rows are in the calibration."""
    from edgesim.pipeline.intervals import combine, open_sides

    out: list[HeldOutInterval] = []
    for p in predictions:
        m_lo, m_hi, _ = held_out_latency_bounds(p.residual(), calibration, confidence)
        # a throughput row's number is a stream's period: stream-scope gaps open it too
        iv = open_sides(combine(p.predicted_ms, p.profile_latency_log, (m_lo, m_hi)), p.gaps,
                        stream=p.metric == "throughput")
        out.append(HeldOutInterval(p, iv.lo, iv.hi, iv.upper_bounded, iv.lower_bounded))
    return out
