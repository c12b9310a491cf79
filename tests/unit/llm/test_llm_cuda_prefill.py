"""llama.cpp CUDA prefill on Jetson Orin: quantized weights run ggml's MMQ (int8 tensor-core MMA) at a fraction of
the dense int8 rate derived from published llama-bench pp512 points (hw_profiles/llm_runtimes/llama.cpp.yaml)."""

from __future__ import annotations

import pytest

from edgesim.llm.predict import predict
from edgesim.llm.runtime import load_llm_runtime


def _pp512(model: str, hw: str, rt_id: str = "llama.cpp", quant: str = "Q4_K_M") -> float:
    est = predict(model, hw, load_llm_runtime(rt_id), quant, unit="gpu", prompt=512, gen=16)
    assert est.prefill is not None
    return est.prefill.tokens_per_s


# The published points the efficiency is derived from (llama-bench -ngl 99 pp512, Q4_K_M; sources in the YAML):
# Orin Nano Super in MAXN_SUPER, AGX Orin 64GB in MAXN.
@pytest.mark.parametrize(("model", "hw", "measured"), [
    ("qwen2.5-3b", "jetson-orin-nano-super", 874.77),
    ("qwen2.5-14b", "jetson-agx-orin", 455.47),
    ("qwen2.5-32b", "jetson-agx-orin", 201.73),
])
def test_cuda_prefill_reproduces_the_published_orin_points(model: str, hw: str, measured: float) -> None:
    # the 0.25 prior put all three 52-64% high
    assert _pp512(model, hw) == pytest.approx(measured, rel=0.06)


def test_quantized_prefill_runs_against_the_int8_tensor_rate_float_weights_keep_cublas() -> None:
    p = load_llm_runtime("llama.cpp").placements["gpu"]
    # one fraction for every quantized type (MMQ), the float types on cuBLAS keep their own
    assert p.efficiency("Q4_K") == p.efficiency("Q6_K") == p.efficiency("Q8_0") == pytest.approx(0.15)
    assert p.efficiency("F16") > p.efficiency("Q4_K")
    # compute-bound on the int8 tensor cores: the MAC rate a Q4_K_M prefill reaches is ~0.15 of the dense int8 peak
    # (16384 int8 MACs/cycle x 1020 MHz on the Orin Nano Super), not of the fp16 one
    est = predict("qwen2.5-3b", "jetson-orin-nano-super", load_llm_runtime("llama.cpp"), "Q4_K_M", unit="gpu",
                  prompt=512, gen=16)
    assert est.prefill is not None and est.prefill.bound == "compute"
    rate = est.prefill.macs / est.prefill.time_s
    assert rate / (16384 * 1020e6) == pytest.approx(0.15, rel=0.12)


def test_ollama_inherits_the_engine_prefill() -> None:
    # Ollama's serving cost is decode-only: its GPU prefill is the llama.cpp engine's
    assert _pp512("qwen2.5-3b", "jetson-orin-nano-super", "ollama") == pytest.approx(
        _pp512("qwen2.5-3b", "jetson-orin-nano-super"), rel=1e-9)
