"""The docs site (mkdocs, API pages from docstrings via mkdocstrings) builds with warnings as errors: a broken
link, a missing page or figure, or an API reference to a renamed function fails CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_site_builds_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"),
                        "-d", str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "RunSpec" in api and "fit_verdict" in api  # the API pages come from the docstrings
    tutorial = tmp_path / "site" / "tutorial"
    assert (tutorial / "_build" / "thermal.png").is_file()  # the tutorial's figures, built by its scripts
