"""USB accelerators (issue #17): the network input and output cross the profile's host link every inference at
the element size the runtime's host side sends (edgesim.mapping.host_link), and a vendor row measured on a USB 2.0
port runs on the stick's USB 2.0 profile."""

from __future__ import annotations

import pytest

from edgesim.api import load_profile
from edgesim.hw.loader import load_runtime
from edgesim.ir.graph import Graph
from edgesim.mapping.host_link import host_transfer
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.choices import QuantPreset
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import optimize, options_from_cli
from edgesim.passes.pipeline import run_pipeline
from edgesim.pipeline import RunSpec, TransformOptions, run
from edgesim.validate.npu_vendor import _link_variant, read_vendor, row_spec
from edgesim.zoo.builder import GraphBuilder


@pytest.fixture(scope="module")
def small_net() -> Graph:
    b = GraphBuilder("small_net")
    x = b.input("x", (1, 3, 64, 64))
    y = b.conv_bn_act(x, 16, 3, act="relu")
    y = b.conv_bn_act(y, 16, 3, act="relu")
    g = run_pipeline(b.build([b.flatten(b.gap(y))]), [fuse_operators])
    return optimize(g, options_from_cli(quant="fp16", compress="none", graph=g))


def test_myriad_sends_the_input_as_fp32_over_the_sticks_usb_link(small_net: Graph) -> None:
    rt, _ = load_runtime("openvino-myriad", note_missing_version=False)
    assert rt.host_io is not None and rt.host_io.input_element_bytes == 4.0
    usb3 = host_transfer(small_net, load_profile("ncs2"), rt)
    usb2 = host_transfer(small_net, load_profile("ncs2-usb2"), rt)
    assert usb3 is not None and usb2 is not None
    assert usb3.input_bytes == 3 * 64 * 64 * 4.0  # FP32 on the wire although the network runs in FP16
    assert usb3.output_bytes == 16 * 4.0
    # USB 2 (35 MB/s, 2 x 0.25 ms round trips) vs USB 3 (350 MB/s, 2 x 0.1 ms): bytes / bandwidth + trips.
    assert usb2.seconds == pytest.approx(usb3.input_bytes / 35e6 + usb3.output_bytes / 35e6 + 2 * 250e-6)
    assert usb3.seconds == pytest.approx((usb3.input_bytes + usb3.output_bytes) / 350e6 + 2 * 1e-4)


def test_transfer_is_in_the_schedule_and_only_where_a_host_link_holds_the_input(small_net: Graph) -> None:
    rt, ver = load_runtime("openvino-myriad", note_missing_version=False)
    prof = load_profile("ncs2")
    with_io = build_schedule(small_net, prof, rt, ver).per_inference_overhead_cycles
    without = build_schedule(small_net, prof, rt.model_copy(update={"host_io": None}), ver)
    link = host_transfer(small_net, prof, rt)
    assert link is not None
    assert with_io - without.per_inference_overhead_cycles == pytest.approx(link.seconds * without.host_clock_hz)
    # A runtime without host I/O, or a board whose inputs are in its own memory, moves nothing over a link.
    assert host_transfer(small_net, prof, None) is None
    assert host_transfer(small_net, load_profile("rpi5"), rt) is None


def test_usb2_rows_run_on_the_usb2_variant_and_stay_under_their_device() -> None:
    assert _link_variant("ncs2", "Intel Neural Compute Stick 2 (USB2, Raspberry Pi host)") == "ncs2-usb2"
    assert _link_variant("ncs2", "Intel Neural Compute Stick 2 (USB3, Raspberry Pi host)") == ""
    assert _link_variant("rk3588", "Rockchip RK3588 (USB 2.0 camera)") == ""  # no such variant: the profile as is
    rows, _ = read_vendor("npu_vendor")
    ncs = {r.line: r for r in rows if r.device == "ncs2"}
    assert row_spec(ncs[707]).hw == "ncs2-usb2" and row_spec(ncs[709]).hw == "ncs2"


def _prg_net(size: int, widths: list[int]) -> Graph:
    """PRG's NCS2 test network (github.com/NitinJSanket/prg_prgncs NCS-2/tf_model.py): ResBlocks (3x3 conv, ReLU,
    3x3 conv, 1x1 projection where the width changes, add, ReLU) each followed by a 2x2 max-pool, then per width
    in reverse a stride-2 and a stride-1 3x3 ConvTranspose with ReLU, and a 3x3 conv to 4 channels. A stride-2
    ConvTranspose is rebuilt as its MACs (a 3x3 conv at the input resolution) and an upsample to its output."""
    b = GraphBuilder(f"prg_{size}_{widths[0]}")
    net = b.input("x", (1, 1, size, size))
    for f in widths:
        y = b.conv(b.act(b.conv(net, f, 3, bias=True), "relu"), f, 3, bias=True)
        skip = b.conv(net, f, 1, bias=True) if b.shape(net)[1] != f else net
        net = b.maxpool(b.act(b.add(y, skip), "relu"), 2, 2)
    for f in reversed(widths):
        net = b.upsample(b.act(b.conv(net, f, 3, bias=True), "relu"), 2)
        net = b.act(b.conv(net, f, 3, bias=True), "relu")
    return run_pipeline(b.build([b.conv(net, 4, 3, bias=True)]), [fuse_operators])


@pytest.mark.parametrize(("size", "widths", "fps"), [(256, [16, 32, 64, 128], 7.5), (512, [16, 32, 64, 128], 2.0),
                                                     (256, [8, 16, 32, 64], 11.2), (512, [8, 16, 32, 64], 3.0)])
def test_ncs2_matches_prgs_independent_usb2_timings(size: int, widths: list[int], fps: float) -> None:
    """PRG's README table (OpenVINO, NCS2 on USB 2.0): the NCE rate and channel blocks of openvino-myriad come
    from these four timings, not from the validation rows; the first-guess NCE efficiency was ~10x too fast."""
    g = _prg_net(size, widths)
    assert sum(n.attrs.kernel_hw == (3, 3) for n in g.nodes if hasattr(n.attrs, "kernel_hw")) >= 3 * len(widths)
    fp16 = TransformOptions(quant=QuantPreset("fp16"), calibration="fixed", accuracy=False)
    latency_ms = run(RunSpec(g, "ncs2-usb2", "openvino-myriad", transform=fp16)).estimate.latency_s * 1e3
    assert latency_ms == pytest.approx(1000.0 / fps, rel=0.25)
