"""Fuzz the issue #17 matrix (today's edge NPUs): every device x every runtime the loader accepts on it x every zoo
network of the #17 list x each precision the runtime lists, with other input shapes, CPU thread counts, throughput
(``--frames``) and batch 8, asking: does it run, is it plausible, is it monotone where physics says so, do the
doors agree. Not a test: results go to benchmarks/results/npu_matrix.json (counted categories with examples).

Run: python benchmarks/fuzz_npu_matrix.py --doors-only --doors 30   (the CLI door comparison, -> *_doors.json)
     python benchmarks/fuzz_npu_matrix.py [--workers 2] [--out benchmarks/results/npu_matrix.json]  (takes it in)

What is sampled (the full product is ~10^5 runs): every (device, #17 runtime, network, listed precision) at the
default input shape, analytic engine. At the runtime's first precision (int8 where listed) also: the two other
input shapes on every SHAPE_EVERY-th network of a device (rotating with the device, so every network is asked on
some devices); threads 1/2/4 (tflite-xnnpack, openvino-cpu); the event engine's single latency, its period with 8
frames queued and the batch-8 stream period (as validate predicts a batch column) on every EVENT_EVERY-th network
of a device (rotating; Hailo a third as often: its layer-pipelined streams cost the most); the 80% interval.
Runtimes the loader accepts although they do not target the chip (MCU-era runtimes without a target list) are
asked only the base question on LEGACY_NETWORKS. The CLI doors (run --json, report, compare, validate
--reference) and the API are compared on ``--doors`` base questions drawn with a fixed seed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DEVICES = ("rk3588 rk3566 rk3576 rk3562 rv1126 rv1109 rk1808 hailo-8 hailo-8l hailo-10h core-ultra-7-155h "
           "core-ultra-7-165h core-ultra-9-288v atom-x6425e celeron-6305e core-i7-1185gre ncs2 qcs6490 qcs9075 "
           "qcs8550 snapdragon-8-gen3 snapdragon-x-elite imx8mp imx93 esp32-s3 esp32-p4 vs680 vs640 k230 "
           "max78000").split()
NETWORKS = ("yolov5n yolov5s yolov5m yolov8n yolov8s yolov8m yolo11n yolo11s yolo11m yolov3_tiny ssd_mobilenet_v1 "
            "ssd_mobilenet_v2 deeplabv3_mobilenet_v2 efficientdet_d0 efficientnet_b0 densenet121 inception_v1 "
            "inception_v3 resnet34 resnet50 mobilenet_v2 squeezenet1_1 vit_small vit_base bert_base distilbert "
            "mobilebert").split()
RUNTIMES_17 = frozenset("openvino-cpu openvino-gpu openvino-npu openvino-myriad rknn hailort qnn tflite-vx "
                        "tflite-ethosu tflite-xnnpack esp-dl synap nncase ai8x".split())
THREADED_RUNTIMES = frozenset({"tflite-xnnpack", "openvino-cpu"})
LEGACY_NETWORKS = ("mobilenet_v2",)
SWEEP_PRECISIONS = ("int8", "int16", "fp16", "fp32")
EVENT_EVERY = 10
SHAPE_EVERY = 3
HEAVY_NETWORKS = ("yolov5m", "yolov8m", "yolo11m", "bert_base", "vit_base", "densenet121", "inception_v3")

# Input shapes besides the default one (the sweep reads the default from the built graph).
_YOLO = ((1, 3, 320, 320), (1, 3, 416, 416), (1, 3, 640, 640))
_CLS = ((1, 3, 160, 160), (1, 3, 224, 224), (1, 3, 299, 299))
SHAPES: dict[str, tuple[tuple[int, ...], ...]] = {
    **{n: _YOLO for n in NETWORKS if n.startswith("yolo")},
    "ssd_mobilenet_v1": ((1, 3, 300, 300), (1, 3, 320, 320), (1, 3, 512, 512)),
    "ssd_mobilenet_v2": ((1, 3, 300, 300), (1, 3, 320, 320), (1, 3, 512, 512)),
    "deeplabv3_mobilenet_v2": ((1, 3, 257, 257), (1, 3, 513, 513), (1, 3, 520, 520)),
    "efficientdet_d0": ((1, 3, 384, 384), (1, 3, 512, 512), (1, 3, 640, 640)),
    "inception_v3": ((1, 3, 224, 224), (1, 3, 299, 299), (1, 3, 342, 342)),
    "vit_small": ((1, 3, 160, 160), (1, 3, 224, 224), (1, 3, 384, 384)),
    "vit_base": ((1, 3, 160, 160), (1, 3, 224, 224), (1, 3, 384, 384)),
    **{n: ((1, 128), (1, 384)) for n in ("bert_base", "distilbert", "mobilebert")},
}

# Plausibility envelopes (W) of the whole chip or module: a run's average power above it is flagged. Public
# maxima, rounded up generously (they judge plausibility only, no model number comes from them): Rockchip
# datasheets' SoC maxima, Hailo product briefs (M.2 modules' max), Intel ARK max turbo power, Qualcomm/NXP/
# Synaptics/Canaan/Espressif/ADI board-level maxima.
POWER_ENVELOPE_W = {
    "rk3588": 15.0, "rk3566": 6.0, "rk3576": 10.0, "rk3562": 6.0, "rv1126": 4.0, "rv1109": 4.0, "rk1808": 4.0,
    "hailo-8": 8.5, "hailo-8l": 5.0, "hailo-10h": 8.5, "core-ultra-7-155h": 115.0, "core-ultra-7-165h": 115.0,
    "core-ultra-9-288v": 37.0, "atom-x6425e": 12.0, "celeron-6305e": 15.0, "core-i7-1185gre": 28.0 * 1.8,
    "ncs2": 4.5, "qcs6490": 12.0, "qcs9075": 40.0, "qcs8550": 15.0, "snapdragon-8-gen3": 15.0,
    "snapdragon-x-elite": 80.0, "imx8mp": 6.0, "imx93": 3.0, "esp32-s3": 1.5, "esp32-p4": 1.5, "vs680": 8.0,
    "vs640": 5.0, "k230": 4.0, "max78000": 0.5,
}
SHAPE_SLACK = 1.03  # a larger input may come out at most 3% faster (tiling round-off)
# More threads may be at most this much slower: a real XNNPACK/OpenVINO run pays a barrier per op on every thread,
# and a network of tiny ops (a BERT's 1x128 element-wise tail) can lose a few percent past 2 threads.
THREAD_SLACK = 1.10
PERIOD_SLACK = 1.01
PRECISION_SLACK = 1.03
INTERVAL_MAX_RATIO = 50.0


@dataclass(frozen=True)
class Question:
    device: str
    runtime: str
    network: str
    precision: str  # int8, int16 (w8a16), fp16, fp32 (no quantization)
    input_shape: tuple[int, ...] | None = None  # None: the network's default
    threads: int | None = None
    kind: str = "base"  # base, shape, threads, event (frames 1 and 8), batch (stream period, batch 1 and 8)


@dataclass(frozen=True)
class Answer:
    question: Question
    status: str  # ok, refused, crash
    latency_ms: float | None = None
    energy_mj: float | None = None
    average_w: float | None = None
    peak_w: float | None = None
    period_ms: float | None = None  # event: 1 / throughput with 8 frames; batch: the batch-8 stream period
    message: str = ""
    note: str = ""
    shape_run: tuple[int, ...] = ()  # the input shape the run's graph has


def spec_of(q: Question):  # noqa: ANN201 (RunSpec; imported lazily)
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions

    quant = None if q.precision == "fp32" else QuantPreset(q.precision)
    transform = TransformOptions(quant=quant, calibration="fixed", accuracy=False)
    return RunSpec(q.network, q.device, q.runtime, input_shape=q.input_shape, threads=q.threads,
                   transform=transform)


def _answer_of(q: Question) -> Answer:
    from edgesim.hw.targeting import check_precision
    from edgesim.pipeline import Engine, run

    spec = spec_of(q)
    if q.kind == "event":
        one = run(replace(spec, engine=Engine.EVENT))
        many = run(replace(spec, engine=Engine.EVENT, frames=8))
        rate = many.throughput_inf_per_s or 0.0
        return Answer(q, "ok", latency_ms=one.latency_s * 1e3, period_ms=1e3 / rate if rate > 0 else math.inf)
    # a batch is asked as validate asks a table's batch column: the model alone (the stream period is the event
    # engine's, which a board's vendor-row multiplier does not scale)
    result = run(replace(spec, device_calibration=False) if q.kind == "batch" else spec)
    note = ""
    if result.runtime is not None:
        try:
            check_precision(result.profile, result.runtime, q.precision)
        except Exception as exc:  # noqa: BLE001 (the validate door's refusal, recorded beside the run door's answer)
            note = f"validate door refuses: {exc}"
    if result.fallback is not None:
        note = (note + "; " if note else "") + result.fallback.line()
    period = None
    if q.kind == "batch":
        from edgesim.sim.stream import schedule_period_s, stream_frames

        frames = stream_frames(result.schedule)
        period = schedule_period_s(result.schedule, result.profile, frames, 8) * 1e3
        from edgesim.sim.engine import simulate_schedule

        single = simulate_schedule(result.schedule, result.profile, frames=1).makespan_s
        note = (f"batch-1 period {schedule_period_s(result.schedule, result.profile, frames, 1) * 1e3:.6g} ms, "
                f"event-engine single latency {single * 1e3:.6g} ms")
    g = result.source_graph
    return Answer(q, "ok", latency_ms=result.latency_s * 1e3, energy_mj=result.energy_j * 1e3,
                  average_w=result.power.average_power_w, peak_w=result.power.peak_power_w, period_ms=period,
                  note=note, shape_run=tuple(g.tensors[g.inputs[0]].shape))


def ask(q: Question) -> Answer:
    from edgesim.errors import EdgesimError

    try:
        return _answer_of(q)
    except EdgesimError as exc:
        return Answer(q, "refused", message=str(exc))
    except Exception:  # noqa: BLE001 (a traceback is exactly what the sweep hunts)
        return Answer(q, "crash", message=traceback.format_exc(limit=6))


def accepted_runtimes(device: str) -> list[tuple[str, bool, tuple[str, ...]]]:
    """(runtime id, is a #17 runtime, precisions swept) for every runtime the loader binds to ``device``."""
    from edgesim.hw.loader import list_runtimes, load_profile, load_runtime
    from edgesim.hw.targeting import runtime_fit_problem

    profile = load_profile(device)
    out = []
    for rid, _ in list_runtimes():
        rt, _version = load_runtime(rid, note_missing_version=False)
        if runtime_fit_problem(profile, rt) is not None:
            continue
        listed = tuple(p.value for p in rt.precisions if p.value in SWEEP_PRECISIONS)
        if not listed:  # no list: what a CPU runtime builds (int8 and float)
            listed = ("int8", "fp32")
        ordered = tuple(p for p in SWEEP_PRECISIONS if p in listed)
        out.append((rid, rid in RUNTIMES_17 and bool(rt.targets or rt.precisions), ordered))
    return out


def questions_for(network: str, device: str, runtime: str, precisions: tuple[str, ...], full: bool,
                  cores: int, default_shape: tuple[int, ...]) -> list[Question]:
    base = [Question(device, runtime, network, p) for p in precisions]
    if not full:
        return base[:1]
    first = precisions[0]
    out = list(base)
    # a network outside the #17 list (--networks) rotates from a fixed position of its own
    position = NETWORKS.index(network) if network in NETWORKS else len(NETWORKS) + sum(map(ord, network))
    turn = position + DEVICES.index(device)
    if turn % SHAPE_EVERY == 0:
        out += [Question(device, runtime, network, first, input_shape=s, kind="shape")
                for s in SHAPES.get(network, _CLS) if s != default_shape]
    if runtime in THREADED_RUNTIMES:
        out += [Question(device, runtime, network, first, threads=t, kind="threads") for t in (1, 2, 4) if t <= cores]
    # the event engine (8 queued frames, the batch-8 stream: 1-30 s each on a big network) on every
    # EVENT_EVERY-th network of a device, rotating with the device so each network is asked on some devices
    every = EVENT_EVERY * (3 if runtime == "hailort" else 1)  # Hailo's layer-pipelined streams cost the most
    if turn % every == 0:
        out += [Question(device, runtime, network, first, kind="event"),
                Question(device, runtime, network, first, kind="batch")]
    return out


def sweep_network(args: tuple[str, dict[str, list[tuple[str, bool, tuple[str, ...]]]], dict[str, int]]
                  ) -> tuple[str, list[Answer], list[tuple[Question, str]]]:
    """Every question about one network (one process builds and quantizes its graph once)."""
    from edgesim.pipeline import load_source

    network, runtimes, cores = args
    graph = load_source(network, None)
    default_shape = graph.tensors[graph.inputs[0]].shape
    answers: list[Answer] = []
    intervals: list[tuple[Question, str]] = []
    for device in DEVICES:
        for rid, is17, precisions in runtimes[device]:
            if not is17 and network not in LEGACY_NETWORKS:
                continue
            for q in questions_for(network, device, rid, precisions, is17, cores[device], default_shape):
                answers.append(ask(q))
            if is17:
                intervals.append((Question(device, rid, network, precisions[0]), _interval_line(
                    Question(device, rid, network, precisions[0]))))
    return network, answers, intervals


def _interval_line(q: Question) -> str:
    """'lo hi point' of the 80% latency interval (ms), or the refusal/crash text."""
    from edgesim.errors import EdgesimError
    from edgesim.pipeline import run
    from edgesim.pipeline.intervals import interval

    try:
        result = run(spec_of(q))
        iv = interval(result)
        return f"{iv.latency_s.lo * 1e3:.6g} {iv.latency_s.hi * 1e3:.6g} {result.latency_s * 1e3:.6g}"
    except EdgesimError as exc:
        return f"refused: {exc}"
    except Exception:  # noqa: BLE001
        return "crash: " + traceback.format_exc(limit=4)


class Findings:
    """Counted categories, each with its first examples."""

    EXAMPLES = 12

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.examples: dict[str, list[str]] = defaultdict(list)

    def add(self, category: str, text: str) -> None:
        self.counts[category] += 1
        if len(self.examples[category]) < self.EXAMPLES:
            self.examples[category].append(text)

    def as_dict(self) -> dict[str, object]:
        return {c: {"count": n, "examples": self.examples[c]} for c, n in sorted(self.counts.items())}


def _label(q: Question) -> str:
    shape = "x".join(map(str, q.input_shape)) if q.input_shape else "default"
    return (f"{q.device} {q.runtime} {q.network} {q.precision} shape={shape}"
            + (f" threads={q.threads}" if q.threads else ""))


def check_answer(a: Answer, found: Findings) -> None:
    """The properties one answer has on its own: it ran, one-line refusal naming device and runtime, finite
    positive latency, energy = power x latency, power within the chip's envelope."""
    q = a.question
    if a.status == "crash":
        found.add("crash", f"{_label(q)}: {a.message.strip().splitlines()[-1]}")
        return
    if a.status == "refused":
        one_line = "\n" not in a.message.strip()
        names = q.device in a.message or q.runtime in a.message or "input_shape" in a.message
        found.add("refused" if one_line else "refused_multiline", f"{_label(q)}: {a.message}")
        if not names:
            found.add("refusal_names_neither_device_nor_runtime", f"{_label(q)}: {a.message}")
        return
    found.add("ok", _label(q))
    if a.note.startswith("validate door refuses"):
        found.add("precision_run_answers_validate_refuses", f"{_label(q)}: {a.note}")
    lat = a.latency_ms
    if lat is None or not math.isfinite(lat) or lat <= 0:
        found.add("latency_not_finite_positive", f"{_label(q)}: {lat}")
        return
    if a.energy_mj is not None and a.average_w is not None:
        if not a.energy_mj > 0 or abs(a.average_w * lat - a.energy_mj) > 0.02 * a.energy_mj:
            found.add("energy_not_power_x_latency", f"{_label(q)}: E={a.energy_mj:.4g} mJ, P={a.average_w:.4g} W, "
                                                    f"L={lat:.4g} ms")
        if a.average_w > POWER_ENVELOPE_W[q.device]:
            found.add("power_over_envelope", f"{_label(q)}: {a.average_w:.3g} W > {POWER_ENVELOPE_W[q.device]} W")
        if a.peak_w is not None and a.peak_w > 2 * POWER_ENVELOPE_W[q.device]:
            found.add("peak_power_over_2x_envelope", f"{_label(q)}: peak {a.peak_w:.3g} W")


def _area(shape: tuple[int, ...]) -> int:
    return math.prod(shape[1:])


def check_group(answers: list[Answer], found: Findings) -> None:
    """Monotonicity within one (device, runtime, network): shapes, threads, period vs latency, int8 vs fp16."""
    ok = [a for a in answers if a.status == "ok" and a.latency_ms]
    base = {a.question.precision: a for a in ok if a.question.kind == "base"}
    shaped = [a for a in ok if a.question.kind == "shape"]
    for a in shaped:
        if a.question.input_shape != a.shape_run:
            found.add("input_shape_not_honoured", f"{_label(a.question)}: ran {a.shape_run}")
    at_default = [a for a in base.values() if shaped and a.question.precision == shaped[0].question.precision]
    shapes = sorted(shaped + at_default, key=lambda a: _area(a.shape_run))
    for small, large in zip(shapes, shapes[1:], strict=False):
        if _area(large.shape_run) > _area(small.shape_run) and \
                (large.latency_ms or 0) * SHAPE_SLACK < (small.latency_ms or 0):
            found.add("larger_input_faster", f"{_label(large.question)} {large.shape_run}: {large.latency_ms:.4g} "
                                             f"ms < {small.shape_run}: {small.latency_ms:.4g} ms")
    threads = sorted((a for a in ok if a.question.kind == "threads"), key=lambda a: a.question.threads or 0)
    for few, many in zip(threads, threads[1:], strict=False):
        if (many.latency_ms or 0) > (few.latency_ms or 0) * THREAD_SLACK:
            found.add("more_threads_slower", f"{_label(many.question)}: {many.latency_ms:.4g} ms > "
                                             f"threads={few.question.threads}: {few.latency_ms:.4g} ms")
    for a in ok:
        if a.question.kind == "event" and a.period_ms is not None and a.period_ms > (a.latency_ms or 0) * PERIOD_SLACK:
            found.add("frames_period_over_latency", f"{_label(a.question)}: period with 8 frames "
                                                    f"{a.period_ms:.4g} ms > single {a.latency_ms:.4g} ms")
        if a.question.kind == "batch" and a.period_ms is not None:
            # against the same engine's single latency (the analytic one differs by ~1% on its own)
            one, single = float(a.note.split()[2]), float(a.note.split()[-2])
            if a.period_ms > one * PERIOD_SLACK or a.period_ms > single * PERIOD_SLACK:
                found.add("batch8_period_over_batch1", f"{_label(a.question)}: batch-8 period {a.period_ms:.4g} ms, "
                                                       f"{a.note}, latency {a.latency_ms:.4g} ms")
    if "int8" in base and "fp16" in base and (base["int8"].latency_ms or 0) > \
            (base["fp16"].latency_ms or 0) * PRECISION_SLACK:
        found.add("int8_slower_than_fp16", f"{_label(base['int8'].question)}: int8 {base['int8'].latency_ms:.4g} ms"
                                           f" > fp16 {base['fp16'].latency_ms:.4g} ms; {base['int8'].note}")


def check_interval(q: Question, line: str, found: Findings) -> None:
    if line.startswith(("refused", "crash")):
        found.add("interval_" + line.split(":")[0], f"{_label(q)}: {line.strip().splitlines()[-1]}")
        return
    lo, hi, point = map(float, line.split())
    if not lo <= point <= hi:
        found.add("interval_excludes_point", f"{_label(q)}: [{lo:.4g}, {hi:.4g}] ms, point {point:.4g} ms")
    if lo <= 0 or hi / lo > INTERVAL_MAX_RATIO:
        found.add("interval_absurd", f"{_label(q)}: [{lo:.4g}, {hi:.4g}] ms")


_PRECISION_TEXT = {"int8": "INT8", "int16": "W8A16", "fp16": "FP16", "fp32": "FP32"}
_REPORT_LATENCY = re.compile(r'<th class="l">latency</th><td>([0-9.]+) (ms|s|us|µs)</td>')
_UNIT_MS = {"s": 1e3, "ms": 1.0, "us": 1e-3, "µs": 1e-3}


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "edgesim", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def _quant_args(q: Question) -> list[str]:
    return [] if q.precision == "fp32" else ["--quant", q.precision]


def _door_latencies(q: Question, with_report: bool) -> dict[str, float | str]:
    """Milliseconds by door (or the door's error line): API, run --fast --json, compare --csv, report (3
    significant digits), validate --reference (its raw, uncalibrated column: compared with the driver's
    device_calibration=False answer, 'model_alone')."""
    from edgesim import api
    from edgesim.pipeline import run

    out: dict[str, float | str] = {}
    out["api"] = api.estimate(q.network, q.device, q.runtime, quant=None if q.precision == "fp32" else q.precision
                              ).latency_s * 1e3
    out["model_alone"] = run(replace(spec_of(q), device_calibration=False)).latency_s * 1e3
    with tempfile.TemporaryDirectory() as tmp:
        base = [q.network, "--hw", q.device, "--runtime", q.runtime, *_quant_args(q)]
        p = _cli(["run", *base, "--fast", "--json", f"{tmp}/r.json"])
        out["run_json"] = json.loads(Path(f"{tmp}/r.json").read_text())["latency_s"] * 1e3 if p.returncode == 0 \
            else f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}"
        p = _cli(["compare", q.network, "--hw", q.device, "--runtime", q.runtime, *_quant_args(q), "--csv",
                  f"{tmp}/c.csv"])
        out["compare"] = float(next(csv.DictReader(open(f"{tmp}/c.csv")))["latency_s"]) * 1e3 \
            if p.returncode == 0 else f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}"
        if with_report:
            p = _cli(["report", *base, "--fast", "-o", f"{tmp}/r.html"])
            m = _REPORT_LATENCY.search(Path(f"{tmp}/r.html").read_text()) if p.returncode == 0 else None
            out["report"] = float(m.group(1)) * _UNIT_MS[m.group(2)] if m else \
                f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}"
        out["validate_raw"] = _validate_door(q, Path(tmp))
    return out


def _validate_door(q: Question, tmp: Path) -> float | str:
    header = ("device,hw_profile,accelerator,threads,runtime,runtime_id,runtime_version,model,zoo_model,input_size,"
              "input_shape,precision,batch,metric,value,unit,power_w,source_url,note")
    row = f"x,{q.device},,,,{q.runtime},,,{q.network},,,{_PRECISION_TEXT[q.precision]},1,latency_ms,10,ms,,u,n"
    (tmp / "one.csv").write_text(header + "\n" + row + "\n")
    p = _cli(["validate", "--reference", str(tmp / "one.csv"), "--json", str(tmp / "v.json")])
    if p.returncode != 0:
        return f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}"
    raw = json.loads((tmp / "v.json").read_text())["raw"]
    return raw[0]["predicted_ms"] if raw and raw[0]["predicted_ms"] is not None else f"skipped: {raw}"


def check_doors(q: Question, with_report: bool, found: Findings) -> dict[str, object]:
    try:
        doors = _door_latencies(q, with_report)
    except Exception:  # noqa: BLE001
        found.add("doors_crash", f"{_label(q)}: {traceback.format_exc(limit=4).strip().splitlines()[-1]}")
        return {"question": _label(q), "crash": True}
    api_ms = doors["api"]
    assert isinstance(api_ms, float)
    for door, value in doors.items():
        if door == "model_alone":
            continue  # not a door: the driver without the board's vendor-row multiplier, what validate answers
        reference = doors["model_alone"] if door == "validate_raw" else api_ms
        tolerance = 0.006 if door == "report" else 1e-6
        if isinstance(value, str):
            found.add("door_failed", f"{_label(q)} via {door}: {value}")
        elif isinstance(reference, float) and abs(value / reference - 1) > tolerance:
            found.add("doors_disagree", f"{_label(q)}: {door} {value:.6g} ms vs "
                                        f"{'model_alone' if door == 'validate_raw' else 'api'} {reference:.6g} ms")
    found.add("doors_compared", _label(q))
    print(f"doors: {_label(q)}: {doors}", flush=True)
    return {"question": _label(q), **doors}


def _cores() -> dict[str, int]:
    from edgesim.hw.loader import load_profile

    out = {}
    for d in DEVICES:
        p = load_profile(d)
        out[d] = p.unit(p.host_unit).count + (p.little_cluster.count if p.little_cluster is not None else 0)
    return out


def _door_sample(runtimes: dict[str, list[tuple[str, bool, tuple[str, ...]]]], n: int) -> list[Question]:
    """``n`` base questions of #17 runtimes drawn with a fixed seed (a refusal counts as an answer: every door must
    refuse it alike)."""
    rng = random.Random(17)
    pool = [Question(d, rid, net, p) for d in DEVICES for rid, is17, precisions in runtimes[d] if is17
            for net in NETWORKS if net not in HEAVY_NETWORKS for p in precisions]  # the CLI calibrates on them
    return rng.sample(pool, min(n, len(pool)))


def run_doors(runtimes: dict[str, list[tuple[str, bool, tuple[str, ...]]]], n: int, out: Path) -> None:
    """The door comparison alone (``--doors-only``: it runs beside the sweep, whose JSON then takes it in)."""
    from concurrent.futures import ThreadPoolExecutor

    found = Findings()
    with ThreadPoolExecutor(2) as pool:  # the doors are subprocesses: two at a time
        doors = list(pool.map(lambda iq: check_doors(iq[1], iq[0] < 8, found), enumerate(_door_sample(runtimes, n))))
    out.write_text(json.dumps({"categories": found.as_dict(), "doors": doors}, indent=1, default=str) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--doors", type=int, default=30, help="base questions asked through every door")
    ap.add_argument("--networks", nargs="*", default=NETWORKS)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "npu_matrix.json")
    ap.add_argument("--doors-only", action="store_true", help="only the door comparison, into --doors-json")
    ap.add_argument("--doors-json", type=Path, default=ROOT / "benchmarks" / "results" / "npu_matrix_doors.json")
    args = ap.parse_args()
    t0 = time.time()
    runtimes = {d: accepted_runtimes(d) for d in DEVICES}
    if args.doors_only:
        run_doors(runtimes, args.doors, args.doors_json)
        return 0
    cores = _cores()
    answers: list[Answer] = []
    intervals: list[tuple[Question, str]] = []
    heavy_first = sorted(args.networks, key=lambda n: n not in HEAVY_NETWORKS)
    with multiprocessing.Pool(args.workers) as pool:
        for network, got, lines in pool.imap_unordered(sweep_network, [(n, runtimes, cores) for n in heavy_first]):
            print(f"{network}: {len(got)} questions, {time.time() - t0:.0f} s", flush=True)
            answers += got
            intervals += lines
            write(args.out, runtimes, answers, judge(answers, intervals), [], time.time() - t0)  # partial
    found = judge(answers, intervals)
    doors: list[dict[str, object]] = []
    if args.doors_json.is_file():  # a --doors-only run beside this one
        got = json.loads(args.doors_json.read_text())
        doors = got["doors"]
        for category, entry in got["categories"].items():
            found.counts[category] += entry["count"]
            found.examples[category] += entry["examples"]
    write(args.out, runtimes, answers, found, doors, time.time() - t0)
    print(json.dumps({c: v["count"] for c, v in found.as_dict().items()}, indent=1))  # type: ignore[index]
    return 0


def judge(answers: list[Answer], intervals: list[tuple[Question, str]]) -> Findings:
    found = Findings()
    for q, line in intervals:
        check_interval(q, line, found)
    groups: dict[tuple[str, str, str], list[Answer]] = defaultdict(list)
    for a in answers:
        check_answer(a, found)
        groups[(a.question.device, a.question.runtime, a.question.network)].append(a)
    for group in groups.values():
        check_group(group, found)
    return found


def write(out: Path, runtimes: dict[str, list[tuple[str, bool, tuple[str, ...]]]], answers: list[Answer],
          found: Findings, doors: list[dict[str, object]], seconds: float) -> None:
    kinds: dict[str, int] = defaultdict(int)
    for a in answers:
        kinds[a.question.kind] += 1
    result = {
        "command": "python benchmarks/fuzz_npu_matrix.py",
        "seconds": round(seconds),
        "questions": len(answers),
        "questions_by_kind": dict(kinds),
        "runtimes_accepted": {d: [f"{r}{'' if is17 else ' (off-target, legacy)'}: {','.join(p)}"
                                  for r, is17, p in rs] for d, rs in runtimes.items()},
        "categories": found.as_dict(),
        "notes": NOTES,
        "doors": doors,
        # the questions not answered plainly (refusals, failures); the 11k plain answers would make a 3 MB file
        "answers": [{**asdict(a.question), **{k: v for k, v in asdict(a).items() if k != "question"}}
                    for a in answers if a.status != "ok"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {out}")


# What the categories mean where a count is not a defect of the model (read with the counts above).
NOTES: dict[str, str] = {
    "ok": "questions answered (all kinds)",
    "refused": "refusals (one line each). Questions that make no sense on the chip (a YOLO or BERT through ai8x "
               "on MAX78000: an op its CNN engine cannot place and no CPU fallback) are right to refuse; any "
               "other refusal of a #17 combination is a defect",
    "precision_run_answers_validate_refuses": "the run door answering a precision the runtime's targeted unit "
        "lacks while validate refused it (qnn fp16 on qcs6490's v68 HTP): gone since pipeline.stage_runtime asks "
        "hw.targeting.check_precision at every door; those questions are now among the refusals",
    "int8_slower_than_fp16": "openvino-cpu efficientnet_b0 on the Arm SoCs (rk3588, qcs6490, qcs9075, qcs8550; "
        "3-5%): the int8 depthwise kernels are slower than the fp16 ones (the per-op efficiencies), which the "
        "squeeze-excite network's many depthwise layers show; openvino-npu mobilebert int8 on the 288V was the "
        "NoNorm's host fallback, fixed after this run (mapping.mapper._converter_precision: 7.83 -> 6.33 ms, fp16 "
        "7.08)",
    "interval_refused": "the interval asked of a question the driver refuses (the ai8x YOLO/BERT questions "
        "above, one per network): the refusal itself, counted again",
    "runtimes_accepted": "the runtimes hw.targeting binds to each device after the unit-family (audit14) and CPU "
        "instruction-set (isa15) checks",
    "batch8_period_over_batch1": "a stream period above the single latency by more than 1%; the batch check "
        "compares with the event engine's own single latency (the analytic latency differs from it by ~1%). A "
        "multi-context Hailo network (vit_base on hailo-8) is no defect: that single latency leaves out the context "
        "switch the batch-1 period (34.4 ms) and the analytic latency (34.2 ms) pay, and batch 8 (23.0 ms) pays it "
        "once per 8 frames",
    "door_failed": "a door that exited non-zero or gave no number: the report door's exit 3 (qnn int16, fixed "
        "after the doors ran: interval_remap) and validate's refusal of openvino-gpu int8 on an Adreno GPU (the "
        "precision disagreement above)",
    "frames_period_over_latency": "the period with 8 frames queued above the single latency by more than 1%: "
        "before the fixes one case, openvino-cpu yolov8n on atom-x6425e at +1.2% (its THROUGHPUT streams split the 4 "
        "cores and share the DRAM bandwidth of a memory-bound network; a real multi-stream run gains little there)",
    "refusal_names_neither_device_nor_runtime": "a refusal naming the node and memory but neither device nor "
        "runtime (the tiler's 'cannot tile'); before the SLICE fix vit_base/bert_base were refused so on 256-512 "
        "KiB NPU SRAMs and L2s, and efficientdet_d0 at int16/fp16 on 256 KiB NPU SRAMs (rk3566, rk3562, rv1126, "
        "rv1109, rk1808 rknn, imx8mp tflite-vx) and fp32 on 256 KiB L2s: its first squeeze-excite MEAN ('gap_0', "
        "one channel's 256x256 plane double-buffered 4 bytes over the memory) is now cut along the plane with the "
        "sums carried on chip (mapping.reduction_split, tile15); a tiling refusal is named by device and runtime "
        "(stage_map)",
    "more_threads_slower": f"more threads slower by more than {THREAD_SLACK - 1:.0%} (a barrier per op per thread "
        "can cost a few percent on networks of tiny ops; more is a defect)",
}


if __name__ == "__main__":
    sys.exit(main())
