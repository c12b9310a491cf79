"""The nine ONNX model-zoo CNNs that ship with the onnx wheel (``onnx/backend/test/data/light``: AlexNet, DenseNet-121,
Inception v1/v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512; real architectures, light weights) run
end to end: float execution reproduces onnx's stored expected output, int8 post-training quantization (whose
calibration runs the float executor) succeeds, and the analytic cost runs with and without quantization on a CPU
profile and an NPU profile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgesim.api import estimate, load_profile
from edgesim.cli import main
from edgesim.frontends.onnx_import import import_onnx
from edgesim.ir.dtypes import DType
from edgesim.passes.float_exec import run_float
from edgesim.passes.optimize import Options, optimize
from edgesim.passes.quantize import QuantSpec

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
          "vgg19", "zfnet512"]
PROFILES = ("rpi5", "ethos-u55-256")  # a CPU SoC and a microcontroller NPU


def _path(name: str) -> Path:
    p = LIGHT / f"light_{name}.onnx"
    if not p.exists():
        pytest.skip(f"{p} is not shipped with this onnx build")
    return p


def _reference_input(shape: tuple[int, ...]) -> np.ndarray:
    # the input onnx's backend runner feeds these models (generate_dummy_data, random=False)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


@pytest.mark.parametrize("name", MODELS)
def test_light_model_float_matches_onnx_and_is_costed(name: str) -> None:
    path = _path(name)
    g = import_onnx(path)
    x = _reference_input(g.tensors[g.inputs[0]].shape)
    got = run_float(g, {g.inputs[0]: x})[g.outputs[0]]
    want = numpy_helper.to_array(onnx.load_tensor(str(path).replace(".onnx", "_output_0.pb")))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for prof_id in PROFILES:
        est = estimate(g, load_profile(prof_id))
        assert est.latency_s > 0 and est.energy_j > 0


# int8 for four that run in seconds here (two with LRN); benchmarks/bench_light_models.py quantizes all nine
# (VGG-19's 140 M weights alone take ~10 s to quantize on a shared 2-core runner).
@pytest.mark.parametrize("name", ["bvlc_alexnet", "inception_v1", "squeezenet", "shufflenet"])
def test_light_model_int8_is_faster_on_cpu_and_npu(name: str) -> None:
    g = import_onnx(_path(name))
    x = _reference_input(g.tensors[g.inputs[0]].shape)
    # one calibration sample; the calibration pass runs the float executor on every op (LRN included)
    q = optimize(g, Options(quant=QuantSpec(preset="int8", calibration_data=(x,))))
    assert any(t.dtype is DType.INT8 for t in q.tensors.values() if not t.is_const)
    for prof_id in PROFILES:
        prof = load_profile(prof_id)
        fp, i8 = estimate(g, prof), estimate(q, prof)
        assert 0 < i8.latency_s < fp.latency_s, (prof_id, i8.latency_s, fp.latency_s)
        assert 0 < i8.energy_j < fp.energy_j


def test_quant_cli_on_a_model_with_lrn(capsys: pytest.CaptureFixture[str]) -> None:
    # Inception v1 has LRN, which used to stop --quant with "LRN is not supported by the float executor"
    path = _path("inception_v1")
    # (--no-accuracy: the int8 test above already runs the quantized graphs; this checks the command's path)
    assert main(["run", str(path), "--hw", "ethos-u55-256", "--quant", "int8", "--fast", "--no-accuracy"]) == 0
    assert "total: latency" in capsys.readouterr().out


def test_quant_cli_on_a_causal_attention_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a causal mask adds -inf to the attention scores: calibration must range the finite values only
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)

    def w(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)

    nodes = [helper.make_node("MatMul", ["x", f"w{c}"], [c]) for c in "qkv"]
    nodes += [helper.make_node("Attention", ["q", "k", "v"], ["a"], q_num_heads=4, kv_num_heads=2, is_causal=1),
              helper.make_node("RMSNormalization", ["a", "g"], ["r"]),
              helper.make_node("Einsum", ["r", "we"], ["y"], equation="bsd,de->bse")]
    inits = [w("wq", (32, 32)), w("wk", (32, 16)), w("wv", (32, 16)), w("g", (32,)), w("we", (32, 8))]
    g = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 32])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "block.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)]), str(path))
    assert main(["run", str(path), "--hw", "ethos-u55-256", "--quant", "int8", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "total: latency" in out and "SQNR" in out
