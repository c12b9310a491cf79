"""Bad and implausible input a new user meets (audit of every command): one 'error: ...' line naming the flag,
field or file, exit 2, no output file left behind; never a traceback, an exit 3, or a silent answer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edgesim.errors import EdgesimError
from tests.conftest import refused_by_cli, run_cli

_cli = run_cli


_refused = refused_by_cli


# -- output paths: checked before the work, whatever the command ------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["run", "resnet8", "--hw", "stm32l4r5", "--fast", "--json", "{tmp}/same.json", "--plot", "{tmp}/p.png",
      "--trace", "{tmp}/same.json"], ["--json and --trace", "same.json"]),
    (["profile", "new", "--like", "cortex-m55", "-o", "{tmp}"], ["-o", "is a directory", ".yaml"]),
    (["profile", "new", "--like", "cortex-m55", "-o", "{tmp}/chip.txt"], ["-o", ".yaml or .yml"]),
    (["llm", "qwen2.5-0.5b", "--hw", "rpi5", "--context-plot", "{tmp}/c.txt"], ["--context-plot", ".png"]),
    (["llm", "qwen2.5-0.5b", "--hw", "rpi5", "--html", "{tmp}"], ["--html", "is a directory"]),
    (["llm", "qwen2.5-0.5b", "--hw", "rpi5", "--json", "{tmp}/no/x.json"], ["--json", "does not exist"]),
])
def test_every_commands_output_paths_are_checked_first(argv: list[str], words: list[str], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _refused([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys, *words)
    assert not (tmp_path / "same.json").exists() and not (tmp_path / "chip.txt").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a /proc file system")
def test_a_folder_that_refuses_files_is_found_before_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    # os.access says /proc is writable to root; creating a file there fails (it was exit 3 after the report)
    _refused(["run", "resnet8", "--hw", "stm32l4r5", "--fast", "--json", "/proc/x.json"], capsys,
             "--json", "not writable")


def test_atomic_write_refuses_a_directory_and_an_unwritable_place_in_one_line(tmp_path: Path) -> None:
    from edgesim.files import atomic_write_text

    with pytest.raises(EdgesimError, match="is a directory"):
        atomic_write_text(tmp_path, "x")
    if Path("/proc/self").is_dir():
        with pytest.raises(EdgesimError, match="cannot write '/proc/x.json'"):
            atomic_write_text("/proc/x.json", "x")


# -- run: flags that were silently ignored or answered ---------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--fast", "--trace", "{tmp}/t.json"], ["--trace needs the event engine"]),
    (["--fast", "--plot-kind", "energy"], ["--plot-kind energy needs --plot"]),
    (["--fast", "--plot", "{tmp}/p.png", "--plot-kind", "timeline", "--json", "{tmp}/r.json"],
     ["timeline plot needs the event engine"]),
    (["--fast", "--threads", "4"], ["threads", "4 threads on 'stm32l4r5', which has 1 CPU core"]),
    (["--fast", "--input-shape", ""], ["--input-shape ''"]),
    (["--fast", "--input-shape", "1xx3x32x32"], ["--input-shape '1xx3x32x32'"]),
    (["--frames", "1000000000"], ["frames", "<= 10000"]),
    (["--fast", "--overclock"], ["--overclock needs --clock-mhz"]),
])
def test_run_refuses_what_it_used_to_ignore(argv: list[str], words: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["run", "resnet8", "--hw", "stm32l4r5", *[a.replace("{tmp}", str(tmp_path)) for a in argv]], capsys,
             *words)
    assert list(tmp_path.iterdir()) == []  # no trace, plot or JSON written


def test_threads_above_the_cores_are_refused_through_the_driver() -> None:
    from edgesim.pipeline import RunSpec, run

    with pytest.raises(EdgesimError, match="999 threads on 'rpi5', which has 4 CPU cores") as exc:
        run(RunSpec("resnet8", "rpi5", threads=999))
    assert exc.value.field == "threads"
    # big.LITTLE: every core counts (RK3588 4 + 4)
    assert run(RunSpec("resnet8", "rk3588", threads=8)).estimate.latency_s > 0


def test_a_refused_runtime_prints_only_its_error_not_a_version_notice_first(
        capsys: pytest.CaptureFixture[str]) -> None:
    # hailort has three releases: its "no version given" notice used to precede the refusal (two lines)
    _refused(["run", "resnet8", "--hw", "stm32l4r5", "--runtime", "hailort", "--fast"], capsys,
             "device stm32l4r5, runtime hailort")
    code, _, err = _cli(["run", "resnet8", "--hw", "stm32l4r5", "--runtime", "tflm@99.0", "--fast"], capsys)
    assert code == 0 and "version 99.0 is not modelled" in err  # an accepted runtime still says so


# -- model transformations -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resnet8():  # type: ignore[no-untyped-def]
    from edgesim.frontends.loader import load_model

    return load_model("resnet8")


@pytest.mark.parametrize("data, words", [
    (np.full((2, 3, 32, 32), np.nan, np.float32), ["6144 NaN/inf values"]),
    (np.array([["a", "b"]]), ["<U1 values", "numeric"]),
])
def test_calibration_data_must_be_finite_numbers(data: np.ndarray, words: list[str], resnet8, tmp_path: Path
                                                 ) -> None:  # type: ignore[no-untyped-def]
    from edgesim.passes.quantize import load_calibration

    path = tmp_path / "c.npy"
    np.save(path, data)
    with pytest.raises(EdgesimError) as exc:
        load_calibration(path, resnet8)
    assert exc.value.field == "calib" and all(w in str(exc.value) for w in words)
    npz = tmp_path / "c.npz"
    np.savez(npz, x=np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(EdgesimError, match="an .npz archive"):
        load_calibration(npz, resnet8)


def test_an_empty_quantization_spec_is_refused(tmp_path: Path) -> None:
    from edgesim.passes.quantize import load_quant_spec

    (tmp_path / "q.yaml").write_text("")
    with pytest.raises(EdgesimError, match="the spec is empty"):
        load_quant_spec(tmp_path / "q.yaml")
    (tmp_path / "d.yaml").write_text("{}\n")
    load_quant_spec(tmp_path / "d.yaml")  # every default, said explicitly


# -- sustain ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--battery-mah", "0"], ["--battery-mah", "must be > 0"]),
    (["--battery-v", "-3.7"], ["--battery-v", "must be > 0"]),
    (["--battery-wh", "nan"], ["--battery-wh", "finite"]),
    (["--rate", "1", "--battery-wh", "1", "--battery-mah", "1000"], ["not allowed with argument --battery-wh"]),
    (["--burst-on", "-1"], ["--burst-on"]),
    (["--background-w", "-1"], ["--background-w"]),
    (["--battery-mah", "1000"], ["battery life needs --rate"]),  # before the run, not after its summary
    (["--ambient", "500"], ["--ambient 500 C", "-55..150 C"]),
    # flags nothing read: a 10 s thermal step in a 5 s run, a voltage without mAh, big.LITTLE knobs without --policy
    (["--window", "10"], ["field 'window'", "--window 10 s is longer than --duration 5 s"]),
    (["--battery-v", "3"], ["field 'battery_v'", "without --battery-mah"]),
    (["--burst-on", "1"], ["field 'burst_on'", "--burst-on applies only to --policy burst"]),
    (["--background-w", "1"], ["field 'background_w'", "--background-w applies only to --policy"]),
])
def test_sustain_refuses_impossible_conditions(argv: list[str], words: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["sustain", "resnet8", "--hw", "stm32l4r5", "--duration", "5", *argv], capsys, *words)


# -- validate ------------------------------------------------------------------------------------------------------
def test_validate_refuses_a_reference_with_nothing_to_score(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.validate.core import default_reference, validate

    header = default_reference().read_text(encoding="utf-8").splitlines()[0]
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x08\x00\xa4\xff" * 10)
    with pytest.raises(EdgesimError, match="not a UTF-8 CSV file"):
        validate(binary)
    empty = tmp_path / "h.csv"
    empty.write_text(header + "\n")
    with pytest.raises(EdgesimError, match="header but no measurement rows"):
        validate(empty)
    unknown = tmp_path / "u.csv"
    unknown.write_text(header + "\nnosuchdev,tflm,2.11.0,80,kws,kws_ref_model.tflite,10,,,,,,\n")
    with pytest.raises(EdgesimError, match="none of its 1 rows could be predicted"):
        validate(unknown)
    capsys.readouterr()
    # the CLI: the refusal alone, no "line 2 skipped" notice before it
    _refused(["validate", "--reference", str(unknown)], capsys, "none of its 1 rows")


# -- sweep spec ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, field, words", [
    ({"models": ["resnet9"]}, "models", ["unknown model 'resnet9'", "did you mean 'resnet8'"]),
    ({"models": [{"zoo": "mobilenet_v1", "choices": {"alphaa": 0.5}}]}, "models.alphaa", ["no option 'alphaa'"]),
    ({"runtime": "nosuch"}, "runtime", ["unknown runtime 'nosuch'"]),
    ({"axes": {"clock_mhz": [80, 80.0]}}, "axes", ["axis 'clock_mhz' repeats a value"]),  # was 2 points
])
def test_a_sweep_spec_typo_fails_before_the_first_point(extra: dict[str, object], field: str, words: list[str]
                                                        ) -> None:
    from edgesim.explore.sweep_spec import spec_from_dict

    data: dict[str, object] = {"profiles": ["stm32l4r5"], "axes": {"clock_mhz": [80.0]}, "models": ["resnet8"]}
    with pytest.raises(EdgesimError) as exc:
        spec_from_dict({**data, **extra})
    assert exc.value.field == field and all(w in str(exc.value) for w in words)


# -- profile new / check ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, field, words", [
    ({"family": "cortex-m4", "dram_gbps": 100.0}, "dram_gbps", ["has no dram memory"]),
    ({"family": "cortex-a76", "flash_kb": 100.0}, "flash_kb", ["has no flash memory"]),
    ({"family": "cortex-m55", "clock_mhz": 1e9}, "clock_mhz", ["more than 5x the 500 MHz"]),
    ({"family": "ethos-u55", "npu_macs": 7.0}, "npu_macs", ["0.0547x the template's 128"]),
    ({"family": "cortex-m55", "id": "bad id/x"}, "id", ["profile id 'bad id/x'"]),
    # failed on a derived DVFS point rounded to 0 (a field the user never gave); 1 TB of MCU SRAM was written
    ({"family": "cortex-m4", "clock_mhz": 0.001}, "clock_mhz", ["--clock-mhz 0.001 is below the 4.8 MHz", "26-120 MHz"]),
    ({"family": "cortex-m4", "sram_kb": 1e9}, "sram_kb", ["--sram-kb 1e+09", "0.01x..100x"]),
    ({"family": "cortex-m4", "flash_kb": 0.5}, "flash_kb", ["--flash-kb 0.5"]),
    ({"family": "cortex-a76", "dram_gbps": 1e6}, "dram_gbps", ["the 17 GB/s of family 'cortex-a76'"]),
])
def test_profile_new_refuses_numbers_the_family_cannot_take(kw: dict[str, object], field: str,
                                                            words: list[str]) -> None:
    from edgesim.hw.derive import NewChip, new_profile

    args: dict[str, object] = {"id": "x", **kw}
    with pytest.raises(EdgesimError) as exc:
        new_profile(NewChip(**args))  # type: ignore[arg-type]
    assert exc.value.field == field and all(w in str(exc.value) for w in words)
    # a sister part within the family's span is still made
    _, prof = new_profile(NewChip(family="ethos-u55", id="ok", clock_mhz=400.0, npu_macs=256.0))
    assert math.isclose(prof.clock_mhz, 400.0)


def test_profile_check_takes_a_bundled_id_and_refuses_before_printing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["profile", "check", "stm32l4r5", "--limit", "2"], capsys)
    assert code == 0 and "profile stm32l4r5 loads and validates" in out  # was exit 3: the id read as a file
    _refused(["profile", "check", "stm32l4r5", "--limit", "-1"], capsys, "--limit")
    _refused(["profile", "check", "stm32l4r5", "--model", "resnet9"], capsys, "unknown model 'resnet9'")


# -- llm -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--prompt", "0", "--gen", "0"], ["nothing to prefill or decode"]),
    (["--think", "5"], ["--think only applies to --chat-session"]),
    (["--ambient", "30"], ["--ambient only applies to --chat-session"]),
    (["--chat-session", "30", "--confidence", "5"], ["confidence"]),
    (["--chat-session", "30", "--ambient", "500"], ["--ambient 500 C"]),
    # a format the runtime cannot load was answered with a full prediction (tests/unit/llm/test_weight_formats.py)
    (["--quant", "w8a8"], ["field 'quant'", "runtime llama.cpp cannot load weight format w8a8"]),
    (["--runtime", "executorch", "--quant", "Q4_0"], ["runtime executorch cannot load weight format Q4_0"]),
])
def test_llm_refuses_nonsense_and_unused_flags(argv: list[str], words: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["llm", "qwen2.5-0.5b", "--hw", "rpi5", *argv], capsys, *words)


# -- the Python API: a wrong type or choice is an EdgesimError naming the field, never a TypeError/ValueError ------
@pytest.mark.parametrize("kw, field", [
    ({"quant": "int9"}, "quant"),
    ({"compress": "zip"}, "compress"),
    ({"clock_mhz": "fast"}, "clock_mhz"),
    ({"threads": 2.5}, "threads"),
    ({"threads": "2"}, "threads"),
])
def test_api_refuses_wrong_types_and_choices_by_field(kw: dict[str, object], field: str) -> None:
    import edgesim

    with pytest.raises(EdgesimError) as exc:
        edgesim.estimate("resnet8", "rpi5", **kw)  # type: ignore[arg-type]
    assert exc.value.field == field
    with pytest.raises(EdgesimError) as exc:
        edgesim.estimate(123, "rpi5")  # type: ignore[arg-type]
    assert exc.value.field == "model"
    with pytest.raises(EdgesimError, match="whole number") as exc:
        edgesim.simulate("resnet8", "stm32l4r5", frames=2.5)  # type: ignore[arg-type]


def test_api_takes_the_natural_spellings() -> None:
    import edgesim

    as_text = edgesim.estimate("resnet8", "rpi5", prune="0.5", input_shape=(1, 3, 32, 32), threads=2)
    as_values = edgesim.estimate("resnet8", "rpi5", prune=0.5, input_shape=[1, 3, 32, 32],  # type: ignore[arg-type]
                                 threads=np.int64(2))  # type: ignore[arg-type]
    assert as_values.latency_s == as_text.latency_s


def test_llm_token_counts_must_be_whole_numbers() -> None:
    from edgesim.llm import predict

    with pytest.raises(EdgesimError) as exc:
        predict("qwen2.5-0.5b", "rpi5", prompt=10.5)  # type: ignore[arg-type]
    assert exc.value.field == "prompt"


# -- second pass -------------------------------------------------------------------------------------------------
def test_an_input_shape_in_the_wrong_layout_is_refused_at_the_first_conv(tmp_path: Path) -> None:
    from edgesim.frontends.loader import load_model
    from edgesim.frontends.onnx_export import export_onnx

    path = tmp_path / "r8.onnx"
    export_onnx(load_model("resnet8"), path)
    assert load_model(path, input_shape=(1, 3, 64, 64)).tensors  # the model's own layout, resized: fine
    with pytest.raises(EdgesimError, match="input has 64 channels but the weights") as exc:
        load_model(path, input_shape=(1, 64, 64, 3))  # NHWC on an NCHW model: ran with 64 channels before
    assert exc.value.node


def test_held_out_validations_refuse_a_reference_with_nothing_held_out(tmp_path: Path) -> None:
    from edgesim.validate.calibrate import leave_one_benchmark_out
    from edgesim.validate.core import default_reference

    empty = tmp_path / "h.csv"
    empty.write_text(default_reference().read_text(encoding="utf-8").splitlines()[0] + "\n")
    with pytest.raises(EdgesimError, match="header but no measurement rows"):
        leave_one_benchmark_out(empty)


def test_an_llm_reference_without_a_predictable_row_is_refused(tmp_path: Path) -> None:
    from edgesim.llm.validate import validate

    path = tmp_path / "llm.csv"
    path.write_text("device,hw_profile,accelerator,threads,runtime,runtime_version,model,model_config,params_b,quant,"
                    "model_size_gb,prompt_tokens,gen_tokens,metric,value,unit,power_w,source_url,note\n"
                    "Pi 5,rpi5,,4,llama.cpp,,Qwen2.5 0.5B,qwen2.5-0.5b.json,0.5,Q4_0,0.4,,128,decode_tps,-5,t/s,,,\n")
    with pytest.raises(EdgesimError, match="line 2: non-positive value '-5'"):
        validate(path, cross=False)


def test_compare_refuses_a_model_or_target_listed_twice() -> None:
    from edgesim.explore.compare import compare

    with pytest.raises(EdgesimError, match="model 'resnet8' is listed twice"):
        compare(["resnet8", "resnet8"], ["stm32l4r5"])
    with pytest.raises(EdgesimError, match="--hw stm32l4r5 is listed twice"):
        compare(["resnet8"], ["stm32l4r5", "stm32l4r5"])


def test_an_uncertain_number_names_its_source() -> None:
    from edgesim.hw.uncertain import split_uncertain

    with pytest.raises(EdgesimError, match="must name its source or reason") as exc:
        split_uncertain({"clock_mhz": {"value": 120.0, "rel": 0.1}}, "chip.yaml")
    assert exc.value.field == "clock_mhz"
    split_uncertain({"clock_mhz": {"value": 120.0, "rel": 0.1, "reason": "sister part"}}, "chip.yaml")


@pytest.mark.parametrize("kw, field", [({"source": " "}, "source"), ({"id": "stm32l4r5"}, "id")])
def test_profile_new_needs_a_source_and_its_own_id(kw: dict[str, object], field: str) -> None:
    from edgesim.hw.derive import NewChip, new_profile

    args: dict[str, object] = {"family": "cortex-m4", "id": "x", "clock_mhz": 200.0, **kw}
    with pytest.raises(EdgesimError) as exc:
        new_profile(NewChip(**args))  # type: ignore[arg-type]
    assert exc.value.field == field


def test_sustain_battery_with_a_big_little_policy_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["sustain", "resnet8", "--hw", "rk3588", "--duration", "5", "--policy", "burst", "--rate", "1",
              "--battery-wh", "1"], capsys, "not modelled with --policy")


def test_an_empty_decoder_onnx_is_called_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.onnx").write_bytes(b"")
    _refused(["llm", str(tmp_path / "d.onnx"), "--hw", "rpi5"], capsys, "model file is empty")


def test_sweep_refuses_negative_workers_and_an_unusable_dask_address(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("dask.distributed")
    spec = tmp_path / "s.yaml"
    spec.write_text("profiles: [stm32l4r5]\naxes: {clock_mhz: [80.0]}\nmodels: [resnet8]\n")
    _refused(["sweep", str(spec), "-o", str(tmp_path / "o.parquet"), "--workers", "-1"], capsys, "--workers")
    code, _, err = _cli(["sweep", str(spec), "-o", str(tmp_path / "o.parquet"), "--no-progress",
                         "--dask-scheduler", "bogus://x:1"], capsys)  # was exit 3 (ValueError from dask)
    assert code == 2 and err.splitlines()[-1].startswith("error: ") and "Dask scheduler 'bogus://x:1'" in err


@pytest.mark.parametrize("hw, runtime, chips", [
    ("hailo-8", "hailo-genai", "hailo-10h*"),  # an LLM on a Hailo-8 (no DRAM) was answered at 4.1 bits/weight
    ("jetson-nano", "tensorrt-llm", "jetson-*orin*"),
])
def test_an_llm_runtime_on_a_chip_it_does_not_target_is_refused(hw: str, runtime: str, chips: str) -> None:
    from edgesim.llm import predict

    with pytest.raises(EdgesimError, match=f"device {hw}, runtime {runtime}: the runtime targets only") as exc:
        predict("qwen2.5-0.5b", hw, runtime=runtime)
    assert exc.value.field == "runtime" and chips in str(exc.value)
    assert predict("qwen2.5-0.5b", "rk3588", runtime="rkllm").fits  # its own chip
