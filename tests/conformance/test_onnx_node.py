"""ONNX backend node tests (regenerated from the installed onnx package) against the checked-in expectations.

A test expected to pass must pass; a refused test may start passing (regenerate the file to record it); no test
may crash, be accepted and computed wrongly, fail to execute once imported, or fail in the analytic cost.
Regenerate the expectations with ``python -m tests.conformance.onnx_node --write``.
"""

from __future__ import annotations

import pytest

from tests.conformance import onnx_node as suite


@pytest.fixture(scope="module")
def outcomes() -> dict[str, suite.Outcome]:
    return {o.name: o for o in suite.run_all()}


@pytest.fixture(scope="module")
def expected() -> dict[str, suite.Outcome]:
    return suite.read_expectations()


def test_no_crash_no_wrong_answer_every_import_executes(outcomes: dict[str, suite.Outcome]) -> None:
    bad = [f"{o.status} {o.name}: {o.reason}" for o in outcomes.values() if o.status not in ("pass", "refused")]
    assert not bad, "\n".join(bad[:40])


def test_no_regression_against_expectations(outcomes: dict[str, suite.Outcome],
                                            expected: dict[str, suite.Outcome]) -> None:
    lost = [f"{name}: now {outcomes[name].status} ({outcomes[name].reason})" for name, e in expected.items()
            if e.status == "pass" and name in outcomes and outcomes[name].status != "pass"]
    assert not lost, "\n".join(lost[:40])


def test_refusals_are_one_line_reasons(outcomes: dict[str, suite.Outcome]) -> None:
    for o in outcomes.values():
        if o.status == "refused":
            assert o.reason and "\n" not in o.reason and "Traceback" not in o.reason, o.name


def test_expectation_file_covers_this_onnx(outcomes: dict[str, suite.Outcome],
                                          expected: dict[str, suite.Outcome]) -> None:
    # a different onnx release adds or drops a few tests; most must be known, or the file is stale
    known = sum(name in expected for name in outcomes)
    assert known >= 0.9 * len(outcomes)
    assert sum(o.status == "pass" for o in expected.values()) >= 700


def test_every_ir_op_runs_in_the_float_executor() -> None:
    # --quant calibrates with the float executor: an op the importers accept but it cannot run would stop it
    from edgesim.ir.ops import OpKind
    from edgesim.passes.float_exec import supported_ops

    assert set(OpKind) - supported_ops() == set()


def test_qlinear_and_integer_ops_run_on_the_integer_kernels(outcomes: dict[str, suite.Outcome]) -> None:
    # these pass only if the integer kernels reproduce onnx's integer outputs exactly (uint8, NCHW, per-axis)
    for name in ("test_qlinearconv", "test_qlinearmatmul_2D_uint8_float32", "test_qlinearmatmul_3D_int8_float32",
                 "test_convinteger_with_padding", "test_matmulinteger", "test_quantizelinear_axis",
                 "test_dequantizelinear_axis"):
        assert outcomes[name].status == "pass", (name, outcomes[name].reason)


def test_bind_turns_a_shape_input_into_a_constant(tmp_path: object) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from edgesim.errors import ModelError
    from edgesim.frontends.onnx_ctx import NeedsConstantError
    from edgesim.frontends.onnx_import import import_onnx

    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "r",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
                           helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = f"{tmp_path}/r.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(NeedsConstantError) as e:
        import_onnx(path)
    assert e.value.input_name == "shape" and "\n" not in str(e.value)
    graph = import_onnx(path, bind={"shape": np.array([3, 4], np.int64)})
    assert graph.inputs == ("x",) and graph.tensors[graph.outputs[0]].shape == (3, 4)
    with pytest.raises(ModelError, match="not graph inputs"):
        import_onnx(path, bind={"nope": np.array([1])})
