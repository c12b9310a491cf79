from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed sequence of examples so that a pass or a failure is reproducible there;
# local runs keep exploring new random examples (and remember failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
# The tests read the copies shipped in the package (edgesim/data), not ../shared, where new data only arrives.
DATA = REPO / "edgesim" / "data"
MODELS = DATA / "models"
REFERENCE = DATA / "reference"

SHARED_MODELS = [
    "pretrainedResnet_quant.tflite",
    "pretrainedResnet_large_int8.tflite",
    "kws_ref_model.tflite",
    "vww_96_int8.tflite",
    "ad01_int8.tflite",
    "str_ww_ref_model.tflite",
]


@pytest.fixture(scope="session")
def shared_models() -> Path:
    if not MODELS.is_dir():
        pytest.skip("bundled models (edgesim/data/models) not present")
    return MODELS


def shared_model(name: str) -> Path:
    path = MODELS / name
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``edgesim ARGV`` in process: (exit code, stdout, stderr); argparse's own SystemExit is its exit code."""
    from edgesim.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def refused_by_cli(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """The command exits 2 with exactly one stderr line, 'error: ...', containing ``words``; nothing on stdout."""
    code, out, err = run_cli(argv, capsys)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert out == "", out
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]
