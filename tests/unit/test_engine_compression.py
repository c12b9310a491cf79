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
            assert a.weight_bytes == pytest.approx(b.weight_bytes * vela.weight_compression_ratio, abs=1)
        else:
            assert a.weight_bytes == b.weight_bytes
    assert comp.total_weight_bytes < plain.total_weight_bytes


def test_ratio_is_validated() -> None:
    vela, _ = load_runtime("vela")
    with pytest.raises(ValueError):
        type(vela).model_validate({**vela.model_dump(), "weight_compression_ratio": 1.5})
