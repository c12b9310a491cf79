"""Rows of llm_edge.csv mapped to what edgesim can run: board profile, LLM runtime and placement, model, quant.

Every row keeps a status; rows that cannot be predicted (no profile yet, a runtime or format edgesim has no
profile for, prefill and decode not separable) are counted and reported, never dropped silently.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from edgesim.errors import EdgesimError

BUNDLED = Path(__file__).resolve().parent / "data" / "llm_edge.csv"
LLM_COLUMNS = {"device", "hw_profile", "runtime", "model_config", "quant", "metric", "value", "prompt_tokens"}
METRICS = ("decode_tps", "prefill_tps", "ttft_ms", "decode_ms_per_token", "mixed_tps")


@dataclass(frozen=True)
class RefRow:
    line: int  # line number in the CSV (header = 1)
    device: str
    hw: str | None  # profile id edgesim would use
    runtime: str | None  # LLM runtime id
    unit: str
    model: str | None
    model_text: str  # the model as the source names it (rows without a config are told apart by it)
    quant: str | None  # None = the runtime's default for the model
    threads: int | None
    prompt: int
    gen: int
    cached: int  # prompt tokens already in the KV cache (TinyChat's cached chat history)
    metric: str
    value: float | None
    approximate: bool  # a range or '~' value as published (midpoint used)
    note: str
    status: str  # '' = predictable; else why not
    runtime_version: str = ""  # as published (llama.cpp build number or date, rkllm release, ...)
    gcc: int | None = None  # GCC major a source-built llama.cpp was compiled with, where the source shows the OS


# The compiler of a source-built llama.cpp, where the source shows the OS it was built on: cmake's default native
# build uses the distribution's gcc (Ubuntu 24.04 'noble' ships GCC 13, 25.04 'plucky' GCC 14 (14.2.0-19ubuntu2,
# llama.cpp PR #16239), 25.10 and 26.04 'resolute' GCC 15 or later, taken as 15). Geerling's ai-benchmarks script
# (ai-benchmarks.py) builds llama.cpp from source with 'cmake -B build' and the distribution's build-essential, so
# GGML_NATIVE is on.
_SOURCE_GCC = (("geerlingguy/sbc-reviews/issues/85", 13),  # Radxa Dragon Q6A: screenfetch 'Ubuntu 24.04 noble'
               # Framework 13 Cix P1 mainboard: fastfetch 'Ubuntu 25.04' (geerlingguy/sbc-reviews#103)
               ("geerlingguy/ai-benchmarks/issues/51", 14),
               # Radxa Dragon Q8B: Radxa's Ubuntu 26.04 'resolute' r6 image (geerlingguy/sbc-reviews#108)
               ("geerlingguy/ai-benchmarks/issues/54", 15))


def source_gcc(source_url: str, runtime: str | None) -> int | None:
    """The GCC major a row's llama.cpp was built with (source-built llama.cpp only: Ollama ships prebuilt CPU
    backends, not compiled with the board's own compiler)."""
    if runtime != "llama.cpp":
        return None
    return next((g for key, g in _SOURCE_GCC if key in source_url), None)


def is_llm_reference(path: str | Path) -> bool:
    """True when the CSV has llm_edge.csv's columns (the validate hook dispatches on this)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError):  # not this table: the reference reader names the problem
        return False
    return LLM_COLUMNS <= set(header)


# Devices without a hw_profile in the CSV: the CM5 is the Pi 5's BCM2712 with the same LPDDR4X; the Orin NX
# profiles are created with this package (the unnamed-size NX in MAXN is taken as the 16GB); the others are
# profiles the npu-hw branch adds (ids fixed by the project), so their rows light up once those exist. The Radxa
# Dragon Q8B is a Snapdragon 8cx Gen 3 (SC8280XP: 4x X1C + 4x A78C, no I8MM; Radxa docs, sbc-bench#141), not a
# QCS8550. The Cix P1 boards (Orion O6, MS-R1, the Framework 13 mainboard's CP8180) share one SoC profile.
_DEVICE_IDS = (("Raspberry Pi CM5", "rpi5"), ("Jetson Orin NX 16GB (MAXN_SUPER)", "jetson-orin-nx-16gb-super"),
               ("Jetson Orin NX 16GB", "jetson-orin-nx-16gb"), ("Jetson Orin NX 8GB", "jetson-orin-nx-8gb"),
               ("Jetson Orin NX (JetPack 6.0, nvpmodel -m 0)", "jetson-orin-nx-16gb"), ("RK3576", "rk3576"), ("QCS6490", "qcs6490"), ("Hailo-10H", "hailo-10h"),
               ("Snapdragon 8 Gen 3", "snapdragon-8-gen3"), ("Dragon Q8B", "sc8280xp"),
               ("Cix CP8180", "cix-p1"), ("Cix P1", "cix-p1"), ("Minisforum MS-R1", "cix-p1"))


def map_hw(device: str, hw_profile: str) -> str | None:
    if hw_profile == "jetson-orin-nano" and ("Super" in device or "102 GB/s" in device):
        return "jetson-orin-nano-super"
    if hw_profile:
        return hw_profile
    for key, pid in _DEVICE_IDS:
        if key in device:
            return pid
    return None


def map_runtime(runtime: str, accelerator: str) -> tuple[str | None, str]:
    r, acc = runtime.lower(), accelerator.lower()
    unit = "gpu" if ("gpu" in acc or "cuda" in acc) else ("npu" if "npu" in acc else "cpu")
    if r.startswith("ollama"):
        return "ollama", unit
    if r.startswith("llama.cpp") or r.startswith("llamafile"):
        return "llama.cpp", unit
    if r.startswith("mlc"):
        return "mlc", "gpu"
    if r.startswith("rkllm"):
        return "rkllm", "npu"
    if r.startswith("hailort genai"):
        return "hailo-genai", "npu"
    if r.startswith("tinychat"):
        return "tinychat", "gpu"
    if "fp16" in r and ("hf" in r or "transformers" in r):
        return "hf-transformers", "gpu"
    if r.startswith("tensorrt"):
        return "tensorrt-llm", "gpu"
    if r.startswith("executorch"):
        return "executorch", "cpu"
    return None, unit


_QUANT = {"int4 (mlc)": "q4f16", "q4f16_ft": "q4f16", "q4f16_1": "q4f16", "4-bit (exact mlc quant not in excerpt)":
          "q4f16", "not stated (mlc)": "q4f16", "int4 awq": "int4-awq-g128", "int4 awq (w4a16 g128)": "int4-awq-g128",
          "a8w4": "w4a8", "w8a8": "w8a8", "w4a16": "w4a16", "fp16": "fp16", "nvfp4": "nvfp4",
          "spinquant (4-bit)": "w4a8-g32", "qlora (qat+lora 4-bit)": "w4a8-g32", "q4_0 (ggml)": "Q4_0"}


def map_quant(text: str, runtime: str | None) -> tuple[str | None, str]:
    """(format, status): None = the runtime's default; status names a format edgesim cannot cost."""
    t = text.strip()
    low = t.lower()
    if low.startswith("ollama default") or low == "":
        return None, ""
    if low in _QUANT:
        q = _QUANT[low]
        if runtime in ("llama.cpp", "ollama") and q == "fp16":  # a GGUF runtime's fp16 is the F16 file type
            return "F16", ""
        return q, ""
    if runtime == "executorch" and low == "bf16":
        return "bf16", ""
    if re.fullmatch(r"(i?q\d_[a-z0-9_]+|f16|bf16|f32)", low):
        return t.upper(), ""
    return None, f"format '{t}' has no edgesim equivalent"


def _value(text: str) -> tuple[float | None, bool]:
    t = text.strip().lstrip("~")
    approx = text.strip() != t
    m = re.fullmatch(r"([\d.]+)\s*-\s*([\d.]+)", t)
    if m:
        return (float(m.group(1)) + float(m.group(2))) / 2, True
    try:
        return float(t), approx
    except ValueError:
        return None, approx


def _int(text: str) -> int | None:
    t = text.strip().lstrip("~")
    return int(t) if t.isdigit() else None


def _count_status(r: dict[str, str]) -> str:
    """Why a stated token or thread count is unusable ('' when blank or a whole number): -5 or 1.5 prompt tokens
    were read as blank, and the row predicted at the default prompt as if the source had stated none."""
    for col in ("prompt_tokens", "gen_tokens", "threads"):
        text = r.get(col, "").strip()
        if text and _int(text) is None:
            return f"unreadable {col} '{text}'"
    return ""


def _row(line: int, raw: dict[str | None, str | list[str] | None], width: int) -> RefRow:
    # a row with fewer fields than the header (DictReader fills None) or more (kept under the key None) is a
    # broken line, not a measurement: it is counted with its reason, as every other unusable row
    fields = sum(v is not None for k, v in raw.items() if k is not None) + len(raw.get(None) or [])
    r = {k: v if isinstance(v, str) else "" for k, v in raw.items() if k is not None}
    metric = r["metric"]
    hw = map_hw(r["device"], r["hw_profile"])
    runtime, unit = map_runtime(r["runtime"], r.get("accelerator", ""))
    quant, qstatus = map_quant(r["quant"], runtime)
    value, approx = _value(r["value"])
    prompt, gen = _int(r["prompt_tokens"]), _int(r["gen_tokens"])
    if metric in ("prefill_tps", "ttft_ms"):
        prompt = prompt or 128  # rows without a stated prompt: a short chat prompt (marked approximate)
        approx = approx or not r["prompt_tokens"].strip()
        gen = 0
    else:
        prompt = prompt or 0
        gen = gen or 128
    m_new = re.search(r"prefill of (\d+) new tokens", r.get("note", ""))
    cached = max(prompt - int(m_new.group(1)), 0) if m_new else 0
    status = ""
    if fields != width:
        status = f"has {fields} fields, the header {width}"
    elif metric == "mixed_tps":
        status = "prefill and decode not separable"
    elif metric not in METRICS:
        status = f"unknown metric '{metric}'"
    elif value is None or not math.isfinite(value):
        status = f"unreadable value '{r['value']}'"
    elif not value > 0:  # a measured rate or time is positive; a negative one is a typo, not a measurement
        status = f"non-positive value '{r['value']}'"
    elif _count_status(r):
        status = _count_status(r)
    elif not r["model_config"]:
        status = "no model config"
    elif runtime is None:
        status = f"no LLM runtime profile for '{r['runtime']}'"
    elif qstatus:
        status = qstatus
    elif hw is None:
        status = "no profile"
    return RefRow(line, r["device"], hw, runtime, unit, r["model_config"] or None, r.get("model", ""), quant,
                  _int(r.get("threads", "")), prompt, gen, cached, metric, value, approx, r.get("note", ""), status,
                  r.get("runtime_version", "") or "", source_gcc(r.get("source_url", "") or "", runtime))


def read_reference(path: str | Path | None = None) -> list[RefRow]:
    p = Path(path) if path else BUNDLED
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = LLM_COLUMNS - set(reader.fieldnames or [])
            if missing:
                raise EdgesimError(f"not an LLM reference CSV: missing columns {sorted(missing)}", file=str(p))
            width = len(reader.fieldnames or [])
            return [_row(i + 2, r, width) for i, r in enumerate(reader)]  # type: ignore[arg-type]
    except OSError as exc:
        raise EdgesimError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    except UnicodeDecodeError as exc:  # a binary file (llm-fit --reference takes any path)
        raise EdgesimError(f"not a UTF-8 CSV file (byte {exc.start})", file=str(p)) from None
    except csv.Error as exc:  # a NUL byte, an over-long field
        raise EdgesimError(f"not a readable CSV: {exc}", file=str(p)) from None
