"""Shared fixtures for the property suite: small models, bundled profiles and profile variations."""

from __future__ import annotations

from functools import cache
from typing import Any

from edgesim.api import load_model, load_profile, resolve_runtime
from edgesim.cost.analytic import estimate_schedule
from edgesim.cost.estimate import Estimate
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.passes.pipeline import run_pipeline
from edgesim.sim import simulate_schedule, to_estimate
from tests.conftest import DATA

SHARED = DATA

# One of each kind: MCU (flash weights), MCU + NPU, edge TPU (systolic), SoC (DRAM, active-cycle energy),
# GAP9.
PROFILE_IDS = ("stm32l4r5", "stm32h7a3", "ethos-u55-128", "coral-edgetpu", "rpi5", "gap9", "hailo-8")
# Zoo models at small resolutions so each example costs milliseconds, plus real int8 TFLite where present.
ZOO_MODELS = (("resnet8", 16), ("ds_cnn", 25), ("mobilenet_v1", 32), ("squeezenet", 48), ("vit_tiny", 32))
TFLITE_MODELS = ("ad01_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite")
MODEL_KEYS = tuple(f"zoo:{n}:{r}" for n, r in ZOO_MODELS) + tuple(
    f"tflite:{m}" for m in TFLITE_MODELS if (SHARED / "models" / m).is_file()
)


@cache
def model(key: str) -> Graph:
    kind, rest = key.split(":", 1)
    if kind == "zoo":
        from edgesim import zoo
        from edgesim.ir.verify import verify_graph

        name, res = rest.split(":")
        return run_pipeline(verify_graph(zoo.build(name, resolution=int(res))))
    return load_model(SHARED / "models" / rest)


@cache
def profile(pid: str) -> Any:
    return load_profile(pid)


def scale_memory(prof: Any, mem: str, bw_scale: float = 1.0, size_scale: float = 1.0) -> Any:
    mems = [
        m.model_copy(
            update={
                "read_bw_bytes_per_cycle": m.read_bw_bytes_per_cycle * bw_scale,
                "write_bw_bytes_per_cycle": m.write_bw_bytes_per_cycle * bw_scale,
                "size_bytes": max(1, int(m.size_bytes * size_scale)),
            }
        )
        if m.name == mem
        else m
        for m in prof.memories
    ]
    return prof.model_copy(update={"memories": mems})


def without_thermal_limits(prof: Any) -> Any:
    return prof.model_copy(update={"thermal": prof.thermal.model_copy(update={"trip_points": []})})


def schedule(graph: Graph, prof: Any) -> Schedule:
    rt, version = resolve_runtime(prof, None)
    return build_schedule(graph, prof, rt, version)


def analytic(graph: Graph, prof: Any) -> tuple[Schedule, Estimate]:
    s = schedule(graph, prof)
    return s, estimate_schedule(s, prof)


def event(graph: Graph, prof: Any) -> tuple[Schedule, Estimate]:
    s = schedule(graph, prof)
    return s, to_estimate(s, prof, simulate_schedule(s, prof))
