"""nncase on the Kendryte K230 (issue #17): the KPU keeps feature maps in its dedicated 2 MB SRAM and reads
weights from DRAM (nncase FAQ: "input and output featuremaps are stored at 2MB KPU RAM"); a layer whose live
tensors overflow the 2 MB spills them to DRAM."""

from __future__ import annotations

from edgesim.pipeline import run
from edgesim.validate.npu_vendor import VendorRow, row_spec


def _run(network: str, shape: str, runtime: str = "nncase"):  # type: ignore[no-untyped-def]
    row = VendorRow(line=2, device="k230", runtime=runtime, network=network, input_shape=shape, threads=None,
                    precision="int8", metric="latency", measured_ms=1.0)
    return run(row_spec(row))


def _dram(plan, kind: str) -> int:  # type: ignore[no-untyped-def]
    return sum(t.read_bytes if kind == "read" else t.write_bytes for t in plan.traffic if t.memory == "dram")


def test_kpu_feature_maps_stay_in_kpu_sram_weights_come_from_dram() -> None:
    res = _run("mobilenet_v2", "1x3x224x224")
    kpu = [p for p in res.schedule.plans if p.unit == "npu"]
    assert kpu and all(any(t.memory == "kpu_sram" for t in p.traffic) for p in kpu)
    assert kpu and all(p.weight_memory in ("", "dram") for p in kpu)
    # MobileNetV2's largest live set (112x112x96 int8 in and out of a depthwise conv, ~1.5 MB) fits the 2 MB:
    # no feature map is written to DRAM and DRAM reads are the weights (with their per-channel scales) only.
    assert all(_dram(p, "write") == 0 for p in kpu)
    assert sum(_dram(p, "read") for p in kpu) <= 1.1 * sum(p.weight_bytes for p in kpu)


def test_layers_whose_live_tensors_overflow_the_kpu_sram_spill_to_dram() -> None:
    plans = _run("yolov8n", "1x3x640x640").schedule.plans
    kpu = [p for p in plans if p.unit == "npu" and p.op == "CONV2D"]
    # the stem writes 320x320x16 (1.6 MB) beside its 1.2 MB input: over 2 MB, so it goes to DRAM; the 20x20
    # stage's tensors (<= 0.2 MB each) fit the SRAM and stay there.
    assert _dram(kpu[0], "write") > 0
    assert any(_dram(p, "write") == 0 for p in kpu[-20:])


def test_ops_the_kpu_lacks_run_on_the_c908() -> None:
    # Canaan's K230 RVV note: the KPU has no softmax, layer_norm, where, gather, reduce_arg (nor reshape): nncase
    # runs them on the C908. YOLO11's attention softmax falls back to the CPU; its MatMuls and convs stay on the KPU.
    plans = _run("yolo11n", "1x3x320x320").schedule.plans
    soft = [p for p in plans if p.op == "SOFTMAX"]
    assert soft and all(p.unit == "cpu" and p.fallback for p in soft)
    assert all(p.unit == "npu" and not p.fallback for p in plans if p.op in ("MATMUL", "CONV2D"))


def test_vit_runs_on_the_k230_its_position_embedding_streams_through_the_l2() -> None:
    # ViT-S's float position-embedding ADD ([1, 197, 384] fp32 constant, 302 KB) falls back to the C908, whose
    # 256 KB L2 cannot hold the constant whole: it streams in row by row with the tokens (it was refused before).
    res = _run("vit_small", "1x3x224x224")
    add = next(p for p in res.schedule.plans if p.node == "add_0")
    assert add.unit == "cpu" and add.local_memory == "l2"
    assert all(g.working_set_bytes <= 262144 for g in add.tiles) and sum(g.count for g in add.tiles) > 1
    assert sum(t.read_bytes for t in add.traffic) >= add.weight_bytes  # the constant is still read, once
    assert res.latency_s > 0


def _cycles_per_element(plan, ops_per_element: int) -> float:  # type: ignore[no-untyped-def]
    return plan.compute_cycles / (plan.elementwise_ops / ops_per_element)


def test_c908_softmax_and_layer_norm_cost_nncases_rvv_kernels_instruction_counts() -> None:
    # nncase's stackvm softmax/layer_norm kernels take float only (tensor_ops.cpp; riscv64/layer_norm.cpp), so an
    # int8 model's softmax runs in fp32 on the C908: its RVV kernel issues 26 LMUL=8 vector instructions per 32
    # elements (max 2, exp + sum 21, normalise 3) = 6.5 cycles/element at 128 bits a cycle; layer_norm 14 = 3.5.
    # Without that the softmax was costed at the int8 rate (1.5 cycles/element), layer_norm at 8.
    soft = [p for p in _run("yolo11n", "1x3x320x320").schedule.plans if p.op == "SOFTMAX"]
    assert soft and all(p.unit == "cpu" for p in soft)
    assert all(6.0 <= _cycles_per_element(p, 6) <= 7.0 for p in soft)
    norms = [p for p in _run("vit_small", "1x3x224x224").schedule.plans if p.op == "LAYER_NORM"]
    assert norms and all(p.unit == "cpu" for p in norms)
    assert all(3.2 <= _cycles_per_element(p, 8) <= 3.8 for p in norms)


def test_split_runs_on_the_c908_a_copy_before_nncase_2_11_views_after() -> None:
    # nncase's stackvm split (tensor_ops.cpp): up to 2.10 every output is copied through optimized::slice; from
    # cf28c4f (v2.11) the outputs are views of the input when the dims before the axis are 1. YOLO11's C3k2
    # channel splits of [1, C, H, W] become views; its attention split of [2, 128, 100] (two heads) stays a copy.
    old = _run("yolo11n", "1x3x320x320", "nncase@2.9")
    splits = [p for p in old.schedule.plans if p.op == "SPLIT"]
    assert len(splits) == 10 and all(p.unit == "cpu" and p.fallback for p in splits)
    # the copy reads the input and writes the outputs once, through the C908's DRAM side
    assert all(_dram(p, "read") == p.activation_bytes == _dram(p, "write") for p in splits)
    new = _run("yolo11n", "1x3x320x320", "nncase@2.11")
    after = {p.node: p for p in new.schedule.plans if p.op == "SPLIT"}
    graph = new.graph
    views = {n.name for n in graph.nodes if n.op.value == "SPLIT" and graph.tensors[n.inputs[0]].shape[0] == 1}
    assert len(views) == 9 and all(after[n].unit == "-" and after[n].compute_cycles == 0 for n in views)
    assert [p.unit for n, p in after.items() if n not in views] == ["cpu"]
    # ops after a viewed split wait for the op that produced its input, not for the split
    assert not any(set(p.depends_on) & views for p in new.schedule.plans)
    assert new.latency_s < old.latency_s


def test_published_k230_rows_name_their_nncase_release() -> None:
    # README benchmark table (2024-03, the 2.8 era) and CanMV's YOLO Battle (nncase 2.9.0): both before the view.
    from pathlib import Path

    from edgesim.files import data_path
    from edgesim.validate.npu_vendor import read_vendor

    readme, _ = read_vendor(data_path("reference", "npu_external", "ext7-a.csv"))
    assert {r.runtime for r in readme if r.device == "k230"} == {"nncase@2.8"}
    canmv, _ = read_vendor(Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "k230_canmv_yolo.csv")
    assert canmv and {r.runtime for r in canmv} == {"nncase@2.9"}
