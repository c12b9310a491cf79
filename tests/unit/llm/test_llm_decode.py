"""Decode mechanisms: DRAM interface peak per unit class, per-layer cost in unit cycles, the soft-capped LM head,
the decode fit recovering known parameters, and the (model, format) rank order MLC shows on a held-out board."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgesim.api import load_profile
from edgesim.errors import EdgesimError
from edgesim.llm.arch import arch_from_config, zoo_arch
from edgesim.llm.fit import fit_decode
from edgesim.llm.machine import machine
from edgesim.llm.model import decode_steps, model_work, prefill_cost, softcap_head_s
from edgesim.llm.predict import predict, setup
from edgesim.llm.reference import BUNDLED, RefRow
from edgesim.llm.runtime import load_llm_runtime
from edgesim.llm.validate import RowResult, Validation, _spearman


def test_npu_streams_from_the_interface_peak_and_the_cpu_from_its_share() -> None:
    prof = load_profile("rk3588")
    dram = max((m for m in prof.memories if m.kind.value == "dram"), key=lambda m: m.size_bytes)
    assert dram.peak_read_bw_bytes_per_s(prof.clock_mhz) == pytest.approx(64 / 8 * 4224e6)
    npu, cpu = machine(prof, "npu", None), machine(prof, "cpu", None)
    # the NPU is no longer capped at the CPU-sustained read_bw (20 GB/s): rkllm decode needs ~27 GB/s
    assert npu.dram_bw_bytes_per_s == pytest.approx(33.792e9)
    assert cpu.dram_bw_bytes_per_s < 0.5 * npu.dram_bw_bytes_per_s
    # a profile that states no interface keeps read_bw as the peak (Jetson profiles list the datasheet peak)
    nano = load_profile("jetson-orin-nano")
    assert machine(nano, "gpu", None).dram_bw_bytes_per_s == pytest.approx(68e9)


def test_per_layer_cost_is_in_unit_cycles_and_shrinks_with_the_clock() -> None:
    rt = load_llm_runtime("mlc")
    _, p = rt.placement("gpu")
    assert p.per_layer_overhead_cycles > 0 and p.fit is not None  # fitted by llm-fit, not typed in
    arch = zoo_arch("tinyllama-1.1b")
    s = setup(arch, "jetson-orin-nano", rt, "q4f16", None, "gpu")
    work = model_work(arch, s.qs)
    fast = s.m.__class__(**{**s.m.__dict__, "clock_hz": 2 * s.m.clock_hz})
    ctx = np.array([128])
    t_slow = decode_steps(arch, work, s.m, rt, p, ctx)
    t_fast = decode_steps(arch, work, fast, rt, p, ctx)
    layer_s = p.per_layer_overhead_cycles * arch.num_layers
    # doubling the clock halves the per-layer part; memory time is unchanged, compute only overlaps
    saved = float(t_slow.time_s[0] - t_fast.time_s[0])
    assert saved >= 0.999 * layer_s * (1 / s.m.clock_hz - 1 / fast.clock_hz)
    assert t_slow.mem_s[0] == t_fast.mem_s[0]
    # llama.cpp's CUDA backend launches its kernels from the host: its per-layer cycles are host CPU cycles
    _, lc = load_llm_runtime("llama.cpp").placement("gpu")
    assert lc.layer_overhead_clock == "host" and lc.per_layer_overhead_cycles > 0
    clocks = s.m.__class__(**{**s.m.__dict__, "clock_hz": 1e9, "host_clock_hz": 2e9})
    assert lc.layer_overhead_s(clocks) == pytest.approx(lc.per_layer_overhead_s + lc.per_layer_overhead_cycles / 2e9)
    assert p.layer_overhead_s(clocks) == pytest.approx(p.per_layer_overhead_s + p.per_layer_overhead_cycles / 1e9)


def test_gemma2_logits_are_soft_capped_and_cost_mlc_an_unfused_head() -> None:
    g2, g3, llama = zoo_arch("gemma-2-2b"), zoo_arch("gemma-3-1b"), zoo_arch("llama-3.2-3b")
    assert g2.final_logit_softcap == 30.0 and g3.final_logit_softcap is None and llama.final_logit_softcap is None
    cfg = {"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 100}
    assert arch_from_config({**cfg, "final_logit_softcapping": None}, "x", "x.json").final_logit_softcap is None
    with pytest.raises(EdgesimError, match="final_logit_softcapping"):
        arch_from_config({**cfg, "final_logit_softcapping": "yes"}, "x", "x.json")
    mlc = load_llm_runtime("mlc")
    _, p = mlc.placement("gpu")
    assert p.softcap_head_efficiency is not None
    s = setup(g2, "jetson-orin-nano", mlc, "q4f16", None, "gpu")
    head = softcap_head_s(g2, model_work(g2, s.qs), s.m, p)
    # the 256k x 2304 head: some milliseconds per token, a sizeable share of a ~45 ms step
    assert 3e-3 < head < 30e-3
    off = p.model_copy(update={"softcap_head_efficiency": None})
    assert softcap_head_s(g2, model_work(g2, s.qs), s.m, off) == 0.0
    s_l = setup(llama, "jetson-orin-nano", mlc, "q4f16", None, "gpu")
    assert softcap_head_s(llama, model_work(llama, s_l.qs), s_l.m, p) == 0.0
    # llama.cpp's CPU placement declares no such cost
    _, cpu = load_llm_runtime("llama.cpp").placement("cpu")
    assert cpu.softcap_head_efficiency is None


def test_prefill_pays_the_soft_capped_head_for_each_token_whose_logits_it_computes() -> None:
    g2 = zoo_arch("gemma-2-2b")
    mlc = load_llm_runtime("mlc")
    _, p = mlc.placement("gpu")
    s = setup(g2, "jetson-orin-nano", mlc, "q4f16", None, "gpu")
    work = model_work(g2, s.qs)
    off = p.model_copy(update={"softcap_head_efficiency": None})
    head = softcap_head_s(g2, work, s.m, p)
    with_head = prefill_cost(g2, work, s.m, mlc, p, 128).time_s
    without = prefill_cost(g2, work, s.m, mlc, off, 128).time_s
    # MLC computes logits for the last prompt token only: one head pass, not one per prompt token
    assert not mlc.prefill_logits_all
    assert with_head - without == pytest.approx(head, rel=1e-9)
    every = mlc.model_copy(update={"prefill_logits_all": True})
    assert prefill_cost(g2, work, s.m, every, p, 128).time_s - prefill_cost(g2, work, s.m, every, off, 128).time_s \
        == pytest.approx(128 * head, rel=1e-9)


def test_gguf_soft_cap_is_read_from_the_file(gguf_file: Callable[..., Path]) -> None:
    from edgesim.llm.gguf_file import read_gguf

    capped = read_gguf(gguf_file("c.gguf", floats={"llama.final_logit_softcapping": 20.0})).arch
    plain = read_gguf(gguf_file("p.gguf")).arch
    assert capped.final_logit_softcap == pytest.approx(20.0) and plain.final_logit_softcap is None


def _row(line: int, model: str, tps: float) -> RefRow:
    return RefRow(line, "synthetic", "jetson-orin-nano", "mlc", "gpu", model, model, "q4f16", None, 16, 128, 0,
                  "decode_tps", tps, False, "", "")


def test_decode_fit_recovers_known_bandwidth_layer_cost_and_head() -> None:
    prior = load_llm_runtime("mlc", fitted=False)
    _, p0 = prior.placement("gpu")
    truth = p0.model_copy(update={"bw_efficiency": 0.85, "per_token_overhead_s": 0.001, "per_layer_overhead_s": 0.0,
                                  "per_layer_overhead_cycles": 100_000.0, "softcap_head_efficiency": 0.01})
    true_rt = prior.model_copy(update={"placements": {**prior.placements, "gpu": truth}})
    models = ["tinyllama-1.1b", "llama-3.2-3b", "qwen2.5-7b", "phi-3.5-mini", "gemma-2-2b", "gemma-2-9b",
              "llama-3.1-8b", "qwen2.5-0.5b"]
    rows = []
    for i, m in enumerate(models):
        est = predict(m, "jetson-orin-nano", true_rt, "q4f16", unit="gpu", prompt=16, gen=128)
        assert est.decode is not None
        rows.append(_row(i + 2, m, est.decode.tokens_per_s))
    d = fit_decode(rows, prior, p0)
    assert d.bw_efficiency == pytest.approx(0.85, abs=0.03)
    assert d.per_layer_overhead_cycles == pytest.approx(100_000.0, rel=0.5)
    assert d.softcap_head_efficiency == pytest.approx(0.01, rel=0.5)
    assert d.per_layer_overhead_s == 0.0  # a fitted per-layer cost is carried in cycles only


def test_mlc_rank_order_on_the_held_out_super_board() -> None:
    """The Orin Nano Super rows are not fitted on (the fit uses the original Nano's): the order of the measured
    decode rates across models, Gemma-2 included, is what the model predicts (issue target: Spearman >= 0.9)."""
    with open(BUNDLED, newline="", encoding="utf-8") as fh:
        rows = [(i + 2, r) for i, r in enumerate(csv.DictReader(fh)) if r["device"].startswith("Jetson Orin Nano Super")
                and r["metric"] == "decode_tps" and r["model_config"]]
    assert len(rows) >= 6
    fit = load_llm_runtime("mlc").placements["gpu"].fit  # type: ignore[index]
    assert fit is not None and not {line for line, _ in rows} & set(fit.rows)
    meas = [float(r["value"]) for _, r in rows]
    pred = []
    for _, r in rows:
        est = predict(r["model_config"], "jetson-orin-nano-super", "mlc", "q4f16", unit="gpu", prompt=16, gen=128)
        assert est.decode is not None
        pred.append(est.decode.tokens_per_s)
    assert _spearman(pred, meas) >= 0.9


def _decode_result(line: int, model: str, measured: float, predicted: float) -> RowResult:
    row = RefRow(line, "board", "hw", "rt", "gpu", model, model, "q4", None, 64, 128, 0, "decode_tps", measured,
                 False, "", "")
    return RowResult(row, predicted, "", "held-out")


def test_pair_rank_order_pools_repeats_and_tied_predictions_are_reported_not_nan() -> None:
    # three reports of one (model, quant) pair, one of them far off (a board not at full power): the row-level
    # order suffers, the pairs' order (7b > 13b > 70b) is what the model predicts
    res = [_decode_result(1, "7b", 46.9, 41.5), _decode_result(2, "7b", 42.9, 41.5), _decode_result(3, "7b", 19.3, 41.5),
           _decode_result(4, "13b", 20.6, 22.7), _decode_result(5, "70b", 5.0, 4.6)]
    v = Validation("x.csv", res)
    assert v.spearman(res)["hw/rt"] < 0.9
    assert v.spearman_pairs(res)["hw/rt"] == pytest.approx(1.0)
    swapped = res[:4] + [_decode_result(5, "70b", 25.0, 4.6)]  # a pair out of order still counts against it
    assert v.spearman_pairs(swapped)["hw/rt"] < 0.9
    assert "hw/rt" not in v.spearman_pairs(res[:4])  # two pairs: no order to test
    tied = [_decode_result(i, m, 8.0 + i / 10, 8.0) for i, m in enumerate(("a", "a", "b", "b"))]
    assert "rows n/a (all predictions equal)" in Validation("x.csv", tied).table()


def test_llama_cpp_cpu_per_layer_cost_is_fitted_in_core_cycles_from_rows_of_different_depths() -> None:
    prior = load_llm_runtime("llama.cpp", fitted=False)
    _, p0 = prior.placement("cpu")
    assert p0.per_layer_overhead_cycles > 0 and p0.layer_overhead_clock == "unit"  # the prior opens the fit
    truth = p0.model_copy(update={"bw_efficiency": 0.9, "per_token_overhead_s": 0.002,
                                  "per_layer_overhead_cycles": 300_000.0})
    true_rt = prior.model_copy(update={"placements": {**prior.placements, "cpu": truth}})
    rows = []
    for i, m in enumerate(["qwen2.5-0.5b", "llama-3.2-1b", "tinyllama-1.1b", "qwen2.5-1.5b", "llama-3.2-3b",
                           "phi-3.5-mini", "gemma-2-2b"]):
        est = predict(m, "rpi4", true_rt, "Q4_0", 4, "cpu", prompt=0, gen=128)
        assert est.decode is not None
        rows.append(RefRow(i + 2, "synthetic", "rpi4", "llama.cpp", "cpu", m, m, "Q4_0", 4, 0, 128, 0,
                           "decode_tps", est.decode.tokens_per_s, False, "", ""))
    d = fit_decode(rows, prior, p0)
    assert d.per_layer_overhead_cycles == pytest.approx(300_000.0, rel=0.5)
    assert d.per_token_overhead_s == pytest.approx(0.002, abs=0.0015)
    # the fitted cost is in cycles of the cores that run it: at 3 GHz a layer costs half what it does at 1.5 GHz
    _, fitted = load_llm_runtime("llama.cpp").placement("cpu")
    m0 = setup("tinyllama-1.1b", "rpi4", "llama.cpp", "Q4_0", 4, "cpu").m
    fast, slow = (m0.__class__(**{**m0.__dict__, "clock_hz": f, "host_clock_hz": f}) for f in (3e9, 1.5e9))
    assert fitted.layer_overhead_s(fast) == pytest.approx(0.5 * fitted.layer_overhead_s(slow))


def test_rkllm_per_layer_cost_runs_on_host_vector_slots_so_an_a72_host_pays_more_than_an_a76() -> None:
    # the host cores' vector issue width comes from the core table: RK3588's A76 2 slots, RK3576's A72 1
    rt = load_llm_runtime("rkllm")
    _, p = rt.placement("npu")
    assert p.layer_overhead_clock == "host_vector" and p.per_layer_overhead_cycles > 0 and p.fit is not None
    m88 = setup("qwen2-0.5b", "rk3588", rt, "w8a8", None, "npu").m
    m76 = setup("qwen2-0.5b", "rk3576", rt, "w8a8", None, "npu").m
    assert (m88.host_vector_slots_per_cycle, m76.host_vector_slots_per_cycle) == (2.0, 1.0)
    assert m88.clock_hz == m76.clock_hz  # both NPUs at 1 GHz: the unit clock alone would not tell them apart
    ratio = (m88.host_clock_hz * 2.0) / (m76.host_clock_hz * 1.0)
    assert p.layer_overhead_s(m76) == pytest.approx(ratio * p.layer_overhead_s(m88))
    assert ratio > 2.0
    # the same cycles counted in NPU cycles ('unit') would cost both boards the same
    unit = p.model_copy(update={"layer_overhead_clock": "unit"})
    assert unit.layer_overhead_s(m76) == pytest.approx(unit.layer_overhead_s(m88))
    # and the decode step time carries it: RK3576 pays its layers at the A72's slower issue rate
    arch = zoo_arch("qwen2-0.5b")
    s76 = setup(arch, "rk3576", rt, "w8a8", None, "npu")
    work = model_work(arch, s76.qs)
    ctx = np.array([128])
    t_host = decode_steps(arch, work, s76.m, rt, p, ctx).time_s[0]
    t_unit = decode_steps(arch, work, s76.m, rt, unit, ctx).time_s[0]
    layer_unit = p.per_layer_overhead_cycles / s76.m.clock_hz
    layer_host = p.per_layer_overhead_cycles / (s76.m.host_clock_hz * s76.m.host_vector_slots_per_cycle)
    assert t_host - t_unit == pytest.approx(arch.num_layers * (layer_host - layer_unit), rel=1e-6)


@pytest.mark.parametrize("hw,stream_gbps", [("cix-p1", 44.0), ("rpi5", 11.59)])
def test_cpu_share_is_llama_cpp_decode_share_of_all_core_stream(hw: str, stream_gbps: float) -> None:
    # llama.cpp decode streams 84-91% of the all-thread STREAM read figure (Pi 5, ggml-org/llama.cpp#26484); the
    # Cix P1's 12-thread STREAM is ~44 GB/s (cixtech/bios#3), the Pi 5's 4-thread read-only 11.59 GB/s
    bw = machine(load_profile(hw), "cpu", None).dram_bw_bytes_per_s
    assert 0.84 * stream_gbps * 1e9 <= bw <= 0.91 * stream_gbps * 1e9


def test_a_many_core_chip_streams_more_than_one_core_memcpy_predicts() -> None:
    # one A720's tinymembench memcpy (16.6 GB/s) x the Pi 4's 1.56 stream/memcpy ratio undercounts the 12-core Cix P1
    # (the rule that fits 4-core boards); its CPU share is above that one-core figure
    assert machine(load_profile("cix-p1"), "cpu", None).dram_bw_bytes_per_s > 1.3 * 16.6e9 * 1.56
