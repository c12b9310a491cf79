"""README keeps exactly two set-up commands, and .ci/run runs the test one verbatim."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _bash_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_two_setup_commands_and_ci_runs_the_test_one() -> None:
    setup = [b for b in _bash_blocks() if b.startswith("pip install")]
    assert len(setup) == 2, setup
    main_cmd, test_cmd = setup
    assert "edgesim run" in main_cmd
    assert "pytest" in test_cmd
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci
