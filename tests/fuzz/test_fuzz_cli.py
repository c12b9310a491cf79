"""Fuzz the CLI end to end (in process, through main()): any argument mix ends in exit 0, or exit 2 with
exactly one 'error: ...' line on stderr; never an internal error (exit 3), a traceback or a hang."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesim.cli import main
from tests.fuzz._util import MODELS, SHARED, budget, time_limit

SETTINGS = settings(
    max_examples=budget(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MODEL_ARGS = st.sampled_from(
    [
        "resnet8",
        "ds_cnn",
        "no_such_model",
        "missing.tflite",
        "missing.onnx",
        "missing.csv",
        ".",
        str(MODELS / "ad01_int8.tflite"),
        str(MODELS / "kws_ref_model.tflite"),
        str(SHARED / "reference" / "scalesim" / "unit_mix.csv"),
        str(SHARED / "reference" / "scalesim" / "tiny8x8_os.cfg"),
    ]
)
HW_ARGS = st.sampled_from(
    [
        "stm32l4r5",
        "ethos-u55-128",
        "rpi5",
        "coral-edgetpu",
        "no-such-hw",
        "missing.yaml",
        "missing.cfg",
        str(SHARED / "reference" / "scalesim" / "tiny8x8_ws.cfg"),
        str(MODELS / "ad01_int8.tflite"),
        "",
    ]
)
NUMBERS = st.sampled_from(["0", "-1", "1e-9", "nan", "inf", "-inf", "1e30", "0.5", "3", "100"])
SHAPES = st.sampled_from(
    [
        "1x3x16x16",
        "1x3x32x32",
        "0x3x32x32",
        "1x1x49x10",
        "abc",
        "1x",
        "x",
        "1x3x1x1",
        "1,3,8,8",
        "99999999x99999999",
        "-1x3x32x32",
    ]
)


def _invoke(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()  # hypothesis reuses the fixture across examples: drop earlier output
    try:
        with time_limit(60):
            code = main(argv)
    except SystemExit as exc:  # argparse refusing an argument: its own usage message, status 2
        code = int(exc.code or 0)
        assert code == 2, argv
        capsys.readouterr()
        return code, ""
    err = capsys.readouterr().err
    return code, err


_VERSION_NOTICE = re.compile(r"^edgesim: runtime (\S+ version \S+ is not modelled; using nearest \S+"
                             r"|\S+: no version given; using its default .*)$")


def _check(code: int, err: str, argv: list[str]) -> None:
    assert code in (0, 2), f"exit {code} for {argv}: {err}"
    if code == 2 and err:
        # The documented stderr notice for an unmodelled runtime version may precede the one error line.
        lines = [ln for ln in err.splitlines() if ln.strip() and not _VERSION_NOTICE.match(ln)]
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert "Traceback" not in err


@SETTINGS
@given(
    model=MODEL_ARGS,
    hw=HW_ARGS,
    fast=st.booleans(),
    clock=st.none() | NUMBERS,
    shape=st.none() | SHAPES,
    runtime=st.none() | st.sampled_from(["tflm", "x-cube-ai@7.3.0", "tflm@0.0.1", "nope", "@", "tflm@"]),
)
def test_run_fails_cleanly(
    model: str,
    hw: str,
    fast: bool,
    clock: str | None,
    shape: str | None,
    runtime: str | None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    argv = ["run", model, "--hw", hw, "--json", str(tmp_path / "r.json")]
    if fast:
        argv.append("--fast")
    if clock is not None:
        argv.append(f"--clock-mhz={clock}")  # '=' so argparse takes '-inf' as a value
    if shape is not None:
        argv += ["--input-shape", shape]
    if runtime is not None:
        argv += ["--runtime", runtime]
    code, err = _invoke(argv, capsys)
    _check(code, err, argv)
    if code == 0:
        assert (tmp_path / "r.json").is_file()
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


@SETTINGS
@given(
    hw=st.sampled_from(["stm32l4r5", "rpi5", "ethos-u55-128", "no-such-hw"]),
    duration=NUMBERS,
    rate=st.none() | NUMBERS,
    window=st.none() | NUMBERS,
    ambient=st.none() | NUMBERS,
    battery=st.none() | NUMBERS,
    governor=st.sampled_from(["performance", "powersave", "ondemand"]),
)
def test_sustain_fails_cleanly(
    hw: str,
    duration: str,
    rate: str | None,
    window: str | None,
    ambient: str | None,
    battery: str | None,
    governor: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    if float(duration) > 10:
        duration = "5"  # keep each example short; long runs are the benchmarks' business
    argv = [
        "sustain",
        "resnet8",
        "--hw",
        hw,
        f"--duration={duration}",
        "--governor",
        governor,
        "--json",
        str(tmp_path / "s.json"),
    ]
    for flag, value in (
        ("--rate", rate),
        ("--window", window),
        ("--ambient", ambient),
        ("--battery-wh", battery),
    ):
        if value is not None:
            argv.append(f"{flag}={value}")
    code, err = _invoke(argv, capsys)
    _check(code, err, argv)
    assert not list(tmp_path.glob(".*.tmp"))


@SETTINGS
@given(
    model=st.sampled_from(["resnet8", "missing.onnx", str(MODELS / "ad01_int8.tflite")]),
    raw=st.binary(max_size=64),
    seed=st.integers(-3, 2**40),
)
def test_infer_fails_cleanly(
    model: str, raw: bytes, seed: int, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad_input = tmp_path / "in.npy"
    bad_input.write_bytes(raw)
    for argv in (["infer", model, "--seed", str(seed)], ["infer", model, "--input", str(bad_input)]):
        code, err = _invoke(argv, capsys)
        _check(code, err, argv)
