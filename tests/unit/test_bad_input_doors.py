"""Bad and implausible input, third pass (audit13): every door (run, compare, sweep, sustain, report, validate,
calibrate, optimize, infer, profile, the API) with corrupt, empty and implausible input. Each case was a traceback,
an exit 3, a silently unused flag or a silent answer before; one 'error: ...' line naming the flag, field or file,
exit 2, no output left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgesim.errors import EdgesimError
from tests.conftest import refused_by_cli, run_cli

_cli = run_cli


_refused = refused_by_cli


@pytest.fixture(scope="module")
def resnet8():  # type: ignore[no-untyped-def]
    from edgesim.frontends.loader import load_model

    return load_model("resnet8")


@pytest.mark.parametrize("content, words", [
    (b"", ["the file is empty"]),  # was exit 3 (EOFError from numpy)
    (None, ["holds no values", "at least one input"]),  # an empty array: quantized on nothing, without a word
])
def test_calibration_data_must_hold_a_sample(content: bytes | None, words: list[str], resnet8, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from edgesim.passes.quantize import load_calibration

    path = tmp_path / "c.npy"
    if content is None:
        np.save(path, np.zeros((0,), np.float32))
    else:
        path.write_bytes(content)
    with pytest.raises(EdgesimError) as exc:
        load_calibration(path, resnet8)
    assert exc.value.field == "calib" and all(w in str(exc.value) for w in words)
    _refused(["optimize", "resnet8", "--quant", "int8", "--calib", str(path), "-o", str(tmp_path / "o.onnx")],
             capsys, *words)
    assert not (tmp_path / "o.onnx").exists()


def _measurements(tmp_path: Path, *rows: str) -> Path:
    from edgesim.validate.core import default_reference

    path = tmp_path / "m.csv"
    path.write_text("\n".join([default_reference().read_text(encoding="utf-8").splitlines()[0], *rows]) + "\n")
    return path


@pytest.mark.parametrize("hw, runtime, field, words", [
    # the rows measure X-CUBE-AI: fitting tflm to them (with 'version 7.3.0 is not modelled' notices) was exit 0
    ("stm32l4r5", "tflm", "runtime", ["with tflm, found 0", "rows of stm32l4r5 with x-cube-ai"]),
    # the rows are another board's: 'calibrated' as the RPi 5's (or refused for their clock after a notice)
    ("rpi5", "x-cube-ai", "device", ["of rpi5 with x-cube-ai, found 0", "rows of stm32l4r5 with x-cube-ai"]),
    ("stm32l4r5", "nosuch", None, ["unknown runtime 'nosuch'"]),
])
def test_calibrate_refuses_rows_of_another_chip_or_engine(hw: str, runtime: str, field: str | None,
                                                          words: list[str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.validate.calibrate import calibrate

    path = _measurements(tmp_path, "stm32l4r5,x-cube-ai,7.3.0,120,kws,kws_ref_model.tflite,75.06,",
                         "stm32l4r5,x-cube-ai,7.3.0,120,vww,vww_96_int8.tflite,230.47,")
    with pytest.raises(EdgesimError) as exc:
        calibrate(path, hw, runtime)
    assert exc.value.field == field and all(w in str(exc.value) for w in words)
    _refused(["calibrate", str(path), "--hw", hw, "--runtime", runtime], capsys, *words)  # no notice line first


def test_calibrate_names_the_measurements_file_of_a_bad_row(tmp_path: Path) -> None:
    from edgesim.validate.calibrate import calibrate

    path = _measurements(tmp_path, "stm32l4r5,x-cube-ai,7.3.0,120,kws,kws_ref_model.tflite,75.06,",
                         "stm32l4r5,x-cube-ai,7.3.0,120,kws,nosuch.tflite,75.06,")
    with pytest.raises(EdgesimError, match="model file 'nosuch.tflite' does not exist") as exc:
        calibrate(path, "stm32l4r5", "x-cube-ai@7.3.0")
    assert exc.value.file == str(path)


def test_a_sweep_spec_takes_a_bundled_model_by_file_name_as_run_does(tmp_path: Path) -> None:
    from edgesim.explore.sweep_spec import load_sweep_spec
    from edgesim.files import data_path

    spec = tmp_path / "s.yaml"
    spec.write_text("profiles: [stm32l4r5]\nmodels: [kws_ref_model.tflite]\n")
    (point,) = load_sweep_spec(spec).points  # was: "model file 'kws_ref_model.tflite' does not exist"
    assert Path(point.model_ref) == data_path("models", "kws_ref_model.tflite").resolve()
    (tmp_path / "kws_ref_model.tflite").write_bytes(b"")  # a file of that name beside the spec comes first
    (point,) = load_sweep_spec(spec).points
    assert Path(point.model_ref) == (tmp_path / "kws_ref_model.tflite").resolve()
    spec.write_text("profiles: [stm32l4r5]\nmodels: [nosuch.tflite]\n")
    with pytest.raises(EdgesimError, match="model file 'nosuch.tflite' does not exist"):
        load_sweep_spec(spec)


@pytest.mark.parametrize("confidence", ["0.8", None, True])
def test_api_interval_refuses_a_confidence_that_is_not_a_number(confidence: object) -> None:
    import edgesim

    with pytest.raises(EdgesimError) as exc:  # "0.8" was a TypeError from the comparison
        edgesim.interval("resnet8", "stm32l4r5", confidence=confidence)  # type: ignore[arg-type]
    assert exc.value.field == "confidence"


@pytest.mark.parametrize("argv, words", [
    (["--lobo", "--lodo"], ["field 'lodo'", "--lobo and --lodo are different runs"]),  # --lobo was dropped
    (["--coverage", "--json", "{tmp}/v.json"], ["field 'json'", "--coverage prints coverage tables only"]),
    (["--calibrate-intervals", "--lobo"], ["--lobo and --calibrate-intervals"]),
    (["--reference", "{vendor}", "--lodo"], ["field 'lodo'", "is a vendor NPU table"]),
])
def test_validate_refuses_flags_it_would_drop(argv: list[str], words: list[str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.files import data_path

    vendor = str(data_path("reference", "npu_vendor.csv"))
    _refused(["validate", *[a.replace("{tmp}", str(tmp_path)).replace("{vendor}", vendor) for a in argv]], capsys,
             *words)
    assert list(tmp_path.iterdir()) == []


def test_quantizing_a_quantized_model_says_it_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --quant fp16 on an int8 .tflite was answered with the int8 model's figures without a word
    code, out, err = _cli(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--fast", "--quant", "fp16"], capsys)
    assert code == 0 and "total: latency" in out
    assert "kws_ref_model is already quantized (int8); --quant fp16 applies to float models" in err
    code, _, err = _cli(["optimize", "vww_96_int8.tflite", "--quant", "w4a8", "-o", str(tmp_path / "o.onnx")], capsys)
    assert code == 0 and "vww_96_int8 is already quantized (int8); --quant w4a8" in err
    code, _, err = _cli(["run", "ad01_int8.tflite", "--hw", "stm32l4r5", "--fast", "--quant", "int8"], capsys)
    assert code == 0 and "already quantized" not in err  # int8 of an int8 model: what it gets
    # a refused runtime stays one line (the notice waits for the runtime to be accepted)
    _refused(["run", "str_ww_ref_model.tflite", "--hw", "stm32l4r5", "--fast", "--quant", "fp16", "--runtime",
              "vela"], capsys, "runtime vela")


def test_report_compare_bars_do_not_inherit_the_main_chips_threads(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    # --threads 4 is the RPi 5's; the what-if bar on a 1-core MCU refused the whole report
    code, _, err = _cli(["report", "resnet8", "--hw", "rpi5", "--threads", "4", "--fast", "--compare", "stm32l4r5",
                         "-o", str(out)], capsys)
    assert code == 0 and out.is_file(), err
    _refused(["report", "resnet8", "--hw", "rpi5", "--fast", "--compare", "stm32l4r5", "stm32l4r5", "-o",
              str(tmp_path / "twice.html")], capsys, "field 'compare'", "--compare stm32l4r5 is listed twice")
    assert not (tmp_path / "twice.html").exists()


@pytest.mark.parametrize("argv", [
    ["run", "resnet8", "--hw", "stm32l4r5", "--fast", "--json", ""],  # an unset shell variable: no output, exit 0
    ["run", "resnet8", "--hw", "stm32l4r5", "--fast", "--plot", " "],
    ["compare", "resnet8", "--hw", "stm32l4r5", "--csv", ""],
])
def test_an_empty_output_path_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _refused(argv, capsys, "is empty; give a file name")


def test_validate_coverage_names_the_reference_line_it_cannot_predict(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _measurements(tmp_path, "nosuchdev,x-cube-ai,7.3.0,120,kws,kws_ref_model.tflite,75.06,2000")
    # was "unknown hardware profile 'nosuchdev'" alone: no file, no line
    _refused(["validate", "--coverage", "--reference", str(path)], capsys, str(path), "line 2: unknown hardware "
             "profile 'nosuchdev'")


def test_infer_runs_what_optimize_quantizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q.onnx"
    assert _cli(["optimize", "resnet8", "--quant", "int8", "-o", str(out)], capsys)[0] == 0
    # QDQ puts the quantize after the ReLU: the executor refused the conv's float output ("not quantized")
    code, stdout, err = _cli(["infer", str(out), "--output", str(tmp_path / "y.npy")], capsys)
    assert code == 0 and "shape (1, 10) int8" in stdout, err
    assert np.load(tmp_path / "y.npy").shape == (1, 10)


def test_runspec_takes_engine_names_and_refuses_unknown_ones() -> None:
    from edgesim.pipeline import Engine, RunSpec, TransformOptions

    # engine="fast" ran the event engine without a word; engine="event" with frames was refused as analytic
    with pytest.raises(EdgesimError, match="unknown engine 'fast'") as exc:
        RunSpec("resnet8", "stm32l4r5", engine="fast")  # type: ignore[arg-type]
    assert exc.value.field == "engine"
    assert RunSpec("resnet8", "stm32l4r5", engine="event", frames=2).engine is Engine.EVENT  # type: ignore[arg-type]
    with pytest.raises(EdgesimError) as exc:
        RunSpec("resnet8", "stm32l4r5", transform=None)  # type: ignore[arg-type]
    assert exc.value.field == "transform"
    assert TransformOptions(prune=0.5).prune == "0.5"  # type: ignore[arg-type]  # was an AttributeError in the pass
    with pytest.raises(EdgesimError) as exc:
        TransformOptions(prune=[0.5])  # type: ignore[arg-type]
    assert exc.value.field == "prune"


@pytest.mark.parametrize("latency, energy, field", [
    ("nan", "", "latency_ms"),  # 'nan' and 'inf' parse as floats: were scored as errors of nan
    ("inf", "", "latency_ms"),
    ("75.06", "-5", "energy_uj"),  # was read as 'not measured' without a word
])
def test_a_reference_number_must_be_positive_and_finite(latency: str, energy: str, field: str,
                                                        tmp_path: Path) -> None:
    from edgesim.validate.core import read_reference

    path = _measurements(tmp_path, f"stm32l4r5,x-cube-ai,7.3.0,120,kws,kws_ref_model.tflite,{latency},{energy}")
    with pytest.raises(EdgesimError, match="line 2") as exc:
        read_reference(path)
    assert exc.value.field == field


def test_a_reference_exported_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    from edgesim.validate.core import read_reference

    path = _measurements(tmp_path, "stm32l4r5,x-cube-ai,7.3.0,120,kws,kws_ref_model.tflite,75.06,")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a spreadsheet's UTF-8 CSV: "lacks columns ['device']"
    (row,) = read_reference(path)
    assert row.device == "stm32l4r5" and row.latency_ms == 75.06


def test_pruning_no_unit_exploits_is_said_not_answered_silently() -> None:
    from edgesim.pipeline import RunSpec, TransformOptions, run

    def warned(hw: str, prune: str) -> list[str]:
        res = run(RunSpec("resnet8", hw, transform=TransformOptions(quant="int8", prune=prune, accuracy=False)))  # type: ignore[arg-type]
        return [w for w in res.warnings() if w.startswith(f"--prune {prune} buys no speed")]

    # 50% magnitude pruning on an MCU answered exactly the unpruned latency and energy, without a word
    (line,) = warned("stm32l4r5", "0.5")
    assert "(cpu) skip no zeros" in line and "sparsity support: none" in line
    assert warned("jetson-orin-nano", "3:4") and not warned("jetson-orin-nano", "2:4")  # Ampere skips 2:4 only
    assert not warned("stm32l4r5", "channels:0.3")  # removes the work itself


def test_a_runtime_spec_with_two_versions_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # 'tflm@2.11.0@3' was "version 2.11.0@3 is not modelled; using nearest 2.11.0" and an answer
    _refused(["run", "resnet8", "--hw", "stm32l4r5", "--fast", "--runtime", "tflm@2.11.0@3"], capsys,
             "field 'runtime'", "names more than one version")


@pytest.mark.parametrize("runtime", ["opencv-dnn-cuda", "opencv-dnn-cuda-fp16"])
def test_a_cuda_runtime_off_an_nvidia_chip_is_refused(runtime: str) -> None:
    from edgesim.pipeline import RunSpec, run

    # was answered on an STM32's CPU (249 ms) and on an Ethos-U55's MAC array, as if cuDNN ran there
    for hw in ("stm32l4r5", "ethos-u55-128"):
        with pytest.raises(EdgesimError, match=f"device {hw}, runtime {runtime}: the runtime targets only jetson") \
                as exc:
            run(RunSpec("resnet8", hw, runtime))
        assert exc.value.field == "runtime"
    assert run(RunSpec("resnet8", "jetson-orin-nano", runtime)).latency_s > 0


def test_a_sweep_does_not_resume_into_another_sweeps_results(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "r.parquet"
    first = tmp_path / "a.yaml"
    first.write_text("name: a\nprofiles: [stm32l4r5]\naxes: {clock_mhz: [80.0]}\nmodels: [kws_ref_model.tflite]\n")
    argv = ["-o", str(out), "--workers", "0", "--no-progress", "--no-plot"]
    assert _cli(["sweep", str(first), *argv], capsys)[0] == 0
    other = tmp_path / "b.yaml"
    other.write_text("name: b\nprofiles: [stm32l4r5]\nmodels: [kws_ref_model.tflite]\n")
    # was exit 0 replacing sweep a's rows with b's; with other axes an exit 3 (KeyError)
    _refused(["sweep", str(other), *argv], capsys, "field 'output'", "holds the results of another sweep ('a'")
    assert pq.read_table(out).column("model").to_pylist() == ["kws_ref_model"] and "axis.clock_mhz" in \
        pq.read_schema(out).names
    assert _cli(["sweep", str(first), *argv], capsys)[0] == 0  # its own sweep resumes
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")  # was exit 3 (ArrowInvalid)
    _refused(["sweep", str(first), "-o", str(junk), "--workers", "0", "--no-progress", "--no-plot"], capsys,
             "exists and is not a sweep's parquet file")


def test_the_api_names_the_field_of_a_wrong_type(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import edgesim
    from edgesim import api

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", [x], [y], [w]),
                                opset_imports=[helper.make_opsetid("", 13)]), str(path))
    for call, field in [
        (lambda: api.load_model(path, input_shape="1x3x8x8"), "input_shape"),  # was 'rank 7' (its characters)
        (lambda: api.load_model(path, input_shape=(1, 3, 8.5, 8)), "input_shape"),
        (lambda: api.load_profile("stm32l4r5", clock_mhz="80"), "clock_mhz"),  # was a TypeError
        (lambda: api.bind(api.load_profile("rpi5"), None, "2"), "threads"),  # was a TypeError
        (lambda: edgesim.sensitivity(None), "result"),  # was an AttributeError
        # the result's own chip answers: a profile given beside it went unused
        (lambda: edgesim.interval(edgesim.run(api.RunSpec("resnet8", "stm32l4r5")), "rpi5"), "profile"),
    ]:
        with pytest.raises(EdgesimError) as exc:
            call()  # type: ignore[no-untyped-call]
        assert exc.value.field == field, exc.value
    assert api.load_model(path, input_shape=np.array([1, 3, 8, 8])).tensors["x"].shape == (1, 3, 8, 8)


@pytest.mark.parametrize("argv", [["run", "llama-3.2-1b", "--hw", "rpi5"],
                                  ["compare", "llama-3.2-1b", "--hw", "rpi5"],
                                  ["report", "qwen2.5-0.5b", "--hw", "rpi5", "-o", "x.html"]])
def test_a_language_model_at_a_cnn_door_is_sent_to_llm(argv: list[str], capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _refused(argv, capsys, "is a language model", "edgesim llm")
    assert not (tmp_path / "x.html").exists()


def test_a_gguf_file_at_run_is_sent_to_llm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    _refused(["run", str(f), "--hw", "rpi5"], capsys, "is a language model")


@pytest.mark.parametrize(("hw", "runtime", "words"), [
    ("stm32l4r5", "tflite-xnnpack", "runs on soc chips, this one is mcu"),  # XNNPACK needs an OS host
    ("esp32-s3", "openvino-cpu", "runs on soc chips"),
    ("rpi5", "microtvm", "runs on mcu chips, this one is soc"),  # bare-metal C for microcontrollers
    ("hailo-8", "tflm", "this one is npu"),  # a card's stand-in host runs no TFLM
])
def test_a_runtime_on_a_kind_of_chip_it_does_not_run_on_is_refused(hw: str, runtime: str, words: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["run", "resnet8", "--hw", hw, "--runtime", runtime], capsys, words, hw, runtime)


def test_the_shipped_defaults_and_measured_pairs_pass_the_chip_kind_check() -> None:
    from edgesim.api import load_profile
    from edgesim.hw.loader import load_runtime
    from edgesim.hw.targeting import runtime_fit_problem

    for hw, runtime in [("imx8mp", "tflite-xnnpack"), ("rpi4", "leip"), ("stm32l4r5", "microtvm"),
                        ("psoc62", "plumerai"), ("stm32l4r5", "onnc"), ("stm32g0b1", "bosch-hal"),
                        ("rpi5", "opencv-dnn"), ("core-ultra-9-288v", "openvino-cpu"), ("efr32mg24", "tflm")]:
        rt, version = load_runtime(runtime)
        assert runtime_fit_problem(load_profile(hw), rt, version) is None, (hw, runtime)
