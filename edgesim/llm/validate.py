"""Validate LLM predictions against llm_edge.csv: fitted rows, held-out rows, leave-one-device/model-out.

The fit uses, per runtime placement, the rows of ONE board (the one with the most rows); every other board's rows
are held out. Leave-one-device-out refits each placement without a board and predicts that board; leave-one-model-
out does the same per model. Rows that contradict each other (same board, runtime, model, format and sizes, values
more than 30% apart) stay in and are listed.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edgesim.errors import EdgesimError
from edgesim.files import atomic_write_text
from edgesim.llm.cpu_gemm import at_build, llama_build
from edgesim.llm.fit import fit_placement, fit_serving, with_placement
from edgesim.llm.predict import predict
from edgesim.llm.reference import BUNDLED, RefRow, read_reference
from edgesim.llm.runtime import FitRecord, LlmRuntime, fit_path, load_llm_runtime

FIT_COMMAND = "edgesim llm-fit"
# The placement fields 'edgesim llm-fit' writes to the overlay (the rest stay as the runtime YAML states them)
FITTED_FIELDS = ("bw_efficiency", "per_token_overhead_s", "per_layer_overhead_s", "per_layer_overhead_cycles",
                 "softcap_head_efficiency", "kernel_efficiency", "prefill_token_block", "fit")
PREFILL = ("prefill_tps", "ttft_ms")
DECODE = ("decode_tps", "decode_ms_per_token")


@dataclass(frozen=True)
class RowResult:
    row: RefRow
    predicted: float | None
    status: str  # '' = predicted
    split: str  # fit | held-out

    @property
    def error(self) -> float | None:
        if self.predicted is None or not self.row.value:
            return None
        return self.predicted / self.row.value - 1.0


def predict_row(row: RefRow, rt: LlmRuntime) -> tuple[float | None, str]:
    if row.status:
        return None, row.status
    rt = at_build(rt, llama_build(row.runtime_version), row.gcc)  # the build (and compiler) the row names
    try:
        try:
            est = predict(row.model or "", row.hw or "", rt, row.quant, row.threads, row.unit, row.prompt, row.gen,
                          cached=row.cached)
        except EdgesimError as exc:
            if exc.field != "threads":
                raise
            # the source ran more threads than the profile models cores (a prime core or a third cluster the
            # profile leaves out): every modelled core is busy either way
            est = predict(row.model or "", row.hw or "", rt, row.quant, None, row.unit, row.prompt, row.gen,
                          cached=row.cached)
    except EdgesimError as exc:
        msg = exc.message
        if "unknown hardware profile" in msg:
            return None, "no profile"
        return None, msg
    if not est.fits:
        return None, est.fit_reason
    if row.metric == "prefill_tps":
        return (est.prefill.tokens_per_s if est.prefill else None), ""
    if row.metric == "ttft_ms":
        return (est.prefill.time_s * 1e3 if est.prefill else None), ""
    if est.decode is None:
        return None, "no decode"
    tps = est.decode.tokens_per_s
    return (tps if row.metric == "decode_tps" else 1e3 / tps), ""


def _engine(r: RefRow) -> str:
    # ollama runs llama.cpp: one engine, one set of fitted efficiencies per placement
    return "llama.cpp" if r.runtime == "ollama" else (r.runtime or "")


def _key(r: RefRow) -> tuple[str, str]:
    return _engine(r), r.unit


# What the CSV's notes say of a doubtful row: a low-credibility or conflicting hobby report, a user who could not
# reproduce the published figure, a board that probably did not run at its rated clocks.
_DOUBTFUL = re.compile(r"low credibility|conflict|low traceability|could not reproduce|not max clocks",
                       re.IGNORECASE)


def fit_eligible(r: RefRow) -> bool:
    """Rows whose source flags them as doubtful (low credibility, conflicting reports, not reproduced, not at full
    clocks) are predicted and reported but never fitted on."""
    return not _DOUBTFUL.search(r.note)


def credible(r: RefRow) -> bool:
    """A row neither flagged doubtful nor approximate (a published range or '~' value, or a prompt length the
    source does not state): the 'held_out_credible' figures use these; the plain held-out figures keep them all."""
    return fit_eligible(r) and not r.approximate


def unpredictable(rows: list[RefRow]) -> dict[int, str]:
    """CSV line -> why no prediction can be made for it (no profile, a runtime or format edgesim cannot cost...)."""
    out = {}
    for r in rows:
        status = r.status or predict_row(r, load_llm_runtime(r.runtime or "", fitted=False))[1]
        if status:
            out[r.line] = status
    return out


def _predictable(rows: list[RefRow], ref: str | Path, bad: dict[int, str] | None = None) -> list[RefRow]:
    """The rows a prediction can be made for (``bad``: unpredictable(rows), if known); none at all is the file's
    error (an empty table or no fit written, with exit 0, would read as success)."""
    bad = unpredictable(rows) if bad is None else bad
    out = [r for r in rows if r.line not in bad]
    if not out:
        first = next(iter(bad.items()), None)
        where = f" (line {first[0]}: {first[1]})" if first else ""
        raise EdgesimError(f"none of its {len(rows)} rows can be predicted{where}", file=str(ref))
    return out


def _fit_runtime(rt_id: str, unit: str, rows: list[RefRow], reference: str, start: bool = False) -> LlmRuntime:
    prior = load_llm_runtime(rt_id, fitted=start)
    p = fit_placement(rows, prior, unit, FIT_COMMAND, reference)
    fitted = with_placement(prior, unit, p)
    # record how well the fitted numbers reproduce their own rows (in-sample MAPE, %)
    errs: dict[str, list[float]] = {"decode": [], "prefill": []}
    for r in rows:
        own = load_llm_runtime(r.runtime or "", fitted=start)
        rt = fitted if r.runtime == rt_id else own.model_copy(update={"placements": {**own.placements, unit: p}})
        pred, status = predict_row(r, rt)
        if pred is not None and r.value and not status:
            errs["decode" if r.metric in DECODE else "prefill"].append(abs(pred / r.value - 1.0) * 100)
    assert p.fit is not None
    rec = p.fit.model_copy(update={f"{k}_mape_pct": round(float(np.mean(v)), 2) if v else None
                                   for k, v in errs.items()})
    return with_placement(prior, unit, p.model_copy(update={"fit": rec}))


def fit_rows(rows: list[RefRow]) -> dict[tuple[str, str], list[RefRow]]:
    """Per (engine, placement): the board with the most fit-eligible rows, and on it the runtime with the most
    rows (llama.cpp's own llama-bench rows before ollama's where both exist). Every other row is held out. The two
    ends of a contradicting pair (same board and setup, >30% apart) are not fit-eligible either: one of them is
    wrong and nothing says which."""
    by: dict[tuple[str, str], dict[str, dict[str, list[RefRow]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    contradicting = {line for a, b, _ in contradictions(rows) for line in (a, b)}
    for r in rows:
        if fit_eligible(r) and r.line not in contradicting:
            by[_key(r)][r.hw or ""][r.runtime or ""].append(r)
    out = {}
    for k, boards in by.items():
        board = max(boards.values(), key=lambda b: sum(len(v) for v in b.values()))
        out[k] = max(board.values(), key=len)
    return out


def _serving_runtime(rows: list[RefRow], engine: str, unit: str) -> str | None:
    """The serving runtime (Ollama) whose rows these all are, if it declares its own cost on ``unit`` on top of
    ``engine``: then those rows fit that cost, and the engine's placement keeps its sourced numbers."""
    ids = {r.runtime or "" for r in rows}
    if len(ids) != 1 or engine in ids:
        return None
    rt_id = ids.pop()
    return rt_id if unit in load_llm_runtime(rt_id, fitted=False).serving else None


def _fit_serving_runtime(rt_id: str, unit: str, rows: list[RefRow], reference: str, start: bool = False
                         ) -> LlmRuntime:
    prior = load_llm_runtime(rt_id, fitted=start)
    sv = fit_serving(rows, prior, unit)
    fitted = prior.model_copy(update={"serving": {**prior.serving, unit: sv}})
    errs = [abs(pred / r.value - 1.0) * 100 for r in rows if r.metric in DECODE and r.value
            for pred, status in [predict_row(r, fitted)] if pred is not None and not status]
    rec = FitRecord(command=FIT_COMMAND, reference=reference, rows=sorted(r.line for r in rows),
                    decode_mape_pct=round(float(np.mean(errs)), 2) if errs else None)
    return prior.model_copy(update={"serving": {**prior.serving, unit: sv.model_copy(update={"fit": rec})}})


def fitted_runtimes(rows: list[RefRow], reference: str, exclude: Callable[[RefRow], bool] | None = None,
                    start: bool = False) -> dict[tuple[str, str], LlmRuntime]:
    """Engines refitted on ``rows`` (minus ``exclude``d ones); placements without rows keep their priors. Where a
    placement's fit rows are all a serving runtime's (Ollama's) that declares its own cost there, that cost is
    fitted instead and the entry is that runtime, over the engine's sourced placement. ``start``: the fit starts
    from the shipped fit (ID.fit.yaml) instead of the sourced priors (a user's refit of the shipped numbers)."""
    keep = [r for r in rows if not (exclude and exclude(r))]
    out = {}
    for (rt_id, unit), fr in fit_rows(keep).items():
        serving = _serving_runtime(fr, rt_id, unit)
        out[(rt_id, unit)] = (_fit_serving_runtime(serving, unit, fr, reference, start) if serving is not None
                              else _fit_runtime(rt_id, unit, fr, reference, start))
    return out


def _runtime_for(r: RefRow, fitted: dict[tuple[str, str], LlmRuntime]) -> LlmRuntime:
    if _key(r) not in fitted:
        return load_llm_runtime(r.runtime or "", fitted=False)
    base = fitted[_key(r)]
    if r.runtime == base.id:
        return base
    own = load_llm_runtime(r.runtime or "", fitted=False)
    return own.model_copy(update={"placements": {**own.placements, r.unit: base.placements[r.unit]}})  # type: ignore[index]


@dataclass
class Validation:
    reference: str
    rows: list[RowResult]
    lodo: list[RowResult] = field(default_factory=list)
    lomo: list[RowResult] = field(default_factory=list)
    contradictions: list[tuple[int, int, float]] = field(default_factory=list)

    def summary(self, results: list[RowResult], metrics: tuple[str, ...]) -> dict[str, float | int]:
        errs = np.array([abs(e) for r in results if r.row.metric in metrics and (e := r.error) is not None])
        if not errs.size:
            return {"n": 0}
        return {"n": int(errs.size), "median_pct": float(np.median(errs) * 100), "mape_pct": float(errs.mean() * 100)}

    def spearman(self, results: list[RowResult]) -> dict[str, float]:
        groups: dict[str, list[RowResult]] = defaultdict(list)
        for r in results:
            if r.row.metric == "decode_tps" and r.predicted is not None:
                groups[f"{r.row.hw}/{r.row.runtime}"].append(r)
        out = {}
        for k, g in groups.items():
            if len(g) >= 4:
                out[k] = _spearman([r.predicted or 0.0 for r in g], [r.row.value or 0.0 for r in g])
        return out

    def spearman_pairs(self, results: list[RowResult]) -> dict[str, float]:
        """The issue's measure: rank order of the (model, quant) pairs on a board, each pair's rows pooled by
        geometric mean (repeat measurements of one pair differ by noise the model cannot order); >= 3 pairs."""
        groups: dict[str, dict[tuple[str, str], list[RowResult]]] = defaultdict(lambda: defaultdict(list))
        for r in results:
            if r.row.metric == "decode_tps" and r.predicted is not None and r.row.value:
                groups[f"{r.row.hw}/{r.row.runtime}"][(r.row.model or "", r.row.quant or "")].append(r)
        out = {}
        for k, pairs in groups.items():
            if len(pairs) >= 3:
                pred = [float(np.exp(np.mean(np.log([r.predicted or 0.0 for r in g])))) for g in pairs.values()]
                meas = [float(np.exp(np.mean(np.log([r.row.value or 0.0 for r in g])))) for g in pairs.values()]
                out[k] = _spearman(pred, meas)
        return out

    def _by_device(self) -> dict[str, dict[str, dict[str, float | int]]]:
        boards = sorted({r.row.hw or "" for r in self.lodo})
        return {b: {m: self.summary([r for r in self.lodo if r.row.hw == b], mm)
                    for m, mm in (("decode", DECODE), ("prefill", PREFILL))} for b in boards}

    def status_counts(self) -> dict[str, int]:
        c: dict[str, int] = defaultdict(int)
        for r in self.rows:
            c[r.status.split(":")[0] if r.status else "predicted"] += 1
        return dict(sorted(c.items(), key=lambda kv: -kv[1]))

    def as_dict(self) -> dict[str, Any]:
        def rows(rs: list[RowResult]) -> list[dict[str, Any]]:
            return [{"line": r.row.line, "device": r.row.device, "hw": r.row.hw, "runtime": r.row.runtime,
                     "model": r.row.model, "quant": r.row.quant, "metric": r.row.metric, "measured": r.row.value,
                     "predicted": r.predicted, "error": r.error, "status": r.status, "split": r.split,
                     "approximate": r.row.approximate} for r in rs]
        held = [r for r in self.rows if r.split == "held-out"]
        return {
            "reference": self.reference, "status_counts": self.status_counts(),
            "fit": {m: self.summary([r for r in self.rows if r.split == "fit"], mm)
                    for m, mm in (("decode", DECODE), ("prefill", PREFILL))},
            "held_out": {m: self.summary(held, mm) for m, mm in (("decode", DECODE), ("prefill", PREFILL))},
            # the same without rows whose source flags them (doubtful or approximate: see credible())
            "held_out_credible": {m: self.summary([r for r in held if credible(r.row)], mm)
                                  for m, mm in (("decode", DECODE), ("prefill", PREFILL))},
            # which held-out rows the credible figures leave out (kept in every other figure)
            "held_out_not_credible": sorted(r.row.line for r in held if not credible(r.row) and r.error is not None),
            "lodo": {m: self.summary(self.lodo, mm) for m, mm in (("decode", DECODE), ("prefill", PREFILL))},
            "lomo": {m: self.summary(self.lomo, mm) for m, mm in (("decode", DECODE), ("prefill", PREFILL))},
            "lodo_by_device": self._by_device(),
            "spearman_decode": self.spearman(self.rows),
            "spearman_decode_pairs": self.spearman_pairs(self.rows),
            "contradictions": [{"line": a, "other_line": b, "ratio": q} for a, b, q in self.contradictions],
            "rows": rows(self.rows), "lodo_rows": rows(self.lodo), "lomo_rows": rows(self.lomo),
        }

    def table(self) -> str:
        d = self.as_dict()
        lines = [f"LLM validation against {self.reference} ({len(self.rows)} rows)",
                 "rows: " + ", ".join(f"{k} {v}" for k, v in d["status_counts"].items())]
        for part in ("fit", "held_out", "held_out_credible", "lodo", "lomo"):
            for m in ("decode", "prefill"):
                s = d[part][m]
                if s.get("n"):
                    lines.append(f"{part:17s} {m:8s} n={s['n']:3d}  median |err| {s['median_pct']:5.1f}%  "
                                 f"MAPE {s['mape_pct']:5.1f}%")
                else:
                    lines.append(f"{part:17s} {m:8s} n=  0")
        lines.append("held-out rows left out of the credible figures (doubtful or approximate): "
                     + (", ".join(str(x) for x in d["held_out_not_credible"]) or "none"))
        for b, parts in d["lodo_by_device"].items():
            cells = [f"{m} n={s['n']} median {s['median_pct']:.1f}% MAPE {s['mape_pct']:.1f}%"
                     for m, s in parts.items() if s.get("n")]
            if cells:
                lines.append(f"  lodo {b}: " + "; ".join(cells))
        pairs = d["spearman_decode_pairs"]
        for k, rho in sorted(d["spearman_decode"].items()):
            pair = f"; (model, quant) pairs {pairs[k]:.3f}" if k in pairs else ""
            lines.append(f"spearman decode order on {k}: rows {_rho(rho)}{pair}")
        lines.append(f"contradicting row pairs (>30% apart, kept): {len(self.contradictions)}")
        return "\n".join(lines)


def _rho(rho: float) -> str:
    # every row of the board predicted alike (models of one shape, e.g. Qwen2 and Qwen2.5 1.5B): no order to test
    return "n/a (all predictions equal)" if math.isnan(rho) else f"{rho:.3f}"


def _spearman(a: list[float], b: list[float]) -> float:
    def rank(x: list[float]) -> np.ndarray:
        arr = np.asarray(x)
        order = arr.argsort()
        r = np.empty(len(arr))
        r[order] = np.arange(len(arr))
        for v in np.unique(arr):  # average ties
            r[arr == v] = r[arr == v].mean()
        return r
    ra, rb = rank(a), rank(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def contradictions(rows: list[RefRow]) -> list[tuple[int, int, float]]:
    groups: dict[tuple[Any, ...], list[RefRow]] = defaultdict(list)
    for r in rows:
        if r.value:
            groups[(r.hw or r.device, r.runtime, r.model_text, r.quant, r.metric, r.prompt, r.gen)].append(r)
    out = []
    for g in groups.values():
        lo, hi = min(g, key=lambda r: r.value or 0), max(g, key=lambda r: r.value or 0)
        if lo.value and hi.value and hi.value / lo.value > 1.3:
            out.append((lo.line, hi.line, round(hi.value / lo.value, 3)))
    return out


def _cross(rows: list[RefRow], reference: str, key: Callable[[RefRow], str]) -> list[RowResult]:
    out = []
    for g in sorted({key(r) for r in rows}):
        fitted = fitted_runtimes(rows, reference, exclude=lambda r, g=g: key(r) == g)  # type: ignore[misc]
        for r in rows:
            if key(r) != g:
                continue
            if _key(r) not in fitted:
                out.append(RowResult(r, None, "no rows left to fit its runtime", "held-out"))
                continue
            pred, status = predict_row(r, _runtime_for(r, fitted))
            out.append(RowResult(r, pred, status, "held-out"))
    return out


def validate(reference: str | Path | None = None, cross: bool = True) -> Validation:
    ref = str(reference or BUNDLED)
    rows = read_reference(ref)
    ok = _predictable(rows, ref)
    fitted = fitted_runtimes(ok, ref)
    fit_lines = {r.line for fr in fit_rows(ok).values() for r in fr}
    results = []
    for r in rows:
        pred, status = predict_row(r, _runtime_for(r, fitted)) if not r.status else (None, r.status)
        results.append(RowResult(r, pred, status, "fit" if r.line in fit_lines else "held-out"))
    v = Validation(ref, results, contradictions=contradictions(rows))
    if cross:
        v.lodo = _cross(ok, ref, lambda r: r.hw or "")
        v.lomo = _cross(ok, ref, lambda r: r.model or "")
    return v


def is_bundled(reference: str | Path | None) -> bool:
    """Whether ``reference`` is the bundled llm_edge.csv (None included): the only reference the package's
    overlays are fitted on."""
    return reference is None or Path(reference).resolve() == BUNDLED.resolve()


def shipped_fit_texts(reference: str | Path | None = None) -> dict[Path, str]:
    """The overlays (ID.fit.yaml next to each runtime YAML) the bundled reference gives, path -> text."""
    if not is_bundled(reference):  # a user's rows would overwrite the shipped fit every prediction reads
        raise EdgesimError("only the bundled llm_edge.csv refits the package's overlays; a user's reference goes "
                           "to a folder of its own ('edgesim llm-fit --reference CSV -o DIR')", file=str(reference))
    ref = str(reference or BUNDLED)
    rows = _predictable(read_reference(ref), ref)
    by_rt: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for (rt_id, unit), rt in fitted_runtimes(rows, Path(ref).name).items():
        if rt.id != rt_id:  # a serving runtime's own cost, fitted over the engine's sourced placement
            by_rt[rt.id]["serving"][unit] = rt.serving[unit].model_dump(exclude_none=True)  # type: ignore[index]
            continue
        p = rt.placements[unit]  # type: ignore[index]
        fields = {k: v for k, v in p.model_dump().items() if v is not None and k in FITTED_FIELDS}
        if p.cpu_gemm is not None:  # only the fitted part; the kernel-path facts stay in the runtime YAML
            fields["cpu_gemm"] = {"overhead_slots": dict(p.cpu_gemm.overhead_slots)}
        by_rt[rt_id]["placements"][unit] = fields
    texts = {}
    for rt_id, sections in sorted(by_rt.items()):
        text = (f"# Generated by '{FIT_COMMAND}' from {Path(ref).name}; do not edit (re-run the command).\n"
                f"# fit.rows are CSV line numbers (header = 1) of the rows the numbers were fitted on.\n")
        texts[fit_path(rt_id)] = text + yaml.safe_dump({k: dict(v) for k, v in sections.items()}, sort_keys=True,
                                                       width=110)
    return texts


def write_fits(reference: str | Path | None = None) -> list[Path]:
    """The maintainers' refit: fit every runtime placement with rows of the bundled reference and write its
    overlay (ID.fit.yaml) next to the runtime YAML. A user's reference is refused here (edgesim.llm.user_fit)."""
    written = []
    for path, text in shipped_fit_texts(reference).items():
        atomic_write_text(path, text)  # every prediction reads these: a write cut short must not leave half a file
        written.append(path)
    load_llm_runtime.cache_clear()
    return written


def write_plot(v: Validation, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, metrics, title in ((axes[0], DECODE, "decode"), (axes[1], PREFILL, "prefill / TTFT")):
        for split, marker in (("fit", "o"), ("held-out", "^")):
            pts = [(r.row.value, r.predicted) for r in v.rows
                   if r.row.metric in metrics and r.predicted is not None and r.split == split]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.loglog(x, y, marker, alpha=0.6, label=f"{split} ({len(pts)})")
        lims = [v for r in v.rows if r.row.metric in metrics and r.predicted for v in (r.row.value, r.predicted)]
        if lims:
            lo, hi = min(lims) / 1.5, max(lims) * 1.5  # type: ignore[type-var, operator]
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.fill_between([lo, hi], [lo / 1.2, hi / 1.2], [lo * 1.2, hi * 1.2], color="0.9")
        ax.set_xlabel("measured")
        ax.set_ylabel("predicted")
        ax.set_title(f"LLM {title} (tokens/s or ms as published)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x
