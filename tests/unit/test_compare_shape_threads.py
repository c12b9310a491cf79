"""`edgesim compare` takes --input-shape and --threads as `edgesim run` does (one flag definition in
edgesim.cli.args, one driver): before, compare had neither, so a board's row answered another question than
`run --input-shape ... --threads ...` for the same board."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from tests.conftest import refused_by_cli, run_cli

_ASK = ["--runtime", "tflite-xnnpack", "--quant", "int8", "--input-shape", "1x3x160x160", "--threads", "2"]


def _compare_latencies(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, float]:
    out = tmp_path / "c.csv"
    code, _, err = run_cli(["compare", "mobilenet_v2", "--hw", "rpi5", "--hw", "rk3588", *flags, "--csv", str(out)],
                           capsys)
    assert code == 0, err
    return {row["hw"]: float(row["latency_s"]) for row in csv.DictReader(out.open(encoding="utf-8"))}


def test_compare_gives_each_board_the_latency_run_gives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compared = _compare_latencies(tmp_path, capsys, *_ASK)
    for hw in ("rpi5", "rk3588"):
        out = tmp_path / f"{hw}.json"
        code, _, err = run_cli(["run", "mobilenet_v2", "--hw", hw, *_ASK, "--fast", "--json", str(out)], capsys)
        assert code == 0, err
        assert compared[hw] == pytest.approx(json.loads(out.read_text())["latency_s"], rel=1e-9), hw
    # both flags reach the driver: without them each board answers another question
    plain = _compare_latencies(tmp_path, capsys, *_ASK[:4])
    assert all(plain[hw] != pytest.approx(compared[hw], rel=1e-3) for hw in plain)
    one_shape = _compare_latencies(tmp_path, capsys, *_ASK[:6])
    assert all(one_shape[hw] != pytest.approx(compared[hw], rel=1e-3) for hw in plain)


def test_a_thread_count_the_runtime_refuses_is_refused_at_compare(capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.explore.compare import compare

    # TFLM runs a model on the calling core alone (max_threads 1): the ESP32-S3's second core is never used
    line = refused_by_cli(["compare", "kws_ref_model.tflite", "--hw", "esp32-s3", "--runtime", "tflm", "--threads",
                           "2"], capsys, "field 'threads'", "runtime tflm runs a model on at most 1 thread")
    with pytest.raises(EdgesimError, match="at most 1 thread") as exc:
        compare(["kws_ref_model.tflite"], ["esp32-s3"], ["tflm"], threads=2)
    assert exc.value.field == "threads" and exc.value.message in line
    refused_by_cli(["compare", "resnet8", "--hw", "stm32l4r5", "--threads", "2"], capsys,
                   "2 threads on 'stm32l4r5', which has 1 CPU core")
    refused_by_cli(["compare", "resnet8", "--hw", "rpi5", "--input-shape", "1x3x0x32"], capsys)
