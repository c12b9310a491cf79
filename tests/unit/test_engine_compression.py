"""A runtime that compresses weights itself (Vela) moves fewer weight bytes on the units it drives, only there."""

from __future__ import annotations

import pytest

from edgesim.api import load_model, load_profile
from edgesim.hw.loader import load_runtime
from edgesim.mapping.mapper import build_schedule
from tests.conftest import shared_model


def test_vela_weight_compression_applies_to_npu_weights_only() -> None:
    graph = load_model(shared_model("ad01_int8.tflite"))
    prof = load_profile("ethos-u55-128")
    vela, ver = load_runtime("vela")
    assert vela.weight_compression_ratio is not None
    raw = vela.model_copy(update={"weight_compression_ratio": None})
    comp = build_schedule(graph, prof, vela, ver)
    plain = build_schedule(graph, prof, raw, ver)
    for a, b in zip(comp.plans, plain.plans, strict=True):
        if a.unit == "npu" and b.weight_bytes:
            # ad01's weights are known, so they are entropy-coded (edgesim.mapping.mapper._entropy_coded_ratio)
            # rather than scaled by the runtime's typical ratio; both shrink them.
            assert a.weight_bytes != b.weight_bytes  # tiny layers can grow: 10-byte bias/scale records
        else:
            assert a.weight_bytes == b.weight_bytes
    assert comp.total_weight_bytes < plain.total_weight_bytes


def test_typical_ratio_applies_when_weight_values_are_unknown() -> None:
    from edgesim.mapping.mapper import _engine_compression
    from edgesim.mapping.sparsity import sparsity_effect

    graph = load_model(shared_model("ad01_int8.tflite"))
    prof = load_profile("ethos-u55-128")
    vela, _ = load_runtime("vela")
    assert vela.weight_compression_ratio is not None
    fc = next(n for n in graph.nodes if n.op.value == "FULLY_CONNECTED")
    from edgesim.ir.work import node_work

    work = node_work(graph, fc)
    effect = sparsity_effect(work, prof.unit("npu"))
    typical = _engine_compression(effect, work, prof.unit("npu"), vela)  # no graph: values unknown
    assert typical.weight_bytes == pytest.approx(work.weight_bytes * vela.weight_compression_ratio, abs=1)
    coded = _engine_compression(effect, work, prof.unit("npu"), vela, graph, fc)
    assert coded.weight_bytes != typical.weight_bytes


def test_ratio_is_validated() -> None:
    vela, _ = load_runtime("vela")
    with pytest.raises(ValueError):
        type(vela).model_validate({**vela.model_dump(), "weight_compression_ratio": 1.5})
