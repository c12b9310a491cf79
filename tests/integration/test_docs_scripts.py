"""The memory-wall tutorial cannot go stale: its scripts write their figures and numbers into an untracked build
folder, and every number memory_wall.md quotes must be the one the scripts compute today."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial"
sys.path.insert(0, str(TUTORIAL))
import build  # noqa: E402  (docs/tutorial/build.py: the tutorial's own build and check)

SCRIPTS = sorted(p.stem for p in TUTORIAL.glob("*.py") if not p.name.startswith("_") and p.stem != "build")
FIGURES = {name: f"{name}.png" for name in build.SCRIPTS}


@pytest.fixture(scope="module")
def built() -> tuple[Path, dict[str, str]]:
    """Every script once, full settings (about 20 s), into the tutorial's own untracked build folder (which the
    docs site build then finds ready)."""
    out = TUTORIAL / "_build"
    return out, build.run_scripts(out)


def test_every_script_is_built_and_embedded() -> None:
    assert sorted(build.SCRIPTS) == SCRIPTS
    page = build.PAGE.read_text(encoding="utf-8")
    for script, figure in FIGURES.items():
        assert f"(_build/{figure})" in page and f"{script}.py" in page


def test_nothing_generated_is_tracked() -> None:
    tracked = subprocess.run(["git", "ls-files", "docs/tutorial"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not [p for p in tracked if p.endswith(".png") or "/_build/" in p], tracked
    ignored = subprocess.run(["git", "check-ignore", "-q", "docs/tutorial/_build/x.png"], cwd=REPO)
    assert ignored.returncode == 0, "docs/tutorial/_build must be ignored by git"


def test_scripts_write_real_figures(built: tuple[Path, dict[str, str]]) -> None:
    out, _ = built
    for figure in FIGURES.values():
        data = (out / figure).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, figure


def test_the_page_quotes_what_the_scripts_compute(built: tuple[Path, dict[str, str]]) -> None:
    _, numbers = built
    page = build.PAGE.read_text(encoding="utf-8")
    quoted = build.quoted(page)
    assert len(quoted) >= 40
    assert {key.split(".")[0] for key in quoted} == set(build.SCRIPTS)  # every chapter quotes its script
    assert build.mismatches(page, numbers) == []
    assert numbers["thermal.cooler_throttles"] == "0"  # the page says the cooled Pi never throttles


def test_a_stale_number_is_caught(built: tuple[Path, dict[str, str]]) -> None:
    _, numbers = built
    page = build.PAGE.read_text(encoding="utf-8")
    stale = page.replace("<!--q:tiling.small_ms-->", "<!--q:tiling.small_ms-->9", 1)
    assert any("tiling.small_ms" in m for m in build.mismatches(stale, numbers))
    assert build.mismatches(build.update(stale, numbers), numbers) == []


def test_thermal_chapter_agrees_with_edgesim_sustain(built: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    from edgesim.cli import main

    out = tmp_path / "s.json"
    assert main(["sustain", "resnet18", "--hw", "rpi5", "--quant", "int8", "--input-shape", "1x3x160x160",
                 "--duration", "600", "--json", str(out)]) == 0
    cli = json.loads(out.read_text())
    _, numbers = built
    assert f"{cli['throttle_onset_s']:.0f}" == numbers["thermal.onset_s"]
    assert f"{cli['max_temp_c']:.0f}" == numbers["thermal.max_c"]
