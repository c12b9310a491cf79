"""ggml's emulated dot product (SMULL/SMULL2/SADALP on builds or cores without SDOT) is bound by the core's widening
multiplies: one pipe on an A72 (F0) and on an A76/A78 (V0), two on an X-class core, so a second vector pipe
halves the work around the dot but not the dot itself. SDOT issues on every vector pipe and keeps the full width."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgesim.llm import cpu_cores
from edgesim.llm.cpu_cores import core_isa
from edgesim.llm.cpu_gemm import at_build, compiled_groups, core_rate, dot_issue_rate, kernel_path
from edgesim.llm.machine import CoreGroup
from edgesim.llm.predict import predict, setup
from edgesim.llm.runtime import CpuGemm, load_llm_runtime


def _groups(hw: str, threads: int, gcc: int | None) -> tuple[tuple[CoreGroup, ...], CpuGemm]:
    rt = at_build(load_llm_runtime("llama.cpp"), None, gcc)
    cg = rt.placements["cpu"].cpu_gemm
    assert cg is not None
    return compiled_groups(setup("tinyllama-1.1b", hw, rt, "Q4_K_M", threads, "cpu", None).m.core_groups, cg), cg


def _cycles_per_16_macs(kernel: str, g: CoreGroup, cg: CpuGemm) -> float:
    return 16.0 * g.clock_hz / core_rate(kernel, "int8", g, cg)


def test_the_core_table_gives_the_widening_multiply_pipes() -> None:
    assert core_isa("4x Cortex-A72", 0, 0).widening_muls_per_cycle == 1.0  # F0
    assert core_isa("4x Cortex-A78", 0, 0).widening_muls_per_cycle == 1.0  # V0 of two V pipes
    assert core_isa("1x Cortex-X1C", 0, 0).widening_muls_per_cycle == 2.0  # V0, V2 of four
    # a unit averaging several core types keeps no per-core limit, as it keeps no per-core slot count
    assert core_isa("1x Cortex-X4 + 5x Cortex-A720", 0, 0).widening_muls_per_cycle is None


def test_the_emulated_dot_does_not_halve_on_a_two_pipe_a78() -> None:
    (a78, a55), cg = _groups("qcs6490", 8, 13)  # GCC 13 on A78 + A55: a plain Armv8.0 build
    path = kernel_path("Q4_K", "int8", a78, cg)
    assert path.name == "neon" and path.emulated
    u, dot = cg.overhead("Q4_K"), cg.dot_slots["neon"]
    assert a78.vector_slots_per_cycle == 2.0 and dot_issue_rate(path, a78) == 1.0
    # the overhead spreads over both V pipes, the SMULL pair issues on V0 alone
    assert _cycles_per_16_macs("Q4_K", a78, cg) == pytest.approx(u / 2 + dot)
    assert _cycles_per_16_macs("Q4_K", a78, cg) > (u + dot) / 2 * 1.05
    # the in-order A55 is bound by its 0.5 load-bound slots before its multiplies
    assert _cycles_per_16_macs("Q4_K", a55, cg) == pytest.approx((u + dot) / 0.5)


def test_sdot_keeps_both_pipes_and_the_a72_calibration_stays() -> None:
    (a78, _), cg = _groups("qcs6490", 8, None)  # prebuilt: SDOT and the repacked GEMM
    path = kernel_path("Q4_K", "int8", a78, cg)
    assert not path.emulated and dot_issue_rate(path, a78) == 2.0
    assert _cycles_per_16_macs("Q4_K", a78, cg) == pytest.approx((cg.overhead("Q4_K") / path.reuse + 1.0) / 2)
    # the Pi 4's A72 (one 128-bit slot, one multiply pipe): the dot_slots.neon calibration is unchanged
    (a72,), cg4 = _groups("rpi4", 4, None)
    assert _cycles_per_16_macs("Q8_0", a72, cg4) == pytest.approx(cg4.overhead("Q8_0") + cg4.dot_slots["neon"])


def test_an_x_core_runs_the_emulation_on_its_two_multiply_pipes() -> None:
    (a78, _), cg = _groups("qcs6490", 8, 13)
    x1 = replace(a78, isa=replace(core_isa("Cortex-X1", 0, 0), dotprod=False, i8mm=False, fp16_arith=False),
                 vector_slots_per_cycle=4.0)
    u, dot = cg.overhead("Q4_K"), cg.dot_slots["neon"]
    assert _cycles_per_16_macs("Q4_K", x1, cg) == pytest.approx(u / 4 + dot / 2)


def test_the_qcs6490_baseline_build_prefills_at_its_multiply_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    def pp() -> float:
        est = predict("tinyllama-1.1b", "qcs6490", load_llm_runtime("llama.cpp@gcc13"), "Q4_K_M", 8, "cpu", 512, 0)
        assert est.prefill is not None
        return est.prefill.tokens_per_s
    bound = pp()
    # without the per-core multiply limit the A78s would run the emulation at their full two-pipe width
    monkeypatch.setattr(cpu_cores, "_WIDENING_MULS", {})
    assert bound < 0.9 * pp()
