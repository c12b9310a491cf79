"""The LLM chapter of the memory-wall tutorial runs, draws its figure, and the page quotes what the code gives."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "tutorial" / "llm" / "llm_roofline.py"


def test_llm_chapter_script_writes_its_figure(tmp_path: Path) -> None:
    env = {**os.environ, "EDGESIM_DOCS_OUT": str(tmp_path), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    fig = tmp_path / "llm_roofline.png"
    assert fig.read_bytes().startswith(b"\x89PNG") and fig.stat().st_size > 10_000


def test_memory_wall_page_quotes_the_generated_table() -> None:
    spec = importlib.util.spec_from_file_location("llm_roofline", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = (REPO / "docs" / "tutorial" / "memory_wall.md").read_text(encoding="utf-8")
    block = page.split(mod.BEGIN, 1)[1].split(mod.END, 1)[0].strip()
    assert block == mod.table(), "run: python docs/tutorial/llm/llm_roofline.py --update-doc"
