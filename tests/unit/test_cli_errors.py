"""Issue #15: bad input ends in one 'error: ...' line and exit 2 before any work: output paths, argparse errors,
unknown ids (with the closest names suggested, case-insensitively)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

_cli = run_cli


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture(autouse=True)
def _no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output paths are checked before the work: the driver must not even be called."""
    import edgesim.pipeline as pipeline

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the run started before its output paths were checked")

    monkeypatch.setattr(pipeline, "run", refuse)


@pytest.mark.parametrize("argv, words", [
    (["run", "resnet8", "--hw", "stm32l4r5", "--json", "{tmp}"], ["--json", "is a directory", ".json"]),
    (["run", "resnet8", "--hw", "stm32l4r5", "--plot", "x.txt"], ["--plot", ".png, .svg or .pdf"]),
    (["run", "resnet8", "--hw", "stm32l4r5", "--json", "/missing/dir/x.json"], ["'/missing/dir' does not exist"]),
    (["run", "resnet8", "--hw", "stm32l4r5", "--trace", "t.csv"], ["--trace", ".json"]),
    (["report", "resnet8", "--hw", "stm32l4r5", "-o", "r.pdf"], ["-o", ".html"]),
    (["compare", "resnet8", "--hw", "stm32l4r5", "--csv", "{tmp}/no/x.csv"], ["--csv", "does not exist"]),
    (["compare", "resnet8", "--hw", "stm32l4r5", "--plot", "p.jpeg"], ["--plot"]),
    (["sweep", "spec.yaml", "-o", "out.csv"], ["-o", ".parquet"]),
    (["optimize", "resnet8", "-o", "{tmp}"], ["is a directory", ".onnx"]),
])
def test_bad_output_paths_fail_before_the_work(argv: list[str], words: list[str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2 and out == ""
    line = _one_error_line(err)
    for w in words:
        assert w in line


@pytest.mark.parametrize("argv, usage", [
    (["run", "resnet8"], "usage: edgesim run MODEL --hw HW [options]; see edgesim run --help"),
    (["sweep"], "usage: edgesim sweep SPEC -o OUTPUT [options]"),
    (["run", "resnet8", "--hw", "x", "--quant", "int9"], "edgesim run MODEL --hw HW"),
    (["nosuch"], "usage: edgesim COMMAND [options]"),
])
def test_argparse_errors_are_one_line_with_the_commands_usage(argv: list[str], usage: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(argv, capsys)
    assert code == 2
    assert usage in _one_error_line(err)


@pytest.mark.parametrize("argv, suggestion", [
    (["run", "resnet8", "--hw", "stm32l4r6"], "did you mean 'stm32l4r5'"),
    (["run", "resnet8", "--hw", "STM32L4R5"], "did you mean 'stm32l4r5'?"),
    (["run", "mobilenetv2", "--hw", "stm32l4r5"], "did you mean 'mobilenet_v2'"),
    (["run", "kws_ref_model", "--hw", "stm32l4r5"], "did you mean 'kws_ref_model.tflite'"),
    (["run", "resnet8", "--hw", "stm32l4r5", "--runtime", "TFLM@2.11.0"], "did you mean 'tflm'?"),
    (["run", "resnet8", "--hw", "stm32l4r5", "--runtime", "x-cube"], "did you mean 'x-cube-ai'"),
])
def test_unknown_ids_suggest_the_closest_names(argv: list[str], suggestion: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.undo()  # these need the driver: the id lookups are its first stages
    code, _, err = _cli([*argv, "--fast"], capsys)
    assert code == 2
    assert suggestion in _one_error_line(err)
