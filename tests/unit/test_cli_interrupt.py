"""Ctrl-C before the command starts its work (while the command modules import or arguments parse) ends with
one line and exit 130, as Ctrl-C during the work does (tests/property/test_determinism.py), not a traceback."""

from __future__ import annotations

import pytest

import edgesim.cli as cli


def _interrupt(*_args: object, **_kwargs: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("where", ["build_parser", "check_outputs"])
def test_interrupt_before_the_work_is_one_line(where: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    if where == "build_parser":
        monkeypatch.setattr(cli, "build_parser", _interrupt)
    else:
        import edgesim.cli.outputs as outputs

        monkeypatch.setattr(outputs, "check_outputs", _interrupt)
    assert cli.main(["run", "ds_cnn", "--hw", "stm32l4r5"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: interrupted"]
