"""Prediction intervals for ``edgesim llm``: tokens/s (prefill, decode) and time to first token, at a confidence.

Split conformal prediction, as for the CNN runs (``edgesim.pipeline.intervals``), on held-out residuals of the
language-model measurements (``edgesim.llm.validate``): log(measured / predicted) tokens/s of

- ``measured_device``: leave-one-model-out (the board has rows; the model is new to the fit), held out by model;
- ``new_device``: leave-one-device-out (the runtime refitted without the board), held out by board.

Time-type metrics (ttft_ms, decode_ms_per_token) enter as the tokens/s they imply. The table ships in
``edgesim/data/calibration/llm_intervals.json``; ``edgesim validate --calibrate-intervals`` regenerates it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesim.errors import EdgesimError
from edgesim.files import atomic_write_text, data_path
from edgesim.pipeline.intervals import (
    Interval,
    check_confidence,
    combine,
    conformal_bounds,
    format_range,
    power_log_bounds,
)

if TYPE_CHECKING:
    from edgesim.llm.predict import LlmEstimate
    from edgesim.llm.validate import RowResult

LLM_CALIBRATION_FILE = ("calibration", "llm_intervals.json")
CLASSES = ("measured_device", "new_device")
PHASES = {"prefill": ("prefill_tps", "ttft_ms"), "decode": ("decode_tps", "decode_ms_per_token")}


@dataclass(frozen=True)
class LlmResidual:
    line: int
    hw: str
    model: str
    phase: str  # prefill | decode
    cls: str  # one of CLASSES
    tps_log: float  # log(measured / predicted) tokens/s
    runtime: str = ""  # LLM runtime id of the row


def measured_key(hw: str, runtime: str) -> str:
    """What makes a case 'measured': the board with rows of the runtime's engine (``engine_of``: Ollama's rows
    measure llama.cpp's kernels on the board). A board measured only with another engine (MLC rows on a Jetson
    asked about llama.cpp) is new to the runtime's fit, as a board left out is."""
    from edgesim.llm.runtime import engine_of

    return f"{hw}/{engine_of(runtime) if runtime else ''}"


def _residual(r: RowResult, cls: str) -> LlmResidual | None:
    if r.predicted is None or not r.row.value or r.predicted <= 0 or r.row.value <= 0:
        return None
    phase = next((p for p, ms in PHASES.items() if r.row.metric in ms), None)
    if phase is None:
        return None
    ratio = r.row.value / r.predicted
    if r.row.metric.endswith("_ms") or r.row.metric.endswith("_per_token"):
        ratio = 1.0 / ratio  # a time: more time measured = fewer tokens/s
    return LlmResidual(r.row.line, r.row.hw or r.row.device, r.row.model or "", phase, cls, math.log(ratio),
                       r.row.runtime or "")


def collect_llm_residuals(reference: str | Path | None = None) -> list[LlmResidual]:
    from edgesim.llm.validate import validate

    v = validate(reference, cross=True)
    out = [_residual(r, "measured_device") for r in v.lomo] + [_residual(r, "new_device") for r in v.lodo]
    return [x for x in out if x is not None]


def write_llm_calibration(reference: str | Path | None = None, path: str | Path | None = None
                          ) -> tuple[Path, list[LlmResidual]]:
    res = collect_llm_residuals(reference)
    target = Path(path) if path is not None else data_path(*LLM_CALIBRATION_FILE)
    target.parent.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "method": "split conformal on leave-one-model-out / leave-one-device-out log tokens/s residuals "
                  "(edgesim.llm.intervals)",
        # (board, engine) pairs with rows: a case of one of them is measured_device (measured_key)
        "measured": sorted({measured_key(x.hw, x.runtime) for x in res if x.cls == "measured_device"}),
        "rows": [{"line": x.line, "hw": x.hw, "runtime": x.runtime, "model": x.model, "phase": x.phase,
                  "class": x.cls, "tps_log": round(x.tps_log, 6)} for x in res]}
    atomic_write_text(target, json.dumps(body, indent=1) + "\n")
    llm_table.cache_clear()
    return target, res


@lru_cache(maxsize=1)
def llm_table() -> tuple[frozenset[str], tuple[LlmResidual, ...]]:
    path = data_path(*LLM_CALIBRATION_FILE)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        rows = tuple(LlmResidual(int(r["line"]), r["hw"], r["model"], r["phase"], r["class"], float(r["tps_log"]),
                                 r["runtime"]) for r in raw["rows"])
    except (OSError, ValueError, KeyError) as exc:
        raise EdgesimError(f"cannot read the LLM interval calibration ({exc}); regenerate it with "
                           "'edgesim validate --calibrate-intervals'", file=str(path)) from None
    return frozenset(raw["measured"]), rows


@dataclass(frozen=True)
class LlmInterval:
    confidence: float
    novelty: str
    prefill_tokens_per_s: Interval | None
    decode_tokens_per_s: Interval | None
    ttft_s: Interval | None
    capped: bool
    energy_per_token_j: Interval | None = None

    def as_dict(self) -> dict[str, Any]:
        def lst(iv: Interval | None) -> list[float | None] | None:
            return None if iv is None else iv.as_list()

        return {"confidence": self.confidence, "novelty_class": self.novelty,
                "prefill_tokens_per_s_interval": lst(self.prefill_tokens_per_s),
                "decode_tokens_per_s_interval": lst(self.decode_tokens_per_s),
                "ttft_interval_s": lst(self.ttft_s), "energy_per_token_interval_j": lst(self.energy_per_token_j),
                "capped": self.capped}

    def summary(self) -> str:
        """The one-line interval every door shows (the ``llm`` text, its HTML report): 'interval (80%,
        measured_device): prefill 73.6-114 tokens/s, decode 18.3-23 tokens/s, TTFT 4.47-6.95 s (80%), energy/token
        225-376 mJ (80%)'; only the phases the estimate has."""
        parts = [f"{name} {t.lo:.3g}-{t.hi:.3g} tokens/s" for name, t in
                 (("prefill", self.prefill_tokens_per_s), ("decode", self.decode_tokens_per_s)) if t is not None]
        parts += [f"{name} {format_range(t, self.confidence, unit)}" for name, t, unit in
                  (("TTFT", self.ttft_s, "s"), ("energy/token", self.energy_per_token_j, "J")) if t is not None]
        return f"interval ({self.confidence:.0%}, {self.novelty}): " + ", ".join(parts)


def _bounds(rows: Sequence[LlmResidual], phase: str, cls: str, confidence: float) -> tuple[float, float, bool]:
    return conformal_bounds([x.tps_log for x in rows if x.phase == phase and x.cls == cls], confidence)


def novelty_of(hw: str, runtime: str) -> str:
    """'measured_device' when the board has measured rows of the runtime's engine (``measured_key``), else
    'new_device'."""
    measured, _ = llm_table()
    return "measured_device" if measured_key(hw, runtime) in measured else "new_device"


@dataclass(frozen=True)
class PhaseBounds:
    """The calibrated log(measured / predicted) tokens/s bounds of one phase and novelty class, widened to hold
    the prediction itself; a time is the inverse of a rate."""

    lo: float
    hi: float
    capped: bool

    def rate(self, tokens_per_s: float) -> Interval:
        return Interval(tokens_per_s * math.exp(min(self.lo, 0.0)), tokens_per_s * math.exp(max(self.hi, 0.0)))

    def time(self, seconds: float) -> Interval:
        return Interval(seconds * math.exp(-max(self.hi, 0.0)), seconds * math.exp(-min(self.lo, 0.0)))


def phase_bounds(phase: str, cls: str, confidence: float) -> PhaseBounds:
    """``phase`` (prefill | decode) bounds of class ``cls`` at ``confidence``: what every LLM interval
    (``llm_interval``, the chat session's) is made of."""
    check_confidence(confidence)
    return PhaseBounds(*_bounds(llm_table()[1], phase, cls, confidence))


def llm_interval(est: LlmEstimate, confidence: float = 0.8) -> LlmInterval:
    """Tokens/s and TTFT intervals of an LLM estimate, by whether its board has measured rows of its runtime's
    engine (``measured_key``)."""
    check_confidence(confidence)
    cls = novelty_of(est.hw, est.runtime)
    capped = False
    pre = dec = ttft = energy = None
    if est.prefill is not None:
        b = phase_bounds("prefill", cls, confidence)
        pre = b.rate(est.prefill.tokens_per_s)
        ttft = b.time(est.prefill.time_s)
        capped |= b.capped
    if est.decode is not None:
        b = phase_bounds("decode", cls, confidence)
        dec = b.rate(est.decode.tokens_per_s)
        capped |= b.capped
        e_tok = est.energy_per_token_j
        if e_tok is not None and e_tok > 0:
            # energy per token = board power x time per token: the decode time's bounds (tokens/s inverted) and
            # the board power's (the CNN calibration's; no LLM row with a profile measured power) independent
            p_lo, p_hi = power_log_bounds(est.hw, confidence)
            energy = combine(e_tok, (min(-b.hi, 0.0), max(-b.lo, 0.0)), (p_lo, p_hi))
    return LlmInterval(confidence, cls, pre, dec, ttft, capped, energy)


def llm_coverage(rows: Sequence[LlmResidual], confidence: float = 0.8) -> list[tuple[str, str, int, int, float, float]]:
    """(class, phase, rows, groups, covered, median half-width): bounds from the other groups (models for
    measured_device, boards for new_device), each group's rows counted inside or out."""
    out = []
    for cls in CLASSES:
        for phase in PHASES:
            mine = [x for x in rows if x.cls == cls and x.phase == phase]
            key = (lambda x: x.model) if cls == "measured_device" else (lambda x: x.hw)
            groups = sorted({key(x) for x in mine})
            hits, n, widths = 0, 0, []
            for g in groups:
                train = [x.tps_log for x in mine if key(x) != g]
                if len(train) < 2:
                    continue
                lo, hi, _ = conformal_bounds(train, confidence)
                for x in (x for x in mine if key(x) == g):
                    n += 1
                    hits += lo <= x.tps_log <= hi
                    widths.append((math.exp(max(hi, 0)) - math.exp(min(lo, 0))) / 2)
            if n:
                widths.sort()
                out.append((cls, phase, n, len(groups), hits / n, widths[len(widths) // 2]))
    return out


def llm_coverage_table(rows: Sequence[LlmResidual], confidence: float) -> str:
    lines = [f"LLM tokens/s interval coverage at {confidence:.0%} (bounds from the other groups: models for "
             "measured_device, boards for new_device):",
             f"{'class':<16} {'phase':<8} {'rows':>5} {'groups':>7} {'covered':>8} {'median half-width':>18}"]
    for cls, phase, n, g, cov, w in llm_coverage(rows, confidence):
        lines.append(f"{cls:<16} {phase:<8} {n:>5} {g:>7} {cov:>8.0%} {w:>17.0%}")
    return "\n".join(lines)
