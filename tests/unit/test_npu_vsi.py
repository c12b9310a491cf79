"""VeriSilicon VIP9000-class NPUs (issue #17): a depthwise conv runs at the unit's architectural rate
(``ComputeUnit.fixed_rate_macs_per_cycle``, edgesim.mapping.fixed_rate), not at a runtime's share of the MAC
array, so it does not speed up with the array: the Synaptics tables time MobileNetV2 1.2x apart on VS680 and
VS640 against a 4.9x peak ratio."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edgesim.api import load_profile
from edgesim.hw.loader import load_runtime
from edgesim.hw.schema import ComputeUnit
from edgesim.ir.graph import Graph
from edgesim.mapping.fixed_rate import fixed_rate
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.passes.pipeline import run_pipeline
from edgesim.zoo.builder import GraphBuilder


@pytest.fixture(scope="module")
def dw_net() -> Graph:
    b = GraphBuilder("dw_net")
    x = b.input("x", (1, 3, 32, 32))
    y = b.conv_bn_act(x, 64, 3, act="relu")
    y = b.dwconv(y, 3)
    y = b.conv_bn_act(y, 64, 1, act="relu")
    g = run_pipeline(b.build([b.flatten(b.gap(y))]), [fuse_operators])
    return optimize(g, options_from_cli(quant="int8", compress="none", graph=g))


def _compute(graph: Graph, hw: str, runtime: str, op: str, unit_update: dict[str, object] | None = None
             ) -> tuple[float, int]:
    """Compute cycles and MACs of the first ``op`` of ``graph`` on ``hw``'s NPU under ``runtime``."""
    prof = load_profile(hw)
    if unit_update is not None:
        units = [u.model_copy(update=unit_update) if u.name == "npu" else u for u in prof.units]
        prof = prof.model_copy(update={"units": units})
    rt, ver = load_runtime(runtime, note_missing_version=False)
    plan = next(p for p in build_schedule(graph, prof, rt, ver).plans if p.op == op)
    return plan.compute_cycles, plan.macs


@pytest.mark.parametrize("runtime", ["synap", "tflite-vx"])
def test_depthwise_rate_is_the_units_not_a_share_of_its_array(dw_net: Graph, runtime: str) -> None:
    big, macs = _compute(dw_net, "vs680", runtime, "DEPTHWISE_CONV2D")
    small, _ = _compute(dw_net, "vs640", runtime, "DEPTHWISE_CONV2D")
    rate = load_profile("vs680").units[0].fixed_rate_macs_per_cycle["DEPTHWISE_CONV2D"]
    assert big == pytest.approx(macs / rate)
    # Same cycles on the 4096- and the 832-MAC array; dense convs still scale with the array.
    assert small == pytest.approx(big)
    conv_big, _ = _compute(dw_net, "vs680", runtime, "CONV2D")
    conv_small, _ = _compute(dw_net, "vs640", runtime, "CONV2D")
    assert conv_small / conv_big == pytest.approx(4096 / 832, rel=0.01)


def test_without_the_field_depthwise_is_a_share_of_the_array(dw_net: Graph) -> None:
    fixed, macs = _compute(dw_net, "vs680", "synap", "DEPTHWISE_CONV2D")
    share, _ = _compute(dw_net, "vs680", "synap", "DEPTHWISE_CONV2D", {"fixed_rate_macs_per_cycle": {}})
    rt, _ = load_runtime("synap", note_missing_version=False)
    assert share == pytest.approx(macs / (4096 * rt.kernel_efficiency["DEPTHWISE_CONV2D"]))
    assert share != pytest.approx(fixed)
    # i.MX 8M Plus (VIPNano-SI+, the older generation) has no such rate: its tflite-vx rows fit the share.
    assert fixed_rate(load_profile("imx8mp").units[0], "DEPTHWISE_CONV2D") is None
    # A CPU's kernels are the runtime's code: never an architectural rate.
    cpu = load_profile("vs680").units[1].model_copy(update={"fixed_rate_macs_per_cycle": {"DEPTHWISE_CONV2D": 8.0}})
    assert fixed_rate(cpu, "DEPTHWISE_CONV2D") is None


def test_fixed_rates_are_refused_for_non_mac_keys_and_non_positive_rates() -> None:
    npu = load_profile("vs680").units[0].model_dump()
    for bad in ({"ADD": 8.0}, {"DEPTHWISE_CONV2D": 0.0}):
        with pytest.raises(ValidationError, match="fixed_rate_macs_per_cycle"):
            ComputeUnit.model_validate({**npu, "fixed_rate_macs_per_cycle": bad})


def test_wider_types_narrow_the_fixed_rate_as_they_narrow_the_array() -> None:
    npu = load_profile("vs680").units[0]
    rt, ver = load_runtime("synap", note_missing_version=False)
    b = GraphBuilder("dw16")
    y = b.dwconv(b.conv_bn_act(b.input("x", (1, 3, 16, 16)), 32, 3, act="relu"), 3)
    g = run_pipeline(b.build([b.flatten(b.gap(y))]), [fuse_operators])
    cycles = {}
    for quant in ("int8", "int16"):
        q = optimize(g, options_from_cli(quant=quant, compress="none", graph=g))
        prof = load_profile("vs680")
        cycles[quant] = next(p for p in build_schedule(q, prof, rt, ver).plans if p.op == "DEPTHWISE_CONV2D")
    macs = cycles["int8"].macs
    rate = npu.fixed_rate_macs_per_cycle["DEPTHWISE_CONV2D"]
    assert cycles["int8"].compute_cycles == pytest.approx(macs / rate)
    # int16: 880 of the 4096 int8 MACs per cycle (SY1's 16-bit peak), so the depthwise rate narrows alike.
    assert cycles["int16"].compute_cycles == pytest.approx(macs / (rate * 880 / 4096))
