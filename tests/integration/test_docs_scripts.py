"""Every tutorial script in docs/tutorial runs (fast settings) and writes a real figure, so the docs never rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial"
SCRIPTS = sorted(p for p in TUTORIAL.glob("*.py") if not p.name.startswith("_"))
# Each script's figure, which memory_wall.md embeds; a renamed figure would silently break the page.
FIGURES = {"ai_vs_sram.py": "ai_vs_sram.png", "tiling.py": "tiling.png", "fusion.py": "fusion.png",
           "quantization.py": "quantization.png", "pruning.py": "pruning.png", "thermal.py": "thermal.png"}


def test_every_script_is_known_and_embedded() -> None:
    assert sorted(p.name for p in SCRIPTS) == sorted(FIGURES)
    page = (TUTORIAL / "memory_wall.md").read_text(encoding="utf-8")
    for script, figure in FIGURES.items():
        assert f"figures/{figure}" in page and script in page
        assert (TUTORIAL / "figures" / figure).exists(), f"run python docs/tutorial/{script} to regenerate"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_docs_script_runs(script: Path, tmp_path: Path) -> None:
    if not MODELS.is_dir():
        pytest.skip("../shared/models is not present")
    env = {**os.environ, "EDGESIM_DOCS_FAST": "1", "EDGESIM_DOCS_OUT": str(tmp_path), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    figure = tmp_path / FIGURES[script.name]
    assert figure.exists(), r.stdout
    assert figure.read_bytes().startswith(b"\x89PNG") and figure.stat().st_size > 10_000
