"""Doors agree: one question through `edgesim llm` text, its --json, its --html and the Python API gives the same
tokens/s, memory and intervals (all built from LlmEstimate.as_dict / LlmEstimate.interval)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.llm.predict import predict
from tests.conftest import run_cli
from tests.unit.llm.conftest import write_onnx_decoder
from tests.unit.llm.test_llm_runtime_questions import onnx_runtime


@pytest.mark.parametrize("kw", [
    # --html failed with exit 2 on every runtime without w8a8 / fp16 (its roofline asked the runtime for formats it
    # refuses), after the text and the JSON were out
    {"model": "llama-3.2-1b", "hw": "jetson-orin-nano", "runtime": "mlc", "prompt": 64, "gen": 16},
    {"model": "qwen2.5-0.5b", "hw": "rk3588", "runtime": "rkllm", "prompt": 64, "gen": 16},
    {"model": "qwen2.5-0.5b", "hw": "rpi5", "prompt": 0, "gen": 16, "confidence": 0.9},  # the HTML lost the interval
    # 'onnx:...' as a --quant; on a user's profile of an engine that reads decoder ONNX (mlc refuses it)
    {"model": "onnx", "hw": "jetson-orin-nano", "runtime": "ort", "prompt": 16, "gen": 0},
])
def test_text_json_html_and_api_agree(kw: dict[str, object], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    kw = dict(kw)
    if kw["model"] == "onnx":
        kw["model"] = str(write_onnx_decoder(tmp_path / "decoder_model.onnx"))
        kw["runtime"] = str(onnx_runtime(tmp_path))
    confidence = float(kw.pop("confidence", 0.8))  # type: ignore[arg-type]
    argv = ["llm", str(kw["model"]), "--hw", str(kw["hw"]), "--confidence", str(confidence),
            "--json", str(tmp_path / "e.json"), "--html", str(tmp_path / "e.html")]
    for key in ("runtime", "prompt", "gen"):
        if key in kw:
            argv += [f"--{key}", str(kw[key])]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    est = predict(**kw)  # type: ignore[arg-type]
    api = json.loads(json.dumps(est.as_dict(confidence)))
    assert json.loads((tmp_path / "e.json").read_text()) == api and "interval" in api
    iv = est.interval(confidence)
    assert iv is not None and iv.summary() in out.splitlines()
    page = html.unescape((tmp_path / "e.html").read_text())
    head, _, body = iv.summary().partition(": ")
    assert head in page and body in page and page.count("<img") == 2
    assert f"needs {est.memory_bytes / 1e9:.2f} GB" in out and f"needs {est.memory_bytes / 1e9:.2f} GB" in page


def test_an_estimate_that_does_not_fit_has_no_interval_at_any_door() -> None:
    est = predict("llama-2-70b", "rpi5")
    assert est.interval(0.8) is None and "interval" not in est.as_dict(0.8)
    with pytest.raises(EdgesimError, match="confidence"):
        est.interval(1.5)  # the confidence is checked even when there is nothing to bound
