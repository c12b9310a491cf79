"""Native GCC builds of llama.cpp on two-core-type CPUs: GCC's -mcpu=native recognises only its big.LITTLE pairs
before it learnt to fall back to the cores' features, so such a build is plain Armv8.0 (no SDOT, no repacked
GEMM, no fp16 FMA) and prefill runs the emulated dot product; decode (a weight stream) does not move."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgesim.errors import ProfileError
from edgesim.llm.cpu_gemm import at_build, baseline_build, compiled_groups, kernel_path
from edgesim.llm.predict import predict, setup
from edgesim.llm.reference import read_reference, source_gcc
from edgesim.llm.runtime import load_llm_runtime


def _prefill(hw: str, spec: str, threads: int) -> float:
    est = predict("tinyllama-1.1b", hw, load_llm_runtime(spec), "Q4_K_M", threads, "cpu", 512, 0)
    assert est.prefill is not None
    return est.prefill.tokens_per_s


def test_an_unknown_pair_built_with_an_old_gcc_runs_the_emulated_dot() -> None:
    # QCS6490: Cortex-A78 + A55 is not one of GCC's big.LITTLE pairs
    native, gcc13 = _prefill("qcs6490", "llama.cpp", 8), _prefill("qcs6490", "llama.cpp@gcc13", 8)
    assert gcc13 < 0.7 * native
    # a GCC that gives an unknown pair the cores' features builds the SDOT kernels again
    assert _prefill("qcs6490", "llama.cpp@gcc14", 8) == pytest.approx(native)


def test_a_known_pair_and_a_single_core_type_keep_their_features() -> None:
    # RK3588: cortex-a76.cortex-a55 is a GCC pair; Raspberry Pi 5: one core type
    for hw, threads in (("rk3588", 8), ("rpi5", 4)):
        assert _prefill(hw, "llama.cpp@gcc13", threads) == pytest.approx(_prefill(hw, "llama.cpp", threads))


def test_the_baseline_build_compiles_out_sdot_repacking_and_fp16() -> None:
    rt = at_build(load_llm_runtime("llama.cpp"), None, 13)
    cg = rt.placements["cpu"].cpu_gemm
    assert cg is not None
    m = setup("tinyllama-1.1b", "qcs6490", rt, "Q4_K_M", 8, "cpu", None).m
    assert baseline_build(m.core_groups, cg)
    big = compiled_groups(m.core_groups, cg)[0]
    assert kernel_path("Q4_K", "int8", m.core_groups[0], cg).name == "dotprod-repack"
    assert kernel_path("Q4_K", "int8", big, cg).name == "neon"
    assert kernel_path("IQ4_NL", "int8", big, cg).name == "neon-repack"  # ggml's NEON-only IQ4_NL repack
    assert kernel_path("F16", "fp16", big, cg).name == "fma32"
    # three core types fail in every GCC; no compiler named (prebuilt binaries) leaves the cores as they are
    third = replace(m.core_groups[1], isa=replace(m.core_groups[1].isa, name="a510"))
    assert baseline_build((*m.core_groups, third), cg.model_copy(update={"gcc": 15}))
    assert not baseline_build(m.core_groups, cg.model_copy(update={"gcc": None}))


def test_decode_is_a_weight_stream_either_way() -> None:
    def tg(spec: str) -> float:
        est = predict("tinyllama-1.1b", "qcs6490", load_llm_runtime(spec), "Q4_K_M", 8, "cpu", 0, 128)
        assert est.decode is not None
        return est.decode.tokens_per_s
    assert tg("llama.cpp@gcc13") == pytest.approx(tg("llama.cpp"), rel=0.02)


def test_rows_take_the_gcc_their_source_shows_for_source_built_llama_cpp_only() -> None:
    q6a = "https://github.com/geerlingguy/sbc-reviews/issues/85"
    assert source_gcc(q6a, "llama.cpp") == 13
    assert source_gcc(q6a, "ollama") is None  # Ollama ships prebuilt CPU backends
    assert source_gcc("https://example.org/x", "llama.cpp") is None
    rows = [r for r in read_reference() if r.hw == "qcs6490" and r.runtime == "llama.cpp"]
    assert rows and all(r.gcc == 13 for r in rows)


@pytest.mark.parametrize("spec", ["llama.cpp@gcc", "llama.cpp@gcc3", "llama.cpp@clang17", "llama.cpp@b7070,x",
                                  "llama.cpp@b0", "llama.cpp@b7000,b8000", "llama.cpp@gcc13,gcc14"])  # last 3 were taken
def test_bad_compiler_specs_are_refused(spec: str) -> None:
    with pytest.raises(ProfileError):
        load_llm_runtime(spec)


def test_build_and_compiler_combine() -> None:
    cg = load_llm_runtime("llama.cpp@b7070,gcc13").placements["cpu"].cpu_gemm
    assert cg is not None and (cg.build, cg.gcc) == (7070, 13)
