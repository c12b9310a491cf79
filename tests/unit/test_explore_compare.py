from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from edgesim.cli.explore import add_explore_parsers
from edgesim.errors import EdgesimError
from edgesim.explore.compare import compare, format_compare, plot_compare, write_compare_csv
from tests.conftest import DATA

SHARED = DATA


def _ad01() -> Path:
    path = SHARED / "models" / "ad01_int8.tflite"
    if not path.is_file():
        pytest.skip("bundled models (edgesim/data/models) not present")
    return path


def test_compare_rows_and_front(tmp_path: Path) -> None:
    hws = ["stm32l4r5", "ethos-u55-128", "rpi5"]
    rows = compare([_ad01(), "resnet8"], hws)
    assert [(r.model, r.hw) for r in rows] == [(m, h) for m in ("ad01_int8", "resnet8") for h in hws]
    for r in rows:
        assert r.latency_s > 0 and r.energy_j > 0
        assert r.peak_power_w >= r.average_power_w * (1 - 1e-9)
        assert r.fits  # small models: the full verdict (weights, activations, arena) holds everywhere
    for model in ("ad01_int8", "resnet8"):
        mine = [r for r in rows if r.model == model]
        assert any(r.pareto for r in mine)
        fastest = min(mine, key=lambda r: r.latency_s)
        frugal = min(mine, key=lambda r: r.energy_j)
        assert fastest.pareto and frugal.pareto
        for r in mine:
            if r.pareto:
                assert not any(o.latency_s < r.latency_s and o.energy_j < r.energy_j for o in mine)
    # The STM32 is both slower and hungrier than the Ethos-U55 for the int8 anomaly detector.
    by_hw = {r.hw: r for r in rows if r.model == "ad01_int8"}
    assert by_hw["stm32l4r5"].latency_s > by_hw["ethos-u55-128"].latency_s
    assert not by_hw["stm32l4r5"].pareto
    text = format_compare(rows)
    assert "ad01_int8" in text and "ethos-u55-128" in text

    out = tmp_path / "c.csv"
    write_compare_csv(rows, out)
    read = list(csv.DictReader(out.open()))
    assert len(read) == len(rows)
    assert float(read[0]["latency_s"]) == pytest.approx(rows[0].latency_s)
    png = tmp_path / "c.png"
    plot_compare(rows, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_runtime_count_mismatch() -> None:
    with pytest.raises(EdgesimError, match="runtime"):
        compare(["resnet8"], ["stm32l4r5", "rpi5", "ethos-u55-128"], ["a", "b"])


def test_compare_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_explore_parsers(parser.add_subparsers())
    args = parser.parse_args(["compare", "resnet8", "--hw", "stm32l4r5", "--hw", "rpi5",
                              "--csv", str(tmp_path / "o.csv"), "--plot", str(tmp_path / "o.png")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "stm32l4r5" in out and "rpi5" in out
    assert (tmp_path / "o.csv").is_file() and (tmp_path / "o.png").is_file()


def test_compare_quant_int8_is_faster_on_npu() -> None:
    # A float zoo model falls back to the host CPU of an NPU system; int8 quantization moves it to the NPU.
    fp32, int8 = compare(["resnet8"], ["ethos-u55-128"])[0], compare(["resnet8"], ["ethos-u55-128"], quant="int8")[0]
    assert int8.latency_s < fp32.latency_s / 2
    assert int8.macs == fp32.macs
