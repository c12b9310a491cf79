"""Issue #15, output: op counts that add up, readable layer names, one unit system, the same names in run and
report, and a battery line whose hours follow from the numbers it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgesim.cli import main
from edgesim.pipeline import RunSpec, run
from edgesim.report.summary import display_names, format_table, op_count_line
from edgesim.report.units import plain, si, si_bytes


def _out(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_si_units() -> None:
    assert si(0.0356, "W") == "35.6 mW"  # MCU power in mW, not "0.0356 W"
    assert si(4.37e9, "s") == "4.37e+09 s"  # never "4.37 Gs"
    assert si(0.0, "J") == "0 J"
    assert si(999.6e-6, "s") == "1 ms"  # rounded before the prefix is chosen, never "1e+03 us"
    assert si_bytes(512) == "512 B" and si_bytes(16000) == "16 kB" and si_bytes(2097152) == "2.1 MB"
    assert plain(1490.4) == "1490" and plain(12.345) == "12.3" and plain(0.01234) == "0.0123"  # no exponent


def test_op_counts_add_up_with_hidden_views() -> None:
    result = run(RunSpec("kws_ref_model.tflite", "stm32l4r5"))
    n = len(result.graph.nodes)
    line = op_count_line(n, result.estimate)
    numbers = [int(x) for x in re.findall(r"(\d+) ", line)]
    assert numbers[0] == n and sum(numbers[1:]) == n, line
    assert "zero-cost view" in line and "(RESHAPE; not shown)" in line  # the views are named by kind
    table = format_table(result.estimate)
    rows = [ln for ln in table.splitlines() if re.match(r"\s+\d+ ", ln)]
    assert len(rows) == numbers[1]


def test_splits_a_release_returns_as_views_are_named_as_such() -> None:
    # nncase 2.11's stackvm split returns views of its input: they are hidden views, and the line says SPLIT
    result = run(RunSpec("yolov8n", "k230", runtime="nncase@2.11", input_shape=(1, 3, 320, 320)))
    line = op_count_line(len(result.graph.nodes), result.estimate)
    assert "SPLIT" in line and "zero-cost views" in line, line


def test_residual_adds_fused_at_mapping_time_are_counted() -> None:
    # TensorRT folds residual ADDs into the conv: those ops leave the schedule, the header still accounts for them
    result = run(RunSpec("resnet8", "jetson-orin-nano"))
    n = len(result.graph.nodes)
    line = op_count_line(n, result.estimate)
    numbers = [int(x) for x in re.findall(r"(\d+) ", line)]
    assert sum(numbers[1:]) == n and "residual ADDs fused" in line


def test_layer_names_are_readable_unique_suffixes() -> None:
    names = ["functional_1/activation/Relu;functional_1/conv2d/BiasAdd;functional_1/conv2d/Conv2D1",
             "functional_1/activation_1/Relu;functional_1/depthwise_conv2d/depthwise",
             "functional_1/dense/BiasAdd", "Identity", "a/very/long/path/" + "x" * 60]
    shown = display_names(names)
    assert shown[:4] == ["activation/Relu", "activation_1/Relu", "BiasAdd", "Identity"]
    assert len(shown[4]) == 36 and shown[4].startswith("x")  # cut on the right, never "...from the left"
    assert len(set(shown)) == len(shown)


def test_run_and_report_use_the_same_names_and_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _out(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--fast"], capsys)
    assert "activation_1/Relu" in out and "..." not in out
    # board-power factor 1.85 fitted on the L4R5 energy rows at their supplies (2.02 before, 1.5 before that: 35.6)
    assert "power: average 44 mW" in out
    html = tmp_path / "r.html"
    printed = _out(["report", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--fast", "-o", str(html)], capsys)
    assert "memory: fits in memory" in printed
    text = html.read_text()
    assert ">activation_1/Relu<" in text and "fits in memory" in text


def test_report_takes_the_quant_flag_the_readme_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "report.html"
    _out(["report", "resnet8", "--hw", "coral-edgetpu", "--quant", "int8", "--fast", "-o", str(html)], capsys)
    assert html.is_file()


def test_battery_hours_follow_from_the_printed_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    out = _out(["sustain", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--rate", "1", "--duration", "10",
                "--battery-wh", "3.7"], capsys)
    line = next(ln for ln in out.splitlines() if "battery 3.7 Wh" in ln)
    assert "asleep at" in line and "duty cycle" in line
    avg = re.search(r"average ([\d.]+) (m|u)W -> ([\d.]+) h", line)
    assert avg is not None, line
    watts = float(avg.group(1)) * (1e-3 if avg.group(2) == "m" else 1e-6)
    assert float(avg.group(3)) == pytest.approx(3.7 / watts, rel=0.01)
    # and the average itself follows from the energy per inference and the sleep power it prints
    m = re.search(r"\(([\d.]+) mJ in ([\d.]+) ms\) every 1 s .* asleep at ([\d.]+) uW", line)
    assert m is not None, line
    e_j, t_s, sleep_w = float(m.group(1)) * 1e-3, float(m.group(2)) * 1e-3, float(m.group(3)) * 1e-6
    assert watts == pytest.approx(e_j + sleep_w * (1 - t_s), rel=0.01)
