"""Contexts of a dataflow accelerator from its control resource (ComputeUnit.context_layers_per_core): layers are
counted as the compiler counts them (activations belong to their conv), and a network with more layers than the
chip's clusters hold in one context runs as several, as Hailo-8L's YOLOv8n does while Hailo-8's does not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgesim.api import load_profile
from edgesim.mapping.contexts import contexts_needed, hardware_layers
from edgesim.mapping.plan import OpPlan
from edgesim.validate.npu_vendor import VendorRow, row_spec


def _plan(name: str, op: str, deps: tuple[str, ...] = (), unit: str = "npu", weight_bytes: int = 0) -> OpPlan:
    return OpPlan(node=name, op=op, unit=unit, precision="int8", macs=0, elementwise_ops=0, compute_cycles=1.0,
                  traffic=(), overhead_cycles=0.0, unit_clock_hz=1e9, depends_on=deps, weight_bytes=weight_bytes)


def test_activations_and_silu_belong_to_their_conv_layer() -> None:
    plans = [_plan("c1", "CONV2D"), _plan("s1", "SIGMOID", ("c1",)), _plan("m1", "MUL", ("c1", "s1")),
             _plan("r", "RESHAPE", ("m1",), unit="-"), _plan("c2", "CONV2D", ("r",)), _plan("a2", "RELU", ("c2",)),
             _plan("add", "ADD", ("a2", "m1")), _plan("sig", "SIGMOID", ("add",)), _plan("h", "CONV2D", ("sig",),
                                                                                    unit="cpu")]
    # c1 (+SiLU), c2 (+ReLU), the ADD and the SIGMOID of an ADD (not a conv's activation); the view and the
    # host op are not npu layers
    assert hardware_layers(plans, "npu") == 4
    assert hardware_layers(plans, "cpu") == 1


# hailo-10h: the Hailo-15H core's 5 clusters (hailort v5.2.0), 16 Layer Controller Units each as on Hailo-8
@pytest.mark.parametrize(("profile", "layers_one_context"), [("hailo-8l", 64), ("hailo-8", 128), ("hailo-10h", 80)])
def test_more_layers_than_one_context_holds_split_the_network(profile: str, layers_one_context: int) -> None:
    prof = load_profile(profile)
    npu = prof.unit("npu")
    assert npu.context_layers_per_core is not None
    assert npu.count * npu.context_layers_per_core == layers_one_context
    convs = [_plan(f"c{i}", "CONV2D") for i in range(layers_one_context)]
    assert contexts_needed(prof, convs) == 1
    assert contexts_needed(prof, convs + [_plan("x", "CONV2D")]) == 2
    assert contexts_needed(prof, convs * 2 + [_plan("x", "CONV2D")]) == 3
    # the weight capacity still applies on its own
    cap = npu.context_weight_bytes
    if cap:
        heavy = [replace(convs[0], weight_bytes=3 * cap)]
        assert contexts_needed(prof, heavy) == 3
    # a profile without the limit keeps any number of layers resident
    plain = prof.model_copy(update={"units": [u.model_copy(update={"context_layers_per_core": None,
                                                                   "context_weight_bytes": None})
                                              for u in prof.units]})
    assert contexts_needed(plain, convs * 3) == 1


def test_yolov8n_is_one_context_on_hailo8_and_two_on_hailo8l() -> None:
    """DeGirum's Hailo batching guide: YOLOv8n "context = 1" on Hailo-8; hailo_model_zoo's Hailo-8L table gains
    from batching (202 -> 438 FPS), the signature of a multi-context network."""
    from edgesim.pipeline import run

    got = {}
    for dev in ("hailo-8", "hailo-8l"):
        row = VendorRow(1, dev, "hailort@4.23", "yolov8n", "1x3x320x320", None, "int8", "throughput", 1.0)
        sched = run(row_spec(row)).schedule
        got[dev] = (sched.contexts, hardware_layers(sched.plans, "npu"))
    assert got["hailo-8"][0] == 1 and got["hailo-8l"][0] == 2
    assert 64 < got["hailo-8l"][1] <= 128


def test_an_op_the_compiler_decomposes_takes_several_layers() -> None:
    from edgesim.hw.loader import load_runtime

    rt, _ = load_runtime("hailort")
    per_ln = rt.layers_per_op["LAYER_NORM"]
    assert per_ln > 1
    plans = [_plan("fc", "FULLY_CONNECTED"), _plan("ln", "LAYER_NORM", ("fc",)), _plan("fc2", "FULLY_CONNECTED")]
    assert hardware_layers(plans, "npu") == 3
    assert hardware_layers(plans, "npu", rt.layers_per_op) == 2 + per_ln
    prof = load_profile("hailo-8l")
    slots = prof.unit("npu").count * (prof.unit("npu").context_layers_per_core or 0)
    many = [_plan(f"ln{i}", "LAYER_NORM") for i in range(slots // per_ln + 1)]
    assert contexts_needed(prof, many) == 1 and contexts_needed(prof, many, rt.layers_per_op) == 2


def test_layers_per_op_names_known_ops_and_positive_counts() -> None:
    from pydantic import ValidationError

    from edgesim.hw.loader import load_runtime

    rt, _ = load_runtime("hailort")
    data = rt.model_dump()
    for bad in ({"NOT_AN_OP": 2}, {"LAYER_NORM": 0}):
        with pytest.raises(ValidationError, match="layers_per_op"):
            type(rt).model_validate({**data, "layers_per_op": bad})


def test_switching_pays_per_context_and_per_layer_once_per_batch() -> None:
    from edgesim.mapping.plan import Schedule

    base = Schedule(model="m", hw="h", runtime="r", plans=(), per_inference_overhead_cycles=0.0, host_clock_hz=1e9,
                    peak_activation_bytes=0, activation_memory="", activation_memory_bytes=0, weight_memory="",
                    total_weight_bytes=0, contexts=3, context_switch_cycles=1e6, context_layers=100,
                    context_switch_layer_cycles=1e4)
    assert base.context_switch_s == pytest.approx((3 * 1e6 + 100 * 1e4) / 1e9)
    # a resident network (one context) switches nothing, whatever its layers
    assert replace(base, contexts=1).context_switch_s == 0.0


def test_hailo10h_weights_overflowing_the_chip_load_per_context_not_per_frame() -> None:
    """Hailo-10H's on-module DRAM ("no longer limited by on-chip SRAM"): ViT-Base's 87 MB of int8 weights are
    split into contexts that each fit the chip (context_weight_bytes), every FC reads its weights on chip and the
    load is paid at the context switch; without the cap the mapper streamed the overflow over the host link
    every frame."""
    from edgesim.pipeline import run, run_on

    prof = load_profile("hailo-10h")
    cap = prof.unit("npu").context_weight_bytes
    assert cap is not None and cap <= prof.memory("sram").size_bytes
    row = VendorRow(1, "hailo-10h", "hailort@5.2", "vit_base", "1x3x224x224", None, "int8", "throughput", 1.0)
    result = run(row_spec(row))
    sched = result.schedule
    assert sched.total_weight_bytes > cap
    assert sched.contexts >= -(-sched.total_weight_bytes // cap)
    fc = [p for p in sched.plans if p.op == "FULLY_CONNECTED"]
    assert fc and all(p.weight_memory == "sram" for p in fc)
    uncapped = prof.model_copy(update={"units": [u.model_copy(update={"context_weight_bytes": None})
                                                 for u in prof.units]})
    streamed = run_on(result, uncapped)
    assert any(p.weight_memory == "host_link" for p in streamed.schedule.plans)
    assert streamed.estimate.latency_s > 1.5 * result.estimate.latency_s


def test_hailo10h_contexts_follow_its_l3_memory() -> None:
    """hailort v5.2.0 (resource_manager.cpp): "L3 memory: H10, H15: 32KB x 128 x 5", 20 MiB on 5 clusters.
    ResNet-18's 11.7 MB of int8 weights fit one context; ResNet-34's 21.8 MB do not, so it runs as two contexts
    and pays the switch at batch 1 (the 32 MB the profile first assumed kept it resident)."""
    from edgesim.pipeline import run

    prof = load_profile("hailo-10h")
    npu = prof.unit("npu")
    assert npu.count == 5
    assert npu.context_weight_bytes == prof.memory("sram").size_bytes == 32 * 1024 * 128 * 5
    got = {}
    for net in ("resnet18", "resnet34"):
        row = VendorRow(1, "hailo-10h", "hailort@5.2", net, "1x3x224x224", None, "int8", "throughput", 1.0)
        sched = run(row_spec(row)).schedule
        got[net] = (sched.contexts, sched.context_switch_s)
    assert got["resnet18"] == (1, 0.0)
    assert got["resnet34"][0] == 2 and got["resnet34"][1] > 0.0


def test_hailo10h_switch_loads_the_weights_from_its_own_dram() -> None:
    """hailort v5.2.0 (memory_requirements_calculator.cpp get_dma_type): Hailo-8/8L configuration buffers
    ("weights and layer configurations") go over PCIe from the host, Hailo-10H's over the module's DRAM. A 10H
    switch is its weights read at the dram's bandwidth, not the host-driven cycles fitted on Hailo-8L; the 8L
    keeps those."""
    from edgesim.hw.loader import load_runtime
    from edgesim.pipeline import run

    prof = load_profile("hailo-10h")
    assert prof.unit("npu").context_memory == "dram"
    row = VendorRow(1, "hailo-10h", "hailort@5.2", "resnet34", "1x3x224x224", None, "int8", "throughput", 1.0)
    sched = run(row_spec(row)).schedule
    weights = sum(p.weight_bytes for p in sched.plans if p.unit == "npu")
    dram_bw = prof.memory("dram").read_bw_bytes_per_s(prof.clock_mhz)
    assert sched.contexts == 2 and sched.context_load_bytes == weights
    assert sched.context_switch_cycles == 0.0 and sched.context_switch_layer_cycles == 0.0
    assert sched.context_switch_s == pytest.approx(weights / dram_bw)
    rt, _ = load_runtime("hailort")
    host_driven_s = (2 * rt.context_switch_cycles + sched.context_layers * rt.context_switch_layer_cycles) / 2.4e9
    assert sched.context_switch_s < 0.85 * host_driven_s
    row8l = VendorRow(1, "hailo-8l", "hailort@4.23", "resnet34", "1x3x224x224", None, "int8", "throughput", 1.0)
    s8 = run(row_spec(row8l)).schedule
    assert s8.context_load_bytes == 0 and s8.context_switch_cycles == rt.context_switch_cycles


def test_context_memory_must_be_one_of_the_units_memories() -> None:
    from pydantic import ValidationError

    prof = load_profile("hailo-10h")
    data = prof.model_dump(mode="json")
    npu = next(u for u in data["units"] if u["name"] == "npu")
    npu["context_memory"] = "host_dram"  # a memory of the profile, but the host CPU's, not the NPU's
    with pytest.raises(ValidationError, match="context_memory"):
        type(prof).model_validate(data)
