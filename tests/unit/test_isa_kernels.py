"""RuntimeProfile.isa_kernels: a CPU runtime's kernel efficiencies per x86 vector ISA (oneDNN's jit_avx512 /
jit_avx2 / jit_sse41 families under OpenVINO), picked by ComputeUnit.vector_isa, int8 kernels before the
any-precision entries, unlisted op kinds falling back to the runtime's own table."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edgesim.api import load_profile
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import HardwareProfile, RuntimeProfile
from edgesim.hw.schema_cpu import VectorIsa
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.passes.pipeline import run_pipeline
from edgesim.zoo.builder import GraphBuilder


def _net(act: str, quant: str | None) -> Graph:
    b = GraphBuilder("isa_net")
    x = b.input("x", (1, 32, 28, 28))
    y = b.conv_bn_act(x, 64, 3, act=act)
    g = run_pipeline(b.build([y]), [fuse_operators])
    return optimize(g, options_from_cli(quant=quant, compress="none", graph=g)) if quant else g


@pytest.fixture(scope="module")
def ov_cpu() -> RuntimeProfile:
    rt, _ = load_runtime("openvino-cpu", note_missing_version=False)
    return rt


def _conv_cycles(graph: Graph, prof: HardwareProfile, rt: RuntimeProfile) -> float:
    ver = rt.version(rt.default_version)
    plans = build_schedule(graph, prof, rt, ver).plans
    return sum(p.compute_cycles for p in plans if p.op == OpKind.CONV2D.value)


def _without_isa(prof: HardwareProfile) -> HardwareProfile:
    units = [u.model_copy(update={"vector_isa": None}) if u.name == "cpu" else u for u in prof.units]
    return prof.model_copy(update={"units": units})


def test_profiles_name_their_cores_isa() -> None:
    expect = {"atom-x6425e": VectorIsa.SSE4_2, "celeron-6305e": VectorIsa.AVX512_VNNI,
              "core-i7-1185gre": VectorIsa.AVX512_VNNI, "core-ultra-7-155h": VectorIsa.AVX2_VNNI,
              "core-ultra-7-165h": VectorIsa.AVX2_VNNI}
    for pid, isa in expect.items():
        prof = load_profile(pid)
        assert prof.unit("cpu").vector_isa is isa, pid
        if prof.little_cluster is not None:
            assert prof.little_cluster.vector_isa is isa, pid


def test_lookup_order_int8_then_any_precision_then_runtime_table(ov_cpu: RuntimeProfile) -> None:
    sse, avx512 = VectorIsa.SSE4_2, VectorIsa.AVX512_VNNI
    base = ov_cpu.kernel_efficiency
    sse_k = ov_cpu.isa_kernels[sse]
    # Tremont: the fp32 conv has its own entry, the int8 (PMADDUBSW) conv keeps the int8 one
    assert ov_cpu.efficiency_for("CONV2D", "cpu", None, sse, "fp32") == sse_k.kernel_efficiency["CONV2D"]
    assert ov_cpu.efficiency_for("CONV2D", "cpu", None, sse, "int8") == sse_k.int8_kernel_efficiency["CONV2D"]
    assert sse_k.kernel_efficiency["CONV2D"] != sse_k.int8_kernel_efficiency["CONV2D"]
    # a pointwise conv falls back to the ISA's CONV2D entry, not to the runtime table's
    assert ov_cpu.efficiency_for("CONV2D_1X1", "cpu", None, sse, "fp32") == sse_k.kernel_efficiency["CONV2D"]
    # an op kind the ISA does not list keeps the runtime's entry; a unit with no ISA keeps the whole table
    assert ov_cpu.efficiency_for("ADD", "cpu", None, avx512, "fp32") == base["default"]
    assert ov_cpu.efficiency_for("CONV2D", "cpu", None, None, "fp32") == base["CONV2D"]
    assert ov_cpu.efficiency_for("CONV2D", "cpu", None, avx512, "int8") > base["CONV2D"]


def test_avx512_dense_conv_runs_nearer_its_peak(ov_cpu: RuntimeProfile) -> None:
    # ReLU conv: the plan is the MACs alone, so the cycles scale exactly with the efficiency
    prof = load_profile("celeron-6305e")
    for quant in (None, "int8"):
        g = _net("relu", quant)
        with_isa, without = _conv_cycles(g, prof, ov_cpu), _conv_cycles(g, _without_isa(prof), ov_cpu)
        ratio = ov_cpu.kernel_efficiency["CONV2D"] / ov_cpu.isa_kernels[VectorIsa.AVX512_VNNI].kernel_efficiency["CONV2D"]
        assert with_isa == pytest.approx(without * ratio)
        assert with_isa < without


def test_sse_silu_epilogue_costs_more_per_lane(ov_cpu: RuntimeProfile) -> None:
    # Tremont's int8 conv keeps the table's efficiency, so the extra cycles are the fp32 SiLU epilogue's
    prof = load_profile("atom-x6425e")
    relu, silu = _net("relu", "int8"), _net("silu", "int8")
    epi_isa = _conv_cycles(silu, prof, ov_cpu) - _conv_cycles(relu, prof, ov_cpu)
    plain = _without_isa(prof)
    epi_base = _conv_cycles(silu, plain, ov_cpu) - _conv_cycles(relu, plain, ov_cpu)
    assert _conv_cycles(relu, prof, ov_cpu) == pytest.approx(_conv_cycles(relu, plain, ov_cpu))
    assert epi_base > 0
    sse = ov_cpu.isa_kernels[VectorIsa.SSE4_2].kernel_efficiency
    assert epi_isa / epi_base == pytest.approx(ov_cpu.kernel_efficiency["SIGMOID"] / sse["SIGMOID"], rel=0.35)
    assert epi_isa > 2 * epi_base


@pytest.mark.parametrize("isa_kernels, match", [
    ({"avx512_vnni": {"kernel_efficiency": {"CONV3X3": 0.9}, "source": "x"}}, "not an op kind"),
    ({"avx512_vnni": {"kernel_efficiency": {"CONV2D": 1.5}, "source": "x"}}, "must be in"),
    ({"avx512_vnni": {"int8_kernel_efficiency": {"CONV2D": 0.0}, "source": "x"}}, "must be in"),
    ({"avx1024": {"kernel_efficiency": {"CONV2D": 0.9}, "source": "x"}}, "avx1024"),
    ({"sse4_2": {"kernel_efficiency": {"CONV2D": 0.9}}}, "source"),
])
def test_isa_kernels_are_validated(ov_cpu: RuntimeProfile, isa_kernels: dict[str, object], match: str) -> None:
    data = ov_cpu.model_dump()
    data["isa_kernels"] = isa_kernels
    with pytest.raises(ValidationError, match=match):
        RuntimeProfile.model_validate(data)
