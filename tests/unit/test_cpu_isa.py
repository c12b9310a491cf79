"""Arm cores' int8 path (edgesim.hw.cpu_isa) and the runtime scale it selects (RuntimeProfile.int8_isa_scale):
XNNPACK's SDOT/SMMLA kernels on out-of-order cores against its SMLAL kernel on the A53 its efficiencies were
checked on."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from edgesim.hw.cpu_isa import Int8Path, core_int8
from edgesim.hw.loader import list_profiles, load_profile, load_runtime
from edgesim.hw.schema import Int8IsaScale, UnitKind
from edgesim.ir.ops import OpKind
from edgesim.ir.work import node_work
from edgesim.mapping.compute import compute_cycles, int8_isa_scale
from edgesim.pipeline import run
from edgesim.validate.core import reference_spec


@pytest.mark.parametrize(("description", "core", "path", "in_order"), [
    ("4x Cortex-A53 (NEON, no SDOT)", "a53", Int8Path.NEON, True),
    ("4x Cortex-A72, 2x 64-bit-issue 128-bit NEON pipes", "a72", Int8Path.NEON, False),
    ("LITTLE cluster, 4x Cortex-A55 (in-order, 2x 64-bit ASIMD with SDOT)", "a55", Int8Path.DOTPROD, True),
    ("host CPU driving HailoRT, a Raspberry Pi 5-class quad A76", "a76", Int8Path.DOTPROD, False),
    ("6x Cortex-A78AE (host)", "a78ae", Int8Path.DOTPROD, False),
    ("1x Cortex-X4 + 5x Cortex-A720 (4x / 2x 128-bit NEON)", "x4", Int8Path.I8MM, False),
    ("12x Oryon (4x 128-bit NEON with SDOT/I8MM per core)", "oryon", Int8Path.I8MM, False),
    ("4x Cortex-A7 (NEON, 64-bit datapath)", "a7", Int8Path.NEON, True),
])
def test_core_int8_reads_the_named_core(description: str, core: str, path: Int8Path, in_order: bool) -> None:
    got = core_int8(description)
    assert got is not None and (got.core, got.path, got.in_order) == (core, path, in_order)


@pytest.mark.parametrize("description", ["4x Willow Cove @2.8 GHz (AVX-512 VNNI)", "Xtensa LX7 with PIE", "cpu"])
def test_cores_that_are_not_named_arm_cores_get_no_path(description: str) -> None:
    assert core_int8(description) is None


def test_every_bundled_arm_application_core_resolves() -> None:
    """A bundled CPU unit that names a Cortex-A/X, Kryo or Oryon core must get its int8 path (else XNNPACK's
    scale would silently fall back to 1.0 on it)."""
    for pid, _ in list_profiles():
        prof = load_profile(pid)
        cpus = [u for u in prof.units if u.kind is UnitKind.CPU]
        if prof.little_cluster is not None:
            cpus.append(prof.little_cluster)
        for u in cpus:
            text = f"{u.description} {u.name}".lower()
            if any(k in text for k in ("cortex-a", "cortex-x", "oryon", " a76", " a55")):
                assert core_int8(text) is not None, (pid, u.name, u.description)


def test_scale_factor_by_path_and_issue() -> None:
    s = Int8IsaScale(neon=1.0, dotprod=1.0, i8mm=2.0, out_of_order=1.25, source="test")
    assert s.factor(core_int8("Cortex-A53")) == 1.0
    assert s.factor(core_int8("Cortex-A55")) == 1.0
    assert s.factor(core_int8("Cortex-A76")) == pytest.approx(1.25)
    assert s.factor(core_int8("Cortex-X4")) == pytest.approx(2.5)
    assert s.factor(core_int8("Cortex-A510")) == pytest.approx(2.0)
    assert s.factor(None) == 1.0
    with pytest.raises(ValidationError):
        Int8IsaScale(neon=0.0, source="test")


def test_xnnpack_scale_on_bundled_chips() -> None:
    rt, _ = load_runtime("tflite-xnnpack@2.16.1", note_missing_version=False)
    assert rt.int8_isa_scale is not None
    ooo = rt.int8_isa_scale.out_of_order
    # The A53 is the reference the kernel efficiencies were checked on: unchanged.
    assert int8_isa_scale(rt, load_profile("imx8mp").unit("cpu")) == 1.0
    assert int8_isa_scale(rt, load_profile("rk3566").unit("cpu")) == 1.0  # A55: in order, as the A53
    assert int8_isa_scale(rt, load_profile("rpi5").unit("cpu")) == pytest.approx(ooo)
    assert int8_isa_scale(rt, load_profile("snapdragon-8-gen3").unit("cpu")) == pytest.approx(2 * ooo)
    assert int8_isa_scale(rt, load_profile("core-i7-1185gre").unit("cpu")) == 1.0  # x86: no Arm path
    assert int8_isa_scale(rt, load_profile("imx8mp").unit("npu")) == 1.0  # not a CPU
    tflm, _ = load_runtime("tflm@2.11.0", note_missing_version=False)
    assert tflm.int8_isa_scale is None and int8_isa_scale(tflm, load_profile("rpi5").unit("cpu")) == 1.0


def test_compute_cycles_apply_the_scale_to_int8_mac_ops_only() -> None:
    res = run(replace(reference_spec("mobilenet_v2", "int8"), hw="rpi5", runtime="tflite-xnnpack@2.16.1"))
    assert res.runtime is not None and res.runtime.int8_isa_scale is not None
    plain = res.runtime.model_copy(update={"int8_isa_scale": None})
    unit = res.profile.unit("cpu")
    graph = res.graph
    conv = next(n for n in graph.nodes if n.op is OpKind.CONV2D)
    add = next(n for n in graph.nodes if n.op is OpKind.ADD)
    dw = next(n for n in graph.nodes if n.op is OpKind.DEPTHWISE_CONV2D)  # XNNPACK's dwconv: no dot product
    for node, expected in ((conv, res.runtime.int8_isa_scale.out_of_order), (add, 1.0), (dw, 1.0)):
        work = node_work(graph, node)
        with_scale = compute_cycles(unit, graph, node, work, res.runtime, res.version)
        without = compute_cycles(unit, graph, node, work, plain, res.version)
        assert without / with_scale == pytest.approx(expected), node.op


def test_the_llm_core_table_agrees_on_every_bundled_core() -> None:
    """edgesim.llm.cpu_cores (llama.cpp's kernel choice) reads its dot-product features from this module's table:
    both must give each bundled Arm core the same features."""
    from edgesim.hw.schema import Precision
    from edgesim.llm.cpu_cores import core_isa

    for pid, _ in list_profiles():
        prof = load_profile(pid)
        cpus = [u for u in prof.units if u.kind is UnitKind.CPU]
        cpus += [prof.little_cluster] if prof.little_cluster is not None else []
        for u in cpus:
            ours = core_int8(f"{u.description} {u.name}")
            if ours is None:
                continue
            llm = core_isa(u.description, u.macs_per_cycle.get(Precision.INT8, 0.0),
                           u.macs_per_cycle.get(Precision.FP32, 0.0))
            assert (llm.dotprod, llm.i8mm) == (ours.path is not Int8Path.NEON, ours.path is Int8Path.I8MM), \
                (pid, u.name, ours, llm)
