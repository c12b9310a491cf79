"""QNN (Hexagon HTP) and HailoRT mechanisms of issue #17: where QNN keeps activations (VTCM, spilling to DDR), one
HTP core per graph, the Hexagon generations' relative speed; Hailo-8L's multi-context networks and batching."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgesim.api import bind, load_profile
from edgesim.cost.analytic import estimate_schedule
from edgesim.errors import EdgesimError
from edgesim.hw.schema import MemoryKind, Precision
from edgesim.ir.ops import OpKind
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
from edgesim.sim.stream import schedule_period_s
from edgesim.validate.npu_vendor import read_vendor
from tests._helpers import reference_graph


def _act_memories(schedule: Schedule, op: str) -> set[str]:
    """Memories the ``op`` plans read or write besides their weight memory."""
    out: set[str] = set()
    for p in schedule.plans:
        if p.op == op:
            out |= {t.memory for t in p.traffic if t.memory != p.weight_memory or t.write_bytes}
    return out


@pytest.fixture(scope="module")
def x_elite_small() -> Schedule:
    prof, rt, version = bind(load_profile("snapdragon-x-elite"), "qnn")
    return build_schedule(reference_graph("mobilenet_v2@96", "int8"), prof, rt, version)


def test_qnn_keeps_activations_in_vtcm(x_elite_small: Schedule) -> None:
    prof, rt, _ = bind(load_profile("snapdragon-x-elite"), "qnn")
    assert rt is not None and rt.activations_in is MemoryKind.TCM
    assert prof.placement.activations == "dram"  # the SoC default the runtime overrides
    mems = _act_memories(x_elite_small, "CONV2D")
    assert "vtcm" in mems and "dram" not in mems


def test_without_activations_in_the_profile_placement_holds() -> None:
    prof, rt, version = bind(load_profile("snapdragon-x-elite"), "qnn")
    assert rt is not None
    plain = rt.model_copy(update={"activations_in": None})
    sched = build_schedule(reference_graph("mobilenet_v2@96", "int8"), prof, plain, version)
    assert "dram" in _act_memories(sched, "CONV2D")


def test_activations_too_big_for_vtcm_spill_to_dram() -> None:
    prof, rt, version = bind(load_profile("qcs6490"), "qnn")  # 4 MB VTCM
    vtcm = prof.memory("vtcm").size_bytes
    sched = build_schedule(reference_graph("mobilenet_v2@512", "int8"), prof, rt, version)
    assert sched.peak_activation_bytes > vtcm
    assert "dram" in _act_memories(sched, "CONV2D")


def test_qnn_runs_a_graph_on_one_htp_core() -> None:
    full = load_profile("qcs9075")
    prof, _, _ = bind(full, "qnn")
    assert full.unit("npu").count == 2 and prof.unit("npu").count == 1


def _int8_macs_per_s(pid: str) -> float:
    npu = load_profile(pid).unit("npu")
    return npu.macs_per_cycle[Precision.INT8] * npu.effective_clock_mhz(load_profile(pid).clock_mhz) * 1e6


def test_8_gen_3_htp_is_faster_than_x_elite_and_8_gen_2() -> None:
    rate = {pid: _int8_macs_per_s(pid) for pid in ("snapdragon-8-gen3", "snapdragon-x-elite", "qcs8550")}
    # QCS8550 (SM8550, 8 Gen 2) and the X Elite carry the same Hexagon v73 HTP (QNN SoC table): one HMX width and
    # clock; the 8 Gen 3's v75 is faster than both, as a faster clock
    assert rate["qcs8550"] == pytest.approx(rate["snapdragon-x-elite"], rel=0.01)
    assert rate["snapdragon-8-gen3"] > rate["snapdragon-x-elite"]
    gen3, elite = load_profile("snapdragon-8-gen3").unit("npu"), load_profile("snapdragon-x-elite").unit("npu")
    assert gen3.macs_per_cycle[Precision.INT8] == elite.macs_per_cycle[Precision.INT8]
    assert (gen3.clock_mhz or 0) > (elite.clock_mhz or 0)


def _npu_overheads_s(schedule: Schedule) -> list[float]:
    return [p.overhead_cycles / p.unit_clock_hz for p in schedule.plans if p.unit == "npu"]


def test_qnn_per_op_overhead_runs_at_the_htp_clock() -> None:
    graph = reference_graph("mobilenet_v2@96", "int8")
    prof, rt, version = bind(load_profile("snapdragon-x-elite"), "qnn")
    assert rt is not None and version is not None and rt.overhead_clock == "unit"
    sched = build_schedule(graph, prof, rt, version)
    base = _npu_overheads_s(sched)
    # each op's own kind's (or class's) overhead, in HTP cycles
    expect = [rt.op_overhead_cycles(p.op, OpKind(p.op).op_class.value) * version.overhead_scale
              / (prof.unit("npu").clock_mhz or 0) / 1e6 for p in sched.plans if p.unit == "npu"]
    assert base == pytest.approx(expect) and max(base) > 0
    # a faster host leaves the HTP's per-op cost alone; a faster HTP shortens it
    assert _npu_overheads_s(build_schedule(graph, prof.with_clock(prof.clock_mhz * 2), rt, version)) == \
        pytest.approx(base)
    fast_npu = prof.model_copy(update={"units": [u.model_copy(update={"clock_mhz": 2 * (u.clock_mhz or 0)})
                                                  if u.name == "npu" else u for u in prof.units]})
    assert _npu_overheads_s(build_schedule(graph, fast_npu, rt, version)) == pytest.approx([o / 2 for o in base])


def test_host_counted_overhead_follows_the_host_clock() -> None:
    graph = reference_graph("mobilenet_v2@96", "int8")
    prof, rt, version = bind(load_profile("snapdragon-x-elite"), "qnn")
    assert rt is not None
    host_rt = rt.model_copy(update={"overhead_clock": "host"})
    base = _npu_overheads_s(build_schedule(graph, prof, host_rt, version))
    doubled = _npu_overheads_s(build_schedule(graph, prof.with_clock(prof.clock_mhz * 2), host_rt, version))
    assert doubled == pytest.approx([o / 2 for o in base])


# --- Hailo-8L multi-context execution -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hailo8l() -> tuple[Any, Any, Any]:
    return bind(load_profile("hailo-8l"), "hailort")


def test_network_over_one_context_runs_as_several(hailo8l: tuple[Any, Any, Any]) -> None:
    prof, rt, version = hailo8l
    cap = prof.unit("npu").context_weight_bytes
    assert cap and rt.context_switch_cycles > 0
    small = build_schedule(reference_graph("mobilenet_v2@96", "int8"), prof, rt, version)
    assert small.total_weight_bytes <= cap and small.contexts == 1 and small.context_switch_s == 0.0
    big = build_schedule(reference_graph("resnet50@64", "int8"), prof, rt, version)
    assert big.contexts == -(-big.total_weight_bytes // cap) > 1
    assert any("contexts" in n for n in big.notes)
    # Hailo-8 (no per-context capacity declared) keeps the whole network resident
    p8, rt8, v8 = bind(load_profile("hailo-8"), "hailort")
    assert build_schedule(reference_graph("resnet50@64", "int8"), p8, rt8, v8).contexts == 1


def test_context_switches_add_to_latency_and_batching_amortises_them(hailo8l: tuple[Any, Any, Any]) -> None:
    prof, rt, version = hailo8l
    sched = build_schedule(reference_graph("resnet50@64", "int8"), prof, rt, version)
    one = replace(sched, contexts=1)
    assert sched.context_layers > 0 and rt.context_switch_layer_cycles > 0
    switch_s = ((sched.contexts * rt.context_switch_cycles + sched.context_layers * rt.context_switch_layer_cycles)
                * version.overhead_scale / sched.host_clock_hz)
    assert sched.context_switch_s == pytest.approx(switch_s)
    assert estimate_schedule(sched, prof).latency_s == pytest.approx(
        estimate_schedule(one, prof).latency_s + switch_s)
    frames = (2, 4)
    resident = schedule_period_s(one, prof, frames)
    b1, b8 = (schedule_period_s(sched, prof, frames, batch=b) for b in (1, 8))
    assert b1 > b8 > resident  # batch 8 pays the switches once per 8 frames, never less than the pipeline
    assert b1 - resident > switch_s  # batch 1 also loses the pipelining between frames
    with pytest.raises(EdgesimError, match="batch"):
        schedule_period_s(sched, prof, frames, batch=0)


def test_vendor_rows_carry_their_batch(tmp_path: Path) -> None:
    header = ["device", "hw_profile", "runtime_id", "zoo_model", "input_shape", "precision", "batch", "metric",
              "value"]
    p = tmp_path / "t.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerow(["a", "hailo-8l", "hailort", "resnet50", "1x3x224x224", "INT8", "8", "throughput_fps", "500"])
        w.writerow(["b", "hailo-8l", "hailort", "resnet50", "1x3x224x224", "INT8", "", "throughput_fps", "130"])
    rows, _ = read_vendor(p)
    assert [r.batch for r in rows] == [8, 1]


# --- QNN quantizes every static tensor ---------------------------------------------------------------------------

def test_qnn_runs_float_parameter_ops_on_the_htp_at_the_activation_precision() -> None:
    from edgesim.passes.choices import QuantPreset
    from edgesim.pipeline import RunSpec, TransformOptions, run

    # DenseNet's pre-activation BatchNorms follow a concat, not a conv: they stay unfolded with float parameters
    spec = RunSpec("densenet121", "qcs9075", "qnn", input_shape=(1, 3, 64, 64),
                   transform=TransformOptions(quant=QuantPreset("int8"), calibration="fixed", accuracy=False))
    res = run(spec)
    assert res.runtime is not None and res.runtime.quantizes_params
    bns = [p for p in res.schedule.plans if p.op == "BATCH_NORM"]
    assert bns and all(p.unit == "npu" and p.precision == "int8" and not p.fallback for p in bns)
    # without it (and without the fp16 float compile, mapper._converter_precision), the same ops are float ops the
    # HTP (no fp32) leaves to the CPU
    plain = res.runtime.model_copy(update={"quantizes_params": False, "float_models_as": None})
    sched = build_schedule(res.graph, res.profile, plain, res.version)
    bns = [p for p in sched.plans if p.op == "BATCH_NORM"]
    assert bns and all(p.unit == "cpu" and p.precision == "fp32" for p in bns)
