"""README and the guide document every command, and what they show runs: every `edgesim ...` line parses with
today's flags (the README once showed `report --quant` that report did not take), the Python blocks execute, and
the guide's sweep spec is a valid spec that sweeps."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = {"README.md": REPO / "README.md", "guide.md": REPO / "docs" / "guide.md"}


def _blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def _commands(path: Path) -> list[str]:
    lines = []
    for block in _blocks(path, "bash"):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            for part in line.split("&&"):
                if part.strip().startswith("edgesim "):
                    lines.append(part.strip())
    return lines


def _subcommands() -> list[str]:
    from edgesim.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_command_is_documented(doc: str) -> None:
    shown = {c.split()[1] for c in _commands(DOCS[doc])}
    missing = [c for c in _subcommands() if c not in shown]
    assert not missing, f"{doc} shows no example of: {missing}"


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_documented_command_parses(doc: str) -> None:
    from edgesim.cli import build_parser

    parser = build_parser()
    for command in _commands(DOCS[doc]):
        try:
            parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"{doc}: `{command}` does not parse")


def test_guide_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the blocks write their figures and reports here
    for path in DOCS.values():
        for block in _blocks(path, "python"):
            exec(compile(block, str(path), "exec"), {})  # noqa: S102 - the docs' own examples
    assert (tmp_path / "report.html").is_file() and (tmp_path / "roofline.svg").is_file()


def test_guide_sweep_spec_sweeps(tmp_path: Path) -> None:
    from edgesim.explore.sweep import run_sweep
    from edgesim.explore.sweep_spec import load_sweep_spec

    spec = next(b for b in _blocks(DOCS["guide.md"], "yaml") if "axes:" in b)
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    assert set(yaml.safe_load(spec)) >= {"name", "profiles", "axes", "models", "runtime", "quant", "chunk_size"}
    loaded = load_sweep_spec(path)
    res = run_sweep(loaded, tmp_path / "r.parquet", workers=1, progress=False, plot=False)
    assert res.rows == len(loaded.points) and res.errors == 0 and res.pareto > 0


def test_readme_points_to_the_guide_sections() -> None:
    readme = DOCS["README.md"].read_text(encoding="utf-8")
    guide = DOCS["guide.md"].read_text(encoding="utf-8")
    assert "docs/guide.md#edgesim-sweep-and-the-sweep-spec" in readme
    assert "### `edgesim sweep` and the sweep spec" in guide and "### Battery life" in guide
    assert "sleep" in readme and "sleep_power_mw" in guide
    assert os.path.isfile(REPO / "mkdocs.yml")
