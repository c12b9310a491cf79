"""Design-space sweeps: evaluate every point of a spec on local processes or a Dask cluster, appending
results as part files so an interrupted sweep resumes where it stopped, then consolidate into one parquet
file with a Pareto column and a plot.

Layout: ``OUT.parquet.parts/part-<first index>-<key>.parquet`` per finished chunk, each written atomically
(temporary file + rename), so a crash leaves only whole chunks; on resume, keys already present in the parts
(or in an earlier consolidated OUT) are skipped.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from edgesim.errors import EdgesimError
from edgesim.explore.sweep_spec import LoadedSpec, SweepPoint, apply_overrides
from edgesim.hw.schema import HardwareProfile

if TYPE_CHECKING:
    from edgesim.pipeline import RunSpec

RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("index", "int64"), ("key", "string"), ("profile", "string"), ("model", "string"), ("runtime", "string"),
    ("latency_s", "float64"), ("energy_j", "float64"), ("average_power_w", "float64"),
    ("peak_power_w", "float64"), ("peak_activation_bytes", "int64"), ("fits", "bool_"),
    ("fit_problems", "string"), ("peak_hardware", "bool_"), ("warnings", "string"), ("bound", "string"),
    ("macs", "int64"), ("error", "string"),
    # The prediction interval at the sweep's confidence (edgesim.pipeline.intervals).
    ("latency_lo_s", "float64"), ("latency_hi_s", "float64"), ("energy_lo_j", "float64"), ("energy_hi_j", "float64"),
    ("novelty", "string"),
)
# The confidence of the rows' intervals: set by run_sweep here and in every worker (_init_worker, _at_confidence).
_CONFIDENCE = 0.8


def _pa() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise EdgesimError("sweep results need pyarrow: pip install pyarrow") from None
    return pa


def axis_column(path: str) -> str:
    return f"axis.{path}"


def result_schema(axes: dict[str, list[Any]]) -> Any:
    """The parquet schema of one spec's results: fixed columns plus one typed column per axis."""
    pa = _pa()
    fields = [pa.field(n, getattr(pa, t)()) for n, t in RESULT_COLUMNS]
    for path, values in axes.items():
        if all(isinstance(v, bool) for v in values):
            typ = pa.bool_()
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            typ = pa.int64()
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            typ = pa.float64()
        else:
            typ = pa.string()
        fields.append(pa.field(axis_column(path), typ))
    return pa.schema(fields)


# -- worker side ----------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _base_profile(ref: str) -> HardwareProfile:
    from edgesim.pipeline import resolve_profile

    return resolve_profile(ref)


def split_clock(overrides: tuple[tuple[str, Any], ...]) -> tuple[float | None, tuple[tuple[str, Any], ...]]:
    """(the clock a ``clock_mhz`` axis sets, the other overrides). A clock is the driver's own question (``edgesim
    run --clock-mhz``: the same chip at another DVFS point, checked against its table), not an edit of the chip's
    numbers; a value that is not a number stays an override for the profile's validation to refuse."""
    clock = [v for p, v in overrides if p == "clock_mhz" and isinstance(v, int | float) and not isinstance(v, bool)]
    if not clock:
        return None, overrides
    return float(clock[0]), tuple((p, v) for p, v in overrides if p != "clock_mhz")


def point_spec(point: SweepPoint, profile: HardwareProfile, clock_mhz: float | None = None) -> RunSpec:
    """The driver's question for one sweep point (the driver caches the loaded, transformed model)."""
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions

    model = point.model
    choices = tuple(sorted(model.choices.items())) if model.zoo is not None else ()
    transform = TransformOptions(quant=QuantPreset(point.quant) if point.quant else None, accuracy=False)
    return RunSpec(point.model_ref, profile, point.runtime, zoo_choices=choices, transform=transform,
                   clock_mhz=clock_mhz)


def evaluate_point(point: SweepPoint, confidence: float | None = None) -> dict[str, Any]:
    """One result row with its interval at ``confidence``. An EdgesimError for this point (unsupported op, bad
    variant...) goes into ``error`` instead of stopping the sweep."""
    from edgesim.explore.compare import dominant_bound, peak_power_w
    from edgesim.pipeline import run
    from edgesim.pipeline.intervals import NoveltyClass, interval

    row: dict[str, Any] = {"index": point.index, "key": point.key, "profile": point.profile,
                           "model": point.model.name, "runtime": point.runtime or "", "error": ""}
    for path, value in point.overrides:
        row[axis_column(path)] = value
    try:
        clock, edits = split_clock(point.overrides)
        prof = apply_overrides(_base_profile(point.profile), edits)
        result = run(point_spec(point, prof, clock))
        # A point that changes profile numbers is a chip nobody measured, even when its base was; one that only
        # sets the clock is the question `run --clock-mhz` asks, and gets its interval.
        iv = interval(result, confidence if confidence is not None else _CONFIDENCE,
                      at_least=NoveltyClass.KNOWN_FAMILY if edits else None)
    except EdgesimError as err:  # a clock axis beyond the DVFS table lands here too: an error, not a point
        row["error"] = err.one_line()
        return row
    est = result.estimate
    row.update(latency_lo_s=iv.latency_s.lo, latency_hi_s=iv.latency_s.hi, energy_lo_j=iv.energy_j.lo,
               energy_hi_j=iv.energy_j.hi, novelty=iv.novelty.value)
    row.update(runtime=est.runtime, latency_s=est.latency_s, energy_j=est.energy_j,
               average_power_w=est.average_power_w, peak_power_w=peak_power_w(est),
               peak_activation_bytes=est.peak_activation_bytes, fits=result.fit.fits,
               fit_problems="; ".join(result.fit.problems), peak_hardware=result.peak_hardware,
               warnings="; ".join(w for w in result.warnings() if "peak hardware" not in w),
               bound=dominant_bound(est), macs=est.macs)
    return row


# Set in each local worker process (``_init_worker``): Ctrl-C in the parent sets it, and a worker stops after the
# point it is evaluating, returning the points it finished instead of losing its whole chunk.
_STOP: Any = None


def _init_worker(stop: Any, confidence: float = 0.8) -> None:
    global _STOP, _CONFIDENCE
    _CONFIDENCE = confidence
    # The terminal sends SIGINT to the whole process group: the workers leave it to the parent, which asks them
    # to stop through ``stop`` (a worker dying mid-chunk would lose the chunk and break the pool).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOP = stop


def evaluate_chunk(points: Sequence[SweepPoint]) -> list[dict[str, Any]]:
    """The rows of ``points``; fewer when the parent asked the worker to stop (the finished ones)."""
    rows = []
    for p in points:
        if _STOP is not None and _STOP.is_set():
            break
        rows.append(evaluate_point(p))
    return rows


def _at_confidence(points: Sequence[SweepPoint], confidence: float) -> list[dict[str, Any]]:
    """evaluate_chunk on a Dask worker, with the sweep's interval confidence."""
    global _CONFIDENCE
    _CONFIDENCE = confidence
    return evaluate_chunk(points)


# -- storage --------------------------------------------------------------------------------------------
def parts_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".parts")


def _write_part(rows: list[dict[str, Any]], schema: Any, folder: Path) -> Path | None:
    if not rows:
        return None
    pa = _pa()
    import pyarrow.parquet as pq

    from edgesim.files import atomic_write

    rows = sorted(rows, key=lambda r: r["index"])
    table = pa.Table.from_pylist(rows, schema=schema)
    target = folder / f"part-{rows[0]['index']:09d}-{rows[0]['key']}.parquet"
    return atomic_write(target, lambda p: pq.write_table(table, p))


def _read_tables(out: Path) -> list[Any]:
    import pyarrow.parquet as pq

    tables = []
    if out.is_file():
        tables.append(pq.read_table(out))
    folder = parts_dir(out)
    if folder.is_dir():
        for part in sorted(folder.glob("part-*.parquet")):
            try:
                tables.append(pq.read_table(part))
            except Exception:  # noqa: BLE001 - a torn part (cannot happen with atomic writes, but be safe)
                part.unlink(missing_ok=True)
    return tables


def done_keys(out: str | Path) -> set[str]:
    """Keys of the points already stored for ``out`` (consolidated file and part files)."""
    keys: set[str] = set()
    for t in _read_tables(Path(out)):
        keys.update(t.column("key").to_pylist())
    return keys


# -- progress -------------------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar with rate and ETA on a stream (stderr); plain lines when not a terminal."""

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None, enabled: bool = True,
                 label: str = "", unit: str = "pts") -> None:
        self.total, self.done, self.start_done = total, done, done
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.t0 = time.monotonic()
        self._last_pct = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self) -> str:
        elapsed = time.monotonic() - self.t0
        new = self.done - self.start_done
        rate = new / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = left / rate if rate > 0 else math.inf
        eta_s = "--:--" if math.isinf(eta) else time.strftime("%H:%M:%S", time.gmtime(eta))
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(frac * 30)
        head = f"{self.label}: " if self.label else ""
        return f"{head}[{bar:<30}] {self.done}/{self.total} {frac * 100:5.1f}% {rate:.2f} {self.unit}/s ETA {eta_s}"

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._tty:
            self.stream.write("\r" + self.line())
        else:
            pct = int(100 * self.done / self.total) // 10 if self.total else 10
            if pct == self._last_pct and self.done != self.total:
                return
            self._last_pct = pct
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()


# -- driver ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepResult:
    out: Path
    rows: int
    evaluated: int  # points evaluated by this call (the rest were resumed)
    errors: int
    pareto: int
    plot: Path | None
    misfits: int = 0  # points that do not fit the chip's memories: kept off the Pareto front
    peak_hardware: int = 0  # points costed without a runtime: kept off the Pareto front


def _chunks(points: Sequence[SweepPoint], size: int) -> list[list[SweepPoint]]:
    return [list(points[i:i + size]) for i in range(0, len(points), size)]


# After Ctrl-C, how long the workers get to finish the point they are on before they are terminated.
STOP_GRACE_S = 0.25


def _run_in_process(chunks: list[list[SweepPoint]], on_done: Callable[[list[dict[str, Any]]], None]) -> None:
    for c in chunks:
        rows: list[dict[str, Any]] = []
        try:
            for p in c:
                rows.append(evaluate_point(p))
        except KeyboardInterrupt:
            on_done(rows)  # the points of this chunk finished before Ctrl-C
            raise
        on_done(rows)


def _run_local(chunks: list[list[SweepPoint]], workers: int,
               on_done: Callable[[list[dict[str, Any]]], None], confidence: float = 0.8) -> None:
    if workers <= 1:
        _run_in_process(chunks, on_done)
        return
    ctx = multiprocessing.get_context()
    stop = ctx.Event()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(stop, confidence))
    pending: set[Future[list[dict[str, Any]]]] = set()
    try:
        # Bounded in flight so a million-point sweep does not queue a million futures.
        it = iter(chunks)
        for c in it:
            pending.add(pool.submit(evaluate_chunk, c))
            if len(pending) >= 4 * workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                on_done(f.result())
                nxt = next(it, None)
                if nxt is not None:
                    pending.add(pool.submit(evaluate_chunk, nxt))
    except KeyboardInterrupt:
        _stop_pool(pool, stop, pending, on_done)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_pool(pool: ProcessPoolExecutor, stop: Any, pending: set[Future[list[dict[str, Any]]]],
               on_done: Callable[[list[dict[str, Any]]], None]) -> None:
    """Ctrl-C: ask the workers to stop after their current point, store what they return within the grace
    period, and terminate the rest (a point that takes longer is lost; every finished one is stored)."""
    stop.set()
    for f in pending:
        f.cancel()  # not started yet
    finished, _ = wait(pending, timeout=STOP_GRACE_S)
    for f in finished:
        if not f.cancelled() and f.exception() is None:
            on_done(f.result())
    # The executor has no public way to end a worker mid-task; its process table is the only handle.
    for proc in list(getattr(pool, "_processes", {}).values()):
        proc.terminate()


def _run_dask(chunks: list[list[SweepPoint]], client: Any,
              on_done: Callable[[list[dict[str, Any]]], None], confidence: float = 0.8) -> None:
    from dask.distributed import as_completed

    futures = client.map(_at_confidence, chunks, [confidence] * len(chunks), pure=False)
    try:
        for fut in as_completed(futures):
            on_done(fut.result())
    finally:
        client.cancel(futures)


def run_sweep(loaded: LoadedSpec, out: str | Path, *, workers: int | None = None, client: Any = None,
              dask_scheduler: str | None = None, progress: bool = True, plot: bool = True,
              peak_on_front: bool = False,
              on_chunk: Callable[[int], None] | None = None, stream: TextIO | None = None,
              confidence: float = 0.8) -> SweepResult:
    """Evaluate the points of ``loaded`` not yet stored for ``out`` and consolidate. ``client`` (a
    dask.distributed Client) or ``dask_scheduler`` (its address) runs on Dask; otherwise ``workers`` local
    processes (default: CPU count; 1 = in this process). ``on_chunk(points_done)`` is called after every
    stored chunk. ``peak_on_front`` lets points costed without a runtime (peak hardware) onto the Pareto front.
    Every row carries its prediction interval at ``confidence``."""
    global _CONFIDENCE
    from edgesim.pipeline.intervals import check_confidence

    _CONFIDENCE = check_confidence(confidence)
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise EdgesimError(f"sweep output must be a .parquet file, got '{out}'", field="output")
    if not out.parent.is_dir():
        raise EdgesimError(f"output directory '{out.parent}' does not exist", field="output")
    schema = result_schema(loaded.spec.axes)
    check_existing_output(out, loaded)
    folder = parts_dir(out)
    folder.mkdir(exist_ok=True)
    _check_meta(folder, loaded)
    have = done_keys(out)
    todo = [p for p in loaded.points if p.key not in have]
    bar = Progress(len(loaded.points), len(loaded.points) - len(todo), stream, progress)
    counter = {"n": 0}

    def store(rows: list[dict[str, Any]]) -> None:
        _write_part(rows, schema, folder)
        counter["n"] += len(rows)
        bar.update(len(rows))
        if on_chunk is not None:
            on_chunk(counter["n"])

    chunks = _chunks(todo, loaded.spec.chunk_size)
    interrupted = False
    try:
        if chunks:
            if client is not None:
                _run_dask(chunks, client, store, confidence)
            elif dask_scheduler:
                with _connect(dask_scheduler) as c:
                    _run_dask(chunks, c, store, confidence)
            else:
                _run_local(chunks, workers or os.cpu_count() or 1, store, confidence)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if interrupted:
        # Every finished point is in the parts; write them out now (no plot: stop fast) and let the caller say so.
        raise SweepInterrupted(consolidate(loaded, out, counter["n"], plot=False, peak_on_front=peak_on_front))
    return consolidate(loaded, out, counter["n"], plot=plot, peak_on_front=peak_on_front)


def _connect(address: str) -> Any:
    """A Dask client on ``address``; an unreachable or malformed address is the flag's one-line error."""
    from dask.distributed import Client

    try:
        return Client(address)
    except (OSError, ValueError, TypeError) as exc:  # dask raises OSError on a connect timeout
        raise EdgesimError(f"cannot reach the Dask scheduler '{address}': {' '.join(str(exc).split())}",
                           field="dask_scheduler") from None


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: ``result`` holds the points finished so far (rerun the sweep to resume)."""

    def __init__(self, result: SweepResult) -> None:
        super().__init__("sweep interrupted")
        self.result = result


_META_KEY = b"edgesim_sweep"  # the consolidated file's schema metadata: which sweep wrote it


def _meta_json(loaded: LoadedSpec) -> str:
    # The result columns too: parts written by an older edgesim lack columns this one stores.
    return json.dumps({"name": loaded.spec.name, "axes": list(loaded.spec.axes),
                       "columns": [n for n, _ in RESULT_COLUMNS]}, sort_keys=True)


def _check_meta(folder: Path, loaded: LoadedSpec) -> None:
    # Parts from a different spec under the same output would silently mix two sweeps.
    meta = folder / "spec.json"
    now = _meta_json(loaded)
    if meta.is_file() and meta.read_text() != now:
        raise EdgesimError(f"'{folder}' holds parts of a different sweep; remove it or choose another output",
                           field="output")
    meta.write_text(now)


def check_existing_output(out: str | Path, loaded: LoadedSpec) -> None:
    """An existing output is resumed only when this sweep wrote it: another sweep's results were silently
    replaced by this one's (another name), or failed as an internal error (other axes), and a file that is no
    parquet failed the same way."""
    out = Path(out)
    if not out.is_file():
        return
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(out)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid/OSError for a file that is not parquet
        raise EdgesimError(f"-o '{out}' exists and is not a sweep's parquet file ({' '.join(str(exc).split())[:120]}); "
                           "remove it or choose another output", field="output") from None
    stored = (schema.metadata or {}).get(_META_KEY)
    wanted = result_schema(loaded.spec.axes).names
    if stored is not None and stored.decode() == _meta_json(loaded):
        return
    if stored is None and set(wanted) <= set(schema.names):
        return  # a file consolidated before the metadata was written, with this sweep's columns
    other = json.loads(stored.decode()).get("name", "?") if stored is not None else "?"
    raise EdgesimError(f"-o '{out}' holds the results of another sweep ('{other}', other axes or columns); "
                       "remove it or choose another output", field="output")


def consolidate(loaded: LoadedSpec, out: str | Path, evaluated: int = 0, plot: bool = True,
                peak_on_front: bool = False) -> SweepResult:
    """Merge stored rows of this spec's points into ``out`` (one row per key, in point order) with a
    ``pareto`` column (latency/energy front per model), write the plot, and remove the part files."""
    pa = _pa()
    import pyarrow.parquet as pq

    from edgesim.explore.compare import grouped_pareto_mask
    from edgesim.files import atomic_write

    out = Path(out)
    schema = result_schema(loaded.spec.axes)
    wanted = {p.key: p.index for p in loaded.points}
    rows: dict[str, dict[str, Any]] = {}
    for t in _read_tables(out):
        for r in t.select(schema.names).to_pylist():
            if r["key"] in wanted:
                rows.setdefault(r["key"], r)
    ordered = sorted(rows.values(), key=lambda r: wanted[r["key"]])
    ok = [r for r in ordered if not r["error"]]
    # Points that do not fit, or have no runtime, are no options: off the front (and dominating nothing).
    eligible = [bool(r["fits"]) and (peak_on_front or not r["peak_hardware"]) for r in ok]
    mask = grouped_pareto_mask([r["model"] for r in ok], [r["latency_s"] for r in ok], [r["energy_j"] for r in ok],
                               eligible)
    on_front = {r["key"] for r, m in zip(ok, mask, strict=True) if m}
    for r in ordered:
        r["pareto"] = r["key"] in on_front
    full_schema = schema.append(pa.field("pareto", pa.bool_()))
    table = pa.Table.from_pylist(ordered, schema=full_schema.with_metadata({_META_KEY: _meta_json(loaded).encode()}))
    atomic_write(out, lambda p: pq.write_table(table, p))
    complete = len(ordered) == len(loaded.points)
    if complete:
        shutil.rmtree(parts_dir(out), ignore_errors=True)
    plot_path = None
    if plot and ok:
        from edgesim.explore.compare import plot_tradeoff

        ivs = [(r["latency_lo_s"], r["latency_hi_s"], r["energy_lo_j"], r["energy_hi_j"]) for r in ok]
        ivs = [(r["latency_lo_s"], r["latency_hi_s"], r["energy_lo_j"], r["energy_hi_j"]) for r in ok]
        plot_path = plot_tradeoff([_label(r, loaded) for r in ok], [r["latency_s"] for r in ok],
                                  [r["energy_j"] for r in ok], out.with_suffix(".png"),
                                  title=f"sweep {loaded.spec.name}: latency vs energy (Pareto front per model)",
                                  bars=False, groups=[r["model"] for r in ok],
                                  intervals=ivs if all(None not in iv for iv in ivs) else None)
    return SweepResult(out, len(ordered), evaluated, len(ordered) - len(ok), len(on_front), plot_path,
                       misfits=sum(1 for r in ok if not r["fits"]),
                       peak_hardware=0 if peak_on_front else sum(1 for r in ok if r["peak_hardware"]))


def _label(row: dict[str, Any], loaded: LoadedSpec) -> str:
    axes = ",".join(f"{p.split('.')[-1]}={row[axis_column(p)]}" for p in loaded.spec.axes)
    return f"{row['model']}@{Path(row['profile']).stem}" + (f"[{axes}]" if axes else "")


def read_results(out: str | Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return list(pq.read_table(out).to_pylist())


def format_pareto(rows: Iterable[dict[str, Any]], axes: Sequence[str]) -> str:
    lines = []
    for r in rows:
        if r.get("pareto"):
            vals = " ".join(f"{a}={r[axis_column(a)]}" for a in axes)
            span = (f" ({r['latency_lo_s'] * 1e3:.3g}-{r['latency_hi_s'] * 1e3:.3g})"
                    if r.get("latency_lo_s") is not None and r.get("latency_hi_s") is not None else "")
            lines.append(f"  {r['model']:<24} {Path(r['profile']).stem:<16} {r['latency_s'] * 1e3:>10.4g} ms{span} "
                         f"{r['energy_j'] * 1e3:>10.4g} mJ  {vals}")
    return "\n".join(lines)


__all__ = ["Progress", "SweepInterrupted", "SweepResult", "check_existing_output", "consolidate", "done_keys",
           "evaluate_chunk", "evaluate_point", "format_pareto", "parts_dir", "read_results", "result_schema",
           "run_sweep"]
