"""The command line end to end: run, profiles, JSON report, and clean errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgesim.cli import main
from tests.conftest import shared_model


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgesim", *args], capture_output=True, text=True, timeout=300)


def test_help_is_fast_and_lists_commands() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    assert "run" in r.stdout and "profiles" in r.stdout


def test_profiles_lists_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for pid in ("stm32l4r5", "ethos-u55-128", "coral-edgetpu", "rpi5"):
        assert pid in out


def test_run_tflite_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = shared_model("pretrainedResnet_quant.tflite")
    out = tmp_path / "r.json"
    assert main(["run", str(model), "--hw", "stm32l4r5", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "total: latency" in text
    rep = json.loads(out.read_text())
    for key in ("model", "hw", "latency_s", "energy_j", "cycles", "layers"):
        assert key in rep
    assert rep["hw"] == "stm32l4r5"
    assert rep["latency_s"] > 0 and rep["energy_j"] > 0
    conv = [layer for layer in rep["layers"] if layer["op"] == "CONV2D"]
    assert conv, "ResNet-8 has convolutions"
    for layer in rep["layers"]:
        for key in ("name", "op", "unit", "macs", "cycles", "latency_s", "energy_j", "bound",
                    "compute_cycles", "stall_cycles"):
            assert key in layer
        assert layer["cycles"] == pytest.approx(layer["compute_cycles"] + layer["stall_cycles"], rel=1e-6, abs=1e-2)
    assert sum(layer["macs"] for layer in rep["layers"]) == pytest.approx(12.5e6, rel=0.05)


def test_zoo_model_with_input_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "mobilenet_v2", "--hw", "ethos-u55-128", "--input-shape", "1x3x160x160"]) == 0
    assert "total: latency" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "no_such_model.tflite", "--hw", "stm32l4r5"], "does not exist"),
        (["run", "resnet8", "--hw", "no-such-chip"], "stm32l4r5"),  # lists known ids
        (["run", "not_a_zoo_model", "--hw", "stm32l4r5"], "mobilenet_v2"),  # lists known zoo names
        (["run", "resnet8", "--hw", "stm32l4r5", "--input-shape", "1xAx3"], "input-shape"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str) -> None:
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert needle in lines[0]


def test_corrupt_model_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    r = run_cli("run", str(bad), "--hw", "stm32l4r5", "--json", str(tmp_path / "out.json"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and str(bad) in r.stderr
    assert not (tmp_path / "out.json").exists()
    assert list(tmp_path.iterdir()) == [bad]  # nothing half-written


def test_malformed_profile_names_file_and_field(tmp_path: Path) -> None:
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: stm32l4r5\nclock_mhz: -5\n")
    r = run_cli("run", "resnet8", "--hw", str(prof))
    assert r.returncode == 2
    assert "p.yaml" in r.stderr and "clock_mhz" in r.stderr
    assert "Traceback" not in r.stderr


def test_scalesim_topology_and_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import REFERENCE

    topo = REFERENCE / "scalesim" / "unit_mix.csv"
    if not topo.exists():
        pytest.skip("shared SCALE-Sim files absent")
    out = tmp_path / "s.json"
    assert main(["run", str(topo), "--hw", str(REFERENCE / "scalesim" / "tiny8x8_ws.cfg"), "--json", str(out)]) == 0
    assert "SCALE-Sim compatible report" in capsys.readouterr().out
    rep = json.loads(out.read_text())
    import csv

    ref = {r["layer_name"]: r for r in csv.DictReader((REFERENCE / "scalesim" / "scalesim_v3_unit_mix.csv").open())
           if r["config"] == "tiny8x8_ws"}
    for row in rep["scalesim_layers"]:
        assert row["compute_cycles"] == int(ref[row["name"]]["scalesim_compute_cycles"])
        assert row["cycles"] == row["compute_cycles"] + row["stall_cycles"]


def test_event_engine_default_fast_and_trace(tmp_path: Path) -> None:
    model = shared_model("kws_ref_model.tflite")
    ev, fast, trace = tmp_path / "ev.json", tmp_path / "fast.json", tmp_path / "trace.json"
    assert main(["run", str(model), "--hw", "ethos-u55-128", "--json", str(ev), "--trace", str(trace)]) == 0
    assert main(["run", str(model), "--hw", "ethos-u55-128", "--json", str(fast), "--fast"]) == 0
    e, f = json.loads(ev.read_text()), json.loads(fast.read_text())
    assert e["mode"] == "event" and f["mode"] == "analytic"
    assert e["latency_s"] == pytest.approx(f["latency_s"], rel=0.15)
    assert "utilisation" in e
    events = json.loads(trace.read_text())["traceEvents"]
    spans = [x for x in events if x["ph"] == "X"]
    assert spans and all({"name", "ts", "dur", "pid", "tid"} <= set(x) for x in spans)
    # determinism: a second run gives a byte-identical report
    again = tmp_path / "ev2.json"
    assert main(["run", str(model), "--hw", "ethos-u55-128", "--json", str(again)]) == 0
    assert again.read_text() == ev.read_text()
