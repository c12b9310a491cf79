"""Issue #15: the driver refuses or flags implausible questions, for every door (checked through the driver, the
JSON report and the run command)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesim.cli import main
from edgesim.errors import EdgesimError
from edgesim.hw.loader import load_profile
from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import RunSpec, TransformOptions, run
from edgesim.pipeline.checks import clock_range_mhz
from tests.conftest import run_cli

INT8 = TransformOptions(quant=QuantPreset.INT8, calibration="fixed")


_cli = run_cli


# -- clock range -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("clock", [1e6, 1e-9, 121.0])
def test_clock_outside_dvfs_table_is_refused_naming_profile_and_range(clock: float) -> None:
    with pytest.raises(EdgesimError) as exc:
        run(RunSpec("resnet8", "stm32l4r5", clock_mhz=clock))
    msg = str(exc.value)
    assert "stm32l4r5" in msg and "26-120 MHz" in msg and "--overclock" in msg


def test_clock_inside_the_table_runs_unmarked() -> None:
    low, high = clock_range_mhz(load_profile("stm32l4r5"))
    for clock in (low, 80.0, high):
        assert not run(RunSpec("resnet8", "stm32l4r5", clock_mhz=clock)).overclocked


def test_overclock_runs_the_what_if_and_marks_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run(RunSpec("resnet8", "stm32l4r5", clock_mhz=240.0, overclock=True))
    assert result.overclocked and any("overclocked what-if" in w for w in result.warnings())
    out_json = tmp_path / "r.json"
    code, out, _ = _cli(["run", "resnet8", "--hw", "stm32l4r5", "--fast", "--clock-mhz", "240", "--overclock",
                         "--json", str(out_json)], capsys)
    assert code == 0 and "overclocked what-if" in out
    assert json.loads(out_json.read_text())["overclocked"] is True


def test_cli_clock_out_of_range_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(["run", "resnet8", "--hw", "stm32l4r5", "--fast", "--clock-mhz", "1000000"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "26-120 MHz" in err


def test_profile_object_with_a_clock_beyond_its_table_is_refused() -> None:
    # A sweep's clock axis hands the driver a profile object whose clock it already changed.
    fast = load_profile("ethos-u55-128").model_copy(update={"clock_mhz": 1100.0})
    with pytest.raises(EdgesimError, match="ethos-u55-128"):
        run(RunSpec("resnet8", fast, transform=INT8))


# -- fit verdict ------------------------------------------------------------------------------------------------
def test_model_too_big_for_an_mcu_does_not_fit_and_says_why() -> None:
    result = run(RunSpec("mobilenet_v2", "stm32l4r5", transform=INT8))
    assert not result.fit.fits
    problems = " | ".join(result.fit.problems)
    assert "weights need 3.54 MB but 'flash' holds 2.1 MB" in problems
    assert "peak activations need 1.51 MB but 'sram' holds 655 kB" in problems


def test_small_model_fits_and_weights_streamed_from_a_host_fit() -> None:
    assert run(RunSpec("kws_ref_model.tflite", "stm32l4r5")).fit.fits
    # 25 MB of int8 weights on an 8 MB Edge TPU: the compiler streams the rest over the host link.
    assert run(RunSpec("resnet50", "coral-edgetpu", transform=INT8)).fit.fits


def test_weights_sharing_the_activation_memory_count_together(tmp_path: Path) -> None:
    # GAP9 keeps weights and activations in its 1.5 MB L2: each alone fits, together they must too.
    result = run(RunSpec("mobilenet_v2", "gap9", transform=INT8))
    assert not result.fit.fits and "weights" in result.fit.problems[-1] and "'l2'" in result.fit.problems[-1]


def test_runtime_arena_overhead_counts_against_activation_memory() -> None:
    from edgesim.pipeline.checks import fit_verdict

    base = run(RunSpec("kws_ref_model.tflite", "stm32l4r5"))
    assert base.fit.fits and base.runtime is not None
    arena = base.profile.memory("sram").size_bytes  # the whole SRAM taken by the engine: nothing left
    runtime = base.runtime.model_copy(update={"arena_overhead_bytes": arena})
    verdict = fit_verdict(base.schedule, base.profile, runtime)
    assert not verdict.fits and "runtime arena" in verdict.problems[0]


def test_json_report_and_summary_line_carry_the_verdict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_json = tmp_path / "r.json"
    # float mobilenet_v2: 14 MB of weights, 6 MB of activations on a 2 MB-flash, 640 kB-SRAM MCU
    code, out, _ = _cli(["run", "mobilenet_v2", "--hw", "stm32l4r5", "--fast", "--json", str(out_json)], capsys)
    assert code == 0
    memory_line = next(line for line in out.splitlines() if line.startswith("memory:"))
    assert "does NOT fit" in memory_line and "flash" in memory_line
    report = json.loads(out_json.read_text())
    assert report["fits"] is False and len(report["fit_problems"]) == 2


# -- fallback, zoo accuracy, no runtime ---------------------------------------------------------------------------
def test_float_model_on_int8_npu_warns_with_cause_and_fix() -> None:
    result = run(RunSpec("resnet8", "coral-edgetpu"))
    assert result.fallback is not None
    line = result.fallback.line()
    assert "'cpu'" in line and "fp32" in line and "--quant int8" in line and "100%" in line
    assert run(RunSpec("resnet8", "coral-edgetpu", transform=INT8)).fallback is None


def test_zoo_models_report_no_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(RunSpec("resnet8", "stm32l4r5", transform=TransformOptions(quant=QuantPreset.INT8)))
    assert result.transform.accuracy is None
    assert result.transform.accuracy_note == "zoo weights are random: accuracy not reported"
    code, out, _ = _cli(["run", "resnet8", "--hw", "stm32l4r5", "--quant", "int8", "--fast"], capsys)
    assert code == 0 and "top-1" not in out and "zoo weights are random: accuracy not reported" in out


def test_profile_without_runtime_is_labelled_peak_hardware(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    prof = tmp_path / "bare.yaml"
    prof.write_text("extends: stm32l4r5\nid: bare\ndefault_runtime: null\n")
    result = run(RunSpec("resnet8", prof))
    assert result.peak_hardware and any("peak hardware, no runtime" in w for w in result.warnings())
    code, out, _ = _cli(["run", "resnet8", "--hw", str(prof), "--fast"], capsys)
    assert code == 0 and "runtime none (peak hardware, no runtime)" in out


# -- compare and sweep keep implausible points off the Pareto front ------------------------------------------------
def test_compare_fits_column_is_the_full_verdict_and_front_excludes_misfits(tmp_path: Path) -> None:
    from edgesim.explore.compare import compare, format_compare

    bare = tmp_path / "bare.yaml"
    bare.write_text("extends: stm32l4r5\nid: bare\ndefault_runtime: null\n")
    rows = compare(["mobilenet_v2"], ["stm32l4r5", "rpi5", str(bare)])
    by_hw = {r.hw: r for r in rows}
    # float mobilenet_v2: its weights overflow the MCU's flash (the old column looked at activations only)
    assert not by_hw["stm32l4r5"].fits and "flash" in by_hw["stm32l4r5"].fit_problems
    assert by_hw["rpi5"].fits and by_hw["rpi5"].pareto
    assert not by_hw["stm32l4r5"].pareto and not by_hw["bare"].pareto and by_hw["bare"].peak_hardware
    text = format_compare(rows)
    assert "excluded from the Pareto front: mobilenet_v2 on stm32l4r5 does not fit" in text
    assert "mobilenet_v2 on bare" in text and "peak hardware" in text
    assert "warning: mobilenet_v2" not in text  # no accelerator on either chip: nothing falls back
    float_rows = compare(["resnet8"], ["coral-edgetpu"])
    assert "warning: resnet8 on coral-edgetpu: 100% of the MACs fall back" in format_compare(float_rows)


def test_sweep_clock_beyond_the_table_is_an_error_point_and_misfits_leave_the_front(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from edgesim.explore.sweep import read_results

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "u55-clock", "profiles": ["ethos-u55-128", "stm32l4r5"],
        "axes": {"clock_mhz": [100.0, 500.0, 1100.0]}, "models": ["resnet8", "mobilenet_v2"], "chunk_size": 3}))
    out = tmp_path / "r.parquet"
    code, text, _ = _cli(["sweep", str(spec), "-o", str(out), "--workers", "1", "--no-progress", "--no-plot"],
                         capsys)
    assert code == 0
    rows = {(r["profile"], r["model"], r["axis.clock_mhz"]): r for r in read_results(out)}
    # ethos-u55-128 is a 200-500 MHz part: 1100 MHz (and 100 MHz) are errors naming the range, never Pareto points
    for clock in (100.0, 1100.0):
        bad = rows[("ethos-u55-128", "resnet8", clock)]
        assert "200-500 MHz" in bad["error"] and not bad["pareto"]
    good = rows[("ethos-u55-128", "resnet8", 500.0)]
    assert good["pareto"] and "fall back to unit 'cpu'" in good["warnings"]  # float resnet8 on the int8 NPU
    # stm32l4r5 at 100 MHz is in its table, but float mobilenet_v2 does not fit it: a point, off the front
    mcu = rows[("stm32l4r5", "mobilenet_v2", 100.0)]
    assert not mcu["error"] and not mcu["fits"] and not mcu["pareto"] and "flash" in mcu["fit_problems"]
    assert "8 failed points" in text and "outside profile ethos-u55-128's range" in text
    assert "excluded from the Pareto front: 2 points that do not fit" in text


def test_json_has_one_fit_verdict_not_two(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # "fits_on_chip" (activations only) sat beside the verdict and contradicted it for mobilenet_v2's weights
    out_json = tmp_path / "r.json"
    code, _, _ = _cli(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--fast", "--json", str(out_json)],
                      capsys)
    report = json.loads(out_json.read_text())
    assert code == 0 and "fits_on_chip" not in report and report["fits"] is True
    assert report["activations_fit"] is True


def test_peak_hardware_joins_the_front_only_when_asked(tmp_path: Path) -> None:
    from edgesim.explore.compare import compare, format_compare

    bare = tmp_path / "bare.yaml"
    bare.write_text("extends: stm32h7a3\nid: bare-h7\ndefault_runtime: null\n")
    hws = ["stm32l4r5", str(bare)]
    default = {r.hw: r for r in compare(["resnet8"], hws)}
    assert default["bare-h7"].fits and not default["bare-h7"].pareto  # faster at peak, but no engine: off
    asked_rows = compare(["resnet8"], hws, peak_on_front=True)
    asked = {r.hw: r for r in asked_rows}
    assert asked["bare-h7"].pareto and "excluded" not in format_compare(asked_rows, peak_on_front=True)


def test_fallback_of_unsupported_ops_names_them_and_does_not_suggest_quant_again() -> None:
    # vit_tiny already int8: its attention MATMULs have no Edge TPU kernel; "--quant int8" would change nothing
    result = run(RunSpec("vit_tiny", "coral-edgetpu", transform=INT8))
    assert result.fallback is not None
    line = result.fallback.line()
    assert "op kinds the accelerator does not support (MATMUL x24" in line
    assert "--quant int8" not in line and "pick hardware that runs them" in line


def test_every_measured_mlperf_tiny_configuration_fits() -> None:
    # Each (device, model) of the bundled measurements ran on real silicon: a verdict of "does not fit" there
    # would be a false alarm (weights staged through SRAM by an accelerator are still stored in flash).
    import csv

    from edgesim.files import data_path

    with open(data_path("reference", "mlperf_tiny.csv"), newline="") as f:
        pairs = {(r["device"], r["model_file"]) for r in csv.DictReader(f)}
    assert len(pairs) >= 20
    misfits = [(d, m, run(RunSpec(m, d)).fit.problems) for d, m in sorted(pairs)]
    assert [x for x in misfits if x[2]] == []


def test_sustain_json_carries_the_verdict_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_json = tmp_path / "s.json"
    code, _, _ = _cli(["sustain", "resnet8", "--hw", "coral-edgetpu", "--duration", "5", "--json", str(out_json)],
                      capsys)
    report = json.loads(out_json.read_text())
    assert code == 0 and report["fits"] is True and report["fit_problems"] == []
    assert any("fall back to unit 'cpu'" in w for w in report["warnings"])  # float resnet8 on the Edge TPU


@pytest.mark.parametrize("runtime, why", [("vela", "no npu unit"), ("tensorrt", "targets only jetson-*"),
                                          ("edgetpu", "no npu unit")])
def test_a_runtime_on_a_chip_it_cannot_target_is_refused_naming_both(runtime: str, why: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # Both used to run: Vela 11.3 ms and TensorRT 32.2 ms for DS-CNN on a Cortex-M4 with neither NPU nor GPU.
    assert main(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--runtime", runtime, "--fast"]) == 2
    (err,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "stm32l4r5" in err and runtime in err and why in err


def test_the_edge_tpu_runtime_needs_a_systolic_npu_not_any_npu(capsys: pytest.CaptureFixture[str]) -> None:
    # it used to run silently on any chip (DS-CNN on an ESP32-S3's CPU: 14.6 ms); an RK3588's NPU is a MAC array
    assert main(["run", "kws_ref_model.tflite", "--hw", "rk3588", "--runtime", "edgetpu", "--fast"]) == 2
    (err,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "rk3588" in err and "edgetpu" in err and "systolic" in err and "npu (npu, mac_array)" in err
    assert main(["run", "kws_ref_model.tflite", "--hw", "coral-edgetpu", "--runtime", "edgetpu", "--fast"]) == 0


def test_force_runs_an_untargeted_runtime_as_a_marked_what_if(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--runtime", "vela", "--force", "--fast",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert any(w.startswith("forced what-if") for w in report["warnings"])
