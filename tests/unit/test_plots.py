"""Every plot kind is drawn from the real API on a real model, in PNG and SVG, and its data is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesim.api import estimate, load_model, load_profile
from edgesim.errors import EdgesimError
from edgesim.report import plots
from tests._helpers import base_run, simulate
from tests.conftest import shared_model

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def vww_u55() -> tuple[object, object, list[object]]:
    graph = load_model(shared_model("vww_96_int8.tflite"))
    profile = load_profile("ethos-u55-128")
    est, _, events = simulate(graph, profile)
    return est, profile, events


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) > 5000


@pytest.mark.parametrize("kind", plots.PLOT_KINDS)
@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_every_plot_kind_writes_a_figure(vww_u55: tuple, tmp_path: Path, kind: str, suffix: str) -> None:
    est, profile, events = vww_u55
    out = plots.plot_kind(kind, est, profile, tmp_path / f"{kind}.{suffix}", events)
    assert out.exists()
    if suffix == "png":
        assert _is_png(out)
    else:
        text = out.read_text()
        assert text.lstrip().startswith("<?xml") and "<svg" in text
    # Atomic write leaves no temporary files beside the figure.
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_roofline_points_respect_the_roofs(vww_u55: tuple) -> None:
    est, profile, _ = vww_u55
    unit = plots.main_unit(est, profile)
    assert unit.name == "npu"
    peak = plots.peak_ops_per_s(unit, profile)
    assert peak == pytest.approx(2 * 128 * 500e6)
    points = plots.roofline_points(est, profile)
    mac_layers = [lay for lay in est.layers if lay.unit == "npu" and lay.macs > 0]
    assert len(points) == len(mac_layers)
    bw = {m.name: m.read_bw_bytes_per_s(profile.clock_mhz) for m in profile.memories}
    for _, level, ai, attained in points:
        assert ai > 0
        # No layer may beat the roof of the level it sits on (small slack for float rounding).
        assert attained <= min(peak, ai * bw[level]) * 1.0001


def test_bytes_and_energy_series_sum_to_layer_totals(vww_u55: tuple) -> None:
    est, _, _ = vww_u55
    labels, series = plots.bytes_by_level(est)
    layers = [lay for lay in est.layers if lay.unit != "-"]
    assert len(labels) == len(layers)
    for i, layer in enumerate(layers):
        moved = sum(r + w for _, r, w in layer.bytes_by_memory)
        assert sum(v[i] for v in series.values()) == moved
    labels, eseries = plots.energy_by_component(est)
    assert "compute" in eseries
    total = sum(sum(v) for v in eseries.values())
    assert total == pytest.approx(sum(lay.energy_j for lay in layers), rel=1e-9)


def test_timeline_rows_and_fast_mode_error(vww_u55: tuple, tmp_path: Path) -> None:
    est, profile, events = vww_u55
    assert {"npu", "mem:sram", "mem:flash"} <= {e.unit for e in events}
    with pytest.raises(EdgesimError, match="event engine"):
        plots.plot_kind("timeline", est, profile, tmp_path / "t.png", None)
    with pytest.raises(EdgesimError, match="unknown plot kind"):
        plots.plot_kind("pie", est, profile, tmp_path / "t.png", events)


def test_compare_plot_and_its_errors(tmp_path: Path) -> None:
    graph = load_model(shared_model("kws_ref_model.tflite"))
    ests = [estimate(graph, load_profile(h)) for h in ("ethos-u55-128", "stm32h7a3")]
    assert ests[0].latency_s < ests[1].latency_s  # the NPU must beat the MCU, or the what-if is meaningless
    assert _is_png(plots.plot_compare(ests, tmp_path / "cmp.png"))
    with pytest.raises(EdgesimError):
        plots.plot_compare([], tmp_path / "x.png")
    with pytest.raises(EdgesimError):
        plots.plot_compare(ests, tmp_path / "x.png", labels=["only one"])


def test_sustain_plot(tmp_path: Path) -> None:
    from edgesim.thermal.sustain import sustain

    graph = load_model(shared_model("kws_ref_model.tflite"))
    result = sustain(base_run(graph, load_profile("rpi5")), duration_s=30.0, window_s=1.0)
    assert _is_png(plots.plot_sustain(result, tmp_path / "s.png"))


def test_missing_output_directory_is_a_clean_error(vww_u55: tuple, tmp_path: Path) -> None:
    est, profile, _ = vww_u55
    with pytest.raises(EdgesimError, match="does not exist"):
        plots.plot_roofline(est, profile, tmp_path / "nope" / "r.png")
