"""QNN (Hexagon HTP) and HailoRT mechanisms of issue #17: where QNN keeps activations (VTCM, spilling to DDR), one
HTP core per graph, and the Hexagon generations' relative speed."""

from __future__ import annotations

import pytest

from edgesim.api import bind, load_profile
from edgesim.hw.schema import MemoryKind, Precision
from edgesim.mapping.mapper import build_schedule
from edgesim.mapping.plan import Schedule
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


def test_8_gen_3_htp_is_faster_than_x_elite_and_8_gen_2() -> None:
    rate = {pid: load_profile(pid).unit("npu").macs_per_cycle[Precision.INT8]
            for pid in ("snapdragon-8-gen3", "snapdragon-x-elite", "qcs8550")}
    # "98% faster" than the previous generation (8 Gen 2 ~ QCS8550's HTP)
    assert rate["snapdragon-8-gen3"] == pytest.approx(2 * rate["qcs8550"])
    assert rate["snapdragon-8-gen3"] > rate["snapdragon-x-elite"]
