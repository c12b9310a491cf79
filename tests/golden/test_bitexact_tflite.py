"""Bit-exactness of edgesim's int8 executor against the TFLite reference kernels (BUILTIN_REF resolver)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgesim.kernels.executor import execute, execute_all, zero_fractions
from tests.conftest import DATA

from ._tflite_build import INT8, INT32, OpSpec, TensorSpec, build_model
from ._tflite_min import load

SHARED = DATA
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


def test_project_importer_graph_is_bit_exact(model_path: Path) -> None:
    """The same check through edgesim's own TFLite importer (intermediates matched by tensor name)."""
    from edgesim.frontends.tflite_import import import_tflite

    graph = import_tflite(model_path)
    interp = _interpreter(model_path)
    by_name = {d["name"]: d["index"] for d in interp.get_tensor_details()}
    (inp,) = interp.get_input_details()
    rng = np.random.default_rng(99)
    for _sample in range(2):
        x = rng.integers(-128, 128, size=tuple(inp["shape"]), dtype=np.int8)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        values = execute_all(graph, {graph.inputs[0]: x})
        compared = 0
        for node in graph.nodes:
            out = node.outputs[0]
            if out in by_name and interp.get_tensor(by_name[out]).shape == values[out].shape:
                np.testing.assert_array_equal(values[out], interp.get_tensor(by_name[out]),
                                              err_msg=f"{model_path.name}: {node.name} ({node.op.value})")
                compared += 1
        assert compared >= 1
        (od,) = interp.get_output_details()
        np.testing.assert_array_equal(values[graph.outputs[0]], interp.get_tensor(od["index"]))


# ---- single-operator models for kernels the MLPerf Tiny models do not use ----

def _conv_tensors(x_shape: tuple[int, ...], w_shape: tuple[int, ...], y_shape: tuple[int, ...],
                  n_out: int, q_dim: int) -> list[TensorSpec]:
    rng = np.random.default_rng(5)
    scales = tuple(float(v) for v in rng.uniform(0.002, 0.02, size=n_out))
    w = rng.integers(-127, 128, size=w_shape, dtype=np.int8)
    bias = rng.integers(-3000, 3000, size=n_out).astype(np.int32)
    return [TensorSpec(x_shape, 0.05, -9), TensorSpec(w_shape, scales, 0, INT8, w, q_dim),
            TensorSpec((n_out,), tuple(0.05 * s for s in scales), 0, INT32, bias, 0), TensorSpec(y_shape, 0.08, 6)]


def _single_op_cases() -> dict[str, tuple[list[TensorSpec], OpSpec, list[int]]]:
    act_none = [(0, "b", 0)]
    return {
        "logistic": ([TensorSpec((1, 256), 0.1, -5), TensorSpec((1, 256), 1 / 256, -128)], OpSpec(14, [0], [1]), [0]),
        "tanh": ([TensorSpec((1, 256), 0.05, 3), TensorSpec((1, 256), 1 / 128, 0)], OpSpec(28, [0], [1]), [0]),
        "hard_swish": ([TensorSpec((1, 256), 0.05, 10), TensorSpec((1, 256), 0.04, -20)], OpSpec(117, [0], [1]),
                       [0]),
        "hard_swish_wide": ([TensorSpec((1, 256), 0.3, -20), TensorSpec((1, 256), 0.25, -100)],
                            OpSpec(117, [0], [1]), [0]),
        "mul": ([TensorSpec((1, 256), 0.1, 2), TensorSpec((1, 256), 0.07, -3), TensorSpec((1, 256), 0.3, 5)],
                OpSpec(18, [0, 1], [2], 21, act_none), [0, 1]),
        "add_broadcast_relu": (
            [TensorSpec((1, 4, 4, 3), 0.1, 2), TensorSpec((1, 1, 1, 3), 0.07, -3), TensorSpec((1, 4, 4, 3), 0.12, -7)],
            OpSpec(0, [0, 1], [2], 11, [(0, "b", 1)]), [0, 1]),
        "mean_hw": ([TensorSpec((1, 5, 6, 8), 0.1, 4), TensorSpec((2,), None, 0, INT32, np.array([1, 2], np.int32)),
                     TensorSpec((1, 1, 1, 8), 0.05, -2)], OpSpec(40, [0, 1], [2], 27, [(0, "B", 1)]), [0]),
        "max_pool_valid": ([TensorSpec((1, 9, 8, 3), 0.1, 0), TensorSpec((1, 3, 6, 3), 0.1, 0)],
                           OpSpec(17, [0], [1], 5, [(0, "b", 1), (1, "i", 1), (2, "i", 2), (3, "i", 3), (4, "i", 4)]),
                           [0]),
        "avg_pool_same": ([TensorSpec((1, 7, 7, 4), 0.1, 0), TensorSpec((1, 4, 4, 4), 0.1, 0)],
                          OpSpec(1, [0], [1], 5, [(0, "b", 0), (1, "i", 2), (2, "i", 2), (3, "i", 3), (4, "i", 3)]),
                          [0]),
        # the int8 interpreter kernel requires equal input/output quantization for CONCATENATION
        "concat": ([TensorSpec((1, 2, 2, 3), 0.1, 3), TensorSpec((1, 2, 2, 5), 0.1, 3),
                    TensorSpec((1, 2, 2, 8), 0.1, 3)], OpSpec(2, [0, 1], [2], 10, [(0, "i", 3)]), [0, 1]),
        # CONV_2D, SAME padding, stride 2, dilation 2, ReLU6, per-channel weights
        "conv_dilated_same": (_conv_tensors((1, 11, 10, 3), (6, 3, 3, 3), (1, 6, 5, 6), 6, 0),
                              OpSpec(3, [0, 1, 2], [3], 1, [(0, "b", 0), (1, "i", 2), (2, "i", 2), (3, "b", 3),
                                                            (4, "i", 2), (5, "i", 2)]), [0]),
        # DEPTHWISE_CONV_2D with depth multiplier 2, SAME padding, stride (2, 1)
        "depthwise_multiplier2": (_conv_tensors((1, 9, 8, 3), (1, 3, 3, 6), (1, 5, 8, 6), 6, 3),
                                  OpSpec(4, [0, 1, 2], [3], 2, [(0, "b", 0), (1, "i", 1), (2, "i", 2), (3, "i", 2),
                                                                (4, "b", 0), (5, "i", 1), (6, "i", 1)]), [0]),
        "requantize": ([TensorSpec((1, 256), 0.1, 3), TensorSpec((1, 256), 0.07, -4)], OpSpec(114, [0], [1]), [0]),
        "relu_rescale": ([TensorSpec((1, 256), 0.1, 3), TensorSpec((1, 256), 0.06, -128)], OpSpec(19, [0], [1]), [0]),
    }


SINGLE_OP_CASES = _single_op_cases()


@pytest.mark.parametrize("case", sorted(SINGLE_OP_CASES))
def test_single_op_bit_exact(case: str, tmp_path: Path) -> None:
    from edgesim.frontends.tflite_import import import_tflite

    tensors, op, inputs = SINGLE_OP_CASES[case]
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(build_model(tensors, op, inputs, op.outputs))
    interp = _interpreter(path)
    graph = import_tflite(path)
    rng = np.random.default_rng(11)
    feeds = {}
    for pos, (name, d) in enumerate(zip(graph.inputs, interp.get_input_details(), strict=True)):
        shape = tuple(d["shape"])
        x = rng.integers(-128, 128, size=shape, dtype=np.int8)
        if pos == 0 and int(np.prod(shape)) == 256:
            x = np.arange(-128, 128, dtype=np.int8).reshape(shape)  # every int8 input value once
        interp.set_tensor(d["index"], x)
        feeds[name] = x
    interp.invoke()
    got = execute(graph, feeds)[graph.outputs[0]]
    ref = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert got.shape == ref.shape
    bad = np.flatnonzero(got.ravel() != ref.ravel())
    assert bad.size == 0, f"{case}: {bad.size} differ, first at {bad[:5]}: got {got.ravel()[bad[:5]]}, " \
                          f"interpreter {ref.ravel()[bad[:5]]}"
