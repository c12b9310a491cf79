"""Bit-exactness of edgesim's int8 executor against the TFLite reference kernels (BUILTIN_REF resolver)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgesim.kernels.executor import execute, execute_all, zero_fractions

from ._tflite_min import load

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MODELS = sorted((SHARED / "models").glob("*.tflite")) if SHARED.is_dir() else []

litert = pytest.importorskip("ai_edge_litert.interpreter")


def _interpreter(path: Path):  # type: ignore[no-untyped-def]
    interp = litert.Interpreter(model_path=str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
                                experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    return interp


@pytest.fixture(scope="module", params=[m.name for m in MODELS] or ["<none>"])
def model_path(request: pytest.FixtureRequest) -> Path:
    if not MODELS:
        pytest.skip("shared models folder is absent")
    return SHARED / "models" / request.param


def test_outputs_and_intermediates_equal_interpreter(model_path: Path) -> None:
    graph = load(model_path)
    interp = _interpreter(model_path)
    details = {d["index"]: d for d in interp.get_tensor_details()}
    rng = np.random.default_rng(1234)
    (inp,) = interp.get_input_details()
    for _sample in range(3):
        x = rng.integers(-128, 128, size=tuple(inp["shape"]), dtype=np.int8)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        values = execute_all(graph, {f"t{inp['index']}": x})
        # compare intermediates in graph order so the first mismatch localises the bug
        for node in graph.nodes:
            for out in node.outputs:
                idx = int(out[1:])
                ref = interp.get_tensor(idx)
                got = values[out]
                assert got.shape == ref.shape, f"{node.name} ({node.op.value}) output shape"
                bad = np.count_nonzero(got != ref)
                assert bad == 0, (f"{model_path.name}: {node.name} ({node.op.value}) differs in {bad}/{ref.size} "
                                  f"elements, max |diff| {np.abs(got.astype(int) - ref).max()}")
        outs = execute(graph, {f"t{inp['index']}": x})
        for od in interp.get_output_details():
            np.testing.assert_array_equal(outs[f"t{od['index']}"], interp.get_tensor(od["index"]))
    assert details  # the interpreter exposed its tensors


def test_zero_fractions_in_range(model_path: Path) -> None:
    graph = load(model_path)
    rng = np.random.default_rng(7)
    name = graph.inputs[0]
    x = rng.integers(-128, 128, size=graph.tensor(name).shape, dtype=np.int8)
    fr = zero_fractions(graph, {name: x})
    assert set(fr) == {n.name for n in graph.nodes}
    assert all(0.0 <= v <= 1.0 for v in fr.values())
    # ReLU-fused convolutions of these models clamp a good share of activations to the zero point
    relu_convs = [n.name for n in graph.nodes if getattr(n.attrs, "activation", None) is not None
                  and n.attrs.activation.value in ("relu", "relu6") and n.op.value == "CONV2D"]
    if relu_convs:
        assert max(fr[n] for n in relu_convs) > 0.05
