"""Reference rows land on the board they were measured on, and the credible held-out figures leave out exactly the
rows the CSV's notes flag (doubtful or approximate)."""

from __future__ import annotations

import pytest

from edgesim.llm.cpu_gemm import kernel_path
from edgesim.llm.machine import machine
from edgesim.llm.predict import _profile
from edgesim.llm.reference import RefRow, map_hw, read_reference
from edgesim.llm.runtime import load_llm_runtime
from edgesim.llm.validate import credible, fit_eligible


def test_dragon_q8b_is_a_dotprod_only_sc8280xp() -> None:
    assert map_hw("Radxa Dragon Q8B", "") == "sc8280xp"
    assert map_hw("Radxa Dragon Q6A (Qualcomm QCS6490)", "") == "qcs6490"
    m = machine(_profile("sc8280xp"), "cpu", 8)
    assert [(g.isa.name, g.count) for g in m.core_groups] == [("x1", 4), ("a78c", 4)]
    assert all(g.isa.dotprod and not g.isa.i8mm for g in m.core_groups)
    # X1C issues 4 128-bit vector ops per cycle, A78C 2 (Arm Software Optimization Guides)
    assert [g.vector_slots_per_cycle for g in m.core_groups] == [4.0, 2.0]
    cg = load_llm_runtime("llama.cpp").placements["cpu"].cpu_gemm
    assert cg is not None
    # no SMMLA: Q4_K takes the SDOT 8x4 repack (newest build), Q4_0's nrc=2 SMMLA vec_dot is not available
    assert kernel_path("Q4_K", "int8", m.core_groups[0], cg).name == "dotprod-repack"
    assert kernel_path("Q4_1", "int8", m.core_groups[0], cg).name == "dotprod"


def test_sc8280xp_prefill_outruns_the_qcs6490_and_its_a78c_threads_add_less_than_their_share() -> None:
    from edgesim.llm.predict import predict

    q6 = predict("llama-3.2-3b", "qcs6490", "llama.cpp", "Q4_K_M", 8, "cpu", 512, 0).prefill
    q8 = predict("llama-3.2-3b", "sc8280xp", "llama.cpp", "Q4_K_M", 8, "cpu", 512, 0).prefill
    q8_4 = predict("llama-3.2-3b", "sc8280xp", "llama.cpp", "Q4_K_M", 4, "cpu", 512, 0).prefill
    assert q6 is not None and q8 is not None and q8_4 is not None
    # four X1C + four A78C against four A78 + four A55: more than 2.5x the compute
    assert q8.tokens_per_s > 2.5 * q6.tokens_per_s
    # A78C threads (about half an X1C) add throughput, less than their share: the repacked GEMM's last chunks
    # wait on them
    assert q8_4.tokens_per_s < q8.tokens_per_s < 1.5 * q8_4.tokens_per_s


def _row(note: str, approximate: bool = False) -> RefRow:
    return RefRow(line=2, device="d", hw="rpi4", runtime="llama.cpp", unit="cpu", model="llama-3.2-1b",
                  model_text="m", quant="Q4_0", threads=4, prompt=0, gen=128, cached=0, metric="decode_tps",
                  value=10.0, approximate=approximate, note=note, status="")


@pytest.mark.parametrize(("note", "approx", "eligible", "is_credible"), [
    ("llama-bench tg128", False, True, True),
    ("hobby report; low credibility", False, False, False),
    ("CONFLICTS with MODEL_INVENTORY", False, False, False),
    ("user could not reproduce published chart", False, False, False),
    ("maintainer asked about nvpmodel -> likely not max clocks", False, False, False),
    ("user report, range", True, True, False),
])
def test_credible_rows_leave_out_doubtful_and_approximate(note: str, approx: bool, eligible: bool,
                                                          is_credible: bool) -> None:
    r = _row(note, approx)
    assert fit_eligible(r) is eligible
    assert credible(r) is is_credible


def test_every_flagged_row_of_the_bundled_csv_is_not_credible() -> None:
    rows = read_reference()
    flagged = [r for r in rows if any(k in r.note.lower() for k in ("low credibility", "could not reproduce",
                                                                     "conflict", "not max clocks"))]
    assert len(flagged) >= 4
    assert not any(credible(r) for r in flagged)
    assert not any(credible(r) for r in rows if r.approximate)


def test_cix_p1_boards_share_one_i8mm_profile() -> None:
    for device in ("MetaComputing Framework 13 Arm mainboard (Cix CP8180)", "Radxa Orion O6 16GB (Cix P1)",
                   "Minisforum MS-R1 (Arm)"):
        assert map_hw(device, "") == "cix-p1"
    m = machine(_profile("cix-p1"), "cpu", 12)
    assert [(g.isa.name, g.count) for g in m.core_groups] == [("a720", 8), ("a520", 4)]
    assert all(g.isa.i8mm for g in m.core_groups)
    cg = load_llm_runtime("llama.cpp").placements["cpu"].cpu_gemm
    assert cg is not None
    old = cg.model_copy(update={"build": 7000})  # before the Q4_K SMMLA repack (PR #16739)
    assert kernel_path("Q4_K", "int8", m.core_groups[0], cg).name == "i8mm-repack"
    assert kernel_path("Q4_K", "int8", m.core_groups[0], old).name == "dotprod"


def test_contradicting_rows_are_reported_but_never_fitted() -> None:
    from edgesim.llm.validate import contradictions, fit_rows

    def row(line: int, value: float, hw: str = "rpi4") -> RefRow:
        return RefRow(line=line, device=hw, hw=hw, runtime="llama.cpp", unit="cpu", model="llama-3.2-1b",
                      model_text="m", quant="Q4_0", threads=4, prompt=0, gen=128, cached=0, metric="decode_tps",
                      value=value, approximate=False, note="", status="")

    rows = [row(2, 10.0), row(3, 20.0), row(4, 10.5, "rpi5"), row(5, 10.4, "rpi5")]
    assert contradictions(rows) == [(2, 3, 2.0)]
    # rpi4 has as many rows as rpi5, but its two disagree: the fit takes rpi5's
    assert [r.line for r in fit_rows(rows)[("llama.cpp", "cpu")]] == [4, 5]


def test_llama_cpp_and_ollama_default_to_cuda_on_orin_jetsons_only() -> None:
    from edgesim.llm.predict import setup

    for rt in ("llama.cpp", "ollama"):
        assert setup("llama-3.2-3b", "jetson-orin-nano", rt).unit == "gpu"
        assert setup("llama-3.2-3b", "jetson-agx-orin", rt).unit == "gpu"
        assert setup("llama-3.2-3b", "jetson-nano", rt).unit == "cpu"  # Maxwell / JetPack 4: no current CUDA build
        assert setup("llama-3.2-3b", "rk3588", rt).unit == "cpu"  # a Mali GPU needs a Vulkan/OpenCL build
        assert setup("llama-3.2-3b", "jetson-orin-nano", rt, unit="cpu").unit == "cpu"  # --unit still wins
    assert setup("llama-3.2-3b", "jetson-orin-nano", "executorch").unit == "cpu"  # runtimes without the rule
