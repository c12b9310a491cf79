"""The Ethos-U cost model (Vela's block stepping, entropy-coded weights, input bursts) and the edge_latency.csv row
semantics (batched rows, libedgetpu1-std clock, input resolution, SqueezeNet version)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgesim.api import load_model, load_profile
from edgesim.hw.loader import load_runtime
from edgesim.ir import attrs as A
from edgesim.ir.work import node_work
from edgesim.mapping.compute import _mac_block_cycles
from edgesim.mapping.mapper import _entropy_coded_ratio, build_schedule
from edgesim.mapping.tiling import _input_burst_scale
from tests.conftest import shared_model


def _node(graph, op: str, index: int = 0):  # type: ignore[no-untyped-def]
    return [n for n in graph.nodes if n.op.value == op][index]


def _spec(hw: str):  # type: ignore[no-untyped-def]
    return load_profile(hw).unit("npu").mac_block


def test_profiles_carry_vela_block_shapes() -> None:
    assert _spec("ethos-u55-128").ofm_ublock_hwc == (1, 2, 8)
    assert _spec("ethos-u55-256").ofm_ublock_hwc == (2, 2, 8)
    assert _spec("ethos-u65-256").output_elements_per_cycle == 4.0


def test_depthwise_steps_cover_four_kernel_positions() -> None:
    # KWS depthwise 3x3 on a 25x5x64 map, U55-128 (micro-block 1x2x8): 25*3 xy blocks x 8 z blocks x
    # ceil(9/4)=3 steps x 4 cycles = 7200; Vela 5.2.0 reports 8124 NPU cycles for this layer.
    g = load_model(str(shared_model("kws_ref_model.tflite")))
    dw = _node(g, "DEPTHWISE_CONV2D")
    assert _mac_block_cycles(_spec("ethos-u55-128"), g, dw, node_work(g, dw)) == 7200.0
    # U55-256 (2x2x8): 13*3 xy blocks -> 3744 (Vela: 4968)
    assert _mac_block_cycles(_spec("ethos-u55-256"), g, dw, node_work(g, dw)) == 3744.0


def test_single_channel_conv_uses_part_kernel_first() -> None:
    # KWS first conv: 10x4 kernel over 1 input channel. Depth-first would take 40 kernel steps per block,
    # part-kernel-first ceil(40/4)=10: 75 xy x 8 z x 10 x 4 = 24000 (Vela: 26185).
    g = load_model(str(shared_model("kws_ref_model.tflite")))
    conv = _node(g, "CONV2D")
    assert _mac_block_cycles(_spec("ethos-u55-128"), g, conv, node_work(g, conv)) == 24000.0


def test_small_outputs_pay_the_per_step_minimum() -> None:
    # AD autoencoder FC 640 -> 128: one output position, so every step costs min_cycles_per_step (32):
    # 16 z blocks x 20 input blocks x 32 = 10240 (Vela: 12964 incl. pipeline delays), not MACs/256 = 320.
    g = load_model(str(shared_model("ad01_int8.tflite")))
    fc = _node(g, "FULLY_CONNECTED")
    cyc = _mac_block_cycles(_spec("ethos-u55-256"), g, fc, node_work(g, fc))
    assert cyc == 10240.0
    assert cyc > node_work(g, fc).macs / 256 * 10


def test_block_model_is_used_only_where_the_unit_declares_it() -> None:
    g = load_model(str(shared_model("kws_ref_model.tflite")))
    rt, ver = load_runtime("vela")
    prof = load_profile("ethos-u55-128")
    npu = prof.unit("npu")
    plain = prof.model_copy(update={"units": [npu.model_copy(update={"mac_block": None}), prof.unit("cpu")]})
    blocked = build_schedule(g, prof, rt, ver)
    flat = build_schedule(g, plain, rt, ver)
    dw_b = next(p for p in blocked.plans if p.op == "DEPTHWISE_CONV2D")
    dw_f = next(p for p in flat.plans if p.op == "DEPTHWISE_CONV2D")
    assert dw_f.compute_cycles == pytest.approx(72000 / 128)  # MACs / peak at efficiency 1.0
    assert dw_b.compute_cycles == pytest.approx(7200.0)


# ethos-u-vela 5.2.0 (ethos-u55-128) summary `off_chip_flash_memory_used` in bytes: the encoded weight streams plus
# the per-channel bias/scale records, everything the NPU reads from flash.
VELA_ENCODED = {"ad01_int8": 201184, "kws_ref_model": 31104, "pretrainedResnet_quant": 79248,
                "vww_96_int8": 76000, "str_ww_ref_model": 57008, "pretrainedResnet_large_int8": 450656}


@pytest.mark.parametrize("model", sorted(VELA_ENCODED))
def test_entropy_coded_weights_track_vela_encoder(model: str) -> None:
    g = load_model(str(shared_model(f"{model}.tflite")))
    stored = 0.0
    for n in g.nodes:
        if n.op.value in ("CONV2D", "DEPTHWISE_CONV2D", "FULLY_CONNECTED"):
            ratio = _entropy_coded_ratio(g, n)
            assert ratio is not None
            stored += ratio * node_work(g, n).weight_bytes
    # Order-0 entropy is a lower bound of the Golomb-Rice stream: 6-14% under Vela on these models. VWW (83% zero
    # weights) stores ~1/3 of its raw bytes, KWS more than raw (10-byte bias/scale records per channel).
    assert 0.80 <= stored / VELA_ENCODED[model] <= 1.0, (model, stored)


def test_entropy_ratio_needs_weight_values() -> None:
    g = load_model(str(shared_model("kws_ref_model.tflite")))
    conv = _node(g, "CONV2D", 1)
    w = g.tensors[conv.inputs[1]]
    tensors = dict(g.tensors)
    tensors[w.name] = replace(w, data=None)
    assert _entropy_coded_ratio(SimpleNamespace(tensors=tensors), conv) is None  # type: ignore[arg-type]
    # All-equal weights carry no information: only the bias/scale records remain.
    tensors[w.name] = replace(w, data=np.zeros(w.shape, np.int8))
    ratio = _entropy_coded_ratio(SimpleNamespace(tensors=tensors), conv)  # type: ignore[arg-type]
    assert ratio is not None and ratio < 0.2


def test_network_input_pays_whole_bursts() -> None:
    g = load_model(str(shared_model("vww_96_int8.tflite")))
    prof = load_profile("ethos-u55-256")
    first = _node(g, "CONV2D")
    second = _node(g, "CONV2D", 1)
    # 3 input channels -> one 8-byte run per pixel in a 32-byte SRAM burst
    assert _input_burst_scale(g, first, prof.unit("npu"), prof.memory("sram")) == 4.0
    assert _input_burst_scale(g, second, prof.unit("npu"), prof.memory("sram")) == 1.0
    coral = load_profile("coral-edgetpu")  # no mac_block, no burst model
    assert _input_burst_scale(g, first, coral.unit("tpu"), coral.memory("sram")) == 1.0


def _convert(tmp_path: Path, rows: str) -> list[dict[str, str]]:
    from edgesim.validate.edge import convert_edge_latency

    src = tmp_path / "edge.csv"
    src.write_text("device,accelerator,runtime,model,input_size,precision,batch,metric,latency_ms,source_url\n" + rows,
                   encoding="utf-8")
    out = tmp_path / "ref.csv"
    convert_edge_latency(src, out)
    return list(csv.DictReader(out.open(encoding="utf-8")))


def test_edge_rows_semantics(tmp_path: Path) -> None:
    rows = _convert(tmp_path, (
        "Jetson AGX Orin Developer Kit 64GB (MaxN),GPU,TensorRT 8.5.2,ResNet-50 v1.5,224x224,INT8,1,ss,0.64,u\n"
        "Jetson AGX Orin Developer Kit 64GB (MaxN),GPU,TensorRT 8.5.2,ResNet-50 v1.5,224x224,INT8,8/query,ms,2.2,u\n"
        "Intel i9 + Coral USB Accelerator (USB3),Edge TPU,libedgetpu1-std 16.0,MobileNetV1,x,int8,1,t,3.9,u\n"
        "Coral Dev Board,Edge TPU,libedgetpu / TFLite,ResNet-50 V1,299x299,int8,1,t,56,u\n"
        "Coral Dev Board,Edge TPU,libedgetpu / TFLite,SqueezeNet,224x224,int8,1,t,2,u\n"
    ))
    assert [(r["device"], r["model_file"], r["clock_mhz"]) for r in rows] == [
        ("jetson-agx-orin", "resnet50", ""),  # the 8-sample MultiStream row is dropped
        ("coral-edgetpu-usb", "mobilenet_v1", "250"),  # libedgetpu1-std: lowest Edge TPU operating point
        ("coral-edgetpu", "resnet50@299", ""),
        ("coral-edgetpu", "squeezenet1_0", ""),
    ]


def test_resolution_suffix_builds_the_zoo_model_at_that_size() -> None:
    from tests._helpers import reference_graph as load_reference_model

    g = load_reference_model("mobilenet_v1@160")
    x = g.tensors[g.inputs[0]]
    assert sorted(x.shape)[-2:] == [160, 160]
    conv = next(n for n in g.nodes if n.op.value == "CONV2D")
    assert isinstance(conv.attrs, A.ConvAttrs)


def test_edge_tpu_caches_the_first_parameters_and_streams_the_rest() -> None:
    from tests._helpers import reference_graph as load_reference_model

    g = load_reference_model("resnet50")  # ~25 MB of int8 weights vs the Edge TPU's 8 MB parameter cache
    prof = load_profile("coral-edgetpu")
    rt, ver = load_runtime("edgetpu")
    plans = [p for p in build_schedule(g, prof, rt, ver).plans if p.weight_bytes and p.unit == "tpu"]
    where = [p.weight_memory for p in plans]
    cached = sum(p.weight_bytes for p in plans if p.weight_memory == "sram")
    streamed = sum(p.weight_bytes for p in plans if p.weight_memory == "host_link")
    assert where[0] == "sram" and where[-1] == "host_link"  # execution order fills the cache
    assert 0.75 * prof.memory("sram").size_bytes < cached <= prof.memory("sram").size_bytes
    assert streamed > cached
    # A model that fits keeps every weight on chip.
    small = load_reference_model("mobilenet_v1")
    assert {p.weight_memory for p in build_schedule(small, prof, rt, ver).plans if p.weight_bytes} == {"sram"}


def test_dedicated_sram_reads_the_network_input_from_dram() -> None:
    # Ethos-U65 (Vela Dedicated_Sram): the input tensor stays in DRAM ('flash' level); U55 keeps it in SRAM.
    g = load_model(str(shared_model("vww_96_int8.tflite")))
    rt, ver = load_runtime("vela")
    for hw, mem in (("ethos-u65-256", "flash"), ("ethos-u55-256", "sram")):
        first = build_schedule(g, load_profile(hw), rt, ver).plans[0]
        reads = {t.memory: t.read_bytes for t in first.traffic if t.read_bytes}
        x = g.tensors[g.inputs[0]]
        burst = load_profile(hw).memory(mem).burst_bytes
        assert reads[mem] >= x.nbytes * burst // 8  # 3 channels -> 8-byte runs of each burst
