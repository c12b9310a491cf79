"""A float model on a runtime whose compiler converts float models itself (``RuntimeProfile.float_models_as``).

RKNN never runs a float model on the CPU: ``rknn.build(do_quantization=False)`` compiles it to fp16 for the NPU, so
``edgesim run yolov8n --hw rk3576 --runtime rknn`` used to answer 350 ms for a deployment that does not exist
(every MAC on the CPU, "fix: --quant int8"). Runtimes whose float ops really do stay on the CPU (TFLite with the
Ethos-U delegate: Vela compiles int8 only) keep the fallback and its warning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import edgesim
from edgesim.errors import ProfileError
from edgesim.explore.compare import compare
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import RuntimeProfile
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunSpec, TransformOptions, run, stages
from tests.conftest import run_cli

RUNTIMES = Path(edgesim.__file__).parent.parent / "hw_profiles" / "runtimes"
MODEL, SHAPE = "mobilenet_v2", "1x3x224x224"


@pytest.fixture(autouse=True)
def _fresh_notices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stages, "_FLOAT_NOTED", set())


def test_rknn_runs_a_float_model_as_fp16_on_the_npu(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, stdout, stderr = run_cli(["run", MODEL, "--hw", "rk3576", "--runtime", "rknn@2.3.2", "--input-shape",
                                    SHAPE, "--fast", "--json", str(out)], capsys)
    assert code == 0, stderr
    import json

    report = json.loads(out.read_text())
    mac_layers = [x for x in report["layers"] if x["macs"]]
    assert {x["unit"] for x in mac_layers} == {"npu"} and {x["precision"] for x in mac_layers} == {"fp16"}
    assert "fall back" not in stdout and "fallback" not in report and not report["warnings"]
    assert report["runtime_conversion"] == {"runtime": "rknn", "precision": "fp16"}
    assert "float model converted to fp16 by runtime rknn's compiler" in stdout
    notices = [line for line in stderr.splitlines() if "compiles float models" in line]
    assert notices == ["edgesim: runtime rknn compiles float models to fp16 (rknn-toolkit2 "
                       "rknn.build(do_quantization=False)), so the model runs as --quant fp16 would; --quant int8 "
                       "for an int8 model"]
    # the same run again in this process: no second notice
    assert run_cli(["run", MODEL, "--hw", "rk3576", "--runtime", "rknn@2.3.2", "--input-shape", SHAPE, "--fast"],
                   capsys)[2].count("compiles float models") == 0


def test_the_conversion_is_what_quant_fp16_gives_and_the_spec_records_it() -> None:
    converted = run(RunSpec(MODEL, "rk3576", "rknn@2.3.2"))
    explicit = run(RunSpec(MODEL, "rk3576", "rknn@2.3.2", transform=TransformOptions(quant=QuantPreset.FP16)))
    assert converted.latency_s == explicit.latency_s and converted.energy_j == explicit.energy_j
    assert converted.fallback is None
    t = converted.spec.transform
    assert (t.quant, t.quant_by_runtime) == (QuantPreset.FP16, "rknn")
    assert explicit.spec.transform.quant_by_runtime is None and explicit.transform.runtime_conversion is None
    # the recorded spec asks the same question again (run_on, sensitivity and reruns start from it)
    assert run(converted.spec).latency_s == converted.latency_s


def test_explicit_int8_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(RunSpec(MODEL, "rk3576", "rknn@2.3.2", transform=TransformOptions(quant=QuantPreset.INT8)))
    assert result.spec.transform.quant_by_runtime is None and result.transform.runtime_conversion is None
    assert {p.precision for p in result.schedule.plans if p.macs} == {"int8"}
    assert "compiles float models" not in capsys.readouterr().err


def test_ethos_u_float_model_stays_on_the_cpu_with_the_warning(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(RunSpec("ds_cnn", "imx93", "tflite-ethosu"))
    assert result.spec.transform.quant is None and result.transform.runtime_conversion is None
    assert result.fallback is not None and result.fallback.unit == "cpu" and result.fallback.fix == "--quant int8"
    assert "compiles float models" not in capsys.readouterr().err


def test_run_compare_and_api_give_the_same_number_for_the_converted_model(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "r.json"
    assert run_cli(["run", MODEL, "--hw", "rk3576", "--fast", "--json", str(out)], capsys)[0] == 0
    ran = json.loads(out.read_text())
    api = edgesim.estimate(MODEL, "rk3576")
    (row,) = compare([MODEL], ["rk3576"], confidence=None)
    assert (api.latency_s, api.energy_j) == (ran["latency_s"], ran["energy_j"])
    assert (row.latency_s, row.energy_j) == (ran["latency_s"], ran["energy_j"])
    assert "fall back" not in row.warnings
    # and it is the converted (fp16) answer, not the old CPU fallback
    assert api.latency_s == edgesim.estimate(MODEL, "rk3576", quant="fp16").latency_s


def _runtime_yaml(tmp_path: Path, **changes: object) -> Path:
    doc = yaml.safe_load((RUNTIMES / "rknn.yaml").read_text())
    doc.update(changes)
    path = tmp_path / "rt.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("value, words", [
    ({"precision": "fp8", "source": "x"}, "precision"),  # not a precision at all
    ({"precision": "int16", "source": "x"}, "fp16, int8 only"),  # no toolchain converts float models to it
    ({"precision": "fp16"}, "source"),  # no source
    ("fp16", "FloatConversion"),  # not the record
])
def test_an_invalid_float_models_as_is_refused(tmp_path: Path, value: object, words: str) -> None:
    doc = yaml.safe_load(_runtime_yaml(tmp_path, float_models_as=value).read_text())
    with pytest.raises(ValueError) as err:
        RuntimeProfile.model_validate(doc)
    assert "float_models_as" in str(err.value) and words in str(err.value)


def test_a_conversion_to_a_precision_the_runtime_does_not_deploy_is_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load(_runtime_yaml(tmp_path, precisions=["int8", "int16"]).read_text())
    with pytest.raises(ValueError, match="not one of the runtime's precisions"):
        RuntimeProfile.model_validate(doc)


def test_only_runtimes_with_a_source_convert() -> None:
    # the toolchains that compile float models themselves (their YAML cites where): to fp16 where the accelerator
    # runs floats at fp16, to int8 where the toolchain always quantizes (Hailo's DFC optimize(), ESP-PPQ, nncase's
    # PTQ, ai8x-synthesis). The rest keep float ops float or on the CPU: Vela and the Edge TPU compiler leave float
    # ops to the CPU, TensorRT builds fp32/TF32 unless --fp16, OpenVINO CPU runs fp32.
    converting = {"rknn": "fp16", "openvino-npu": "fp16", "openvino-myriad": "fp16", "openvino-gpu": "fp16",
                  "qnn": "fp16", "hailort": "int8", "esp-dl": "int8", "nncase": "int8", "ai8x": "int8"}
    for path in RUNTIMES.glob("*.yaml"):
        rt, _ = load_runtime(path.stem, note_missing_version=False)
        conversion = rt.float_models_as
        assert (conversion.precision.value if conversion else None) == converting.get(path.stem), path.stem
        if conversion is not None:
            assert "float_models_as" in path.read_text()


def test_a_bad_float_models_as_in_a_runtime_file_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from edgesim.hw import loader

    folder = tmp_path / "runtimes"
    shutil.copytree(RUNTIMES, folder)
    text = (folder / "rknn.yaml").read_text().replace("float_models_as: {precision: fp16,",
                                                      "float_models_as: {precision: int16,")
    (folder / "rknn.yaml").write_text(text)
    monkeypatch.setattr(loader, "runtimes_dir", lambda: folder)
    code, _, stderr = run_cli(["run", MODEL, "--hw", "rk3576", "--runtime", "rknn@2.3.2", "--fast"], capsys)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert "rknn.yaml" in lines[0] and "float_models_as" in lines[0]


@pytest.mark.parametrize("hw, runtime, precision", [
    ("hailo-8l", "hailort@4.23", "int8"),   # the DFC quantizes every model; no float layer runs anywhere
    ("k230", "nncase@2.9", "int8"),         # the K230 flow quantizes with nncase's PTQ (uint8)
    ("qcs8550", "qnn", "fp16"),             # the HTP runs a float graph at fp16
])
def test_a_float_model_runs_as_the_toolchain_builds_it(hw: str, runtime: str, precision: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # these answered a whole-model CPU fallback (hailo-8l 40+ ms for MobileNet-V2) for a deployment that does not
    # exist; the answer is now what --quant <precision> gives, with the one notice
    converted = run(RunSpec(MODEL, hw, runtime))
    explicit = run(RunSpec(MODEL, hw, runtime, transform=TransformOptions(quant=QuantPreset(precision))))
    assert converted.latency_s == explicit.latency_s and converted.fallback is None
    assert {p.unit for p in converted.schedule.plans if p.macs} == {"npu"}
    assert {p.precision for p in converted.schedule.plans if p.macs} == {precision}
    assert f"compiles float models to {precision}" in capsys.readouterr().err


def test_the_v68_htp_has_no_fp16_so_a_float_model_is_refused_naming_the_fix() -> None:
    # QCS6490's Hexagon v68 HTP is int8-only (AI Hub lists no float jobs for it): a precision the unit lacks is
    # refused at every door, as validate refuses such a row (run answered it as a CPU fallback)
    with pytest.raises(ProfileError, match=r"device qcs6490, runtime qnn: unit npu has no fp16 .*--quant int8"):
        run(RunSpec(MODEL, "qcs6490", "qnn"))
    with pytest.raises(ProfileError, match="unit npu has no fp16"):
        run(RunSpec(MODEL, "qcs6490", "qnn", transform=TransformOptions(quant=QuantPreset.FP16)))
    assert run(RunSpec(MODEL, "qcs6490", "qnn", transform=TransformOptions(quant=QuantPreset.INT8))).fallback is None


def test_validate_reads_a_float_row_as_the_runtime_profile_converts_it() -> None:
    # one record (float_models_as) for run and validate: the validator kept its own list before
    from edgesim.validate.npu_vendor import deploy_precision

    assert deploy_precision('float (AI Hub "float" precision)', "qnn") == "fp16"
    assert deploy_precision("FP32", "hailort") == "int8"
    assert deploy_precision("FP32", "openvino-cpu") == "fp32"
    assert deploy_precision("FP32", "synap") == "fp32"  # no source says SyNAP converts float models itself
