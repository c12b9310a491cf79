"""Issue #17 profiles and runtimes: every new id loads, the runtimes drive the chips they target, and the
mismatches a real toolchain refuses are refused on one line naming device, runtime and op or unit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgesim.api import bind, estimate, load_profile
from edgesim.errors import EdgesimError, MappingError, ProfileError
from edgesim.hw.loader import load_runtime, profiles_dir
from edgesim.hw.schema import DeviceClass, Precision, UnitKind
from edgesim.hw.targeting import check_precision, runtime_fit_problem
from tests._helpers import reference_graph as load_reference_model

ISSUE17 = ["rk3588", "rk3566", "rk3576", "rk3562", "rv1126", "rv1109", "rk1808", "hailo-8l", "hailo-10h",
           "core-ultra-7-155h", "core-ultra-7-165h", "core-ultra-9-288v", "atom-x6425e", "celeron-6305e",
           "core-i7-1185gre", "ncs2", "qcs6490", "qcs9075", "qcs8550", "snapdragon-8-gen3", "snapdragon-x-elite",
           "imx8mp", "imx93", "esp32-s3", "esp32-p4", "vs680", "vs640", "k230", "max78000"]
RUNTIMES = ["openvino-cpu", "openvino-gpu", "openvino-npu", "openvino-myriad", "rknn", "hailort", "qnn",
            "tflite-vx", "tflite-ethosu", "tflite-xnnpack", "esp-dl", "synap", "nncase", "ai8x"]
# The chip's own NPU runtime (the one its vendor table uses).
NPU_RUNTIME = {"rk3588": "rknn", "rk3566": "rknn", "rk3576": "rknn", "rk3562": "rknn", "rv1126": "rknn",
               "rv1109": "rknn", "rk1808": "rknn", "hailo-8l": "hailort", "hailo-10h": "hailort",
               "core-ultra-7-155h": "openvino-npu", "core-ultra-7-165h": "openvino-npu",
               "core-ultra-9-288v": "openvino-npu", "ncs2": "openvino-myriad", "qcs6490": "qnn", "qcs9075": "qnn",
               "qcs8550": "qnn", "snapdragon-8-gen3": "qnn", "snapdragon-x-elite": "qnn", "imx8mp": "tflite-vx",
               "imx93": "tflite-ethosu", "vs680": "synap", "vs640": "synap", "k230": "nncase", "max78000": "ai8x"}


@pytest.fixture(scope="module")
def mnv2_int8():  # type: ignore[no-untyped-def]
    return load_reference_model("mobilenet_v2@96", "int8")


@pytest.mark.parametrize("pid", ISSUE17)
def test_profile_loads_with_sources_and_a_host_cpu(pid: str) -> None:
    p = load_profile(pid)
    assert p.id == pid and p.sources and p.host.kind is UnitKind.CPU
    text = (profiles_dir() / f"{pid}.yaml").read_text()
    # Unpublished numbers are marked as derived (or as estimates in the older profiles this extends).
    assert "derived" in text or "estimate" in text
    assert all(m.size_bytes > 0 for m in p.memories)


def test_llm_boards_have_their_dram() -> None:
    gb = {pid: load_profile(pid).memory("dram") for pid in
          ("rk3576", "hailo-10h", "qcs6490", "snapdragon-8-gen3", "snapdragon-x-elite")}
    # sustained bandwidth = ~60% of the sourced peak (17, 17, 51, 77, 136 GB/s); sizes of the benchmark boards
    assert gb["snapdragon-x-elite"].read_bw_bytes_per_s(1.0) == pytest.approx(81.6e9)
    assert gb["snapdragon-8-gen3"].read_bw_bytes_per_s(1.0) == pytest.approx(46.1e9)
    assert gb["qcs6490"].read_bw_bytes_per_s(1.0) == pytest.approx(30.7e9)
    assert gb["hailo-10h"].size_bytes == 8 * 2**30 and gb["snapdragon-x-elite"].size_bytes == 32 * 2**30


@pytest.mark.parametrize("rid", RUNTIMES)
def test_runtime_loads_and_declares_targets(rid: str) -> None:
    rt, _ = load_runtime(rid, note_missing_version=False)
    assert rt.targets and rt.sources


@pytest.mark.parametrize("pid", sorted(NPU_RUNTIME))
def test_npu_runtime_places_convolutions_on_the_npu(pid: str, mnv2_int8) -> None:  # type: ignore[no-untyped-def]
    prof, rt, version = bind(load_profile(pid), NPU_RUNTIME[pid])
    assert runtime_fit_problem(prof, rt) is None
    if pid == "max78000":
        return  # MobileNetV2 does not fit its engine; refusal tested below
    # The Myriad X NCEs are FP16 only (npu_specs.md I5); everything else is deployed int8.
    graph = load_reference_model("mobilenet_v2@96", "fp16") if pid == "ncs2" else mnv2_int8
    est = estimate(graph, prof, NPU_RUNTIME[pid])
    convs = [layer for layer in est.layers if layer.op == "CONV2D"]
    npu = {u.name for u in prof.units if u.device in (DeviceClass.NPU,)}
    assert convs and all(layer.unit in npu for layer in convs), pid


def test_rknn_uses_one_of_three_rk3588_cores_and_threads_narrow_the_cpu() -> None:
    prof, _, _ = bind(load_profile("rk3588"), "rknn")
    assert prof.unit("npu").count == 1 and prof.unit("cpu").count == 4
    prof, _, _ = bind(load_profile("imx8mp"), "tflite-xnnpack", threads=1)
    assert prof.unit("cpu").count == 1
    with pytest.raises(ProfileError, match="threads"):
        bind(load_profile("imx8mp"), "tflite-xnnpack", threads=0)


def test_one_thread_is_slower_than_four(mnv2_int8) -> None:  # type: ignore[no-untyped-def]
    one = estimate(mnv2_int8, "imx8mp", "tflite-xnnpack", threads=1).latency_s
    four = estimate(mnv2_int8, "imx8mp", "tflite-xnnpack", threads=4).latency_s
    assert 2.0 < one / four <= 4.0


def test_runtime_on_a_chip_without_its_unit_is_refused() -> None:
    with pytest.raises(ProfileError, match="device atom-x6425e, runtime openvino-npu: no npu unit"):
        bind(load_profile("atom-x6425e"), "openvino-npu")
    with pytest.raises(ProfileError, match="device imx8mp, runtime rknn"):
        bind(load_profile("imx8mp"), "rknn")


def test_precision_the_unit_lacks_is_refused() -> None:
    prof, rt, _ = bind(load_profile("qcs6490"), "qnn")
    with pytest.raises(EdgesimError, match="device qcs6490, runtime qnn: unit npu has no fp16"):
        check_precision(prof, rt, "fp16")
    check_precision(prof, rt, "int8")
    prof, rt, _ = bind(load_profile("snapdragon-8-gen3"), "qnn")
    check_precision(prof, rt, "fp16")
    assert Precision.INT8 not in load_profile("ncs2").unit("nce").macs_per_cycle


def test_op_without_cpu_fallback_is_refused_naming_device_runtime_op() -> None:
    # ai8x synthesises the whole network onto the CNN engine: an op the engine lacks cannot go anywhere. (A float
    # model is quantized first, as ai8x-synthesis only takes a quantized checkpoint: float_models_as int8.)
    g = load_reference_model("mobilenet_v2@96", "fp32")
    with pytest.raises(MappingError, match="device max78000, runtime ai8x: op MEAN at int8 cannot be placed on cnn"):
        estimate(g, "max78000", "ai8x")


def test_cli_bad_pair_is_one_line_exit_2() -> None:
    r = subprocess.run([sys.executable, "-m", "edgesim", "run", "resnet8", "--hw", "celeron-6305e", "--runtime",
                        "openvino-npu", "--fast"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "celeron-6305e" in lines[0]
    assert "openvino-npu" in lines[0]


def test_skymont_e_cores_have_twice_crestmonts_vector_rates() -> None:
    """Lunar Lake's Skymont E-cores have four 128-bit SIMD pipes where Meteor Lake's Crestmont had two, and Intel
    doubled both AVX and VNNI throughput: the int8 rate doubles with the fp32 rate (it was left at Crestmont's)."""
    skymont = load_profile("core-ultra-9-288v").little_cluster
    crestmont = load_profile("core-ultra-7-165h").little_cluster
    assert skymont is not None and crestmont is not None
    for precision in (Precision.INT8, Precision.FP32):
        assert skymont.macs_per_cycle[precision] == 2 * crestmont.macs_per_cycle[precision]


def test_a_transposed_convolution_maps_onto_a_systolic_array() -> None:
    """The Edge TPU runs TransposeConv; edgesim refused YOLOv8-seg's ConvTranspose2d there ('no systolic mapping').
    It is the GEMM of every input pixel by the C_in x (C_out kh kw) filter matrix: the same MACs as the op's work."""
    from edgesim.ir.work import node_work
    from edgesim.mapping.systolic_seam import systolic_layer
    from edgesim.pipeline import load_source

    graph = load_source("yolov8n_seg")
    (node,) = [n for n in graph.nodes if n.op.value == "CONV_TRANSPOSE2D"]
    layer, runs = systolic_layer(graph, node)
    assert layer.macs * runs == node_work(graph, node).macs == 80 * 80 * 64 * 64 * 2 * 2
    est = estimate("yolov8n_seg", "coral-edgetpu", quant="int8")
    assert any(layer.op == "CONV_TRANSPOSE2D" and layer.unit == "tpu" for layer in est.layers)
