"""Predict the vendor benchmark tables of edge NPUs (``npu_vendor.csv``, issue #17) and score the predictions.

Each row names the profile (``hw_profile``), runtime (``runtime_id``), zoo network (``zoo_model``), input shape,
precision, CPU threads and what was measured: one inference's latency, or a frame rate (``throughput_fps``),
which is predicted as the event engine's steady-state period of a stream of frames
(``edgesim.pipeline.stream.steady_period_s``), never as 1 / latency. Rows the simulator cannot run yet (no profile
mapping, a network the zoo lacks) are reported as skipped with the reason.

Fitting is deliberately small: one latency multiplier per runtime (the geometric mean of measured / predicted
over the rows it is fitted on), so the chip numbers keep coming from datasheets. Two figures come out:
- devices with rows: the multipliers, and the shrunk offsets a run of the shipped board gets (its runtime and
  precision, then its network; ``edgesim.validate.device_offsets``), are fitted on the even-numbered lines of the
  table and scored on the odd ones;
- devices with none: leave-one-device-out, every device predicted with multipliers fitted on the other devices
  only (a runtime seen on no other device keeps its unfitted, datasheet-only prediction).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesim.errors import EdgesimError
from edgesim.hw.schema import Precision
from edgesim.passes.choices import QuantPreset
from edgesim.validate.core import open_table, spearman

if TYPE_CHECKING:
    from edgesim.pipeline import RunResult, RunSpec

REQUIRED = ("hw_profile", "runtime_id", "zoo_model", "input_shape", "precision", "metric", "value")
# Rows whose runtime_version names the RKNPU1 SDK run with that release of the rknn runtime profile.
# OpenVINO's later benchmark page (graph-data-ov.json, 2024.6 era) runs with the openvino-cpu 2024.6 release.
# Hailo Model Zoo / DFC v5.2 rows (Hailo-10H) run with hailort 5.2. nncase rows name their release (2.8: the
# README benchmark era, 2.9: CanMV's YOLO Battle, 2.10, 2.11: the in-place stackvm split).
_VERSION_RULES: tuple[tuple[str, str, str], ...] = (("rknn", r"RKNPU1", "1.7.5"),
                                                    ("hailort", r"v2\.17|v3\.33", "4.23"),
                                                    ("hailort", r"v5\.2", "5.2"),
                                                    ("openvino-cpu", r"graph-data-ov\.json", "2024.6"),
                                                    ("nncase", r"nncase 2\.8\b", "2.8"),
                                                    ("nncase", r"nncase 2\.9\b", "2.9"),
                                                    ("nncase", r"nncase 2\.10\b", "2.10"),
                                                    ("nncase", r"nncase 2\.11\b", "2.11"))


def bundled_reference() -> Path:
    """The copy of ../shared/reference/npu_vendor.csv shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "data" / "reference" / "npu_vendor.csv"


def is_vendor_table(path: str | Path) -> bool:
    """True when the CSV has the vendor-table columns (hw_profile, runtime_id, zoo_model ...)."""
    if str(path) == "npu_vendor":
        return True
    try:
        with open(path, encoding="utf-8") as fh:
            header = fh.readline()
    except (OSError, UnicodeDecodeError):  # not this table: the reference reader names the problem
        return False
    return all(c in header.split(",") for c in ("hw_profile", "runtime_id", "zoo_model"))


@dataclass(frozen=True)
class VendorRow:
    line: int
    device: str  # profile id
    runtime: str  # runtime spec, id[@version]
    network: str  # zoo name
    input_shape: str
    threads: int | None
    precision: str  # int8, int16 (w8a16), fp16, fp32
    metric: str  # "latency" or "throughput"
    measured_ms: float  # latency, or the period between frames (1000 / FPS)
    batch: int = 1  # frames per inference call (hailortcli --batch-size): a multi-context network switches per batch
    # False when the table does not state the precision ("not stated"): int8 is assumed, unless the device's
    # accelerators have no int8 datapath (a Maxwell GPU), where the runtime builds fp16 kernels (row_spec).
    precision_stated: bool = True
    # Profile the row runs on when the table states a host connection the device's profile does not have (a USB
    # stick measured on a USB 2.0 port: ncs2-usb2); empty = the device's profile. Results stay under ``device``.
    hw: str = ""


@dataclass(frozen=True)
class VendorResult:
    line: int
    device: str
    runtime: str
    network: str
    precision: str
    metric: str
    measured_ms: float
    predicted_ms: float | None
    error: str | None = None
    # the declared unmodelled costs that apply to the row's run, one line each (edgesim.pipeline.gaps)
    unmodelled: tuple[str, ...] = ()

    @property
    def ape(self) -> float | None:
        """|predicted / measured - 1|."""
        if self.predicted_ms is None:
            return None
        return abs(self.predicted_ms / self.measured_ms - 1.0)

    @property
    def runtime_id(self) -> str:
        return self.runtime.partition("@")[0]

    @property
    def board_wide(self) -> bool:
        """Whether the row may fit a multiplier other networks get (a runtime's, a board's precision offset): not a
        row a declared unmodelled cost applies to, whose cost other networks do not have (the Jetson Nano's one
        TensorRT row, SSD with the NMS plugin at 5x the model, set TensorRT's multiplier to 5)."""
        return not self.unmodelled


def deploy_precision(text: str, runtime: str) -> str:
    """The edgesim precision of a table's precision text: W8A16 -> int16 (8-bit weights, 16-bit activations),
    INT8 variants -> int8, FP16 -> fp16, float/FP32 -> what the runtime's compiler makes of a float model
    (``RuntimeProfile.float_models_as``, the one record ``edgesim run`` also applies), else fp32."""
    t = (text or "").lower()
    if "w8a16" in t:
        return "int16"
    if "int8" in t or "not stated" in t or t.startswith("unspecified"):
        return "int8"
    if "fp16" in t:
        return "fp16"
    if "fp32" in t or "float" in t:
        return _float_model_precision(runtime)
    raise EdgesimError(f"unknown precision '{text}'", field="precision")


def _float_model_precision(runtime: str) -> str:
    from edgesim.hw.loader import load_runtime

    try:
        conversion = load_runtime(runtime, note_missing_version=False)[0].float_models_as
    except EdgesimError:
        return "fp32"  # an unknown runtime id is refused where the row is run, naming it
    return conversion.precision.value if conversion is not None else "fp32"


def _runtime_spec(runtime: str, version_text: str) -> str:
    for rid, pattern, version in _VERSION_RULES:
        if runtime == rid and re.search(pattern, version_text or ""):
            return f"{rid}@{version}"
    return runtime


def _skip(rec: dict[str, str], line: int, reason: str) -> VendorResult:
    value = _to_float(rec.get("value"))
    return VendorResult(line, rec.get("hw_profile") or rec.get("device", ""), rec.get("runtime_id", ""),
                        rec.get("zoo_model") or rec.get("model", ""), rec.get("precision", ""),
                        rec.get("metric", ""), value or 0.0, None, reason)


def _to_float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


# The table's free-text input_size column where input_shape is empty: ESP-DL writes "H*W*C" (also with "×"),
# nncase "[1,3,H,W]". Only unambiguous image sizes (C = 1 or 3) become an NCHW shape; anything else leaves
# the zoo network at its default input.
_HWC = re.compile(r"^\s*(\d+)\s*[*×x]\s*(\d+)\s*[*×x]\s*([13])\s*$")
_NCHW = re.compile(r"^\s*\[\s*1\s*,\s*([13])\s*,\s*(\d+)\s*,\s*(\d+)\s*\]\s*$")


def shape_from_input_size(text: str) -> str:
    """NCHW shape text ('1x3x320x320') of an image input_size cell ('320*320*3', '[1,3,320,320]'), or ''."""
    if m := _HWC.match(text or ""):
        h, w, c = m.groups()
        return f"1x{c}x{h}x{w}"
    if m := _NCHW.match(text or ""):
        c, h, w = m.groups()
        return f"1x{c}x{h}x{w}"
    return ""


def _row(rec: dict[str, str], line: int, path: Path) -> VendorRow | str:
    """A runnable row, or the reason it is skipped."""
    device, runtime, network = (rec.get(k, "").strip() for k in ("hw_profile", "runtime_id", "zoo_model"))
    for label, cell in (("hw_profile", device), ("runtime_id", runtime), ("zoo_model", network)):
        if not cell:
            return f"no {label} mapping in the table"
    value = _to_float(rec.get("value"))
    if value is None or value <= 0:
        raise EdgesimError(f"line {line}: value must be a positive number", file=str(path), field="value")
    metric = rec.get("metric", "").strip()
    if metric not in ("latency_ms", "throughput_fps"):
        raise EdgesimError(f"line {line}: metric must be latency_ms or throughput_fps, got '{metric}'",
                           file=str(path), field="metric")
    threads = _to_float(rec.get("threads"))
    batch = _to_float(rec.get("batch"))
    try:
        precision = deploy_precision(rec.get("precision", ""), runtime)
    except EdgesimError as exc:
        raise EdgesimError(f"line {line}: {exc.message}", file=str(path), field="precision") from None
    return VendorRow(line=line, device=device, runtime=_runtime_spec(runtime, rec.get("runtime_version", "")),
                     network=network,
                     input_shape=rec.get("input_shape", "").strip() or shape_from_input_size(rec.get("input_size", "")),
                     threads=int(threads) if threads else None, precision=precision,
                     metric="throughput" if metric == "throughput_fps" else "latency",
                     measured_ms=1000.0 / value if metric == "throughput_fps" else value,
                     batch=int(batch) if batch and batch >= 1 else 1,
                     precision_stated=not _unstated(rec.get("precision", "")),
                     hw=_link_variant(device, rec.get("device", "")))


_USB2 = re.compile(r"\bUSB\s*2(?:\.0)?\b", re.IGNORECASE)


def _link_variant(profile_id: str, device_text: str) -> str:
    """The bundled '<id>-usb2' profile when the row's device text says the stick sat on a USB 2.0 port, else ''
    (the profile as given: its own host link)."""
    from edgesim.hw.loader import list_profiles

    if not _USB2.search(device_text or ""):
        return ""
    variant = f"{profile_id}-usb2"
    return variant if any(pid == variant for pid, _ in list_profiles()) else ""


def _unstated(text: str) -> bool:
    t = (text or "").lower()
    return "not stated" in t or t.startswith("unspecified")


def _unstated_precision(row: VendorRow) -> str:
    """The precision a runtime deploys when the table does not say: int8 where the device's accelerators run it,
    else fp16 where they run that (TensorRT builds fp16 kernels on a GPU without DP4A/tensor cores), else fp32."""
    from edgesim.pipeline import resolve_profile

    profile = resolve_profile(row.device)
    rates = [u.macs_per_cycle for u in profile.units if u.name != profile.host_unit]
    for precision in ("int8", "fp16"):
        if any(r.get(Precision(precision), 0.0) > 0 for r in rates):
            return precision
    return "fp32"


def read_vendor(path: str | Path) -> tuple[list[VendorRow], list[VendorResult]]:
    """(runnable rows, skipped rows with their reason); a missing column or bad number is a one-line error."""
    p = bundled_reference() if str(path) == "npu_vendor" else Path(path)
    reader = open_table(p, REQUIRED, "vendor table")
    rows: list[VendorRow] = []
    skipped: list[VendorResult] = []
    for line, rec in enumerate(reader, start=2):
        got = _row(rec, line, p)
        if isinstance(got, str):
            skipped.append(_skip(rec, line, got))
        else:
            rows.append(got)
    return rows, skipped




def row_spec(row: VendorRow) -> RunSpec:
    """The driver's question for a vendor row: the zoo network at the row's input shape, deployed at its precision
    on the row's device, runtime and CPU threads (the driver caches the built, quantized graph)."""
    from edgesim.frontends.loader import parse_shape
    from edgesim.pipeline import RunSpec, TransformOptions

    # Fixed activation ranges: they do not change what a layer costs, and PTQ calibration of a YOLO or BERT
    # graph runs the float executor for seconds.
    from edgesim.zoo import is_sequence_model

    precision = row.precision if row.precision_stated else _unstated_precision(row)
    quant = None if precision == "fp32" else QuantPreset(precision)
    transform = TransformOptions(quant=quant, calibration="fixed", accuracy=False)
    shape = parse_shape(row.input_shape) if row.input_shape else None
    if shape is not None and len(shape) == 4 and is_sequence_model(row.network):
        # The table writes the BERT family's token input image-style (1x3x1xSEQ, input_size "1xSEQ"); the
        # model's input is one row of SEQ token ids.
        shape = (1, shape[-1])
    # the model alone: the device's own rows are what is scored (validate_vendor fits their multipliers held out)
    return RunSpec(row.network, row.hw or row.device, row.runtime, input_shape=shape, threads=row.threads,
                   transform=transform, device_calibration=False)


def predict_row(row: VendorRow) -> float:
    """Milliseconds: one inference (analytic model) or the steady-state period of a stream of frames."""
    return predict_row_result(row)[0]


def predict_row_result(row: VendorRow, device_calibration: bool = False) -> tuple[float, RunResult]:
    """``predict_row``'s milliseconds and the driver's result they come from (its interval, its novelty class).
    ``device_calibration``: with the shipped board's own rows applied, as a run gets them (the external tables'
    rows, which no fit saw); the table's own rows are predicted by the model alone (they fit it)."""
    from edgesim import zoo
    from edgesim.hw.targeting import check_precision
    from edgesim.pipeline import run
    from edgesim.pipeline.stream import steady_period_s

    if row.network not in zoo.names():
        raise EdgesimError(f"the zoo has no '{row.network}' yet", field="zoo_model")
    spec = replace(row_spec(row), device_calibration=device_calibration)
    result = run(spec)
    if result.runtime is not None and spec.transform.quant is None:
        # a quantized precision the accelerator lacks the driver refuses itself (stages.stage_runtime); an fp32
        # row is not quantized, so it is asked here
        check_precision(result.profile, result.runtime, "fp32")
    if row.metric == "throughput":
        # the steady stream every door reports (edgesim.pipeline.stream): `run --frames N --batch B` gives it too
        return steady_period_s(result, row.batch) * 1e3, result
    return result.estimate.latency_s * 1e3, result


Predictor = Callable[[VendorRow], float]


def predict_all(rows: Iterable[VendorRow], predictor: Predictor | None = None) -> list[VendorResult]:
    """Every row predicted; a row the simulator refuses keeps its one-line reason (predicted_ms None)."""
    out: list[VendorResult] = []
    noted: set[str] = set()
    for row in rows:
        base = VendorResult(row.line, row.device, row.runtime, row.network, row.precision, row.metric,
                            row.measured_ms, None)
        try:
            if predictor is not None:
                out.append(replace(base, predicted_ms=predictor(row)))
            else:  # the driver's own answer: its declared unmodelled costs go with the row
                ms, result = predict_row_result(row)
                out.append(replace(base, predicted_ms=ms, unmodelled=tuple(g.line() for g in result.gaps)))
        except EdgesimError as exc:
            msg = str(exc).splitlines()[0].split("; known:")[0]
            if msg not in noted:
                noted.add(msg)
                print(f"edgesim: validate: line {row.line} skipped: {msg}", file=sys.stderr)
            out.append(replace(base, error=msg))
    return out


def fit_runtime_scales(results: Iterable[VendorResult], use: Callable[[VendorResult], bool]) -> dict[str, float]:
    """Per runtime id: the geometric mean of measured / predicted over the rows ``use`` selects, only
    ``VendorResult.board_wide`` ones (a runtime's multiplier goes to every network on every board)."""
    logs: dict[str, list[float]] = {}
    for r in results:
        if r.predicted_ms and r.board_wide and use(r):
            logs.setdefault(r.runtime_id, []).append(math.log(r.measured_ms / r.predicted_ms))
    return {rid: math.exp(sum(v) / len(v)) for rid, v in logs.items()}


def scaled(results: Iterable[VendorResult], scales: dict[str, float]) -> list[VendorResult]:
    return [replace(r, predicted_ms=r.predicted_ms * scales.get(r.runtime_id, 1.0)) if r.predicted_ms else r
            for r in results]


def baked_scale(runtime_spec: str) -> float:
    """The latency multiplier a runtime version already carries from a fit on this table (its note starts with
    'fitted'; efficiency_scale = 1 / multiplier), else 1.0."""
    from edgesim.hw.loader import load_runtime

    try:
        _, version = load_runtime(runtime_spec, note_missing_version=False)
    except EdgesimError:
        return 1.0
    return 1.0 / version.efficiency_scale if (version.note or "").startswith("fitted") else 1.0


def leave_one_device_out(results: Sequence[VendorResult],
                         baked: Callable[[str], float] = lambda spec: 1.0) -> list[VendorResult]:
    """Each device's rows predicted with runtime multipliers fitted on the other devices' rows only. A refit
    multiplier replaces any fit baked into the runtime profile; a runtime seen on no other device has that baked
    fit divided out (``baked``: runtime spec -> multiplier), so it is predicted unfitted."""
    out: list[VendorResult] = []
    for device in sorted({r.device for r in results}):
        scales = fit_runtime_scales(results, lambda r, d=device: r.device != d)  # type: ignore[misc]
        for r in results:
            if r.device == device and r.predicted_ms is not None:
                k = scales[r.runtime_id] if r.runtime_id in scales else 1.0 / baked(r.runtime)
                out.append(replace(r, predicted_ms=r.predicted_ms * k))
    return sorted(out, key=lambda r: r.line)


@dataclass(frozen=True)
class GroupStats:
    key: str
    rows: int
    mape: float
    mdape: float
    spearman: float | None = None  # networks' rank within the group (mean over device/runtime/precision/metric)


def _median(v: Sequence[float]) -> float:
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def network_rank_rho(results: Iterable[VendorResult]) -> list[float]:
    """Spearman of measured vs predicted over the networks of every (device, runtime, precision, metric)
    group with at least 3 distinct networks (one mean per network and input shape)."""
    groups: dict[tuple[str, str, str, str], dict[str, list[tuple[float, float]]]] = {}
    for r in results:
        if r.predicted_ms:
            g = groups.setdefault((r.device, r.runtime_id, r.precision, r.metric), {})
            g.setdefault(r.network, []).append((r.measured_ms, r.predicted_ms))
    rhos = []
    for nets in groups.values():
        if len(nets) >= 3:
            m = [math.exp(sum(math.log(a) for a, _ in v) / len(v)) for v in nets.values()]
            p = [math.exp(sum(math.log(b) for _, b in v) / len(v)) for v in nets.values()]
            rho = spearman(m, p)
            if rho is not None:
                rhos.append(rho)
    return rhos


def group_stats(results: Sequence[VendorResult], key: Callable[[VendorResult], str]) -> list[GroupStats]:
    by: dict[str, list[VendorResult]] = {}
    for r in results:
        if r.ape is not None:
            by.setdefault(key(r), []).append(r)
    out = []
    for k, rs in sorted(by.items()):
        apes = [r.ape for r in rs if r.ape is not None]
        rhos = network_rank_rho(rs)
        out.append(GroupStats(k, len(apes), sum(apes) / len(apes), _median(apes),
                              sum(rhos) / len(rhos) if rhos else None))
    return out


@dataclass(frozen=True)
class VendorValidation:
    reference: str
    raw: tuple[VendorResult, ...]  # datasheet profiles + first-guess runtimes, nothing fitted
    skipped: tuple[VendorResult, ...]  # not runnable (no mapping, no zoo network) or refused
    scales: tuple[tuple[str, float], ...]  # runtime multipliers fitted on the even lines
    held_out: tuple[VendorResult, ...]  # odd lines with the even-line multipliers ("devices with rows")
    lodo: tuple[VendorResult, ...]  # leave-one-device-out ("devices with no rows")

    def overall(self, which: Sequence[VendorResult]) -> GroupStats:
        return group_stats(which, lambda r: "ALL")[0] if any(r.ape is not None for r in which) else \
            GroupStats("ALL", 0, math.nan, math.nan)

    def table(self) -> str:
        """Per device, runtime and network (leave-one-device-out), then the headline figures."""
        out = []
        for title, key in (("device", lambda r: r.device), ("runtime", lambda r: r.runtime_id),
                           ("network", lambda r: r.network)):
            out.append(f"{title:<22} {'rows':>4} {'LODO MAPE':>10} {'MdAPE':>7} {'rho':>6} {'raw MAPE':>9}")
            raw = {g.key: g for g in group_stats(self.raw, key)}
            for g in group_stats(self.lodo, key):
                rho = f"{g.spearman:.2f}" if g.spearman is not None else "-"
                out.append(f"{g.key[:22]:<22} {g.rows:>4} {g.mape:>10.1%} {g.mdape:>7.1%} {rho:>6} "
                           f"{raw[g.key].mape:>9.1%}")
            out.append("")
        reasons: dict[str, int] = {}
        for r in self.skipped:
            reasons[r.error or "?"] = reasons.get(r.error or "?", 0) + 1
        out.append(f"skipped {len(self.skipped)} rows:")
        out += [f"  {n:>4}  {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
        out.append("runtime multipliers (fitted on even lines): "
                   + ", ".join(f"{k} x{v:.2f}" for k, v in self.scales))
        out.append(self.summary())
        return "\n".join(out)

    def summary(self) -> str:
        raw, held, lodo = self.overall(self.raw), self.overall(self.held_out), self.overall(self.lodo)
        rhos = network_rank_rho(self.lodo)
        rho = f"{sum(rhos) / len(rhos):.2f} mean, {min(rhos):.2f} min over {len(rhos)} groups" if rhos else "-"
        return (f"rows predicted {raw.rows}, skipped {len(self.skipped)}; unfitted MAPE {raw.mape:.1%}; "
                f"devices with rows (runtime multipliers and device offsets fit on even lines, score odd) MAPE {held.mape:.1%} over {held.rows} rows; "
                f"devices with no rows (leave-one-device-out) MAPE {lodo.mape:.1%} over {lodo.rows} rows; "
                f"per-device network rank Spearman {rho}")


def validate_vendor(reference: str | Path = "npu_vendor", predictor: Predictor | None = None) -> VendorValidation:
    rows, skipped = read_vendor(reference)
    results = predict_all(rows, predictor)
    done = [r for r in results if r.predicted_ms is not None]
    refused = [r for r in results if r.predicted_ms is None]
    from edgesim.validate.device_offsets import held_out_calibrated

    scales = fit_runtime_scales(done, lambda r: r.line % 2 == 0)
    # as a run predicts a board with rows (its own rows of the precision and network calibrate it), from the even lines only
    held = held_out_calibrated(done)
    return VendorValidation(str(reference), tuple(done), tuple(skipped + refused), tuple(sorted(scales.items())),
                            tuple(held), tuple(leave_one_device_out(done, baked_scale if predictor is None
                                                                    else lambda spec: 1.0)))


def write_plot(v: VendorValidation, path: str | Path) -> Path:
    """Predicted (leave-one-device-out) vs measured milliseconds, log-log, one colour per runtime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgesim.files import atomic_write

    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    allv: list[float] = []
    for rid in sorted({r.runtime_id for r in v.lodo}):
        pts = [(r.measured_ms, r.predicted_ms) for r in v.lodo if r.runtime_id == rid and r.predicted_ms]
        ax.scatter([m for m, _ in pts], [p for _, p in pts], s=16, alpha=0.8, label=f"{rid} ({len(pts)})")
        allv += [x for pair in pts for x in pair if x]
    if allv:
        lo, hi = min(allv) / 1.5, max(allv) * 1.5
        ax.plot([lo, hi], [lo, hi], "k-", lw=1)
        for f in (1.2, 1 / 1.2):
            ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.7)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured ms (latency, or 1000 / FPS)")
    ax.set_ylabel("predicted ms, leave-one-device-out")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    lodo = v.overall(v.lodo)
    ax.set_title(f"npu_vendor.csv: LODO MAPE {lodo.mape:.1%} over {lodo.rows} rows (dotted: +/-20%)", fontsize=9)
    fig.tight_layout()
    suffix = Path(path).suffix.lstrip(".") or "png"
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format=suffix, dpi=110))
    finally:
        plt.close(fig)


def cmd_vendor(args: Any) -> int:
    """`edgesim validate --reference npu_vendor.csv`: the table, and --json / --plot when asked."""
    import json
    from dataclasses import asdict

    from edgesim.files import atomic_write_text
    from edgesim.validate.device_offsets import device_offset_check

    v = validate_vendor(args.reference)
    print(v.table())
    # what a device's own rows add to its prediction at each grouping, held out (the check behind SHIPPED_TIERS)
    offsets = device_offset_check(v.raw, v.lodo)
    print(offsets.table())
    if getattr(args, "json", None):
        doc = {"reference": v.reference, "summary": v.summary(), "scales": dict(v.scales),
               "lodo": [asdict(r) for r in v.lodo], "raw": [asdict(r) for r in v.raw],
               "skipped": [asdict(r) for r in v.skipped], "device_offset_check": offsets.as_dict()}
        atomic_write_text(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if getattr(args, "plot", None):
        write_plot(v, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
