"""CPU prefill: core ISA from the profile, llama.cpp kernel path per GGUF type, issue-slot rates, big.LITTLE
threads, attention growing with the prompt, and the per-type overhead fit recovering known values."""

from __future__ import annotations

import pytest

from edgesim.errors import EdgesimError
from edgesim.llm.cpu_cores import core_isa
from edgesim.llm.cpu_gemm import core_rate, gemm_time_s, kernel_path
from edgesim.llm.fit import fit_cpu_overheads
from edgesim.llm.machine import CoreGroup, machine
from edgesim.llm.predict import _profile, predict
from edgesim.llm.reference import RefRow
from edgesim.llm.runtime import load_llm_runtime


def _cg():  # type: ignore[no-untyped-def]
    cg = load_llm_runtime("llama.cpp").placements["cpu"].cpu_gemm
    assert cg is not None
    return cg


@pytest.mark.parametrize(("desc", "dot", "mm"), [
    ("4x Cortex-A72, 2x 64-bit-issue NEON pipes, no dot-product instructions", False, False),
    ("4x Cortex-A76 (2x 128-bit ASIMD with SDOT)", True, False),
    ("LITTLE cluster, 4x Cortex-A55 (in-order)", True, False),
    ("1x Cortex-X3 + 4x A715/A710 (NEON with SDOT), modelled as 5 equal cores", True, True),
    ("12x Oryon (4x 128-bit NEON with SDOT/I8MM per core)", True, True),
    ("8x Neoverse-V2", True, True),
])
def test_core_isa_from_the_named_core(desc: str, dot: bool, mm: bool) -> None:
    isa = core_isa(desc, 32.0, 8.0)
    assert (isa.dotprod, isa.i8mm) == (dot, mm)


def test_unnamed_core_is_classified_from_its_rates() -> None:
    assert core_isa("some cpu", 32.0, 8.0).dotprod
    assert not core_isa("some cpu", 8.0, 4.0).dotprod
    assert core_isa("6x Redwood Cove P cores, AVX-VNNI", 64.0, 16.0).x86


def test_machine_lists_big_then_little_cores() -> None:
    m = machine(_profile("rk3588"), "cpu", 8)
    assert [(g.isa.name, g.count) for g in m.core_groups] == [("a76", 4), ("a55", 4)]
    assert m.core_groups[0].vector_slots_per_cycle > m.core_groups[1].vector_slots_per_cycle
    assert [g.count for g in machine(_profile("rk3588"), "cpu", 2).core_groups] == [2]


def test_vector_width_comes_from_the_core_table_not_the_profile_rates() -> None:
    from edgesim.hw.schema import Precision

    prof = _profile("rk3588")
    lc = prof.little_cluster
    assert lc is not None
    # a profile retuned for CNN fidelity (A55 fp32 FMA rate doubled) leaves the LLM's A55 where Arm's guide puts it
    wider = lc.model_copy(update={"macs_per_cycle": {**lc.macs_per_cycle, Precision.FP32: 8.0, Precision.INT8: 32.0}})
    m = machine(prof.model_copy(update={"little_cluster": wider}), "cpu", 8)
    assert [g.vector_slots_per_cycle for g in m.core_groups] == [2.0, 0.5]
    # a unit naming several core types ("1x X3 + 4x A715/A710 modelled as 5 equal cores") keeps its averaged rate
    isa = core_isa("1x Cortex-X3 + 4x A715/A710 (NEON with SDOT), modelled as 5 equal cores", 36.0, 9.0)
    assert isa.name == "x3" and isa.i8mm and isa.vector_slots_per_cycle is None
    assert machine(_profile("qcs8550"), "cpu", None).core_groups[0].vector_slots_per_cycle == pytest.approx(2.25)
    assert core_isa("4x Cortex-X1C", 64.0, 16.0).vector_slots_per_cycle == 4.0


def test_kernel_paths_follow_ggml_repack_rules() -> None:
    cg = _cg()
    a72, a76, x3 = (CoreGroup(core_isa(n, 32.0, 8.0), 1, 2e9, 2.0) for n in ("cortex-a72", "cortex-a76", "cortex-x3"))
    assert kernel_path("Q4_0", "int8", a76, cg).name == "dotprod-repack"
    assert kernel_path("Q4_K", "int8", a76, cg).name == "dotprod-repack"
    assert kernel_path("Q4_K", "int8", x3, cg).name == "i8mm-repack"
    assert kernel_path("Q4_1", "int8", x3, cg).name == "i8mm"  # nrc=2 SMMLA vec_dot, not repacked
    assert kernel_path("Q3_K", "int8", x3, cg).name == "dotprod"  # neither: SDOT vec_dot
    assert kernel_path("Q6_K", "int8", a72, cg).name == "neon"
    assert kernel_path("IQ4_NL", "int8", a72, cg).name == "neon-repack"
    x86 = CoreGroup(core_isa("Redwood Cove, AVX-VNNI", 64.0, 16.0), 1, 2e9, 4.0)
    assert kernel_path("Q4_K", "int8", x86, cg).name == "avx2-repack"
    assert kernel_path("Q6_K", "int8", x86, cg).name == "avx2"
    assert kernel_path("F16", "fp16", a72, cg).name == "fma32"
    assert kernel_path("F16", "fp16", a76, cg).name == "fma16"
    # same clock and issue width: SMMLA tiles > SDOT > emulated dot
    assert core_rate("Q4_K", "int8", x3, cg) > core_rate("Q4_K", "int8", a76, cg) > core_rate("Q4_K", "int8", a72, cg)


def test_little_cores_add_threads_but_leave_a_tail() -> None:
    cg = _cg()
    big = CoreGroup(core_isa("cortex-a76", 32.0, 8.0), 4, 2.4e9, 2.0)
    little = CoreGroup(core_isa("cortex-a55", 8.0, 2.0), 4, 1.8e9, 0.5)
    m4 = machine(_profile("rk3588"), "cpu", 4)
    m8 = machine(_profile("rk3588"), "cpu", 8)
    assert m4.core_groups[0].count == 4 and len(m8.core_groups) == 2
    t4, t8 = (gemm_time_s(1e12, "Q4_K", "int8", m, cg) for m in (m4, m8))
    ideal = 1e12 / (4 * core_rate("Q4_K", "int8", big, cg) + 4 * core_rate("Q4_K", "int8", little, cg))
    assert ideal < t4  # the LITTLE cores add throughput on paper ...
    # ... but the last chunk on an A55 (~1/5 of an A76) costs more than they add: -t 8 is no faster than -t 4
    assert t8 > ideal * 1.05 and t8 > 0.95 * t4


def test_prefill_transfers_from_a72_to_sdot_and_smmla_boards() -> None:
    tps = {hw: predict("tinyllama-1.1b", hw, "llama.cpp", "Q4_K_M", prompt=512, gen=0).prefill.tokens_per_s  # type: ignore[union-attr]
           for hw in ("rpi4", "rpi5", "qcs8550")}
    assert tps["rpi4"] < tps["rpi5"] < tps["qcs8550"]
    # a Pi 5 per clock and core beats a Pi 4 by more than the issue-width ratio alone (SDOT replaces the emulation)
    assert tps["rpi5"] / tps["rpi4"] > 2.0 * 2.4 / 1.5


def test_prefill_attention_grows_with_the_prompt() -> None:
    short = predict("llama-3.2-3b", "rpi5", "llama.cpp", "Q4_K_M", prompt=512, gen=0).prefill
    long = predict("llama-3.2-3b", "rpi5", "llama.cpp", "Q4_K_M", prompt=4096, gen=0).prefill
    assert short and long and long.tokens_per_s < 0.95 * short.tokens_per_s


def test_overhead_fit_recovers_the_slots_that_made_the_rows() -> None:
    rt = load_llm_runtime("llama.cpp", fitted=False)
    p = rt.placements["cpu"]
    assert p.cpu_gemm is not None
    truth = {"Q4_0": 5.0, "Q8_0": 9.0, "default": 8.0}
    true_p = p.model_copy(update={"cpu_gemm": p.cpu_gemm.model_copy(update={"overhead_slots": truth})})
    true_rt = rt.model_copy(update={"placements": {**rt.placements, "cpu": true_p}})
    rows = []
    for i, (model, quant) in enumerate([(mo, q) for mo in ("llama-3.2-1b", "qwen2.5-0.5b", "gemma-3-1b")
                                        for q in ("Q4_0", "Q8_0")]):
        est = predict(model, "rpi4", true_rt, quant, prompt=512, gen=0)
        assert est.prefill is not None
        rows.append(RefRow(line=i + 2, device="Raspberry Pi 4", hw="rpi4", runtime="llama.cpp", unit="cpu",
                           model=model, model_text=model, quant=quant, threads=4, prompt=512, gen=0, cached=0,
                           metric="prefill_tps", value=est.prefill.tokens_per_s, approximate=False, note="",
                           status=""))
    fitted = fit_cpu_overheads(rows, rt, p)
    assert fitted["Q4_0"] == pytest.approx(5.0, rel=0.05)
    assert fitted["Q8_0"] == pytest.approx(9.0, rel=0.05)


def _rkllm_rows(rt, models: tuple[str, ...]) -> list[RefRow]:  # type: ignore[no-untyped-def]
    rows = []
    for i, model in enumerate(models):
        est = predict(model, "rk3588", rt, "w8a8", prompt=128, gen=0)
        assert est.prefill is not None
        rows.append(RefRow(line=i + 2, device="RK3588", hw="rk3588", runtime="rkllm", unit="npu", model=model,
                           model_text=model, quant="w8a8", threads=None, prompt=128, gen=0, cached=0,
                           metric="ttft_ms", value=est.prefill.time_s * 1e3, approximate=False, note="", status=""))
    return rows


def test_npu_prefill_restreams_weights_per_token_block_and_the_fit_finds_the_block() -> None:
    from edgesim.llm.fit import fit_token_block

    rt = load_llm_runtime("rkllm", fitted=False)
    p = rt.placements["npu"]
    true_rt = rt.model_copy(update={"placements": {"npu": p.model_copy(update={"prefill_token_block": 16.0})}})
    rows = _rkllm_rows(true_rt, ("qwen2-0.5b", "tinyllama-1.1b", "phi-3-mini"))
    assert fit_token_block(rows, rt, p) == pytest.approx(16.0, rel=0.1)
    # the same runtime on a board with half the DRAM bandwidth and the same NPU peak prefills slower
    fast = predict("tinyllama-1.1b", "rk3588", true_rt, "w8a8", prompt=128, gen=0).prefill
    slow = predict("tinyllama-1.1b", "rk3576", true_rt, "w8a8", prompt=128, gen=0).prefill
    assert fast and slow and slow.time_s > 1.5 * fast.time_s and slow.bound == "memory"


def test_every_npu_token_block_pays_the_per_layer_cost_and_the_block_fit_accounts_for_it() -> None:
    from edgesim.llm.arch import zoo_arch
    from edgesim.llm.fit import fit_token_block
    from edgesim.llm.model import model_work, prefill_cost
    from edgesim.llm.predict import setup

    rt = load_llm_runtime("rkllm", fitted=False)
    p = rt.placements["npu"].model_copy(update={"prefill_token_block": 16.0, "per_layer_overhead_cycles": 3e5})
    no_layer = p.model_copy(update={"per_layer_overhead_cycles": 0.0, "per_layer_overhead_s": 0.0})
    arch = zoo_arch("qwen2-0.5b")
    s = setup(arch, "rk3588", rt, "w8a8", None, "npu")
    work = model_work(arch, s.qs)
    with_cost, without = (prefill_cost(arch, work, s.m, rt, q, 128).time_s for q in (p, no_layer))
    # 128 tokens in blocks of 16: eight passes, each running all layers once
    per_pass = p.layer_overhead_s(s.m) * arch.num_layers
    assert with_cost - without == pytest.approx(8 * per_pass, rel=1e-6)
    true_rt = rt.model_copy(update={"placements": {"npu": p}})
    rows = _rkllm_rows(true_rt, ("qwen2-0.5b", "tinyllama-1.1b", "phi-3-mini"))
    assert fit_token_block(rows, rt, p.model_copy(update={"prefill_token_block": 64.0})) == pytest.approx(16.0,
                                                                                                          rel=0.1)


@pytest.mark.parametrize(("text", "build"), [("build 9c699074c (8664)", 8664), ("f40a2e5f1 (7095)", 7095),
                                             ("llama.cpp b10964 (2026-09)", 10964), ("0.1.42", None), ("~1.3.0", None)])
def test_llama_build_from_a_published_version(text: str, build: int | None) -> None:
    from edgesim.llm.cpu_gemm import llama_build

    assert llama_build(text) == build


def test_dated_versions_map_between_the_known_builds() -> None:
    from edgesim.llm.cpu_gemm import llama_build

    nov, dec = llama_build("(Nov 2025)"), llama_build("2025-12-16")
    assert nov is not None and dec is not None and 7070 < nov < dec <= 7365
    assert (llama_build("2024-03-26") or 0) < 4282  # before any online repacking


def test_older_builds_run_k_quants_without_repacking() -> None:
    new = predict("tinyllama-1.1b", "rpi5", "llama.cpp", "Q4_K_M", prompt=512, gen=0).prefill
    old = predict("tinyllama-1.1b", "rpi5", "llama.cpp@b7000", "Q4_K_M", prompt=512, gen=0).prefill
    q40_old = predict("tinyllama-1.1b", "rpi5", "llama.cpp@b7000", "Q4_0", prompt=512, gen=0).prefill
    assert new and old and q40_old and new.tokens_per_s > 1.5 * old.tokens_per_s
    assert q40_old.tokens_per_s > 1.5 * old.tokens_per_s  # Q4_0 was repacked long before Q4_K
    with pytest.raises(EdgesimError):
        load_llm_runtime("llama.cpp@latest")
    with pytest.raises(EdgesimError):
        load_llm_runtime("rkllm@b7000")


def test_llama_cpp_prefill_attention_is_the_masked_rectangle() -> None:
    from edgesim.llm.arch import zoo_arch
    from edgesim.llm.model import _attention_pairs, prefill_attention_macs

    arch = zoo_arch("llama-3.2-1b")
    cpu = load_llm_runtime("llama.cpp").placements["cpu"]
    npu = load_llm_runtime("rkllm").placements["npu"]
    causal = 2.0 * arch.q_dim * _attention_pairs(arch, 512)
    assert prefill_attention_macs(arch, npu, 512, 0) == pytest.approx(causal)
    assert prefill_attention_macs(arch, cpu, 512, 0) == pytest.approx(2.0 * arch.q_dim * arch.num_layers * 512 * 512)
    # a cached history: the new tokens against every position, still more than their causal share
    assert prefill_attention_macs(arch, cpu, 512, 384) > 2.0 * arch.q_dim * (
        _attention_pairs(arch, 512) - _attention_pairs(arch, 384))


def test_builds_before_chunking_split_repacked_gemms_equally_so_the_little_cores_set_the_finish() -> None:
    # llama.cpp PR #16833 (2025-10-30): repacked GEMMs hand out 4 chunks per thread; before it each thread got an
    # equal slice of the weight rows, and an A55 (~1/5 of an A76) holding 1/8 of the work finished last
    rt = load_llm_runtime("llama.cpp")
    old, new = (predict("llama-3.2-1b", "rk3588", f"llama.cpp@b{b}", "Q4_0", threads=8, prompt=512,
                        gen=0).prefill for b in (7000, 7200))
    old4 = predict("llama-3.2-1b", "rk3588", "llama.cpp@b7000", "Q4_0", threads=4, prompt=512, gen=0).prefill
    assert old and new and old4
    assert old.tokens_per_s < 0.6 * new.tokens_per_s
    assert old.tokens_per_s < 0.6 * old4.tokens_per_s  # -t 8 well below -t 4 on such a build
    # four equal big cores: the split does not matter, the build's kernels are the same
    a, b = (predict("llama-3.2-1b", "rpi5", r, "Q4_0", threads=4, prompt=512, gen=0).prefill
            for r in ("llama.cpp@b7000", "llama.cpp@b7200"))
    assert a and b and a.tokens_per_s == pytest.approx(b.tokens_per_s)
    assert rt.placements["cpu"].cpu_gemm is not None


def test_split_families_follow_ggml() -> None:
    from edgesim.llm.cpu_gemm import split_chunks

    cg = _cg()
    a76 = CoreGroup(core_isa("cortex-a76", 32.0, 8.0), 4, 2.4e9, 2.0)
    old = cg.model_copy(update={"build": 4000})
    # vec_dot: thousands of 16x16 tiles from the atomic counter in every build
    assert split_chunks("Q6_K", kernel_path("Q6_K", "int8", a76, old), 8, old, False) is None
    # repacked: one piece a thread before the chunking PR, 4 a thread after
    assert split_chunks("Q4_0", kernel_path("Q4_0", "int8", a76, cg), 8, cg, False) == 32
    q8_old = cg.model_copy(update={"build": 7200})
    assert kernel_path("Q8_0", "int8", a76, q8_old).name == "dotprod"
    # tinyBLAS_Q0_ARM takes Q8_0 before its repack and splits statically; the float tinyBLAS chunks since b4227
    assert split_chunks("Q8_0", kernel_path("Q8_0", "int8", a76, q8_old), 8, q8_old, False) == 8
    assert split_chunks("F16", kernel_path("F16", "fp16", a76, old), 8, old, False) == 8
    assert split_chunks("F16", kernel_path("F16", "fp16", a76, cg), 8, cg, False) is None
    # builds before llamafile's sgemm ran Q8_0 through vec_dot's fine tiles
    pre = cg.model_copy(update={"build": 2500})
    assert split_chunks("Q8_0", kernel_path("Q8_0", "int8", a76, pre), 8, pre, False) is None
    # on x86 tinyBLAS_Q0_AVX takes Q8_0 and Q5_0 (not repacked there) and splits statically too
    x86 = CoreGroup(core_isa("Redwood Cove, AVX-VNNI", 64.0, 16.0), 6, 3e9, 4.0)
    assert split_chunks("Q5_0", kernel_path("Q5_0", "int8", x86, cg), 14, cg, True) == 14
    assert split_chunks("Q6_K", kernel_path("Q6_K", "int8", x86, cg), 14, cg, True) is None
    # the static split's finish is the slowest thread's equal share
    m8 = machine(_profile("rk3588"), "cpu", 8)
    t = gemm_time_s(1e12, "Q8_0", "int8", m8, q8_old)
    slow = min(core_rate("Q8_0", "int8", g, q8_old) for g in m8.core_groups)
    assert t == pytest.approx(1e12 / 8 / slow)


def test_long_prompts_attend_per_ubatch_to_the_cells_used_so_far() -> None:
    from edgesim.llm.arch import zoo_arch
    from edgesim.llm.model import _attention_pairs, prefill_attention_macs

    arch = zoo_arch("llama-3.2-3b")
    cpu = load_llm_runtime("llama.cpp").placements["cpu"]
    # 8 ubatches of 512 against 512, 1024, ... 4096 cells: 36 x 512^2 pairs a layer, not the 4096^2 rectangle
    rect = 2.0 * arch.q_dim * arch.num_layers * 512 * 512 * 36
    assert prefill_attention_macs(arch, cpu, 4096, 0) == pytest.approx(rect)
    assert prefill_attention_macs(arch, cpu, 4096, 0) > 2.0 * arch.q_dim * _attention_pairs(arch, 4096)


def test_materialised_scores_cost_traffic_and_a_statically_split_softmax() -> None:
    from edgesim.llm.arch import zoo_arch
    from edgesim.llm.model import attention_scores, prefill_attention_bytes, prefill_attention_s, softmax_s

    arch = zoo_arch("tinyllama-1.1b")
    p = load_llm_runtime("llama.cpp").placements["cpu"]
    scores = attention_scores(arch, p, 512, 0)
    assert scores == pytest.approx(arch.num_heads * arch.num_layers * 512 * 512)
    assert prefill_attention_bytes(arch, p, 512, 0) == pytest.approx(20.0 * scores)
    m = machine(_profile("qcs6490"), "cpu", 8)
    macs = 2.0 * arch.q_dim * arch.num_layers * 512 * 512
    assert prefill_attention_s(macs, m, p, prefill_attention_bytes(arch, p, 512, 0), scores) > \
        prefill_attention_s(macs, m, p) * 1.1
    # soft_max rows go round-robin: with four A55 threads the softmax takes longer than on the four A78s alone
    m4 = machine(_profile("qcs6490"), "cpu", 4)
    assert softmax_s(scores, m, p) > softmax_s(scores, m4, p)
    # NPU placements (no cpu_gemm model) pay none of it
    npu = load_llm_runtime("rkllm").placements["npu"]
    assert prefill_attention_bytes(arch, npu, 512, 0) == 0.0
