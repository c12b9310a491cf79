"""The package stands on its own: a wheel built from this checkout, installed in a fresh virtual environment, run
from a directory outside the checkout (no ../shared beside it), runs a bundled model, validates against the bundled
reference measurements and writes an HTML report."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist)], check=True, capture_output=True, cwd=root)
    (wheel,) = dist.glob("edgesim-*.whl")
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    # The dependencies come from this interpreter's site-packages on PYTHONPATH: .pth files (the editable install
    # of this checkout) are not processed there, so only the wheel provides edgesim.
    deps = os.pathsep.join([sysconfig.get_paths()["purelib"], *site.getsitepackages()])
    env = {**os.environ, "PYTHONPATH": deps}
    target = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            check=True, capture_output=True, text=True, env=env).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, str(wheel)],
                   check=True, capture_output=True)
    return py, env


def _edgesim(venv: tuple[Path, dict[str, str]], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    py, env = venv
    return subprocess.run([str(py), "-m", "edgesim", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_the_wheel_runs_validates_and_reports_outside_the_checkout(venv: tuple[Path, dict[str, str]],
                                                                    tmp_path: Path) -> None:
    py, env = venv
    where = subprocess.run([str(py), "-c", "import edgesim; print(edgesim.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert str(REPO) not in where and str(py.parents[1]) in where  # the wheel's copy, not the checkout
    run = _edgesim(venv, tmp_path, "run", "pretrainedResnet_quant.tflite", "--hw", "stm32l4r5")
    assert run.returncode == 0, run.stderr
    assert "total: latency" in run.stdout
    assert "interval: latency" in run.stdout  # the interval calibration ships in the wheel
    val = _edgesim(venv, tmp_path, "validate")
    assert val.returncode == 0, val.stderr
    assert "MAPE" in val.stdout
    rep = _edgesim(venv, tmp_path, "report", "kws_ref_model.tflite", "--hw", "stm32h7a3", "--fast", "-o", "r.html")
    assert rep.returncode == 0, rep.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
