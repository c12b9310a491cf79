"""Identical inputs give identical reports, within a process and across processes with different hash seeds;
an interrupted run leaves no partial output and exits non-zero without a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgesim.cli import main
from tests.property._common import SHARED

REPO = Path(__file__).resolve().parents[2]


def _cli(args: list[str], hash_seed: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    env.pop("EDGESIM_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "edgesim", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=REPO,
        **kw,
    )  # type: ignore[call-overload]


def _model() -> str:
    tfl = SHARED / "models" / "kws_ref_model.tflite"
    return str(tfl) if tfl.is_file() else "resnet8"


@pytest.mark.parametrize("extra", [["--fast"], []], ids=["analytic", "event"])
def test_run_report_identical_across_processes(extra: list[str], tmp_path: Path) -> None:
    outs = []
    for i, seed in enumerate(("0", "12345")):
        out = tmp_path / f"r{i}.json"
        r = _cli(["run", _model(), "--hw", "ethos-u55-128", "--json", str(out), *extra], seed)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_sustain_report_identical_across_processes(tmp_path: Path) -> None:
    outs = []
    for i, seed in enumerate(("1", "999")):
        out = tmp_path / f"s{i}.json"
        r = _cli(["sustain", "resnet8", "--hw", "rpi5", "--duration", "30", "--json", str(out)], seed)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_run_report_identical_within_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        assert main(["run", "ds_cnn", "--hw", "stm32h7a3", "--json", str(out)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def _sigint_as_at_a_terminal() -> None:
    """The child starts with SIGINT at its default and unblocked, as under a terminal's Ctrl-C: an ignored or blocked
    SIGINT is inherited across exec, so a disposition left in the test process by another test (a library that
    ignores or masks it) would otherwise make the child deaf to the signal this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_sigint_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "sustain.json"
    out.write_text("previous report\n")  # must survive untouched: the new one is never half-written over it
    env = {**os.environ}
    env.pop("EDGESIM_DEBUG", None)
    # Millions of thermal steps: runs far longer than the time we give it before Ctrl-C.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgesim",
            "sustain",
            "resnet8",
            "--hw",
            "rpi5",
            "--duration",
            "4000000",
            "--window",
            "0.5",
            "--json",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        preexec_fn=_sigint_as_at_a_terminal,
    )
    try:
        time.sleep(4.0)
        assert proc.poll() is None, "finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    assert [ln for ln in err.splitlines() if ln.strip()] == ["error: interrupted"], err
    assert out.read_text() == "previous report\n"
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


# Clocks inside both profiles' DVFS tables (ethos-u55-128 200-500 MHz, stm32h7a3 140-280 MHz): others are errors.
_SWEEP_SCRIPT = """
import json, sys
from edgesim.explore.sweep import evaluate_point
from edgesim.explore.sweep_spec import spec_from_dict
spec = {"name": "det", "profiles": ["ethos-u55-128", "stm32h7a3"],
        "axes": {"clock_mhz": [200.0, 250.0], "memories.sram.size_bytes": [262144, 1048576]},
        "models": ["resnet8", {"zoo": "ds_cnn", "label": "kws"}]}
rows = [evaluate_point(p) for p in spec_from_dict(spec).points]
sys.stdout.write(json.dumps(rows, sort_keys=True))
"""


def test_sweep_points_identical_across_processes() -> None:
    pytest.importorskip("edgesim.explore.sweep")
    outs = []
    for seed in ("0", "4242"):
        r = _cli_script(_SWEEP_SCRIPT, seed)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]
    rows = json.loads(outs[0])
    assert len(rows) == 16
    assert not [r["error"] for r in rows if r["error"]]


def _cli_script(code: str, hash_seed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env, cwd=REPO
    )
