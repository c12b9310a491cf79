"""The docs quote what the code prints: the worked example of docs/profiles.md runs, and the coverage tables of
docs/intervals.md are the shipped calibration's."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from edgesim.cli import main
from edgesim.validate.coverage_tables import coverage_report
from edgesim.validate.intervals import shipped_residuals
from tests.conftest import REPO


def _blocks(doc: str, lang: str, after: str) -> list[str]:
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    text = text[text.index(after):]
    return [b.strip("\n") for b in re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)]


def test_profiles_worked_example_runs_and_prints_what_the_doc_quotes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    commands = _blocks("profiles.md", "bash", "## Worked example")[0].splitlines()
    printed = []
    for cmd in commands:
        argv = shlex.split(cmd)
        assert argv[0] == "edgesim"
        assert main(argv[1:]) == 0, cmd
        printed.append(capsys.readouterr().out)
    out = "\n".join(printed)
    quoted = _blocks("profiles.md", "text", "## Worked example")[0].splitlines()
    missing = [line for line in quoted if line.rstrip() not in out]
    assert not missing, missing
    assert os.path.isfile(tmp_path / "acme-n1.yaml")


@pytest.mark.parametrize("index, confidence", [(0, 0.8), (1, 0.9)])
def test_intervals_doc_tables_are_the_shipped_calibrations(index: int, confidence: float) -> None:
    quoted = _blocks("intervals.md", "text", "edgesim validate --coverage")[index]
    res = shipped_residuals()
    assert quoted == coverage_report(res, confidence)


def test_intervals_doc_llm_table_is_the_shipped_calibration() -> None:
    from edgesim.llm.intervals import llm_coverage_table, llm_table

    quoted = _blocks("intervals.md", "text", "Language models")[0]
    assert quoted == llm_coverage_table(list(llm_table()[1]), 0.8)


def test_shipped_calibration_is_what_the_command_regenerates(tmp_path: Path) -> None:
    import json

    from edgesim.files import data_path
    from edgesim.validate.intervals import write_calibration

    path, _ = write_calibration(path=tmp_path / "intervals.json")
    fresh = json.loads(path.read_text())
    shipped = json.loads(data_path("calibration", "intervals.json").read_text())
    assert fresh["rows"] == shipped["rows"] and fresh["latency"] == shipped["latency"]
    assert fresh["power"] == shipped["power"] and fresh["families"] == shipped["families"]
