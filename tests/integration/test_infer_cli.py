"""`edgesim infer`: bit-exact execution from the command line, with clean errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgesim.cli import main
from tests.conftest import shared_model


def test_infer_matches_reference_interpreter(tmp_path: Path) -> None:
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    model = shared_model("pretrainedResnet_quant.tflite")
    x = np.random.default_rng(7).integers(-128, 128, size=(1, 32, 32, 3)).astype(np.int8)
    inp, out = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(inp, x)
    assert main(["infer", str(model), "--input", str(inp), "--output", str(out)]) == 0
    interp = litert.Interpreter(model_path=str(model),
                                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    expected = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_array_equal(np.load(out), expected)


def test_infer_rejects_wrong_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = shared_model("kws_ref_model.tflite")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((1, 2, 3), np.int8))
    assert main(["infer", str(model), "--input", str(bad), "--output", str(tmp_path / "o.npy")]) == 2
    assert "expects" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()
    garbage = tmp_path / "g.npy"
    garbage.write_bytes(b"not numpy")
    assert main(["infer", str(model), "--input", str(garbage)]) == 2
