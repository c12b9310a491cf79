"""Predict every row of a measured reference file and score the predictions.

Reference format (the shared ``mlperf_tiny.csv``): columns device, runtime, runtime_version, clock_mhz,
model_file (a file under the models folder or a zoo name), latency_ms, energy_uj (empty = not measured); an
optional ``benchmark`` column groups rows (default: the model file). Other columns are carried along unread.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesim.errors import EdgesimError, ProfileError
from edgesim.files import data_path
from edgesim.passes.choices import QuantPreset

if TYPE_CHECKING:
    from edgesim.pipeline import RunSpec

REQUIRED_COLUMNS = ("device", "runtime", "clock_mhz", "model_file", "latency_ms")
# Energy is judged "where latency is right" (issue #5): rows whose latency error is within this bound. Energy
# errors on the other rows mostly repeat their latency error, which the power error below factors out.
LATENCY_RIGHT = 0.10
# Deployment precisions of a zoo model in the optional ``precision`` column (reference_spec).
REFERENCE_PRECISIONS = ("int8", "fp16", "fp32")


def bundled_models_dir() -> Path:
    """The bundled MLPerf Tiny models the reference rows name (shipped in the package)."""
    return data_path("models")


def default_reference() -> Path:
    return data_path("reference", "mlperf_tiny.csv")


@dataclass(frozen=True)
class ReferenceRow:
    line: int
    device: str
    runtime: str
    runtime_version: str
    clock_mhz: float | None
    benchmark: str
    model_file: str
    latency_ms: float
    energy_uj: float | None
    # "latency" (one inference) or "throughput" (latency_ms is the period between frames of a stream, 1000 / FPS;
    # optional column, written by edgesim.validate.edge for the Hailo model-zoo rows)
    metric: str = "latency"
    # Precision the zoo model is deployed at (optional column): int8 = edgesim's PTQ, fp16 = its fp16 pass,
    # fp32 = kept float; written by edgesim.validate.edge for the OpenCV DNN rows. Model files are used as is.
    precision: str = "int8"
    # The MLPerf Tiny submission a row comes from (optional columns): what its system description says of the
    # setup, such as the supply voltage (edgesim.validate.supply), is matched on them.
    submitter: str = ""
    mlperf_version: str = ""

    @property
    def runtime_spec(self) -> str:
        return f"{self.runtime}@{self.runtime_version}" if self.runtime_version else self.runtime


def _float_or_none(text: str | None, path: Path, line: int, col: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise EdgesimError(f"line {line}: '{text}' is not a number", file=str(path), field=col) from None


def open_table(p: Path, required: Sequence[str], what: str) -> csv.DictReader[str]:
    """The rows of a reference CSV, once its header has every ``required`` column; an unreadable file or a
    missing column is a one-line EdgesimError naming the file."""
    try:
        text = p.read_text(encoding="utf-8-sig")  # a spreadsheet's UTF-8 export starts with a byte-order mark
    except OSError as exc:
        raise EdgesimError(f"cannot read reference file: {exc.strerror or exc}", file=str(p)) from None
    except UnicodeDecodeError as exc:
        raise EdgesimError(f"not a UTF-8 CSV file (byte {exc.start})", file=str(p)) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise EdgesimError(f"{what} lacks columns {missing}", file=str(p))
    return reader


def read_reference(path: str | Path) -> list[ReferenceRow]:
    """Rows of a reference CSV; a missing column or a non-numeric cell is a one-line EdgesimError."""
    p = Path(path)
    reader = open_table(p, REQUIRED_COLUMNS, "reference file")
    rows: list[ReferenceRow] = []
    for i, rec in enumerate(reader, start=2):
        lat = _float_or_none(rec.get("latency_ms"), p, i, "latency_ms")
        if lat is None or not 0 < lat < math.inf:  # 'nan' and 'inf' parse as floats: scored as errors of nan
            raise EdgesimError(f"line {i}: latency_ms must be a positive number", file=str(p), field="latency_ms")
        energy = _float_or_none(rec.get("energy_uj"), p, i, "energy_uj")
        if energy is not None and not 0 < energy < math.inf:  # was read as 'not measured' without a word
            raise EdgesimError(f"line {i}: energy_uj must be a positive number (empty when not measured), got "
                               f"{rec.get('energy_uj')}", file=str(p), field="energy_uj")
        model = (rec.get("model_file") or "").strip()
        metric = (rec.get("metric") or "").strip().lower() or "latency"
        if metric not in ("latency", "throughput"):
            raise EdgesimError(f"line {i}: metric must be 'latency' or 'throughput', got '{metric}'", file=str(p),
                               field="metric")
        precision = (rec.get("precision") or "").strip().lower() or "int8"
        if precision not in REFERENCE_PRECISIONS:
            raise EdgesimError(f"line {i}: precision must be one of {', '.join(REFERENCE_PRECISIONS)}, got "
                               f"'{precision}'", file=str(p), field="precision")
        rows.append(ReferenceRow(
            line=i, device=(rec.get("device") or "").strip(), runtime=(rec.get("runtime") or "").strip(),
            runtime_version=(rec.get("runtime_version") or "").strip(),
            clock_mhz=_float_or_none(rec.get("clock_mhz"), p, i, "clock_mhz"),
            benchmark=(rec.get("benchmark") or "").strip() or model, model_file=model, latency_ms=lat,
            energy_uj=energy, metric=metric, precision=precision,
            submitter=(rec.get("submitter") or "").strip(), mlperf_version=(rec.get("mlperf_version") or "").strip(),
        ))
    return rows


@dataclass(frozen=True)
class RowResult:
    line: int
    device: str
    runtime: str
    benchmark: str
    model_file: str
    clock_mhz: float | None
    measured_latency_ms: float
    predicted_latency_ms: float | None
    measured_energy_uj: float | None
    predicted_energy_uj: float | None
    error: str | None = None  # why the row could not be predicted
    metric: str = "latency"  # "throughput": both latencies are the period between frames of a stream
    # the declared unmodelled costs that apply to the row's run, one line each (edgesim.pipeline.gaps)
    unmodelled: tuple[str, ...] = ()

    @property
    def latency_error(self) -> float | None:
        """Signed relative error (predicted / measured - 1)."""
        if self.predicted_latency_ms is None:
            return None
        return self.predicted_latency_ms / self.measured_latency_ms - 1.0

    @property
    def energy_error(self) -> float | None:
        if self.predicted_energy_uj is None or self.measured_energy_uj is None:
            return None
        return self.predicted_energy_uj / self.measured_energy_uj - 1.0

    @property
    def power_error(self) -> float | None:
        """(E_pred / t_pred) / (E_meas / t_meas) - 1: the energy error the model would have with exact latency."""
        if self.energy_error is None or not self.predicted_latency_ms or self.predicted_energy_uj is None:
            return None
        predicted_mw = self.predicted_energy_uj / self.predicted_latency_ms
        measured_mw = (self.measured_energy_uj or 0.0) / self.measured_latency_ms
        return predicted_mw / measured_mw - 1.0 if measured_mw > 0 else None

    @property
    def latency_right(self) -> bool:
        """|latency error| <= LATENCY_RIGHT: the rows on which the issue judges energy."""
        # 1e-9 so that 11 ms predicted for 10 ms measured (10% in decimal) is not lost to binary rounding
        return self.latency_error is not None and abs(self.latency_error) <= LATENCY_RIGHT + 1e-9


@dataclass(frozen=True)
class BenchmarkStats:
    benchmark: str
    rows: int
    latency_mape: float
    latency_median_ape: float
    latency_spearman: float | None  # None when fewer than 3 distinct devices
    energy_rows: int
    energy_mape: float | None
    energy_median_ape: float | None
    energy_spearman: float | None
    # Energy on rows with |latency error| <= LATENCY_RIGHT, and the power error (energy error at exact latency)
    # on all energy rows; None when there are no such rows.
    energy_latency_right_rows: int = 0
    energy_latency_right_mape: float | None = None
    energy_latency_right_median_ape: float | None = None
    power_mape: float | None = None
    power_median_ape: float | None = None


@dataclass(frozen=True)
class ValidationResult:
    reference: str
    rows: tuple[RowResult, ...]
    benchmarks: tuple[BenchmarkStats, ...]
    overall: BenchmarkStats
    skipped: tuple[RowResult, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        def row(r: RowResult) -> dict[str, Any]:
            d = asdict(r)
            if not r.unmodelled:
                del d["unmodelled"]  # only where a declared gap applies: the rows of other runtimes read as before
            d["latency_error"] = r.latency_error
            d["energy_error"] = r.energy_error
            d["power_error"] = r.power_error
            d["latency_right"] = r.latency_right
            return d

        return {
            "reference": self.reference,
            "latency_right_bound": LATENCY_RIGHT,
            "overall": asdict(self.overall),
            "benchmarks": [asdict(b) for b in self.benchmarks],
            "rows": [row(r) for r in self.rows],
            "skipped": [row(r) for r in self.skipped],
        }

    def table(self) -> str:
        """Per-row errors then the per-benchmark summary, as plain text."""
        out = [f"{'line':>4} {'device':<18} {'runtime':<20} {'benchmark':<22} {'meas ms':>10} {'pred ms':>10} "
               f"{'err':>7} {'meas uJ':>10} {'pred uJ':>10} {'err':>7}"]
        for r in self.rows:
            le = f"{r.latency_error:+.0%}" if r.latency_error is not None else "-"
            ee = f"{r.energy_error:+.0%}" if r.energy_error is not None else "-"
            me = f"{r.measured_energy_uj:.1f}" if r.measured_energy_uj is not None else "-"
            pe = f"{r.predicted_energy_uj:.1f}" if r.energy_error is not None and r.predicted_energy_uj else "-"
            out.append(f"{r.line:>4} {r.device:<18} {r.runtime:<20} {r.benchmark[:22]:<22} "
                       f"{r.measured_latency_ms:>10.3f} {r.predicted_latency_ms or 0:>10.3f} {le:>7} "
                       f"{me:>10} {pe:>10} {ee:>7}")
        for r in self.skipped:
            out.append(f"{r.line:>4} {r.device:<18} {r.runtime:<20} {r.benchmark[:22]:<22} skipped: {r.error}")
        out.append("")
        out.append(f"{'benchmark':<24} {'rows':>4} {'lat MAPE':>9} {'lat MdAPE':>9} {'lat rho':>8} "
                   f"{'E rows':>6} {'E MAPE':>8} {'E MdAPE':>8} {'E rho':>6}")
        for b in (*self.benchmarks, self.overall):
            def pct(x: float | None) -> str:
                return f"{x:.1%}" if x is not None and not math.isnan(x) else "-"

            def rho(x: float | None) -> str:
                return f"{x:.2f}" if x is not None else "-"

            out.append(f"{b.benchmark[:24]:<24} {b.rows:>4} {pct(b.latency_mape):>9} {pct(b.latency_median_ape):>9} "
                       f"{rho(b.latency_spearman):>8} {b.energy_rows:>6} {pct(b.energy_mape):>8} "
                       f"{pct(b.energy_median_ape):>8} {rho(b.energy_spearman):>6}")
        out += self._energy_table()
        return "\n".join(out)

    def _energy_table(self) -> list[str]:
        """Energy where latency is right (|latency error| <= LATENCY_RIGHT) and power error on all energy rows."""
        if not self.overall.energy_rows:
            return []

        def pct(x: float | None) -> str:
            return f"{x:.1%}" if x is not None and not math.isnan(x) else "-"

        out = ["", f"energy where |latency error| <= {LATENCY_RIGHT:.0%}, and power error "
                   "(E_pred/t_pred vs E_meas/t_meas) on all energy rows:",
               f"{'benchmark':<24} {'rows':>4} {'E MAPE':>8} {'E MdAPE':>8} {'E rows':>6} {'P MAPE':>8} {'P MdAPE':>8}"]
        for b in (*self.benchmarks, self.overall):
            out.append(f"{b.benchmark[:24]:<24} {b.energy_latency_right_rows:>4} "
                       f"{pct(b.energy_latency_right_mape):>8} {pct(b.energy_latency_right_median_ape):>8} "
                       f"{b.energy_rows:>6} {pct(b.power_mape):>8} {pct(b.power_median_ape):>8}")
        return out


def _ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (ties share the mean of their positions), 1-based."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman rank correlation with tie correction (Pearson on average ranks); None if undefined."""
    if len(x) != len(y):
        raise ValueError("spearman needs sequences of equal length")
    if len(x) < 2:
        return None
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def _median(v: Sequence[float]) -> float:
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _device_means(rows: Iterable[RowResult], pred: Callable[[RowResult], float | None],
                  meas: Callable[[RowResult], float | None]) -> tuple[list[float], list[float]]:
    """Geometric mean per (device, runtime, clock) so repeated submissions do not dominate the ranking."""
    groups: dict[tuple[str, str, float | None], list[tuple[float, float]]] = {}
    for r in rows:
        p, m = pred(r), meas(r)
        if p is None or m is None or p <= 0:
            continue
        groups.setdefault((r.device, r.runtime, r.clock_mhz), []).append((p, m))
    ps = [math.exp(sum(math.log(a) for a, _ in g) / len(g)) for g in groups.values()]
    ms = [math.exp(sum(math.log(b) for _, b in g) / len(g)) for g in groups.values()]
    return ps, ms


def summarize(name: str, rows: Sequence[RowResult]) -> BenchmarkStats:
    lat = [abs(r.latency_error) for r in rows if r.latency_error is not None]
    en = [abs(r.energy_error) for r in rows if r.energy_error is not None]
    en_right = [abs(r.energy_error) for r in rows if r.energy_error is not None and r.latency_right]
    pw = [abs(r.power_error) for r in rows if r.power_error is not None]
    lp, lm = _device_means(rows, lambda r: r.predicted_latency_ms, lambda r: r.measured_latency_ms)
    ep, em = _device_means(rows, lambda r: r.predicted_energy_uj, lambda r: r.measured_energy_uj)
    return BenchmarkStats(
        benchmark=name, rows=len(lat),
        latency_mape=sum(lat) / len(lat) if lat else math.nan,
        latency_median_ape=_median(lat) if lat else math.nan,
        latency_spearman=spearman(lp, lm) if len(lp) >= 3 else None,
        energy_rows=len(en),
        energy_mape=sum(en) / len(en) if en else None,
        energy_median_ape=_median(en) if en else None,
        energy_spearman=spearman(ep, em) if len(ep) >= 3 else None,
        energy_latency_right_rows=len(en_right),
        energy_latency_right_mape=sum(en_right) / len(en_right) if en_right else None,
        energy_latency_right_median_ape=_median(en_right) if en_right else None,
        power_mape=sum(pw) / len(pw) if pw else None,
        power_median_ape=_median(pw) if pw else None,
    )


def resolve_model(model_file: str, models_dir: Path) -> str:
    """A file in the models folder, an explicit path, or (otherwise) a zoo name passed through."""
    cand = models_dir / model_file
    if cand.is_file():
        return str(cand)
    return model_file


# (latency_ms, energy_uj), and optionally the lines of the declared unmodelled costs that apply to the row's run
Predictor = Callable[[ReferenceRow], tuple[float, float] | tuple[float, float, tuple[str, ...]]]


def reference_spec(model: str, precision: str = "int8") -> RunSpec:
    """The driver's question for a reference model: a model file as is; a zoo name (float) deployed at
    ``precision``: quantized to int8 (the default: most reference rows are int8 deployments), converted to fp16, or
    kept fp32. The device, runtime and clock are the row's (``row_spec``)."""
    from edgesim.pipeline import RunSpec, TransformOptions

    no_accuracy = TransformOptions(accuracy=False)
    if Path(model).is_file():
        return RunSpec(model, "-", transform=no_accuracy)
    name, at, res = model.rpartition("@")
    sized = bool(at and res.isdigit())
    # "mobilenet_v2:alpha=1.4": a zoo model's width option (edge_latency.csv's Hailo mobilenet_v2_1.4 row)
    base, colon, option = (name if sized else model).partition(":")
    # "resnet50@299": the zoo model at another input resolution (edge_latency.csv rows, edgesim.validate.edge)
    choices: dict[str, object] = {"resolution": int(res)} if sized else {}
    if colon:
        key, _, value = option.partition("=")
        try:
            choices[key.strip()] = float(value)
        except ValueError:
            raise EdgesimError(f"'{model}': a zoo option is 'name:key=number'", field="model_file") from None
    if precision not in REFERENCE_PRECISIONS:
        raise EdgesimError(f"precision must be one of {', '.join(REFERENCE_PRECISIONS)}, got '{precision}'",
                           field="precision")
    quant = None if precision == "fp32" else QuantPreset(precision)
    return RunSpec(base if choices else model, "-", zoo_choices=tuple(sorted(choices.items())),
                   transform=replace(no_accuracy, quant=quant))


def row_spec(row: ReferenceRow, models_dir: Path, device: str | None = None, runtime: str | None = None
             ) -> RunSpec:
    """The driver's question for a reference row (``device``/``runtime`` override the row's)."""
    spec = reference_spec(resolve_model(row.model_file, models_dir), row.precision)
    return replace(spec, hw=device or row.device, runtime=runtime or row.runtime_spec, clock_mhz=row.clock_mhz)


def api_predictor(models_dir: Path) -> Predictor:
    """(latency_ms, energy_uj) of a row through the pipeline driver (which caches the graphs). A throughput row's
    latency_ms is the steady stream's period between frames every door reports (``run --frames N``, the API, the
    vendor-table validator: edgesim.pipeline.stream.steady_period_s)."""
    from edgesim.pipeline import run
    from edgesim.pipeline.stream import steady_period_s

    def predict(row: ReferenceRow) -> tuple[float, float, tuple[str, ...]]:
        result = run(row_spec(row, models_dir))
        est, gaps = result.estimate, tuple(g.line() for g in result.gaps)
        if row.metric == "throughput":
            return steady_period_s(result) * 1e3, est.energy_j * 1e6, gaps
        return est.latency_s * 1e3, est.energy_j * 1e6, gaps

    return predict


def _as_reference_format(path: Path) -> Path:
    """The edge_latency.csv layout (free-text device/model columns) is converted to a temporary reference file."""
    try:
        header = path.read_text(encoding="utf-8-sig").split("\n", 1)[0].split(",")
    except (OSError, UnicodeDecodeError):
        return path  # read_reference reports it
    if "model_file" in header or not {"accelerator", "model", "latency_ms"} <= set(header):
        return path
    import tempfile

    from edgesim.validate.edge import convert_edge_latency

    out = Path(tempfile.mkdtemp(prefix="edgesim-validate-")) / f"{path.stem}.reference.csv"
    n = convert_edge_latency(path, out)
    print(f"edgesim: validate: {path.name}: {n} rows map to bundled profiles, runtimes and zoo models",
          file=sys.stderr)
    return out


def validate(
    reference_csv: str | Path | None = None,
    *,
    models_dir: str | Path | None = None,
    predictor: Predictor | None = None,
    strict: bool = False,
) -> ValidationResult:
    """Predict every row of ``reference_csv`` (default: the bundled mlperf_tiny.csv) and score it.

    Rows whose device/runtime/model cannot be loaded are reported as skipped (``strict`` raises instead).
    """
    from edgesim.validate.supply import supply_scale

    ref = Path(reference_csv) if reference_csv is not None else default_reference()
    source = _as_reference_format(ref)
    rows = read_reference(source)
    mdir = Path(models_dir) if models_dir is not None else bundled_models_dir()
    predict = predictor or api_predictor(mdir)
    done: list[RowResult] = []
    skipped: list[RowResult] = []
    notified: set[str] = set()
    notices: list[str] = []  # printed after the loop: when every row is skipped, the refusal is the one line
    for row in rows:
        base = dict(line=row.line, device=row.device, runtime=row.runtime_spec, benchmark=row.benchmark,
                    model_file=row.model_file, clock_mhz=row.clock_mhz, measured_latency_ms=row.latency_ms,
                    measured_energy_uj=row.energy_uj, metric=row.metric)
        try:
            got = predict(row)
        except (EdgesimError, ProfileError) as exc:
            if strict:
                raise
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if msg not in notified:
                notified.add(msg)
                notices.append(f"edgesim: validate: line {row.line} skipped: {msg}")
            skipped.append(RowResult(**base, predicted_latency_ms=None, predicted_energy_uj=None,  # type: ignore[arg-type]
                                     error=msg))
            continue
        lat_ms, en_uj = got[0], got[1]
        done.append(RowResult(**base, predicted_latency_ms=lat_ms,  # type: ignore[arg-type]
                              # a row measured at another supply than its profile's basis, on a part whose
                              # power follows the supply
                              predicted_energy_uj=en_uj * supply_scale(row),
                              unmodelled=got[2] if len(got) > 2 else ()))
    refuse_empty(ref, len(rows), skipped)
    for line in notices:
        print(line, file=sys.stderr)
    by_bench: dict[str, list[RowResult]] = {}
    for r in done:
        by_bench.setdefault(r.benchmark, []).append(r)
    stats = tuple(summarize(b, rs) for b, rs in sorted(by_bench.items()))
    return ValidationResult(str(ref), tuple(done), stats, summarize("ALL", done), tuple(skipped))


def refuse_empty(ref: Path, n_rows: int, skipped: Sequence[RowResult]) -> None:
    """A reference with no rows, or none that could be predicted, has no error to report: an empty table with
    exit 0 would read as a validation that passed."""
    if n_rows == 0:
        raise EdgesimError("reference file has a header but no measurement rows", file=str(ref))
    if len(skipped) == n_rows:
        raise EdgesimError(f"none of its {n_rows} rows could be predicted (line {skipped[0].line}: "
                           f"{skipped[0].error})", file=str(ref))


def write_json(result: ValidationResult, path: str | Path) -> Path:
    from edgesim.files import atomic_write_text

    def clean(o: Any) -> Any:
        if isinstance(o, float) and math.isnan(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    return atomic_write_text(path, json.dumps(clean(result.as_dict()), indent=2) + "\n")


def write_plot(result: ValidationResult, path: str | Path) -> Path:
    """Predicted vs measured latency (and energy if any), log-log, with the 1:1 line; PNG/SVG by suffix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgesim.files import atomic_write

    has_energy = any(r.energy_error is not None for r in result.rows)
    fig, axes = plt.subplots(1, 2 if has_energy else 1, figsize=(12 if has_energy else 6.5, 6), squeeze=False)
    panels: list[tuple[str, Callable[[RowResult], float | None], Callable[[RowResult], float | None]]] = [
        ("latency (ms)", lambda r: r.measured_latency_ms, lambda r: r.predicted_latency_ms)]
    if has_energy:
        panels.append(("energy (uJ)", lambda r: r.measured_energy_uj,
                       lambda r: r.predicted_energy_uj if r.energy_error is not None else None))
    benches = sorted({r.benchmark for r in result.rows})
    for ax, (label, meas, pred) in zip(axes[0], panels, strict=False):
        allv: list[float] = []
        for b in benches:
            pts = [(meas(r), pred(r)) for r in result.rows if r.benchmark == b]
            xy = [(m, p) for m, p in pts if m and p and m > 0 and p > 0]
            if not xy:
                continue
            ax.scatter([m for m, _ in xy], [p for _, p in xy], label=b, s=22, alpha=0.8)
            allv += [v for pair in xy for v in pair]
        if allv:
            lo, hi = min(allv) / 1.5, max(allv) * 1.5
            ax.plot([lo, hi], [lo, hi], "k-", lw=1, label="1:1")
            ax.plot([lo, hi], [lo * 1.25, hi * 1.25], "k:", lw=0.7, label="+/-25%")
            ax.plot([lo, hi], [lo / 1.25, hi / 1.25], "k:", lw=0.7)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"measured {label}")
        ax.set_ylabel(f"predicted {label}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    o = result.overall
    title = (f"edgesim vs {Path(result.reference).name}: latency MAPE {o.latency_mape:.1%}, "
             f"median APE {o.latency_median_ape:.1%} ({o.rows} rows)")
    if o.energy_latency_right_mape is not None and o.power_mape is not None:
        title += (f"\nenergy MAPE where |latency error| <= {LATENCY_RIGHT:.0%}: {o.energy_latency_right_mape:.1%} "
                  f"({o.energy_latency_right_rows} rows); power MAPE {o.power_mape:.1%} ({o.energy_rows} rows)")
    fig.suptitle(title)
    fig.tight_layout()
    suffix = Path(path).suffix.lstrip(".") or "png"

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format=suffix, dpi=110)

    try:
        return atomic_write(path, write)
    finally:
        plt.close(fig)
